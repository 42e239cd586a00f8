package slurm_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/executor/slurm"
	"dagrun/nodes"
	"dagrun/nodes/command"
	"dagrun/nodes/file"
	"dagrun/spec"
)

// The test binary doubles as `dagrun exec`: Slurm jobs run it as
// `slurm.test exec JOBFILE`, with the test registry below.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "exec" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := slurm.RunJob(ctx, os.Args[2], testRegistry())
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "dagrun exec: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// concatParams mixes what params can hold: a path kept out of the key
// (json:"-"), nested structs, lists and numbers.
type concatParams struct {
	Path   string   `yaml:"path" json:"-"`
	Sep    string   `yaml:"sep" json:"sep"`
	Repeat int      `yaml:"repeat" json:"repeat"`
	Tags   []string `yaml:"tags" json:"tags"`
	Scale  struct {
		Factor float64 `yaml:"factor" json:"factor"`
	} `yaml:"scale" json:"scale"`
}

type concatNode struct {
	p    concatParams
	path string
}

func (n *concatNode) Fingerprint(ctx context.Context, h nodes.FileHasher) (map[string]string, error) {
	d, err := h.FileDigest(n.path)
	if err != nil {
		return nil, err
	}
	return map[string]string{"file": d}, nil
}

// Run writes the file, then every input's files, then the params, Repeat
// times, joined by Sep.
func (n *concatNode) Run(ctx context.Context, env *nodes.Env) error {
	b, err := os.ReadFile(n.path)
	if err != nil {
		return err
	}
	parts := []string{string(b)}
	slots := make([]string, 0, len(env.Inputs))
	for s := range env.Inputs {
		slots = append(slots, s)
	}
	sort.Strings(slots)
	for _, s := range slots {
		for _, dir := range env.Inputs[s] {
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := os.ReadFile(p)
				parts = append(parts, string(data))
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	parts = append(parts, fmt.Sprintf("tags=%v scale=%g", n.p.Tags, n.p.Scale.Factor))
	fmt.Fprintf(env.Output, "concat: %d parts\n", len(parts))
	out := strings.Repeat(strings.Join(parts, n.p.Sep), n.p.Repeat)
	return os.WriteFile(filepath.Join(env.OutDir, "concat.txt"), []byte(out), 0o644)
}

func concatKind() *nodes.Kind {
	return &nodes.Kind{
		Name: "concat", Doc: "test kind: concatenates a file, its inputs and its params",
		Version: 1, FreeInputs: true,
		Params: func() any { return &concatParams{Sep: "|", Repeat: 1} },
		New: func(b nodes.Build, p any) (nodes.Node, error) {
			cp := *p.(*concatParams)
			if cp.Path == "" {
				return nil, fmt.Errorf("path is required")
			}
			return &concatNode{p: cp, path: filepath.Join(b.Dir, cp.Path)}, nil
		},
	}
}

func testRegistry() *nodes.Registry {
	return nodes.NewRegistry(command.Kind(), file.Kind(), concatKind())
}

// needCluster skips unless DAGRUN_SLURM=1; with it set, a cluster that does
// not answer is a failure, not a skip.
func needCluster(t *testing.T) {
	t.Helper()
	if os.Getenv("DAGRUN_SLURM") != "1" {
		t.Skip("Slurm tests skipped: start a test cluster with scripts/slurm/start.sh and set DAGRUN_SLURM=1")
	}
	if out, err := exec.Command("sinfo", "-h").CombinedOutput(); err != nil {
		t.Fatalf("DAGRUN_SLURM=1 but sinfo fails (run scripts/slurm/start.sh): %v: %s", err, out)
	}
}

// fixture is one spec folder and one cache.
type fixture struct {
	t     *testing.T
	dir   string
	cache *cache.Cache
}

func newFixture(t *testing.T, cacheName string) *fixture {
	t.Helper()
	dir := t.TempDir()
	c, err := cache.Open(filepath.Join(dir, cacheName), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fixture{t: t, dir: dir, cache: c}
}

func (f *fixture) write(rel, text string) string {
	f.t.Helper()
	path := filepath.Join(f.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return path
}

func (f *fixture) graph(rel, text string) *dag.Graph {
	f.t.Helper()
	s, err := spec.Load(f.write(rel, text), spec.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	g, err := dag.Build(s, testRegistry())
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

func (f *fixture) run(ctx context.Context, g *dag.Graph, ex dag.Executor) *dag.Summary {
	f.t.Helper()
	r := &dag.Runner{Cache: f.cache, Opts: dag.Options{Jobs: 8, Executor: ex}}
	sum, err := r.Run(ctx, g)
	if err != nil {
		f.t.Fatal(err)
	}
	return sum
}

// newExecutor returns an executor whose jobs carry a name unique to this
// test, so that queue checks see only its jobs.
func newExecutor(t *testing.T) (*slurm.Executor, string) {
	t.Helper()
	name := fmt.Sprintf("dagrun-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	ex, err := slurm.New(slurm.Config{JobName: name})
	if err != nil {
		t.Fatal(err)
	}
	return ex, name
}

// queued lists the jobs in squeue whose name starts with prefix.
func queued(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("squeue", "-h", "-o", "%i %j %T").Output()
	if err != nil {
		t.Fatalf("squeue: %v", err)
	}
	var mine []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasPrefix(f[1], prefix+"/") {
			mine = append(mine, line)
		}
	}
	return mine
}

func digests(sum *dag.Summary) map[string]string {
	out := map[string]string{}
	for _, r := range sum.Results {
		out[r.Node.Name()] = r.Digest()
	}
	return out
}

func states(sum *dag.Summary) map[string]dag.State {
	out := map[string]dag.State{}
	for _, r := range sum.Results {
		out[r.Node.Name()] = r.State
	}
	return out
}
