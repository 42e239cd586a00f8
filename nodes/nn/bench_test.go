package nn

import (
	"fmt"
	"syscall"
	"testing"
)

// benchStep times one training step (forward, backward, SGD update) at
// batch 32, the unit of work of the train kind.
func benchStep(b *testing.B, cfg Config) {
	tc := testCase{cfg: cfg, n: 32}
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	x, y, w := tc.batch(1)
	opt := &SGD{Momentum: 0.9}
	step := func() {
		_, g, err := m.FlatGrad(x, y, w, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Step(opt, g, 0.01); err != nil {
			b.Fatal(err)
		}
	}
	step() // compile the graph outside the timing
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.StopTimer()
	// CPU time (all threads) per step does not grow when other processes
	// share the cores, unlike ns/op; on an idle machine ns/op lies between
	// cpu-ns/op divided by the cores and cpu-ns/op.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkTrainStepCNN is the 28×28 ten-class classifier.
func BenchmarkTrainStepCNN(b *testing.B) {
	benchStep(b, Config{Arch: ArchCNN, Classes: 10, H: 28, W: 28, Seed: 1})
}

// BenchmarkTrainStepFCN is the 20-category segmenter at 32×32 and 64×64.
func BenchmarkTrainStepFCN(b *testing.B) {
	for _, s := range []int{32, 64} {
		b.Run(fmt.Sprintf("%dx%d", s, s), func(b *testing.B) {
			benchStep(b, Config{Arch: ArchFCN, Classes: 20, H: s, W: s, Seed: 1})
		})
	}
}
