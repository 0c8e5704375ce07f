//! The subcommands. Each validates its input into domain types first (so bad input never
//! reaches AWS or the store), then calls the use cases and prints the result: the answer on
//! stdout, warnings and diagnostics on stderr.

use anyhow::anyhow;
use aws_jit_app::ports::{AuditQuery, GrantFilter};
use aws_jit_app::{AppError, GrantRequest};
use aws_jit_core::policy::BuiltinTemplate;

use aws_jit_core::auth::Role;
use aws_jit_core::{
    AccessDuration, AccessTarget, Actor, Catalog, Channel, GrantId, Person, Rights, UserEmail,
};
use serde::Serialize;

use crate::Failure;
use crate::cli::{Cli, Command, ExtendArgs, GrantArgs, Output, RevokeArgs, SchemaFile};
use crate::context::{
    deliver_now, load_catalog, load_configs, load_policies, log_call_counts, open_store,
    open_warning, wire,
};
use crate::output::{
    ACCESS_HEADERS, AUDIT_HEADERS, AccessView, AuditView, GRANT_HEADERS, GrantView, access_row,
    audit_row, grant_row, table,
};

mod audit;
mod config;
mod grant;
mod mcp;
mod policy;
mod revoke;
mod serve;
mod token;

use config::*;
use grant::*;
use mcp::*;
use policy::*;
use revoke::*;
use serve::*;
use token::*;

fn invalid(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Invalid(e.into())
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Runtime(e.into()))?;
    outln!("{text}");
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

/// A value the Kubiya tools pass percent-encoded (`--…-urlencoded`): decoded, and `None`
/// when the template left it unset (empty, `<no value>`, `<nil>`).
fn templated(flag: &str, value: Option<&str>) -> Result<Option<String>, Failure> {
    value
        .map(|v| {
            aws_jit_core::kubiya::template_value(v)
                .map_err(|e| invalid(anyhow!("--{flag}-urlencoded: {e}")))
        })
        .transpose()
        .map(Option::flatten)
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
            out!(
                "{}",
                match file {
                    SchemaFile::AccessConfigs => ACCESS_SCHEMA,
                    SchemaFile::S3Configs => S3_SCHEMA,
                    SchemaFile::Policies => aws_jit_core::eligibility::SCHEMA,
                }
            );
            Ok(())
        }
        Command::Validate { offline } => validate(&cli, *offline).await,
        Command::Accesses => accesses(&cli).await,
        Command::Grant(args) => grant(&cli, args).await,
        Command::Plan(args) => plan(&cli, args).await,
        Command::IamPolicy { resolve } => iam_policy(&cli, *resolve).await,
        Command::Revoke(args) => revoke(&cli, args).await,
        Command::Extend(args) => extend(&cli, args).await,
        Command::Approvals { approver } => approvals(&cli, approver.as_deref()).await,
        Command::Grants {
            all,
            user,
            access,
            status,
        } => {
            grants(
                &cli,
                *all,
                user.as_deref(),
                access.as_deref(),
                status.as_deref(),
            )
            .await
        }
        Command::Sweep => sweep(&cli).await,
        Command::Serve { listen } => serve(&cli, listen).await,
        Command::Token(command) => token(&cli, command).await,
        Command::Policy(command) => policy(&cli, command).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                *shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "aws-jit",
                &mut script,
            );
            out!("{}", String::from_utf8_lossy(&script));
            Ok(())
        }
        Command::Man => {
            out!("{}", crate::cli::man_page());
            Ok(())
        }
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
            check,
            grant,
            user,
            after,
            limit,
            all,
            jsonl,
        } => {
            let limit = match (limit, all, jsonl) {
                (Some(n), ..) => usize::try_from(*n).unwrap_or(usize::MAX),
                (None, true, _) | (None, _, true) => 0,
                (None, false, false) => audit::DEFAULT_AUDIT_LIMIT,
            };
            audit::audit(
                &cli,
                check.as_ref(),
                AuditQuery {
                    grant_id: grant.clone(),
                    user: user.clone(),
                    after_seq: *after,
                    limit,
                },
                *jsonl,
            )
            .await
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
