-- 0020: which transaction wrote each event, so that readers tailing the log miss nothing.
--
-- Positions come from an identity sequence at INSERT time, but transactions commit in any order: a
-- reader at the head can see position N+1 committed while N is still in flight, and a position
-- checkpoint would then step past N for good. With the writer's transaction id on every row, a
-- reader can instead remember the *snapshot* it read with and later ask for exactly the rows that
-- were not visible in it (pg_visible_in_snapshot): every committed transaction becomes visible in
-- exactly one interval between two snapshots, whatever order positions were taken in.
-- (eventstore/projections.py is that reader.)
--
-- xid8 is the 64-bit, epoch-extended transaction id: no wraparound. pg_current_xact_id() assigns
-- the writer an id if it had none; it is evaluated per row but is the same for the whole
-- transaction (subtransactions included: visibility follows the top-level transaction).
--
-- Added without a default first, then the default set: neither step rewrites the table. Rows written
-- before this migration keep NULL; ALTER TABLE waits for in-flight appends, so every NULL row was
-- committed before any snapshot a reader could have remembered, and readers treat NULL as "old".

ALTER TABLE events ADD COLUMN xact_id xid8;
ALTER TABLE events ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id();

COMMENT ON COLUMN events.xact_id IS
    'Transaction that appended the row (NULL: before migration 0020); readers use it with pg_snapshot.';

-- The reader's query is "xact_id >= the remembered snapshot's xmin" (the recent rows), so it needs an
-- index. BRIN would be cheaper to maintain but has no operator class for xid8; a btree on a key
-- that only grows is appended at its right edge (like the position key) and deduplicates the ids of
-- a batch (one per transaction), so it adds little to an append. bench/eventstore.py measures it.
CREATE INDEX events_xact_id ON events (xact_id);
