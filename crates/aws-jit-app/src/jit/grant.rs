//! Granting: route a request (immediate, auto-approved, waiting, break-glass), record it,
//! provision it; and `plan`, which shows what a grant would change without changing it.

use aws_jit_core::approval::{self, Route};
use aws_jit_core::authorize::{self, Action, Subject};
use aws_jit_core::duration::{EffectiveDuration, effective_duration};
use aws_jit_core::eligibility::PolicyAction;
use aws_jit_core::grant::NewGrant;
use aws_jit_core::text::{self, MAX_REASON_CHARS};
use aws_jit_core::{
    Access, AccessDuration, AccessOrigin, AccessTarget, Actor, AuditAction, Grant, Person,
    UserEmail,
};
use jiff::Timestamp;

use super::eligibility::Asked;
use super::{AppError, Jit, Prepared, failpoint};
use crate::ports::ProviderErrorKind;

/// A grant request, as a front door received it.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    /// What to grant: an access's key, name or slug.
    pub access: String,
    /// To whom (any address the directory knows them by).
    pub user: UserEmail,
    /// Who asks (the user, or someone acting for them).
    pub actor: Actor,
    /// How long; `None` means the access's maximum.
    pub duration: Option<AccessDuration>,
    /// Why.
    pub reason: Option<String>,
    /// Skip approval in an emergency (the access must allow it; a reason is required).
    pub break_glass: bool,
}

/// What a grant did.
#[derive(Debug, Clone)]
pub struct GrantOutcome {
    /// The active grant.
    pub grant: Grant,
    /// The duration granted, and what was asked if it was capped.
    pub duration: EffectiveDuration,
    /// Whether the assignment was created now, or already there.
    pub origin: AccessOrigin,
}

/// A request that passed the decision point: its access, its person as the directory
/// knows them, and its actor (acting on that person's behalf when not them).
#[derive(Debug, Clone)]
pub(crate) struct Admitted<'a> {
    pub(crate) access: &'a Access,
    pub(crate) person: Person,
    pub(crate) asked: UserEmail,
    pub(crate) actor: Actor,
    pub(crate) duration: Option<AccessDuration>,
    pub(crate) reason: Option<String>,
    pub(crate) break_glass: bool,
}

impl Admitted<'_> {
    /// The person's canonical address.
    pub(crate) fn email(&self) -> Result<UserEmail, AppError> {
        UserEmail::parse(&self.person.email).map_err(|e| AppError::Invalid(e.to_string()))
    }

    /// The grant this request records (in `provisioning`, or waiting for approval when
    /// `waits` gives the duration asked for), ending at `expires_at`.
    pub(crate) fn record(
        &self,
        prepared: &Prepared,
        expires_at: Timestamp,
        waits: Option<AccessDuration>,
    ) -> Result<Grant, AppError> {
        let user = self.email()?;
        let grant = NewGrant {
            id: prepared.id.clone(),
            access: self.access,
            user: &user,
            requested_by: &self.actor,
            user_id: self.person.id.clone(),
            target: prepared.resolved.target.clone(),
            reason: self.reason.clone(),
            now: prepared.now,
            expires_at,
        };
        Ok(match waits {
            Some(duration) => grant.into_request(duration),
            None => grant.into_grant(),
        })
    }
}

/// The longest access name, key or slug a request may give (characters).
const MAX_ACCESS_QUERY_CHARS: usize = 256;

/// Checks a free-text input where it enters the use cases (every front door passes here).
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), AppError> {
    text::check(field, value, max).map_err(|e| AppError::Invalid(e.to_string()))
}

impl Jit {
    /// Finds the access, resolves the person and the actor in the directory, and asks the
    /// decision point whether the actor may request it for them.
    pub(crate) async fn admit(&self, request: GrantRequest) -> Result<Admitted<'_>, AppError> {
        check_text("access", &request.access, MAX_ACCESS_QUERY_CHARS)?;
        if let Some(reason) = &request.reason {
            check_text("reason", reason, MAX_REASON_CHARS)?;
        }
        let access = self.access(&request.access)?;
        // Identity Center accesses need the person in the directory; S3 ones use it when
        // the directory knows them.
        let required = !matches!(access.target, AccessTarget::S3 { .. });
        let named = Person::unresolved(request.user.as_str());
        let by_rights = authorize::decide(
            &request.actor.rights_only(),
            Action::Request,
            &Subject::Person(&named),
        )
        .is_ok();
        let (person, actor) = if by_rights {
            let person = self.resolve_person(&request.user, required).await?;
            let actor = request.actor.for_person(&person);
            (person, actor)
        } else {
            // Only for oneself: who the actor is comes first, and a name that is not theirs
            // is refused before the directory is asked about it (no probing for who exists).
            let actor = self.identify(&request.actor).await?;
            let me = actor
                .own_person()
                .filter(|me| me.is_named(request.user.as_str()))
                .cloned();
            let person = match me {
                Some(me) if me.id.is_some() => me,
                Some(_) => self.resolve_person(&request.user, required).await?,
                None => {
                    self.authorize(&actor, Action::Request, &Subject::Person(&named), None)
                        .await?;
                    self.resolve_person(&request.user, required).await?
                }
            };
            let actor = self
                .authorize_for(&actor, Action::Request, &person, None)
                .await?;
            (person, actor)
        };
        // Eligibility: may this person have it, for this long, for this reason, now?
        let cap = if request.break_glass && access.break_glass {
            access.break_glass_duration.min(access.session_duration)
        } else {
            access.session_duration
        };
        let duration = effective_duration(request.duration, cap, self.settings.global_max);
        let mut asked = Asked {
            action: PolicyAction::Request,
            duration_seconds: duration.duration.as_seconds(),
            reason: request.reason.as_deref().unwrap_or_default(),
            break_glass: request.break_glass,
            requester: None,
        };
        self.check_eligible(&actor, &person, access, asked, None)
            .await?;
        if request.break_glass && access.break_glass {
            asked.action = PolicyAction::BreakGlass;
            self.check_eligible(&actor, &person, access, asked, None)
                .await?;
        }
        Ok(Admitted {
            access,
            person,
            asked: request.user,
            actor,
            duration: request.duration,
            reason: request.reason,
            break_glass: request.break_glass,
        })
    }

    /// Grants an access: admit, route, record, create the access in AWS, activate.
    #[tracing::instrument(skip_all, fields(access = %request.access, user = %request.user))]
    pub async fn grant(&self, request: GrantRequest) -> Result<GrantOutcome, AppError> {
        let request = self.admit(request).await?;
        let access = request.access;
        let route = match approval::route(
            access,
            &request.person,
            request.break_glass,
            request.reason.as_deref(),
        ) {
            Ok(route) => route,
            Err(refusal) => {
                let user = request.person.email.clone();
                return Err(self
                    .refuse(&request.actor, Action::Request, &user, None, refusal)
                    .await);
            }
        };
        if let Route::NeedsApproval(policy) = route {
            return self.request_approval(request, policy).await;
        }
        let request = if route == Route::BreakGlass {
            // Short by design: the access's break-glass maximum.
            let cap = access.break_glass_duration.min(access.session_duration);
            Admitted {
                duration: Some(request.duration.map_or(cap, |d| d.min(cap))),
                ..request
            }
        } else {
            request
        };
        let prepared = self.prepare(&request).await?;
        let grant = request.record(&prepared, prepared.expires_at, None)?;
        let Prepared {
            duration, resolved, ..
        } = prepared;
        let mut detail = format!("duration {}", duration.duration);
        if let Some(asked) = duration.capped_from {
            detail.push_str(&format!(" (capped from {asked})"));
        }
        if let Some(reason) = &request.reason {
            detail.push_str(&format!("; reason: {reason}"));
        }
        let (action, outbox) = match route {
            Route::BreakGlass => (AuditAction::BreakGlass, self.break_glass_alert(&grant)),
            Route::AutoApproved => {
                detail.push_str("; auto-approved");
                (AuditAction::GrantRequested, Vec::new())
            }
            _ => (AuditAction::GrantRequested, Vec::new()),
        };
        let requested = self.event(&grant, &request.actor, action, detail);
        self.finish_interrupted(&grant.target_key).await?;
        let op = self.op(&request.actor);
        self.insert_locked(&grant, &requested, &outbox, &op).await?;
        failpoint("grant.recorded");

        match self
            .provision(&grant, access, &resolved.blueprint, &op)
            .await
        {
            Ok((grant, origin)) => Ok(GrantOutcome {
                grant,
                duration,
                origin,
            }),
            Err(e) => {
                if matches!(&e, AppError::ProvisioningFailed { source, .. } if source.kind == ProviderErrorKind::NotFound)
                {
                    // A cached id may be stale (e.g. the permission set was recreated).
                    self.forget_cached(access).await?;
                }
                Err(e)
            }
        }
    }
}
