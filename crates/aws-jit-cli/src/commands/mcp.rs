//! `mcp`: the MCP server on stdio.

use anyhow::anyhow;

use super::*;

pub(super) async fn mcp(
    cli: &Cli,
    user: Option<&str>,
    server: Option<&str>,
    token: Option<&str>,
) -> Result<(), Failure> {
    let backend: std::sync::Arc<dyn aws_jit_mcp::Backend> = match (server, token) {
        (Some(server), Some(token)) => std::sync::Arc::new(
            aws_jit_mcp::api::Api::connect(server, token)
                .await
                .map_err(|e| invalid(anyhow!("--server: {e}")))?,
        ),
        _ => {
            let user = parse_user(user)?;
            let (catalog, policies) = load_configs(cli)?;
            let wired = wire(cli).await?;
            // The person is resolved in the directory once, at start.
            let person = wired.jit.resolve_person(&user, false).await?;
            std::sync::Arc::new(aws_jit_mcp::direct::Direct::new(
                wired.jit, catalog, policies, user, person,
            ))
        }
    };
    aws_jit_mcp::serve_stdio(aws_jit_mcp::JitTools::new(backend))
        .await
        .map_err(|e| Failure::Runtime(anyhow!("MCP server: {e}")))
}
