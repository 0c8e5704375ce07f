-- The web UI: signed-in browsers (found by the SHA-256 of the cookie's secret, never the
-- secret) and sign-ins waiting for the identity provider's answer (taken once).
CREATE TABLE web_sessions (
    id_hash    TEXT PRIMARY KEY,
    person     TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('requester','approver','admin')),
    via        TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

CREATE TABLE web_sign_ins (
    state         TEXT PRIMARY KEY,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX web_sign_ins_age ON web_sign_ins (created_at);
