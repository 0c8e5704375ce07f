-- Pre-expiry warnings: one row per grant and expiry it was warned of (an extended grant is
-- warned again before its new expiry), written in the same transaction as the message it
-- queues, so that a warning is sent once however many servers look.
CREATE TABLE expiry_warnings (
    grant_id   TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    queued_at  BIGINT NOT NULL,
    PRIMARY KEY (grant_id, expires_at)
);
