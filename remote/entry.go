package remote

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"dagrun/cache"
)

// entryFormat tags the remote entry encoding; bump it if the encoding
// changes.
const entryFormat = "dagrun-remote-entry-v1"

// Entry is what the remote stores under entries/KEY: everything a cache
// entry holds except the blobs' bytes, and the signatures over it.
type Entry struct {
	Format        string            `json:"format"`
	Key           string            `json:"key"`
	Manifest      []File            `json:"manifest"`
	Kind          string            `json:"kind"`
	Version       int               `json:"version"`
	Params        string            `json:"params"`
	Inputs        string            `json:"inputs"`
	Extra         string            `json:"extra"`
	DurationNS    int64             `json:"duration_ns"`
	Metrics       map[string]string `json:"metrics"` // strconv 'g' -1, so NaN and ±Inf survive
	InputsChecked bool              `json:"inputs_checked"`
	LogDigest     string            `json:"log_digest,omitempty"`
	LogSize       int64             `json:"log_size,omitempty"`
	Sigs          []Sig             `json:"sigs,omitempty"`
}

// File is one manifest line.
type File struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Exec   bool   `json:"exec,omitempty"`
}

// Sig is one signature: the signing key's name and the ed25519 signature of
// the entry's payload.
type Sig struct {
	Name string `json:"name"`
	Sig  []byte `json:"sig"`
}

// fromCache converts a local entry.
func fromCache(e *cache.Entry) *Entry {
	r := &Entry{Format: entryFormat, Key: e.Key, Kind: e.Record.Kind, Version: e.Record.Version,
		Params: e.Record.Params, Inputs: e.Record.Inputs, Extra: e.Record.Extra,
		DurationNS: int64(e.Record.Duration), InputsChecked: e.Record.InputsChecked,
		LogDigest: e.LogDigest, LogSize: e.LogSize, Metrics: map[string]string{}}
	for _, f := range e.Manifest {
		r.Manifest = append(r.Manifest, File(f))
	}
	for k, v := range e.Record.Metrics {
		r.Metrics[k] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return r
}

// manifest returns the entry's manifest as the cache's type.
func (e *Entry) manifest() cache.Manifest {
	m := make(cache.Manifest, len(e.Manifest))
	for i, f := range e.Manifest {
		m[i] = cache.File(f)
	}
	return m
}

// record returns the entry's record (metrics decoded).
func (e *Entry) record() (cache.Record, error) {
	rec := cache.Record{Kind: e.Kind, Version: e.Version, Params: e.Params, Inputs: e.Inputs, Extra: e.Extra,
		Duration: time.Duration(e.DurationNS), InputsChecked: e.InputsChecked, Metrics: map[string]float64{}}
	for k, s := range e.Metrics {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil && !math.IsInf(v, 0) {
			return rec, fmt.Errorf("metric %q: %v", k, err)
		}
		rec.Metrics[k] = v
	}
	return rec, nil
}

// payload is the canonical bytes a signature covers: the entry's JSON
// without signatures (encoding/json writes struct fields in order and map
// keys sorted, so it is canonical). It covers the key, the manifest, the
// record and the metrics.
func (e *Entry) payload() []byte {
	c := *e
	c.Sigs = nil
	b, err := json.Marshal(&c)
	if err != nil {
		panic(err) // strings, numbers and bools only: cannot fail
	}
	return b
}

// entryName and blobName are the object names.
func entryName(key string) string { return "entries/" + key }
func blobName(d string) string    { return "blobs/" + d[:2] + "/" + d[2:] }
