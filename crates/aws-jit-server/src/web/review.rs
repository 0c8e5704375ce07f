//! For approvers: the requests one may decide (with who else approved), and every live
//! grant (approvers and admins), with filters and revoke.

use askama::Template;
use aws_jit_app::ports::GrantFilter;
use aws_jit_app::{AppError, Decidable};
use aws_jit_core::text::MAX_REASON_CHARS;
use aws_jit_core::{Grant, GrantId};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::grants::{AfterChange, after_change, failed, notice_of, target_words, when};
use super::render::{Nav, Notice, html, relative};
use super::session::{Posted, Visitor};
use crate::AppState;

/// A request on the approvals page.
#[derive(Debug)]
pub struct RequestRow {
    id: String,
    user: String,
    access: String,
    target: String,
    duration: String,
    requested_by: String,
    lapses: String,
    reason: String,
    approved_count: usize,
    approved_by: String,
    required: usize,
}

/// The approvals page.
#[derive(Debug, Template)]
#[template(path = "approvals.html")]
pub struct ApprovalsPage {
    nav: Option<Nav>,
    notice: Option<Notice>,
    csrf: String,
    max_reason: usize,
    rows: Vec<RequestRow>,
}

/// Builds the approvals page (what the benchmark times, too).
pub fn approvals_page(
    nav: Option<Nav>,
    notice: Option<Notice>,
    csrf: &str,
    queue: &[Decidable],
    now: jiff::Timestamp,
) -> ApprovalsPage {
    let rows = queue
        .iter()
        .map(|d| {
            let g = &d.grant;
            RequestRow {
                id: g.id.to_string(),
                user: g.user.clone(),
                access: g.access.clone(),
                target: target_words(g),
                duration: g
                    .requested_duration
                    .map_or_else(|| "its longest".to_owned(), |d| d.human()),
                requested_by: g.requested_by.to_string(),
                lapses: relative(now, g.expires_at),
                reason: g
                    .reason
                    .clone()
                    .unwrap_or_else(|| "(none given)".to_owned()),
                approved_count: d.approved_by.len(),
                approved_by: d
                    .approved_by
                    .iter()
                    .map(|p| p.email.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                required: d.required,
            }
        })
        .collect();
    ApprovalsPage {
        nav,
        notice,
        csrf: csrf.to_owned(),
        max_reason: MAX_REASON_CHARS,
        rows,
    }
}

/// `GET /approvals`.
pub async fn approvals(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(after): Query<AfterChange>,
) -> Response {
    let queue = match state.jit.decidable(&visitor.actor).await {
        Ok(queue) => queue,
        Err(e) => return failed(&e),
    };
    let page = approvals_page(
        Nav::of(&visitor, "approvals"),
        notice_of(&after),
        &visitor.session.csrf,
        &queue,
        state.jit.now(),
    );
    html(StatusCode::OK, &page)
}

/// The decision form.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /approvals/{id}/decide`: approve or deny, through the approval use case.
pub async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<DecisionForm>,
) -> Response {
    let Posted { visitor, form } = posted;
    let id = GrantId::new(id);
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let (decided, notice) = match form.decision.as_str() {
        "approve" => (
            state.jit.approve(&id, &visitor.actor, reason).await,
            "approved",
        ),
        "deny" => (state.jit.deny(&id, &visitor.actor, reason).await, "denied"),
        _ => {
            return failed(&AppError::Invalid(
                "a decision is `approve` or `deny`".to_owned(),
            ));
        }
    };
    match decided {
        Ok(_) => {
            state.wake.notify_one();
            after_change("/approvals", notice, &id)
        }
        Err(e) => failed(&e),
    }
}

/// A live grant on the active page.
#[derive(Debug)]
pub struct LiveRow {
    id: String,
    user: String,
    access: String,
    account: String,
    status: &'static str,
    when: String,
}

/// The active grants page.
#[derive(Debug, Template)]
#[template(path = "active.html")]
pub struct ActivePage {
    nav: Option<Nav>,
    notice: Option<Notice>,
    csrf: String,
    filter_user: String,
    filter_access: String,
    filter_account: String,
    rows: Vec<LiveRow>,
}

/// The filters of the active page.
#[derive(Debug, Default, Deserialize)]
pub struct ActiveQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    account: String,
    notice: Option<String>,
    grant: Option<String>,
}

fn short(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}

/// `GET /active`: every live grant (approvers and admins; a refusal is audited).
pub async fn active(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<ActiveQuery>,
) -> Response {
    if let Err(e) = state.jit.oversee(&visitor.actor).await {
        return failed(&e);
    }
    let user = short(&query.user, 320).to_lowercase();
    let access = short(&query.access, 200);
    let account = short(&query.account, 12);
    let filter = GrantFilter {
        user: Some(user.clone()).filter(|u| !u.is_empty()),
        ..GrantFilter::default()
    };
    let grants = match state.jit.store().grants(&filter).await {
        Ok(grants) => grants,
        Err(e) => return failed(&AppError::from(e)),
    };
    let now = state.jit.now();
    let access_lower = access.to_lowercase();
    let keep = |g: &&Grant| {
        (access.is_empty() || g.access.to_lowercase().contains(&access_lower))
            && (account.is_empty() || g.target.account_id() == Some(account.as_str()))
    };
    let rows = grants
        .iter()
        .filter(keep)
        .map(|g| LiveRow {
            id: g.id.to_string(),
            user: g.user.clone(),
            access: g.access.clone(),
            account: g.target.account_id().unwrap_or("").to_owned(),
            status: g.status.as_str(),
            when: when(g, now),
        })
        .collect();
    let after = AfterChange {
        notice: query.notice.clone(),
        grant: query.grant.clone(),
    };
    let page = ActivePage {
        nav: Nav::of(&visitor, "active"),
        notice: notice_of(&after),
        csrf: visitor.session.csrf.clone(),
        filter_user: user,
        filter_access: access,
        filter_account: account,
        rows,
    };
    html(StatusCode::OK, &page)
}
