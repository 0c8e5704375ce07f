//! Durable storage for aws-jit: grants, the append-only audit log, target locks and caches.
//!
//! [`open`] picks the backend from the URL scheme (the one place that does). SQLite is the
//! embedded, single-instance default: WAL mode, `synchronous = FULL` (a committed grant
//! survives power loss, not just a crash), migrations embedded and applied on open by
//! `PRAGMA user_version`. PostgreSQL is the multi-replica mode: several `serve` processes
//! share one database and coordinate through leases and versioned rows. Both backends run
//! the same queries and the same implementation (the private `common` module).

mod common;
mod grant_row;
mod postgres;
mod rows;
mod sessions;
mod sql;
mod sqlite;
mod warnings;

use std::sync::Arc;

use aws_jit_app::ports::{GrantStore, StoreError};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Opens the store named by `url` (`sqlite://PATH`, `sqlite::memory:`,
/// `postgres://USER@HOST/DB`), creating and migrating it if needed.
pub async fn open(url: &str) -> Result<Arc<dyn GrantStore>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::Backend {
            message: format!(
                "`{}` is not a store URL: use `sqlite://./aws-jit.db` or `postgres://user@host/db`",
                aws_jit_core::text::redact(url)
            ),
            source: None,
        })
    }
}

pub(crate) fn backend(
    message: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend {
        message: format!("{message}: {e}"),
        source: Some(Box::new(e)),
    }
}
