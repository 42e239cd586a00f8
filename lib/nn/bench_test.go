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

// BenchmarkTwoGradients compares the ways to get the gradients of two
// batches of 32 (BSGAL's real and generated batch): two FlatGrad passes,
// one SplitGrad pass over both, and, for scale, one FlatGrad over the 64
// (one gradient only).
func BenchmarkTwoGradients(b *testing.B) {
	for _, cfg := range []Config{
		{Arch: ArchMLP, Classes: 10, H: 28, W: 28, Hidden: []int{128}, Seed: 1},
		{Arch: ArchCNN, Classes: 10, H: 28, W: 28, Seed: 1},
	} {
		m, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		tc := testCase{cfg: cfg, n: 32}
		xa, ya, _ := tc.batch(1)
		xb, yb, _ := tc.batch(2)
		xu, yu := append(append([]float32{}, xa...), xb...), append(append([]int{}, ya...), yb...)
		ways := []struct {
			name string
			f    func() error
		}{
			{"two-passes", func() error {
				if _, _, err := m.FlatGrad(xa, ya, nil, nil); err != nil {
					return err
				}
				_, _, err := m.FlatGrad(xb, yb, nil, nil)
				return err
			}},
			{"split", func() error {
				_, _, _, _, err := m.SplitGrad(xa, ya, nil, xb, yb, nil)
				return err
			}},
			{"union", func() error {
				_, _, err := m.FlatGrad(xu, yu, nil, nil)
				return err
			}},
		}
		for _, w := range ways {
			b.Run(cfg.Arch+"/"+w.name, func(b *testing.B) {
				if err := w.f(); err != nil { // compile outside the timing
					b.Fatal(err)
				}
				cpu0 := cpuTime()
				b.ResetTimer()
				for range b.N {
					if err := w.f(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
