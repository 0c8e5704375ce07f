-- Audit integrity: each event carries the previous event's hash and its own.
-- Events written before this migration keep empty hashes and come first in the log.
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
