//! Grants and their lifecycle.
//!
//! A grant is one user's time-boxed use of one access. Its status moves through a small
//! state machine; [`GrantStatus::apply`] is the only place that decides which moves are
//! legal, and it is pure (time is an input, never read here).
//!
//! ```text
//! pending ──approve──▶ provisioning ──activated──▶ active ──revoke/expire──▶ revoking ──▶ revoked | expired
//!    │                     │  └──────failed──────▶ failed                     ▲   │
//!    └────deny/lapse──▶ failed                     undo (crash) ──────────────┘   └─ revoke failed: stays revoking, retried
//! ```

use std::fmt;

use jiff::Timestamp;

use crate::actor::{Actor, Person};
use crate::config::{Access, AccessTarget};
use crate::ids::{GrantId, UserEmail};
use crate::policy::BuiltinTemplate;
use crate::target::GrantTarget;

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantStatus {
    /// Waiting for approval (reserved for approval workflows).
    Pending,
    /// Recorded; access is being created in AWS.
    Provisioning,
    /// Access exists and is in use until `expires_at`.
    Active,
    /// Access is being removed (on request, at expiry, or to undo a crashed grant).
    Revoking,
    /// Ended early on request. Terminal.
    Revoked,
    /// Ended at its expiry. Terminal.
    Expired,
    /// Never became active. Terminal.
    Failed,
}

/// Why a grant is being (or was) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndCause {
    /// Someone asked.
    Requested,
    /// Its time ran out.
    Expired,
    /// It was interrupted while provisioning and is being undone.
    Undo,
}

/// Something that happened to a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEvent {
    /// Approval given (pending → provisioning).
    Approved,
    /// The request was denied, or lapsed unanswered (pending → failed).
    Closed,
    /// AWS confirmed the access exists.
    Activated,
    /// Provisioning failed and nothing is left in AWS.
    ProvisioningFailed,
    /// Ending starts.
    EndStarted(EndCause),
    /// AWS confirmed the access is gone (or was never ours to remove).
    Ended,
}

/// A move the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a grant that is {from} cannot take `{event:?}`")]
pub struct TransitionError {
    /// The status it was in.
    pub from: GrantStatus,
    /// The refused event.
    pub event: GrantEvent,
}

impl GrantStatus {
    /// Every status, for listings and metrics.
    pub const ALL: [GrantStatus; 7] = [
        GrantStatus::Pending,
        GrantStatus::Provisioning,
        GrantStatus::Active,
        GrantStatus::Revoking,
        GrantStatus::Revoked,
        GrantStatus::Expired,
        GrantStatus::Failed,
    ];

    /// The status's name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Pending => "pending",
            GrantStatus::Provisioning => "provisioning",
            GrantStatus::Active => "active",
            GrantStatus::Revoking => "revoking",
            GrantStatus::Revoked => "revoked",
            GrantStatus::Expired => "expired",
            GrantStatus::Failed => "failed",
        }
    }

    /// Parses a stored status name.
    pub fn parse(s: &str) -> Option<GrantStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Terminal statuses never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            GrantStatus::Revoked | GrantStatus::Expired | GrantStatus::Failed
        )
    }

    /// Whether access may exist in AWS on behalf of this grant.
    pub fn may_hold_access(self) -> bool {
        matches!(
            self,
            GrantStatus::Provisioning | GrantStatus::Active | GrantStatus::Revoking
        )
    }

    /// The next status after `event`, or why the move is illegal. `cause` is the end cause
    /// recorded on the grant, which decides how `Ended` finishes.
    pub fn apply(
        self,
        event: GrantEvent,
        cause: Option<EndCause>,
    ) -> Result<GrantStatus, TransitionError> {
        use GrantEvent as E;
        use GrantStatus as S;
        let next = match (self, event) {
            (S::Pending, E::Approved) => S::Provisioning,
            (S::Pending, E::Closed) => S::Failed,
            (S::Pending, E::ProvisioningFailed) => S::Failed,
            (S::Provisioning, E::Activated) => S::Active,
            (S::Provisioning, E::ProvisioningFailed) => S::Failed,
            (S::Provisioning, E::EndStarted(EndCause::Undo)) => S::Revoking,
            (S::Active, E::EndStarted(EndCause::Requested | EndCause::Expired)) => S::Revoking,
            (S::Revoking, E::Ended) => match cause {
                Some(EndCause::Requested) => S::Revoked,
                Some(EndCause::Expired) => S::Expired,
                Some(EndCause::Undo) => S::Failed,
                None => return Err(TransitionError { from: self, event }),
            },
            _ => return Err(TransitionError { from: self, event }),
        };
        Ok(next)
    }
}

impl fmt::Display for GrantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EndCause {
    /// The cause's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EndCause::Requested => "requested",
            EndCause::Expired => "expired",
            EndCause::Undo => "undo",
        }
    }

    /// Parses a stored cause name.
    pub fn parse(s: &str) -> Option<EndCause> {
        [EndCause::Requested, EndCause::Expired, EndCause::Undo]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Whether the AWS access behind a grant was there before the tool's grants.
///
/// This decides whether ending the last grant on a target removes the access: the tool
/// never removes access it did not create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessOrigin {
    /// Not decided yet: the grant never got as far as creating anything in AWS.
    Unknown,
    /// The tool created (or was about to create) the access for this chain of grants.
    CreatedByTool,
    /// The access was already there (standing access); never removed by the tool.
    Preexisting,
}

impl AccessOrigin {
    /// The origin's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessOrigin::Unknown => "unknown",
            AccessOrigin::CreatedByTool => "created",
            AccessOrigin::Preexisting => "preexisting",
        }
    }

    /// Parses a stored origin name.
    pub fn parse(s: &str) -> Option<AccessOrigin> {
        [
            AccessOrigin::Unknown,
            AccessOrigin::CreatedByTool,
            AccessOrigin::Preexisting,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// The AWS thing a grant gives, as a stable key: grants with equal keys share one AWS
/// assignment (or policy attachment), so ending one must not cut off another. A generated
/// policy belongs to one grant alone, so its key is the grant's own.
pub fn target_key(user: &UserEmail, target: &AccessTarget, grant_id: &GrantId) -> String {
    match target {
        AccessTarget::IdentityCenter {
            account_id,
            permission_set,
        } => format!(
            "sso:{}:{}:{}",
            account_id,
            permission_set,
            user.normalized()
        ),
        AccessTarget::EphemeralPermissionSet { .. } => format!("sso-ephemeral:{grant_id}"),
        AccessTarget::S3 {
            policy_template, ..
        } => match BuiltinTemplate::parse(policy_template) {
            Some(_) => format!("iam-generated:{grant_id}"),
            None => format!("iam-attach:{policy_template}:{}", user.normalized()),
        },
    }
}

/// One grant as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Its id.
    pub id: GrantId,
    /// The access's key in its config file.
    pub access: String,
    /// The user it is for (lowercase).
    pub user: String,
    /// Who asked for it (the user, or someone acting for them).
    pub requested_by: Actor,
    /// The stable key of the AWS access it gives; see [`target_key`].
    pub target_key: String,
    /// The person's Identity Center user id, when the directory knows them.
    pub user_id: Option<String>,
    /// What it changes in AWS.
    pub target: GrantTarget,
    /// For a request waiting for approval: the duration asked for (its `expires_at` is
    /// the approval deadline until it is approved).
    pub requested_duration: Option<crate::AccessDuration>,
    /// Where it is in its life.
    pub status: GrantStatus,
    /// Why it is ending or ended.
    pub end_cause: Option<EndCause>,
    /// Whether the tool created the AWS access.
    pub origin: AccessOrigin,
    /// The requester's reason.
    pub reason: Option<String>,
    /// When it was asked for.
    pub requested_at: Timestamp,
    /// When it became active.
    pub granted_at: Option<Timestamp>,
    /// When it ends.
    pub expires_at: Timestamp,
    /// When it ended (revoked, expired or failed).
    pub ended_at: Option<Timestamp>,
    /// The last error, for failed grants and failed revocations.
    pub last_error: Option<String>,
    /// Failed removal attempts so far.
    pub attempts: u32,
    /// Optimistic-concurrency version, bumped on every change.
    pub version: i64,
}

impl Grant {
    /// The person the grant is for, as the directory resolved them when it was recorded.
    pub fn person(&self) -> Person {
        Person {
            email: self.user.clone(),
            id: self.user_id.clone(),
            aliases: Vec::new(),
        }
    }
}

/// Builds a new grant record in `provisioning`.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    /// Its id.
    pub id: GrantId,
    /// The access granted.
    pub access: &'a Access,
    /// For whom (the directory's canonical address).
    pub user: &'a UserEmail,
    /// Their Identity Center user id, when the directory knows them.
    pub user_id: Option<String>,
    /// By whom.
    pub requested_by: &'a Actor,
    /// What it changes in AWS.
    pub target: GrantTarget,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub now: Timestamp,
    /// When it ends.
    pub expires_at: Timestamp,
}

impl NewGrant<'_> {
    /// The record of a request waiting for approval: `pending`, keeping the duration asked
    /// for (its `expires_at` is the approval deadline until it is approved).
    pub fn into_request(self, duration: crate::AccessDuration) -> Grant {
        Grant {
            status: GrantStatus::Pending,
            requested_duration: Some(duration),
            ..self.into_grant()
        }
    }

    /// The record, in `provisioning`.
    pub fn into_grant(self) -> Grant {
        let target_key = target_key(self.user, &self.access.target, &self.id);
        Grant {
            id: self.id,
            access: self.access.key.clone(),
            user: self.user.normalized(),
            requested_by: self.requested_by.clone(),
            target_key,
            user_id: self.user_id,
            target: self.target,
            status: GrantStatus::Provisioning,
            requested_duration: None,
            end_cause: None,
            origin: AccessOrigin::Unknown,
            reason: self.reason,
            requested_at: self.now,
            granted_at: None,
            expires_at: self.expires_at,
            ended_at: None,
            last_error: None,
            attempts: 0,
            version: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_event() -> impl Strategy<Value = GrantEvent> {
        let cause = prop_oneof![
            Just(EndCause::Requested),
            Just(EndCause::Expired),
            Just(EndCause::Undo)
        ];
        prop_oneof![
            Just(GrantEvent::Approved),
            Just(GrantEvent::Closed),
            Just(GrantEvent::Activated),
            Just(GrantEvent::ProvisioningFailed),
            cause.prop_map(GrantEvent::EndStarted),
            Just(GrantEvent::Ended),
        ]
    }

    /// Drives a status through events, tracking the end cause as the app does.
    fn run(events: &[GrantEvent]) -> Vec<GrantStatus> {
        run_from(GrantStatus::Provisioning, events)
    }

    /// The same, from any status.
    fn run_from(start: GrantStatus, events: &[GrantEvent]) -> Vec<GrantStatus> {
        let mut status = start;
        let mut cause = None;
        let mut seen = vec![status];
        for &event in events {
            if let Ok(next) = status.apply(event, cause) {
                if let GrantEvent::EndStarted(c) = event {
                    cause = Some(c);
                }
                status = next;
                seen.push(status);
            }
        }
        seen
    }

    #[test]
    fn the_happy_path_ends_in_revoked_or_expired() {
        let s = GrantStatus::Provisioning
            .apply(GrantEvent::Activated, None)
            .unwrap();
        assert_eq!(s, GrantStatus::Active);
        let s = s
            .apply(GrantEvent::EndStarted(EndCause::Expired), None)
            .unwrap();
        assert_eq!(s, GrantStatus::Revoking);
        assert_eq!(
            s.apply(GrantEvent::Ended, Some(EndCause::Expired)).unwrap(),
            GrantStatus::Expired
        );
        assert_eq!(
            s.apply(GrantEvent::Ended, Some(EndCause::Requested))
                .unwrap(),
            GrantStatus::Revoked
        );
    }

    #[test]
    fn an_interrupted_grant_is_undone_into_failed() {
        let s = GrantStatus::Provisioning
            .apply(GrantEvent::EndStarted(EndCause::Undo), None)
            .unwrap();
        assert_eq!(
            s.apply(GrantEvent::Ended, Some(EndCause::Undo)).unwrap(),
            GrantStatus::Failed
        );
    }

    #[test]
    fn an_active_grant_cannot_be_undone_and_a_pending_one_cannot_activate() {
        assert!(
            GrantStatus::Active
                .apply(GrantEvent::EndStarted(EndCause::Undo), None)
                .is_err()
        );
        assert!(
            GrantStatus::Pending
                .apply(GrantEvent::Activated, None)
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn no_event_sequence_makes_an_ended_grant_active(events in proptest::collection::vec(any_event(), 0..24)) {
            let seen = run(&events);
            if let Some(first_terminal) = seen.iter().position(|s| s.is_terminal()) {
                prop_assert!(seen[first_terminal..].iter().all(|s| *s == seen[first_terminal]));
            }
            if let Some(first_revoking) = seen.iter().position(|s| *s == GrantStatus::Revoking) {
                prop_assert!(!seen[first_revoking..].contains(&GrantStatus::Active));
            }
        }
    }

    proptest! {
        #[test]
        fn a_request_waiting_for_approval_gets_access_only_through_an_approval(
            events in proptest::collection::vec(any_event(), 0..24)
        ) {
            let seen = run_from(GrantStatus::Pending, &events);
            // Without an approval it can only wait or end as failed.
            if !events.contains(&GrantEvent::Approved) {
                prop_assert!(seen.iter().all(|s| matches!(s, GrantStatus::Pending | GrantStatus::Failed)));
            }
            // Once closed, it stays failed.
            if let Some(closed) = seen.iter().position(|s| *s == GrantStatus::Failed) {
                prop_assert!(seen[closed..].iter().all(|s| *s == GrantStatus::Failed));
            }
        }
    }
}
