-- Grants, the append-only audit log, target locks and small caches.
-- Times are Unix milliseconds (UTC). Never edit a migration: add a new one.

CREATE TABLE grants (
    id                 TEXT PRIMARY KEY,
    access             TEXT NOT NULL,
    user_email         TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    target_key         TEXT NOT NULL,
    account_id         TEXT,
    permission_set     TEXT,
    principal_id       TEXT,
    instance_arn       TEXT,
    permission_set_arn TEXT,
    status             TEXT NOT NULL CHECK (status IN ('pending','provisioning','active','revoking','revoked','expired','failed')),
    end_cause          TEXT CHECK (end_cause IN ('requested','expired','undo')),
    origin             TEXT NOT NULL CHECK (origin IN ('unknown','created','preexisting')),
    reason             TEXT,
    requested_at       INTEGER NOT NULL,
    granted_at         INTEGER,
    expires_at         INTEGER NOT NULL,
    ended_at           INTEGER,
    last_error         TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER,
    version            INTEGER NOT NULL
) STRICT;

CREATE INDEX grants_live_by_expiry ON grants (expires_at) WHERE status = 'active';
CREATE INDEX grants_unfinished ON grants (status) WHERE status IN ('provisioning', 'revoking');
CREATE INDEX grants_by_target ON grants (target_key, status);
CREATE INDEX grants_by_user ON grants (user_email, requested_at);

CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    time      INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    grant_id  TEXT NOT NULL,
    access    TEXT NOT NULL,
    user_email TEXT NOT NULL,
    detail    TEXT NOT NULL
) STRICT;

CREATE INDEX audit_by_grant ON audit_events (grant_id);
CREATE INDEX audit_by_user ON audit_events (user_email);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

CREATE TABLE target_locks (
    target_key  TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until INTEGER NOT NULL
) STRICT;

CREATE TABLE cache (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
