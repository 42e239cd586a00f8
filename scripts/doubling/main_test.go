package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// A report of two modes at budgets 1000, 2000, 4000 over 3 seeds: mode a
// changes by 20 % then 2 %, mode b by 10 % (with seeds disagreeing, so
// its paired interval contains 0) then 1 %.
const reportJSON = `{"rows": [
 {"labels": {"mode": "a", "budget": "1000"}, "cells": {"val_AP": {"mean": 0.10, "n": 3, "values": {"seed=1": 0.09, "seed=2": 0.10, "seed=3": 0.11}}}},
 {"labels": {"mode": "a", "budget": "2000"}, "cells": {"val_AP": {"mean": 0.12, "n": 3, "values": {"seed=1": 0.11, "seed=2": 0.12, "seed=3": 0.13}}}},
 {"labels": {"mode": "a", "budget": "4000"}, "cells": {"val_AP": {"mean": 0.1224, "n": 3, "values": {"seed=1": 0.1124, "seed=2": 0.1224, "seed=3": 0.1324}}}},
 {"labels": {"mode": "b", "budget": "1000"}, "cells": {"val_AP": {"mean": 0.20, "n": 3, "values": {"seed=1": 0.20, "seed=2": 0.20, "seed=3": 0.20}}}},
 {"labels": {"mode": "b", "budget": "2000"}, "cells": {"val_AP": {"mean": 0.22, "n": 3, "values": {"seed=1": 0.30, "seed=2": 0.10, "seed=3": 0.26}}}},
 {"labels": {"mode": "b", "budget": "4000"}, "cells": {"val_AP": {"mean": 0.2222, "n": 2, "values": {"seed=1": 0.3, "seed=2": 0.1444}}}}
]}`

func TestDoublingRules(t *testing.T) {
	steps, err := analyze(strings.NewReader(reportJSON), "val_AP", "budget", "mode", 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 4 {
		t.Fatalf("%d steps, want 4: %+v", len(steps), steps)
	}
	byKey := map[string]Step{}
	for _, s := range steps {
		byKey[s.Group+"/"+strconv.Itoa(s.B)] = s
	}
	a1, a2, b1, b2 := byKey["a/1000"], byKey["a/2000"], byKey["b/1000"], byKey["b/2000"]
	if a1.MeetsRel || a1.WithinNoise {
		t.Errorf("a 1000 -> 2000 (+20 %%, every seed +0.02): %+v, want neither rule met", a1)
	}
	if !a2.MeetsRel || a2.MissingValues {
		t.Errorf("a 2000 -> 4000 (+2 %%): %+v, want the relative rule met", a2)
	}
	if b1.MeetsRel || !b1.WithinNoise {
		t.Errorf("b 1000 -> 2000 (+10 %%, seeds +0.1, -0.1, +0.06): %+v, want within noise only", b1)
	}
	if !b2.MissingValues {
		t.Errorf("b 2000 -> 4000 lacks seed 3 at 4000: %+v, want incomplete", b2)
	}
	// a meets rel at 2000 but b's step there is incomplete: no budget meets
	// either rule in every group.
	if b, ok := Smallest(steps, false); ok {
		t.Errorf("Smallest(rel) = %d, want none", b)
	}
	if b, ok := Smallest(steps, true); ok {
		t.Errorf("Smallest(noise) = %d, want none (a fails at 1000, b incomplete at 2000)", b)
	}
	var out bytes.Buffer
	print(&out, steps, "val_AP", 0.05)
	if !strings.Contains(out.String(), "none among these budgets") || !strings.Contains(out.String(), "incomplete") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestDoublingErrors(t *testing.T) {
	for _, in := range []string{
		`not json`,
		`{"rows": [{"labels": {"mode": "a"}, "cells": {}}]}`,
		`{"rows": [{"labels": {"mode": "a", "budget": "x"}, "cells": {}}]}`,
		`{"rows": [{"labels": {"mode": "a", "budget": "1"}, "cells": {}}]}`,
	} {
		if _, err := analyze(strings.NewReader(in), "val_AP", "budget", "mode", 0.05); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}
