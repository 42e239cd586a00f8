package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestValidateGolden runs `dagrun validate` on each testdata/validate/*.txtar
// archive (spec files, an optional `args` file) and compares the exit code
// and stderr with the archive's `want` file.
func TestValidateGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/validate/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			args := []string{"validate", "spec.yaml"}
			wantIdx := -1
			for i, f := range ar.Files {
				switch f.Name {
				case "want":
					wantIdx = i
				case "args":
					args = strings.Fields(string(f.Data))
				default:
					write(t, filepath.Join(dir, f.Name), string(f.Data))
				}
			}
			wd, _ := os.Getwd()
			if err := os.Chdir(dir); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), args, &out, &errb)
			os.Chdir(wd)
			got := fmt.Sprintf("exit %d\n%s", code, errb.String())
			if *update {
				if wantIdx < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "want"})
					wantIdx = len(ar.Files) - 1
				}
				ar.Files[wantIdx].Data = []byte(got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if wantIdx < 0 {
				t.Fatal("no want file; run go test -update")
			}
			if want := string(ar.Files[wantIdx].Data); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
