package dag_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dagrun/cache"
	"dagrun/dag"

	_ "github.com/mattn/go-sqlite3"
)

// The parts stored with every entry decode back to the parts its key was
// computed from.
func TestStoredPartsRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.run(e.graph("chain.yaml", chain), 1)
	p, err := dag.MakePlan(context.Background(), e.graph("chain.yaml", chain), e.cache, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range p.Items {
		if it.Status != dag.WillHit {
			t.Fatalf("%s: %v, want cached", it.Node.Name(), it.Status)
		}
		got, err := dag.PartsOf(it.Entry.Record)
		if err != nil {
			t.Fatalf("%s: %v", it.Node.Name(), err)
		}
		if !reflect.DeepEqual(got, it.Parts) {
			t.Errorf("%s: stored parts decode to %+v, keyed %+v", it.Node.Name(), got, it.Parts)
		}
		if got.Key() != it.Key {
			t.Errorf("%s: stored parts hash to %s, entry key %s", it.Node.Name(), got.Key(), it.Key)
		}
	}
}

func TestPartsOfRejectsCorruptRecord(t *testing.T) {
	good := cache.Record{Kind: "fake", Version: 1, Params: `{"value":"B"}`, Inputs: `[{"slot":"x","index":0,"digest":"ab"}]`, Extra: "null"}
	if _, err := dag.PartsOf(good); err != nil {
		t.Fatalf("good record: %v", err)
	}
	tests := []struct {
		name string
		edit func(r *cache.Record)
		want string
	}{
		{"params", func(r *cache.Record) { r.Params = `{"value":` }, "decode stored params"},
		{"params empty", func(r *cache.Record) { r.Params = "" }, "decode stored params"},
		{"inputs", func(r *cache.Record) { r.Inputs = `[{"slot":` }, "decode stored inputs"},
		{"inputs of another shape", func(r *cache.Record) { r.Inputs = `{"slot":"x"}` }, "decode stored inputs"},
		{"files", func(r *cache.Record) { r.Extra = "" }, "decode stored files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			p, err := dag.PartsOf(r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PartsOf = %+v, %v; want an error containing %q", p, err, tc.want)
			}
		})
	}
}

// A corrupted stored row of the last run makes `plan` fail naming the node,
// instead of explaining the miss with the row's parts left out.
func TestPlanCorruptStoredPartsIsAnError(t *testing.T) {
	for _, col := range []string{"params", "inputs", "extra"} {
		t.Run(col, func(t *testing.T) {
			e := newEnv(t)
			sum := e.run(e.graph("chain.yaml", chain), 1)
			var key string
			for _, r := range sum.Results {
				if r.Node.Name() == "b" {
					key = r.Key
				}
			}
			db, err := sql.Open("sqlite3", filepath.Join(e.dir, "cache", "index.db")+"?_busy_timeout=10000")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			res, err := db.Exec(`UPDATE entries SET `+col+` = '[{"slot":' WHERE key = ?`, key)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("corrupted %d rows, want 1", n)
			}
			g := e.graph("chain.yaml", strings.Replace(chain, "value: B}", "value: B, salt: pepper}", 1))
			p, err := dag.MakePlan(context.Background(), g, e.cache, "")
			if err == nil {
				t.Fatalf("plan of a cache with a corrupt row: no error; b's reasons %q", p.Items[1].Reasons)
			}
			if !strings.Contains(err.Error(), `node "b"`) || !strings.Contains(err.Error(), "decode stored") {
				t.Errorf("err = %v, want it to name node \"b\" and the stored part", err)
			}
		})
	}
}
