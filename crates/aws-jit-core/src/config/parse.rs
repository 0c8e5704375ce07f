//! Validating one file's entries into accesses, collecting every problem.

use std::fmt;

use serde_json::Value;

use super::eligibility_fields::{parse_requesters, parse_tags};
use super::ordered_json::{RawEntry, TopLevel};
use super::*;
use crate::duration::AccessDuration;
use crate::ids::{AccountId, BucketName, PermissionSetName, UserEmail, is_iam_name_char};
use crate::policy::BuiltinTemplate;

pub(crate) struct EntryCtx<'a> {
    pub(crate) file: ConfigFile,
    pub(crate) key: &'a str,
    pub(crate) fields: &'a [(String, Value)],
    pub(crate) problems: &'a mut Vec<ConfigProblem>,
}

impl EntryCtx<'_> {
    pub(crate) fn problem(&mut self, field: Option<&str>, kind: ProblemKind) {
        self.problems.push(ConfigProblem {
            file: self.file.file_name().to_owned(),
            entry: Some(self.key.to_owned()),
            field: field.map(str::to_owned),
            kind,
        });
    }

    fn get(&mut self, field: &str) -> Option<&Value> {
        let found = self.fields.iter().find(|(k, _)| k == field).map(|(_, v)| v);
        if found.is_none()
            && self
                .file
                .fields()
                .iter()
                .any(|f| f.name == field && f.required)
        {
            self.problem(Some(field), ProblemKind::MissingField);
        }
        found
    }

    fn string(&mut self, field: &str) -> Option<String> {
        match self.get(field)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.problem(
                    Some(field),
                    ProblemKind::WrongType {
                        expected: "a string",
                    },
                );
                None
            }
        }
    }

    fn non_empty_string(&mut self, field: &str) -> Option<String> {
        let s = self.string(field)?;
        if s.trim().is_empty() {
            self.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: "must not be empty".to_owned(),
                },
            );
            return None;
        }
        Some(s)
    }

    fn parsed<T, E: fmt::Display>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let s = self.string(field)?;
        match parse(&s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(
                    Some(field),
                    ProblemKind::Invalid {
                        reason: e.to_string(),
                    },
                );
                None
            }
        }
    }

    /// A text within `max` characters and without control characters (line breaks and
    /// tabs aside), or a problem: names end up in tool names, Slack messages and the log.
    fn at_most(&mut self, field: &str, text: String, max: usize) -> Option<String> {
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: "control characters are not allowed".to_owned(),
                },
            );
            return None;
        }
        let n = text.chars().count();
        if n > max {
            self.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: format!("{n} characters, over the limit of {max}"),
                },
            );
            return None;
        }
        Some(text)
    }

    /// An optional `true`/`false` field (absent is `false`).
    fn flag(&mut self, field: &str) -> bool {
        match self.fields.iter().find(|(k, _)| k == field) {
            None => false,
            Some((_, Value::Bool(b))) => *b,
            Some(_) => {
                self.problem(
                    Some(field),
                    ProblemKind::WrongType {
                        expected: "`true` or `false`",
                    },
                );
                false
            }
        }
    }

    fn check_field_names(&mut self) {
        let allowed: Vec<&'static str> = self.file.fields().iter().map(|f| f.name).collect();
        let mut seen: Vec<&str> = Vec::new();
        let names: Vec<String> = self.fields.iter().map(|(k, _)| k.clone()).collect();
        for name in &names {
            if seen.contains(&name.as_str()) {
                self.problem(Some(name), ProblemKind::DuplicateField);
            } else if !allowed.contains(&name.as_str()) {
                self.problem(
                    Some(name),
                    ProblemKind::UnknownField {
                        allowed: allowed.clone(),
                        suggestion: crate::text::closest(name, allowed.iter().copied()),
                    },
                );
            }
            seen.push(name);
        }
    }
}

pub(crate) fn parse_file(
    source: ConfigSource<'_>,
    accesses: &mut Vec<Access>,
    problems: &mut Vec<ConfigProblem>,
) {
    let file_problem = |kind| ConfigProblem {
        file: source.file.file_name().to_owned(),
        entry: None,
        field: None,
        kind,
    };
    let top: TopLevel = match serde_json::from_str(source.text) {
        Ok(t) => t,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            problems.push(file_problem(ProblemKind::NotAnObject));
            return;
        }
        Err(e) => {
            let message = e.to_string();
            // serde_json appends " at line L column C"; we print those separately.
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m)
                .to_owned();
            problems.push(file_problem(ProblemKind::Syntax {
                line: e.line(),
                column: e.column(),
                message,
            }));
            return;
        }
    };
    let first_in_file = accesses.len();
    let mut seen_keys: Vec<&str> = Vec::new();
    for (key, entry) in &top.0 {
        // Editors attach the schema with a top-level `"$schema": "…"`; it is no access.
        if key == "$schema" && matches!(entry, RawEntry::Other) {
            continue;
        }
        if seen_keys.contains(&key.as_str()) {
            problems.push(ConfigProblem {
                entry: Some(key.clone()),
                ..file_problem(ProblemKind::DuplicateEntry)
            });
            continue;
        }
        seen_keys.push(key);
        let RawEntry::Object(fields) = entry else {
            problems.push(ConfigProblem {
                entry: Some(key.clone()),
                ..file_problem(ProblemKind::EntryNotAnObject)
            });
            continue;
        };
        let mut ctx = EntryCtx {
            file: source.file,
            key,
            fields,
            problems,
        };
        if let Some(access) = parse_entry(&mut ctx) {
            let clash = accesses
                .get(first_in_file..)
                .unwrap_or_default()
                .iter()
                .find(|a| a.slug == access.slug);
            if let Some(other) = clash {
                let kind = ProblemKind::DuplicateSlug {
                    slug: access.slug.clone(),
                    other: other.key.clone(),
                };
                ctx.problem(Some("name"), kind);
            } else {
                accesses.push(access);
            }
        }
    }
}

pub(crate) fn parse_entry(ctx: &mut EntryCtx<'_>) -> Option<Access> {
    let before = ctx.problems.len();
    ctx.check_field_names();
    let name = ctx
        .non_empty_string("name")
        .and_then(|n| ctx.at_most("name", n, MAX_NAME_CHARS));
    let description = match has(ctx, "description") {
        true => ctx
            .string("description")
            .and_then(|d| ctx.at_most("description", d, MAX_DESCRIPTION_CHARS)),
        false => Some(String::new()),
    };
    let target = match ctx.file {
        ConfigFile::AccessConfigs => parse_identity_center(ctx),
        ConfigFile::S3Configs => {
            let buckets = parse_buckets(ctx);
            let policy_template = ctx.parsed("policy_template", check_policy_template);
            match (buckets, policy_template) {
                (Some(buckets), Some(policy_template)) => Some(AccessTarget::S3 {
                    buckets,
                    policy_template,
                }),
                _ => None,
            }
        }
    };
    let session_duration = ctx.parsed("session_duration", AccessDuration::parse);
    let managed_exclusively = ctx.flag("managed_exclusively");
    let require_reason = ctx.flag("require_reason");
    let break_glass = ctx.flag("break_glass");
    let break_glass_duration = if has(ctx, "break_glass_duration") {
        if !break_glass {
            ctx.problem(
                Some("break_glass_duration"),
                ProblemKind::Invalid {
                    reason: "only meaningful with `\"break_glass\": true`".to_owned(),
                },
            );
        }
        ctx.parsed("break_glass_duration", AccessDuration::parse)
    } else {
        AccessDuration::parse(DEFAULT_BREAK_GLASS_DURATION).ok()
    };
    let approval = parse_approval(ctx);
    let requesters = parse_requesters(ctx);
    let tags = parse_tags(ctx);
    if ctx.problems.len() != before {
        return None;
    }
    let name = name?;
    Some(Access {
        key: ctx.key.to_owned(),
        slug: slug(&name),
        name,
        description: description?,
        source: ctx.file,
        session_duration: session_duration?,
        target: target?,
        managed_exclusively,
        requesters,
        tags: tags?,
        approval,
        require_reason,
        break_glass,
        break_glass_duration: break_glass_duration?,
    })
}

/// A list of emails, lowercased; `None` (with a problem) if it is not one.
pub(crate) fn email_list(ctx: &mut EntryCtx<'_>, field: &str) -> Option<Vec<String>> {
    let Some(value) = ctx
        .fields
        .iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v.clone())
    else {
        return Some(Vec::new());
    };
    let Value::Array(items) = value else {
        ctx.problem(
            Some(field),
            ProblemKind::WrongType {
                expected: "a list of emails",
            },
        );
        return None;
    };
    let mut emails: Vec<String> = Vec::new();
    for item in &items {
        let parsed = item.as_str().map(UserEmail::parse);
        match parsed {
            Some(Ok(email)) if !emails.contains(&email.normalized()) => {
                emails.push(email.normalized())
            }
            Some(Ok(email)) => ctx.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: format!("`{}` is listed twice", email.normalized()),
                },
            ),
            Some(Err(e)) => ctx.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: e.to_string(),
                },
            ),
            None => ctx.problem(
                Some(field),
                ProblemKind::WrongType {
                    expected: "a list of emails",
                },
            ),
        }
    }
    Some(emails)
}

/// Splits a list of people (`approvers`, `requesters`) into group names (`group:NAME`) and
/// the other entries (left for the email check; a non-list is left whole, for its type
/// error).
pub(crate) fn split_groups(ctx: &mut EntryCtx<'_>, field: &str) -> (Vec<String>, Value) {
    let Some((_, value)) = ctx.fields.iter().find(|(k, _)| k == field) else {
        return (Vec::new(), Value::Array(Vec::new()));
    };
    let Value::Array(items) = value.clone() else {
        return (Vec::new(), value.clone());
    };
    let mut groups: Vec<String> = Vec::new();
    let mut rest = Vec::new();
    for item in items {
        match item
            .as_str()
            .and_then(|s| s.strip_prefix("group:"))
            .map(str::trim)
        {
            Some("") => ctx.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: "`group:` needs an Identity Center group name".to_owned(),
                },
            ),
            Some(name) if groups.iter().any(|g| g == name) => ctx.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: format!("`group:{name}` is listed twice"),
                },
            ),
            Some(name) => groups.push(name.to_owned()),
            None => rest.push(item),
        }
    }
    (groups, Value::Array(rest))
}

/// The approval fields: none at all, or `approvers` with the others optional.
pub(crate) fn parse_approval(ctx: &mut EntryCtx<'_>) -> Option<ApprovalPolicy> {
    let related = ["approvals_required", "auto_approve", "approval_timeout"];
    if !has(ctx, "approvers") {
        if let Some(field) = related.iter().find(|f| has(ctx, f)) {
            ctx.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: "only meaningful with `approvers`".to_owned(),
                },
            );
        }
        return None;
    }
    // `group:NAME` entries name Identity Center groups; the rest are emails.
    let (groups, people) = split_groups(ctx, "approvers");
    let only_people = vec![("approvers".to_owned(), people)];
    let mut inner = EntryCtx {
        file: ctx.file,
        key: ctx.key,
        fields: &only_people,
        problems: ctx.problems,
    };
    let approvers = email_list(&mut inner, "approvers")?;
    if approvers.is_empty() && groups.is_empty() {
        ctx.problem(
            Some("approvers"),
            ProblemKind::Invalid {
                reason: "list at least one approver".to_owned(),
            },
        );
        return None;
    }
    let required = match ctx
        .fields
        .iter()
        .find(|(k, _)| k == "approvals_required")
        .map(|(_, v)| v)
    {
        None => 1,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {
            usize::try_from(n.as_u64().unwrap_or(1)).unwrap_or(usize::MAX)
        }
        Some(_) => {
            ctx.problem(
                Some("approvals_required"),
                ProblemKind::WrongType {
                    expected: "a whole number of at least 1",
                },
            );
            return None;
        }
    };
    if groups.is_empty() && required > approvers.len() {
        ctx.problem(
            Some("approvals_required"),
            ProblemKind::Invalid {
                reason: format!(
                    "{required} distinct approvals are required but only {} approver{} listed",
                    approvers.len(),
                    if approvers.len() == 1 { " is" } else { "s are" }
                ),
            },
        );
        return None;
    }
    let auto_approve = match ctx
        .fields
        .iter()
        .find(|(k, _)| k == "auto_approve")
        .map(|(_, v)| v.clone())
    {
        None => Vec::new(),
        Some(Value::Object(rule)) => {
            if let Some(other) = rule.keys().find(|k| *k != "users") {
                ctx.problem(
                    Some("auto_approve"),
                    ProblemKind::Invalid {
                        reason: format!("unknown rule `{other}`: the rule allowed here is `users`"),
                    },
                );
                return None;
            }
            let fields = vec![(
                "users".to_owned(),
                rule.get("users")
                    .cloned()
                    .unwrap_or(Value::Array(Vec::new())),
            )];
            let mut inner = EntryCtx {
                file: ctx.file,
                key: ctx.key,
                fields: &fields,
                problems: ctx.problems,
            };
            email_list(&mut inner, "users")?
        }
        Some(_) => {
            ctx.problem(
                Some("auto_approve"),
                ProblemKind::WrongType {
                    expected: "an object like {\"users\": [emails]}",
                },
            );
            return None;
        }
    };
    let timeout = if has(ctx, "approval_timeout") {
        ctx.parsed("approval_timeout", AccessDuration::parse)?
    } else {
        AccessDuration::parse(DEFAULT_APPROVAL_TIMEOUT).ok()?
    };
    Some(ApprovalPolicy {
        approvers,
        groups,
        required,
        auto_approve,
        timeout,
    })
}

pub(crate) fn has(ctx: &EntryCtx<'_>, field: &str) -> bool {
    ctx.fields.iter().any(|(k, _)| k == field)
}

/// An Identity Center access: a named permission set, or an ephemeral one.
pub(crate) fn parse_identity_center(ctx: &mut EntryCtx<'_>) -> Option<AccessTarget> {
    let account_id = ctx.parsed("account_id", AccountId::parse);
    let ephemeral_fields = [
        "inline_policy",
        "managed_policies",
        "buckets",
        "policy_template",
    ];
    let ephemeral = ephemeral_fields.iter().any(|f| has(ctx, f));
    if has(ctx, "permission_set") {
        let permission_set = ctx.parsed("permission_set", PermissionSetName::parse);
        if ephemeral {
            ctx.problem(
                Some("permission_set"),
                ProblemKind::Invalid {
                    reason: "give either `permission_set` or a per-grant policy (`inline_policy`, `managed_policies`, `buckets` with `policy_template`), not both".to_owned(),
                },
            );
            return None;
        }
        return Some(AccessTarget::IdentityCenter {
            account_id: account_id?,
            permission_set: permission_set?,
        });
    }
    if !ephemeral {
        ctx.problem(
            Some("permission_set"),
            ProblemKind::Invalid {
                reason: "required field is missing: name a permission set, or give `inline_policy`, `managed_policies` or `buckets` with `policy_template` for a per-grant permission set".to_owned(),
            },
        );
        return None;
    }
    let before = ctx.problems.len();
    let inline_policy = match ctx.fields.iter().find(|(k, _)| k == "inline_policy") {
        None => None,
        Some((_, Value::Object(doc))) => {
            let text = serde_json::to_string(doc).unwrap_or_default();
            if !doc.contains_key("Statement") {
                ctx.problem(
                    Some("inline_policy"),
                    ProblemKind::Invalid {
                        reason: "an IAM policy document needs a `Statement`".to_owned(),
                    },
                );
            } else if text.len() > MAX_INLINE_POLICY_CHARS {
                ctx.problem(
                    Some("inline_policy"),
                    ProblemKind::Invalid {
                        reason: format!(
                            "the policy has {} characters, over Identity Center's limit of {MAX_INLINE_POLICY_CHARS}",
                            text.len()
                        ),
                    },
                );
            }
            Some(text)
        }
        Some(_) => {
            ctx.problem(
                Some("inline_policy"),
                ProblemKind::WrongType {
                    expected: "an IAM policy document (a JSON object)",
                },
            );
            None
        }
    };
    let mut managed_policies = Vec::new();
    match ctx
        .fields
        .iter()
        .find(|(k, _)| k == "managed_policies")
        .map(|(_, v)| v.clone())
    {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("managed_policies[{i}]");
                match item.as_str() {
                    Some(arn) if is_aws_managed_policy_arn(arn) => managed_policies.push(arn.to_owned()),
                    Some(arn) => ctx.problem(
                        Some(&field),
                        ProblemKind::Invalid {
                            reason: format!("`{arn}` is not an AWS-managed policy ARN (`arn:aws:iam::aws:policy/…`)"),
                        },
                    ),
                    None => ctx.problem(Some(&field), ProblemKind::WrongType { expected: "a string" }),
                }
            }
        }
        Some(_) => ctx.problem(
            Some("managed_policies"),
            ProblemKind::WrongType {
                expected: "a list of policy ARNs",
            },
        ),
    }
    let s3 = match (has(ctx, "buckets"), has(ctx, "policy_template")) {
        (false, false) => None,
        (true, true) => {
            let buckets = parse_buckets(ctx);
            let template =
                ctx.parsed("policy_template", |t| {
                    BuiltinTemplate::parse(t).ok_or_else(|| {
                    format!(
                        "`{t}` is not a built-in template: use {} in a per-grant permission set",
                        BuiltinTemplate::ALL.map(|t| format!("`{}`", t.name())).join(", ")
                    )
                })
                });
            Some((buckets?, template?))
        }
        (true, false) => {
            ctx.problem(Some("policy_template"), ProblemKind::MissingField);
            None
        }
        (false, true) => {
            ctx.problem(Some("buckets"), ProblemKind::MissingField);
            None
        }
    };
    if ctx.problems.len() != before {
        return None;
    }
    Some(AccessTarget::EphemeralPermissionSet {
        account_id: account_id?,
        policy: EphemeralPolicy {
            inline_policy,
            managed_policies,
            s3,
        },
    })
}

pub(crate) fn is_aws_managed_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", "aws", resource]
        if partition.starts_with("aws") && resource.starts_with("policy/") && !resource.contains('*'))
}

/// A built-in template, an IAM policy name, or an IAM policy ARN.
pub(crate) fn check_policy_template(value: &str) -> Result<String, String> {
    let name_ok = |n: &str| (1..=128).contains(&n.len()) && n.chars().all(is_iam_name_char);
    let ok = if let Some(rest) = value.strip_prefix("arn:") {
        // arn:PARTITION:iam::ACCOUNT|aws:policy/[PATH/]NAME
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        matches!(parts.as_slice(), [partition, "iam", "", account, resource]
            if partition.starts_with("aws")
                && (*account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
                && resource.strip_prefix("policy/").is_some_and(|p| p.rsplit('/').next().is_some_and(name_ok) && !p.contains(['*', '?']) && p.split('/').all(|seg| seg.chars().all(is_iam_name_char))))
    } else {
        name_ok(value)
    };
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` is neither a built-in template ({}) nor an IAM policy name or ARN",
            crate::policy::BuiltinTemplate::ALL
                .map(|t| format!("`{}`", t.name()))
                .join(", ")
        ))
    }
}

pub(crate) fn parse_buckets(ctx: &mut EntryCtx<'_>) -> Option<Vec<BucketName>> {
    let list = match ctx.get("buckets")? {
        Value::Array(items) => items.clone(),
        _ => {
            ctx.problem(
                Some("buckets"),
                ProblemKind::WrongType {
                    expected: "a list of bucket names",
                },
            );
            return None;
        }
    };
    if list.is_empty() {
        ctx.problem(
            Some("buckets"),
            ProblemKind::Invalid {
                reason: "must name at least one bucket".to_owned(),
            },
        );
        return None;
    }
    let mut buckets: Vec<BucketName> = Vec::new();
    let mut ok = true;
    for (i, item) in list.iter().enumerate() {
        let field = format!("buckets[{i}]");
        let parsed = match item {
            Value::String(s) => BucketName::parse(s).map_err(|e| ProblemKind::Invalid {
                reason: e.to_string(),
            }),
            _ => Err(ProblemKind::WrongType {
                expected: "a string",
            }),
        };
        match parsed {
            Ok(b) if buckets.contains(&b) => {
                ok = false;
                ctx.problem(
                    Some(&field),
                    ProblemKind::Invalid {
                        reason: format!("`{b}` is listed twice"),
                    },
                );
            }
            Ok(b) => buckets.push(b),
            Err(kind) => {
                ok = false;
                ctx.problem(Some(&field), kind);
            }
        }
    }
    ok.then_some(buckets)
}
