//! Extending an active grant within its access's maximum.

use aws_jit_core::authorize::Action;
use aws_jit_core::duration::effective_duration;
use aws_jit_core::eligibility::PolicyAction;
use aws_jit_core::extension::cannot_extend;
use aws_jit_core::{AccessDuration, Actor, AuditAction, Grant, GrantId, GrantStatus, UserEmail};

use super::eligibility::Asked;
use super::{AppError, Jit, whole_seconds};
use crate::ports::AuditQuery;

impl Jit {
    /// Whether a grant began by break-glass (its first audit event says so): such grants
    /// are short by design and never extended.
    pub async fn began_by_break_glass(&self, grant: &Grant) -> Result<bool, AppError> {
        let first = self
            .store
            .audit(&AuditQuery {
                grant_id: Some(grant.id.to_string()),
                limit: 1,
                ..AuditQuery::default()
            })
            .await?;
        Ok(first
            .first()
            .is_some_and(|e| e.action == AuditAction::BreakGlass))
    }

    /// Moves an active grant's expiry later by `by` (default: the access's maximum), never
    /// beyond its start plus the access's maximum. Touches nothing in AWS: the expiry is
    /// the tool's to enforce. Refused for grants whose generated policy carries the expiry
    /// in its condition (request a new grant instead).
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn extend(
        &self,
        id: &GrantId,
        by: Option<AccessDuration>,
        actor: &Actor,
    ) -> Result<Grant, AppError> {
        let grant = self.load(id).await?;
        let actor = self
            .authorize_for(actor, Action::Extend, &grant.person(), Some(&grant))
            .await?;
        let access = self
            .access(&grant.access)
            .map_err(|e| AppError::CannotExtend {
                id: id.to_string(),
                why: format!("its access is no longer configured: {e}"),
            })?;
        if grant.status != GrantStatus::Active {
            return Err(AppError::NotActive {
                id: id.to_string(),
                status: grant.status,
            });
        }
        let refuse = |why: String| AppError::CannotExtend {
            id: id.to_string(),
            why,
        };
        let break_glass = self.began_by_break_glass(&grant).await?;
        let rules = cannot_extend(&grant, access, self.settings.global_max, break_glass);
        if let Some(why) = rules {
            return Err(refuse(why));
        }
        // The same cap as a new grant: the access's maximum and MAX_DURATION.
        let max = effective_duration(None, access.session_duration, self.settings.global_max)
            .duration
            .to_signed();
        let started = grant.granted_at.unwrap_or(grant.requested_at);
        let limit = started.checked_add(max).unwrap_or(grant.expires_at);
        let wanted = grant
            .expires_at
            .checked_add(by.map_or(max, AccessDuration::to_signed))
            .unwrap_or(limit);
        // Later than now's expiry: `cannot_extend` refused a grant already at its longest,
        // and `by` is never zero.
        let until = wanted.min(limit);
        // Eligibility for the whole grant as extended, the person as the directory knows
        // them now.
        let user =
            UserEmail::parse(&grant.user).map_err(|_| AppError::UnknownUser(grant.user.clone()))?;
        let person = self.resolve_person(&user, false).await?;
        let total = until.duration_since(started).as_secs().max(0);
        let asked = Asked {
            action: PolicyAction::Extend,
            duration_seconds: u64::try_from(total).unwrap_or_default(),
            reason: "",
            break_glass: false,
            requester: None,
        };
        self.check_eligible(&actor, &person, access, asked, Some(&grant))
            .await?;
        let mut extended = grant.clone();
        extended.expires_at = until;
        let capped = if until < wanted {
            " (capped to the access's maximum)"
        } else {
            ""
        };
        let event = self.event(
            &grant,
            &actor,
            AuditAction::GrantExtended,
            format!(
                "expiry {} -> {}{capped}",
                whole_seconds(grant.expires_at),
                whole_seconds(until)
            ),
        );
        // Never in the middle of a change to the same target (a provisioning that may re-mark
        // this grant's origin): wait for it, then write.
        let op = self.op(&actor);
        self.write_when_free(&op, &grant, extended, event).await
    }
}
