//! Approvals: requests that wait, who may decide, the quorum, denial and lapse.

use aws_jit_core::approval;
use aws_jit_core::authorize::{self, Action, PendingRequest, Refusal, Subject};
use aws_jit_core::config::ApprovalPolicy;
use aws_jit_core::duration::effective_duration;
use aws_jit_core::eligibility::PolicyAction;
use aws_jit_core::{
    Access, AccessOrigin, AccessTarget, Actor, AuditAction, Grant, GrantEvent, GrantId,
    GrantStatus, Person, UserEmail,
};

use super::eligibility::Asked;
use super::grant::{Admitted, check_text};
use super::{AppError, GrantOutcome, Jit, system_actor, whole_seconds};
use crate::ports::AuditQuery;
use aws_jit_core::text::MAX_REASON_CHARS;

/// How long the request being decided would last: what was asked, within the access.
pub(crate) fn decided_seconds(grant: &Grant, access: &Access) -> u64 {
    grant
        .requested_duration
        .map_or(access.session_duration, |d| d.min(access.session_duration))
        .as_seconds()
}

/// A pending request and its access, as a decision needs them.
#[derive(Debug)]
struct Decision<'a> {
    grant: Grant,
    access: &'a Access,
    in_group: bool,
}

impl Jit {
    /// Records a request that waits for approval: resolved now (so an unknown user or
    /// permission set is refused at once), nothing changed in AWS, lapsing at the access's
    /// `approval_timeout`.
    pub(crate) async fn request_approval(
        &self,
        request: Admitted<'_>,
        policy: &ApprovalPolicy,
    ) -> Result<GrantOutcome, AppError> {
        let _access = request.access;
        let prepared = self.prepare(&request).await?;
        let now = prepared.now;
        let deadline = now
            .saturating_add(policy.timeout.to_signed())
            .unwrap_or(now);
        let duration = prepared.duration;
        let grant = request.record(&prepared, deadline, Some(duration.duration))?;
        let mut detail = format!(
            "waiting for {} approval{} from {}; duration {}; lapses at {}",
            policy.required,
            if policy.required == 1 { "" } else { "s" },
            policy.approvers.join(", "),
            duration.duration,
            whole_seconds(deadline)
        );
        if let Some(reason) = &request.reason {
            detail.push_str(&format!("; reason: {reason}"));
        }
        let event = self.event(
            &grant,
            &request.actor,
            AuditAction::ApprovalRequested,
            detail,
        );
        let outbox = self.approval_requested_messages(&grant, policy);
        let op = self.op(&request.actor);
        self.insert_locked(&grant, &event, &outbox, &op).await?;
        Ok(GrantOutcome {
            grant,
            duration,
            origin: AccessOrigin::Unknown,
        })
    }

    /// Who approved a pending request so far (distinct people, from the audit log).
    pub(crate) async fn approvals_so_far(&self, grant: &Grant) -> Result<Vec<Person>, AppError> {
        let events = self
            .store
            .audit(&AuditQuery {
                grant_id: Some(grant.id.to_string()),
                ..AuditQuery::default()
            })
            .await?;
        let mut people: Vec<Person> = Vec::new();
        for event in events.iter().filter(|e| e.action == AuditAction::Approved) {
            if let Some(person) = Actor::from_stored(&event.actor).acting_person()
                && !people.iter().any(|p| p.same_as(&person))
            {
                people.push(person);
            }
        }
        Ok(people)
    }

    /// Asks the decision point whether `actor` (resolved in the directory) may decide on
    /// `grant`: a person, never the one it is for nor the one who asked, a listed approver
    /// or a member of an approver group, and not twice.
    async fn authorize_decision(
        &self,
        actor: &Actor,
        action: Action,
        decision: &Decision<'_>,
        approved_by: &[Person],
    ) -> Result<(), AppError> {
        let (grant, access, in_group) = (&decision.grant, decision.access, decision.in_group);
        let user = grant.person();
        let request = PendingRequest {
            access,
            user: &user,
            requested_by: &grant.requested_by,
            actor_in_approver_group: in_group,
            approved_by,
        };
        self.authorize(actor, action, &Subject::Pending(request), Some(grant))
            .await?;
        // And the policies: the approver is the principal.
        let Some(me) = actor.own_person() else {
            return Err(AppError::NotAllowed(
                "only people approve or deny requests".to_owned(),
            ));
        };
        let asked = Asked {
            action: if action == Action::Approve {
                PolicyAction::Approve
            } else {
                PolicyAction::Deny
            },
            duration_seconds: decided_seconds(grant, access),
            reason: "",
            break_glass: false,
            requester: Some(&user),
        };
        self.check_eligible(actor, me, access, asked, Some(grant))
            .await
            .map(drop)
    }

    /// Whether the person belongs to one of the access's approver groups (Identity Center).
    pub(crate) async fn in_approver_group(
        &self,
        access: &Access,
        person: &Person,
    ) -> Result<bool, AppError> {
        let Some(policy) = access.approval.as_ref().filter(|p| !p.groups.is_empty()) else {
            return Ok(false);
        };
        let Some(principal_id) = &person.id else {
            return Ok(false); // not in the directory: not in any of its groups
        };
        let instance = self.instance().await?;
        let groups = self
            .sso
            .member_of(&instance, principal_id, &policy.groups)
            .await?;
        Ok(!groups.is_empty())
    }

    /// The request `actor` wants to decide on, resolved in the directory with it. A
    /// request the actor may neither see nor decide on is answered as not found (and the
    /// refusal audited): its existence, state and approvers are not theirs to learn.
    async fn decision<'a>(
        &'a self,
        id: &GrantId,
        actor: &Actor,
        action: Action,
    ) -> Result<(Decision<'a>, Actor), AppError> {
        let grant = self.load(id).await?;
        let access = self.access(&grant.access)?;
        let actor = self.identify(actor).await?;
        let listed = actor.own_person().is_some_and(|me| {
            access
                .approval
                .as_ref()
                .is_some_and(|p| p.approvers.iter().any(|a| me.is_named(a)))
        });
        // Identity Center is asked only when the list does not already say yes.
        let in_group = match actor.own_person() {
            Some(me) if !listed => self.in_approver_group(access, me).await?,
            _ => false,
        };
        let sees =
            authorize::decide(&actor, Action::View, &Subject::Person(&grant.person())).is_ok();
        if !(listed || in_group || sees) {
            let refusal = Refusal(format!(
                "grant `{id}` is neither visible to nor decidable by the caller"
            ));
            let user = grant.user.clone();
            self.refuse(&actor, action, &user, Some(&grant), refusal)
                .await;
            return Err(AppError::GrantNotFound(id.to_string()));
        }
        let grant = self.pending(grant).await?;
        Ok((
            Decision {
                grant,
                access,
                in_group,
            },
            actor,
        ))
    }

    /// The request if it still waits for approval, or why it cannot be decided on.
    pub(crate) async fn pending(&self, grant: Grant) -> Result<Grant, AppError> {
        let id = grant.id.clone();
        if grant.status != GrantStatus::Pending {
            return Err(AppError::NotPending {
                id: id.to_string(),
                status: grant.status,
            });
        }
        if grant.expires_at <= self.clock.now() {
            // Past its deadline: lapsed, even if no worker has closed it yet.
            let detail = "nobody decided before the approval deadline".to_owned();
            let closed = self
                .close(
                    grant,
                    &system_actor("approval"),
                    AuditAction::Lapsed,
                    detail,
                )
                .await?;
            return Err(AppError::NotPending {
                id: id.to_string(),
                status: closed.status,
            });
        }
        Ok(grant)
    }

    /// Approves a pending request as `approver`; once enough distinct approvers have, the
    /// access is granted (for the duration asked, from now). Returns the grant: still
    /// pending, or active.
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn approve(
        &self,
        id: &GrantId,
        approver: &Actor,
        reason: Option<String>,
    ) -> Result<Grant, AppError> {
        if let Some(reason) = &reason {
            check_text("reason", reason, MAX_REASON_CHARS)?;
        }
        let (decision, approver) = self.decision(id, approver, Action::Approve).await?;
        let approved_by = self.approvals_so_far(&decision.grant).await?;
        self.authorize_decision(&approver, Action::Approve, &decision, &approved_by)
            .await?;
        let Decision { grant, access, .. } = decision;
        let Some(policy) = &access.approval else {
            return Err(AppError::NotAllowed(format!(
                "`{}` needs no approval",
                access.key
            )));
        };
        let count = approved_by.len() + 1;
        let mut detail = format!("approval {count} of {}", policy.required);
        if let Some(reason) = &reason {
            detail.push_str(&format!("; reason: {reason}"));
        }
        let event = self.event(&grant, &approver, AuditAction::Approved, detail);
        if !approval::quorum(policy, count) {
            // The approval is recorded, and the version bump makes two approvals racing to
            // be the last one conflict.
            return self
                .write_unlocked(&grant, grant.clone(), event, Vec::new())
                .await;
        }
        // Enough: grant it for the duration asked, counted from now.
        let duration = effective_duration(
            grant.requested_duration,
            access.session_duration,
            self.settings.global_max,
        );
        let now = self.clock.now();
        let expires_at = now
            .saturating_add(duration.duration.to_signed())
            .unwrap_or(now);
        let user =
            UserEmail::parse(&grant.user).map_err(|_| AppError::UnknownUser(grant.user.clone()))?;
        // The person must still be eligible now, when the access would start: they may
        // have left `requesters` or a group, or a rule may apply at this hour. So they are
        // looked up now (once), with every name the directory has for them.
        let (person, eligible_now) = match &grant.user_id {
            Some(_) => (grant.person(), self.resolve_person(&user, false).await?),
            None => {
                let required = !matches!(access.target, AccessTarget::S3 { .. });
                let person = self.resolve_person(&user, required).await?;
                (person.clone(), person)
            }
        };
        let asked = Asked {
            action: PolicyAction::Request,
            duration_seconds: duration.duration.as_seconds(),
            reason: grant.reason.as_deref().unwrap_or_default(),
            break_glass: false,
            requester: None,
        };
        self.check_eligible(
            &grant.requested_by,
            &eligible_now,
            access,
            asked,
            Some(&grant),
        )
        .await?;
        let resolved = self
            .resolve(access, &person, &user, &grant.id, expires_at)
            .await?;
        let mut next = grant.clone();
        next.status = grant.status.apply(GrantEvent::Approved, None)?;
        next.expires_at = expires_at;
        next.target = resolved.target.clone();
        next.user_id.clone_from(&person.id);
        self.finish_interrupted(&grant.target_key).await?;
        let mut op = self.op(&approver);
        op.approved = true;
        let provisioning = self.write_locked(&op, &grant, next, Some(event)).await?;
        let (active, _) = self
            .provision(&provisioning, access, &resolved.blueprint, &op)
            .await?;
        Ok(active)
    }

    /// Denies a pending request as `approver`; it ends (`approval.denied`) and the
    /// requester is told.
    #[tracing::instrument(skip_all, fields(grant_id = %id))]
    pub async fn deny(
        &self,
        id: &GrantId,
        approver: &Actor,
        reason: Option<String>,
    ) -> Result<Grant, AppError> {
        if let Some(reason) = &reason {
            check_text("reason", reason, MAX_REASON_CHARS)?;
        }
        let (decision, approver) = self.decision(id, approver, Action::Deny).await?;
        self.authorize_decision(&approver, Action::Deny, &decision, &[])
            .await?;
        let grant = decision.grant;
        let why = reason.map_or_else(String::new, |r| format!(": {r}"));
        let who = approver
            .own_person()
            .map_or_else(|| approver.to_string(), |p| p.email.clone());
        self.close(
            grant,
            &approver,
            AuditAction::Denied,
            format!("denied by {who}{why}"),
        )
        .await
    }

    /// Ends a pending request unanswered, denied or lapsed.
    pub(crate) async fn close(
        &self,
        grant: Grant,
        actor: &Actor,
        action: AuditAction,
        detail: String,
    ) -> Result<Grant, AppError> {
        let now = self.clock.now();
        let mut closed = grant.clone();
        closed.status = grant.status.apply(GrantEvent::Closed, None)?;
        closed.ended_at = Some(now);
        closed.last_error = Some(detail.clone());
        let event = self.event(&grant, actor, action, detail.clone());
        let outbox = self.closed_messages(&closed, &detail);
        self.write_unlocked(&grant, closed, event, outbox).await
    }
}
