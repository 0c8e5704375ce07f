//! The direct backend: the use cases in this process, like the CLI (AWS and the store).

use std::sync::Arc;

use async_trait::async_trait;
use aws_jit_app::ports::GrantFilter;
use aws_jit_app::{GrantRequest, Jit};
use aws_jit_core::views::{AccessView, GrantView};
use aws_jit_core::{AccessDuration, Catalog, Grant, GrantId, UserEmail};
use serde_json::{Value, json};

use crate::{Backend, Which};

/// Acts for one person through the use cases.
#[derive(Debug, Clone)]
pub struct Direct {
    jit: Jit,
    catalog: Arc<Catalog>,
    user: UserEmail,
}

impl Direct {
    /// Acting for `user`.
    pub fn new(jit: Jit, catalog: Arc<Catalog>, user: UserEmail) -> Self {
        Direct { jit, catalog, user }
    }

    fn actor(&self) -> String {
        format!("{} (mcp)", self.user.normalized())
    }

    /// One of the person's grants, or why not (a refusal is audited).
    async fn own_grant(&self, id: &str, tool: &str) -> Result<Grant, String> {
        let grant = self
            .jit
            .store()
            .grant(&GrantId::new(id))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no grant has id `{id}`"))?;
        if grant.user != self.user.normalized() {
            let detail = format!("mcp {tool}: grant `{id}` belongs to someone else");
            if let Err(e) = self
                .jit
                .record_refusal(&self.actor(), &grant.user, detail)
                .await
            {
                tracing::error!(error = %e, "could not audit a refused tool call");
            }
            return Err(crate::not_yours(id, &self.user.normalized()));
        }
        Ok(grant)
    }
}

fn duration(text: Option<&str>) -> Result<Option<AccessDuration>, String> {
    text.map(AccessDuration::parse)
        .transpose()
        .map_err(|e| format!("duration: {e}"))
}

fn with_field(grant: &Grant, key: &str, value: Option<String>) -> Value {
    let mut view = serde_json::to_value(GrantView::from(grant)).unwrap_or(Value::Null);
    if let (Some(map), Some(value)) = (view.as_object_mut(), value) {
        map.insert(key.to_owned(), json!(value));
    }
    view
}

#[async_trait]
impl Backend for Direct {
    fn person(&self) -> String {
        self.user.normalized()
    }

    async fn accesses(&self) -> Result<Value, String> {
        let accesses: Vec<AccessView> = self
            .catalog
            .accesses()
            .iter()
            .map(AccessView::from)
            .collect();
        Ok(json!(accesses))
    }

    async fn request(
        &self,
        access: &str,
        how_long: Option<&str>,
        reason: Option<String>,
    ) -> Result<Value, String> {
        let access = self.catalog.find(access).map_err(|e| e.to_string())?;
        let outcome = self
            .jit
            .grant(GrantRequest {
                access,
                user: self.user.clone(),
                requested_by: self.actor(),
                duration: duration(how_long)?,
                reason,
                break_glass: false,
            })
            .await
            .map_err(|e| e.to_string())?;
        let capped = outcome.duration.capped_from.map(|d| d.to_string());
        Ok(with_field(&outcome.grant, "capped_from", capped))
    }

    async fn my_grants(&self, include_ended: bool) -> Result<Value, String> {
        let filter = GrantFilter {
            include_ended,
            user: Some(self.user.normalized()),
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
        let grant = match which {
            Which::Grant(id) => self.own_grant(id, "revoke_my_access").await?,
            Which::Access(query) => {
                let access = self.catalog.find(query).map_err(|e| e.to_string())?;
                self.jit
                    .find_live_grant(access, &self.user)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        let outcome = self
            .jit
            .revoke(&grant.id, &self.actor())
            .await
            .map_err(|e| e.to_string())?;
        Ok(with_field(&outcome.grant, "kept", outcome.kept))
    }

    async fn extend(&self, grant_id: &str, how_long: Option<&str>) -> Result<Value, String> {
        let grant = self.own_grant(grant_id, "extend_my_access").await?;
        let access = self
            .catalog
            .find(&grant.access)
            .map_err(|e| format!("the grant's access is no longer configured: {e}"))?;
        let extended = self
            .jit
            .extend(&grant.id, access, duration(how_long)?, &self.actor())
            .await
            .map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(GrantView::from(&extended)).unwrap_or(Value::Null))
    }
}
