-- dagrun cache index, schema 2. A run of 10,000 cached nodes inserts 10,000
-- run_nodes rows; an index on their random-looking keys made each run
-- rewrite thousands of index pages. Queries by key now aggregate run_nodes
-- once (GROUP BY) instead.
DROP INDEX run_nodes_key;
