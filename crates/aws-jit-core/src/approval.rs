//! Approval rules: which requests wait for approval, who may decide, and when enough
//! people have. Pure functions of the access, the people and the decisions so far.

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

/// Why a request or a decision is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn blank(reason: Option<&str>) -> bool {
    reason.is_none_or(|r| r.trim().is_empty())
}

/// How a request by `user` for `access` proceeds.
pub fn route<'a>(
    access: &'a Access,
    user: &str,
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
        Some(policy) if policy.auto_approve.iter().any(|u| u == user) => Route::AutoApproved,
        Some(policy) => Route::NeedsApproval(policy),
    })
}

/// The person who made a request, from its recorded `requested_by`: the email it starts
/// with (`alice@example.com`, `alice@example.com (token t)`, `lead@example.com (token t) on
/// behalf of bob@example.com`, `alice@example.com (mcp)`), if any.
pub fn requesting_person(requested_by: &str) -> Option<String> {
    let first = requested_by.split_whitespace().next()?;
    first
        .contains('@')
        .then(|| first.trim_matches(|c| c == '(' || c == ')').to_lowercase())
}

/// Whether `approver` may decide on `user`'s request, given who approved already;
/// `in_group` says whether they belong to one of the access's approver groups.
pub fn check_approver(
    access: &Access,
    user: &str,
    approver: &str,
    in_group: bool,
    approved_by: &[String],
) -> Result<(), Refusal> {
    let Some(policy) = &access.approval else {
        return Err(Refusal(format!("`{}` needs no approval", access.key)));
    };
    if approver == user {
        return Err(Refusal(
            "you may not approve or deny your own request".to_owned(),
        ));
    }
    if !in_group && !policy.approvers.iter().any(|a| a == approver) {
        let groups = policy.groups.iter().map(|g| format!("group {g}"));
        let listed: Vec<String> = policy.approvers.iter().cloned().chain(groups).collect();
        return Err(Refusal(format!(
            "{approver} is not an approver of `{}` (approvers: {})",
            access.key,
            listed.join(", ")
        )));
    }
    if approved_by.iter().any(|a| a == approver) {
        return Err(Refusal(format!(
            "{approver} has approved this request already: approvals must come from distinct people"
        )));
    }
    Ok(())
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

    const TWO: &str = r#", "approvers": ["lead@example.com", "sec@example.com", "cto@example.com"], "approvals_required": 2, "auto_approve": {"users": ["oncall@example.com"]}, "break_glass": true"#;

    #[test]
    fn requests_route_by_the_accesss_rules() {
        assert_eq!(
            route(&access(""), "a@example.com", false, None),
            Ok(Route::Immediate)
        );
        let guarded = access(TWO);
        assert!(
            matches!(route(&guarded, "a@example.com", false, None), Ok(Route::NeedsApproval(p)) if p.required == 2)
        );
        assert_eq!(
            route(&guarded, "oncall@example.com", false, None),
            Ok(Route::AutoApproved)
        );
        assert_eq!(
            route(&guarded, "a@example.com", true, Some("db down")),
            Ok(Route::BreakGlass)
        );
        assert!(route(&guarded, "a@example.com", true, Some("  ")).is_err());
        assert!(route(&access(""), "a@example.com", true, Some("db down")).is_err());
        let reasoned = access(r#", "require_reason": true"#);
        assert!(route(&reasoned, "a@example.com", false, None).is_err());
        assert_eq!(
            route(&reasoned, "a@example.com", false, Some("ticket 7")),
            Ok(Route::Immediate)
        );
    }

    #[test]
    fn the_requesting_person_is_read_from_the_record() {
        assert_eq!(
            requesting_person("Alice@Example.com (token t)").as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            requesting_person("lead@example.com (token t) on behalf of bob@example.com").as_deref(),
            Some("lead@example.com")
        );
        assert_eq!(
            requesting_person("token agent on behalf of bob@example.com"),
            None
        );
        assert_eq!(requesting_person("cli:root"), None);
    }

    #[test]
    fn only_distinct_listed_approvers_other_than_the_requester_decide() {
        let guarded = access(TWO);
        let user = "lead@example.com";
        assert_eq!(
            check_approver(&guarded, user, user, true, &[]),
            Err(Refusal(
                "you may not approve or deny your own request".to_owned()
            ))
        );
        assert!(
            check_approver(&guarded, "a@example.com", "mallory@example.com", false, &[]).is_err()
        );
        assert!(
            check_approver(&guarded, "a@example.com", "mallory@example.com", true, &[]).is_ok(),
            "a group member"
        );
        assert!(check_approver(&guarded, "a@example.com", "sec@example.com", false, &[]).is_ok());
        let already = ["sec@example.com".to_owned()];
        assert!(
            check_approver(
                &guarded,
                "a@example.com",
                "sec@example.com",
                false,
                &already
            )
            .is_err()
        );
        let policy = guarded.approval.as_ref().unwrap();
        assert!(!quorum(policy, 1));
        assert!(quorum(policy, 2));
    }
}
