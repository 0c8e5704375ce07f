//! The audit log in the browser: filters (user, access, grant, time), paging, export as
//! JSON lines or CSV, and whether the hash chain verifies. What one sees is what the API
//! shows them: their own events, or everyone's for approvers and admins.

use askama::Template;
use aws_jit_app::AppError;
use aws_jit_app::ports::AuditQuery;
use aws_jit_core::AuditEvent;
use aws_jit_core::views::{AuditView, rfc3339};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::grants::failed;
use super::render::{Nav, Notice, html};
use super::session::Visitor;
use crate::AppState;

/// Events on one page.
const PAGE: usize = 100;
/// Events read from the store at a time while filtering.
const BATCH: usize = 500;
/// The most events one export holds.
pub const MAX_EXPORT: usize = 100_000;
/// The longest log the page verifies itself (beyond it, `aws-jit audit verify`).
const MAX_VERIFIED: usize = 200_000;

/// The filters, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    user: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    grant: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The page's query: the filters, the cursor and the export format.
#[derive(Debug, Default, Deserialize)]
pub struct AuditPageQuery {
    #[serde(flatten)]
    filter: AuditFilter,
    after: Option<String>,
    format: Option<String>,
}

/// One event on the page.
#[derive(Debug)]
pub struct EventRow {
    seq: i64,
    time: String,
    action: &'static str,
    actor: String,
    user: String,
    access: String,
    grant: String,
    detail: String,
}

/// The page.
#[derive(Debug, Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    nav: Option<Nav>,
    notice: Option<Notice>,
    chain: String,
    chain_kind: &'static str,
    filter: AuditFilter,
    query: String,
    rows: Vec<EventRow>,
    next: Option<i64>,
}

/// A time filter: RFC 3339, or the browser's `YYYY-MM-DDTHH:MM` (UTC).
fn parse_time(text: &str, field: &str) -> Result<Option<Timestamp>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    [text.to_owned(), format!("{text}:00Z"), format!("{text}Z")]
        .iter()
        .find_map(|t| t.parse::<Timestamp>().ok())
        .map(Some)
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "{field}: `{}` is not a time: use 2026-12-01T09:30",
                aws_jit_core::text::printable(text)
            ))
        })
}

struct Matcher {
    access: String,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

impl Matcher {
    fn keeps(&self, e: &AuditEvent) -> bool {
        (self.access.is_empty() || e.access.eq_ignore_ascii_case(&self.access))
            && self.from.is_none_or(|from| e.time >= from)
            && self.to.is_none_or(|to| e.time <= to)
    }
}

/// The matching events after `after`, at most `wanted`; and whether more may follow.
async fn matching(
    state: &AppState,
    scope: Option<String>,
    filter: &AuditFilter,
    after: Option<i64>,
    wanted: usize,
) -> Result<(Vec<AuditEvent>, bool), AppError> {
    let matcher = Matcher {
        access: filter.access.trim().to_owned(),
        from: parse_time(&filter.from, "from")?,
        to: parse_time(&filter.to, "to")?,
    };
    let grant = Some(filter.grant.trim().to_owned()).filter(|g| !g.is_empty());
    let mut found = Vec::new();
    let mut cursor = after;
    loop {
        let batch = state
            .jit
            .store()
            .audit(&AuditQuery {
                grant_id: grant.clone(),
                user: scope.clone(),
                after_seq: cursor,
                limit: BATCH,
            })
            .await?;
        let full = batch.len() == BATCH;
        cursor = batch.last().map(|e| e.seq).or(cursor);
        for event in batch {
            if matcher.keeps(&event) {
                found.push(event);
                if found.len() == wanted {
                    return Ok((found, true));
                }
            }
        }
        if !full {
            return Ok((found, false));
        }
    }
}

/// The query string of the filters, for the export and next-page links.
fn query_of(filter: &AuditFilter) -> String {
    [
        ("user", &filter.user),
        ("access", &filter.access),
        ("grant", &filter.grant),
        ("from", &filter.from),
        ("to", &filter.to),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", aws_jit_http::encode(v.trim())))
    .collect::<Vec<_>>()
    .join("&")
}

/// Whether the whole chain verifies, in words, and the notice style.
async fn chain_state(state: &AppState) -> (String, &'static str) {
    let events = match state
        .jit
        .store()
        .audit(&AuditQuery {
            limit: MAX_VERIFIED + 1,
            ..AuditQuery::default()
        })
        .await
    {
        Ok(events) => events,
        Err(e) => return (format!("The hash chain could not be read: {e}"), "error"),
    };
    if events.len() > MAX_VERIFIED {
        return (
            format!(
                "The log holds more than {MAX_VERIFIED} events: verify it with `aws-jit audit verify`."
            ),
            "",
        );
    }
    match aws_jit_core::audit::verify_chain(&events) {
        Ok(n) => (
            format!(
                "The hash chain verifies: {n} events, head {}.",
                events
                    .last()
                    .map_or("none", |e| &e.hash[..e.hash.len().min(16)])
            ),
            "ok",
        ),
        Err(e) => (format!("The hash chain does NOT verify: {e}"), "error"),
    }
}

/// A CSV cell: quoted, quotes doubled, and never read as a spreadsheet formula.
pub fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

fn export(events: &[AuditEvent], csv: bool) -> Response {
    let mut body = String::new();
    if csv {
        body.push_str("seq,time,action,actor,user,access,grant_id,detail,hash\n");
        for e in events {
            let actor = aws_jit_core::Actor::from_stored(&e.actor).to_string();
            let cells = [
                e.seq.to_string(),
                rfc3339(e.time),
                e.action.as_str().to_owned(),
                actor,
                e.user.clone(),
                e.access.clone(),
                e.grant_id.clone(),
                e.detail.clone(),
                e.hash.clone(),
            ];
            body.push_str(
                &cells
                    .iter()
                    .map(|c| csv_cell(c))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            body.push('\n');
        }
    } else {
        for e in events {
            if let Ok(line) = serde_json::to_string(&AuditView::from(e)) {
                body.push_str(&line);
                body.push('\n');
            }
        }
    }
    let (kind, name) = if csv {
        (
            "text/csv; charset=utf-8",
            "attachment; filename=\"aws-jit-audit.csv\"",
        )
    } else {
        (
            "application/jsonl; charset=utf-8",
            "attachment; filename=\"aws-jit-audit.jsonl\"",
        )
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response()
}

/// `GET /audit`.
pub async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<AuditPageQuery>,
) -> Response {
    let user = Some(query.filter.user.trim()).filter(|u| !u.is_empty());
    let scope = match state.jit.scope(&visitor.actor, user).await {
        Ok(scope) => scope,
        Err(e) => return failed(&e),
    };
    let Ok(after) = query.after.as_deref().map(str::parse::<i64>).transpose() else {
        return failed(&AppError::Invalid("`after` is an event number".to_owned()));
    };
    if let Some(format) = query.format.as_deref() {
        let csv = match format {
            "csv" => true,
            "jsonl" => false,
            _ => return failed(&AppError::Invalid("export as `jsonl` or `csv`".to_owned())),
        };
        return match matching(&state, scope, &query.filter, after, MAX_EXPORT).await {
            Ok((events, _)) => export(&events, csv),
            Err(e) => failed(&e),
        };
    }
    let (events, more) = match matching(&state, scope, &query.filter, after, PAGE).await {
        Ok(found) => found,
        Err(e) => return failed(&e),
    };
    // The whole chain is read to verify it: approvers and admins see its state.
    let (chain, chain_kind) = if visitor.oversees() {
        chain_state(&state).await
    } else {
        (
            "Approvers see whether the whole hash chain verifies; these are your own events."
                .to_owned(),
            "",
        )
    };
    let rows = events
        .iter()
        .map(|e| EventRow {
            seq: e.seq,
            time: rfc3339(e.time),
            action: e.action.as_str(),
            actor: aws_jit_core::Actor::from_stored(&e.actor).to_string(),
            user: e.user.clone(),
            access: e.access.clone(),
            grant: e.grant_id.clone(),
            detail: e.detail.clone(),
        })
        .collect();
    let next = more.then(|| events.last().map(|e| e.seq)).flatten();
    let page = AuditPage {
        nav: Nav::of(&visitor, "audit"),
        notice: None,
        chain,
        chain_kind,
        query: query_of(&query.filter),
        filter: query.filter,
        rows,
        next,
    };
    html(StatusCode::OK, &page)
}
