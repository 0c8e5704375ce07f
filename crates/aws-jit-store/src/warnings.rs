//! The [`WarningStore`](aws_jit_app::ports::WarningStore) half of both backends: which
//! grants were warned of which expiry, over the same SQL (PostgreSQL's `$n`, rewritten for
//! SQLite by the backend's `sql`).

/// Active grants expiring in `($1, $2]` not yet warned of that expiry; `$3` the limit.
pub(crate) fn expiring_unwarned() -> String {
    format!(
        "SELECT {} FROM grants g WHERE g.status = 'active' AND g.expires_at > $1 \
         AND g.expires_at <= $2 AND NOT EXISTS (SELECT 1 FROM expiry_warnings w \
         WHERE w.grant_id = g.id AND w.expires_at = g.expires_at) \
         ORDER BY g.expires_at LIMIT $3",
        crate::common::GRANT_COLUMNS
    )
}

/// Recorded only while the grant is still active with that expiry (extended or ended in
/// the meantime, it is not warned of an expiry it no longer has).
pub(crate) const RECORD_WARNING: &str = "INSERT INTO expiry_warnings (grant_id, expires_at, \
     queued_at) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM grants WHERE id = $1 \
     AND status = 'active' AND expires_at = $2) ON CONFLICT DO NOTHING";

/// Warnings of expiries long past are of no more use.
pub(crate) const PURGE_WARNINGS: &str = "DELETE FROM expiry_warnings WHERE expires_at < $1";

/// The `WarningStore` implementation for a backend that `impl_grant_store!` was
/// instantiated for (it uses that macro's `begin`, `queue_messages` and `sql`).
macro_rules! impl_warning_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl aws_jit_app::ports::WarningStore for $store {
            async fn expiring_unwarned(
                &self,
                now: jiff::Timestamp,
                before: jiff::Timestamp,
                limit: usize,
            ) -> Result<Vec<aws_jit_core::Grant>, aws_jit_app::ports::StoreError> {
                use $crate::common::millis;
                use $crate::grant_row::GrantRow;
                let rows: Vec<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(
                    &$crate::warnings::expiring_unwarned(),
                )))
                .bind(millis(now))
                .bind(millis(before))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(Self::db)?;
                rows.into_iter().map(GrantRow::into_grant).collect()
            }

            async fn record_warning(
                &self,
                grant: &aws_jit_core::Grant,
                message: Option<&aws_jit_app::ports::OutboxMessage>,
                now: jiff::Timestamp,
            ) -> Result<bool, aws_jit_app::ports::StoreError> {
                use $crate::common::millis;
                use $crate::warnings::{PURGE_WARNINGS, RECORD_WARNING};
                let mut tx = self.begin().await?;
                let day_ago = now
                    .checked_sub(jiff::SignedDuration::from_hours(24))
                    .unwrap_or(now);
                sqlx::query(sqlx::AssertSqlSafe(Self::sql(PURGE_WARNINGS)))
                    .bind(millis(day_ago))
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                let recorded = sqlx::query(sqlx::AssertSqlSafe(Self::sql(RECORD_WARNING)))
                    .bind(grant.id.as_str())
                    .bind(millis(grant.expires_at))
                    .bind(millis(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                if recorded.rows_affected() == 0 {
                    return Ok(false);
                }
                if let Some(message) = message {
                    Self::queue_messages(&mut tx, std::slice::from_ref(message), now).await?;
                }
                tx.commit().await.map_err(Self::db)?;
                Ok(true)
            }
        }
    };
}

pub(crate) use impl_warning_store;
