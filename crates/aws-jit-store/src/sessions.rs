//! The [`SessionStore`](aws_jit_app::ports::SessionStore) half of both backends: web
//! sessions and sign-ins in progress, over the same SQL (PostgreSQL's `$n`, rewritten for
//! SQLite by the backend's `sql`).

use aws_jit_app::ports::StoreError;
use aws_jit_core::auth::Role;
use aws_jit_core::web_session::{PendingSignIn, WebSession};

use crate::common::{corrupt, from_millis};

pub(crate) const SESSION_COLUMNS: &str = "id_hash, person, role, via, csrf, created_at, expires_at";

pub(crate) const INSERT_SESSION: &str = "INSERT INTO web_sessions (id_hash, person, role, via, \
     csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub(crate) const DELETE_ENDED_SESSIONS: &str = "DELETE FROM web_sessions WHERE expires_at <= $1";

pub(crate) const DELETE_SESSION: &str = "DELETE FROM web_sessions WHERE id_hash = $1";

pub(crate) const DELETE_LAPSED_SIGN_INS: &str = "DELETE FROM web_sign_ins WHERE created_at < $1";

pub(crate) const COUNT_SIGN_INS: &str = "SELECT COUNT(*) FROM web_sign_ins";

/// Makes room: the oldest sign-ins in progress go first.
pub(crate) const EVICT_OLDEST_SIGN_INS: &str = "DELETE FROM web_sign_ins WHERE state IN \
     (SELECT state FROM web_sign_ins ORDER BY created_at LIMIT $1)";

pub(crate) const INSERT_SIGN_IN: &str = "INSERT INTO web_sign_ins (state, browser_hash, nonce, \
     pkce_verifier, return_to, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

pub(crate) const TAKE_SIGN_IN: &str = "DELETE FROM web_sign_ins WHERE state = $1 \
     RETURNING state, browser_hash, nonce, pkce_verifier, return_to, created_at";

/// A `web_sessions` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRow {
    id_hash: String,
    person: String,
    role: String,
    via: String,
    csrf: String,
    created_at: i64,
    expires_at: i64,
}

impl SessionRow {
    pub(crate) fn into_session(self) -> Result<WebSession, StoreError> {
        Ok(WebSession {
            person: serde_json::from_str(&self.person)
                .map_err(|_| corrupt("session person", &self.person))?,
            role: Role::parse(&self.role).ok_or_else(|| corrupt("session role", &self.role))?,
            id_hash: self.id_hash,
            via: self.via,
            csrf: self.csrf,
            created_at: from_millis(self.created_at)?,
            expires_at: from_millis(self.expires_at)?,
        })
    }
}

/// A `web_sign_ins` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SignInRow {
    state: String,
    browser_hash: String,
    nonce: String,
    pkce_verifier: String,
    return_to: String,
    created_at: i64,
}

impl SignInRow {
    pub(crate) fn into_sign_in(self) -> Result<PendingSignIn, StoreError> {
        Ok(PendingSignIn {
            state: self.state,
            browser_hash: self.browser_hash,
            nonce: self.nonce,
            pkce_verifier: self.pkce_verifier,
            return_to: self.return_to,
            created_at: from_millis(self.created_at)?,
        })
    }
}

pub(crate) fn person_json(session: &WebSession) -> Result<String, StoreError> {
    serde_json::to_string(&session.person).map_err(|e| crate::backend("session person", e))
}

/// The `SessionStore` implementation for a backend that `impl_grant_store!` was
/// instantiated for (it uses that macro's `begin`, `append_event` and `sql`).
macro_rules! impl_session_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl aws_jit_app::ports::SessionStore for $store {
            async fn insert_session(
                &self,
                session: &aws_jit_core::web_session::WebSession,
                event: &aws_jit_core::AuditEvent,
                now: jiff::Timestamp,
            ) -> Result<(), aws_jit_app::ports::StoreError> {
                use $crate::common::millis;
                use $crate::sessions::{DELETE_ENDED_SESSIONS, INSERT_SESSION, person_json};
                let person = person_json(session)?;
                let mut tx = self.begin().await?;
                sqlx::query(sqlx::AssertSqlSafe(Self::sql(DELETE_ENDED_SESSIONS)))
                    .bind(millis(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                sqlx::query(sqlx::AssertSqlSafe(Self::sql(INSERT_SESSION)))
                    .bind(&session.id_hash)
                    .bind(person)
                    .bind(session.role.as_str())
                    .bind(&session.via)
                    .bind(&session.csrf)
                    .bind(millis(session.created_at))
                    .bind(millis(session.expires_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                Self::append_event(&mut tx, event).await?;
                tx.commit().await.map_err(Self::db)
            }

            async fn session(
                &self,
                id_hash: &str,
                now: jiff::Timestamp,
            ) -> Result<
                Option<aws_jit_core::web_session::WebSession>,
                aws_jit_app::ports::StoreError,
            > {
                use $crate::common::millis;
                use $crate::sessions::{SESSION_COLUMNS, SessionRow};
                let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(
                    &format!(
                        "SELECT {SESSION_COLUMNS} FROM web_sessions WHERE id_hash = $1 AND expires_at > $2"
                    ),
                )))
                .bind(id_hash)
                .bind(millis(now))
                .fetch_optional(&self.pool)
                .await
                .map_err(Self::db)?;
                row.map(SessionRow::into_session).transpose()
            }

            async fn delete_session(
                &self,
                id_hash: &str,
                event: &aws_jit_core::AuditEvent,
            ) -> Result<bool, aws_jit_app::ports::StoreError> {
                use $crate::sessions::DELETE_SESSION;
                let mut tx = self.begin().await?;
                let deleted = sqlx::query(sqlx::AssertSqlSafe(Self::sql(DELETE_SESSION)))
                    .bind(id_hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                if deleted.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::append_event(&mut tx, event).await?;
                tx.commit().await.map_err(Self::db)?;
                Ok(true)
            }

            async fn insert_sign_in(
                &self,
                sign_in: &aws_jit_core::web_session::PendingSignIn,
                lapsed_before: jiff::Timestamp,
            ) -> Result<bool, aws_jit_app::ports::StoreError> {
                use aws_jit_core::web_session::MAX_PENDING_SIGN_INS;
                use $crate::common::millis;
                use $crate::sessions::{
                    COUNT_SIGN_INS, DELETE_LAPSED_SIGN_INS, EVICT_OLDEST_SIGN_INS, INSERT_SIGN_IN,
                };
                let mut tx = self.begin().await?;
                sqlx::query(sqlx::AssertSqlSafe(Self::sql(DELETE_LAPSED_SIGN_INS)))
                    .bind(millis(lapsed_before))
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                let pending: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(Self::sql(COUNT_SIGN_INS)))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                if pending >= MAX_PENDING_SIGN_INS {
                    // Anyone can start sign-ins: the oldest make room (a tenth at a time),
                    // so that a flood delays no one who signs in promptly.
                    sqlx::query(sqlx::AssertSqlSafe(Self::sql(EVICT_OLDEST_SIGN_INS)))
                        .bind(MAX_PENDING_SIGN_INS / 10)
                        .execute(&mut *tx)
                        .await
                        .map_err(Self::db)?;
                }
                sqlx::query(sqlx::AssertSqlSafe(Self::sql(INSERT_SIGN_IN)))
                    .bind(&sign_in.state)
                    .bind(&sign_in.browser_hash)
                    .bind(&sign_in.nonce)
                    .bind(&sign_in.pkce_verifier)
                    .bind(&sign_in.return_to)
                    .bind(millis(sign_in.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::db)?;
                tx.commit().await.map_err(Self::db)?;
                Ok(true)
            }

            async fn take_sign_in(
                &self,
                state: &str,
            ) -> Result<
                Option<aws_jit_core::web_session::PendingSignIn>,
                aws_jit_app::ports::StoreError,
            > {
                use $crate::sessions::{SignInRow, TAKE_SIGN_IN};
                let row: Option<SignInRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(Self::sql(TAKE_SIGN_IN)))
                        .bind(state)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(Self::db)?;
                row.map(SignInRow::into_sign_in).transpose()
            }
        }
    };
}

pub(crate) use impl_session_store;
