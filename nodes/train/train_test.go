package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// writeClassification writes n 8×8 images of 4 classes: class c lights up
// quadrant c over low noise.
func writeClassification(t *testing.T, n int, seed uint64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	c := &format.Classification{N: n, H: 8, W: 8, Images: make([]uint8, n*64), Labels: make([]int64, n),
		Meta: format.ClassMeta{Classes: []string{"a", "b", "c", "d"}}}
	for i := 0; i < n; i++ {
		lab := i % 4
		c.Labels[i] = int64(lab)
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				v := r.IntN(40)
				if (y/4)*2+x/4 == lab {
					v += 180
				}
				c.Images[i*64+y*8+x] = uint8(v)
			}
		}
	}
	dir := filepath.Join(t.TempDir(), "cls")
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeSegmentation writes n 8×8 scenes, each with one 3×3 square of
// category c (brightness 80·(c+1)) at a random place.
func writeSegmentation(t *testing.T, n int, seed uint64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	s := &format.Segmentation{N: n, H: 8, W: 8, Images: make([]uint8, n*64), Semantic: make([]uint8, n*64),
		Instances: make([]int32, n*64), COCO: &artifact.COCO{},
		Meta: format.SegMeta{Classes: []string{"a", "b", "c"}, Groups: map[string]string{"a": "rare", "b": "common", "c": "frequent"}}}
	for i := 0; i < n; i++ {
		c := i % 3
		y0, x0 := r.IntN(6), r.IntN(6)
		for j := 0; j < 64; j++ {
			s.Images[i*64+j] = uint8(r.IntN(30))
		}
		for y := y0; y < y0+3; y++ {
			for x := x0; x < x0+3; x++ {
				s.Images[i*64+y*8+x] = uint8(80*(c+1) - r.IntN(10))
				s.Semantic[i*64+y*8+x] = uint8(c + 1)
				s.Instances[i*64+y*8+x] = 1
			}
		}
	}
	dir := filepath.Join(t.TempDir(), "seg")
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newEnv(t *testing.T, train, val string) (*nodes.Env, *[]int) {
	var reports []int
	env := &nodes.Env{Inputs: map[string][]string{"train": {train}}, OutDir: t.TempDir(), TempDir: t.TempDir(),
		Progress: func(done, total int) { reports = append(reports, done) }}
	if val != "" {
		env.Inputs["val"] = []string{val}
	}
	return env, &reports
}

func readLosses(t *testing.T, dir string) []float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "loss.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "iteration,loss" {
		t.Fatalf("loss.csv header %q", lines[0])
	}
	var out []float64
	for i, l := range lines[1:] {
		f := strings.Split(l, ",")
		if f[0] != strconv.Itoa(i+1) {
			t.Fatalf("loss.csv line %d: iteration %q", i+2, f[0])
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func readMetrics(t *testing.T, dir string) Metrics {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m Metrics
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func avg(xs []float64) float64 { return mean(xs) }

func run(t *testing.T, p Params, env *nodes.Env, prop Proposer) error {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return (&Node{Params: p, Proposer: prop}).Run(context.Background(), env)
}

// TestTrainLearns trains each architecture on its synthetic task: the loss
// falls, every output is written, and the model fits its (val = train) data.
func TestTrainLearns(t *testing.T) {
	cls := writeClassification(t, 64, 1)
	seg := writeSegmentation(t, 24, 1)
	for _, c := range []struct {
		name, arch, data, opt string
		minAcc                float64
	}{
		{"mlp-sgd", "mlp", cls, "sgd", 0.95},
		{"cnn-adamw", "auto", cls, "adamw", 0.95},
		{"fcn-sgd", "auto", seg, "sgd", 0.9},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultParams()
			p.Arch, p.Optimizer, p.Iterations, p.BatchSize, p.Warmup, p.EvalEvery, p.Seed = c.arch, c.opt, 80, 16, 5, 40, 3
			if c.opt == "adamw" {
				p.LR = 0.01
			}
			env, reports := newEnv(t, c.data, c.data)
			if err := run(t, p, env, nil); err != nil {
				t.Fatal(err)
			}
			losses := readLosses(t, env.OutDir)
			if len(losses) != p.Iterations {
				t.Fatalf("loss.csv has %d rows, want %d", len(losses), p.Iterations)
			}
			first, last := avg(losses[:10]), avg(losses[len(losses)-10:])
			if last > 0.5*first {
				t.Errorf("loss went from %.4f to %.4f, want it at least halved", first, last)
			}
			m := readMetrics(t, env.OutDir)
			if m.Iterations != p.Iterations || m.LastTrainLoss != losses[len(losses)-1] || m.FinalTrainLoss != avg(losses[len(losses)-8:]) {
				t.Errorf("metrics %+v do not match loss.csv", m)
			}
			if m.ValAccuracy == nil || *m.ValAccuracy < c.minAcc {
				t.Errorf("val accuracy %v, want at least %v", m.ValAccuracy, c.minAcc)
			}
			model, err := nn.Load(filepath.Join(env.OutDir, "model"))
			if err != nil {
				t.Fatal(err)
			}
			if model.NumParams() != m.Params {
				t.Errorf("metrics params %d, saved model has %d", m.Params, model.NumParams())
			}
			// The saved model reproduces the final val metrics.
			ds, _, _ := loadDataset(c.data)
			vl, va, err := Evaluate(context.Background(), model, ds, 7)
			if err != nil {
				t.Fatal(err)
			}
			if d := vl - *m.ValLoss; d > 1e-5 || d < -1e-5 || va != *m.ValAccuracy {
				t.Errorf("reloaded model: val loss %v acc %v, metrics say %v %v", vl, va, *m.ValLoss, *m.ValAccuracy)
			}
			vb, _ := os.ReadFile(filepath.Join(env.OutDir, "val.csv"))
			if got := strings.Count(string(vb), "\n"); got != 3 {
				t.Errorf("val.csv has %d lines, want header + 2 evaluations:\n%s", got, vb)
			}
			if len(*reports) != p.Iterations || (*reports)[len(*reports)-1] != p.Iterations {
				t.Errorf("progress reported %d times, last %v", len(*reports), (*reports)[len(*reports)-1:])
			}
		})
	}
}

func outputs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = b
		}
		return nil
	})
	return out
}

// TestDeterministic: the same params and data give byte-identical outputs
// (with augmentation, validation and keep best on); another seed does not.
func TestDeterministic(t *testing.T) {
	seg := writeSegmentation(t, 12, 2)
	val := writeSegmentation(t, 9, 3)
	p := DefaultParams()
	p.Iterations, p.BatchSize, p.Sampling, p.Seed = 6, 4, "balanced", 5
	p.Augment, p.Keep, p.EvalEvery = AugmentParams{Scale: []float64{0.5, 1.5}, Flip: true}, KeepBest, 2
	var outs []map[string][]byte
	for _, seed := range []uint64{5, 5, 6} {
		p.Seed = seed
		env, _ := newEnv(t, seg, val)
		if err := run(t, p, env, nil); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, outputs(t, env.OutDir))
	}
	if len(outs[0]) < 3 {
		t.Fatalf("only %d output files", len(outs[0]))
	}
	for name, b := range outs[0] {
		if !bytes.Equal(b, outs[1][name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	if bytes.Equal(outs[0]["loss.csv"], outs[2]["loss.csv"]) {
		t.Error("different seeds gave the same loss curve")
	}
}

// recorder is a counting Proposer: it logs the iterations it sees and
// proposes a copy of the real batch with every label weight 0, so the
// union's loss is the real batch's.
type recorder struct {
	its []int
	lrs []float64
}

func (r *recorder) Propose(_ context.Context, s Step, b learn.Batch) (Proposal, bool, error) {
	r.its = append(r.its, s.It)
	r.lrs = append(r.lrs, s.LR)
	if s.Model == nil || len(b.Index) != 4 {
		return Proposal{}, false, errors.New("step without model or batch of the wrong size")
	}
	g := b
	g.W = make([]float32, len(b.Y))
	return Proposal{Gen: g, Sources: []string{"s", "s", "s", "t"}, Categories: []string{"a", "a", "b", "c"}}, true, nil
}

// TestProposer: a proposer sees every iteration in order with the scheduled
// learning rate; in mode none it is never asked; in mode all the loop
// trains on the union (here weighted so it equals the real batch alone).
func TestProposer(t *testing.T) {
	cls := writeClassification(t, 16, 3)
	p := DefaultParams()
	p.Iterations, p.BatchSize, p.Warmup, p.Seed = 5, 4, 2, 1

	envPlain, _ := newEnv(t, cls, "")
	if err := run(t, p, envPlain, nil); err != nil {
		t.Fatal(err)
	}
	idle := &recorder{}
	envIdle, _ := newEnv(t, cls, "")
	if err := run(t, p, envIdle, idle); err != nil {
		t.Fatal(err)
	}
	if len(idle.its) != 0 {
		t.Errorf("mode none asked the proposer %d times", len(idle.its))
	}
	rec := &recorder{}
	p.Select.Mode = ModeAll
	envRec, _ := newEnv(t, cls, "")
	if err := run(t, p, envRec, rec); err != nil {
		t.Fatal(err)
	}
	for i, it := range rec.its {
		if it != i || rec.lrs[i] != nn.CosineLR(p.LR, p.Warmup, p.Iterations, i) {
			t.Errorf("call %d: iteration %d lr %v", i, it, rec.lrs[i])
		}
	}
	if len(rec.its) != p.Iterations {
		t.Errorf("proposer called %d times, want %d", len(rec.its), p.Iterations)
	}
	a, b := readLosses(t, envPlain.OutDir), readLosses(t, envRec.OutDir)
	for i := range a {
		if d := a[i] - b[i]; d > 1e-6 || d < -1e-6 {
			t.Errorf("iteration %d: loss %v with a zero-weight generated part, %v without", i+1, b[i], a[i])
		}
	}
	m := readMetrics(t, envRec.OutDir)
	if m.Proposed != 5 || m.Accepted != 5 || m.AcceptRate == nil || *m.AcceptRate != 1 || m.AcceptBySource["s"] != 1 || m.AcceptBySource["t"] != 1 {
		t.Errorf("metrics %+v, want 5 of 5 accepted from sources s and t", m)
	}
}

func TestCancel(t *testing.T) {
	cls := writeClassification(t, 8, 4)
	p := DefaultParams()
	p.Iterations, p.BatchSize = 1000, 4
	ctx, cancel := context.WithCancel(context.Background())
	env, _ := newEnv(t, cls, "")
	env.Progress = func(done, _ int) {
		if done == 3 {
			cancel()
		}
	}
	err := (&Node{Params: p}).Run(ctx, env)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(env.OutDir, "metrics.json")); err == nil {
		t.Error("a cancelled run wrote metrics.json")
	}
}

func TestParamsErrors(t *testing.T) {
	k := Kind()
	for _, c := range []struct {
		edit func(*Params)
		want string
	}{
		{func(p *Params) { p.Arch = "resnet" }, `arch "resnet"`},
		{func(p *Params) { p.Optimizer = "adam" }, `optimizer "adam"`},
		{func(p *Params) { p.Sampling = "rfs" }, `sampling "rfs"`},
		{func(p *Params) { p.LR = 0 }, "lr 0"},
		{func(p *Params) { p.Momentum = 1 }, "momentum"},
		{func(p *Params) { p.Iterations = 0 }, "iterations 0"},
		{func(p *Params) { p.Warmup = -1 }, "warmup -1"},
	} {
		p := k.Params().(*Params)
		c.edit(p)
		if _, err := k.Construct(nodes.Build{}, p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want it to mention %q", err, c.want)
		}
	}
	if k.Weight() != 2 || k.Name != "train" {
		t.Errorf("kind %q has weight %d", k.Name, k.Weight())
	}
	// Task and arch must agree.
	seg := writeSegmentation(t, 4, 5)
	p := DefaultParams()
	p.Arch = "cnn"
	env, _ := newEnv(t, seg, "")
	if err := run(t, p, env, nil); err == nil || !strings.Contains(err.Error(), `arch "cnn" does not fit a segmentation dataset`) {
		t.Errorf("cnn on segmentation: err = %v", err)
	}
}
