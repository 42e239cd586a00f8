package train

import (
	"context"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"dagrun/format"
	"dagrun/lib/bsgal"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
)

// benchData is an in-memory 28×28 ten-class set and pool of random pixels:
// the sizes of the table 1 experiment, without reading files. Its images
// per class (ByClass) let select.real_grad matched draw its real images as
// in table 1.
func benchData(n int) (*learn.Dataset, *format.Pools) {
	r := rand.New(rand.NewPCG(1, 1))
	classes := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	ds := &learn.Dataset{N: n, H: 28, W: 28, Classes: classes, Images: make([]uint8, n*784), Labels: make([]int, n)}
	pool := &format.Pools{H: 28, W: 28, Classes: classes, Images: make([]uint8, n*784), Labels: make([]int, n),
		Sources: []string{"g"}, Source: make([]int, n), Start: []int{0, n}}
	for i := range ds.Images {
		ds.Images[i], pool.Images[i] = uint8(r.IntN(256)), uint8(r.IntN(256))
	}
	ds.ByClass = make([][]int, len(classes))
	for i := range n {
		ds.Labels[i], pool.Labels[i] = r.IntN(10), r.IntN(10)
		ds.ByClass[ds.Labels[i]] = append(ds.ByClass[ds.Labels[i]], i)
	}
	return ds, pool
}

// cpuTime is the user+system CPU time of the process so far: on a shared
// machine it measures the work done, where wall time measures the load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dagrunGOGC is the collector setting the dagrun binary runs with (see
// cmd/dagrun/main.go) unless GOGC is set: the benchmarks measure the
// iterations as the tool runs them, not under the test binary's default.
const dagrunGOGC = 400

// benchBSGALBatch is a looper mode of the benchmarks: bsgal with
// real_grad batch (the cache follows the iteration's real batch) where
// plain bsgal has the kind's default, matched.
const benchBSGALBatch = "bsgal-batch"

// benchBSGALLast is a looper mode of the benchmarks: bsgal scored on the
// last layer's weight and bias only (select.subset), whose backward pass
// in the scoring stops there.
const benchBSGALLast = "bsgal-last"

// lastLayer names the model's last two parameters: its last layer's
// weight and bias.
func lastLayer(m *nn.Model) []string {
	ps := m.Params()
	return []string{ps[len(ps)-2].Name, ps[len(ps)-1].Name}
}

// looper runs training iterations of one select mode on its own model,
// with batches of 32 real and 32 generated images.
type looper struct {
	model   *nn.Model
	sel     *selection
	ds      *learn.Dataset
	sampler learn.Sampler
	opt     nn.Optimizer
	it      int
}

func newLooper(b *testing.B, cfg nn.Config, mode string, ds *learn.Dataset, pool *format.Pools) *looper {
	all := make([]int, pool.N())
	for i := range all {
		all[i] = i
	}
	return newLooperWith(b, cfg, mode, ds, &poolProposer{pool: pool, sampler: newPoolSampler(pool, all, DrawPool, 1), n: 32})
}

// newLooperWith is newLooper with the given proposer.
func newLooperWith(b *testing.B, cfg nn.Config, mode string, ds *learn.Dataset, prop Proposer) *looper {
	model, err := nn.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sp := DefaultSelectParams()
	sp.Mode = mode
	switch mode {
	case benchBSGALBatch:
		sp.Mode, sp.RealGrad = ModeBSGAL, RealGradBatch
	case benchBSGALLast:
		sp.Mode, sp.Subset = ModeBSGAL, lastLayer(model)
	}
	sel, err := newSelection(sp, prop, model, ds, 1<<20, 1)
	if err != nil {
		b.Fatal(err)
	}
	sampler, _ := learn.NewSampler(ds, "uniform", 1)
	l := &looper{model: model, sel: sel, ds: ds, sampler: sampler, opt: &nn.SGD{Momentum: 0.9, WeightDecay: 5e-4}}
	for range 3 { // compile every graph size outside the timing
		l.step(b)
	}
	return l
}

func (l *looper) step(b *testing.B) {
	real := l.ds.Batch(l.sampler.Next(32))
	res, err := l.sel.step(context.Background(), Step{It: l.it, Iterations: 1 << 20, LR: 0.01, Model: l.model}, real)
	if err != nil {
		b.Fatal(err)
	}
	if err := l.model.Step(l.opt, res.grad, 0.01); err != nil {
		b.Fatal(err)
	}
	l.it++
}

// segBenchData is an in-memory 32×32 segmentation set of n scenes with 20
// categories and an instances pool of solid squares from two sources, with
// the size statistics the paster draws sides from: table 7's setting at
// the benchmark's image size, without reading files. Its images per
// category (ByClass) let select.real_grad matched draw its real images as
// in table 7.
func segBenchData(n int) (*learn.Dataset, *Instances, map[string]format.SizeStat) {
	const S, K = 32, 20
	r := rand.New(rand.NewPCG(2, 2))
	classes := make([]string, K)
	sizes := map[string]format.SizeStat{}
	for k := range classes {
		classes[k] = string(rune('a'+k/10)) + string(rune('0'+k%10))
		sizes[classes[k]] = format.SizeStat{Count: 10, SideMean: 8, SideStd: 2}
	}
	images, semantic := make([]uint8, n*S*S), make([]uint8, n*S*S)
	for i := range images {
		images[i] = uint8(r.IntN(256))
		if images[i] > 200 {
			semantic[i] = uint8(1 + r.IntN(K))
		}
	}
	ds, err := learn.Segmentation(images, semantic, n, S, S, classes, nil)
	if err != nil {
		panic(err)
	}
	inst := &Instances{Classes: classes, Sources: []string{"g1", "g2"}}
	for k := 0; k < 4*K; k++ {
		side := 4 + k%7
		p := Patch{W: side, H: side, Values: make([]float32, side*side), Mask: make([]bool, side*side)}
		for i := range p.Values {
			p.Values[i], p.Mask[i] = r.Float32(), true
		}
		inst.Items = append(inst.Items, p)
		inst.Labels = append(inst.Labels, k%K)
		inst.Source = append(inst.Source, k%2)
	}
	return ds, inst, sizes
}

// BenchmarkModesInterleaved runs none, bsgal (real_grad matched, the
// default, as tables 1 and 7 run it), bsgal-batch (real_grad batch), all
// and lookahead round-robin, one iteration each per round on equal models
// and batches, so that load from other processes falls on all alike, and
// reports per mode the wall and CPU time per iteration and their ratios to
// none (targets: bsgal ≤ 1.5 for classification, ≤ 2 for segmentation);
// bsgal-last scores on the last layer only (select.subset), an
// approximation whose error BenchmarkSubsetScore measures.
// fcn-seg is the segmenter at 32×32 with instance paste (table 7's
// setting).
func BenchmarkModesInterleaved(b *testing.B) {
	for _, cfg := range []nn.Config{
		{Arch: nn.ArchMLP, Classes: 10, H: 28, W: 28, Hidden: []int{128}, Seed: 1},
		{Arch: nn.ArchCNN, Classes: 10, H: 28, W: 28, Seed: 1},
		{Arch: nn.ArchFCN, Classes: 20, H: 32, W: 32, Seed: 1},
	} {
		name := cfg.Arch
		if cfg.Arch == nn.ArchFCN {
			name = "fcn-seg"
		}
		b.Run(name, func(b *testing.B) {
			defer debug.SetGCPercent(debug.SetGCPercent(dagrunGOGC))
			modes := []string{ModeNone, ModeBSGAL, benchBSGALBatch, benchBSGALLast, ModeAll, ModeLookahead}
			loops := make([]*looper, len(modes))
			for i, m := range modes {
				if cfg.Arch == nn.ArchFCN {
					ds, inst, sizes := segBenchData(256)
					ps, err := newPaster(PasteParams{MaxPaste: 3, MinSide: 2, Flip: 0.5}, inst, nil, ds, sizes, DrawPool, 1)
					if err != nil {
						b.Fatal(err)
					}
					loops[i] = newLooperWith(b, cfg, m, ds, ps)
					continue
				}
				ds, pool := benchData(512)
				loops[i] = newLooper(b, cfg, m, ds, pool)
			}
			wall := make([]time.Duration, len(modes))
			cpu := make([]time.Duration, len(modes))
			b.ResetTimer()
			for range b.N {
				for i, l := range loops {
					t0, c0 := time.Now(), cpuTime()
					l.step(b)
					wall[i] += time.Since(t0)
					cpu[i] += cpuTime() - c0
				}
			}
			b.StopTimer()
			n := float64(b.N)
			for i, m := range modes {
				b.ReportMetric(float64(wall[i].Microseconds())/1000/n, m+"-ms/it")
				b.ReportMetric(float64(cpu[i].Microseconds())/1000/n, m+"-cpu-ms/it")
			}
			for i, m := range modes[1:] {
				b.ReportMetric(float64(wall[i+1])/float64(wall[0]), m+"/none")
				b.ReportMetric(float64(cpu[i+1])/float64(cpu[0]), m+"/none-cpu")
			}
		})
	}
}

// benchIteration times whole training iterations (draw, select, update) of
// one select mode at batch 32 real + 32 generated, and reports the bytes
// allocated per iteration and the peak heap in use (runtime.MemStats,
// sampled after every iteration outside the timer).
func benchIteration(b *testing.B, cfg nn.Config, mode string) {
	defer debug.SetGCPercent(debug.SetGCPercent(dagrunGOGC))
	ds, pool := benchData(512)
	l := newLooper(b, cfg, mode, ds, pool)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	peak, alloc0 := ms.HeapInuse, ms.TotalAlloc
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		c0 := cpuTime()
		l.step(b)
		cpu += cpuTime() - c0
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		b.StartTimer()
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/it")
	b.ReportMetric(float64(ms.TotalAlloc-alloc0)/float64(b.N), "alloc-B/it")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkIteration compares select modes on the same model and batches:
// none (one backward pass), bsgal (two, plus the cache and the score),
// all (one over the union) and lookahead (two backward, two forward).
// Target: bsgal at most 2× none.
func BenchmarkIteration(b *testing.B) {
	for _, arch := range []nn.Config{
		{Arch: nn.ArchMLP, Classes: 10, H: 28, W: 28, Hidden: []int{128}, Seed: 1},
		{Arch: nn.ArchCNN, Classes: 10, H: 28, W: 28, Seed: 1},
	} {
		for _, mode := range []string{ModeNone, ModeBSGAL, ModeAll, ModeLookahead} {
			b.Run(arch.Arch+"/"+mode, func(b *testing.B) { benchIteration(b, arch, mode) })
		}
	}
}

// BenchmarkSubsetScore measures how far BSGAL's score on a subset of the
// last layers (select.subset) strays from the score on every parameter, in
// fcn-seg (table 7's setting at the benchmarks' scale: real_grad matched,
// cosine, momentum cache, dynamic threshold at rate 0.5): the model trains
// on the exact decisions, and each iteration every subset is scored beside
// from the same gradients with a cache and a threshold of its own. It
// reports per subset the Pearson correlation of its scores with the exact
// ones and the fraction of iterations whose decision agrees with the
// exact one (and, for scale, how many the exact score accepted). b.N is
// the number of iterations: a measure of agreement, not of time. The data
// are the benchmarks' random scenes and squares, not lt-seg.
func BenchmarkSubsetScore(b *testing.B) {
	cfg := nn.Config{Arch: nn.ArchFCN, Classes: 20, H: 32, W: 32, Seed: 1}
	subsets := []struct {
		name  string
		names []string
	}{
		{"head", []string{"head.weight", "head.bias"}},
		{"conv4+head", []string{"conv4.weight", "conv4.bias", "head.weight", "head.bias"}},
		{"conv3+conv4+head", []string{"conv3.weight", "conv3.bias", "conv4.weight", "conv4.bias", "head.weight", "head.bias"}},
	}
	ds, inst, sizes := segBenchData(256)
	ps, err := newPaster(PasteParams{MaxPaste: 3, MinSide: 2, Flip: 0.5}, inst, nil, ds, sizes, DrawPool, 1)
	if err != nil {
		b.Fatal(err)
	}
	model, err := nn.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sp := DefaultSelectParams()
	newScorer := func() (*bsgal.GradCache, bsgal.Threshold) {
		c, err := bsgal.NewGradCache(bsgal.CacheMode(sp.Cache), sp.M)
		if err != nil {
			b.Fatal(err)
		}
		th, err := sp.Threshold.build(b.N)
		if err != nil {
			b.Fatal(err)
		}
		return c, th
	}
	cache, th := newScorer()
	type shadow struct {
		ranges     [][2]int
		cache      *bsgal.GradCache
		th         bsgal.Threshold
		scores     []float64
		agree      int
		bufR, bufG []float32
	}
	shadows := make([]*shadow, len(subsets))
	for k, sub := range subsets {
		r, err := subsetRanges(model, sub.names)
		if err != nil {
			b.Fatal(err)
		}
		c, t := newScorer()
		shadows[k] = &shadow{ranges: r, cache: c, th: t}
	}
	mt := newMatcher(ds, sp.RealGradN, 1)
	sampler, _ := learn.NewSampler(ds, "uniform", 1)
	opt := &nn.SGD{Momentum: 0.9, WeightDecay: 5e-4}
	var exact []float64
	accepted := 0
	b.ResetTimer()
	for it := range b.N {
		real := ds.Batch(sampler.Next(32))
		prop, ok, err := ps.Propose(context.Background(), Step{It: it, Iterations: b.N, LR: 0.01, Model: model}, real)
		if err != nil || !ok {
			b.Fatal("no proposal", err)
		}
		ref, _ := mt.batch(real, prop)
		_, gr, _, gg, err := model.SplitGrad(ref.X, ref.Y, ref.W, prop.Gen.X, prop.Gen.Y, prop.Gen.W)
		if err != nil {
			b.Fatal(err)
		}
		score, err := cache.UpdateScore(gr, gg, sp.Normalize)
		if err != nil {
			b.Fatal(err)
		}
		dec := bsgal.Decide(th, it, score)
		exact = append(exact, score)
		for _, sh := range shadows {
			s, err := sh.cache.UpdateScore(gather(gr, sh.ranges, &sh.bufR), gather(gg, sh.ranges, &sh.bufG), sp.Normalize)
			if err != nil {
				b.Fatal(err)
			}
			sh.scores = append(sh.scores, s)
			if bsgal.Decide(sh.th, it, s).Accepted == dec.Accepted {
				sh.agree++
			}
		}
		var g []float32
		if dec.Accepted {
			accepted++
			_, g, err = model.ReGrad(prop.Train.Y, prop.Train.W)
		} else {
			_, g, err = model.FlatGrad(real.X, real.Y, real.W, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := model.Step(opt, g, 0.01); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(accepted)/float64(b.N), "accepted")
	for k, sh := range shadows {
		b.ReportMetric(pearson(exact, sh.scores), subsets[k].name+"-r")
		b.ReportMetric(float64(sh.agree)/float64(b.N), subsets[k].name+"-agree")
	}
}
