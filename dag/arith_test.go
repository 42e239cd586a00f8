package dag

import (
	"runtime"
	"testing"
)

// The reference arithmetic (amd64 held below GOAMD64=v3) leaves keys as
// they were before the arithmetic entered them, so no existing cache or
// remote is invalidated; any other architecture's name changes every key.
func TestKeyArith(t *testing.T) {
	p := KeyParts{Kind: "train", Version: 7, Params: `{"seed":1}`,
		Files:  []NamedValue{{Name: "f", Digest: "aa"}},
		Inputs: []InputPart{{Slot: "train", Index: 0, Digest: "bb", From: "x"}}}
	// The key of these parts before Arith existed (at fe36287).
	const golden = "fc29cf30f1f6d9a8ca30e56fdc041b2b8986c5a33de91f092f4da0b60f9672dd"
	if got := p.Key(); got != golden {
		t.Fatalf("reference key %s, want %s", got, golden)
	}
	if a := arithOf("amd64"); a != "" {
		t.Fatalf("arithOf(amd64) = %q, want the reference", a)
	}
	seen := map[string]string{golden: "amd64"}
	for _, goarch := range []string{"arm64", "riscv64", "ppc64le", "s390x", "386"} {
		q := p
		q.Arith = arithOf(goarch)
		if q.Arith == "" {
			t.Fatalf("arithOf(%s) is the reference", goarch)
		}
		k := q.Key()
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s share key %s", goarch, other, k)
		}
		seen[k] = goarch
	}
	if arith != arithOf(runtime.GOARCH) {
		t.Errorf("this build's arith %q, want arithOf(%s)", arith, runtime.GOARCH)
	}
}
