-- Grants, the append-only audit log, target locks and small caches: the same shape as the
-- SQLite schema after its migration 0004, so both backends share their queries.
-- Times are Unix milliseconds (UTC). Never edit a migration: add a new one.

CREATE TABLE grants (
    id                       TEXT PRIMARY KEY,
    access                   TEXT NOT NULL,
    user_email               TEXT NOT NULL,
    requested_by             TEXT NOT NULL,
    target_key               TEXT NOT NULL,
    account_id               TEXT,
    permission_set           TEXT,
    principal_id             TEXT,
    instance_arn             TEXT,
    permission_set_arn       TEXT,
    status                   TEXT NOT NULL CHECK (status IN ('pending','provisioning','active','revoking','revoked','expired','failed')),
    end_cause                TEXT CHECK (end_cause IN ('requested','expired','undo')),
    origin                   TEXT NOT NULL CHECK (origin IN ('unknown','created','preexisting')),
    reason                   TEXT,
    requested_at             BIGINT NOT NULL,
    granted_at               BIGINT,
    expires_at               BIGINT NOT NULL,
    ended_at                 BIGINT,
    last_error               TEXT,
    attempts                 BIGINT NOT NULL DEFAULT 0,
    next_attempt_at          BIGINT,
    version                  BIGINT NOT NULL,
    iam_user                 TEXT,
    policy_arn               TEXT,
    policy_generated         BOOLEAN NOT NULL DEFAULT FALSE,
    permission_set_generated BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX grants_live_by_expiry ON grants (expires_at) WHERE status = 'active';
CREATE INDEX grants_unfinished ON grants (status) WHERE status IN ('provisioning', 'revoking');
CREATE INDEX grants_by_target ON grants (target_key, status);
CREATE INDEX grants_by_user ON grants (user_email, requested_at);

CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    time       BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    grant_id   TEXT NOT NULL,
    access     TEXT NOT NULL,
    user_email TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

CREATE INDEX audit_by_grant ON audit_events (grant_id);
CREATE INDEX audit_by_user ON audit_events (user_email);

CREATE FUNCTION aws_jit_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$body$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION aws_jit_audit_append_only();

CREATE TABLE target_locks (
    target_key  TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);

CREATE TABLE cache (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
