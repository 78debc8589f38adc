-- 0022: the common append in one round trip.
--
-- An append used to be four round trips: BEGIN, lock the streams and read their versions, INSERT,
-- COMMIT. In the common case (every stream is at the version the writer expected: no retry, no
-- conflict) this function does the same work inside ONE statement, run outside an explicit
-- transaction, so the statement is its own transaction: the advisory stream locks are held until it
-- commits, exactly as before. The lock function is called first and its own last statement reads
-- the versions with a snapshot taken after the locks were granted (see 0002), so a writer that
-- waited sees the append it waited for.
--
-- When any stream is not at the expected version, nothing is written and the function returns each
-- stream's current version: the client then takes the slow path (an explicit transaction that
-- compares already-recorded events for an idempotent retry, or raises a typed conflict).

CREATE FUNCTION eventstore_append(
    p_stream_ids      text[],
    p_expected        integer[],
    p_event_ids       uuid[],
    p_streams         text[],
    p_versions        integer[],
    p_types           text[],
    p_schema_versions integer[],
    p_payloads        text[],
    p_occurred_at     timestamptz[]
)
RETURNS TABLE (mismatched_stream_id text, current_version integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_current integer[];
BEGIN
    SELECT array_agg(l.current_version ORDER BY o.ord) INTO v_current
    FROM unnest(p_stream_ids) WITH ORDINALITY AS o(s, ord)
    JOIN eventstore_lock_streams(p_stream_ids) AS l ON l.locked_stream_id = o.s;

    IF v_current IS DISTINCT FROM p_expected THEN
        RETURN QUERY SELECT x.s, x.c FROM unnest(p_stream_ids, v_current) AS x(s, c);
        RETURN;
    END IF;

    -- unnest keeps array order and the identity follows the ORDER BY, as in the client's INSERT
    INSERT INTO events (event_id, stream_id, version, type, schema_version, payload, occurred_at)
    SELECT n.event_id, n.stream_id, n.version, n.type, n.schema_version, n.payload::jsonb, n.occurred_at
    FROM unnest(p_event_ids, p_streams, p_versions, p_types, p_schema_versions, p_payloads, p_occurred_at)
        WITH ORDINALITY AS n(event_id, stream_id, version, type, schema_version, payload, occurred_at, ord)
    ORDER BY n.ord;
END;
$$;
