//! Eligibility at the decision point: the Cedar policy set (`core::eligibility`) asked with
//! the person as the directory knows them, their Identity Center groups (those the policies
//! name, cached briefly) and what they ask. Every refusal names the deciding policies and is
//! audited as `access.refused`, whatever the front door.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_jit_core::authorize::{Action, Refusal};
use aws_jit_core::eligibility::{Ask, PolicyAction, PolicyEngine, Verdict};
use aws_jit_core::{Access, AccessDuration, Actor, Grant, Person, UserEmail};
use jiff::Timestamp;

use super::{AppError, Jit};

/// How long a person's group memberships are reused.
const GROUPS_TTL_SECONDS: i64 = 60;

/// When a person's groups were looked up, and what they were.
type Looked = (Timestamp, Vec<String>);

/// Group memberships looked up recently, by Identity Center user id.
#[derive(Debug, Default, Clone)]
pub(crate) struct GroupCache(Arc<Mutex<HashMap<String, Looked>>>);

/// Listings made this minute (policies may read the hour and minute, never finer): by
/// person, groups and channel, the indices of the catalog's accesses they could request.
#[derive(Debug, Default, Clone)]
pub(crate) struct ListingCache(Arc<Mutex<HashMap<String, Listed>>>);

/// The minute a listing was made in, and the indices of the accesses it holds.
type Listed = (i64, Arc<Vec<usize>>);

/// What a person asks, besides who and what.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked<'a> {
    pub(crate) action: PolicyAction,
    pub(crate) duration_seconds: u64,
    pub(crate) reason: &'a str,
    pub(crate) break_glass: bool,
    /// For approve and deny: the person the request is for.
    pub(crate) requester: Option<&'a Person>,
}

/// A what-if question.
#[derive(Debug, Clone, Copy)]
pub struct WhatIf<'a> {
    /// Who asks (any address the directory knows them by).
    pub person: &'a UserEmail,
    /// What.
    pub action: PolicyAction,
    /// The access's key, name or slug.
    pub access: &'a str,
    /// How long; the access's maximum when `None`.
    pub duration: Option<AccessDuration>,
    /// Why.
    pub reason: &'a str,
    /// When; now when `None`.
    pub at: Option<Timestamp>,
    /// Through what (`cli`, `api`, …).
    pub channel: &'a str,
}

/// The answer to a what-if question.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WhatIfAnswer {
    /// The access, by key.
    pub access: String,
    /// The person, by canonical email.
    pub person: String,
    /// Their groups among those the policies name.
    pub groups: Vec<String>,
    /// Allowed, or not.
    pub allowed: bool,
    /// The policies that decided.
    pub policies: Vec<String>,
    /// Policies that could not be evaluated.
    pub errors: Vec<String>,
    /// The refusal a request would get.
    pub refusal: Option<String>,
}

impl Jit {
    /// The loaded policy set; nothing is decided without one.
    pub fn policies(&self) -> Result<&Arc<PolicyEngine>, AppError> {
        self.policies.as_ref().ok_or(AppError::NoPolicies)
    }

    /// The groups among those the policies name that `person` belongs to.
    pub(crate) async fn policy_groups(&self, person: &Person) -> Result<Vec<String>, AppError> {
        let engine = self.policies()?;
        let Some(user_id) = &person.id else {
            return Ok(Vec::new()); // not in the directory: in none of its groups
        };
        if engine.groups().is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        if let Ok(cache) = self.groups.0.lock()
            && let Some((at, groups)) = cache.get(user_id)
            && now.as_second() - at.as_second() < GROUPS_TTL_SECONDS
        {
            return Ok(groups.clone());
        }
        let instance = self.instance().await?;
        let groups = self
            .sso
            .member_of(&instance, user_id, engine.groups())
            .await?;
        if let Ok(mut cache) = self.groups.0.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(user_id.clone(), (now, groups.clone()));
        }
        Ok(groups)
    }

    /// Asks the policies whether `principal` may do what `asked` says on `access` (through
    /// `actor`'s channel); a refusal is audited about `grant` and returned.
    pub(crate) async fn check_eligible(
        &self,
        actor: &Actor,
        principal: &Person,
        access: &Access,
        asked: Asked<'_>,
        grant: Option<&Grant>,
    ) -> Result<Verdict, AppError> {
        let groups = self.policy_groups(principal).await?;
        let on_behalf = actor.own_person().is_none_or(|me| !me.same_as(principal));
        let ask = Ask {
            action: asked.action,
            principal,
            groups: &groups,
            access,
            duration_seconds: asked.duration_seconds,
            reason: asked.reason,
            break_glass: asked.break_glass,
            channel: actor.channel.as_str(),
            on_behalf,
            requester: asked.requester,
            at: self.clock.now(),
        };
        let verdict = self.policies()?.decide(&ask);
        if verdict.allowed {
            return Ok(verdict);
        }
        let action = match asked.action {
            PolicyAction::Request | PolicyAction::BreakGlass => Action::Request,
            PolicyAction::Extend => Action::Extend,
            PolicyAction::Approve => Action::Approve,
            PolicyAction::Deny => Action::Deny,
        };
        let subject = asked.requester.unwrap_or(principal);
        Err(self
            .refuse(
                actor,
                action,
                &subject.email,
                grant,
                Refusal(verdict.refusal(&ask)),
            )
            .await)
    }

    /// A what-if question (`aws-jit policy check`): the person and their groups as the
    /// directory knows them, and the policies' answer. Audits nothing and changes nothing.
    pub async fn what_if(&self, question: WhatIf<'_>) -> Result<WhatIfAnswer, AppError> {
        let access = self.access(question.access)?;
        let principal = self.resolve_person(question.person, false).await?;
        let groups = self.policy_groups(&principal).await?;
        let ask = Ask {
            action: question.action,
            principal: &principal,
            groups: &groups,
            access,
            duration_seconds: question
                .duration
                .map_or(access.session_duration, |d| d)
                .as_seconds(),
            reason: question.reason,
            break_glass: question.action == PolicyAction::BreakGlass,
            channel: question.channel,
            on_behalf: false,
            requester: None,
            at: question.at.unwrap_or_else(|| self.clock.now()),
        };
        let verdict = self.policies()?.decide(&ask);
        let refusal = (!verdict.allowed).then(|| verdict.refusal(&ask));
        Ok(WhatIfAnswer {
            access: access.key.clone(),
            person: principal.email.clone(),
            groups,
            allowed: verdict.allowed,
            policies: verdict.policies,
            errors: verdict.errors,
            refusal,
        })
    }

    /// The accesses `person` could request now (listings show each person only these),
    /// worked out once a minute per person, groups and channel: every request is decided
    /// again in full.
    pub async fn requestable(
        &self,
        person: &Person,
        channel: &str,
    ) -> Result<Vec<&Access>, AppError> {
        let catalog = self.catalog.as_deref().ok_or(AppError::NoCatalog)?;
        let engine = self.policies()?;
        let groups = self.policy_groups(person).await?;
        let now = self.clock.now();
        let all: Vec<&Access> = catalog.accesses().iter().collect();
        let minute = now.as_second().div_euclid(60);
        let key = format!(
            "{}|{}|{channel}",
            person.id.as_deref().unwrap_or(&person.email),
            groups.join(",")
        );
        let cached = self.listings.0.lock().ok().and_then(|cache| {
            cache
                .get(&key)
                .filter(|(at, _)| *at == minute)
                .map(|(_, listed)| listed.clone())
        });
        let listed = match cached {
            Some(listed) => listed,
            None => {
                let by_key: HashMap<&str, usize> = all
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (a.key.as_str(), i))
                    .collect();
                let listed: Arc<Vec<usize>> = Arc::new(
                    engine
                        .requestable(person, &groups, &all, channel, now)
                        .iter()
                        .filter_map(|a| by_key.get(a.key.as_str()).copied())
                        .collect(),
                );
                if let Ok(mut cache) = self.listings.0.lock() {
                    cache.retain(|_, (at, _)| *at == minute);
                    if cache.len() < 10_000 {
                        cache.insert(key, (minute, listed.clone()));
                    }
                }
                listed
            }
        };
        Ok(listed.iter().filter_map(|i| all.get(*i).copied()).collect())
    }
}
