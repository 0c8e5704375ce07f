//! Requesting access: the accesses the policies let the person request (all of them, no
//! cap, searchable), the form for one (durations never above what the access and the
//! installation allow, a reason, break-glass where the access allows it), and its
//! submission through the same use case as every other path.

use askama::Template;
use aws_jit_app::{AppError, GrantRequest};
use aws_jit_core::request_form::{duration_choices, longest, matches, search_text, target_summary};
use aws_jit_core::text::MAX_REASON_CHARS;
use aws_jit_core::{Access, AccessDuration, GrantStatus, UserEmail};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::grants::{after_change, failed};
use super::render::{Choice, Nav, Notice, choices, html};
use super::session::{Posted, Visitor};
use crate::AppState;

/// A row of the access list.
#[derive(Debug)]
pub struct AccessRow {
    key: String,
    key_encoded: String,
    name: String,
    description: String,
    target: String,
    longest: String,
    approval: String,
    search: String,
}

/// How an access's requests are decided, in a few words.
pub fn approval_summary(access: &Access) -> String {
    match &access.approval {
        None => "none".to_owned(),
        Some(policy) if policy.required == 1 => "1 approval".to_owned(),
        Some(policy) => format!("{} approvals", policy.required),
    }
}

/// The access list.
#[derive(Debug, Template)]
#[template(path = "request_list.html")]
pub struct RequestList {
    nav: Option<Nav>,
    notice: Option<Notice>,
    search: String,
    total: usize,
    rows: Vec<AccessRow>,
}

/// `?q=` of the access list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

/// Builds the access list page (what the benchmark times, too).
pub fn list_page(
    nav: Option<Nav>,
    accesses: &[&Access],
    search: &str,
    global_max: Option<AccessDuration>,
) -> RequestList {
    let rows = accesses
        .iter()
        .filter(|a| matches(a, search))
        .map(|a| AccessRow {
            key: a.key.clone(),
            key_encoded: aws_jit_http::encode(&a.key),
            name: a.name.clone(),
            description: a.description.clone(),
            target: target_summary(a),
            longest: longest(a, global_max).human(),
            approval: approval_summary(a),
            search: search_text(a),
        })
        .collect();
    RequestList {
        nav,
        notice: None,
        search: search.to_owned(),
        total: accesses.len(),
        rows,
    }
}

/// `GET /request`.
pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<ListQuery>,
) -> Response {
    let search: String = query.q.chars().take(200).collect();
    let identified = match state.jit.identify(&visitor.actor).await {
        Ok(actor) => actor,
        Err(e) => return failed(&e),
    };
    let Some(person) = identified.own_person() else {
        return failed(&AppError::NotAllowed("no person is signed in".to_owned()));
    };
    let accesses = match state.jit.requestable(person, "web").await {
        Ok(accesses) => accesses,
        Err(e) => return failed(&e),
    };
    let page = list_page(
        Nav::of(&visitor, "request"),
        &accesses,
        &search,
        state.jit.settings().global_max,
    );
    html(StatusCode::OK, &page)
}

/// The request form.
#[derive(Debug, Template)]
#[template(path = "request_form.html")]
pub struct RequestForm {
    nav: Option<Nav>,
    notice: Option<Notice>,
    csrf: String,
    key: String,
    name: String,
    description: String,
    target: String,
    approval: Option<String>,
    durations: Vec<Choice>,
    reason_required: bool,
    reason: String,
    max_reason: usize,
    break_glass: bool,
    break_glass_checked: bool,
    break_glass_longest: String,
}

/// `?access=` of the form.
#[derive(Debug, Default, Deserialize)]
pub struct FormQuery {
    #[serde(default)]
    access: String,
}

/// What the form sends.
#[derive(Debug, Deserialize)]
pub struct Submitted {
    access: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    break_glass: Option<String>,
}

pub(crate) fn form_page(
    visitor: &Visitor,
    access: &Access,
    global_max: Option<AccessDuration>,
    sent: Option<&Submitted>,
    notice: Option<Notice>,
) -> RequestForm {
    let durations = duration_choices(access, global_max);
    RequestForm {
        nav: Nav::of(visitor, "request"),
        notice,
        csrf: visitor.session.csrf.clone(),
        key: access.key.clone(),
        name: access.name.clone(),
        description: access.description.clone(),
        target: target_summary(access),
        approval: access
            .approval
            .as_ref()
            .map(|_| format!("needs {}", approval_summary(access))),
        durations: choices(&durations, sent.map(|s| s.duration.as_str())),
        reason_required: access.require_reason,
        reason: sent.map(|s| s.reason.clone()).unwrap_or_default(),
        max_reason: MAX_REASON_CHARS,
        break_glass: access.break_glass,
        break_glass_checked: sent.is_some_and(|s| s.break_glass.is_some()),
        break_glass_longest: access
            .break_glass_duration
            .min(longest(access, global_max))
            .human(),
    }
}

/// `GET /request/new?access=KEY`.
pub async fn form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<FormQuery>,
) -> Response {
    let access = match state.jit.access(&query.access) {
        Ok(access) => access,
        Err(e) => return failed(&e),
    };
    let page = form_page(
        &visitor,
        access,
        state.jit.settings().global_max,
        None,
        None,
    );
    html(StatusCode::OK, &page)
}

/// `POST /request`: the request, through the grant use case (and its decision point).
pub async fn submit(State(state): State<AppState>, posted: Posted<Submitted>) -> Response {
    let Posted { visitor, form } = posted;
    let access = match state.jit.access(&form.access) {
        Ok(access) => access,
        Err(e) => return failed(&e),
    };
    let again = |status: StatusCode, why: String| {
        let page = form_page(
            &visitor,
            access,
            state.jit.settings().global_max,
            Some(&form),
            Some(Notice::error(why)),
        );
        html(status, &page)
    };
    let duration = match form.duration.trim() {
        "" => None,
        text => match AccessDuration::parse(text) {
            Ok(d) => Some(d),
            Err(e) => return again(StatusCode::UNPROCESSABLE_ENTITY, format!("Duration: {e}")),
        },
    };
    let Ok(user) = UserEmail::parse(&visitor.session.person.email) else {
        return again(
            StatusCode::FORBIDDEN,
            "your sign-in has no email address".to_owned(),
        );
    };
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let outcome = state
        .jit
        .grant(GrantRequest {
            access: access.key.clone(),
            user,
            actor: visitor.actor.clone(),
            duration,
            reason,
            break_glass: form.break_glass.is_some(),
        })
        .await;
    match outcome {
        Ok(outcome) => {
            state.wake.notify_one();
            let notice = if outcome.grant.status == GrantStatus::Pending {
                "requested"
            } else {
                "granted"
            };
            after_change("/grants", notice, &outcome.grant.id)
        }
        Err(e) => {
            let status = crate::api::ApiError::from_app_status(&e);
            again(status, e.to_string())
        }
    }
}
