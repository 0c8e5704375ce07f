//! Pages as responses: the askama templates (`templates/`, HTML-escaped by default), the
//! navigation and notices every page shares, and the error and sign-in pages.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::session::{FORM_COOKIE, Visitor, set_cookie};
use crate::AppState;

/// A message at the top of a page.
#[derive(Debug, Clone)]
pub struct Notice {
    /// `ok` or `error` (the style, and whether screen readers are alerted).
    pub kind: &'static str,
    /// What it says.
    pub text: String,
}

impl Notice {
    /// A success.
    pub fn ok(text: impl Into<String>) -> Notice {
        Notice {
            kind: "ok",
            text: text.into(),
        }
    }

    /// A failure.
    pub fn error(text: impl Into<String>) -> Notice {
        Notice {
            kind: "error",
            text: text.into(),
        }
    }
}

/// The navigation of a signed-in page.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Who is signed in.
    pub email: String,
    /// Whether they see the active grants page.
    pub oversees: bool,
    /// The session's CSRF token (the sign-out form).
    pub csrf: String,
    /// The current page (`request`, `grants`, `approvals`, `active`, `audit`).
    pub current: &'static str,
}

impl Nav {
    /// The navigation for `visitor` on `current`.
    pub fn of(visitor: &Visitor, current: &'static str) -> Option<Nav> {
        Some(Nav {
            email: visitor.session.person.email.clone(),
            oversees: visitor.oversees(),
            csrf: visitor.session.csrf.clone(),
            current,
        })
    }
}

/// A page with `status`.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "web: a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page did not render").into_response()
        }
    }
}

/// The error page.
#[derive(Debug, Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<Nav>,
    notice: Option<Notice>,
    title: &'a str,
    text: &'a str,
}

/// A clear page for a refusal or a failure: what happened and what to do.
pub fn error_page(status: StatusCode, title: &str, text: &str) -> Response {
    html(
        status,
        &ErrorPage {
            nav: None,
            notice: None,
            title,
            text,
        },
    )
}

/// The sign-in page.
#[derive(Debug, Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    nav: Option<Nav>,
    notice: Option<Notice>,
    oidc: bool,
    form_secret: Option<&'a str>,
    return_to: &'a str,
    return_to_encoded: String,
}

/// The sign-in page, with a notice; the dev sign-in form (when offered) carries a fresh
/// secret that its cookie repeats (`form_secret`: reuse the browser's, else a new one).
pub fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    notice: Option<Notice>,
    return_to: &str,
    form_secret: Option<&str>,
) -> Response {
    let settings = &state.web.settings;
    let secret = settings
        .dev_sign_in
        .then(|| form_secret.map_or_else(aws_jit_app::random_secret, str::to_owned));
    let mut response = html(
        status,
        &SignInPage {
            nav: None,
            notice,
            oidc: state.web.oidc.is_some(),
            form_secret: secret.as_deref(),
            return_to,
            return_to_encoded: aws_jit_http::encode(return_to),
        },
    );
    if let Some(secret) = &secret
        && let Ok(value) = HeaderValue::from_str(&set_cookie(FORM_COOKIE, secret, 600))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A duration offered in a select.
#[derive(Debug, Clone)]
pub struct Choice {
    /// What the form sends (`1h30m`).
    pub value: String,
    /// What people read (`1h30m`).
    pub label: String,
    /// Preselected.
    pub selected: bool,
}

/// The choices for these durations, the last (the longest) preselected unless `selected`
/// names another.
pub fn choices(durations: &[aws_jit_core::AccessDuration], selected: Option<&str>) -> Vec<Choice> {
    let last = durations.len().saturating_sub(1);
    durations
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let value = d.human();
            Choice {
                selected: selected.map_or(i == last, |s| s == value),
                label: value.clone(),
                value,
            }
        })
        .collect()
}

/// How long until `at`, or how long ago, for people (`in 42m`, `3m ago`).
pub fn relative(now: jiff::Timestamp, at: jiff::Timestamp) -> String {
    let seconds = at.as_second() - now.as_second();
    let span = |s: i64| {
        aws_jit_core::AccessDuration::from_seconds(s.unsigned_abs().max(1)).map_or_else(
            String::new,
            |d| {
                let human = d.human();
                // Minutes are enough once it is an hour or more.
                if d.as_seconds() >= 3600 {
                    aws_jit_core::AccessDuration::from_seconds(d.as_seconds() / 60 * 60)
                        .map_or(human, |d| d.human())
                } else {
                    human
                }
            },
        )
    };
    if seconds >= 0 {
        format!("in {}", span(seconds))
    } else {
        format!("{} ago", span(seconds))
    }
}
