//! The SQLite backend: one file, WAL mode, write transactions begun `IMMEDIATE` so that
//! concurrent processes (the CLI and a server) serialize cleanly instead of failing on a
//! lock upgrade. Single-instance by design: several servers should share PostgreSQL.

use std::str::FromStr;
use std::time::Duration;

use aws_jit_app::ports::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Sqlite, SqlitePool, Transaction};

use crate::backend;
use crate::common::{impl_grant_store, pending_migrations, sqlite_placeholders};
use crate::sessions::impl_session_store;
use crate::warnings::impl_warning_store;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_grants.sql"),
    include_str!("../migrations/sqlite/0002_s3_grants.sql"),
    include_str!("../migrations/sqlite/0003_ephemeral_permission_sets.sql"),
    include_str!("../migrations/sqlite/0004_audit_chain.sql"),
    include_str!("../migrations/sqlite/0005_api_tokens.sql"),
    include_str!("../migrations/sqlite/0006_outbox.sql"),
    include_str!("../migrations/sqlite/0007_requested_duration.sql"),
    include_str!("../migrations/sqlite/0008_grant_target.sql"),
    include_str!("../migrations/sqlite/0009_web_sessions.sql"),
    include_str!("../migrations/sqlite/0010_expiry_warnings.sql"),
];

/// A grant store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
            .min_connections(1)
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
            .map_err(Self::db)?;
        for (version, sql) in pending_migrations(MIGRATIONS, current)? {
            let mut tx = self.begin().await?;
            // Re-check inside the write lock: another process may have migrated meanwhile.
            let now_at: i64 = sqlx::query_scalar("PRAGMA user_version")
                .fetch_one(&mut *tx)
                .await
                .map_err(Self::db)?;
            if now_at >= version {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(Self::db)?;
            sqlx::raw_sql(AssertSqlSafe(format!("PRAGMA user_version = {version}")))
                .execute(&mut *tx)
                .await
                .map_err(Self::db)?;
            tx.commit().await.map_err(Self::db)?;
        }
        Ok(())
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Self::db)
    }

    /// SQLite has no row locks: `BEGIN IMMEDIATE` serializes claims.
    const SKIP_LOCKED: &'static str = "";

    fn sql(text: &str) -> String {
        sqlite_placeholders(text)
    }

    fn db(e: sqlx::Error) -> StoreError {
        backend("sqlite", e)
    }

    /// Other processes find changes by polling (WAL makes that cheap).
    #[expect(clippy::unused_async, reason = "same shape as the PostgreSQL hook")]
    async fn signal_change(
        &self,
        _tx: &mut Transaction<'static, Sqlite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// SQLite cannot tell: wait the whole time.
    async fn changed_within(&self, timeout: Duration) -> bool {
        tokio::time::sleep(timeout).await;
        false
    }

    /// `BEGIN IMMEDIATE` already makes every write transaction exclusive.
    #[expect(clippy::unused_async, reason = "same shape as the PostgreSQL hook")]
    async fn lock_audit_chain(_tx: &mut Transaction<'static, Sqlite>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl_grant_store!(SqliteStore, Sqlite);
impl_session_store!(SqliteStore);
impl_warning_store!(SqliteStore);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use aws_jit_app::ports::GrantStore;
    use aws_jit_core::{
        AccessOrigin, Actor, AuditAction, AuditEvent, Grant, GrantId, GrantStatus, GrantTarget,
    };

    fn grant(id: &str, target: GrantTarget) -> Grant {
        let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        Grant {
            id: GrantId::new(id),
            access: "a".to_owned(),
            user: "alice@example.com".to_owned(),
            requested_by: Actor::operator("root"),
            target_key: format!("key:{id}"),
            user_id: target.principal_id().map(str::to_owned),
            target,
            requested_duration: None,
            status: GrantStatus::Active,
            end_cause: None,
            origin: AccessOrigin::CreatedByTool,
            reason: None,
            requested_at: at,
            granted_at: Some(at),
            expires_at: at,
            ended_at: None,
            last_error: None,
            attempts: 0,
            version: 0,
        }
    }

    #[tokio::test]
    async fn a_row_written_before_the_target_column_reads_as_the_same_grant() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let targets = [
            GrantTarget::Assignment {
                instance_arn: "i".to_owned(),
                account_id: "123456789012".to_owned(),
                permission_set: "Admin".to_owned(),
                permission_set_arn: "ps".to_owned(),
                principal_id: "u-1".to_owned(),
            },
            GrantTarget::EphemeralPermissionSet {
                instance_arn: "i".to_owned(),
                account_id: "123456789012".to_owned(),
                permission_set: "jit-e".to_owned(),
                permission_set_arn: None,
                principal_id: "u-1".to_owned(),
            },
            GrantTarget::PolicyAttachment {
                iam_user: "alice".to_owned(),
                policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned(),
            },
            GrantTarget::GeneratedPolicy {
                iam_user: "alice".to_owned(),
                policy_arn: "arn:aws:iam::123456789012:policy/aws-jit/p".to_owned(),
            },
        ];
        let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        for (n, target) in targets.into_iter().enumerate() {
            let g = grant(&format!("g-{n}"), target);
            let event = AuditEvent {
                seq: 0,
                time: at,
                actor: g.requested_by.to_stored(),
                action: AuditAction::GrantRequested,
                grant_id: g.id.to_string(),
                access: g.access.clone(),
                user: g.user.clone(),
                detail: String::new(),
                prev_hash: String::new(),
                hash: String::new(),
            };
            store
                .insert_grant(&g, &event, &[], "h", at, at)
                .await
                .unwrap();
            // As an earlier version wrote it: the flat columns only.
            sqlx::query("UPDATE grants SET target = NULL WHERE id = ?1")
                .bind(g.id.as_str())
                .execute(&store.pool)
                .await
                .unwrap();
            let read = store.grant(&g.id).await.unwrap().unwrap();
            assert_eq!(read.target, g.target);
            assert_eq!(read.user_id, g.user_id);
        }
    }
}
