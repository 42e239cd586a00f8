package dag_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"dagrun/dag"
)

// flakyExec fails the first failures[value] attempts of each node (after
// leaving a partial file and a log line behind), then runs it locally.
type flakyExec struct {
	mu       sync.Mutex
	failures map[string]int
	attempts map[string]int
}

func (f *flakyExec) Execute(ctx context.Context, job *dag.Job) error {
	p := job.Node.Params.(*fakeParams)
	f.mu.Lock()
	f.attempts[p.Value]++
	n := f.attempts[p.Value]
	fail := n <= f.failures[p.Value]
	f.mu.Unlock()
	if entries, _ := os.ReadDir(job.Env.OutDir); len(entries) != 0 {
		return fmt.Errorf("attempt %d: output folder not empty: %d entries", n, len(entries))
	}
	if fail {
		os.WriteFile(filepath.Join(job.Env.OutDir, "partial.txt"), []byte("half"), 0o644)
		fmt.Fprintf(job.Env.Output, "attempt %d of %s\n", n, p.Value)
		return fmt.Errorf("transient fault %d", n)
	}
	fmt.Fprintf(job.Env.Output, "attempt %d of %s\n", n, p.Value)
	return dag.Local{}.Execute(ctx, job)
}

func TestRetries(t *testing.T) {
	const text = `name: retry
nodes:
  a:
    kind: fake
    params: {value: A}
    retries: 2
  b:
    kind: fake
    inputs: {x: a}
    params: {value: B}
    retries: 1
  c:
    kind: fake
    inputs: {x: b}
    params: {value: C}
  n:
    kind: fake
    params: {value: N}
`
	tests := []struct {
		name      string
		failures  map[string]int
		states    map[string]dag.State
		attempts  map[string]int
		errSubstr string // of the failed node's error
	}{
		{
			name:     "transient faults within the budget",
			failures: map[string]int{"A": 2, "B": 1},
			states:   map[string]dag.State{"a": dag.Done, "b": dag.Done, "c": dag.Done, "n": dag.Done},
			attempts: map[string]int{"A": 3, "B": 2, "C": 1, "N": 1},
		},
		{
			name:      "budget exhausted",
			failures:  map[string]int{"A": 3},
			states:    map[string]dag.State{"a": dag.Failed, "b": dag.Skipped, "c": dag.Skipped, "n": dag.Done},
			attempts:  map[string]int{"A": 3, "N": 1},
			errSubstr: "transient fault 3",
		},
		{
			name:      "no retries: one attempt",
			failures:  map[string]int{"N": 1},
			states:    map[string]dag.State{"a": dag.Done, "b": dag.Done, "c": dag.Done, "n": dag.Failed},
			attempts:  map[string]int{"A": 1, "B": 1, "C": 1, "N": 1},
			errSubstr: "transient fault 1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			g := e.graph("retry.yaml", text)
			ex := &flakyExec{failures: tc.failures, attempts: map[string]int{}}
			r := &dag.Runner{Cache: e.cache, Opts: dag.Options{Jobs: 2, Executor: ex}}
			sum, err := r.Run(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			for _, res := range sum.Results {
				if want := tc.states[res.Node.Name()]; res.State != want {
					t.Errorf("%s: state %s, want %s (err %v)", res.Node.Name(), res.State, want, res.Err)
				}
				if res.State == dag.Failed && !strings.Contains(res.Err.Error(), tc.errSubstr) {
					t.Errorf("%s: error %q lacks %q", res.Node.Name(), res.Err, tc.errSubstr)
				}
				if res.State != dag.Done {
					continue
				}
				// Only the successful attempt's files and log are kept.
				for _, f := range res.Entry.Manifest {
					if f.Path == "partial.txt" {
						t.Errorf("%s: a failed attempt's partial.txt was registered", res.Node.Name())
					}
				}
				log, err := e.cache.ReadLog(res.Entry)
				if err != nil {
					t.Fatal(err)
				}
				v := res.Node.Params.(*fakeParams).Value
				if want := fmt.Sprintf("attempt %d of %s\n", ex.attempts[v], v); string(log) != want {
					t.Errorf("%s: log %q, want %q", res.Node.Name(), log, want)
				}
			}
			if fmt.Sprint(ex.attempts) != fmt.Sprint(tc.attempts) {
				t.Errorf("attempts %v, want %v", ex.attempts, tc.attempts)
			}
		})
	}
}

// A cancelled node is not retried.
func TestRetriesStopOnCancel(t *testing.T) {
	e := newEnv(t)
	g := e.graph("cancel.yaml", `nodes:
  a:
    kind: fake
    params: {value: A}
    retries: 5
`)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	ex := execFunc(func(ctx context.Context, job *dag.Job) error {
		calls++
		cancel()
		return errors.New("killed by the cancel")
	})
	r := &dag.Runner{Cache: e.cache, Opts: dag.Options{Executor: ex}}
	sum, err := r.Run(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || sum.Results[0].State != dag.Canceled {
		t.Errorf("calls %d, state %s; want 1 call, canceled", calls, sum.Results[0].State)
	}
}

type execFunc func(ctx context.Context, job *dag.Job) error

func (f execFunc) Execute(ctx context.Context, job *dag.Job) error { return f(ctx, job) }
