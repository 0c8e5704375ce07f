//! `serve`, `sweep` and `reconcile`: the commands that keep AWS and the store in step.

use anyhow::anyhow;

use super::*;

/// Wires the use cases for sweeping: generated policies and per-grant permission sets exist
/// only where the configs use them, so look for leftovers only then. Sweeping itself needs
/// no config.
pub(super) async fn wire_for_sweep(cli: &Cli) -> Result<crate::context::Wired, Failure> {
    let (policies, permission_sets) = match load_catalog(&cli.config_dir) {
        Ok(catalog) => (
            catalog.accesses().iter().any(|a| {
                matches!(&a.target, AccessTarget::S3 { policy_template, .. }
                    if BuiltinTemplate::parse(policy_template).is_some())
            }),
            catalog
                .accesses()
                .iter()
                .any(|a| matches!(a.target, AccessTarget::EphemeralPermissionSet { .. })),
        ),
        Err(_) => (false, false),
    };
    let mut wired = wire(cli).await?;
    wired.jit.settings_mut().scan_generated_policies = policies;
    wired.jit.settings_mut().scan_ephemeral_permission_sets = permission_sets;
    Ok(wired)
}

pub(super) async fn serve(cli: &Cli, listen: &str) -> Result<(), Failure> {
    let wired = wire_for_sweep(cli).await?;
    // The worker runs even when the configs do not load: expiry never waits on a fix.
    let (catalog, policies) = match load_configs(cli) {
        Ok((catalog, policies)) => {
            if let Some(warning) = open_warning(&policies) {
                tracing::warn!("{warning}");
            }
            (Some(catalog), Some(policies))
        }
        Err(e) => {
            tracing::error!(
                error = format!("{:#}", e.error()),
                "the access configs do not load: the API cannot grant until they are fixed and the server restarted"
            );
            (None, None)
        }
    };
    // Handlers first: a SIGTERM that arrives as soon as we say we listen must stop us
    // cleanly, not kill us.
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        invalid(anyhow::Error::new(e).context(format!("cannot listen on `{listen}`")))
    })?;
    if let Some(addr) = aws_jit_server::local_addr(&listener) {
        outln!("listening on http://{addr}");
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let calls = wired.aws.calls.clone();
    // The front doors get their own store connections and the front doors' share of the
    // Identity Center rate; the worker keeps the rest (see `aws_jit_server::Services`).
    let front_aws = wired.aws.for_front_doors();
    let front = aws_jit_app::Jit::new(
        open_store(&cli.db).await?,
        std::sync::Arc::new(front_aws.identity_center),
        std::sync::Arc::new(front_aws.iam),
        std::sync::Arc::new(crate::context::SystemClock),
        cli.resolved.use_cases.clone(),
    );
    let accesses = catalog.as_ref().map_or(0, |c| c.accesses().len());
    let services = aws_jit_server::Services {
        jit: front,
        worker_jit: wired.jit,
        http: aws_jit_server::HttpLimits::default(),
        catalog,
        policies,
        messenger: wired.messenger,
        slack_signing_secret: cli
            .resolved
            .slack
            .as_ref()
            .and_then(|s| s.signing_secret.clone()),
        slack_team_id: cli.resolved.slack.as_ref().and_then(|s| s.team_id.clone()),
        slack_command: cli
            .resolved
            .slack
            .as_ref()
            .map_or_else(|| "/jit".to_owned(), |s| s.command.clone()),
        aws_calls: std::sync::Arc::new(move || calls.snapshot()),
        web: web_settings(cli, listen),
    };
    if (services.web.oidc.is_some() || services.web.dev_sign_in)
        && services.web.public_url.starts_with("http://")
        && !is_loopback_url(&services.web.public_url)
    {
        tracing::warn!(url = %services.web.public_url, "the web UI is served over plain HTTP to other machines: its cookies are Secure and browsers will not send them; put it behind HTTPS and set AWS_JIT_WEB_URL");
    }
    tracing::info!(
        listen = %listen,
        accesses = accesses,
        // The store by kind only: a URL may carry a password in places redaction misses.
        store = cli.db.split(':').next().unwrap_or("?"),
        "serving: the expiry worker runs"
    );
    let served = aws_jit_server::serve(
        listener,
        services,
        aws_jit_server::WorkerSettings::default(),
        shutdown,
    )
    .await
    .map_err(|e| Failure::Runtime(anyhow::Error::new(e).context("server failed")));
    if served.is_ok() {
        tracing::info!("stopped");
    }
    served
}

/// The web UI's settings: what was resolved, and this server's own address by default.
fn web_settings(cli: &Cli, listen: &str) -> aws_jit_server::web::WebSettings {
    let web = &cli.resolved.web;
    let defaults = aws_jit_server::web::WebSettings::default();
    aws_jit_server::web::WebSettings {
        public_url: web
            .url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}")),
        oidc: web.oidc.clone(),
        dev_sign_in: web.dev_sign_in,
        session_lifetime: web
            .session
            .map_or(defaults.session_lifetime, |d| d.to_signed()),
        approvers: cli.resolved.approvers.clone(),
        instructions: web.instructions.clone(),
    }
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        rest.split(['/', ':']).next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Installs the SIGTERM and Ctrl-C handlers now; the future resolves on either.
pub(super) fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, Failure> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::Runtime(anyhow::Error::new(e).context("cannot handle SIGTERM")))?;
    Ok(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down: finishing the work in flight");
    })
}

pub(super) async fn sweep(cli: &Cli) -> Result<(), Failure> {
    let wired = wire_for_sweep(cli).await?;
    let report = wired.jit.sweep().await;
    log_call_counts(&wired.aws);
    deliver_now(&wired).await;
    let report = report?;
    match cli.output {
        Output::Json => print_json(&serde_json::json!({
            "expired": report.expired,
            "revoked": report.revoked,
            "undone": report.undone,
            "failed": report.failed.iter().map(|(id, e)| serde_json::json!({"id": id, "error": e})).collect::<Vec<_>>(),
            "busy": report.busy,
            "orphans_removed": report.orphans_removed,
            "orphans_unknown": report.orphans_unknown,
        }))?,
        Output::Human => {
            outln!(
                "sweep: {} expired, {} revoked, {} undone, {} failed, {} busy",
                report.expired.len(),
                report.revoked.len(),
                report.undone.len(),
                report.failed.len(),
                report.busy.len()
            );
            for arn in &report.orphans_removed {
                outln!("removed orphaned {arn}");
            }
            for arn in &report.orphans_unknown {
                eprintln!(
                    "warning: {arn} is under the tool's path but no grant here accounts for it: left in place"
                );
            }
            for (id, error) in &report.failed {
                eprintln!("error: grant {id}: {error}");
            }
        }
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Runtime(anyhow!(
            "{} revocation(s) failed and stay due: run `aws-jit sweep` again",
            report.failed.len()
        )))
    }
}

pub(super) async fn reconcile(cli: &Cli, fix: bool) -> Result<(), Failure> {
    let catalog = load_catalog(&cli.config_dir)?;
    let wired = wire(cli).await?;
    let report = wired
        .jit
        .reconcile(catalog.accesses(), fix, &actor(cli))
        .await;
    log_call_counts(&wired.aws);
    let report = report?;
    let view = |list: &[aws_jit_app::Drift]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|d| {
                serde_json::json!({
                    "access": d.access, "account_id": d.account_id,
                    "permission_set": d.permission_set, "principal_id": d.principal_id,
                    "user": d.user, "grant_id": d.grant_id,
                })
            })
            .collect()
    };
    match cli.output {
        Output::Json => print_json(&serde_json::json!({
            "lingering": view(&report.lingering),
            "unmanaged": view(&report.unmanaged),
            "missing": view(&report.missing),
            "removed": view(&report.removed),
        })),
        Output::Human => {
            for (label, list) in [
                ("lingering (the tool's, grant ended)", &report.lingering),
                ("unmanaged (standing access)", &report.unmanaged),
                ("missing (active grant, no assignment)", &report.missing),
                ("removed", &report.removed),
            ] {
                for d in list {
                    outln!(
                        "{label}: `{}` on {} for {}",
                        d.permission_set,
                        d.account_id,
                        d.user.as_deref().unwrap_or(&d.principal_id)
                    );
                }
            }
            outln!(
                "reconcile: {} lingering, {} unmanaged, {} missing, {} removed",
                report.lingering.len(),
                report.unmanaged.len(),
                report.missing.len(),
                report.removed.len()
            );
            Ok(())
        }
    }
}
