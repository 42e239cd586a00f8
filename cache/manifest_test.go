package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
)

func TestManifestDigestMatchesHandWrittenEncoding(t *testing.T) {
	m := Manifest{
		{Path: "a.txt", Digest: "aa", Size: 3},
		{Path: "dir/run.sh", Digest: "bb", Size: 10, Exec: true},
		{Path: "sp ace\n", Digest: "cc", Size: 0},
	}
	text := "dagrun-manifest-v1\n" +
		"\"a.txt\" aa 3 -\n" +
		"\"dir/run.sh\" bb 10 x\n" +
		"\"sp ace\\n\" cc 0 -\n"
	sum := sha256.Sum256([]byte(text))
	if got, want := m.Digest(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest() = %s, want %s", got, want)
	}
	empty := sha256.Sum256([]byte("dagrun-manifest-v1\n"))
	if got, want := Manifest(nil).Digest(), hex.EncodeToString(empty[:]); got != want {
		t.Errorf("empty Digest() = %s, want %s", got, want)
	}
}

func TestManifestDigestOrderIndependentAndSensitive(t *testing.T) {
	base := Manifest{
		{Path: "a", Digest: "d1", Size: 1},
		{Path: "b/c", Digest: "d2", Size: 2},
		{Path: "b/d", Digest: "d3", Size: 3},
	}
	rev := slices.Clone(base)
	slices.Reverse(rev)
	if base.Digest() != rev.Digest() {
		t.Errorf("digest depends on order")
	}
	if base.Digest() != base.Digest() {
		t.Errorf("digest not stable")
	}
	if rev[0].Path != "b/d" {
		t.Errorf("Digest sorted its receiver in place")
	}
	tests := []struct {
		name string
		edit func(m Manifest)
	}{
		{"path", func(m Manifest) { m[0].Path = "a2" }},
		{"digest", func(m Manifest) { m[1].Digest = "dx" }},
		{"size", func(m Manifest) { m[2].Size = 4 }},
		{"exec", func(m Manifest) { m[0].Exec = true }},
		// Moving text between fields must change the digest.
		{"field boundary", func(m Manifest) { m[0].Path, m[0].Digest = "a d1", "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := slices.Clone(base)
			tt.edit(m)
			if m.Digest() == base.Digest() {
				t.Errorf("changing the %s did not change the digest", tt.name)
			}
		})
	}
}

func TestManifestSub(t *testing.T) {
	m := Manifest{
		{Path: "model/w.npy", Digest: "1", Size: 1},
		{Path: "model/x/b.npy", Digest: "2", Size: 2},
		{Path: "modelx", Digest: "3", Size: 3},
		{Path: "metrics.json", Digest: "4", Size: 4},
	}
	tests := []struct {
		prefix string
		want   Manifest
	}{
		{"model", Manifest{{Path: "w.npy", Digest: "1", Size: 1}, {Path: "x/b.npy", Digest: "2", Size: 2}}},
		{"model/", Manifest{{Path: "w.npy", Digest: "1", Size: 1}, {Path: "x/b.npy", Digest: "2", Size: 2}}},
		{"model/x", Manifest{{Path: "b.npy", Digest: "2", Size: 2}}},
		{"metrics.json", Manifest{{Path: ".", Digest: "4", Size: 4}}},
		{"modelx", Manifest{{Path: ".", Digest: "3", Size: 3}}},
		{"nothing", nil},
		{"mod", nil},
		{"", m},
	}
	for _, tt := range tests {
		if got := m.Sub(tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("Sub(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
	if m[0].Path != "model/w.npy" {
		t.Errorf("Sub modified its receiver")
	}
}
