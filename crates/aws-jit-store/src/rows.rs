//! The rows both backends return, and how they become domain values (grants have their
//! own module, [`crate::grant_row`]).

use aws_jit_app::ports::{OutboxMessage, PendingMessage, Recipient, StoreError};
use aws_jit_core::auth::{ApiToken, Role};
use aws_jit_core::{AuditAction, AuditEvent};

use crate::common::{corrupt, from_millis, opt_from_millis};

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
