//! Who may request, break glass, extend, approve and deny what: one Cedar policy set behind
//! the decision point.
//!
//! The set holds the access entries' JSON fields translated into policies
//! (`eligibility/generate.rs`) and, optionally, the organisation's own `policies.cedar`, validated against
//! the shipped schema ([`SCHEMA`]). Pure: the caller resolves the person and their
//! Identity Center groups and hands them in. A policy that cannot be evaluated refuses
//! (fail closed), and nothing is decided from a set that did not load whole.

mod entities;
mod generate;
mod slices;

use std::collections::BTreeSet;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Effect, Entities, Policy, PolicyId, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use jiff::Timestamp;
use serde_json::Value;

use crate::actor::Person;
use crate::config::{Access, Catalog, Requesters};
use slices::Slices;

pub use generate::cedar_str;

/// The Cedar schema of access policies, in Cedar's schema syntax (`aws-jit schema policies`).
pub const SCHEMA: &str = include_str!("eligibility/policies.cedarschema");

/// The organisation's policy file, in the config directory.
pub const POLICY_FILE: &str = "policies.cedar";

/// The longest `policies.cedar` read.
pub const MAX_POLICY_FILE_BYTES: usize = 1024 * 1024;

/// What is asked of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyAction {
    /// Ask for an access (the principal is the person it is for).
    Request,
    /// Move a grant's expiry later.
    Extend,
    /// Skip approval in an emergency (asked besides `Request`).
    BreakGlass,
    /// Approve a pending request (the principal is the approver).
    Approve,
    /// Deny a pending request.
    Deny,
}

impl PolicyAction {
    /// Every action, in schema order.
    pub const ALL: [PolicyAction; 5] = [
        PolicyAction::Request,
        PolicyAction::Extend,
        PolicyAction::BreakGlass,
        PolicyAction::Approve,
        PolicyAction::Deny,
    ];

    /// The Cedar action id (`AwsJit::Action::"request"`).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::Request => "request",
            PolicyAction::Extend => "extend",
            PolicyAction::BreakGlass => "break_glass",
            PolicyAction::Approve => "approve",
            PolicyAction::Deny => "deny",
        }
    }

    /// Reads an action name as the CLI takes it (`break-glass` or `break_glass`).
    pub fn parse(name: &str) -> Option<PolicyAction> {
        let name = name.replace('-', "_");
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    fn is_decision(self) -> bool {
        matches!(self, PolicyAction::Approve | PolicyAction::Deny)
    }
}

/// One question: may `principal` take `action` on `access`, in this context?
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    /// What.
    pub action: PolicyAction,
    /// Who: the person the grant is for (request, extend, break-glass) or the approver.
    pub principal: &'a Person,
    /// The principal's Identity Center groups (display names) among those policies name.
    pub groups: &'a [String],
    /// On what.
    pub access: &'a Access,
    /// How long, in seconds (the request's, or the one being decided).
    pub duration_seconds: u64,
    /// Why; empty when none.
    pub reason: &'a str,
    /// Whether it is a break-glass request.
    pub break_glass: bool,
    /// Through what (`cli`, `api`, `slack`, `mcp`, `kubiya`, `web`).
    pub channel: &'a str,
    /// Whether someone asks on the principal's behalf.
    pub on_behalf: bool,
    /// For approve and deny: the person the request is for.
    pub requester: Option<&'a Person>,
    /// When.
    pub at: Timestamp,
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed, or not.
    pub allowed: bool,
    /// The policies that decided, by id: the permits that allowed, or the forbids that
    /// refused (empty when nothing permitted).
    pub policies: Vec<String>,
    /// Policies that could not be evaluated (which refuses).
    pub errors: Vec<String>,
}

impl Verdict {
    /// The one-line refusal for the person who asked, naming the deciding policies.
    pub fn refusal(&self, ask: &Ask<'_>) -> String {
        let what = match ask.action {
            PolicyAction::Request => format!("request `{}`", ask.access.key),
            PolicyAction::Extend => format!("extend `{}`", ask.access.key),
            PolicyAction::BreakGlass => format!("break glass for `{}`", ask.access.key),
            PolicyAction::Approve => format!("approve requests for `{}`", ask.access.key),
            PolicyAction::Deny => format!("deny requests for `{}`", ask.access.key),
        };
        if !self.errors.is_empty() {
            return format!(
                "{} may not {what}: policy {} could not be evaluated",
                ask.principal.email,
                self.errors.join(", ")
            );
        }
        if self.policies.is_empty() {
            return format!(
                "{} may not {what}: no policy permits it (see `aws-jit policy explain {}`)",
                ask.principal.email, ask.access.key
            );
        }
        let ids: Vec<String> = self.policies.iter().map(|p| format!("`{p}`")).collect();
        format!(
            "{} may not {what}: forbidden by policy {}",
            ask.principal.email,
            ids.join(", ")
        )
    }
}

/// A problem in the policies, one line: `policies.cedar:LINE:COLUMN: policy `ID`: what`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyProblem(pub String);

/// A policy's id and text, as `aws-jit policy explain` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyText {
    /// The id (`@id`, or `policies.cedar:LINE`).
    pub id: String,
    /// Where it comes from: `access_configs.json`, `s3_configs.json` or `policies.cedar`.
    pub source: String,
    /// `permit` or `forbid`.
    pub effect: &'static str,
    /// The Cedar text.
    pub text: String,
}

/// The loaded policy set.
#[derive(Debug)]
pub struct PolicyEngine {
    schema: Schema,
    types: entities::Types,
    /// The set cut per access (what a decision evaluates), with the relaxed form listings
    /// ask ("could some request be allowed?").
    slices: Slices,
    texts: Vec<PolicyText>,
    groups: Vec<String>,
    open: Vec<String>,
}

/// What a listing asks of an access: could this person request it at all (its longest
/// duration, no reason, no break-glass; the listing policies relax the rest).
fn listing_ask<'a>(
    person: &'a Person,
    groups: &'a [String],
    access: &'a Access,
    channel: &'a str,
    at: Timestamp,
) -> Ask<'a> {
    Ask {
        action: PolicyAction::Request,
        principal: person,
        groups,
        access,
        duration_seconds: access.session_duration.as_seconds(),
        reason: "",
        break_glass: false,
        channel,
        on_behalf: false,
        requester: None,
        at,
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn first_label(diagnostic: &dyn miette::Diagnostic) -> Option<usize> {
    diagnostic.labels()?.next().map(|l| l.offset())
}

fn effect_name(effect: Effect) -> &'static str {
    match effect {
        Effect::Permit => "permit",
        Effect::Forbid => "forbid",
    }
}

/// Collects the `AwsJit::Group` ids a policy's JSON form names.
fn named_groups(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("AwsJit::Group")
                && let Some(id) = map.get("id").and_then(Value::as_str)
            {
                into.insert(id.to_owned());
            }
            map.values().for_each(|v| named_groups(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| named_groups(v, into)),
        _ => {}
    }
}

impl PolicyEngine {
    /// Loads the catalog's policies and the organisation's (`org`: the file's text), or
    /// every problem, one line each. `default` applies to entries without `requesters`.
    pub fn load(
        catalog: &Catalog,
        default: Option<&Requesters>,
        org: Option<&str>,
    ) -> Result<PolicyEngine, Vec<PolicyProblem>> {
        #[expect(clippy::expect_used, reason = "the shipped schema is tested to parse")]
        let (schema, _) =
            Schema::from_cedarschema_str(SCHEMA).expect("the shipped Cedar schema parses");
        let mut problems = Vec::new();
        let mut policies = PolicySet::new();
        let mut texts = Vec::new();
        let mut groups = BTreeSet::new();
        let mut open = Vec::new();
        for access in catalog.accesses() {
            let generated = generate::access_policies(access, default);
            if access.requesters.is_none() && default.is_none() {
                open.push(access.key.clone());
            }
            let set = match PolicySet::from_str(&generated) {
                Ok(set) => set,
                Err(e) => {
                    problems.push(PolicyProblem(format!(
                        "{}: entry `{}`: its policies do not parse: {e}",
                        access.source.file_name(),
                        access.key
                    )));
                    continue;
                }
            };
            for policy in set.policies() {
                let id = policy.annotation("id").unwrap_or_default().to_owned();
                let policy = policy.new_id(PolicyId::new(&id));
                if let Ok(json) = policy.to_json() {
                    named_groups(&json, &mut groups);
                }
                texts.push(PolicyText {
                    id,
                    source: access.source.file_name().to_owned(),
                    effect: effect_name(policy.effect()),
                    text: policy.to_string(),
                });
                if let Err(e) = policies.add(policy) {
                    problems.push(PolicyProblem(format!(
                        "{}: entry `{}`: {e}",
                        access.source.file_name(),
                        access.key
                    )));
                }
            }
        }
        if let Some(text) = org {
            Self::load_org(text, &mut policies, &mut texts, &mut groups, &mut problems);
        }
        if problems.is_empty() {
            let validation =
                Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
            for error in validation.validation_errors() {
                let id = error.policy_id().to_string();
                let from_file = texts
                    .iter()
                    .find(|t| t.id == id)
                    .is_some_and(|t| t.source == POLICY_FILE);
                let place = match (from_file, org, first_label(error)) {
                    (true, Some(text), Some(offset)) => {
                        let (line, col) = line_col(text, offset);
                        format!("{POLICY_FILE}:{line}:{col}")
                    }
                    (true, ..) => POLICY_FILE.to_owned(),
                    (false, ..) => "generated".to_owned(),
                };
                let message = error.to_string();
                let message = message
                    .strip_prefix(&format!("for policy `{id}`, "))
                    .unwrap_or(&message);
                problems.push(PolicyProblem(format!(
                    "{place}: policy `{id}`: {}",
                    crate::text::printable(message)
                )));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let slices = Slices::build(&policies, catalog.accesses().iter().map(|a| a.key.as_str()))
            .map_err(|e| vec![PolicyProblem(e)])?;
        let types = entities::Types::new().map_err(|e| vec![PolicyProblem(e)])?;
        Ok(PolicyEngine {
            schema,
            types,
            slices,
            texts,
            groups: groups.into_iter().collect(),
            open,
        })
    }

    fn load_org(
        text: &str,
        policies: &mut PolicySet,
        texts: &mut Vec<PolicyText>,
        groups: &mut BTreeSet<String>,
        problems: &mut Vec<PolicyProblem>,
    ) {
        let parsed = match PolicySet::from_str(text) {
            Ok(set) => set,
            Err(errors) => {
                for error in errors.iter() {
                    let place = match first_label(error) {
                        Some(offset) => {
                            let (line, col) = line_col(text, offset);
                            format!("{POLICY_FILE}:{line}:{col}")
                        }
                        None => POLICY_FILE.to_owned(),
                    };
                    let message = error.to_string();
                    problems.push(PolicyProblem(format!(
                        "{place}: {}",
                        crate::text::printable(&message)
                    )));
                }
                return;
            }
        };
        if parsed.templates().next().is_some() {
            problems.push(PolicyProblem(format!(
                "{POLICY_FILE}: templates (`?principal`, `?resource`) are not supported: write the entity"
            )));
        }
        // Policies come in file order; each one's text is its slice of the file.
        let mut ordered: Vec<&Policy> = parsed.policies().collect();
        ordered.sort_by_key(|p| {
            p.id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        let mut from = 0;
        for policy in ordered {
            let own = policy.to_string();
            let line = match text[from..].find(&own) {
                Some(at) => {
                    from += at + own.len();
                    line_col(text, from - own.len()).0
                }
                None => 1,
            };
            let id = match policy.annotation("id") {
                Some(id) => id.to_owned(),
                None => format!("{POLICY_FILE}:{line}"),
            };
            let reserved = [
                "requesters:",
                "open:",
                "break_glass:",
                "session_duration:",
                "break_glass_duration:",
                "approvers:",
            ];
            if policy.annotation("id").is_some() && reserved.iter().any(|r| id.starts_with(r)) {
                problems.push(PolicyProblem(format!(
                    "{POLICY_FILE}:{line}: policy `{id}`: ids starting with `{}` are the generated policies': choose another",
                    reserved.iter().find(|r| id.starts_with(**r)).copied().unwrap_or_default()
                )));
                continue;
            }
            let policy = policy.new_id(PolicyId::new(&id));
            if let Ok(json) = policy.to_json() {
                named_groups(&json, groups);
            }
            texts.push(PolicyText {
                id: id.clone(),
                source: POLICY_FILE.to_owned(),
                effect: effect_name(policy.effect()),
                text: policy.to_string(),
            });
            if policies.add(policy).is_err() {
                problems.push(PolicyProblem(format!(
                    "{POLICY_FILE}:{line}: policy `{id}`: this id is used twice"
                )));
            }
        }
    }

    /// The Identity Center groups the policies name: the ones whose membership matters.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The accesses open to every directory user (no `requesters`, no default).
    pub fn open_accesses(&self) -> &[String] {
        &self.open
    }

    /// Every policy, generated ones first.
    pub fn policies(&self) -> &[PolicyText] {
        &self.texts
    }

    /// Decides one question.
    pub fn decide(&self, ask: &Ask<'_>) -> Verdict {
        self.decide_in(&self.slices.get(&ask.access.key).full, ask)
    }

    /// Whether `person` could be allowed to request `access` at `at`, whatever they give
    /// as reason and duration (for listings).
    pub fn may_request(
        &self,
        person: &Person,
        groups: &[String],
        access: &Access,
        channel: &str,
        at: Timestamp,
    ) -> bool {
        let ask = listing_ask(person, groups, access, channel, at);
        self.decide_in(&self.slices.get(&access.key).listing, &ask)
            .allowed
    }

    /// The accesses among `accesses` that `person` could be allowed to request at `at`
    /// (as [`PolicyEngine::may_request`] asks of each, with the person's entities built
    /// once for the whole listing).
    pub fn requestable<'a>(
        &self,
        person: &Person,
        groups: &[String],
        accesses: &[&'a Access],
        channel: &str,
        at: Timestamp,
    ) -> Vec<&'a Access> {
        let people = entities::person_entities(&self.types, person, groups);
        let listed: Result<Vec<_>, String> = accesses
            .iter()
            .map(|a| entities::access_entity(&self.types, a))
            .collect();
        let (Ok(mut all), Ok(listed)) = (people, listed) else {
            return Vec::new();
        };
        all.extend(listed);
        let Ok(entities) = Entities::from_entities(all, Some(&self.schema)) else {
            return Vec::new();
        };
        accesses
            .iter()
            .copied()
            .filter(|access| {
                let ask = listing_ask(person, groups, access, channel, at);
                self.decide_among(
                    &self.slices.get(&access.key).listing,
                    &ask,
                    &entities,
                    false,
                )
                .allowed
            })
            .collect()
    }

    fn decide_in(&self, policies: &PolicySet, ask: &Ask<'_>) -> Verdict {
        let entities = entities::entities(&self.types, ask.principal, ask.groups, ask.access)
            .and_then(|all| {
                Entities::from_entities(all, Some(&self.schema)).map_err(|e| e.to_string())
            });
        match entities {
            Ok(entities) => self.decide_among(policies, ask, &entities, true),
            Err(e) => Verdict {
                allowed: false,
                policies: Vec::new(),
                errors: vec![format!("(entities: {e})")],
            },
        }
    }

    /// Decides `ask` over `policies` and `entities`; `checked` validates the context and the
    /// request against the schema (listings, whose every access is decided again with it
    /// when requested, skip that).
    fn decide_among(
        &self,
        policies: &PolicySet,
        ask: &Ask<'_>,
        entities: &Entities,
        checked: bool,
    ) -> Verdict {
        let schema = checked.then_some(&self.schema);
        let refused = |error: String| Verdict {
            allowed: false,
            policies: Vec::new(),
            errors: vec![error],
        };
        let (p, a, r) = (
            self.types.user(ask.principal),
            self.types.action(ask.action.as_str()),
            self.types.access(&ask.access.key),
        );
        let mut context: Vec<(String, RestrictedExpression)> = vec![
            (
                "reason".to_owned(),
                RestrictedExpression::new_string(ask.reason.to_owned()),
            ),
            (
                "channel".to_owned(),
                RestrictedExpression::new_string(ask.channel.to_owned()),
            ),
            (
                "duration_seconds".to_owned(),
                RestrictedExpression::new_long(
                    i64::try_from(ask.duration_seconds).unwrap_or(i64::MAX),
                ),
            ),
        ];
        for (k, v) in entities::time_fields(ask.at) {
            context.push((k.to_owned(), entities::restricted(&v)));
        }
        if ask.action.is_decision() {
            let requester = ask.requester.map(|p| p.email.clone()).unwrap_or_default();
            context.push((
                "requester_email".to_owned(),
                RestrictedExpression::new_string(requester),
            ));
        } else {
            context.push((
                "break_glass".to_owned(),
                RestrictedExpression::new_bool(ask.break_glass),
            ));
            context.push((
                "on_behalf".to_owned(),
                RestrictedExpression::new_bool(ask.on_behalf),
            ));
        }
        let context = match Context::from_pairs(context) {
            Ok(c) => c,
            Err(e) => return refused(format!("(context: {e})")),
        };
        let request = match Request::new(p, a, r, context, schema) {
            Ok(r) => r,
            Err(e) => return refused(format!("(request: {e})")),
        };
        let response = Authorizer::new().is_authorized(&request, policies, entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                    format!("`{}`", e.policy_id())
                }
            })
            .collect();
        let mut deciding: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        deciding.sort();
        Verdict {
            allowed: response.decision() == Decision::Allow && errors.is_empty(),
            policies: deciding,
            errors,
        }
    }

    /// The policies that could apply to `access`: those naming it, and those naming no
    /// access at all.
    pub fn explain(&self, access: &Access) -> Vec<&PolicyText> {
        let named = format!("AwsJit::Access::{}", cedar_str(&access.key));
        self.texts
            .iter()
            .filter(|t| t.text.contains(&named) || !t.text.contains("AwsJit::Access::"))
            .collect()
    }
}

#[cfg(test)]
mod tests;
