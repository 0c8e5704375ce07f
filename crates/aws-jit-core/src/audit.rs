//! The audit record: one typed event per change to a grant.
//!
//! Audit events are domain data, not logs. The store appends them in the same transaction
//! as the change they describe, and never updates or deletes them. Every grant ends with
//! exactly one terminal event (`grant.revoked`, `grant.expired` or `grant.failed`).

use std::fmt;

use jiff::Timestamp;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// A grant was recorded and provisioning starts.
    GrantRequested,
    /// The access exists in AWS.
    GrantActivated,
    /// Ending started (on request, at expiry, or to undo an interrupted grant).
    GrantRevokeStarted,
    /// An attempt to remove the access failed; it will be retried.
    GrantRevokeFailed,
    /// Who owns the AWS access changed (standing access was replaced by the tool's).
    GrantOriginChanged,
    /// Reconciliation removed access that no live grant accounts for.
    DriftRemoved,
    /// Ended on request. Terminal.
    GrantRevoked,
    /// Ended at expiry. Terminal.
    GrantExpired,
    /// Never became active, or was undone. Terminal.
    GrantFailed,
    /// An active grant's expiry was moved later (within the access's maximum).
    GrantExtended,
    /// An API token was created.
    TokenCreated,
    /// An API token was revoked.
    TokenRevoked,
    /// A request was not authenticated (an API 401, a Slack signature that does not verify).
    ApiRefused,
    /// The decision point refused an action (any path: CLI, API, Slack, MCP, Kubiya).
    Refused,
    /// A request waits for approval.
    ApprovalRequested,
    /// An approver approved (the request proceeds once enough have).
    Approved,
    /// An approver denied the request. Terminal.
    Denied,
    /// Nobody decided in time. Terminal.
    Lapsed,
    /// The requester skipped approval in an emergency.
    BreakGlass,
    /// A person signed in to the web UI.
    SignedIn,
    /// A person signed out of the web UI.
    SignedOut,
    /// A web sign-in was refused (a forged, expired or replayed answer from the identity
    /// provider, a wrong `state`, a tampered session cookie, an email outside the allowed
    /// domains).
    SignInRefused,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 22] = [
        AuditAction::GrantRequested,
        AuditAction::GrantActivated,
        AuditAction::GrantRevokeStarted,
        AuditAction::GrantRevokeFailed,
        AuditAction::GrantOriginChanged,
        AuditAction::GrantRevoked,
        AuditAction::GrantExpired,
        AuditAction::GrantFailed,
        AuditAction::DriftRemoved,
        AuditAction::GrantExtended,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
        AuditAction::ApiRefused,
        AuditAction::Refused,
        AuditAction::ApprovalRequested,
        AuditAction::Approved,
        AuditAction::Denied,
        AuditAction::Lapsed,
        AuditAction::BreakGlass,
        AuditAction::SignedIn,
        AuditAction::SignedOut,
        AuditAction::SignInRefused,
    ];

    /// The action's dotted name, as stored and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::GrantRequested => "grant.requested",
            AuditAction::GrantActivated => "grant.activated",
            AuditAction::GrantRevokeStarted => "grant.revoke_started",
            AuditAction::GrantRevokeFailed => "grant.revoke_failed",
            AuditAction::GrantOriginChanged => "grant.origin_changed",
            AuditAction::DriftRemoved => "access.drift_removed",
            AuditAction::GrantRevoked => "grant.revoked",
            AuditAction::GrantExpired => "grant.expired",
            AuditAction::GrantFailed => "grant.failed",
            AuditAction::GrantExtended => "grant.extended",
            AuditAction::TokenCreated => "token.created",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::ApiRefused => "api.refused",
            AuditAction::Refused => "access.refused",
            AuditAction::ApprovalRequested => "approval.requested",
            AuditAction::Approved => "approval.approved",
            AuditAction::Denied => "approval.denied",
            AuditAction::Lapsed => "approval.lapsed",
            AuditAction::BreakGlass => "grant.break_glass",
            AuditAction::SignedIn => "web.signed_in",
            AuditAction::SignedOut => "web.signed_out",
            AuditAction::SignInRefused => "web.sign_in_refused",
        }
    }

    /// Parses a stored action name.
    pub fn parse(s: &str) -> Option<AuditAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether this event ends a grant's record.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            AuditAction::GrantRevoked
                | AuditAction::GrantExpired
                | AuditAction::GrantFailed
                | AuditAction::Denied
                | AuditAction::Lapsed
        )
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the log (assigned by the store; 0 before it is written).
    pub seq: i64,
    /// When.
    pub time: Timestamp,
    /// Who caused it, as stored: an [`crate::Actor`] in JSON ([`crate::Actor::to_stored`]),
    /// or the free text of events written before actors were structured.
    pub actor: String,
    /// What happened.
    pub action: AuditAction,
    /// The grant concerned.
    pub grant_id: String,
    /// The access's key.
    pub access: String,
    /// The user whose access changed.
    pub user: String,
    /// Human-readable specifics (reason, AWS error, what was kept and why).
    pub detail: String,
    /// The previous event's hash (assigned by the store; empty before it is written).
    pub prev_hash: String,
    /// This event's hash over its fields and `prev_hash` (assigned by the store).
    pub hash: String,
}

/// The `prev_hash` of the first event of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an event at position `seq` following `prev_hash`: SHA-256 over a canonical
/// JSON array of every field, hex-encoded.
pub fn chain_hash(prev_hash: &str, seq: i64, event: &AuditEvent) -> String {
    use sha2::Digest;
    let canonical = serde_json::json!([
        seq,
        event.time.as_millisecond(),
        event.actor,
        event.action.as_str(),
        event.grant_id,
        event.access,
        event.user,
        event.detail,
        prev_hash,
    ])
    .to_string();
    sha2::Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the audit chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The event's content does not match its hash.
    #[error("audit event {seq} was edited: its hash does not match its content")]
    Edited {
        /// The first bad event.
        seq: i64,
    },
    /// The event does not follow the one before it.
    #[error("the audit chain breaks at event {seq}: an event before it was deleted or reordered")]
    Broken {
        /// The first bad event.
        seq: i64,
    },
}

/// Checks a whole log, oldest first. Events written before the chain existed (empty hash)
/// may only come first. Returns how many chained events were verified.
pub fn verify_chain(events: &[AuditEvent]) -> Result<usize, ChainError> {
    let mut expected_prev: Option<&str> = None;
    let mut verified = 0;
    for event in events {
        if event.hash.is_empty() && expected_prev.is_none() {
            continue; // written before audit chaining
        }
        let want_prev = expected_prev.unwrap_or(GENESIS_HASH);
        if event.prev_hash != want_prev {
            return Err(ChainError::Broken { seq: event.seq });
        }
        if chain_hash(&event.prev_hash, event.seq, event) != event.hash {
            return Err(ChainError::Edited { seq: event.seq });
        }
        expected_prev = Some(&event.hash);
        verified += 1;
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = AuditEvent {
                    seq,
                    time: jiff::Timestamp::from_second(1_800_000_000 + seq).unwrap(),
                    actor: "alice@example.com".to_owned(),
                    action: AuditAction::GrantRequested,
                    grant_id: format!("g-{seq}"),
                    access: "a".to_owned(),
                    user: "alice@example.com".to_owned(),
                    detail: String::new(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = chain_hash(&prev, seq, &e);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
    }

    #[test]
    fn an_edited_event_is_named() {
        let mut events = chain(5);
        events[2].detail = "nothing to see".to_owned();
        assert_eq!(verify_chain(&events), Err(ChainError::Edited { seq: 3 }));
    }

    #[test]
    fn a_deleted_event_is_named_by_its_successor() {
        let mut events = chain(5);
        events.remove(1);
        assert_eq!(verify_chain(&events), Err(ChainError::Broken { seq: 3 }));
    }

    #[test]
    fn reordered_events_break_the_chain() {
        let mut events = chain(5);
        events.swap(1, 2);
        assert_eq!(verify_chain(&events), Err(ChainError::Broken { seq: 3 }));
    }
}
