package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// badBlob is a blob file found unusable: missing, corrupt, or not a
// regular file.
type badBlob struct {
	digest string
	msg    string
	// inode of a corrupt regular file, which evict removes unless a Commit
	// replaced it meanwhile; 0 when the file is missing or not regular.
	inode uint64
	// irregular: something else than a regular file sits at the blob's
	// path (a folder, a FIFO, a symlink); evict moves it to quarantine.
	irregular bool
}

// Dropped is an entry that was evicted, and why.
type Dropped struct {
	Key string
	Why string
	// Downstream is set for an entry evicted only because it was computed,
	// by a dagrun that did not check its inputs' content, from the output
	// of another evicted entry.
	Downstream bool
}

// evict drops, in one write transaction, every entry that holds one of
// bads' blobs in its manifest or as its log, the entries named in keys
// (with the reason given), and, transitively, every entry committed without
// checked inputs (inputs_checked = 0) whose recorded inputs name the output
// of a dropped entry or a part of it: such an entry may have been computed
// from the bad bytes. Entries committed with checked inputs are kept: their
// inputs were hashed while they were copied, so they were computed from
// the bytes their keys name.
//
// Then, under the write lock, it removes each corrupt blob file (unless a
// Commit replaced it meanwhile) and moves anything at a blob path that is
// not a regular file to quarantine, so that the recomputed entry's Commit
// places a good file.
func (c *Cache) evict(ctx context.Context, keys map[string]string, bads []badBlob) ([]Dropped, error) {
	var out []Dropped
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		why := map[string]Dropped{}
		var queue []string
		add := func(d Dropped) {
			if _, ok := why[d.Key]; ok {
				return
			}
			why[d.Key] = d
			queue = append(queue, d.Key)
		}
		// Under the write lock, a bad blob that a Commit has replaced
		// meanwhile (a good file, vouched for by its row) is bad no more:
		// its holders, the fresh entry among them, stay.
		live := bads[:0:0]
		for _, b := range bads {
			if !c.replaced(ctx, tx, b) {
				live = append(live, b)
			}
		}
		bads = live
		for _, b := range bads {
			holders, err := column[string](ctx, tx, `SELECT key FROM manifests WHERE digest = ?1
				UNION SELECT key FROM entries WHERE log_digest = ?1 ORDER BY 1`, b.digest)
			if err != nil {
				return err
			}
			for _, k := range holders {
				add(Dropped{Key: k, Why: fmt.Sprintf("blob %s: %s", b.digest, b.msg)})
			}
		}
		sortedKeys := make([]string, 0, len(keys))
		for k := range keys {
			sortedKeys = append(sortedKeys, k)
		}
		sort.Strings(sortedKeys)
		for _, k := range sortedKeys {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM entries WHERE key = ?`, k).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				add(Dropped{Key: k, Why: keys[k]})
			}
		}
		if len(queue) > 0 {
			consumers, err := uncheckedConsumers(ctx, tx)
			if err != nil {
				return err
			}
			for i := 0; i < len(queue); i++ {
				k := queue[i]
				ds, err := outputDigests(ctx, tx, k)
				if err != nil {
					return err
				}
				for _, d := range ds {
					for _, down := range consumers[d] {
						add(Dropped{Key: down, Downstream: true,
							Why: fmt.Sprintf("computed from the output of evicted entry %s by a dagrun that did not check its inputs", short12(k))})
					}
				}
			}
		}
		for _, k := range queue {
			if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE key = ?`, k); err != nil {
				return err
			}
			out = append(out, why[k])
		}
		for _, b := range bads {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM manifests WHERE digest = ?1)
				+ (SELECT count(*) FROM entries WHERE log_digest = ?1)`, b.digest).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE digest = ?`, b.digest); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evict: %w", err)
	}
	for _, d := range out {
		c.log.Warn("cache: evicted entry; the next run recomputes it", "key", d.Key, "why", d.Why)
	}
	if len(bads) == 0 {
		return out, nil
	}
	// Files go under the write lock, so that no Commit places or registers
	// a good file between the check and the removal.
	err = c.writeTx(ctx, func(*sql.Tx) error {
		for _, b := range bads {
			p := c.BlobPath(b.digest)
			st, err := statFile(p)
			switch {
			case b.irregular && errors.Is(err, errNotRegular):
				if _, err := c.quarantine(p); err != nil {
					return err
				}
			case err == nil && b.inode != 0 && st.inode == b.inode:
				if err := os.Remove(p); err != nil && !isMissing(err) {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("remove bad blob files: %w", err)
	}
	return out, nil
}

// replaced reports whether the file at b's blob path is, by now, a regular
// file other than the bad one whose stat its blobs row records: a Commit
// put a good blob in place after b was found bad.
func (c *Cache) replaced(ctx context.Context, tx *sql.Tx, b badBlob) bool {
	st, err := statFile(c.BlobPath(b.digest))
	if err != nil || (b.inode != 0 && st.inode == b.inode) {
		return false
	}
	var row blobStat
	err = tx.QueryRowContext(ctx, `SELECT size, mtime_ns, inode FROM blobs WHERE digest = ?`, b.digest).
		Scan(&row.size, &row.mtime, &row.inode)
	return err == nil && row == st
}

// uncheckedConsumers maps each digest named in the recorded inputs of an
// entry committed without checked inputs to those entries' keys. The
// inputs are opaque to the cache: any run of 64 lowercase hex digits in
// them is taken for a digest, which at worst evicts an entry too many.
func uncheckedConsumers(ctx context.Context, tx *sql.Tx) (map[string][]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT key, inputs FROM entries WHERE inputs_checked = 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var key, inputs string
		if err := rows.Scan(&key, &inputs); err != nil {
			return nil, err
		}
		for _, d := range hexRuns(inputs) {
			out[d] = append(out[d], key)
		}
	}
	return out, rows.Err()
}

// hexRuns returns the maximal runs of exactly 64 lowercase hex digits in s.
func hexRuns(s string) []string {
	var out []string
	isHex := func(b byte) bool { return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' }
	for i := 0; i < len(s); {
		if !isHex(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isHex(s[j]) {
			j++
		}
		if j-i == 64 {
			out = append(out, s[i:j])
		}
		i = j
	}
	return out
}

// outputDigests returns the digests a downstream key can hold for the
// output of entry key: that of its whole manifest, and of every part a
// `node.output` reference can select (Manifest.Sub of each file and each
// folder).
func outputDigests(ctx context.Context, tx *sql.Tx, key string) ([]string, error) {
	var whole string
	if err := tx.QueryRowContext(ctx, `SELECT digest FROM entries WHERE key = ?`, key).Scan(&whole); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT path, digest, size, exec FROM manifests WHERE key = ? ORDER BY path`, key)
	if err != nil {
		return nil, err
	}
	var m Manifest
	for rows.Next() {
		var f File
		if err := rows.Scan(&f.Path, &f.Digest, &f.Size, &f.Exec); err != nil {
			rows.Close()
			return nil, err
		}
		m = append(m, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return partDigests(m, whole), nil
}

// partDigests returns whole and the digest of m.Sub(p) for every file path
// p of m and every folder above one. m is sorted by Path, so the files
// under a folder are one contiguous run of it.
func partDigests(m Manifest, whole string) []string {
	out := []string{whole}
	seen := map[string]bool{}
	for _, f := range m {
		for p := f.Path; p != "" && !seen[p]; {
			seen[p] = true
			out = append(out, subSorted(m, p).Digest())
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	return out
}

// subSorted is m.Sub(prefix) for a manifest sorted by Path, found by binary
// search instead of a scan.
func subSorted(m Manifest, prefix string) Manifest {
	i := sort.Search(len(m), func(i int) bool { return m[i].Path >= prefix })
	if i < len(m) && m[i].Path == prefix {
		f := m[i]
		f.Path = "."
		return Manifest{f}
	}
	dir := prefix + "/"
	i = sort.Search(len(m), func(i int) bool { return m[i].Path >= dir })
	var out Manifest
	for ; i < len(m) && strings.HasPrefix(m[i].Path, dir); i++ {
		f := m[i]
		f.Path = f.Path[len(dir):]
		out = append(out, f)
	}
	return out
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
