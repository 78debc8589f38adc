-- 0010: the notification outbox. One row per notice key (derived from the event id and recipient),
-- so a retried or replayed delivery finds the row and does not send the same notice twice.
-- Unlike events, rows here change: delivered_at is set once the channel accepted the notice.

CREATE TABLE notifications (
    key            text        PRIMARY KEY,
    program_id     text        NOT NULL,
    pairing_id     text        NOT NULL,
    recipient      text        NOT NULL,
    participant_id text,
    template       text        NOT NULL,
    channel        text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at   timestamptz,
    attempts       integer     NOT NULL DEFAULT 0,
    last_error     text
);

CREATE INDEX notifications_pairing ON notifications (pairing_id, created_at);
