//! The web UI inside `aws-jit serve`: server-rendered pages (askama templates, escaped by
//! default), plain forms and post-redirect-get, usable without JavaScript (one small
//! script of ours filters the access list as you type).
//!
//! | path | what |
//! |---|---|
//! | `/login`, `/login/oidc`, `/auth/callback`, `/login/token`, `/logout` | signing in and out ([`sign_in`]) |
//! | `/request`, `/request/new` | the accesses one may request, and the request form ([`request`]) |
//! | `/grants` | my grants: time left, extend, revoke, how to use them ([`grants`]) |
//! | `/approvals` | the requests one may decide ([`review`]) |
//! | `/active` | every live grant, for approvers and admins ([`review`]) |
//! | `/audit` | the audit log: filters, paging, export, chain verification ([`audit_page`]) |
//!
//! Every page is answered with a strict Content-Security-Policy (no inline script or
//! style, forms only to this site, no framing) and `Cache-Control: no-store`. Every form
//! carries the session's CSRF token ([`session::Posted`]); handlers hold no authorization
//! rule: they call the use cases with the session's actor, as the API does.

pub mod audit_page;
pub mod grants;
pub mod oidc;
#[cfg(test)]
mod page_tests;
pub mod render;
pub mod request;
pub mod review;
pub mod session;
pub mod sign_in;

use aws_jit_core::slack::Instructions;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;

/// The web UI's settings.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Where browsers reach this server (`https://jit.example.com`), without a trailing
    /// slash: the identity provider sends people back to `{public_url}/auth/callback`.
    pub public_url: String,
    /// Single sign-on, when configured.
    pub oidc: Option<oidc::OidcSettings>,
    /// Whether the dev sign-in with an API token is offered (local use and the demo).
    pub dev_sign_in: bool,
    /// How long a session lasts, whatever happens.
    pub session_lifetime: jiff::SignedDuration,
    /// Who oversees everyone's grants (`AWS_JIT_APPROVERS`, lowercase): signed in through
    /// single sign-on, they are approvers.
    pub approvers: Vec<String>,
    /// What the grants page points at (the access portal, its region).
    pub instructions: Instructions,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            public_url: "http://127.0.0.1:8080".to_owned(),
            oidc: None,
            dev_sign_in: false,
            session_lifetime: jiff::SignedDuration::from_hours(8),
            approvers: Vec::new(),
            instructions: Instructions::default(),
        }
    }
}

/// The web UI's side of the server state.
#[derive(Debug)]
pub struct Web {
    /// The settings.
    pub settings: WebSettings,
    /// The identity provider, when single sign-on is configured.
    pub oidc: Option<oidc::Oidc>,
}

impl Web {
    /// The web UI for `settings`; an error when the OIDC settings cannot work.
    pub fn new(settings: WebSettings) -> Result<Web, String> {
        let oidc = match &settings.oidc {
            Some(oidc) => Some(oidc::Oidc::new(
                oidc.clone(),
                &format!("{}/auth/callback", settings.public_url),
            )?),
            None => None,
        };
        Ok(Web { settings, oidc })
    }
}

/// The largest form body a page accepts.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The web UI's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(sign_in::page))
        .route("/login/oidc", get(sign_in::depart))
        .route("/auth/callback", get(sign_in::callback))
        .route("/login/token", post(sign_in::with_token))
        .route("/logout", post(sign_in::sign_out))
        .route("/request", get(request::list).post(request::submit))
        .route("/request/new", get(request::form))
        .route("/grants", get(grants::mine))
        .route("/grants/{id}/revoke", post(grants::revoke))
        .route("/grants/{id}/extend", post(grants::extend))
        .route("/approvals", get(review::approvals))
        .route("/approvals/{id}/decide", post(review::decide))
        .route("/active", get(review::active))
        .route("/audit", get(audit_page::page))
        .route("/static/app.css", get(stylesheet))
        .route("/static/filter.js", get(filter_script))
        .layer(axum::middleware::from_fn(security_headers))
}

async fn home() -> Redirect {
    Redirect::to("/request")
}

/// The Content-Security-Policy of every page: nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
        .into_response()
}

async fn filter_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/filter.js"),
    )
        .into_response()
}
