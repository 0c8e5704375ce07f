//! Approval rules: which requests wait for approval, who may decide, and when enough
//! people have. Pure functions of the access, the people and the decisions so far.

use crate::actor::Person;
use crate::config::{Access, ApprovalPolicy};

/// How a request proceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// The access needs no approval.
    Immediate,
    /// The requester is on the access's `auto_approve` list.
    AutoApproved,
    /// The request waits for approval.
    NeedsApproval(&'a ApprovalPolicy),
    /// The requester skips approval in an emergency (`break_glass`), with a reason; the
    /// channel is alerted.
    BreakGlass,
}

pub use crate::authorize::Refusal;

fn blank(reason: Option<&str>) -> bool {
    reason.is_none_or(|r| r.trim().is_empty())
}

/// How a request by `user` for `access` proceeds.
pub fn route<'a>(
    access: &'a Access,
    user: &Person,
    break_glass: bool,
    reason: Option<&str>,
) -> Result<Route<'a>, Refusal> {
    if break_glass {
        if !access.break_glass {
            return Err(Refusal(format!(
                "`{}` does not allow break-glass requests",
                access.key
            )));
        }
        if blank(reason) {
            return Err(Refusal(
                "a break-glass request needs a reason: say what the emergency is".to_owned(),
            ));
        }
        return Ok(Route::BreakGlass);
    }
    if access.require_reason && blank(reason) {
        return Err(Refusal(format!(
            "`{}` requires a reason: say why you need it",
            access.key
        )));
    }
    Ok(match &access.approval {
        None => Route::Immediate,
        Some(policy) if policy.auto_approve.iter().any(|u| user.is_named(u)) => Route::AutoApproved,
        Some(policy) => Route::NeedsApproval(policy),
    })
}

/// Whether `approvals` distinct approvals are enough.
pub fn quorum(policy: &ApprovalPolicy, approvals: usize) -> bool {
    approvals >= policy.required
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Catalog, ConfigFile, ConfigSource};

    fn access(extra: &str) -> Access {
        let text = format!(
            r#"{{"A": {{"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H"{extra}}}}}"#
        );
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: &text,
        }])
        .unwrap();
        catalog.accesses()[0].clone()
    }

    fn a() -> Person {
        Person::unresolved("a@example.com")
    }

    const TWO: &str = r#", "approvers": ["lead@example.com", "sec@example.com", "cto@example.com"], "approvals_required": 2, "auto_approve": {"users": ["oncall@example.com"]}, "break_glass": true"#;

    #[test]
    fn requests_route_by_the_accesss_rules() {
        assert_eq!(route(&access(""), &a(), false, None), Ok(Route::Immediate));
        let guarded = access(TWO);
        assert!(
            matches!(route(&guarded, &a(), false, None), Ok(Route::NeedsApproval(p)) if p.required == 2)
        );
        assert_eq!(
            route(
                &guarded,
                &Person::unresolved("OnCall@example.com"),
                false,
                None
            ),
            Ok(Route::AutoApproved)
        );
        assert_eq!(
            route(&guarded, &a(), true, Some("db down")),
            Ok(Route::BreakGlass)
        );
        assert!(route(&guarded, &a(), true, Some("  ")).is_err());
        assert!(route(&access(""), &a(), true, Some("db down")).is_err());
        let reasoned = access(r#", "require_reason": true"#);
        assert!(route(&reasoned, &a(), false, None).is_err());
        assert_eq!(
            route(&reasoned, &a(), false, Some("ticket 7")),
            Ok(Route::Immediate)
        );
    }

    #[test]
    fn the_quorum_counts_distinct_approvals() {
        let guarded = access(TWO);
        let policy = guarded.approval.as_ref().unwrap();
        assert!(!quorum(policy, 1));
        assert!(quorum(policy, 2));
    }
}
