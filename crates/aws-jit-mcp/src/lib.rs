//! `aws-jit mcp`: a Model Context Protocol server on stdio, so that agents (Kubiya, editors,
//! chat clients) can request, list, extend and revoke access for the person they work for.
//!
//! The person is fixed when the server starts (from the environment); no tool takes a user
//! argument, and the tools' input schemas refuse unknown fields, so a model cannot ask to
//! act for someone else. A grant id that belongs to someone else is refused, and the
//! refusal is audited. Every change goes through the same use cases as the CLI, so the
//! audit log records it with the actor `<user> (mcp)`.
//!
//! stdout carries the protocol: nothing else may print there (logs go to stderr).

use std::sync::Arc;

use aws_jit_app::ports::GrantFilter;
use aws_jit_app::{GrantRequest, Jit};
use aws_jit_core::views::{AccessView, GrantView};
use aws_jit_core::{AccessDuration, Catalog, Grant, GrantId, UserEmail};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The MCP tools, bound to one person.
#[derive(Debug, Clone)]
pub struct JitTools {
    jit: Jit,
    catalog: Arc<Catalog>,
    user: UserEmail,
}

/// `request_access`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestAccess {
    /// The access: its key, its name or its tool slug (see `list_accesses`).
    pub access: String,
    /// How long, e.g. `PT1H` or `30m`; capped to the access's maximum, which is the default.
    pub duration: Option<String>,
    /// Why the access is needed (recorded in the audit log).
    pub reason: Option<String>,
}

/// `list_my_grants`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMyGrants {
    /// Include ended grants (revoked, expired, failed).
    #[serde(default)]
    pub include_ended: bool,
}

/// `revoke_my_access`: a grant id, or an access (its live grant is revoked).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeMyAccess {
    /// The grant's id (from `list_my_grants`).
    pub grant_id: Option<String>,
    /// Or the access whose live grant to revoke.
    pub access: Option<String>,
}

/// `extend_my_access`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendMyAccess {
    /// The grant's id (from `list_my_grants`).
    pub grant_id: String,
    /// How much longer (default: as long as the access's maximum allows).
    pub duration: Option<String>,
}

/// A tool that ran and failed: the model sees the message (`is_error`).
fn failed(message: impl std::fmt::Display) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.to_string())])
}

fn grant_json(grant: &Grant) -> Value {
    serde_json::to_value(GrantView::from(grant)).unwrap_or(Value::Null)
}

fn duration(text: Option<&str>) -> Result<Option<AccessDuration>, String> {
    text.map(AccessDuration::parse)
        .transpose()
        .map_err(|e| format!("duration: {e}"))
}

impl JitTools {
    /// Tools acting for `user`.
    pub fn new(jit: Jit, catalog: Arc<Catalog>, user: UserEmail) -> Self {
        JitTools { jit, catalog, user }
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
            return Err(format!(
                "grant `{id}` is not yours: these tools act only for {}",
                self.user.normalized()
            ));
        }
        Ok(grant)
    }
}

#[tool_router]
impl JitTools {
    /// Lists what can be requested.
    #[tool(
        description = "List the AWS accesses that can be requested: key, name, account, permission set or buckets, and maximum duration."
    )]
    async fn list_accesses(&self) -> Result<CallToolResult, ErrorData> {
        let accesses: Vec<AccessView> = self
            .catalog
            .accesses()
            .iter()
            .map(AccessView::from)
            .collect();
        Ok(CallToolResult::structured(json!({ "accesses": accesses })))
    }

    /// Grants an access to the person, for a bounded time.
    #[tool(
        description = "Request just-in-time AWS access for yourself. It is granted at once (within the access's maximum duration) and revoked automatically when it expires."
    )]
    async fn request_access(
        &self,
        Parameters(request): Parameters<RequestAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        let access = match self.catalog.find(&request.access) {
            Ok(access) => access,
            Err(e) => return Ok(failed(e)),
        };
        let duration = match duration(request.duration.as_deref()) {
            Ok(d) => d,
            Err(why) => return Ok(failed(why)),
        };
        let outcome = self
            .jit
            .grant(GrantRequest {
                access,
                user: self.user.clone(),
                requested_by: self.actor(),
                duration,
                reason: request.reason,
            })
            .await;
        Ok(match outcome {
            Ok(outcome) => {
                let mut result = grant_json(&outcome.grant);
                if let (Some(map), Some(asked)) =
                    (result.as_object_mut(), outcome.duration.capped_from)
                {
                    map.insert("capped_from".to_owned(), json!(asked.to_string()));
                }
                CallToolResult::structured(result)
            }
            Err(e) => failed(e),
        })
    }

    /// The person's grants.
    #[tool(description = "List your grants: live ones, or all with include_ended.")]
    async fn list_my_grants(
        &self,
        Parameters(query): Parameters<ListMyGrants>,
    ) -> Result<CallToolResult, ErrorData> {
        let filter = GrantFilter {
            include_ended: query.include_ended,
            user: Some(self.user.normalized()),
            limit: 200,
            ..GrantFilter::default()
        };
        Ok(match self.jit.store().grants(&filter).await {
            Ok(grants) => {
                let grants: Vec<Value> = grants.iter().map(grant_json).collect();
                CallToolResult::structured(json!({ "grants": grants }))
            }
            Err(e) => failed(e),
        })
    }

    /// Ends one of the person's grants now.
    #[tool(description = "Revoke one of your grants now, by grant_id or by access.")]
    async fn revoke_my_access(
        &self,
        Parameters(which): Parameters<RevokeMyAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        let grant = match (&which.grant_id, &which.access) {
            (Some(id), None) => match self.own_grant(id, "revoke_my_access").await {
                Ok(grant) => grant,
                Err(why) => return Ok(failed(why)),
            },
            (None, Some(query)) => {
                let access = match self.catalog.find(query) {
                    Ok(access) => access,
                    Err(e) => return Ok(failed(e)),
                };
                match self.jit.find_live_grant(access, &self.user).await {
                    Ok(grant) => grant,
                    Err(e) => return Ok(failed(e)),
                }
            }
            _ => return Ok(failed("give exactly one of grant_id and access")),
        };
        Ok(match self.jit.revoke(&grant.id, &self.actor()).await {
            Ok(outcome) => {
                let mut result = grant_json(&outcome.grant);
                if let (Some(map), Some(kept)) = (result.as_object_mut(), outcome.kept) {
                    map.insert("kept".to_owned(), json!(kept));
                }
                CallToolResult::structured(result)
            }
            Err(e) => failed(e),
        })
    }

    /// Moves the expiry of one of the person's grants later.
    #[tool(
        description = "Extend one of your active grants, never beyond its access's maximum duration from when it started."
    )]
    async fn extend_my_access(
        &self,
        Parameters(extension): Parameters<ExtendMyAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        let grant = match self
            .own_grant(&extension.grant_id, "extend_my_access")
            .await
        {
            Ok(grant) => grant,
            Err(why) => return Ok(failed(why)),
        };
        let access = match self.catalog.find(&grant.access) {
            Ok(access) => access,
            Err(e) => {
                return Ok(failed(format!(
                    "the grant's access is no longer configured: {e}"
                )));
            }
        };
        let by = match duration(extension.duration.as_deref()) {
            Ok(d) => d,
            Err(why) => return Ok(failed(why)),
        };
        Ok(
            match self.jit.extend(&grant.id, access, by, &self.actor()).await {
                Ok(extended) => CallToolResult::structured(grant_json(&extended)),
                Err(e) => failed(e),
            },
        )
    }
}

#[tool_handler]
impl ServerHandler for JitTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("aws-jit", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Just-in-time AWS access for {}. Request only what the task needs, for as short as it needs; access ends by itself at expiry.",
                self.user.normalized()
            ))
    }
}

/// Serves the tools on stdin/stdout until the client disconnects.
pub async fn serve_stdio(tools: JitTools) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let service = tools.serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
