//! The direct backend: the use cases in this process, like the CLI (AWS and the store).

use std::sync::Arc;

use async_trait::async_trait;
use aws_jit_app::ports::GrantFilter;
use aws_jit_app::{AppError, GrantRequest, Jit};
use aws_jit_core::eligibility::PolicyEngine;
use aws_jit_core::views::{AccessView, GrantView, PendingView, grant_view_with};
use aws_jit_core::{AccessDuration, Actor, Catalog, Channel, GrantId, Person, UserEmail};
use serde_json::{Value, json};

use crate::{Backend, Which};

/// Acts for one person through the use cases.
#[derive(Debug, Clone)]
pub struct Direct {
    jit: Jit,
    user: UserEmail,
    actor: Actor,
}

impl Direct {
    /// Acting for `person` (resolved in the directory once, at start), as a requester,
    /// over the catalog and the policies loaded with it.
    pub fn new(
        jit: Jit,
        catalog: Arc<Catalog>,
        policies: Arc<PolicyEngine>,
        user: UserEmail,
        person: Person,
    ) -> Self {
        Direct {
            jit: jit.with_catalog(catalog).with_policies(policies),
            user,
            actor: Actor::person(person, Channel::Mcp),
        }
    }

    fn email(&self) -> &str {
        self.actor.own_person().map_or("", |p| p.email.as_str())
    }

    /// A use case's error, for the model: another person's grant is "not yours" (the
    /// decision point has audited the refusal).
    fn error(&self, id: &str, e: AppError) -> String {
        match e {
            AppError::NotAllowed(_) | AppError::GrantNotFound(_) => {
                crate::not_yours(id, self.email())
            }
            e => e.to_string(),
        }
    }
}

fn duration(text: Option<&str>) -> Result<Option<AccessDuration>, String> {
    text.map(AccessDuration::parse)
        .transpose()
        .map_err(|e| format!("duration: {e}"))
}

#[async_trait]
impl Backend for Direct {
    fn person(&self) -> String {
        self.email().to_owned()
    }

    async fn accesses(&self) -> Result<Value, String> {
        // Only what this person may request.
        let person = self.actor.own_person().ok_or("acting for no person")?;
        let accesses: Vec<AccessView> = self
            .jit
            .requestable(person, Channel::Mcp.as_str())
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(AccessView::from)
            .collect();
        Ok(json!(accesses))
    }

    async fn request(
        &self,
        access: &str,
        how_long: Option<&str>,
        reason: Option<String>,
        break_glass: bool,
    ) -> Result<Value, String> {
        let outcome = self
            .jit
            .grant(GrantRequest {
                access: access.to_owned(),
                user: self.user.clone(),
                actor: self.actor.clone(),
                duration: duration(how_long)?,
                reason,
                break_glass,
            })
            .await
            .map_err(|e| e.to_string())?;
        let capped = outcome.duration.capped_from.map(|d| d.to_string());
        Ok(grant_view_with(&outcome.grant, "capped_from", capped))
    }

    async fn my_grants(&self, include_ended: bool) -> Result<Value, String> {
        let filter = GrantFilter {
            include_ended,
            user: Some(self.email().to_owned()),
            limit: 200,
            ..GrantFilter::default()
        };
        let grants = self
            .jit
            .store()
            .grants(&filter)
            .await
            .map_err(|e| e.to_string())?;
        let views: Vec<GrantView> = grants.iter().map(GrantView::from).collect();
        Ok(json!(views))
    }

    async fn revoke(&self, which: Which<'_>) -> Result<Value, String> {
        let id = match which {
            Which::Grant(id) => GrantId::new(id),
            Which::Access(query) => {
                self.jit
                    .find_live_grant(query, &self.user)
                    .await
                    .map_err(|e| e.to_string())?
                    .id
            }
        };
        let outcome = self
            .jit
            .revoke(&id, &self.actor)
            .await
            .map_err(|e| self.error(id.as_str(), e))?;
        Ok(grant_view_with(&outcome.grant, "kept", outcome.kept))
    }

    async fn extend(&self, grant_id: &str, how_long: Option<&str>) -> Result<Value, String> {
        let extended = self
            .jit
            .extend(&GrantId::new(grant_id), duration(how_long)?, &self.actor)
            .await
            .map_err(|e| self.error(grant_id, e))?;
        Ok(serde_json::to_value(GrantView::from(&extended)).unwrap_or(Value::Null))
    }

    async fn pending_approvals(&self) -> Result<Value, String> {
        let queue = self
            .jit
            .decidable(&self.actor)
            .await
            .map_err(|e| e.to_string())?;
        let views: Vec<PendingView> = queue.iter().map(aws_jit_app::Decidable::view).collect();
        Ok(json!(views))
    }

    async fn decide(
        &self,
        grant_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<Value, String> {
        let id = GrantId::new(grant_id);
        let decided = if approve {
            self.jit.approve(&id, &self.actor, reason).await
        } else {
            self.jit.deny(&id, &self.actor, reason).await
        };
        // The decision point's refusal says why (and was audited).
        let grant = decided.map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(GrantView::from(&grant)).unwrap_or(Value::Null))
    }
}
