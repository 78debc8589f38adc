-- 0002: lock streams and read their versions in one round trip.
--
-- Writers call this first in a READ COMMITTED transaction. It takes a transaction-scoped advisory
-- lock per stream (in key order, so that two multi-stream writers cannot deadlock) and only then
-- reads each stream's version. Inside a VOLATILE plpgsql function each statement takes a new
-- snapshot, so the read sees every append that committed while we waited for the lock; doing the
-- lock and the read in ONE plain SQL statement would read with a snapshot taken before the wait.

CREATE FUNCTION eventstore_lock_streams(p_stream_ids text[])
RETURNS TABLE (locked_stream_id text, current_version integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k bigint;
BEGIN
    FOR k IN
        SELECT DISTINCT hashtextextended(s, 0) AS key FROM unnest(p_stream_ids) AS s ORDER BY key
    LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;

    RETURN QUERY
        SELECT s, COALESCE((SELECT max(e.version) FROM events AS e WHERE e.stream_id = s), 0)
        FROM unnest(p_stream_ids) AS s;
END;
$$;
