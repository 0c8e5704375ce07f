-- Requests waiting for approval keep the duration asked for; their expires_at is the
-- approval deadline until they are approved.
ALTER TABLE grants ADD COLUMN requested_seconds BIGINT;
