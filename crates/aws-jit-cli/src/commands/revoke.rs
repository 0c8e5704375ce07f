//! `revoke`, `extend`, and `grants`, which lists them.

use anyhow::anyhow;
use std::sync::Arc;

use super::*;

pub(super) async fn revoke(cli: &Cli, args: &RevokeArgs) -> Result<(), Failure> {
    let wired = wire(cli).await?;
    let id = match &args.grant {
        Some(id) => GrantId::new(id.clone()),
        None => {
            let (catalog, query) = catalog_and_query(cli, args.access.as_deref())?;
            let encoded = templated("user", args.user_urlencoded.as_deref())?;
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
        // The API's shape: the grant's view, with `kept` when the assignment stayed.
        Output::Json => print_json(&aws_jit_core::views::grant_view_with(
            g,
            "kept",
            outcome.kept.clone(),
        )),
        Output::Human => {
            outln!("revoked `{}` from {} (grant {})", g.access, g.user, g.id);
            if let Some(kept) = &outcome.kept {
                outln!("note: {kept}");
            }
            Ok(())
        }
    }
}

pub(super) async fn extend(cli: &Cli, args: &ExtendArgs) -> Result<(), Failure> {
    let by = templated("by", args.by_urlencoded.as_deref())?
        .or_else(|| args.by.clone())
        .map(|d| AccessDuration::parse(d.trim()))
        .transpose()
        .map_err(|e| invalid(anyhow::Error::new(e).context("--by")))?;
    let (catalog, query) = match &args.grant {
        Some(_) => (load_catalog(&cli.config_dir)?, String::new()),
        None => catalog_and_query(cli, args.access.as_deref())?,
    };
    let wired = wire(cli).await?;
    let policies = Arc::new(load_policies(cli, &catalog)?);
    let jit = wired.jit_over(Arc::new(catalog), policies);
    let id = match &args.grant {
        Some(id) => GrantId::new(id.clone()),
        None => {
            let user = parse_user(args.user.as_deref())?;
            jit.find_live_grant(&query, &user).await?.id
        }
    };
    let outcome = jit.extend(&id, by, &actor(cli)).await;
    log_call_counts(&wired.aws);
    deliver_now(&wired).await;
    let g = outcome?;
    match cli.output {
        Output::Json => print_json(&GrantView::from(&g)),
        Output::Human => {
            outln!(
                "extended `{}` for {} until {} (grant {})",
                g.access,
                g.user,
                GrantView::from(&g).expires_at_str(),
                g.id
            );
            Ok(())
        }
    }
}

pub(super) async fn grants(
    cli: &Cli,
    all: bool,
    user: Option<&str>,
    access: Option<&str>,
    status: Option<&str>,
) -> Result<(), Failure> {
    let statuses = status
        .map(aws_jit_core::api_request::parse_statuses)
        .transpose()
        .map_err(|e| invalid(anyhow!("--status: {e}")))?
        .unwrap_or_default();
    // An access by any of its names, when the configs load; else as given (a key).
    let access = access.map(|query| match load_catalog(&cli.config_dir) {
        Ok(catalog) => catalog
            .find(query)
            .map(|a| a.key.clone())
            .unwrap_or_else(|_| query.to_owned()),
        Err(_) => query.to_owned(),
    });
    // Acting for a person (KUBIYA_USER_EMAIL): whose grants they may list is decided,
    // and a refusal audited, as on every other path.
    let user = match &cli.resolved.acting_person {
        Some(_) => {
            let wired = wire(cli).await?;
            wired.jit.scope(&actor(cli), user).await?
        }
        None => user.map(str::to_lowercase),
    };
    let store = open_store(&cli.db).await?;
    let list = store
        .grants(&GrantFilter {
            include_ended: all || !statuses.is_empty(),
            user,
            access,
            statuses,
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
            if !list.is_empty() {
                let rows: Vec<Vec<String>> = list.iter().map(grant_row).collect();
                out!("{}", table(&GRANT_HEADERS, &rows));
            }
            Ok(())
        }
    }
}
