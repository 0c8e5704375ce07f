//! Notifications: the messages each change queues in the outbox (rendered by
//! `core::slack`), and their delivery with retries.

use std::time::Duration;

use aws_jit_core::config::ApprovalPolicy;
use aws_jit_core::{Access, Grant, GrantStatus};
use jiff::Timestamp;

use super::{AppError, Jit};
use crate::ports::{Messenger, OutboxMessage, Recipient};

impl Jit {
    /// The approval request, to the channel (and thread): who asked, what, who may decide.
    pub(crate) fn approval_requested_messages(
        &self,
        grant: &Grant,
        policy: &ApprovalPolicy,
    ) -> Vec<OutboxMessage> {
        let Some(notify) = &self.settings.notify else {
            return Vec::new();
        };
        let Some(channel) = &notify.channel else {
            return Vec::new();
        };
        let message = aws_jit_core::slack::approval_requested(grant, policy);
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Channel {
                channel: channel.clone(),
                thread_ts: notify.thread_ts.clone(),
            },
            body: message_body(&message),
        }]
    }

    /// The requester learns that their request was denied or lapsed.
    pub(crate) fn closed_messages(&self, grant: &Grant, detail: &str) -> Vec<OutboxMessage> {
        if self.settings.notify.is_none() {
            return Vec::new();
        }
        let message = aws_jit_core::slack::request_closed(grant, detail);
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Person {
                email: grant.user.clone(),
            },
            body: message_body(&message),
        }]
    }

    /// The requester learns that their request was approved and the access is in place.
    pub(crate) fn approved_messages(&self, grant: &Grant) -> Vec<OutboxMessage> {
        if self.settings.notify.is_none() {
            return Vec::new();
        }
        let message = aws_jit_core::slack::request_approved(grant, self.clock.now());
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Person {
                email: grant.user.clone(),
            },
            body: message_body(&message),
        }]
    }

    /// Warns the users of grants that expire within the lead time
    /// (`AWS_JIT_EXPIRY_WARNING`), once per expiry, with an Extend button where the grant
    /// can be extended. A grant no longer than the lead time is not warned (it would be
    /// warned as it starts). Returns how many warnings were queued.
    pub async fn warn_expiring(&self, limit: usize) -> Result<usize, AppError> {
        let Some(lead) = self.settings.notify.as_ref().and_then(|n| n.expiry_warning) else {
            return Ok(0);
        };
        let now = self.clock.now();
        let before = now.checked_add(lead).unwrap_or(now);
        let mut queued = 0;
        for grant in self.store.expiring_unwarned(now, before, limit).await? {
            let lasts = grant.granted_at.map_or(Duration::ZERO, |at| {
                grant.expires_at.duration_since(at).unsigned_abs()
            });
            let break_glass = lasts > lead && self.began_by_break_glass(&grant).await?;
            let message = (lasts > lead).then(|| {
                let access = self.access(&grant.access).ok();
                let extendable = aws_jit_core::slack_views::extendable(
                    &grant,
                    access,
                    self.settings.global_max,
                    break_glass,
                );
                let message = aws_jit_core::slack::expiry_warning(&grant, extendable, now);
                OutboxMessage {
                    grant_id: grant.id.to_string(),
                    recipient: Recipient::Person {
                        email: grant.user.clone(),
                    },
                    body: message_body(&message),
                }
            });
            if self
                .store
                .record_warning(&grant, message.as_ref(), now)
                .await?
                && message.is_some()
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// A break-glass grant is announced in the admin channel, or else the channel.
    pub(crate) fn break_glass_alert(&self, grant: &Grant) -> Vec<OutboxMessage> {
        let Some(notify) = &self.settings.notify else {
            return Vec::new();
        };
        let Some(channel) = notify
            .admin_channel
            .clone()
            .or_else(|| notify.channel.clone())
        else {
            return Vec::new();
        };
        let message = aws_jit_core::slack::break_glass(grant);
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Channel {
                channel,
                thread_ts: None,
            },
            body: message_body(&message),
        }]
    }

    /// The granted message, for the request thread and the channel.
    pub(crate) fn granted_messages(
        &self,
        grant: &Grant,
        access: &Access,
        account_alias: Option<String>,
    ) -> Vec<OutboxMessage> {
        let Some(notify) = &self.settings.notify else {
            return Vec::new();
        };
        let Some(channel) = &notify.channel else {
            return Vec::new();
        };
        let how = aws_jit_core::slack::Instructions {
            account_alias,
            ..notify.instructions.clone()
        };
        let message = aws_jit_core::slack::granted(grant, access, &how, self.clock.now());
        let body = message_body(&message);
        let mut threads = vec![None];
        if notify.thread_ts.is_some() {
            threads.insert(0, notify.thread_ts.clone());
        }
        threads
            .into_iter()
            .map(|thread_ts| OutboxMessage {
                grant_id: grant.id.to_string(),
                recipient: Recipient::Channel {
                    channel: channel.clone(),
                    thread_ts,
                },
                body: body.clone(),
            })
            .collect()
    }

    /// The alias of the grant's account, for messages: known only for the tool's own
    /// account (an alias is read with that account's credentials), cached, best effort.
    pub(crate) async fn account_alias(&self, grant: &Grant) -> Option<String> {
        self.settings.notify.as_ref()?;
        let account = grant.target.account_id()?;
        let key = format!("account-alias:{account}");
        if let Ok(Some(cached)) = self.store.cache_get(&key).await {
            return (!cached.is_empty()).then_some(cached);
        }
        let own = match self.iam.caller_account().await {
            Ok((own, _)) => own,
            Err(e) => {
                tracing::debug!(error = %e, "no account alias: caller unknown");
                return None;
            }
        };
        let alias = if own == account {
            match self.iam.account_alias().await {
                Ok(alias) => alias,
                Err(e) => {
                    tracing::debug!(error = %e, "no account alias");
                    return None;
                }
            }
        } else {
            None
        };
        let _ = self
            .store
            .cache_put(&key, alias.as_deref().unwrap_or(""), self.clock.now())
            .await;
        alias
    }

    /// The revoked or expired message, to the user directly (none for undone grants: the
    /// user never had the access).
    pub(crate) fn ended_messages(&self, grant: &Grant) -> Vec<OutboxMessage> {
        if self.settings.notify.is_none()
            || !matches!(grant.status, GrantStatus::Revoked | GrantStatus::Expired)
        {
            return Vec::new();
        }
        let message = aws_jit_core::slack::ended(grant, self.clock.now());
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Person {
                email: grant.user.clone(),
            },
            body: message_body(&message),
        }]
    }

    /// The alert for a failed revocation, to the admin channel: on the first failure and
    /// then every fifth, so a stuck revocation is raised without flooding the channel.
    pub(crate) fn revoke_failed_messages(
        &self,
        grant: &Grant,
        next_attempt: Timestamp,
    ) -> Vec<OutboxMessage> {
        let Some(channel) = self
            .settings
            .notify
            .as_ref()
            .and_then(|n| n.admin_channel.clone())
        else {
            return Vec::new();
        };
        if grant.attempts != 1 && !grant.attempts.is_multiple_of(5) {
            return Vec::new();
        }
        let message = aws_jit_core::slack::revoke_failed(grant, next_attempt);
        vec![OutboxMessage {
            grant_id: grant.id.to_string(),
            recipient: Recipient::Channel {
                channel,
                thread_ts: None,
            },
            body: message_body(&message),
        }]
    }

    /// Delivers queued notifications (at most `limit`), retrying failures with backoff and
    /// giving up after [`MAX_DELIVERY_ATTEMPTS`] or a permanent error. Never fails an access
    /// change: it runs after them, from the worker or the CLI.
    pub async fn deliver_outbox(
        &self,
        messenger: &dyn Messenger,
        limit: usize,
    ) -> Result<DeliveryReport, AppError> {
        let now = self.clock.now();
        let lease = now.checked_add(Duration::from_secs(60)).unwrap_or(now);
        let mut report = DeliveryReport::default();
        for pending in self.store.claim_messages(now, lease, limit).await? {
            let outcome = messenger
                .deliver(&pending.message.recipient, &pending.message.body)
                .await;
            let now = self.clock.now();
            match outcome {
                Ok(()) => {
                    self.store.message_sent(pending.id, now).await?;
                    report.sent += 1;
                }
                Err(e) if e.permanent || pending.attempts + 1 >= MAX_DELIVERY_ATTEMPTS => {
                    tracing::error!(grant_id = %pending.message.grant_id, error = %e.message, "notification given up");
                    self.store
                        .message_failed(pending.id, &e.message, None, now)
                        .await?;
                    report.given_up.push(e.message);
                }
                Err(e) => {
                    let backoff = Duration::from_secs(2)
                        .saturating_mul(2u32.saturating_pow(pending.attempts.min(10)))
                        .min(Duration::from_secs(600));
                    let wait = e
                        .retry_after
                        .map_or(backoff, |after| after.max(Duration::from_secs(1)));
                    let retry_at = now.checked_add(wait).unwrap_or(now);
                    tracing::warn!(grant_id = %pending.message.grant_id, error = %e.message, retry_in = ?wait, "notification not delivered yet");
                    self.store
                        .message_failed(pending.id, &e.message, Some(retry_at), now)
                        .await?;
                    report.retried.push(e.message);
                }
            }
        }
        Ok(report)
    }
}

/// How many times a notification is tried before it is given up (about an hour).
pub const MAX_DELIVERY_ATTEMPTS: u32 = 12;

/// What a delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub sent: usize,
    /// Failed for now (the errors); retried later.
    pub retried: Vec<String>,
    /// Failed for good (the errors).
    pub given_up: Vec<String>,
}

/// The stored form of a message: its `text` and `blocks`.
pub(crate) fn message_body(message: &aws_jit_core::slack::Message) -> String {
    serde_json::json!({ "text": message.text, "blocks": message.blocks }).to_string()
}
