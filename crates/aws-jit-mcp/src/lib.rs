//! `aws-jit mcp`: a Model Context Protocol server on stdio, so that agents (Kubiya, editors,
//! chat clients) can request, list, extend and revoke access for the person they work for.
//!
//! The person is fixed when the server starts: from the environment (the [`direct`]
//! backend, which runs the use cases in this process like the CLI), or from the bearer
//! token of a running `aws-jit serve` (the [`api`] backend, so the server's rules and audit
//! apply). No tool takes a user argument, and the tools' input schemas refuse unknown
//! fields, so a model cannot ask to act for someone else; a grant id that belongs to
//! someone else is refused.
//!
//! stdout carries the protocol: nothing else may print there (logs go to stderr).

pub mod api;
pub mod direct;

use std::sync::Arc;

use async_trait::async_trait;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

/// Which grant to revoke.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// By id.
    Grant(&'a str),
    /// The person's live grant of this access.
    Access(&'a str),
}

/// What the tools do, for one person. Errors are messages for the model.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The person (lowercase email).
    fn person(&self) -> String;
    /// The accesses (the API's access views).
    async fn accesses(&self) -> Result<Value, String>;
    /// Grants an access to the person (break-glass: skipping approval in an emergency).
    async fn request(
        &self,
        access: &str,
        how_long: Option<&str>,
        reason: Option<String>,
        break_glass: bool,
    ) -> Result<Value, String>;
    /// The person's grants.
    async fn my_grants(&self, include_ended: bool) -> Result<Value, String>;
    /// Revokes one of the person's grants.
    async fn revoke(&self, which: Which<'_>) -> Result<Value, String>;
    /// Extends one of the person's grants.
    async fn extend(&self, grant_id: &str, how_long: Option<&str>) -> Result<Value, String>;
    /// The requests the person may approve or deny now.
    async fn pending_approvals(&self) -> Result<Value, String>;
    /// Approves (or denies) a request as the person.
    async fn decide(
        &self,
        grant_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<Value, String>;
}

/// The refusal for someone else's grant.
pub(crate) fn not_yours(id: &str, person: &str) -> String {
    format!("no grant `{id}` of yours: these tools act only for {person}")
}

/// The MCP tools over a backend.
#[derive(Debug, Clone)]
pub struct JitTools {
    backend: Arc<dyn Backend>,
}

/// `request_access`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestAccess {
    /// The access: its key, its name or its tool slug (see `list_accesses`).
    pub access: String,
    /// How long, e.g. `PT1H` or `30m`; capped to the access's maximum, which is the default.
    pub duration: Option<String>,
    /// Why the access is needed (recorded in the audit log; required by some accesses, and
    /// always for break-glass).
    pub reason: Option<String>,
    /// Break glass: skip approval in an emergency. Only where the access allows it, only
    /// with a reason; the approvers are alerted and the grant is short.
    #[serde(default)]
    pub break_glass: bool,
}

/// `approve_request` and `deny_request`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// The request's grant id (from `list_pending_approvals`).
    pub grant_id: String,
    /// Why (recorded in the audit log and shown to the requester).
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

/// A tool result: structured JSON, or a failure the model sees (`is_error`).
fn result(outcome: Result<Value, String>) -> CallToolResult {
    match outcome {
        Ok(value) => CallToolResult::structured(value),
        Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
    }
}

impl JitTools {
    /// Tools over `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        JitTools { backend }
    }
}

#[tool_router]
impl JitTools {
    /// Lists what can be requested.
    #[tool(
        description = "List the AWS accesses that can be requested: key, name, account, permission set or buckets, and maximum duration."
    )]
    async fn list_accesses(&self) -> Result<CallToolResult, ErrorData> {
        let accesses = self.backend.accesses().await;
        Ok(result(accesses.map(|a| json!({ "accesses": a }))))
    }

    /// Grants an access to the person, for a bounded time.
    #[tool(
        description = "Request just-in-time AWS access for yourself. It is granted at once, or waits for approval where the access needs it, within the access's maximum duration, and is revoked automatically when it expires."
    )]
    async fn request_access(
        &self,
        Parameters(request): Parameters<RequestAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .backend
            .request(
                &request.access,
                request.duration.as_deref(),
                request.reason,
                request.break_glass,
            )
            .await;
        Ok(result(outcome))
    }

    /// The person's grants.
    #[tool(description = "List your grants: live ones, or all with include_ended.")]
    async fn list_my_grants(
        &self,
        Parameters(query): Parameters<ListMyGrants>,
    ) -> Result<CallToolResult, ErrorData> {
        let grants = self.backend.my_grants(query.include_ended).await;
        Ok(result(grants.map(|g| json!({ "grants": g }))))
    }

    /// Ends one of the person's grants now.
    #[tool(description = "Revoke one of your grants now, by grant_id or by access.")]
    async fn revoke_my_access(
        &self,
        Parameters(which): Parameters<RevokeMyAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        let which = match (&which.grant_id, &which.access) {
            (Some(id), None) => Which::Grant(id),
            (None, Some(access)) => Which::Access(access),
            _ => {
                return Ok(result(Err(
                    "give exactly one of grant_id and access".to_owned()
                )));
            }
        };
        Ok(result(self.backend.revoke(which).await))
    }

    /// Moves the expiry of one of the person's grants later.
    #[tool(
        description = "Extend one of your active grants, never beyond its access's maximum duration from when it started."
    )]
    async fn extend_my_access(
        &self,
        Parameters(extension): Parameters<ExtendMyAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .backend
            .extend(&extension.grant_id, extension.duration.as_deref())
            .await;
        Ok(result(outcome))
    }

    /// The requests the person may decide.
    #[tool(
        description = "List the access requests waiting for your approval: who asks, for what, for how long, why, and who approved so far."
    )]
    async fn list_pending_approvals(&self) -> Result<CallToolResult, ErrorData> {
        let pending = self.backend.pending_approvals().await;
        Ok(result(pending.map(|p| json!({ "requests": p }))))
    }

    /// Approves a request, as the person.
    #[tool(
        description = "Approve a request waiting for your approval (never your own). Once enough approvers have, the access is granted."
    )]
    async fn approve_request(
        &self,
        Parameters(decision): Parameters<DecideRequest>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .backend
            .decide(&decision.grant_id, true, decision.reason)
            .await;
        Ok(result(outcome))
    }

    /// Denies a request, as the person.
    #[tool(description = "Deny a request waiting for your approval (never your own).")]
    async fn deny_request(
        &self,
        Parameters(decision): Parameters<DecideRequest>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .backend
            .decide(&decision.grant_id, false, decision.reason)
            .await;
        Ok(result(outcome))
    }
}

#[tool_handler]
impl ServerHandler for JitTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("aws-jit", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Just-in-time AWS access for {}. Request only what the task needs, for as short as it needs; access ends by itself at expiry.",
                self.backend.person()
            ))
    }
}

/// Serves the tools on stdin/stdout until the client disconnects.
pub async fn serve_stdio(tools: JitTools) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let service = tools.serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
