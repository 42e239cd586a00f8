package nn

import (
	"math/rand/v2"
	"runtime/metrics"
	"slices"
	"syscall"
	"testing"
	"time"
)

// benchStep times one training step (forward, backward, SGD update) at
// batch 32, the unit of work of the train kind. Beside ns/op (the mean) it
// reports the median wall time of a step, which bench/nn/run.sh compares
// with PyTorch's median, and the peak live heap over the timed steps
// (allocations per step come from -benchmem).
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
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		step()
		times = append(times, time.Since(t0))
		metrics.Read(heap)
		peak = max(peak, heap[0].Value.Uint64())
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "median-ns/step")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkTrainStep is one step of each network bench/nn/run.sh compares
// with PyTorch: the 784-128-10 MLP, the 28×28 ten-class CNN and the
// 20-category FCN at 32×32 and 64×64.
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"mlp", Config{Arch: ArchMLP, Classes: 10, H: 28, W: 28, Hidden: []int{128}, Seed: 1}},
		{"cnn", Config{Arch: ArchCNN, Classes: 10, H: 28, W: 28, Seed: 1}},
		{"fcn32", Config{Arch: ArchFCN, Classes: 20, H: 32, W: 32, Seed: 1}},
		{"fcn64", Config{Arch: ArchFCN, Classes: 20, H: 64, W: 64, Seed: 1}},
	} {
		b.Run(c.name, func(b *testing.B) { benchStep(b, c.cfg) })
	}
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
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

// BenchmarkSegPasses times, interleaved in one loop on the fcn at 32×32
// (20 categories), the passes of a BSGAL segmentation iteration against a
// plain FlatGrad over the 32 scenes (none's pass): SplitGrad over 4
// matched real images and the 32 scenes weighted on their pasted pixels,
// ReGrad of the scenes with every pixel after it (an accepted update), and
// SplitGradSubset on the head (the subset score). It reports the CPU time
// of FlatGrad per call and each other's CPU time as a ratio to it.
func BenchmarkSegPasses(b *testing.B) {
	cfg := Config{Arch: ArchFCN, Classes: 20, H: 32, W: 32, Seed: 1}
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	x, y, _ := testCase{cfg: cfg, n: 32}.batch(1)
	xr, yr, _ := testCase{cfg: cfg, n: 4}.batch(2)
	w := pastedWeights(rand.New(rand.NewPCG(1, 1)), 32, cfg.H, cfg.W)
	head := []string{"head.weight", "head.bias"}
	passes := []func() error{
		func() error { _, _, err := m.FlatGrad(x, y, nil, nil); return err },
		func() error { _, _, _, _, err := m.SplitGrad(xr, yr, nil, x, y, w); return err },
		func() error { _, _, err := m.ReGrad(y, nil); return err },
		func() error { _, _, _, _, err := m.SplitGradSubset(xr, yr, nil, x, y, w, head); return err },
	}
	cpu := make([]int64, len(passes))
	round := func(timed bool) {
		for i, f := range passes {
			c0 := cpuTime()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			if timed {
				cpu[i] += cpuTime() - c0
			}
		}
	}
	round(false) // compile the graphs outside the timing
	b.ResetTimer()
	for range b.N {
		round(true)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu[0])/float64(b.N)/1e6, "flat-cpu-ms")
	for i, name := range []string{"split/flat", "regrad/flat", "split-head/flat"} {
		b.ReportMetric(float64(cpu[i+1])/float64(cpu[0]), name)
	}
}
