package cache

import (
	"database/sql"
	"errors"
)

// stmts are the statements of the hot path (one lookup per node of every
// run and plan), prepared once per Cache instead of once per call.
type stmts struct {
	load, metrics, fileDigest *sql.Stmt
}

const (
	loadSQL = `SELECT e.key, e.digest, e.kind, e.version, e.params, e.inputs, e.extra,
			e.duration_ns, IFNULL(e.log_digest, ''), e.created_ns,
			lb.size, lb.mtime_ns, lb.inode,
			m.path, m.digest, m.size, m.exec, b.size, b.mtime_ns, b.inode
		FROM entries e
		LEFT JOIN blobs lb ON lb.digest = e.log_digest
		LEFT JOIN manifests m ON m.key = e.key
		LEFT JOIN blobs b ON b.digest = m.digest
		WHERE e.key = ? ORDER BY m.path`
	metricsSQL  = `SELECT name, value FROM metrics WHERE key = ?`
	loadManySQL = `SELECT e.key, e.digest, e.kind, e.version, e.params, e.inputs, e.extra,
			e.duration_ns, IFNULL(e.log_digest, ''), e.created_ns,
			lb.size, lb.mtime_ns, lb.inode,
			m.path, m.digest, m.size, m.exec, b.size, b.mtime_ns, b.inode
		FROM entries e
		LEFT JOIN blobs lb ON lb.digest = e.log_digest
		LEFT JOIN manifests m ON m.key = e.key
		LEFT JOIN blobs b ON b.digest = m.digest
		WHERE e.key IN (SELECT value FROM json_each(?)) ORDER BY e.key, m.path`
	metricsManySQL = `SELECT key, name, value FROM metrics WHERE key IN (SELECT value FROM json_each(?))`
	fileDigestSQL  = `SELECT size, mtime_ns, inode, ctime_ns, digest, hashed_ns FROM file_digests WHERE path = ?`
)

func (c *Cache) prepareStmts() error {
	var err error
	if c.stmts.load, err = c.db.Prepare(loadSQL); err != nil {
		return err
	}
	if c.stmts.metrics, err = c.db.Prepare(metricsSQL); err != nil {
		return err
	}
	c.stmts.fileDigest, err = c.db.Prepare(fileDigestSQL)
	return err
}

func (c *Cache) closeStmts() error {
	var errs []error
	for _, s := range []*sql.Stmt{c.stmts.load, c.stmts.metrics, c.stmts.fileDigest} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
