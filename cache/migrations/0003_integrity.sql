-- dagrun cache index, schema 3.
--
-- entries.inputs_checked: 1 when the dagrun that computed the entry checked
-- the content of every input it materialized against its digest (hashed
-- while copying). Entries of older dagruns (0) may have been computed from
-- rotten bytes: when an entry is evicted as corrupt, the unchecked entries
-- whose recorded inputs name its output go with it.
ALTER TABLE entries ADD COLUMN inputs_checked INTEGER NOT NULL DEFAULT 0;

-- leases.pgid, pgid_start: the process group a lease holder's node started
-- (and its leader's start time), so that whoever takes over the lease of a
-- holder that died can end that group first instead of running the node
-- again beside its orphans.
ALTER TABLE leases ADD COLUMN pgid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN pgid_start INTEGER NOT NULL DEFAULT 0;
