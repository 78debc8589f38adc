-- 0030: the notification table becomes a real outbox. The publish activity only inserts rows (one per
-- notice key, so a retried or replayed publish adds nothing); a dispatcher in the worker sends the due
-- rows. A row is leased before its send so that two workers never send it at once, and a worker killed
-- mid-send leaves a lease that expires, after which the row is sent again.
--   pending:   delivered_at IS NULL AND failed_at IS NULL; due when next_attempt_at <= now()
--   delivered: delivered_at set (the channel accepted it)
--   failed:    failed_at set (a permanent error such as an invalid address or a webhook 4xx)

ALTER TABLE notifications
    ADD COLUMN event_id        text,
    ADD COLUMN notice          jsonb,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN lease_until     timestamptz,
    ADD COLUMN held_until      timestamptz,   -- set when quiet hours deferred the send
    ADD COLUMN sent_via        text,          -- the channel actually used (a preference may differ)
    ADD COLUMN failed_at       timestamptz;

CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX notifications_program ON notifications (program_id, failed_at);
