-- dagrun cache index, schema 4.
--
-- counters remote_hits and remote_bytes: entries imported from a remote
-- tier (Import) and the bytes of their blobs, shown by `dagrun cache stats`.
INSERT INTO counters (name, value) VALUES ('remote_hits', 0), ('remote_bytes', 0);
