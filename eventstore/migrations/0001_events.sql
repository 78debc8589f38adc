-- 0001: the append-only event log.
--
-- No `streams` table: writers serialise per stream with a transaction-scoped advisory lock on
-- hashtextextended(stream_id, 0) (see 0002). That lock exists even for a stream that has no row yet,
-- which `SELECT ... FOR UPDATE` on a streams row cannot offer without an upsert first, and a stream's
-- version is max(version), read from the (stream_id, version) index in a single backward index step.
-- A streams row would add a second write and a hot, bloating UPDATE to every append and give nothing
-- that the lock and the index do not already give.

CREATE TABLE events (
    position       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       uuid        NOT NULL,
    stream_id      text        NOT NULL CHECK (stream_id <> ''),
    version        integer     NOT NULL CHECK (version >= 1),
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    payload        jsonb       NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    -- Also the index for reading a stream (WHERE stream_id = $1 AND version >= $2 ORDER BY version)
    -- and for a stream's current version (max(version)); a separate index would only duplicate it.
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);

COMMENT ON TABLE events IS 'Append-only event log: UPDATE, DELETE and TRUNCATE are refused by trigger.';

-- Statement-level, so that even an UPDATE or DELETE matching no row is refused (a mistake is a
-- mistake whether or not it hit data), and so that INSERT ... ON CONFLICT DO UPDATE and MERGE with
-- UPDATE/DELETE actions are refused too. This guards against mistakes, not against the table's owner,
-- who can disable triggers: production roles should also lack UPDATE/DELETE/TRUNCATE privileges.
CREATE FUNCTION events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP
        USING HINT = 'Record a compensating event instead of changing or removing history.';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
