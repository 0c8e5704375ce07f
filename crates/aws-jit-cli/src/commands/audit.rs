//! `audit` and `audit verify`: the log, and its hash chain's check.

use super::*;

pub(super) async fn audit(
    cli: &Cli,
    verify: bool,
    query: AuditQuery,
    jsonl: bool,
) -> Result<(), Failure> {
    let store = open_store(&cli.db).await?;
    if verify {
        let events = store
            .audit(&AuditQuery::default())
            .await
            .map_err(|e| Failure::Runtime(e.into()))?;
        let verified =
            aws_jit_core::audit::verify_chain(&events).map_err(|e| Failure::Runtime(e.into()))?;
        let head = events.last().map_or("", |e| e.hash.as_str());
        return match cli.output {
            Output::Json => print_json(&serde_json::json!({
                "verified": verified, "events": events.len(), "head": head,
            })),
            Output::Human => {
                println!("audit chain intact: {verified} events verified; head {head}");
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
