-- dagrun cache index, schema 1. Times are Unix nanoseconds.

CREATE TABLE blobs (
	digest      TEXT PRIMARY KEY,
	size        INTEGER NOT NULL,
	mtime_ns    INTEGER NOT NULL, -- stat of the object file when placed:
	inode       INTEGER NOT NULL, -- unchanged means trusted without hashing
	last_use_ns INTEGER NOT NULL
) STRICT;

CREATE TABLE entries (
	key         TEXT PRIMARY KEY,
	digest      TEXT NOT NULL, -- Manifest.Digest()
	kind        TEXT NOT NULL,
	version     INTEGER NOT NULL,
	params      TEXT NOT NULL,
	inputs      TEXT NOT NULL,
	extra       TEXT NOT NULL,
	duration_ns INTEGER NOT NULL,
	log_digest  TEXT REFERENCES blobs(digest), -- NULL when the log was empty
	created_ns  INTEGER NOT NULL,
	hits        INTEGER NOT NULL DEFAULT 0,
	last_use_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX entries_log_digest ON entries(log_digest);

CREATE TABLE manifests (
	key    TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
	path   TEXT NOT NULL,
	digest TEXT NOT NULL REFERENCES blobs(digest),
	size   INTEGER NOT NULL,
	exec   INTEGER NOT NULL,
	PRIMARY KEY (key, path)
) STRICT, WITHOUT ROWID;
CREATE INDEX manifests_digest ON manifests(digest);

CREATE TABLE metrics (
	key   TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,
	name  TEXT NOT NULL,
	value REAL, -- NULL stands for NaN, which SQLite cannot store
	PRIMARY KEY (key, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX metrics_name ON metrics(name);

CREATE TABLE runs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	spec       TEXT NOT NULL,
	created_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX runs_spec ON runs(spec, id);

CREATE TABLE run_nodes (
	run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	node        TEXT NOT NULL,
	key         TEXT NOT NULL, -- not a foreign key: failed nodes have no entry, GC drops entries
	digest      TEXT NOT NULL,
	status      TEXT NOT NULL,
	duration_ns INTEGER NOT NULL,
	PRIMARY KEY (run_id, node)
) STRICT, WITHOUT ROWID;
CREATE INDEX run_nodes_key ON run_nodes(key);

CREATE TABLE file_digests (
	path      TEXT PRIMARY KEY, -- absolute
	size      INTEGER NOT NULL,
	mtime_ns  INTEGER NOT NULL,
	inode     INTEGER NOT NULL,
	ctime_ns  INTEGER NOT NULL,
	digest    TEXT NOT NULL,
	hashed_ns INTEGER NOT NULL -- wall clock when hashed, for the racy-mtime check
) STRICT;

CREATE TABLE leases (
	key        TEXT PRIMARY KEY,
	owner      TEXT NOT NULL, -- random token of the holder
	host       TEXT NOT NULL,
	pid        INTEGER NOT NULL,
	pid_start  INTEGER NOT NULL, -- field 22 of /proc/<pid>/stat
	expires_ns INTEGER NOT NULL
) STRICT;

CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;
INSERT INTO counters (name, value) VALUES ('hits', 0), ('misses', 0);
