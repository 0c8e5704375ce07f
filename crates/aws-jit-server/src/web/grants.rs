//! My grants: status, time left, how to use them (the console shortcut and a CLI profile,
//! as in the Slack message), extend and revoke (or withdraw a request).

use askama::Template;
use aws_jit_app::AppError;
use aws_jit_app::ports::GrantFilter;
use aws_jit_core::request_form::duration_choices;
use aws_jit_core::usage::sso_usage;
use aws_jit_core::{AccessDuration, Grant, GrantId, GrantStatus};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::render::{Choice, Nav, Notice, choices, error_page, html, relative};
use super::session::{Posted, Visitor};
use crate::AppState;

/// How many of one's grants the page shows (live first, then the latest ended).
const SHOWN: usize = 100;

/// How to use an Identity Center grant.
#[derive(Debug)]
pub struct Usage {
    account: String,
    role: String,
    console_url: Option<String>,
    config: String,
    check: String,
}

/// One grant on the page.
#[derive(Debug)]
pub struct GrantRow {
    id: String,
    access: String,
    status: &'static str,
    target: String,
    when: String,
    reason: Option<String>,
    last_error: Option<String>,
    usage: Option<Usage>,
    extend_choices: Vec<Choice>,
    revocable: bool,
}

/// The page.
#[derive(Debug, Template)]
#[template(path = "grants.html")]
pub struct GrantsPage {
    nav: Option<Nav>,
    notice: Option<Notice>,
    csrf: String,
    rows: Vec<GrantRow>,
}

/// What a grant's time says, in words.
pub fn when(grant: &Grant, now: jiff::Timestamp) -> String {
    match grant.status {
        GrantStatus::Pending => format!(
            "waiting for approval, lapses {}",
            relative(now, grant.expires_at)
        ),
        GrantStatus::Provisioning => "being granted".to_owned(),
        GrantStatus::Active => format!("ends {}", relative(now, grant.expires_at)),
        GrantStatus::Revoking => "being removed".to_owned(),
        _ => grant.ended_at.map_or_else(
            || "ended".to_owned(),
            |at| format!("ended {}", relative(now, at)),
        ),
    }
}

/// What a grant changes in AWS, in a few words (`123456789012 · DBRead`).
pub(crate) fn target_words(grant: &Grant) -> String {
    match (grant.target.account_id(), grant.target.permission_set()) {
        (Some(account), Some(set)) => format!("{account} · {set}"),
        (Some(account), None) => account.to_owned(),
        _ => grant
            .target
            .iam_user()
            .map_or_else(String::new, |u| format!("IAM user {u}")),
    }
}

fn row(state: &AppState, grant: &Grant, now: jiff::Timestamp) -> GrantRow {
    let access = state.jit.access(&grant.access).ok();
    let live = matches!(grant.status, GrantStatus::Active);
    let usage = match (
        live,
        grant.target.account_id(),
        grant.target.permission_set(),
    ) {
        (true, Some(account), Some(role)) => {
            let usage = sso_usage(account, role, &state.web.settings.instructions);
            Some(Usage {
                account: account.to_owned(),
                role: role.to_owned(),
                console_url: usage.console_url,
                config: usage.config,
                check: usage.check,
            })
        }
        _ => None,
    };
    let extend_choices = match (live, access) {
        (true, Some(access)) => choices(
            &duration_choices(access, state.jit.settings().global_max),
            Some("1h"),
        ),
        _ => Vec::new(),
    };
    GrantRow {
        id: grant.id.to_string(),
        access: grant.access.clone(),
        status: grant.status.as_str(),
        target: target_words(grant),
        when: when(grant, now),
        reason: grant.reason.clone(),
        last_error: grant.last_error.clone(),
        usage,
        extend_choices,
        revocable: matches!(
            grant.status,
            GrantStatus::Pending | GrantStatus::Active | GrantStatus::Provisioning
        ),
    }
}

/// `?notice=…&grant=…` after a change.
#[derive(Debug, Default, Deserialize)]
pub struct AfterChange {
    /// Which change.
    pub notice: Option<String>,
    /// Its grant.
    pub grant: Option<String>,
}

/// Back to `page` after a change (post-redirect-get), with its notice.
pub fn after_change(page: &str, notice: &str, grant: &GrantId) -> Response {
    Redirect::to(&format!(
        "{page}?notice={notice}&grant={}",
        aws_jit_http::encode(grant.as_str())
    ))
    .into_response()
}

/// The notice a change leaves (fixed texts; the grant id is escaped by the template).
pub fn notice_of(after: &AfterChange) -> Option<Notice> {
    let grant = after
        .grant
        .as_deref()
        .map(|g| {
            aws_jit_core::text::printable(g)
                .chars()
                .take(64)
                .collect::<String>()
        })
        .unwrap_or_default();
    let text = match after.notice.as_deref()? {
        "granted" => format!("Granted: {grant} is active."),
        "requested" => format!("Requested: {grant} waits for approval."),
        "revoked" => format!("Revoked: {grant}."),
        "extended" => format!("Extended: {grant}."),
        "approved" => format!("Approved: {grant}."),
        "denied" => format!("Denied: {grant}."),
        _ => return None,
    };
    Some(Notice::ok(text))
}

/// `GET /grants`.
pub async fn mine(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(after): Query<AfterChange>,
) -> Response {
    let filter = GrantFilter {
        include_ended: true,
        user: Some(visitor.session.person.email.clone()),
        limit: SHOWN,
        ..GrantFilter::default()
    };
    let grants = match state.jit.store().grants(&filter).await {
        Ok(grants) => grants,
        Err(e) => return failed(&AppError::from(e)),
    };
    let now = state.jit.now();
    let (mut live, ended): (Vec<&Grant>, Vec<&Grant>) =
        grants.iter().partition(|g| !g.status.is_terminal());
    live.extend(ended);
    let page = GrantsPage {
        nav: Nav::of(&visitor, "grants"),
        notice: notice_of(&after),
        csrf: visitor.session.csrf.clone(),
        rows: live.into_iter().map(|g| row(&state, g, now)).collect(),
    };
    html(StatusCode::OK, &page)
}

pub(crate) fn failed(e: &AppError) -> Response {
    error_page(
        crate::api::ApiError::from_app_status(e),
        "That did not work",
        &e.to_string(),
    )
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    back: String,
}

/// `POST /grants/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<RevokeForm>,
) -> Response {
    let id = GrantId::new(id);
    match state.jit.revoke(&id, &posted.visitor.actor).await {
        Ok(_) => {
            state.wake.notify_one();
            let page = if posted.form.back == "active" {
                "/active"
            } else {
                "/grants"
            };
            after_change(page, "revoked", &id)
        }
        Err(e) => failed(&e),
    }
}

/// The extend form.
#[derive(Debug, Deserialize)]
pub struct ExtendForm {
    #[serde(default)]
    duration: String,
}

/// `POST /grants/{id}/extend`.
pub async fn extend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ExtendForm>,
) -> Response {
    let by = match posted.form.duration.trim() {
        "" => None,
        text => match AccessDuration::parse(text) {
            Ok(d) => Some(d),
            Err(e) => {
                return error_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "That duration does not read",
                    &format!("{e}. Go back and choose one of the durations offered."),
                );
            }
        },
    };
    let id = GrantId::new(id);
    match state.jit.extend(&id, by, &posted.visitor.actor).await {
        Ok(_) => {
            state.wake.notify_one();
            after_change("/grants", "extended", &id)
        }
        Err(e) => failed(&e),
    }
}
