-- HTTP API tokens: only the SHA-256 of each secret is kept.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('requester','approver','admin')),
    user_email  TEXT,
    on_behalf   INTEGER NOT NULL DEFAULT 0,
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
