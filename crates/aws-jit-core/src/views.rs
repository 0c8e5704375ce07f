//! The JSON views of grants, accesses and audit events: stable field names that scripts
//! and API clients rely on, times in RFC 3339 UTC (whole seconds). The CLI's `--output json`
//! and the HTTP API return exactly these.

use jiff::Timestamp;
use serde::Serialize;

use crate::{Access, AccessTarget, Actor, AuditEvent, Grant, GrantStatus, GrantTarget};

/// A time as printed: RFC 3339 UTC, whole seconds (the store keeps milliseconds).
pub fn rfc3339(t: Timestamp) -> String {
    // Whole seconds keep the output stable and readable; the store keeps milliseconds.
    let seconds = Timestamp::from_second(t.as_second()).unwrap_or(t);
    seconds.to_string()
}

/// A grant as scripts see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct GrantView {
    id: String,
    access: String,
    user: String,
    status: &'static str,
    requested_by: String,
    account_id: Option<String>,
    permission_set: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    permission_set_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iam_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_arn: Option<String>,
    requested_at: String,
    granted_at: Option<String>,
    expires_at: String,
    revoked_at: Option<String>,
    ended_at: Option<String>,
    reason: Option<String>,
    origin: &'static str,
    last_error: Option<String>,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        let ended_at = g.ended_at.map(rfc3339);
        GrantView {
            id: g.id.to_string(),
            access: g.access.clone(),
            user: g.user.clone(),
            status: g.status.as_str(),
            requested_by: g.requested_by.to_string(),
            account_id: g.target.account_id().map(str::to_owned),
            permission_set: g.target.permission_set().map(str::to_owned),
            permission_set_arn: match &g.target {
                GrantTarget::EphemeralPermissionSet {
                    permission_set_arn, ..
                } => permission_set_arn.clone(),
                _ => None,
            },
            iam_user: g.target.iam_user().map(str::to_owned),
            policy_arn: g.target.policy_arn().map(str::to_owned),
            requested_at: rfc3339(g.requested_at),
            granted_at: g.granted_at.map(rfc3339),
            expires_at: rfc3339(g.expires_at),
            revoked_at: if matches!(g.status, GrantStatus::Revoked | GrantStatus::Expired) {
                ended_at.clone()
            } else {
                None
            },
            ended_at,
            reason: g.reason.clone(),
            origin: g.origin.as_str(),
            last_error: g.last_error.clone(),
        }
    }
}

impl GrantView {
    /// The expiry, as printed.
    pub fn expires_at_str(&self) -> &str {
        &self.expires_at
    }
}

/// A grant's view with one more field when it has a value (`capped_from` after a grant,
/// `kept` after a revoke): the one shape the CLI, the API and MCP answer with.
pub fn grant_view_with(grant: &Grant, key: &str, value: Option<String>) -> serde_json::Value {
    let mut view = serde_json::to_value(GrantView::from(grant)).unwrap_or_default();
    if let (Some(map), Some(value)) = (view.as_object_mut(), value) {
        map.insert(key.to_owned(), serde_json::Value::String(value));
    }
    view
}

/// A request waiting for approval, as its approvers see it: the grant, who approved it
/// so far, and how many approvals it needs.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PendingView {
    #[serde(flatten)]
    grant: GrantView,
    /// Who approved it so far (canonical emails).
    approved_by: Vec<String>,
    /// How many distinct approvals it needs in all.
    approvals_required: usize,
}

impl PendingView {
    /// The view of `grant`, approved so far by `approved_by`, needing `required`.
    pub fn new(grant: &Grant, approved_by: Vec<String>, required: usize) -> PendingView {
        PendingView {
            grant: GrantView::from(grant),
            approved_by,
            approvals_required: required,
        }
    }
}

/// An access as scripts see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AccessView {
    key: String,
    name: String,
    slug: String,
    description: String,
    file: &'static str,
    kind: &'static str,
    max_duration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    permission_set: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buckets: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_template: Option<String>,
}

impl From<&Access> for AccessView {
    fn from(a: &Access) -> Self {
        let mut view = AccessView {
            key: a.key.clone(),
            name: a.name.clone(),
            slug: a.slug.clone(),
            description: a.description.clone(),
            file: a.source.file_name(),
            kind: "sso",
            max_duration: a.session_duration.to_string(),
            account_id: None,
            permission_set: None,
            buckets: None,
            policy_template: None,
        };
        match &a.target {
            AccessTarget::IdentityCenter {
                account_id,
                permission_set,
            } => {
                view.account_id = Some(account_id.to_string());
                view.permission_set = Some(permission_set.to_string());
            }
            AccessTarget::EphemeralPermissionSet { account_id, policy } => {
                view.kind = "sso-ephemeral";
                view.account_id = Some(account_id.to_string());
                if let Some((buckets, template)) = &policy.s3 {
                    view.buckets = Some(buckets.iter().map(ToString::to_string).collect());
                    view.policy_template = Some(template.name().to_owned());
                }
            }
            AccessTarget::S3 {
                buckets,
                policy_template,
            } => {
                view.kind = "s3";
                view.buckets = Some(buckets.iter().map(ToString::to_string).collect());
                view.policy_template = Some(policy_template.clone());
            }
        }
        view
    }
}

/// An audit event as exported.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditView {
    seq: i64,
    time: String,
    /// Who, as people read it.
    actor: String,
    /// Who, structured (principal, channel, on whose behalf).
    actor_detail: serde_json::Value,
    /// The actor exactly as stored, which the hash covers.
    actor_stored: String,
    action: &'static str,
    grant_id: String,
    access: String,
    user: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl From<&AuditEvent> for AuditView {
    fn from(e: &AuditEvent) -> Self {
        AuditView {
            seq: e.seq,
            time: rfc3339(e.time),
            actor: Actor::from_stored(&e.actor).to_string(),
            actor_detail: serde_json::to_value(Actor::from_stored(&e.actor)).unwrap_or_default(),
            actor_stored: e.actor.clone(),
            action: e.action.as_str(),
            grant_id: e.grant_id.clone(),
            access: e.access.clone(),
            user: e.user.clone(),
            detail: e.detail.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}
