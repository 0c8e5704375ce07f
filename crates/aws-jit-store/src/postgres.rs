//! The PostgreSQL backend, for several `serve` replicas sharing one database.
//!
//! Replicas coordinate through the same rows as SQLite processes do: a target lock is
//! taken by one atomic upsert (only when free, lapsed or already ours), a grant row changes
//! only at the version it was read at, and appending to the audit hash chain locks the
//! audit table for the rest of the transaction (readers are not blocked), so the chain
//! never forks. Lock order is always target lock, grant row, audit table: no deadlocks.
//! Migrations run in one transaction under an advisory lock, so replicas starting together
//! migrate once. Every grant change also sends `NOTIFY aws_jit_changes` (delivered at
//! commit); a server's worker listens, so a grant made by the CLI or another replica is
//! seen at once rather than at the next poll.

use std::str::FromStr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use aws_jit_app::ports::StoreError;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::backend;
use crate::common::{impl_grant_store, pending_migrations};
use crate::sessions::impl_session_store;
use crate::warnings::impl_warning_store;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_schema.sql"),
    include_str!("../migrations/postgres/0002_api_tokens.sql"),
    include_str!("../migrations/postgres/0003_outbox.sql"),
    include_str!("../migrations/postgres/0004_requested_duration.sql"),
    include_str!("../migrations/postgres/0005_grant_target.sql"),
    include_str!("../migrations/postgres/0006_audit_no_truncate.sql"),
    include_str!("../migrations/postgres/0007_web_sessions.sql"),
    include_str!("../migrations/postgres/0008_expiry_warnings.sql"),
];

/// The notification channel of grant changes in `schema` (channels are per database, so
/// the schema keeps deployments sharing one database apart). At most 63 bytes.
fn channel(schema: &str) -> String {
    let mut name = format!("aws_jit_changes_{schema}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// A grant store in a PostgreSQL database (the schema is the connection's `search_path`).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    changes: Arc<ChangeFeed>,
    channel: Arc<str>,
}

/// Wakes waiters when a `NOTIFY` arrives. The listening task starts on the first wait (so
/// the CLI never opens a listener) and stops with the store.
#[derive(Debug, Default)]
struct ChangeFeed {
    notify: tokio::sync::Notify,
    task: OnceLock<tokio::task::JoinHandle<()>>,
}

impl Drop for ChangeFeed {
    fn drop(&mut self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }
}

/// Listens for change notifications, reconnecting after failures, until the feed is gone.
async fn listen(pool: PgPool, channel: Arc<str>, feed: Weak<ChangeFeed>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(&channel).await {
                Ok(()) => loop {
                    match listener.recv().await {
                        Ok(_) => match feed.upgrade() {
                            // A stored permit: a change between two waits is not lost.
                            Some(feed) => feed.notify.notify_one(),
                            None => return,
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "change notifications interrupted; polling meanwhile");
                            break;
                        }
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for changes; polling meanwhile")
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot LISTEN for changes; polling meanwhile"),
        }
        if feed.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`, libpq-style parameters such as
    /// `sslmode` and `options=-csearch_path%3Dschema` accepted) and migrates.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| backend("bad PostgreSQL URL", e))?
            .application_name("aws-jit");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| backend("cannot connect to PostgreSQL", e))?;
        let schema: String = sqlx::query_scalar("SELECT COALESCE(current_schema(), 'public')")
            .fetch_one(&pool)
            .await
            .map_err(Self::db)?;
        let store = PostgresStore {
            pool,
            changes: Arc::new(ChangeFeed::default()),
            channel: channel(&schema).into(),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.aws_jit_migrations'))",
        )
        .execute(&mut *tx)
        .await
        .map_err(Self::db)?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS aws_jit_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .execute(&mut *tx)
        .await
        .map_err(Self::db)?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM aws_jit_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(Self::db)?;
        for (version, sql) in pending_migrations(MIGRATIONS, current)? {
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(Self::db)?;
            sqlx::query("INSERT INTO aws_jit_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(Self::db)?;
        }
        tx.commit().await.map_err(Self::db)
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(Self::db)
    }

    /// Replicas claim different messages instead of waiting on each other.
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    fn sql(text: &str) -> String {
        text.to_owned()
    }

    fn db(e: sqlx::Error) -> StoreError {
        backend("postgres", e)
    }

    async fn signal_change(
        &self,
        tx: &mut Transaction<'static, Postgres>,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(&*self.channel)
            .execute(&mut **tx)
            .await
            .map_err(Self::db)?;
        Ok(())
    }

    async fn changed_within(&self, timeout: Duration) -> bool {
        self.changes.task.get_or_init(|| {
            tokio::spawn(listen(
                self.pool.clone(),
                Arc::clone(&self.channel),
                Arc::downgrade(&self.changes),
            ))
        });
        tokio::time::timeout(timeout, self.changes.notify.notified())
            .await
            .is_ok()
    }

    /// Appends are serialized so that each event chains onto the one before it.
    async fn lock_audit_chain(tx: &mut Transaction<'static, Postgres>) -> Result<(), StoreError> {
        sqlx::query("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut **tx)
            .await
            .map_err(Self::db)?;
        Ok(())
    }
}

impl_grant_store!(PostgresStore, Postgres);
impl_session_store!(PostgresStore);
impl_warning_store!(PostgresStore);
