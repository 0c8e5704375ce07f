-- Notifications to send (Slack), written in the same transaction as the grant change they
-- announce and delivered by a worker: an access change never waits on Slack.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    grant_id        TEXT NOT NULL,
    recipient_kind  TEXT NOT NULL CHECK (recipient_kind IN ('channel', 'person')),
    recipient       TEXT NOT NULL,
    thread_ts       TEXT,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
