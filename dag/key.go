package dag

// Everything that enters a cache key lives in this file: which parts there
// are, how a node's parts are computed, the canonical JSON its params enter
// as, how the parts are hashed into the key, and how they are stored with a
// cache entry and decoded back for `plan` and `plan --explain`.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"

	"dagrun/cache"
	"dagrun/nodes"
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
	Arith   string       `json:"arith,omitempty"`  // arithmetic, "" for the reference (see arithOf)
}

// arith is this binary's floating-point arithmetic as it enters keys.
var arith = arithOf(runtime.GOARCH)

// Arith returns this binary's arithmetic as it enters keys ("" for the
// reference, amd64): a Slurm job checks that it computes with the
// arithmetic its driver keyed.
func Arith() string { return arith }

// arithOf names the arithmetic of a build for GOARCH goarch, "" for the
// reference: amd64, whose builds dagrun holds below GOAMD64=v3
// (cmd/dagrun's checkBuild), so no multiply-add is fused outside lib/nn's
// kernels, which give the pure-Go kernel's bits. Every other architecture
// may fuse a*b+c anywhere the code does not round explicitly (arm64's
// compiler does), so its outputs can differ in their last bits under the
// same inputs: its name enters every key, and a cache or remote shared
// between architectures never hands one's output to the other.
func arithOf(goarch string) string {
	if goarch == "amd64" {
		return ""
	}
	return goarch
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
	if p.Arith != "" { // absent for the reference, so its keys are unchanged
		field("arith")
		field(p.Arith)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalJSON encodes decoded params with sorted object keys, whatever
// their Go type, numbers kept as encoding/json writes them ("null" for a
// kind without params). Bind computes it once per node; it is the params
// part of the key.
func canonicalJSON(v any) (string, error) {
	if v == nil {
		return "null", nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return "", err
	}
	out, err := json.Marshal(generic)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// staticParts returns the parts of n known before any input has run: its
// kind, version and params.
func staticParts(n *Node) *KeyParts {
	return &KeyParts{Kind: n.Kind.Name, Version: n.Kind.Version, Params: n.ParamsJSON, Arith: arith}
}

// Parts computes the key parts of n from the results of its inputs.
func Parts(ctx context.Context, n *Node, h nodes.FileHasher, input func(*Node) *cache.Entry) (*KeyParts, error) {
	p := staticParts(n)
	if fp, ok := n.Impl.(nodes.Fingerprinter); ok {
		files, err := fp.Fingerprint(ctx, withContext(ctx, h))
		if err != nil {
			return nil, err
		}
		p.Files = sortedFiles(files)
	}
	for _, e := range n.Inputs {
		ent := input(e.From)
		if ent == nil {
			return nil, errUnknownInput
		}
		d, err := outputDigest(ent, e)
		if err != nil {
			return nil, err
		}
		p.Inputs = append(p.Inputs, InputPart{Slot: e.Slot, Index: e.Index, Digest: d, From: e.From.Name()})
	}
	return p, nil
}

var errUnknownInput = errors.New("input not computed yet")

// contextHasher is a FileHasher that can stop hashing when a context ends
// (the cache is one).
type contextHasher interface {
	FileDigestContext(ctx context.Context, path string) (string, error)
}

type boundHasher struct {
	ctx context.Context
	h   contextHasher
}

func (b boundHasher) FileDigest(path string) (string, error) {
	return b.h.FileDigestContext(b.ctx, path)
}

// withContext binds ctx to h when h can take one, so that a fingerprint's
// hashing (of a 3 GiB dataset, say) stops when the run is cancelled.
func withContext(ctx context.Context, h nodes.FileHasher) nodes.FileHasher {
	if ch, ok := h.(contextHasher); ok {
		return boundHasher{ctx, ch}
	}
	return h
}

// fileMap returns the external file digests of p by name, as the node's
// Fingerprint returned them.
func (p *KeyParts) fileMap() map[string]string {
	if len(p.Files) == 0 {
		return nil
	}
	m := make(map[string]string, len(p.Files))
	for _, f := range p.Files {
		m[f.Name] = f.Digest
	}
	return m
}

// outputDigest is the digest an input slot enters the key with: that of
// the upstream node's whole output, or of the named part of it.
func outputDigest(ent *cache.Entry, e Edge) (string, error) {
	if e.Output == "" {
		return ent.Digest, nil
	}
	sub := ent.Manifest.Sub(e.Output)
	if len(sub) == 0 {
		return "", fmt.Errorf("input %q: node %q wrote no output %q", e.Slot, e.From.Name(), e.Output)
	}
	return sub.Digest(), nil
}

func sortedFiles(m map[string]string) []NamedValue {
	out := make([]NamedValue, 0, len(m))
	for k, v := range m {
		out = append(out, NamedValue{Name: k, Digest: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// record returns the cache record fields that store the parts: kind,
// version, params, and the inputs and files as JSON. PartsOf reads them
// back.
func (p *KeyParts) record() cache.Record {
	// Marshal cannot fail here: the slices hold only strings and ints.
	inputs, _ := json.Marshal(p.Inputs)
	files, _ := json.Marshal(p.Files)
	return cache.Record{Kind: p.Kind, Version: p.Version, Params: p.Params, Inputs: string(inputs), Extra: string(files)}
}

// PartsOf decodes the key parts stored with an entry (see record). A
// stored row that does not decode is an error: an explanation built from
// it would silently leave parts out. The arithmetic is not stored: an
// entry found under a key this binary computed was made with its own.
func PartsOf(r cache.Record) (*KeyParts, error) {
	p := &KeyParts{Kind: r.Kind, Version: r.Version, Params: r.Params, Arith: arith}
	if !json.Valid([]byte(r.Params)) {
		return nil, fmt.Errorf("decode stored params: not JSON: %q", clip(r.Params))
	}
	if err := json.Unmarshal([]byte(r.Inputs), &p.Inputs); err != nil {
		return nil, fmt.Errorf("decode stored inputs: %w", err)
	}
	if err := json.Unmarshal([]byte(r.Extra), &p.Files); err != nil {
		return nil, fmt.Errorf("decode stored files: %w", err)
	}
	return p, nil
}
