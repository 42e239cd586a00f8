package dag_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// counter counts runs per node name, so tests can assert what recomputed.
type counter struct {
	mu       sync.Mutex
	runs     map[string]int
	cur, max int // nodes running at once
}

func (c *counter) enter() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur++
	if c.cur > c.max {
		c.max = c.cur
	}
}

func (c *counter) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur--
}

func (c *counter) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[name]++
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.runs {
		out[k] = v
	}
	return out
}

type fakeParams struct {
	Value string `yaml:"value" json:"value"`
	// Salt changes the key but not the output: for early-cutoff tests.
	Salt    string `yaml:"salt" json:"salt"`
	Fail    bool   `yaml:"fail" json:"fail"`
	SleepMS int    `yaml:"sleep_ms" json:"sleep_ms"`
}

type fakeNode struct {
	p   fakeParams
	cnt *counter
}

func (f *fakeNode) Run(ctx context.Context, env *nodes.Env) error {
	f.cnt.add(f.p.Value)
	f.cnt.enter()
	defer f.cnt.leave()
	if f.p.SleepMS > 0 {
		select {
		case <-time.After(time.Duration(f.p.SleepMS) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.p.Fail {
		fmt.Fprintln(env.Output, "about to fail")
		return errors.New("asked to fail")
	}
	var b strings.Builder
	b.WriteString(f.p.Value)
	slots := make([]string, 0, len(env.Inputs))
	for s := range env.Inputs {
		slots = append(slots, s)
	}
	sort.Strings(slots)
	for _, s := range slots {
		for _, dir := range env.Inputs[s] {
			data, err := os.ReadFile(filepath.Join(dir, "out.txt"))
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "(%s:%s)", s, data)
		}
	}
	return os.WriteFile(filepath.Join(env.OutDir, "out.txt"), []byte(b.String()), 0o644)
}

func fakeRegistry(cnt *counter) *nodes.Registry {
	return nodes.NewRegistry(&nodes.Kind{
		Name: "fake", Doc: "test kind", Version: 1, FreeInputs: true,
		Params: func() any { return &fakeParams{} },
		New: func(b nodes.Build, p any) (nodes.Node, error) {
			return &fakeNode{p: *p.(*fakeParams), cnt: cnt}, nil
		},
	})
}

type env struct {
	t     *testing.T
	dir   string
	cache *cache.Cache
	cnt   *counter
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	c, err := cache.Open(filepath.Join(dir, "cache"), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &env{t: t, dir: dir, cache: c, cnt: &counter{runs: map[string]int{}}}
}

func (e *env) graph(file, text string) *dag.Graph {
	e.t.Helper()
	path := filepath.Join(e.dir, file)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	s, err := spec.Load(path, spec.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := dag.Build(s, fakeRegistry(e.cnt))
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *env) run(g *dag.Graph, jobs int) *dag.Summary {
	e.t.Helper()
	r := &dag.Runner{Cache: e.cache, Opts: dag.Options{Jobs: jobs}}
	sum, err := r.Run(context.Background(), g)
	if err != nil {
		e.t.Fatal(err)
	}
	return sum
}

func keysByValue(t *testing.T, g *dag.Graph, sum *dag.Summary) map[string]string {
	out := map[string]string{}
	for _, r := range sum.Results {
		out[r.Node.ParamsJSON] = r.Key
	}
	return out
}

const chain = `name: chain
nodes:
  a:
    kind: fake
    params: {value: A}
  b:
    kind: fake
    inputs: {x: a}
    params: {value: B}
  c:
    kind: fake
    inputs: {x: b}
    params: {value: C}
  d:
    kind: fake
    inputs: {x: a}
    params: {value: D}
`

func TestKeysIgnoreNamesOrderJobsAndPath(t *testing.T) {
	e := newEnv(t)
	base := e.run(e.graph("chain.yaml", chain), 1)
	want := keysByValue(t, nil, base)

	renamed := strings.NewReplacer("  a:", "  first:", "x: a", "x: first", "  c:", "  third:").Replace(chain)
	reordered := `nodes:
  d:
    params: {value: D}
    inputs: {x: a}
    kind: fake
  c:
    inputs: {x: b}
    kind: fake
    params: {value: C}
  b:
    params: {value: B}
    kind: fake
    inputs: {x: a}
  a:
    params: {value: A}
    kind: fake
name: chain
`
	for _, tc := range []struct {
		name, file, text string
		jobs             int
	}{
		{"renamed nodes", "chain.yaml", renamed, 1},
		{"reordered keys", "chain.yaml", reordered, 1},
		{"-j 4", "chain.yaml", chain, 4},
		{"other path", "elsewhere/deeper/copy.yaml", chain, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.cnt.snapshot()
			sum := e.run(e.graph(tc.file, tc.text), tc.jobs)
			if got := keysByValue(t, nil, sum); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("keys = %v, want %v", got, want)
			}
			if n := sum.Count(dag.Cached); n != 4 {
				t.Errorf("cached = %d, want 4", n)
			}
			if after := e.cnt.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("runs went from %v to %v; want nothing recomputed", before, after)
			}
		})
	}
}

func TestParamChangeRerunsNodeAndDescendantsOnly(t *testing.T) {
	e := newEnv(t)
	e.run(e.graph("chain.yaml", chain), 2)
	changed := strings.Replace(chain, "value: B", "value: B2", 1)
	sum := e.run(e.graph("chain.yaml", changed), 2)
	got := map[string]dag.State{}
	for _, r := range sum.Results {
		got[r.Node.Name()] = r.State
	}
	want := map[string]dag.State{"a": dag.Cached, "b": dag.Done, "c": dag.Done, "d": dag.Cached}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("states = %v, want %v", got, want)
	}
	if runs := e.cnt.snapshot(); runs["A"] != 1 || runs["D"] != 1 || runs["B2"] != 1 || runs["C"] != 2 {
		t.Errorf("runs = %v", runs)
	}
}

func TestEarlyCutoff(t *testing.T) {
	e := newEnv(t)
	e.run(e.graph("chain.yaml", chain), 1)
	// The salt changes a's key but not its bytes: a reruns, b, c, d hit.
	salted := strings.Replace(chain, "value: A}", "value: A, salt: x}", 1)
	sum := e.run(e.graph("chain.yaml", salted), 1)
	for _, r := range sum.Results {
		want := dag.Cached
		if r.Node.Name() == "a" {
			want = dag.Done
		}
		if r.State != want {
			t.Errorf("%s: state %v, want %v", r.Node.Name(), r.State, want)
		}
	}
	if runs := e.cnt.snapshot(); runs["A"] != 2 || runs["B"] != 1 {
		t.Errorf("runs = %v, want A twice and B once", runs)
	}
}

func TestFailureSkipsDescendantsOnly(t *testing.T) {
	e := newEnv(t)
	g := e.graph("fail.yaml", strings.Replace(chain, "value: B}", "value: B, fail: true}", 1))
	sum := e.run(g, 2)
	got := map[string]dag.State{}
	for _, r := range sum.Results {
		got[r.Node.Name()] = r.State
	}
	want := map[string]dag.State{"a": dag.Done, "b": dag.Failed, "c": dag.Skipped, "d": dag.Done}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("states = %v, want %v", got, want)
	}
	err := sum.Err()
	var fe *dag.FailedError
	if !errors.As(err, &fe) || fe.Failed != 1 {
		t.Fatalf("Err() = %v, want one root cause", err)
	}
	for _, s := range []string{`node "b" (fake): run: asked to fail`, "about to fail", "1 dependent node(s) skipped"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if strings.Contains(err.Error(), `node "c"`) {
		t.Errorf("error names a skipped node, want root causes only: %q", err)
	}
	// Nothing of b was registered: a plan still wants to run it.
	p, perr := dag.MakePlan(context.Background(), g, e.cache, "")
	if perr != nil {
		t.Fatal(perr)
	}
	for _, it := range p.Items {
		if it.Node.Name() == "b" && it.Status != dag.WillRun {
			t.Errorf("b: plan status %v, want run", it.Status)
		}
	}
}

func TestSingleFlightEqualKeys(t *testing.T) {
	e := newEnv(t)
	g := e.graph("twins.yaml", `name: twins
nodes:
  one: {kind: fake, params: {value: same, sleep_ms: 50}}
  two: {kind: fake, params: {value: same, sleep_ms: 50}}
  three: {kind: fake, params: {value: same, sleep_ms: 50}}
`)
	sum := e.run(g, 4)
	if runs := e.cnt.snapshot(); runs["same"] != 1 {
		t.Errorf("equal keys ran %d times, want once", runs["same"])
	}
	if sum.Err() != nil {
		t.Fatal(sum.Err())
	}
}

func TestCancelKeepsNothingPartial(t *testing.T) {
	e := newEnv(t)
	g := e.graph("slow.yaml", `name: slow
nodes:
  quick: {kind: fake, params: {value: Q}}
  slow: {kind: fake, inputs: {x: quick}, params: {value: S, sleep_ms: 5000}}
`)
	ctx, cancel := context.WithCancel(context.Background())
	r := &dag.Runner{Cache: e.cache, Opts: dag.Options{Jobs: 2, Events: func(ev dag.Event) {
		if ev.State == dag.Running && ev.Node.Name() == "slow" {
			cancel()
		}
	}}}
	start := time.Now()
	sum, err := r.Run(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted {
		t.Fatal("run not marked interrupted")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
	p, err := dag.MakePlan(context.Background(), g, e.cache, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Items[0].Status != dag.WillHit || p.Items[1].Status != dag.WillRun {
		t.Errorf("after cancel: quick %v, slow %v; want cached, run", p.Items[0].Status, p.Items[1].Status)
	}
}

func TestPlanExplainsParamChange(t *testing.T) {
	e := newEnv(t)
	e.run(e.graph("chain.yaml", chain), 1)
	g := e.graph("chain.yaml", strings.Replace(chain, "value: B}", "value: B, salt: pepper}", 1))
	p, err := dag.MakePlan(context.Background(), g, e.cache, "")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dag.PlanItem{}
	for _, it := range p.Items {
		byName[it.Node.Name()] = it
	}
	if got := strings.Join(byName["b"].Reasons, "; "); got != `param "salt": "" → "pepper"` {
		t.Errorf("b reasons = %q", got)
	}
	if byName["c"].Status != dag.Blocked || !strings.Contains(strings.Join(byName["c"].Reasons, ";"), `upstream "b" will run first`) {
		t.Errorf("c: %v %q", byName["c"].Status, byName["c"].Reasons)
	}
	if byName["a"].Status != dag.WillHit || byName["d"].Status != dag.WillHit {
		t.Errorf("a, d: %v %v, want cached", byName["a"].Status, byName["d"].Status)
	}
}

func TestMatrixSharesUnexpandedNodes(t *testing.T) {
	e := newEnv(t)
	g := e.graph("grid.yaml", `name: grid
matrix:
  seed: [1, 2, 3]
nodes:
  data: {kind: fake, params: {value: data}}
  train: {kind: fake, inputs: {x: data}, params: {value: "train-${seed}"}}
  eval: {kind: fake, inputs: {m: train}, params: {value: eval}}
`)
	if len(g.Nodes) != 7 {
		t.Fatalf("nodes = %d, want 1 data + 3 train + 3 eval", len(g.Nodes))
	}
	sum := e.run(g, 2)
	if err := sum.Err(); err != nil {
		t.Fatal(err)
	}
	runs := e.cnt.snapshot()
	if runs["data"] != 1 || runs["eval"] != 3 || runs["train-2"] != 1 {
		t.Errorf("runs = %v", runs)
	}
}

func TestResourceWeights(t *testing.T) {
	for _, tc := range []struct {
		cpu, jobs, wantMax int
	}{
		{1, 4, 4}, // light nodes fill the budget
		{2, 4, 2}, // heavy nodes take two units each
		{3, 2, 1}, // heavier than the budget: one at a time, never stuck
	} {
		t.Run(fmt.Sprintf("cpu%d-j%d", tc.cpu, tc.jobs), func(t *testing.T) {
			e := newEnv(t)
			var b strings.Builder
			fmt.Fprintf(&b, "name: w\nnodes:\n")
			for i := 0; i < 6; i++ {
				fmt.Fprintf(&b, "  n%d: {kind: fake, resources: {cpu: %d}, params: {value: v%d, sleep_ms: 60}}\n", i, tc.cpu, i)
			}
			sum := e.run(e.graph("w.yaml", b.String()), tc.jobs)
			if err := sum.Err(); err != nil {
				t.Fatal(err)
			}
			if e.cnt.max != tc.wantMax {
				t.Errorf("at most %d ran at once, want %d", e.cnt.max, tc.wantMax)
			}
		})
	}
}

func TestAuditCatchesNondeterminism(t *testing.T) {
	e := newEnv(t)
	g := e.graph("a.yaml", chain)
	e.run(g, 2)
	res, err := dag.Audit(context.Background(), g, e.cache, 10, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("audited %d nodes, want all 4", len(res))
	}
	for _, r := range res {
		if !r.Deterministic() {
			t.Errorf("%s: cached %s, recomputed %s, err %v", r.Node.Name(), r.Cached, r.Recomputed, r.Err)
		}
	}
	// The same keys, but a kind whose output now differs: the audit must
	// report every node as nondeterministic.
	other := &counter{runs: map[string]int{}}
	reg := nodes.NewRegistry(&nodes.Kind{
		Name: "fake", Doc: "test kind", Version: 1, FreeInputs: true,
		Params: func() any { return &fakeParams{} },
		New: func(b nodes.Build, p any) (nodes.Node, error) {
			fp := *p.(*fakeParams)
			fp.Value += "-drift"
			return &fakeNode{p: fp, cnt: other}, nil
		},
	})
	g2, err := dag.Build(g.Spec, reg)
	if err != nil {
		t.Fatal(err)
	}
	res, err = dag.Audit(context.Background(), g2, e.cache, 2, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("audited %d, want 2", len(res))
	}
	for _, r := range res {
		if r.Deterministic() || r.Recomputed == "" || r.Cached == r.Recomputed {
			t.Errorf("%s: audit missed the drift: cached %s recomputed %s", r.Node.Name(), r.Cached, r.Recomputed)
		}
	}
}

// TestExplainGolden: after one param changes, plan --explain names it with
// its old and new values, marks the changed parts, and says which grid
// cells share the node. Keys are content digests of fixed inputs, so the
// output is stable across machines.
func TestExplainGolden(t *testing.T) {
	e := newEnv(t)
	grid := `name: explain
matrix:
  seed: [1, 2]
nodes:
  data: {kind: fake, params: {value: data}}
  train: {kind: fake, inputs: {x: data}, params: {value: "train-${seed}", salt: "lr=0.1"}}
`
	e.run(e.graph("g.yaml", grid), 1)
	g := e.graph("g.yaml", strings.Replace(grid, `salt: "lr=0.1"`, `salt: "lr=0.2"`, 1))
	p, err := dag.MakePlan(context.Background(), g, e.cache, "")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range []string{"train[seed=2]", "data"} {
		if !dag.WriteExplain(&b, g, p, name) {
			t.Fatalf("no node %q", name)
		}
	}
	golden := filepath.Join("testdata", "explain.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	for _, s := range []string{`param "salt": "lr=0.1" → "lr=0.2"`, "<- changed", "shared by 2 of 2 grid cells"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("explain output lacks %q", s)
		}
	}
}
