//! `audit` and `audit verify`: the log, and its hash chain's check.

use anyhow::anyhow;

use super::*;
use crate::cli::AuditCheck;

/// How many events `aws-jit audit` shows without `--limit` or `--all`.
pub(super) const DEFAULT_AUDIT_LIMIT: usize = 100;

pub(super) async fn audit(
    cli: &Cli,
    check: Option<&AuditCheck>,
    query: AuditQuery,
    jsonl: bool,
) -> Result<(), Failure> {
    let store = open_store(&cli.db).await?;
    if let Some(AuditCheck::Verify { expect_head }) = check {
        let events = store
            .audit(&AuditQuery::default())
            .await
            .map_err(|e| Failure::Runtime(e.into()))?;
        let verified =
            aws_jit_core::audit::verify_chain(&events).map_err(|e| Failure::Runtime(e.into()))?;
        let head = events.last().map_or("", |e| e.hash.as_str());
        let expected = match expect_head {
            None => None,
            Some(hash) => {
                let hash = hash.trim().to_lowercase();
                let found = events.iter().find(|e| e.hash == hash).ok_or_else(|| {
                    Failure::Runtime(anyhow!(
                        "the recorded head `{hash}` is not in the audit chain (its head is now `{head}`): the log was truncated or rewritten since it was recorded"
                    ))
                })?;
                Some(found.seq)
            }
        };
        return match cli.output {
            Output::Json => print_json(&serde_json::json!({
                "verified": verified, "events": events.len(), "head": head,
                "expected_head_at": expected,
            })),
            Output::Human => {
                outln!("audit chain intact: {verified} events verified; head {head}");
                if let Some(seq) = expected {
                    outln!("the recorded head is event {seq}: nothing up to it changed");
                }
                Ok(())
            }
        };
    }
    let events = store
        .audit(&query)
        .await
        .map_err(|e| Failure::Runtime(e.into()))?;
    if jsonl {
        for e in &events {
            let line = serde_json::to_string(&AuditView::from(e))
                .map_err(|e| Failure::Runtime(e.into()))?;
            outln!("{line}");
        }
        return Ok(());
    }
    if query.limit > 0
        && events.len() == query.limit
        && let Some(last) = events.last()
    {
        eprintln!(
            "showing {} events: `--after {}` for the next ones, `--all` for every one",
            events.len(),
            last.seq
        );
    }
    match cli.output {
        Output::Json => print_json(&events.iter().map(AuditView::from).collect::<Vec<_>>()),
        Output::Human => {
            if !events.is_empty() {
                let rows: Vec<Vec<String>> = events.iter().map(audit_row).collect();
                out!("{}", table(&AUDIT_HEADERS, &rows));
            }
            Ok(())
        }
    }
}
