//! The SQL both backends run, written once in PostgreSQL's `$n` placeholder syntax
//! (SQLite gets `?n`), and the builders of the queries whose filters vary.

use aws_jit_app::ports::{AuditQuery, GrantFilter};

use crate::common::millis;

pub(crate) const GRANT_COLUMNS: &str = "id, access, user_email, requested_by, target_key, account_id, \
     permission_set, principal_id, instance_arn, permission_set_arn, status, end_cause, origin, \
     reason, requested_at, granted_at, expires_at, ended_at, last_error, attempts, version, \
     iam_user, policy_arn, policy_generated, permission_set_generated, requested_seconds, target";

pub(crate) const INSERT_GRANT: &str = "INSERT INTO grants (id, access, user_email, requested_by, \
     target_key, account_id, permission_set, principal_id, instance_arn, permission_set_arn, \
     status, end_cause, origin, reason, requested_at, granted_at, expires_at, ended_at, \
     last_error, attempts, version, iam_user, policy_arn, policy_generated, \
     permission_set_generated, requested_seconds, target) VALUES ($1, $2, $3, $4, $5, $6, $7, \
     $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, \
     $26, $27)";

pub(crate) const UPDATE_GRANT: &str = "UPDATE grants SET status = $1, end_cause = $2, \
     origin = $3, granted_at = $4, expires_at = $5, ended_at = $6, last_error = $7, \
     attempts = $8, next_attempt_at = $9, principal_id = $10, permission_set_arn = $11, \
     version = $12, instance_arn = $15, iam_user = $16, policy_arn = $17, \
     policy_generated = $18, permission_set_generated = $19, target = $20 \
     WHERE id = $13 AND version = $14";

/// Takes the target's lock, atomically: inserted when free, taken over only when the lease
/// lapsed or the holder is the same operation. Returns a row only when the lock was taken.
pub(crate) const TAKE_LOCK: &str = "INSERT INTO target_locks (target_key, holder, lease_until) \
     VALUES ($1, $2, $3) ON CONFLICT (target_key) DO UPDATE \
     SET holder = excluded.holder, lease_until = excluded.lease_until \
     WHERE target_locks.holder = excluded.holder OR target_locks.lease_until <= $4 \
     RETURNING holder";

/// Checks (and, on PostgreSQL, row-locks until commit) that the holder still has the lock.
pub(crate) const CONFIRM_LOCK: &str =
    "UPDATE target_locks SET lease_until = lease_until WHERE target_key = $1 AND holder = $2";

pub(crate) const LOCK_HOLDER: &str = "SELECT holder FROM target_locks WHERE target_key = $1";

pub(crate) const RELEASE_LOCK: &str =
    "DELETE FROM target_locks WHERE target_key = $1 AND holder = $2";

pub(crate) const LAST_EVENT: &str = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1";

pub(crate) const INSERT_EVENT: &str = "INSERT INTO audit_events (seq, time, actor, action, \
     grant_id, access, user_email, detail, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(crate) const EVENT_COLUMNS: &str =
    "seq, time, actor, action, grant_id, access, user_email, detail, prev_hash, hash";

/// Due work: active grants past expiry, revocations due for a retry, and unfinished grants
/// whose lock has lapsed. `$1` is now, `$2` the limit.
pub(crate) const DUE: &str = "SELECT g.id, g.access, g.user_email, g.requested_by, \
     g.target_key, g.account_id, g.permission_set, g.principal_id, g.instance_arn, \
     g.permission_set_arn, g.status, g.end_cause, g.origin, g.reason, g.requested_at, \
     g.granted_at, g.expires_at, g.ended_at, g.last_error, g.attempts, g.version, g.iam_user, \
     g.policy_arn, g.policy_generated, g.permission_set_generated, g.requested_seconds, g.target \
     FROM grants g \
     LEFT JOIN target_locks l ON l.target_key = g.target_key AND l.lease_until > $1 \
     WHERE ((g.status IN ('active', 'pending') AND g.expires_at <= $1) \
         OR (g.status = 'revoking' AND COALESCE(g.next_attempt_at, 0) <= $1) \
         OR g.status = 'provisioning') \
       AND l.holder IS NULL \
     ORDER BY g.expires_at LIMIT $2";

/// When [`DUE`] will next return something: the earliest expiry of an active grant, and
/// for unfinished grants the later of their next attempt (revoking) and their lock's lapse.
pub(crate) const NEXT_DUE: &str = "SELECT MIN(t) FROM ( \
       SELECT MIN(expires_at) AS t FROM grants WHERE status IN ('active', 'pending') \
       UNION ALL \
       SELECT MIN(CASE WHEN l.lease_until > u.t THEN l.lease_until ELSE u.t END) FROM ( \
           SELECT target_key, \
                  CASE WHEN status = 'revoking' THEN COALESCE(next_attempt_at, 0) ELSE 0 END AS t \
           FROM grants WHERE status IN ('provisioning', 'revoking')) AS u \
         LEFT JOIN target_locks l ON l.target_key = u.target_key) AS due";

pub(crate) const COUNT_BY_STATUS: &str = "SELECT status, COUNT(*) FROM grants GROUP BY status";

pub(crate) const CACHE_GET: &str = "SELECT value FROM cache WHERE key = $1";

pub(crate) const CACHE_GET_FRESH: &str =
    "SELECT value FROM cache WHERE key = $1 AND updated_at >= $2";

pub(crate) const CACHE_PUT: &str = "INSERT INTO cache (key, value, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

pub(crate) const CACHE_DELETE: &str = "DELETE FROM cache WHERE key = $1";

pub(crate) const TOKEN_COLUMNS: &str =
    "id, name, role, user_email, on_behalf, secret_hash, created_at, revoked_at";

pub(crate) const INSERT_TOKEN: &str = "INSERT INTO api_tokens (id, name, role, user_email, \
     on_behalf, secret_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)";

pub(crate) const REVOKE_TOKEN: &str =
    "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL";

pub(crate) const INSERT_MESSAGE: &str = "INSERT INTO outbox (grant_id, recipient_kind, \
     recipient, thread_ts, body, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)";

/// Claims due messages; the backend appends its row-locking clause to the inner select.
pub(crate) const CLAIM_MESSAGES: &str = "UPDATE outbox SET next_attempt_at = $1 WHERE id IN ( \
     SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL \
     AND next_attempt_at <= $2 ORDER BY id LIMIT $3{SKIP_LOCKED}) \
     RETURNING id, grant_id, recipient_kind, recipient, thread_ts, body, attempts";

pub(crate) const MESSAGE_SENT: &str = "UPDATE outbox SET sent_at = $1 WHERE id = $2";

pub(crate) const MESSAGE_RETRY: &str = "UPDATE outbox SET attempts = attempts + 1, \
     last_error = $1, next_attempt_at = $2 WHERE id = $3";

pub(crate) const MESSAGE_GIVEN_UP: &str = "UPDATE outbox SET attempts = attempts + 1, \
     last_error = $1, failed_at = $2 WHERE id = $3";

pub(crate) const OUTBOX_COUNTS: &str = "SELECT \
     COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0), \
     COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) FROM outbox";

/// Numbers placeholders for a query built at run time (filters).
#[derive(Debug, Default)]
pub(crate) struct Placeholders(usize);

impl Placeholders {
    pub(crate) fn next(&mut self) -> String {
        self.0 += 1;
        format!("${}", self.0)
    }
}

/// A value bound to a query built at run time.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// The grants listing query for a filter, and the values to bind in order.
pub(crate) fn grants_query(filter: &GrantFilter) -> (String, Vec<Bind>) {
    let mut marks = Placeholders::default();
    let mut sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE 1 = 1");
    let mut binds: Vec<Bind> = Vec::new();
    if !filter.include_ended && filter.statuses.is_empty() {
        sql.push_str(" AND status NOT IN ('revoked', 'expired', 'failed')");
    }
    if !filter.statuses.is_empty() {
        let list: Vec<String> = filter.statuses.iter().map(|_| marks.next()).collect();
        sql.push_str(&format!(" AND status IN ({})", list.join(", ")));
        binds.extend(
            filter
                .statuses
                .iter()
                .map(|s| Bind::Text(s.as_str().to_owned())),
        );
    }
    for (column, value) in [
        ("user_email", &filter.user),
        ("access", &filter.access),
        ("target_key", &filter.target_key),
    ] {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {column} = {}", marks.next()));
            binds.push(Bind::Text(v.clone()));
        }
    }
    if let Some((requested_at, id)) = &filter.after {
        let (at, same_at, before_id) = (marks.next(), marks.next(), marks.next());
        sql.push_str(&format!(
            " AND (requested_at < {at} OR (requested_at = {same_at} AND id < {before_id}))"
        ));
        binds.push(Bind::Int(millis(*requested_at)));
        binds.push(Bind::Int(millis(*requested_at)));
        binds.push(Bind::Text(id.clone()));
    }
    sql.push_str(" ORDER BY requested_at DESC, id DESC");
    if filter.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", filter.limit));
    }
    (sql, binds)
}

/// The audit query: `$1` is the cursor; the values to bind after it, in order.
pub(crate) fn audit_query(query: &AuditQuery) -> (String, Vec<String>) {
    let mut marks = Placeholders::default();
    let mut sql = format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > {}",
        marks.next()
    );
    let mut binds = Vec::new();
    if let Some(g) = &query.grant_id {
        sql.push_str(&format!(" AND grant_id = {}", marks.next()));
        binds.push(g.clone());
    }
    if let Some(u) = &query.user {
        sql.push_str(&format!(" AND user_email = {}", marks.next()));
        binds.push(u.to_lowercase());
    }
    sql.push_str(" ORDER BY seq");
    if query.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", query.limit));
    }
    (sql, binds)
}
