//! `settings`, `validate`, `accesses`, `iam-policy`, `schema`'s texts and `kubiya bundle`:
//! commands about the configs.

use anyhow::anyhow;
use aws_jit_core::config::Requesters;

use super::*;

pub(super) fn settings_table(cli: &Cli) -> Result<(), Failure> {
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
            out!("{}", crate::settings::markdown_table());
            Ok(())
        }
    }
}

pub(super) async fn validate(cli: &Cli, offline: bool) -> Result<(), Failure> {
    let catalog = load_catalog(&cli.config_dir)?;
    let policies = load_policies(cli, &catalog)?;
    if let Some(warning) = open_warning(&policies) {
        eprintln!("warning: {warning}");
    }
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    if !offline {
        let wired = wire(cli).await?;
        wired.jit.forget_instance().await?;
        for access in catalog.accesses() {
            match wired.jit.check_access(access).await {
                Ok(what) => checked.push(serde_json::json!({ "access": access.key, "checked": what })),
                Err(AppError::UnknownPermissionSet(name)) => problems.push(format!(
                    "{}: entry `{}`: field `permission_set`: `{name}` does not exist in IAM Identity Center",
                    access.source.file_name(),
                    access.key
                )),
                Err(AppError::UnknownPolicy(name)) => {
                    let builtins = BuiltinTemplate::ALL.map(BuiltinTemplate::name);
                    let hint = aws_jit_core::text::closest(&name, builtins)
                        .map_or_else(String::new, |t| format!(": did you mean `{t}`?"));
                    problems.push(format!(
                        "{}: entry `{}`: field `policy_template`: `{name}` is not a built-in template and no such IAM policy exists{hint}",
                        access.source.file_name(),
                        access.key
                    ));
                }
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
        Output::Json => print_json(&serde_json::json!({
            "valid": true,
            "accesses": n,
            "policies": policies.policies().len(),
            "open_to_every_directory_user": policies.open_accesses(),
            "checked_in_aws": !offline,
            "checks": checked,
        })),
        Output::Human => {
            outln!(
                "{n} access{} valid{}",
                if n == 1 { "" } else { "es" },
                if offline {
                    " (offline: AWS not checked)"
                } else {
                    ", checked in AWS just now:"
                }
            );
            for check in &checked {
                outln!(
                    "  {}: {}",
                    check["access"].as_str().unwrap_or_default(),
                    check["checked"].as_str().unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

pub(super) async fn iam_policy(cli: &Cli, resolve: bool) -> Result<(), Failure> {
    let catalog = load_catalog(&cli.config_dir)?;
    let known = if resolve {
        let wired = wire(cli).await?;
        let known = wired.jit.tool_policy_arns(&catalog).await?;
        log_call_counts(&wired.aws);
        Some(known)
    } else {
        let sets = catalog
            .accesses()
            .iter()
            .filter(|a| matches!(a.target, aws_jit_core::AccessTarget::IdentityCenter { .. }))
            .count();
        if sets > 0 {
            eprintln!(
                "note: offline, assignments are allowed for any permission set on the configured accounts; `aws-jit iam-policy --resolve` limits them to the {sets} configured one{}",
                if sets == 1 { "" } else { "s" }
            );
        }
        None
    };
    print_json(&aws_jit_core::tool_policy::tool_policy(
        &catalog,
        known.as_ref(),
    ))
}

/// Every access; acting for a person (`KUBIYA_USER_EMAIL`), only those they may request.
pub(super) async fn accesses(cli: &Cli) -> Result<(), Failure> {
    let (catalog, policies) = load_configs(cli)?;
    let shown: Vec<&aws_jit_core::Access> = match &cli.resolved.acting_person {
        Some(email) => {
            let user = parse_user(Some(email))?;
            let wired = wire(cli).await?;
            let jit = wired.jit_over(catalog.clone(), policies);
            let person = jit.resolve_person(&user, false).await?;
            let keys: Vec<String> = jit
                .requestable(&person, Channel::Kubiya.as_str())
                .await?
                .into_iter()
                .map(|a| a.key.clone())
                .collect();
            log_call_counts(&wired.aws);
            catalog
                .accesses()
                .iter()
                .filter(|a| keys.contains(&a.key))
                .collect()
        }
        None => catalog.accesses().iter().collect(),
    };
    match cli.output {
        Output::Json => print_json(
            &shown
                .iter()
                .map(|a| AccessView::from(*a))
                .collect::<Vec<_>>(),
        ),
        Output::Human => {
            if !shown.is_empty() {
                let rows: Vec<Vec<String>> = shown.iter().map(|a| access_row(a)).collect();
                out!("{}", table(&ACCESS_HEADERS, &rows));
            }
            Ok(())
        }
    }
}

pub(super) fn kubiya_bundle(cli: &Cli, image: &str, out: &std::path::Path) -> Result<(), Failure> {
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
    // The policies are checked before they are shipped.
    if let Some(warning) = open_warning(&load_policies(cli, &catalog)?) {
        eprintln!("warning: {warning}");
    }
    let policies =
        std::fs::read_to_string(cli.config_dir.join(aws_jit_core::eligibility::POLICY_FILE)).ok();
    let default = cli
        .resolved
        .default_requesters
        .as_ref()
        .map(Requesters::to_list);
    let bundle = aws_jit_core::kubiya::bundle(
        &catalog,
        &configs,
        policies.as_deref(),
        default.as_deref(),
        image,
    );
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
            outln!("wrote {} ({tools} tools, image {image})", path.display());
            Ok(())
        }
    }
}

pub(super) const ACCESS_SCHEMA: &str =
    include_str!("../../../../schema/access_configs.schema.json");

pub(super) const S3_SCHEMA: &str = include_str!("../../../../schema/s3_configs.schema.json");
