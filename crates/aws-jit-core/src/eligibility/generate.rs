//! The access entries' JSON fields as Cedar policies, one per rule, each with an `@id` that
//! refusals and `aws-jit policy explain` name:
//!
//! | id | from | effect |
//! |---|---|---|
//! | `requesters:KEY` | `requesters`, or `default_requesters` | permit request and extend |
//! | `open:KEY` | neither (every directory user may request) | permit request and extend |
//! | `break_glass:KEY` | `"break_glass": true`, for the same requesters | permit break_glass |
//! | `session_duration:KEY` | `session_duration` | forbid longer requests |
//! | `break_glass_duration:KEY` | `break_glass_duration` | forbid longer break-glass |
//! | `approvers:KEY` | `approvers` | permit approve and deny |
//!
//! `approvals_required`, `auto_approve` and `approval_timeout` route a request once it is
//! permitted (`core::approval`); they decide no permission, so they are not policies.

use std::fmt::Write as _;

use crate::config::{Access, Requesters};

/// A Cedar string literal.
pub fn cedar_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn access_uid(access: &Access) -> String {
    format!("AwsJit::Access::{}", cedar_str(&access.key))
}

/// `principal.names.containsAny([...]) || principal in AwsJit::Group::"…" || …`, or `None`
/// when the list names nobody.
fn people_condition(people: &[String], groups: &[String]) -> Option<String> {
    let mut terms = Vec::new();
    if !people.is_empty() {
        let list: Vec<String> = people.iter().map(|p| cedar_str(p)).collect();
        terms.push(format!(
            "principal.names.containsAny([{}])",
            list.join(", ")
        ));
    }
    for group in groups {
        terms.push(format!("principal in AwsJit::Group::{}", cedar_str(group)));
    }
    (!terms.is_empty()).then(|| terms.join(" || "))
}

fn permit(id: &str, actions: &str, access: &Access, condition: Option<&str>) -> String {
    let mut text = format!(
        "@id({})\npermit(principal, action {actions}, resource == {})",
        cedar_str(id),
        access_uid(access)
    );
    if let Some(condition) = condition {
        let _ = write!(text, "\nwhen {{ {condition} }}");
    }
    text.push_str(";\n");
    text
}

/// The policies for one access: `default` stands for entries without `requesters`.
pub(crate) fn access_policies(access: &Access, default: Option<&Requesters>) -> String {
    let key = &access.key;
    let request = r#"in [AwsJit::Action::"request", AwsJit::Action::"extend"]"#;
    let break_glass = r#"== AwsJit::Action::"break_glass""#;
    let mut text = String::new();
    let requesters = access.requesters.as_ref().or(default);
    let who = requesters.map(|r| people_condition(&r.people, &r.groups));
    match &who {
        // Nobody: only what policies.cedar permits.
        Some(None) => {}
        Some(Some(condition)) => {
            text.push_str(&permit(
                &format!("requesters:{key}"),
                request,
                access,
                Some(condition),
            ));
            if access.break_glass {
                text.push_str(&permit(
                    &format!("break_glass:{key}"),
                    break_glass,
                    access,
                    Some(condition),
                ));
            }
        }
        None => {
            text.push_str(&permit(&format!("open:{key}"), request, access, None));
            if access.break_glass {
                text.push_str(&permit(
                    &format!("break_glass:{key}"),
                    break_glass,
                    access,
                    None,
                ));
            }
        }
    }
    let _ = write!(
        text,
        "@id({})\nforbid(principal, action in [AwsJit::Action::\"request\", AwsJit::Action::\"break_glass\"], resource == {})\nwhen {{ context.duration_seconds > {} }};\n",
        cedar_str(&format!("session_duration:{key}")),
        access_uid(access),
        access.session_duration.as_seconds()
    );
    if access.break_glass {
        let _ = write!(
            text,
            "@id({})\nforbid(principal, action == AwsJit::Action::\"break_glass\", resource == {})\nwhen {{ context.duration_seconds > {} }};\n",
            cedar_str(&format!("break_glass_duration:{key}")),
            access_uid(access),
            access.break_glass_duration.as_seconds()
        );
    }
    if let Some(approval) = &access.approval
        && let Some(condition) = people_condition(&approval.approvers, &approval.groups)
    {
        text.push_str(&permit(
            &format!("approvers:{key}"),
            r#"in [AwsJit::Action::"approve", AwsJit::Action::"deny"]"#,
            access,
            Some(&condition),
        ));
    }
    text
}
