package dag

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
)

// keyFormat versions the key encoding itself; changing it invalidates every
// cache entry at once.
const keyFormat = "dagrun-key-v1"

// KeyParts is everything that enters a node's cache key. It is stored with
// each entry so that `plan` can say which part changed.
type KeyParts struct {
	Kind    string       `json:"kind"`
	Version int          `json:"version"`
	Params  string       `json:"params"`
	Files   []NamedValue `json:"files,omitempty"`  // external file digests, sorted by name
	Inputs  []InputPart  `json:"inputs,omitempty"` // in slot order
}

// NamedValue is a name and a digest.
type NamedValue struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// InputPart is one input's contribution to the key: which slot, and the
// content digest of what was bound to it. The upstream node's name is kept
// for explanations only and does not enter the key.
type InputPart struct {
	Slot   string `json:"slot"`
	Index  int    `json:"index"`
	Digest string `json:"digest"`
	From   string `json:"from,omitempty"`
}

// Key returns the hex SHA-256 of the parts. Every field is length-prefixed
// so that no two different part lists encode alike.
func (p *KeyParts) Key() string {
	h := sha256.New()
	var lenbuf [8]byte
	field := func(s string) {
		binary.LittleEndian.PutUint64(lenbuf[:], uint64(len(s)))
		h.Write(lenbuf[:])
		h.Write([]byte(s))
	}
	field(keyFormat)
	field(p.Kind)
	field(strconv.Itoa(p.Version))
	field(p.Params)
	field(strconv.Itoa(len(p.Files)))
	for _, f := range p.Files {
		field(f.Name)
		field(f.Digest)
	}
	field(strconv.Itoa(len(p.Inputs)))
	for _, in := range p.Inputs {
		field(in.Slot)
		field(strconv.Itoa(in.Index))
		field(in.Digest)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedFiles(m map[string]string) []NamedValue {
	out := make([]NamedValue, 0, len(m))
	for k, v := range m {
		out = append(out, NamedValue{Name: k, Digest: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *KeyParts) inputsJSON() string {
	b, _ := json.Marshal(p.Inputs)
	return string(b)
}

func (p *KeyParts) filesJSON() string {
	b, _ := json.Marshal(p.Files)
	return string(b)
}
