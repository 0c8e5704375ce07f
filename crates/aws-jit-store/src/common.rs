//! What the SQLite and PostgreSQL backends share: the row shapes, the SQL (written once, in
//! PostgreSQL's `$n` placeholder syntax, which [`sqlite_placeholders`] turns into SQLite's
//! numbered `?n`), and the [`GrantStore`](aws_jit_app::ports::GrantStore) implementation
//! itself, written once as [`impl_grant_store!`] and instantiated per backend.
//!
//! Each backend supplies, as inherent items of its store type: `db(error)` (its errors),
//! `sql(text)` (the placeholder dialect), `begin()` (a write transaction that serializes as
//! the backend needs), `lock_audit_chain(tx)` (whatever makes appending to the hash chain
//! exclusive), `signal_change(tx)` and `changed_within(timeout)` (telling other processes
//! about a change, where the backend can).

use aws_jit_app::ports::{OutboxMessage, PendingMessage, Recipient, StoreError};
use aws_jit_core::auth::{ApiToken, Role};
use aws_jit_core::{AuditAction, AuditEvent};
use jiff::Timestamp;

use crate::backend;

pub(crate) fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn from_millis(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| backend("stored time out of range", e))
}

pub(crate) fn opt_from_millis(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(from_millis).transpose()
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend {
        message: format!("unreadable {what} `{value}` in the store"),
        source: None,
    }
}

/// The migrations still to apply to a database at schema version `current`, with their
/// version numbers; an error if the database is newer than this build.
pub(crate) fn pending_migrations<'a>(
    migrations: &[&'a str],
    current: i64,
) -> Result<Vec<(i64, &'a str)>, StoreError> {
    let target = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    if current > target {
        return Err(StoreError::Backend {
            message: format!(
                "the database is at schema version {current}, newer than this aws-jit ({target}): upgrade aws-jit"
            ),
            source: None,
        });
    }
    Ok(migrations
        .iter()
        .enumerate()
        .map(|(index, sql)| (i64::try_from(index + 1).unwrap_or(i64::MAX), *sql))
        .filter(|(version, _)| *version > current)
        .collect())
}

/// Rewrites PostgreSQL placeholders (`$1`) as SQLite numbered ones (`?1`). The SQL in this
/// crate never has a `$` anywhere else.
pub(crate) fn sqlite_placeholders(sql: &str) -> String {
    sql.replace('$', "?")
}

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

pub(crate) const CACHE_PUT: &str = "INSERT INTO cache (key, value, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

pub(crate) const CACHE_DELETE: &str = "DELETE FROM cache WHERE key = $1";

/// An `audit_events` row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    time: i64,
    actor: String,
    action: String,
    grant_id: String,
    access: String,
    user_email: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<AuditEvent, StoreError> {
        Ok(AuditEvent {
            seq: self.seq,
            time: from_millis(self.time)?,
            actor: self.actor,
            action: AuditAction::parse(&self.action)
                .ok_or_else(|| corrupt("audit action", &self.action))?,
            grant_id: self.grant_id,
            access: self.access,
            user: self.user_email,
            detail: self.detail,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// An `api_tokens` row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TokenRow {
    id: String,
    name: String,
    role: String,
    user_email: Option<String>,
    on_behalf: bool,
    secret_hash: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TokenRow {
    pub(crate) fn into_token(self) -> Result<ApiToken, StoreError> {
        Ok(ApiToken {
            role: Role::parse(&self.role).ok_or_else(|| corrupt("role", &self.role))?,
            id: self.id,
            name: self.name,
            user: self.user_email,
            on_behalf: self.on_behalf,
            secret_hash: self.secret_hash,
            created_at: from_millis(self.created_at)?,
            revoked_at: opt_from_millis(self.revoked_at)?,
        })
    }
}

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

/// An `outbox` row as claimed.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: i64,
    grant_id: String,
    recipient_kind: String,
    recipient: String,
    thread_ts: Option<String>,
    body: String,
    attempts: i64,
}

impl MessageRow {
    pub(crate) fn into_pending(self) -> Result<PendingMessage, StoreError> {
        let recipient = match self.recipient_kind.as_str() {
            "channel" => Recipient::Channel {
                channel: self.recipient,
                thread_ts: self.thread_ts,
            },
            "person" => Recipient::Person {
                email: self.recipient,
            },
            other => return Err(corrupt("recipient kind", other)),
        };
        Ok(PendingMessage {
            id: self.id,
            message: OutboxMessage {
                grant_id: self.grant_id,
                recipient,
                body: self.body,
            },
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
        })
    }
}

/// The columns an outbox message is written with: kind, recipient, thread.
pub(crate) fn recipient_columns(recipient: &Recipient) -> (&'static str, &str, Option<&str>) {
    match recipient {
        Recipient::Channel { channel, thread_ts } => ("channel", channel, thread_ts.as_deref()),
        Recipient::Person { email } => ("person", email, None),
    }
}

/// A unique constraint refused the write: the name is taken.
pub(crate) fn is_duplicate(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
}

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
pub(crate) fn grants_query(filter: &aws_jit_app::ports::GrantFilter) -> (String, Vec<Bind>) {
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
pub(crate) fn audit_query(query: &aws_jit_app::ports::AuditQuery) -> (String, Vec<String>) {
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

/// The [`GrantStore`](aws_jit_app::ports::GrantStore) implementation shared by both
/// backends (see the module documentation for what each backend supplies).
macro_rules! impl_grant_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn take_lock(
                tx: &mut sqlx::Transaction<'static, $db>,
                target_key: &str,
                holder: &str,
                lease_until: jiff::Timestamp,
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                use $crate::common::{LOCK_HOLDER, TAKE_LOCK, millis};
                let taken: Option<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(Self::sql(TAKE_LOCK)))
                        .bind(target_key)
                        .bind(holder)
                        .bind(millis(lease_until))
                        .bind(millis(now))
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(Self::db)?;
                if taken.is_some() {
                    return Ok(());
                }
                let other: Option<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(Self::sql(LOCK_HOLDER)))
                        .bind(target_key)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(Self::db)?;
                Err(aws_jit_app::ports::StoreError::TargetBusy {
                    holder: other.unwrap_or_default(),
                })
            }

            async fn queue_messages(
                tx: &mut sqlx::Transaction<'static, $db>,
                messages: &[aws_jit_app::ports::OutboxMessage],
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                use $crate::common::{INSERT_MESSAGE, millis, recipient_columns};
                for message in messages {
                    let (kind, recipient, thread_ts) = recipient_columns(&message.recipient);
                    sqlx::query(sqlx::AssertSqlSafe(Self::sql(INSERT_MESSAGE)))
                        .bind(&message.grant_id)
                        .bind(kind)
                        .bind(recipient)
                        .bind(thread_ts)
                        .bind(&message.body)
                        .bind(millis(now))
                        .execute(&mut **tx)
                        .await
                        .map_err(Self::db)?;
                }
                Ok(())
            }

            async fn append_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                event: &aws_jit_core::AuditEvent,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                use aws_jit_core::audit::{GENESIS_HASH, chain_hash};
                use $crate::common::{INSERT_EVENT, LAST_EVENT, millis};
                Self::lock_audit_chain(tx).await?;
                let last: Option<(i64, String)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(LAST_EVENT)))
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(Self::db)?;
                let (seq, prev_hash) = match last {
                    Some((seq, hash)) if !hash.is_empty() => (seq + 1, hash),
                    Some((seq, _)) => (seq + 1, GENESIS_HASH.to_owned()),
                    None => (1, GENESIS_HASH.to_owned()),
                };
                let hash = chain_hash(&prev_hash, seq, event);
                sqlx::query(sqlx::AssertSqlSafe(Self::sql(INSERT_EVENT)))
                    .bind(seq)
                    .bind(millis(event.time))
                    .bind(&event.actor)
                    .bind(event.action.as_str())
                    .bind(&event.grant_id)
                    .bind(&event.access)
                    .bind(&event.user)
                    .bind(&event.detail)
                    .bind(&prev_hash)
                    .bind(&hash)
                    .execute(&mut **tx)
                    .await
                    .map_err(Self::db)?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl aws_jit_app::ports::GrantStore for $store {
            async fn insert_grant(
                &self,
                grant: &aws_jit_core::Grant,
                event: &aws_jit_core::AuditEvent,
                outbox: &[aws_jit_app::ports::OutboxMessage],
                holder: &str,
                lease_until: jiff::Timestamp,
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                use $crate::common::{INSERT_GRANT, millis};
                let columns = $crate::grant_row::TargetColumns::of(grant);
                let mut tx = self.begin().await?;
                Self::take_lock(&mut tx, &grant.target_key, holder, lease_until, now).await?;
                sqlx::query(sqlx::AssertSqlSafe(Self::sql(INSERT_GRANT)))
                    .bind(grant.id.as_str())
                    .bind(&grant.access)
                    .bind(&grant.user)
                    .bind(grant.requested_by.to_stored())
                    .bind(&grant.target_key)
                    .bind(columns.account_id)
                    .bind(columns.permission_set)
                    .bind(columns.principal_id)
                    .bind(columns.instance_arn)
                    .bind(columns.permission_set_arn)
                    .bind(grant.status.as_str())
                    .bind(grant.end_cause.map(aws_jit_core::EndCause::as_str))
                    .bind(grant.origin.as_str())
                    .bind(&grant.reason)
                    .bind(millis(grant.requested_at))
                    .bind(grant.granted_at.map(millis))
                    .bind(millis(grant.expires_at))
                    .bind(grant.ended_at.map(millis))
                    .bind(&grant.last_error)
                    .bind(i64::from(grant.attempts))
                    .bind(grant.version)
                    .bind(columns.iam_user)
                    .bind(columns.policy_arn)
                    .bind(columns.policy_generated)
                    .bind(columns.permission_set_generated)
                    .bind(
                        grant
                            .requested_duration
                            .map(|d| i64::try_from(d.as_seconds()).unwrap_or(i64::MAX)),
                    )
                    .bind(columns.target)
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                Self::append_event(&mut tx, event).await?;
                Self::queue_messages(&mut tx, outbox, now).await?;
                self.signal_change(&mut tx).await?;
                tx.commit().await.map_err(Self::db)
            }

            async fn apply(
                &self,
                change: &aws_jit_app::ports::GrantChange,
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                use aws_jit_app::ports::{LockOp, StoreError};
                use $crate::common::{CONFIRM_LOCK, RELEASE_LOCK, UPDATE_GRANT, millis};
                let g = &change.grant;
                let mut tx = self.begin().await?;
                match change.lock {
                    LockOp::Acquire(lease_until) => {
                        Self::take_lock(&mut tx, &g.target_key, &change.holder, lease_until, now)
                            .await?;
                    }
                    LockOp::Ignore => {}
                    LockOp::Keep | LockOp::Release => {
                        let held = sqlx::query(sqlx::AssertSqlSafe(Self::sql(CONFIRM_LOCK)))
                            .bind(&g.target_key)
                            .bind(&change.holder)
                            .execute(&mut *tx)
                            .await
                            .map_err(Self::db)?;
                        if held.rows_affected() != 1 {
                            return Err(StoreError::LockLost(g.id.to_string()));
                        }
                    }
                }
                let columns = $crate::grant_row::TargetColumns::of(g);
                let updated = sqlx::query(sqlx::AssertSqlSafe(Self::sql(UPDATE_GRANT)))
                    .bind(g.status.as_str())
                    .bind(g.end_cause.map(aws_jit_core::EndCause::as_str))
                    .bind(g.origin.as_str())
                    .bind(g.granted_at.map(millis))
                    .bind(millis(g.expires_at))
                    .bind(g.ended_at.map(millis))
                    .bind(&g.last_error)
                    .bind(i64::from(g.attempts))
                    .bind(change.next_attempt_at.map(millis))
                    .bind(columns.principal_id)
                    .bind(columns.permission_set_arn)
                    .bind(g.version)
                    .bind(g.id.as_str())
                    .bind(change.expected_version)
                    .bind(columns.instance_arn)
                    .bind(columns.iam_user)
                    .bind(columns.policy_arn)
                    .bind(columns.policy_generated)
                    .bind(columns.permission_set_generated)
                    .bind(columns.target)
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                if updated.rows_affected() != 1 {
                    return Err(StoreError::Stale(g.id.to_string()));
                }
                if let Some(event) = &change.event {
                    Self::append_event(&mut tx, event).await?;
                }
                Self::queue_messages(&mut tx, &change.outbox, now).await?;
                if change.lock == LockOp::Release {
                    sqlx::query(sqlx::AssertSqlSafe(Self::sql(RELEASE_LOCK)))
                        .bind(&g.target_key)
                        .bind(&change.holder)
                        .execute(&mut *tx)
                        .await
                        .map_err(Self::db)?;
                }
                self.signal_change(&mut tx).await?;
                tx.commit().await.map_err(Self::db)
            }

            async fn grant(
                &self,
                id: &aws_jit_core::GrantId,
            ) -> Result<Option<aws_jit_core::Grant>, aws_jit_app::ports::StoreError> {
                use $crate::common::GRANT_COLUMNS;
                use $crate::grant_row::GrantRow;
                let row: Option<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(
                    &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"),
                )))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(Self::db)?;
                row.map(GrantRow::into_grant).transpose()
            }

            async fn grants(
                &self,
                filter: &aws_jit_app::ports::GrantFilter,
            ) -> Result<Vec<aws_jit_core::Grant>, aws_jit_app::ports::StoreError> {
                use $crate::common::grants_query;
                use $crate::grant_row::GrantRow;
                let (sql, binds) = grants_query(filter);
                let mut query = sqlx::query_as::<_, GrantRow>(sqlx::AssertSqlSafe(Self::sql(&sql)));
                for b in binds {
                    query = match b {
                        $crate::common::Bind::Text(t) => query.bind(t),
                        $crate::common::Bind::Int(i) => query.bind(i),
                    };
                }
                let rows = query.fetch_all(&self.pool).await.map_err(Self::db)?;
                rows.into_iter().map(GrantRow::into_grant).collect()
            }

            async fn due(
                &self,
                now: jiff::Timestamp,
                limit: usize,
            ) -> Result<Vec<aws_jit_core::Grant>, aws_jit_app::ports::StoreError> {
                use $crate::common::{DUE, millis};
                use $crate::grant_row::GrantRow;
                let rows: Vec<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(DUE)))
                    .bind(millis(now))
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(Self::db)?;
                rows.into_iter().map(GrantRow::into_grant).collect()
            }

            async fn next_due_at(
                &self,
            ) -> Result<Option<jiff::Timestamp>, aws_jit_app::ports::StoreError> {
                use $crate::common::{NEXT_DUE, opt_from_millis};
                let next: Option<i64> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(Self::sql(NEXT_DUE)))
                        .fetch_one(&self.pool)
                        .await
                        .map_err(Self::db)?;
                opt_from_millis(next)
            }

            async fn wait_for_change(&self, timeout: std::time::Duration) -> bool {
                self.changed_within(timeout).await
            }

            async fn count_by_status(
                &self,
            ) -> Result<Vec<(aws_jit_core::GrantStatus, i64)>, aws_jit_app::ports::StoreError> {
                use $crate::common::{COUNT_BY_STATUS, corrupt};
                let rows: Vec<(String, i64)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(COUNT_BY_STATUS)))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(Self::db)?;
                rows.into_iter()
                    .map(|(status, n)| {
                        aws_jit_core::GrantStatus::parse(&status)
                            .map(|s| (s, n))
                            .ok_or_else(|| corrupt("status", &status))
                    })
                    .collect()
            }

            async fn append_audit(
                &self,
                event: &aws_jit_core::AuditEvent,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                let mut tx = self.begin().await?;
                Self::append_event(&mut tx, event).await?;
                tx.commit().await.map_err(Self::db)
            }

            async fn audit(
                &self,
                query: &aws_jit_app::ports::AuditQuery,
            ) -> Result<Vec<aws_jit_core::AuditEvent>, aws_jit_app::ports::StoreError> {
                use $crate::common::{EventRow, audit_query};
                let (sql, binds) = audit_query(query);
                let mut q = sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(Self::sql(&sql)))
                    .bind(query.after_seq.unwrap_or(0));
                for b in binds {
                    q = q.bind(b);
                }
                let rows = q.fetch_all(&self.pool).await.map_err(Self::db)?;
                rows.into_iter().map(EventRow::into_event).collect()
            }

            async fn cache_get(
                &self,
                key: &str,
            ) -> Result<Option<String>, aws_jit_app::ports::StoreError> {
                sqlx::query_scalar(sqlx::AssertSqlSafe(Self::sql($crate::common::CACHE_GET)))
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(Self::db)
            }

            async fn cache_put(
                &self,
                key: &str,
                value: &str,
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(Self::sql($crate::common::CACHE_PUT)))
                    .bind(key)
                    .bind(value)
                    .bind($crate::common::millis(now))
                    .execute(&self.pool)
                    .await
                    .map_err(Self::db)?;
                Ok(())
            }

            async fn claim_messages(
                &self,
                now: jiff::Timestamp,
                lease_until: jiff::Timestamp,
                limit: usize,
            ) -> Result<Vec<aws_jit_app::ports::PendingMessage>, aws_jit_app::ports::StoreError>
            {
                use $crate::common::{CLAIM_MESSAGES, MessageRow, millis};
                let sql = CLAIM_MESSAGES.replace("{SKIP_LOCKED}", Self::SKIP_LOCKED);
                let mut tx = self.begin().await?;
                let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(&sql)))
                    .bind(millis(lease_until))
                    .bind(millis(now))
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                tx.commit().await.map_err(Self::db)?;
                let mut claimed: Vec<_> = rows
                    .into_iter()
                    .map(MessageRow::into_pending)
                    .collect::<Result<_, _>>()?;
                claimed.sort_by_key(|m: &aws_jit_app::ports::PendingMessage| m.id);
                Ok(claimed)
            }

            async fn message_sent(
                &self,
                id: i64,
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(Self::sql($crate::common::MESSAGE_SENT)))
                    .bind($crate::common::millis(now))
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(Self::db)?;
                Ok(())
            }

            async fn message_failed(
                &self,
                id: i64,
                error: &str,
                retry_at: Option<jiff::Timestamp>,
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                use $crate::common::{MESSAGE_GIVEN_UP, MESSAGE_RETRY, millis};
                let (sql, at) = match retry_at {
                    Some(at) => (MESSAGE_RETRY, at),
                    None => (MESSAGE_GIVEN_UP, now),
                };
                sqlx::query(sqlx::AssertSqlSafe(Self::sql(sql)))
                    .bind(error)
                    .bind(millis(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(Self::db)?;
                Ok(())
            }

            async fn outbox_counts(&self) -> Result<(i64, i64), aws_jit_app::ports::StoreError> {
                sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(
                    $crate::common::OUTBOX_COUNTS,
                )))
                .fetch_one(&self.pool)
                .await
                .map_err(Self::db)
            }

            async fn insert_token(
                &self,
                token: &aws_jit_core::auth::ApiToken,
                event: &aws_jit_core::AuditEvent,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                use $crate::common::{INSERT_TOKEN, is_duplicate, millis};
                let mut tx = self.begin().await?;
                let inserted = sqlx::query(sqlx::AssertSqlSafe(Self::sql(INSERT_TOKEN)))
                    .bind(&token.id)
                    .bind(&token.name)
                    .bind(token.role.as_str())
                    .bind(&token.user)
                    .bind(token.on_behalf)
                    .bind(&token.secret_hash)
                    .bind(millis(token.created_at))
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Ok(_) => {}
                    Err(e) if is_duplicate(&e) => {
                        return Err(aws_jit_app::ports::StoreError::Duplicate(
                            token.name.clone(),
                        ));
                    }
                    Err(e) => return Err(Self::db(e)),
                }
                Self::append_event(&mut tx, event).await?;
                tx.commit().await.map_err(Self::db)
            }

            async fn token(
                &self,
                id: &str,
            ) -> Result<Option<aws_jit_core::auth::ApiToken>, aws_jit_app::ports::StoreError> {
                use $crate::common::{TOKEN_COLUMNS, TokenRow};
                let row: Option<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(
                    &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"),
                )))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(Self::db)?;
                row.map(TokenRow::into_token).transpose()
            }

            async fn tokens(
                &self,
            ) -> Result<Vec<aws_jit_core::auth::ApiToken>, aws_jit_app::ports::StoreError> {
                use $crate::common::{TOKEN_COLUMNS, TokenRow};
                let rows: Vec<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, name"
                ))))
                .fetch_all(&self.pool)
                .await
                .map_err(Self::db)?;
                rows.into_iter().map(TokenRow::into_token).collect()
            }

            async fn revoke_token(
                &self,
                name: &str,
                at: jiff::Timestamp,
                event: &aws_jit_core::AuditEvent,
            ) -> Result<bool, aws_jit_app::ports::StoreError> {
                use $crate::common::{REVOKE_TOKEN, millis};
                let mut tx = self.begin().await?;
                let revoked = sqlx::query(sqlx::AssertSqlSafe(Self::sql(REVOKE_TOKEN)))
                    .bind(millis(at))
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                if revoked.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::append_event(&mut tx, event).await?;
                tx.commit().await.map_err(Self::db)?;
                Ok(true)
            }

            async fn cache_delete(&self, key: &str) -> Result<(), aws_jit_app::ports::StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(Self::sql($crate::common::CACHE_DELETE)))
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(Self::db)?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_grant_store;
