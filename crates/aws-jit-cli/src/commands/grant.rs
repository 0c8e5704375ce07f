//! `grant`, `plan`, `approve`, `deny` and `approvals`.

use anyhow::anyhow;
use std::sync::Arc;

use super::*;

pub(super) fn grant_request(
    cli: &Cli,
    catalog: &Catalog,
    query: &str,
    args: &GrantArgs,
) -> Result<GrantRequest, Failure> {
    let access = catalog.find(query).map_err(invalid)?.key.clone();
    let user = parse_user(args.user.as_deref())?;
    let decoded = templated("duration", args.duration_urlencoded.as_deref())?;
    let duration = decoded
        .as_deref()
        .or(args.duration.as_deref())
        .filter(|d| !d.trim().is_empty())
        .map(AccessDuration::parse)
        .transpose()
        .map_err(|e| invalid(anyhow::Error::new(e).context("--duration")))?;
    Ok(GrantRequest {
        access,
        user,
        actor: actor(cli),
        duration,
        reason: templated("reason", args.reason_urlencoded.as_deref())?
            .or_else(|| args.reason.clone()),
        break_glass: match templated("break-glass", args.break_glass_urlencoded.as_deref())? {
            None => args.break_glass,
            Some(flag) => aws_jit_core::kubiya::template_flag(&flag)
                .map_err(|e| invalid(anyhow!("--break-glass-urlencoded: {e}")))?,
        },
    })
}

pub(super) async fn plan(cli: &Cli, args: &GrantArgs) -> Result<(), Failure> {
    let (catalog, query) = catalog_and_query(cli, args.access.as_deref())?;
    let request = grant_request(cli, &catalog, &query, args)?;
    let wired = wire(cli).await?;
    let policies = Arc::new(load_policies(cli, &catalog)?);
    let jit = wired.jit_over(Arc::new(catalog), policies);
    let plan = jit.plan(request).await;
    log_call_counts(&wired.aws);
    let plan = plan?;
    let document: Option<serde_json::Value> = plan
        .policy_document
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok());
    match cli.output {
        Output::Json => print_json(&serde_json::json!({
            "access": plan.access,
            "user": plan.user,
            "duration": plan.duration.duration.to_string(),
            "expires_at": plan.expires_at.to_string(),
            "changes": plan.changes,
            "policy_document": document,
        })),
        Output::Human => {
            outln!(
                "granting `{}` to {} for {} (until about {}) would:",
                plan.access,
                plan.user,
                plan.duration.duration.human(),
                plan.expires_at
            );
            for change in &plan.changes {
                outln!("  - {}", change.description);
            }
            if let Some(doc) = &document {
                outln!("policy document:");
                print_json(doc)?;
            }
            outln!("nothing was changed (dry run)");
            Ok(())
        }
    }
}

pub(super) async fn grant(cli: &Cli, args: &GrantArgs) -> Result<(), Failure> {
    let (catalog, query) = catalog_and_query(cli, args.access.as_deref())?;
    let request = grant_request(cli, &catalog, &query, args)?;
    let access = catalog.find(&query).map_err(invalid)?.clone();
    let wired = wire(cli).await?;
    let policies = Arc::new(load_policies(cli, &catalog)?);
    let jit = wired.jit_over(Arc::new(catalog), policies);
    let outcome = jit.grant(request).await;
    log_call_counts(&wired.aws);
    deliver_now(&wired).await;
    let outcome = outcome?;
    if let Some(asked) = outcome.duration.capped_from {
        eprintln!(
            "warning: requested {} is above the maximum of {} for `{}`: granted {}",
            asked.human(),
            access.session_duration.human(),
            access.key,
            outcome.duration.duration.human()
        );
    }
    let g = &outcome.grant;
    // The API's shape: the grant's view, with `capped_from` when the duration was capped.
    let view = aws_jit_core::views::grant_view_with(
        g,
        "capped_from",
        outcome.duration.capped_from.map(|d| d.to_string()),
    );
    if g.status == aws_jit_core::GrantStatus::Pending {
        return match cli.output {
            Output::Json => print_json(&view),
            Output::Human => {
                outln!(
                    "request {} for `{}` waits for approval; it lapses at {} unless approved (`aws-jit approve {}`)",
                    g.id,
                    g.access,
                    GrantView::from(g).expires_at_str(),
                    g.id
                );
                Ok(())
            }
        };
    }
    match cli.output {
        Output::Json => print_json(&view),
        Output::Human => {
            outln!(
                "granted `{}` to {} until {} (grant {})",
                g.access,
                g.user,
                GrantView::from(g).expires_at_str(),
                g.id
            );
            if outcome.origin == aws_jit_core::AccessOrigin::Preexisting {
                outln!(
                    "note: {} already held this assignment; it will be left in place when the grant ends",
                    g.user
                );
            }
            Ok(())
        }
    }
}

pub(super) async fn decide(
    cli: &Cli,
    args: &crate::cli::DecisionArgs,
    approve: bool,
) -> Result<(), Failure> {
    let (wired, jit, decider, approver) = as_decider(cli, args.approver.as_deref()).await?;
    let request = templated("request", args.request_urlencoded.as_deref())?
        .or_else(|| args.request.clone())
        .ok_or_else(|| {
            invalid(anyhow!(
                "say which request: its id (from `aws-jit approvals`)"
            ))
        })?;
    let reason =
        templated("reason", args.reason_urlencoded.as_deref())?.or_else(|| args.reason.clone());
    let id = GrantId::new(request.trim());
    let outcome = if approve {
        jit.approve(&id, &decider, reason).await
    } else {
        jit.deny(&id, &decider, reason).await
    };
    log_call_counts(&wired.aws);
    deliver_now(&wired).await;
    let grant = outcome?;
    match cli.output {
        Output::Json => print_json(&GrantView::from(&grant)),
        Output::Human => {
            match grant.status {
                aws_jit_core::GrantStatus::Pending => outln!(
                    "approved by {}; request {} still needs more approvals",
                    approver.normalized(),
                    grant.id
                ),
                aws_jit_core::GrantStatus::Active => outln!(
                    "approved: `{}` granted to {} until {} (grant {})",
                    grant.access,
                    grant.user,
                    GrantView::from(&grant).expires_at_str(),
                    grant.id
                ),
                _ => outln!("denied: request {} for {} ended", grant.id, grant.user),
            }
            Ok(())
        }
    }
}

/// The use cases, and the person deciding (`--as`, or KUBIYA_USER_EMAIL).
async fn as_decider(
    cli: &Cli,
    approver: Option<&str>,
) -> Result<(crate::context::Wired, aws_jit_app::Jit, Actor, UserEmail), Failure> {
    let approver = parse_user(approver).map_err(|_| {
        invalid(anyhow!(
            "say who decides: --as EMAIL (or KUBIYA_USER_EMAIL)"
        ))
    })?;
    let catalog = load_catalog(&cli.config_dir)?;
    let wired = wire(cli).await?;
    let policies = Arc::new(load_policies(cli, &catalog)?);
    let jit = wired.jit_over(Arc::new(catalog), policies);
    let channel = if cli.resolved.acting_person.is_some() {
        Channel::Kubiya
    } else {
        Channel::Cli
    };
    let decider = Actor::person(Person::unresolved(approver.as_str()), channel);
    Ok((wired, jit, decider, approver))
}

pub(super) async fn approvals(cli: &Cli, approver: Option<&str>) -> Result<(), Failure> {
    let (_wired, jit, decider, approver) = as_decider(cli, approver).await?;
    let decidable = jit.decidable(&decider).await?;
    match cli.output {
        Output::Json => print_json(&decidable.iter().map(|d| d.view()).collect::<Vec<_>>()),
        Output::Human => {
            if decidable.is_empty() {
                eprintln!("no requests wait for {}'s decision", approver.normalized());
            }
            for d in &decidable {
                let g = &d.grant;
                outln!(
                    "{}  {} for {} ({} of {} approvals; reason: {}); `aws-jit approve {}`",
                    g.id,
                    g.access,
                    g.user,
                    d.approved_by.len(),
                    d.required,
                    g.reason.as_deref().unwrap_or("none"),
                    g.id
                );
            }
            Ok(())
        }
    }
}
