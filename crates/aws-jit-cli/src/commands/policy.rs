//! `policy check` and `policy explain`: what-if questions to the access policies.

use anyhow::anyhow;
use aws_jit_app::WhatIf;
use aws_jit_core::eligibility::PolicyAction;

use super::*;
use crate::cli::PolicyCommand;

pub(super) async fn policy(cli: &Cli, command: &PolicyCommand) -> Result<(), Failure> {
    match command {
        PolicyCommand::Check {
            as_person,
            action,
            access,
            duration,
            reason,
            at,
            channel,
        } => {
            let action = PolicyAction::parse(action).ok_or_else(|| {
                invalid(anyhow!(
                    "action `{}`: use request, extend, break-glass, approve or deny",
                    aws_jit_core::text::printable(action)
                ))
            })?;
            let person = parse_user(Some(as_person))?;
            let duration = duration
                .as_deref()
                .map(AccessDuration::parse)
                .transpose()
                .map_err(|e| invalid(anyhow!("--duration: {e}")))?;
            let at = at
                .as_deref()
                .map(|t| {
                    t.parse::<jiff::Timestamp>().map_err(|_| {
                        invalid(anyhow!(
                            "--at `{}`: use RFC 3339, e.g. 2026-12-01T22:00:00Z",
                            aws_jit_core::text::printable(t)
                        ))
                    })
                })
                .transpose()?;
            aws_jit_core::text::check("reason", reason, aws_jit_core::text::MAX_REASON_CHARS)
                .map_err(invalid)?;
            let (catalog, policies) = load_configs(cli)?;
            let wired = wire(cli).await?;
            let jit = wired.jit_over(catalog, policies);
            let answer = jit
                .what_if(WhatIf {
                    person: &person,
                    action,
                    access,
                    duration,
                    reason,
                    at,
                    channel,
                })
                .await;
            log_call_counts(&wired.aws);
            let answer = answer?;
            match cli.output {
                Output::Json => print_json(&answer)?,
                Output::Human => {
                    let decided = if answer.policies.is_empty() {
                        "no policy permits it".to_owned()
                    } else {
                        format!("policies: {}", answer.policies.join(", "))
                    };
                    outln!(
                        "{} ({} {} `{}`; {decided})",
                        if answer.allowed { "allow" } else { "deny" },
                        answer.person,
                        action.as_str(),
                        answer.access
                    );
                }
            }
            if answer.allowed {
                Ok(())
            } else {
                Err(Failure::Denied(anyhow!(
                    "{}",
                    answer.refusal.unwrap_or_else(|| "denied".to_owned())
                )))
            }
        }
        PolicyCommand::Explain { access } => {
            let (catalog, policies) = load_configs(cli)?;
            let access = catalog.find(access).map_err(invalid)?;
            let applying = policies.explain(access);
            match cli.output {
                Output::Json => print_json(&serde_json::json!({
                    "access": access.key,
                    "open_to_every_directory_user": policies.open_accesses().contains(&access.key),
                    "policies": applying,
                })),
                Output::Human => {
                    outln!("# {}", aws_jit_core::text::printable(&access.key));
                    if policies.open_accesses().contains(&access.key) {
                        outln!(
                            "# open to every directory user: no `requesters`, no AWS_JIT_DEFAULT_REQUESTERS"
                        );
                    }
                    for p in applying {
                        outln!("\n// {} ({}, {})\n{}", p.id, p.effect, p.source, p.text);
                    }
                    Ok(())
                }
            }
        }
    }
}
