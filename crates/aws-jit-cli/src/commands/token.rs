//! `token create|list|revoke`.

use super::*;

pub(super) async fn token(cli: &Cli, command: &crate::cli::TokenCommand) -> Result<(), Failure> {
    use crate::cli::TokenCommand;
    use aws_jit_app::{NewToken, TokenError};
    let wired = wire(cli).await?;
    let failure = |e: TokenError| match e {
        TokenError::Store(e) => Failure::Runtime(e.into()),
        e => invalid(anyhow::Error::new(e)),
    };
    match command {
        TokenCommand::Create {
            name,
            role,
            user,
            on_behalf,
        } => {
            let role = aws_jit_core::auth::Role::parse(role)
                .ok_or_else(|| invalid(anyhow::anyhow!("--role `{role}` is not a role")))?;
            let user = user
                .as_deref()
                .map(UserEmail::parse)
                .transpose()
                .map_err(|e| invalid(anyhow::Error::new(e).context("--user")))?;
            let (created, secret) = wired
                .jit
                .create_token(
                    NewToken {
                        name: name.clone(),
                        role,
                        user,
                        on_behalf: *on_behalf,
                    },
                    &actor(cli),
                )
                .await
                .map_err(failure)?;
            match cli.output {
                Output::Json => print_json(&serde_json::json!({
                    "name": created.name, "role": created.role.as_str(), "user": created.user,
                    "on_behalf": created.on_behalf, "token": secret,
                })),
                Output::Human => {
                    eprintln!(
                        "token `{}` created (role {}); it is shown only this once:",
                        created.name, created.role
                    );
                    outln!("{secret}");
                    Ok(())
                }
            }
        }
        TokenCommand::List => {
            let tokens = wired
                .jit
                .tokens()
                .await
                .map_err(|e| Failure::Runtime(e.into()))?;
            let views: Vec<serde_json::Value> = tokens
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name, "role": t.role.as_str(), "user": t.user,
                        "on_behalf": t.on_behalf,
                        "created_at": aws_jit_core::views::rfc3339(t.created_at),
                        "revoked_at": t.revoked_at.map(aws_jit_core::views::rfc3339),
                    })
                })
                .collect();
            match cli.output {
                Output::Json => print_json(&views),
                Output::Human => {
                    for t in &tokens {
                        outln!(
                            "{:<24} {:<10} {:<32} {}{}",
                            t.name,
                            t.role.as_str(),
                            t.user.as_deref().unwrap_or("-"),
                            if t.on_behalf { "on-behalf " } else { "" },
                            if t.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "live"
                            }
                        );
                    }
                    Ok(())
                }
            }
        }
        TokenCommand::Revoke { name } => {
            wired
                .jit
                .revoke_token(name, &actor(cli))
                .await
                .map_err(failure)?;
            match cli.output {
                Output::Json => print_json(&serde_json::json!({ "revoked": name })),
                Output::Human => {
                    outln!("token `{name}` revoked");
                    Ok(())
                }
            }
        }
    }
}
