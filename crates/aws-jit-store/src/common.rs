//! What the SQLite and PostgreSQL backends share: the [`GrantStore`](aws_jit_app::ports::GrantStore)
//! implementation itself, written once as [`impl_grant_store!`] and instantiated per
//! backend, over the SQL of [`crate::sql`] (PostgreSQL's `$n` placeholders, which
//! [`sqlite_placeholders`] turns into SQLite's `?n`) and the rows of [`crate::rows`] and
//! [`crate::grant_row`].
//!
//! Each backend supplies, as inherent items of its store type: `db(error)` (its errors),
//! `sql(text)` (the placeholder dialect), `begin()` (a write transaction that serializes as
//! the backend needs), `lock_audit_chain(tx)` (whatever makes appending to the hash chain
//! exclusive), `signal_change(tx)` and `changed_within(timeout)` (telling other processes
//! about a change, where the backend can).

use aws_jit_app::ports::StoreError;
use jiff::Timestamp;

use crate::backend;

pub(crate) use crate::rows::*;
pub(crate) use crate::sql::*;

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

/// A unique constraint refused the write: the name is taken.
pub(crate) fn is_duplicate(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
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

            async fn cache_get_fresh(
                &self,
                key: &str,
                since: jiff::Timestamp,
            ) -> Result<Option<String>, aws_jit_app::ports::StoreError> {
                sqlx::query_scalar(sqlx::AssertSqlSafe(Self::sql(
                    $crate::common::CACHE_GET_FRESH,
                )))
                .bind(key)
                .bind($crate::common::millis(since))
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

            async fn lock_target(
                &self,
                target_key: &str,
                holder: &str,
                lease_until: jiff::Timestamp,
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                let mut tx = self.begin().await?;
                Self::take_lock(&mut tx, target_key, holder, lease_until, now).await?;
                tx.commit().await.map_err(Self::db)
            }

            async fn unlock_target(
                &self,
                target_key: &str,
                holder: &str,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(Self::sql($crate::common::RELEASE_LOCK)))
                    .bind(target_key)
                    .bind(holder)
                    .execute(&self.pool)
                    .await
                    .map_err(Self::db)?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_grant_store;
