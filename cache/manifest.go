package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// File is one file of an entry's output.
type File struct {
	Path   string // relative, slash-separated; "." for a Sub of a single file
	Digest string // sha256 hex of the content
	Size   int64
	Exec   bool // any execute bit was set
}

// Manifest lists an entry's files, sorted by Path.
type Manifest []File

// manifestTag starts the canonical encoding; bump it if the encoding changes.
const manifestTag = "dagrun-manifest-v1\n"

// Digest returns the sha256 hex of the manifest's canonical text encoding:
// a format tag, then one line per file in Path order with the quoted path,
// the digest, the size and "x" or "-" for the execute bit. It does not
// depend on the order of m.
func (m Manifest) Digest() string {
	files := slices.Clone(m)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	h.Write([]byte(manifestTag))
	var line []byte
	for _, f := range files {
		line = strconv.AppendQuote(line, f.Path)
		line = append(line, ' ')
		line = append(line, f.Digest...)
		line = append(line, ' ')
		line = strconv.AppendInt(line, f.Size, 10)
		if f.Exec {
			line = append(line, " x\n"...)
		} else {
			line = append(line, " -\n"...)
		}
		h.Write(line)
		line = line[:0]
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Sub returns the files under the folder prefix, with paths made relative to
// it, or, when prefix names a file, that file alone with Path ".". An empty
// prefix or "." returns all of m. It serves `node.output` references.
func (m Manifest) Sub(prefix string) Manifest {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" || prefix == "." {
		return slices.Clone(m)
	}
	var out Manifest
	for _, f := range m {
		switch {
		case f.Path == prefix:
			f.Path = "."
			out = append(out, f)
		case strings.HasPrefix(f.Path, prefix+"/"):
			f.Path = f.Path[len(prefix)+1:]
			out = append(out, f)
		}
	}
	return out
}

// Size returns the total size of the files in m.
func (m Manifest) Size() int64 {
	var n int64
	for _, f := range m {
		n += f.Size
	}
	return n
}
