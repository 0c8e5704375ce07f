//! The approval queue: the requests a person may decide now, as the decision point would
//! judge them (the same pure rules and the same policies as `approve`), for the pages and
//! tools that list them. Listing audits nothing: only acting does.

use std::collections::BTreeMap;

use aws_jit_core::authorize::{self, Action, PendingRequest, Subject};
use aws_jit_core::eligibility::{Ask, PolicyAction};
use aws_jit_core::{Actor, Grant, GrantStatus, Person};

use super::approval::decided_seconds;
use super::{AppError, Jit};
use crate::ports::GrantFilter;

/// A request waiting for approval that the person may decide.
#[derive(Debug, Clone)]
pub struct Decidable {
    /// The request.
    pub grant: Grant,
    /// Who approved it so far.
    pub approved_by: Vec<Person>,
    /// How many distinct approvals it needs in all.
    pub required: usize,
}

impl Decidable {
    /// The view the API and MCP answer with.
    pub fn view(&self) -> aws_jit_core::views::PendingView {
        aws_jit_core::views::PendingView::new(
            &self.grant,
            self.approved_by.iter().map(|p| p.email.clone()).collect(),
            self.required,
        )
    }
}

impl Jit {
    /// The pending requests `actor` may approve or deny, oldest first.
    pub async fn decidable(&self, actor: &Actor) -> Result<Vec<Decidable>, AppError> {
        let actor = self.identify(actor).await?;
        let Some(me) = actor.own_person() else {
            return Ok(Vec::new());
        };
        let engine = self.policies()?.clone();
        let groups = self.policy_groups(me).await?;
        let now = self.clock.now();
        let mut pending = self
            .store
            .grants(&GrantFilter {
                statuses: vec![GrantStatus::Pending],
                ..GrantFilter::default()
            })
            .await?;
        pending.reverse();
        let mut in_group: BTreeMap<String, bool> = BTreeMap::new();
        let mut decidable = Vec::new();
        for grant in pending {
            if grant.expires_at <= now {
                continue; // lapsed: the worker closes it
            }
            let Ok(access) = self.access(&grant.access) else {
                continue;
            };
            let Some(policy) = &access.approval else {
                continue;
            };
            let listed = policy.approvers.iter().any(|a| me.is_named(a));
            let member = match in_group.get(&access.key) {
                Some(member) => *member,
                None if listed => false,
                None => {
                    // One access's failed lookup leaves it out, not the whole queue.
                    let member = match self.in_approver_group(access, me).await {
                        Ok(member) => member,
                        Err(e) => {
                            tracing::warn!(access = %access.key, error = %e, "approval queue: group lookup failed");
                            false
                        }
                    };
                    in_group.insert(access.key.clone(), member);
                    member
                }
            };
            let user = grant.person();
            let judge = |approved_by: &[Person]| {
                let request = PendingRequest {
                    access,
                    user: &user,
                    requested_by: &grant.requested_by,
                    actor_in_approver_group: member,
                    approved_by,
                };
                authorize::decide(&actor, Action::Approve, &Subject::Pending(request)).is_ok()
            };
            // The rules first (cheap), then who approved so far (the audit log).
            if !judge(&[]) {
                continue;
            }
            // A request that needs one approval has none while it waits (the first grants it).
            let approved_by = if policy.required > 1 {
                match self.approvals_so_far(&grant).await {
                    Ok(people) => people,
                    Err(e) => {
                        tracing::warn!(grant_id = %grant.id, error = %e, "approval queue: approvals unreadable");
                        continue;
                    }
                }
            } else {
                Vec::new()
            };
            if !judge(&approved_by) {
                continue;
            }
            let ask = Ask {
                action: PolicyAction::Approve,
                principal: me,
                groups: &groups,
                access,
                duration_seconds: decided_seconds(&grant, access),
                reason: "",
                break_glass: false,
                channel: actor.channel.as_str(),
                on_behalf: false,
                requester: Some(&user),
                at: now,
            };
            if !engine.decide(&ask).allowed {
                continue;
            }
            decidable.push(Decidable {
                required: policy.required,
                grant,
                approved_by,
            });
        }
        Ok(decidable)
    }
}
