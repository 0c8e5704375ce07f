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
    /// Ended on request. Terminal.
    GrantRevoked,
    /// Ended at expiry. Terminal.
    GrantExpired,
    /// Never became active, or was undone. Terminal.
    GrantFailed,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 8] = [
        AuditAction::GrantRequested,
        AuditAction::GrantActivated,
        AuditAction::GrantRevokeStarted,
        AuditAction::GrantRevokeFailed,
        AuditAction::GrantOriginChanged,
        AuditAction::GrantRevoked,
        AuditAction::GrantExpired,
        AuditAction::GrantFailed,
    ];

    /// The action's dotted name, as stored and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::GrantRequested => "grant.requested",
            AuditAction::GrantActivated => "grant.activated",
            AuditAction::GrantRevokeStarted => "grant.revoke_started",
            AuditAction::GrantRevokeFailed => "grant.revoke_failed",
            AuditAction::GrantOriginChanged => "grant.origin_changed",
            AuditAction::GrantRevoked => "grant.revoked",
            AuditAction::GrantExpired => "grant.expired",
            AuditAction::GrantFailed => "grant.failed",
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
            AuditAction::GrantRevoked | AuditAction::GrantExpired | AuditAction::GrantFailed
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
    /// Who caused it: a user's email, `system:sweep`, `system:cli`.
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
}
