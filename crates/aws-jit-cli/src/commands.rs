//! The subcommands. Each validates its input into domain types first (so bad input never
//! reaches AWS or the store), then calls the use cases and prints the result: the answer on
//! stdout, warnings and diagnostics on stderr.

use anyhow::anyhow;
use aws_jit_app::ports::{AuditQuery, GrantFilter};
use aws_jit_app::{AppError, GrantRequest};
use aws_jit_core::policy::BuiltinTemplate;
use std::sync::Arc;

use aws_jit_core::auth::Role;
use aws_jit_core::{
    AccessDuration, AccessTarget, Actor, Catalog, Channel, GrantId, Person, Rights, UserEmail,
};
use serde::Serialize;

use crate::Failure;
use crate::cli::{Cli, Command, GrantArgs, Output, RevokeArgs, SchemaFile};
use crate::context::{deliver_now, load_catalog, log_call_counts, open_store, wire};
use crate::output::{AccessView, AuditView, GrantView, access_line, audit_line, grant_line};

const ACCESS_SCHEMA: &str = include_str!("../../../schema/access_configs.schema.json");
const S3_SCHEMA: &str = include_str!("../../../schema/s3_configs.schema.json");

fn invalid(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Invalid(e.into())
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Runtime(e.into()))?;
    println!("{text}");
    Ok(())
}

/// Who is acting: the Kubiya user when set (the seed's convention), a requester who may
/// also oversee others' grants when listed in `AWS_JIT_APPROVERS`; else the operator at
/// the shell, who holds the store and the AWS credentials and is trusted with them.
fn actor(cli: &Cli) -> Actor {
    let settings = &cli.resolved;
    let Some(email) = &settings.acting_person else {
        return Actor::operator(&settings.os_user);
    };
    let approver = settings.approvers.iter().any(|a| a == email);
    Actor::person(Person::unresolved(email), Channel::Kubiya).with_rights(Rights {
        role: if approver {
            Role::Approver
        } else {
            Role::Requester
        },
        on_behalf: false,
    })
}

fn parse_user(user: Option<&str>) -> Result<UserEmail, Failure> {
    let user = user.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
        invalid(anyhow!(
            "no user given: pass --user EMAIL or set KUBIYA_USER_EMAIL"
        ))
    })?;
    UserEmail::parse(user.trim()).map_err(invalid)
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Settings => settings_table(&cli),
        Command::Schema { file } => {
            print!(
                "{}",
                match file {
                    SchemaFile::AccessConfigs => ACCESS_SCHEMA,
                    SchemaFile::S3Configs => S3_SCHEMA,
                }
            );
            Ok(())
        }
        Command::Validate { offline } => validate(&cli, *offline).await,
        Command::Accesses => accesses(&cli),
        Command::Grant(args) => grant(&cli, args).await,
        Command::Plan(args) => plan(&cli, args).await,
        Command::IamPolicy => {
            let catalog = load_catalog(&cli.config_dir)?;
            print_json(&aws_jit_core::policy::tool_policy(&catalog))
        }
        Command::Revoke(args) => revoke(&cli, args).await,
        Command::Grants { all, user } => grants(&cli, *all, user.as_deref()).await,
        Command::Sweep => sweep(&cli).await,
        Command::Serve { listen } => serve(&cli, listen).await,
        Command::Token(command) => token(&cli, command).await,
        Command::Approve(args) => decide(&cli, args, true).await,
        Command::Deny(args) => decide(&cli, args, false).await,
        Command::Mcp {
            user,
            server,
            token,
        } => mcp(&cli, user.as_deref(), server.as_deref(), token.as_deref()).await,
        Command::Kubiya(crate::cli::KubiyaCommand::Bundle { image, out }) => {
            kubiya_bundle(&cli, image, out)
        }
        Command::Reconcile { fix } => reconcile(&cli, *fix).await,
        Command::Audit {
            check: Some(crate::cli::AuditCheck::Verify),
            ..
        } => {
            let store = open_store(&cli.db).await?;
            let events = store
                .audit(&AuditQuery::default())
                .await
                .map_err(|e| Failure::Runtime(e.into()))?;
            let verified = aws_jit_core::audit::verify_chain(&events)
                .map_err(|e| Failure::Runtime(e.into()))?;
            let head = events.last().map_or("", |e| e.hash.as_str());
            match cli.output {
                Output::Json => print_json(&serde_json::json!({
                    "verified": verified, "events": events.len(), "head": head,
                })),
                Output::Human => {
                    println!("audit chain intact: {verified} events verified; head {head}");
                    Ok(())
                }
            }
        }
        Command::Audit {
            grant,
            user,
            after,
            limit,
            jsonl,
            ..
        } => {
            let store = open_store(&cli.db).await?;
            let events = store
                .audit(&AuditQuery {
                    grant_id: grant.clone(),
                    user: user.clone(),
                    after_seq: *after,
                    limit: *limit,
                })
                .await
                .map_err(|e| Failure::Runtime(e.into()))?;
            if *jsonl {
                for e in &events {
                    let line = serde_json::to_string(&AuditView::from(e))
                        .map_err(|e| Failure::Runtime(e.into()))?;
                    println!("{line}");
                }
                return Ok(());
            }
            match cli.output {
                Output::Json => print_json(&events.iter().map(AuditView::from).collect::<Vec<_>>()),
                Output::Human => {
                    for e in &events {
                        println!("{}", audit_line(e));
                    }
                    Ok(())
                }
            }
        }
    }
}

fn settings_table(cli: &Cli) -> Result<(), Failure> {
    use crate::settings::SETTINGS;
    match cli.output {
        Output::Json => print_json(
            &SETTINGS
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "variable": s.variable, "file_key": s.file_key,
                        "default": s.default, "meaning": s.meaning,
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Output::Human => {
            print!("{}", crate::settings::markdown_table());
            Ok(())
        }
    }
}

async fn validate(cli: &Cli, offline: bool) -> Result<(), Failure> {
    let catalog = load_catalog(&cli.config_dir)?;
    let mut problems = Vec::new();
    if !offline {
        let wired = wire(cli).await?;
        for access in catalog.accesses() {
            match wired.jit.check_access(access).await {
                Ok(()) => {}
                Err(AppError::UnknownPermissionSet(name)) => problems.push(format!(
                    "{}: entry `{}`: field `permission_set`: `{name}` does not exist in IAM Identity Center",
                    access.source.file_name(),
                    access.key
                )),
                Err(AppError::UnknownPolicy(name)) => problems.push(format!(
                    "{}: entry `{}`: field `policy_template`: `{name}` is not a built-in template and no such IAM policy exists",
                    access.source.file_name(),
                    access.key
                )),
                Err(e) => return Err(e.into()),
            }
        }
        log_call_counts(&wired.aws);
    }
    if !problems.is_empty() {
        let n = problems.len();
        return Err(invalid(anyhow!(
            "{n} problem{} in the access configs\n  {}",
            if n == 1 { "" } else { "s" },
            problems.join("\n  ")
        )));
    }
    let n = catalog.accesses().len();
    match cli.output {
        Output::Json => print_json(
            &serde_json::json!({ "valid": true, "accesses": n, "checked_in_aws": !offline }),
        ),
        Output::Human => {
            println!(
                "{n} access{} valid{}",
                if n == 1 { "" } else { "es" },
                if offline {
                    " (offline: AWS not checked)"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}

fn accesses(cli: &Cli) -> Result<(), Failure> {
    let catalog = load_catalog(&cli.config_dir)?;
    match cli.output {
        Output::Json => print_json(
            &catalog
                .accesses()
                .iter()
                .map(AccessView::from)
                .collect::<Vec<_>>(),
        ),
        Output::Human => {
            for a in catalog.accesses() {
                println!("{}", access_line(a));
            }
            Ok(())
        }
    }
}

/// The catalog to find the access in, and the address to find: the named access in the
/// config directory, or the one access the seed's variables describe.
fn catalog_and_query(cli: &Cli, named: Option<&str>) -> Result<(Catalog, String), Failure> {
    if let Some(query) = named {
        return Ok((load_catalog(&cli.config_dir)?, query.to_owned()));
    }
    cli.resolved
        .seed
        .catalog()
        .map_err(invalid)?
        .ok_or_else(|| {
            invalid(anyhow!(
                "name an access, or set AWS_ACCOUNT_ID and PERMISSION_SET_NAME (or BUCKETS and POLICY_TEMPLATE) as the seed's tools do"
            ))
        })
}

fn grant_request(
    cli: &Cli,
    catalog: &Catalog,
    query: &str,
    args: &GrantArgs,
) -> Result<GrantRequest, Failure> {
    let access = catalog.find(query).map_err(invalid)?.key.clone();
    let user = parse_user(args.user.as_deref())?;
    let decoded = args
        .duration_urlencoded
        .as_deref()
        .map(|d| {
            aws_jit_core::ids::percent_decode(d)
                .ok_or_else(|| invalid(anyhow!("--duration-urlencoded: malformed")))
        })
        .transpose()?;
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
        reason: args.reason.clone(),
        break_glass: args.break_glass,
    })
}

async fn plan(cli: &Cli, args: &GrantArgs) -> Result<(), Failure> {
    let (catalog, query) = catalog_and_query(cli, args.access.as_deref())?;
    let request = grant_request(cli, &catalog, &query, args)?;
    let wired = wire(cli).await?;
    let jit = wired.jit.clone().with_catalog(Arc::new(catalog));
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
            println!(
                "granting `{}` to {} for {} (until about {}) would:",
                plan.access,
                plan.user,
                plan.duration.duration.human(),
                plan.expires_at
            );
            for change in &plan.changes {
                println!("  - {change}");
            }
            if let Some(doc) = &document {
                println!("policy document:");
                print_json(doc)?;
            }
            println!("nothing was changed (dry run)");
            Ok(())
        }
    }
}

async fn grant(cli: &Cli, args: &GrantArgs) -> Result<(), Failure> {
    let (catalog, query) = catalog_and_query(cli, args.access.as_deref())?;
    let request = grant_request(cli, &catalog, &query, args)?;
    let access = catalog.find(&query).map_err(invalid)?.clone();
    let wired = wire(cli).await?;
    let jit = wired.jit.clone().with_catalog(Arc::new(catalog));
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
    if g.status == aws_jit_core::GrantStatus::Pending {
        return match cli.output {
            Output::Json => print_json(&GrantView::from(g)),
            Output::Human => {
                println!(
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
        Output::Json => print_json(&GrantView::from(g)),
        Output::Human => {
            println!(
                "granted `{}` to {} until {} (grant {})",
                g.access,
                g.user,
                GrantView::from(g).expires_at_str(),
                g.id
            );
            if outcome.origin == aws_jit_core::AccessOrigin::Preexisting {
                println!(
                    "note: {} already held this assignment; it will be left in place when the grant ends",
                    g.user
                );
            }
            Ok(())
        }
    }
}

async fn revoke(cli: &Cli, args: &RevokeArgs) -> Result<(), Failure> {
    let wired = wire(cli).await?;
    let id = match &args.grant {
        Some(id) => GrantId::new(id.clone()),
        None => {
            let (catalog, query) = catalog_and_query(cli, args.access.as_deref())?;
            let encoded = args
                .user_urlencoded
                .as_deref()
                .map(|u| {
                    aws_jit_core::ids::percent_decode(u)
                        .ok_or_else(|| invalid(anyhow!("--user-urlencoded: malformed")))
                })
                .transpose()?
                .filter(|u| !u.trim().is_empty());
            let user = args
                .user
                .clone()
                .or(encoded)
                .or_else(|| cli.resolved.acting_person.clone());
            let user = parse_user(user.as_deref())?;
            let jit = wired.jit.clone().with_catalog(Arc::new(catalog));
            jit.find_live_grant(&query, &user).await?.id
        }
    };
    let outcome = wired.jit.revoke(&id, &actor(cli)).await;
    log_call_counts(&wired.aws);
    deliver_now(&wired).await;
    let outcome = outcome?;
    let g = &outcome.grant;
    match cli.output {
        Output::Json => print_json(&serde_json::json!({
            "grant": GrantView::from(g),
            "assignment_kept": outcome.kept,
        })),
        Output::Human => {
            println!("revoked `{}` from {} (grant {})", g.access, g.user, g.id);
            if let Some(kept) = &outcome.kept {
                println!("note: {kept}");
            }
            Ok(())
        }
    }
}

async fn grants(cli: &Cli, all: bool, user: Option<&str>) -> Result<(), Failure> {
    let store = open_store(&cli.db).await?;
    let list = store
        .grants(&GrantFilter {
            include_ended: all,
            user: user.map(str::to_lowercase),
            ..GrantFilter::default()
        })
        .await
        .map_err(|e| Failure::Runtime(e.into()))?;
    match cli.output {
        Output::Json => print_json(&list.iter().map(GrantView::from).collect::<Vec<_>>()),
        Output::Human => {
            if list.is_empty() {
                eprintln!("no {}grants", if all { "" } else { "live " });
            }
            for g in &list {
                println!("{}", grant_line(g));
            }
            Ok(())
        }
    }
}

/// Wires the use cases for sweeping: generated policies and per-grant permission sets exist
/// only where the configs use them, so look for leftovers only then. Sweeping itself needs
/// no config.
async fn wire_for_sweep(cli: &Cli) -> Result<crate::context::Wired, Failure> {
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

async fn serve(cli: &Cli, listen: &str) -> Result<(), Failure> {
    let wired = wire_for_sweep(cli).await?;
    // The worker runs even when the configs do not load: expiry never waits on a fix.
    let catalog = match load_catalog(&cli.config_dir) {
        Ok(catalog) => Some(std::sync::Arc::new(catalog)),
        Err(e) => {
            tracing::error!(
                error = format!("{:#}", e.error()),
                "the access configs do not load: the API cannot grant until they are fixed and the server restarted"
            );
            None
        }
    };
    // Handlers first: a SIGTERM that arrives as soon as we say we listen must stop us
    // cleanly, not kill us.
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        invalid(anyhow::Error::new(e).context(format!("cannot listen on `{listen}`")))
    })?;
    if let Some(addr) = aws_jit_server::local_addr(&listener) {
        println!("listening on http://{addr}");
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let calls = wired.aws.calls.clone();
    let services = aws_jit_server::Services {
        jit: wired.jit,
        catalog,
        messenger: wired.messenger,
        slack_signing_secret: cli
            .resolved
            .slack
            .as_ref()
            .and_then(|s| s.signing_secret.clone()),
        aws_calls: std::sync::Arc::new(move || calls.snapshot()),
    };
    aws_jit_server::serve(
        listener,
        services,
        aws_jit_server::WorkerSettings::default(),
        shutdown,
    )
    .await
    .map_err(|e| Failure::Runtime(anyhow::Error::new(e).context("server failed")))
}

async fn decide(cli: &Cli, args: &crate::cli::DecisionArgs, approve: bool) -> Result<(), Failure> {
    let approver = parse_user(args.approver.as_deref()).map_err(|_| {
        invalid(anyhow!(
            "say who decides: --as EMAIL (or KUBIYA_USER_EMAIL)"
        ))
    })?;
    let catalog = load_catalog(&cli.config_dir)?;
    let wired = wire(cli).await?;
    let jit = wired.jit.clone().with_catalog(Arc::new(catalog));
    let id = GrantId::new(args.request.clone());
    let channel = if cli.resolved.acting_person.is_some() {
        Channel::Kubiya
    } else {
        Channel::Cli
    };
    let decider = Actor::person(Person::unresolved(approver.as_str()), channel);
    let outcome = if approve {
        jit.approve(&id, &decider, args.reason.clone()).await
    } else {
        jit.deny(&id, &decider, args.reason.clone()).await
    };
    log_call_counts(&wired.aws);
    deliver_now(&wired).await;
    let grant = outcome?;
    match cli.output {
        Output::Json => print_json(&GrantView::from(&grant)),
        Output::Human => {
            match grant.status {
                aws_jit_core::GrantStatus::Pending => println!(
                    "approved by {}; request {} still needs more approvals",
                    approver.normalized(),
                    grant.id
                ),
                aws_jit_core::GrantStatus::Active => println!(
                    "approved: `{}` granted to {} until {} (grant {})",
                    grant.access,
                    grant.user,
                    GrantView::from(&grant).expires_at_str(),
                    grant.id
                ),
                _ => println!("denied: request {} for {} ended", grant.id, grant.user),
            }
            Ok(())
        }
    }
}

async fn mcp(
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
            let catalog = std::sync::Arc::new(load_catalog(&cli.config_dir)?);
            let wired = wire(cli).await?;
            // The person is resolved in the directory once, at start.
            let person = wired.jit.resolve_person(&user, false).await?;
            std::sync::Arc::new(aws_jit_mcp::direct::Direct::new(
                wired.jit, catalog, user, person,
            ))
        }
    };
    aws_jit_mcp::serve_stdio(aws_jit_mcp::JitTools::new(backend))
        .await
        .map_err(|e| Failure::Runtime(anyhow!("MCP server: {e}")))
}

fn kubiya_bundle(cli: &Cli, image: &str, out: &std::path::Path) -> Result<(), Failure> {
    let catalog = load_catalog(&cli.config_dir)?;
    let mut texts = Vec::new();
    for file in aws_jit_core::ConfigFile::ALL {
        // load_catalog read and validated these just now.
        if let Ok(text) = std::fs::read_to_string(cli.config_dir.join(file.file_name())) {
            texts.push((file, text));
        }
    }
    let configs: Vec<(aws_jit_core::ConfigFile, &str)> =
        texts.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let bundle = aws_jit_core::kubiya::bundle(&catalog, &configs, image);
    let path = out.join("kubiya_bundle.json");
    let text = serde_json::to_string_pretty(&bundle).map_err(|e| Failure::Runtime(e.into()))?;
    std::fs::write(&path, text + "\n").map_err(|e| {
        Failure::Runtime(anyhow::Error::new(e).context(format!("cannot write {}", path.display())))
    })?;
    let tools = bundle
        .get("tools")
        .and_then(|t| t.as_array())
        .map_or(0, Vec::len);
    match cli.output {
        Output::Json => print_json(&serde_json::json!({ "path": path, "tools": tools })),
        Output::Human => {
            println!("wrote {} ({tools} tools, image {image})", path.display());
            Ok(())
        }
    }
}

async fn token(cli: &Cli, command: &crate::cli::TokenCommand) -> Result<(), Failure> {
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
                    println!("{secret}");
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
                        println!(
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
                    println!("token `{name}` revoked");
                    Ok(())
                }
            }
        }
    }
}

async fn reconcile(cli: &Cli, fix: bool) -> Result<(), Failure> {
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
                    println!(
                        "{label}: `{}` on {} for {}",
                        d.permission_set,
                        d.account_id,
                        d.user.as_deref().unwrap_or(&d.principal_id)
                    );
                }
            }
            println!(
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

/// Installs the SIGTERM and Ctrl-C handlers now; the future resolves on either.
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, Failure> {
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

async fn sweep(cli: &Cli) -> Result<(), Failure> {
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
            println!(
                "sweep: {} expired, {} revoked, {} undone, {} failed, {} busy",
                report.expired.len(),
                report.revoked.len(),
                report.undone.len(),
                report.failed.len(),
                report.busy.len()
            );
            for arn in &report.orphans_removed {
                println!("removed orphaned {arn}");
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
