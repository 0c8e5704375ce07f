-- The audit log is append-only: TRUNCATE (which row triggers do not see) is refused too.
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION aws_jit_audit_append_only();
