//! The SQLite backend: one file, WAL mode, write transactions begun `IMMEDIATE` so that
//! concurrent processes (the CLI and a server) serialize cleanly instead of failing on a
//! lock upgrade. Single-instance by design: several servers should share PostgreSQL.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use aws_jit_app::ports::{AuditQuery, GrantChange, GrantFilter, GrantStore, LockOp, StoreError};
use aws_jit_core::audit::{GENESIS_HASH, chain_hash};
use aws_jit_core::{AccessOrigin, AuditAction, AuditEvent, EndCause, Grant, GrantId, GrantStatus};
use jiff::Timestamp;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction};

use crate::backend;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_grants.sql"),
    include_str!("../migrations/sqlite/0002_s3_grants.sql"),
    include_str!("../migrations/sqlite/0003_ephemeral_permission_sets.sql"),
    include_str!("../migrations/sqlite/0004_audit_chain.sql"),
];

/// A grant store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn from_millis(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| backend("stored time out of range", e))
}

fn opt_from_millis(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(from_millis).transpose()
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend {
        message: format!("unreadable {what} `{value}` in the store"),
        source: None,
    }
}

fn db(e: sqlx::Error) -> StoreError {
    backend("sqlite", e)
}

const GRANT_COLUMNS: &str = "id, access, user_email, requested_by, target_key, account_id, \
     permission_set, principal_id, instance_arn, permission_set_arn, status, end_cause, origin, \
     reason, requested_at, granted_at, expires_at, ended_at, last_error, attempts, version, \
     iam_user, policy_arn, policy_generated, permission_set_generated";

fn grant_from_row(row: &SqliteRow) -> Result<Grant, StoreError> {
    let status: String = row.try_get("status").map_err(db)?;
    let origin: String = row.try_get("origin").map_err(db)?;
    let end_cause: Option<String> = row.try_get("end_cause").map_err(db)?;
    let attempts: i64 = row.try_get("attempts").map_err(db)?;
    Ok(Grant {
        id: GrantId::new(row.try_get::<String, _>("id").map_err(db)?),
        access: row.try_get("access").map_err(db)?,
        user: row.try_get("user_email").map_err(db)?,
        requested_by: row.try_get("requested_by").map_err(db)?,
        target_key: row.try_get("target_key").map_err(db)?,
        account_id: row.try_get("account_id").map_err(db)?,
        permission_set: row.try_get("permission_set").map_err(db)?,
        principal_id: row.try_get("principal_id").map_err(db)?,
        instance_arn: row.try_get("instance_arn").map_err(db)?,
        permission_set_arn: row.try_get("permission_set_arn").map_err(db)?,
        status: GrantStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        end_cause: match end_cause {
            Some(c) => Some(EndCause::parse(&c).ok_or_else(|| corrupt("end cause", &c))?),
            None => None,
        },
        origin: AccessOrigin::parse(&origin).ok_or_else(|| corrupt("origin", &origin))?,
        reason: row.try_get("reason").map_err(db)?,
        requested_at: from_millis(row.try_get("requested_at").map_err(db)?)?,
        granted_at: opt_from_millis(row.try_get("granted_at").map_err(db)?)?,
        expires_at: from_millis(row.try_get("expires_at").map_err(db)?)?,
        ended_at: opt_from_millis(row.try_get("ended_at").map_err(db)?)?,
        last_error: row.try_get("last_error").map_err(db)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        version: row.try_get("version").map_err(db)?,
        iam_user: row.try_get("iam_user").map_err(db)?,
        policy_arn: row.try_get("policy_arn").map_err(db)?,
        policy_generated: row.try_get::<i64, _>("policy_generated").map_err(db)? != 0,
        permission_set_generated: row
            .try_get::<i64, _>("permission_set_generated")
            .map_err(db)?
            != 0,
    })
}

fn event_from_row(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    let action: String = row.try_get("action").map_err(db)?;
    Ok(AuditEvent {
        seq: row.try_get("seq").map_err(db)?,
        time: from_millis(row.try_get("time").map_err(db)?)?,
        actor: row.try_get("actor").map_err(db)?,
        action: AuditAction::parse(&action).ok_or_else(|| corrupt("audit action", &action))?,
        grant_id: row.try_get("grant_id").map_err(db)?,
        access: row.try_get("access").map_err(db)?,
        user: row.try_get("user_email").map_err(db)?,
        detail: row.try_get("detail").map_err(db)?,
        prev_hash: row.try_get("prev_hash").map_err(db)?,
        hash: row.try_get("hash").map_err(db)?,
    })
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| backend(&format!("bad SQLite URL `{url}`"), e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // An in-memory database exists per connection: keep exactly one.
        let max = if url.contains(":memory:") { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(0)
            .connect_with(options)
            .await
            .map_err(|e| backend(&format!("cannot open `{url}`"), e))?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let current: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        let target = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if current > target {
            return Err(StoreError::Backend {
                message: format!(
                    "the database is at schema version {current}, newer than this aws-jit ({target}): upgrade aws-jit"
                ),
                source: None,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate() {
            let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
            if version <= current {
                continue;
            }
            let mut tx = self.begin().await?;
            // Re-check inside the write lock: another process may have migrated meanwhile.
            let now_at: i64 = sqlx::query_scalar("PRAGMA user_version")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if now_at >= version {
                continue;
            }
            sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::raw_sql(AssertSqlSafe(format!("PRAGMA user_version = {version}")))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
        }
        Ok(())
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

async fn take_lock(
    tx: &mut Transaction<'static, Sqlite>,
    target_key: &str,
    holder: &str,
    lease_until: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    let current: Option<(String, i64)> =
        sqlx::query_as("SELECT holder, lease_until FROM target_locks WHERE target_key = ?")
            .bind(target_key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    if let Some((other, until)) = current
        && other != holder
        && until > millis(now)
    {
        return Err(StoreError::TargetBusy { holder: other });
    }
    sqlx::query(
        "INSERT INTO target_locks (target_key, holder, lease_until) VALUES (?, ?, ?) \
         ON CONFLICT (target_key) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until",
    )
    .bind(target_key)
    .bind(holder)
    .bind(millis(lease_until))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn release_lock(
    tx: &mut Transaction<'static, Sqlite>,
    target_key: &str,
    holder: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM target_locks WHERE target_key = ? AND holder = ?")
        .bind(target_key)
        .bind(holder)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

async fn append_event(
    tx: &mut Transaction<'static, Sqlite>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    // Inside the write transaction: the last event cannot change under us.
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    let (seq, prev_hash) = match last {
        Some((seq, hash)) if !hash.is_empty() => (seq + 1, hash),
        Some((seq, _)) => (seq + 1, GENESIS_HASH.to_owned()),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let hash = chain_hash(&prev_hash, seq, event);
    sqlx::query(
        "INSERT INTO audit_events (seq, time, actor, action, grant_id, access, user_email, detail, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
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
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl GrantStore for SqliteStore {
    async fn insert_grant(
        &self,
        grant: &Grant,
        event: &AuditEvent,
        holder: &str,
        lease_until: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        take_lock(&mut tx, &grant.target_key, holder, lease_until, now).await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO grants ({GRANT_COLUMNS}) VALUES \
             (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(grant.id.as_str())
        .bind(&grant.access)
        .bind(&grant.user)
        .bind(&grant.requested_by)
        .bind(&grant.target_key)
        .bind(&grant.account_id)
        .bind(&grant.permission_set)
        .bind(&grant.principal_id)
        .bind(&grant.instance_arn)
        .bind(&grant.permission_set_arn)
        .bind(grant.status.as_str())
        .bind(grant.end_cause.map(EndCause::as_str))
        .bind(grant.origin.as_str())
        .bind(&grant.reason)
        .bind(millis(grant.requested_at))
        .bind(grant.granted_at.map(millis))
        .bind(millis(grant.expires_at))
        .bind(grant.ended_at.map(millis))
        .bind(&grant.last_error)
        .bind(i64::from(grant.attempts))
        .bind(grant.version)
        .bind(&grant.iam_user)
        .bind(&grant.policy_arn)
        .bind(i64::from(grant.policy_generated))
        .bind(i64::from(grant.permission_set_generated))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        append_event(&mut tx, event).await?;
        tx.commit().await.map_err(db)
    }

    async fn apply(&self, change: &GrantChange, now: Timestamp) -> Result<(), StoreError> {
        let g = &change.grant;
        let mut tx = self.begin().await?;
        match change.lock {
            LockOp::Acquire(lease_until) => {
                take_lock(&mut tx, &g.target_key, &change.holder, lease_until, now).await?;
            }
            LockOp::Keep | LockOp::Release => {
                let holder: Option<String> =
                    sqlx::query_scalar("SELECT holder FROM target_locks WHERE target_key = ?")
                        .bind(&g.target_key)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                if holder.as_deref() != Some(change.holder.as_str()) {
                    return Err(StoreError::LockLost(g.id.to_string()));
                }
            }
        }
        let updated = sqlx::query(
            "UPDATE grants SET status = ?, end_cause = ?, origin = ?, granted_at = ?, \
             expires_at = ?, ended_at = ?, last_error = ?, attempts = ?, next_attempt_at = ?, \
             principal_id = ?, permission_set_arn = ?, version = ? WHERE id = ? AND version = ?",
        )
        .bind(g.status.as_str())
        .bind(g.end_cause.map(EndCause::as_str))
        .bind(g.origin.as_str())
        .bind(g.granted_at.map(millis))
        .bind(millis(g.expires_at))
        .bind(g.ended_at.map(millis))
        .bind(&g.last_error)
        .bind(i64::from(g.attempts))
        .bind(change.next_attempt_at.map(millis))
        .bind(&g.principal_id)
        .bind(&g.permission_set_arn)
        .bind(g.version)
        .bind(g.id.as_str())
        .bind(change.expected_version)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Stale(g.id.to_string()));
        }
        if let Some(event) = &change.event {
            append_event(&mut tx, event).await?;
        }
        if change.lock == LockOp::Release {
            release_lock(&mut tx, &g.target_key, &change.holder).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE id = ?"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn grants(&self, filter: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
        let mut sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if !filter.include_ended && filter.statuses.is_empty() {
            sql.push_str(" AND status NOT IN ('revoked', 'expired', 'failed')");
        }
        if !filter.statuses.is_empty() {
            let marks = vec!["?"; filter.statuses.len()].join(", ");
            sql.push_str(&format!(" AND status IN ({marks})"));
            binds.extend(filter.statuses.iter().map(|s| s.as_str().to_owned()));
        }
        for (column, value) in [
            ("user_email", &filter.user),
            ("access", &filter.access),
            ("target_key", &filter.target_key),
        ] {
            if let Some(v) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                binds.push(v.clone());
            }
        }
        sql.push_str(" ORDER BY requested_at DESC, id DESC");
        if filter.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", filter.limit));
        }
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<Grant>, StoreError> {
        let columns = GRANT_COLUMNS
            .split(", ")
            .map(|c| format!("g.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {columns} FROM grants g \
             LEFT JOIN target_locks l ON l.target_key = g.target_key AND l.lease_until > ?1 \
             WHERE ((g.status = 'active' AND g.expires_at <= ?1) \
                 OR (g.status = 'revoking' AND COALESCE(g.next_attempt_at, 0) <= ?1) \
                 OR g.status = 'provisioning') \
               AND l.holder IS NULL \
             ORDER BY g.expires_at LIMIT ?2"
        )))
        .bind(millis(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(t) FROM ( \
               SELECT MIN(expires_at) AS t FROM grants WHERE status = 'active' \
               UNION ALL SELECT MIN(COALESCE(next_attempt_at, 0)) FROM grants WHERE status = 'revoking' \
               UNION ALL SELECT MIN(COALESCE(l.lease_until, 0)) FROM grants g \
                 LEFT JOIN target_locks l ON l.target_key = g.target_key \
                 WHERE g.status IN ('provisioning', 'revoking'))",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        opt_from_millis(next)
    }

    async fn count_by_status(&self) -> Result<Vec<(GrantStatus, i64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM grants GROUP BY status")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.into_iter()
            .map(|(status, n)| {
                GrantStatus::parse(&status)
                    .map(|s| (s, n))
                    .ok_or_else(|| corrupt("status", &status))
            })
            .collect()
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        append_event(&mut tx, event).await?;
        tx.commit().await.map_err(db)
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut sql = "SELECT seq, time, actor, action, grant_id, access, user_email, detail, \
                       prev_hash, hash FROM audit_events WHERE seq > ?"
            .to_owned();
        if query.grant_id.is_some() {
            sql.push_str(" AND grant_id = ?");
        }
        if query.user.is_some() {
            sql.push_str(" AND user_email = ?");
        }
        sql.push_str(" ORDER BY seq");
        if query.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", query.limit));
        }
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(query.after_seq.unwrap_or(0));
        if let Some(g) = &query.grant_id {
            q = q.bind(g);
        }
        if let Some(u) = &query.user {
            q = q.bind(u.to_lowercase());
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn cache_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM cache WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn cache_put(&self, key: &str, value: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cache (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn cache_delete(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cache WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
