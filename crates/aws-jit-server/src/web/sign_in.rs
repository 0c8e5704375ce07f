//! Signing in and out: single sign-on through the identity provider (OpenID Connect, code
//! flow with PKCE), the explicit dev sign-in with an API token, and sign-out. Every refusal
//! is a clear page and a `web.sign_in_refused` audit event (anonymous ones within the
//! refusal budget, as the API's 401s).

use aws_jit_core::auth::{Role, equal_in_constant_time};
use aws_jit_core::web_session::{email_allowed, local_path};
use aws_jit_core::{Person, UserEmail};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::oidc::OidcError;
use super::render::{Notice, error_page, sign_in_page};
use super::session::{
    FORM_COOKIE, Posted, SESSION_COOKIE, SIGN_IN_COOKIE, form_of, request_cookie, set_cookie,
};
use crate::AppState;

/// `?return_to=…&why=…` of the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
    why: Option<String>,
}

fn return_to(asked: Option<&str>) -> String {
    local_path(asked.unwrap_or("/"))
}

/// `GET /login`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Response {
    let back = return_to(query.return_to.as_deref());
    if let Some(secret) = request_cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) = state.jit.session(secret).await
    {
        return Redirect::to(&back).into_response();
    }
    let notice = match query.why.as_deref() {
        Some("signed_out") => Some(Notice::ok("You are signed out.")),
        _ => None,
    };
    let form_secret = request_cookie(&headers, FORM_COOKIE);
    sign_in_page(&state, StatusCode::OK, notice, &back, form_secret)
}

/// A refused sign-in: audited (within the budget when nobody is known), and the sign-in
/// page with the reason.
async fn refuse(
    state: &AppState,
    status: StatusCode,
    claimed: Option<&str>,
    why: &str,
) -> Response {
    tracing::warn!(reason = %why, "web: sign-in refused");
    if (claimed.is_some() || state.refusals.take())
        && let Err(e) = state.jit.record_sign_in_refusal(claimed, why).await
    {
        tracing::error!(error = %e, "could not audit a refused sign-in");
    }
    let mut page = sign_in_page(
        state,
        status,
        Some(Notice::error(format!("Sign-in refused: {why}"))),
        "/",
        None,
    );
    if let Ok(value) = HeaderValue::from_str(&set_cookie(SIGN_IN_COOKIE, "", 0)) {
        page.headers_mut().append(header::SET_COOKIE, value);
    }
    page
}

/// `GET /login/oidc`: off to the identity provider.
pub async fn depart(State(state): State<AppState>, Query(query): Query<SignInQuery>) -> Response {
    let Some(oidc) = &state.web.oidc else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Single sign-on is not configured",
            "Set AWS_JIT_OIDC_ISSUER and AWS_JIT_OIDC_CLIENT_ID, then restart aws-jit serve.",
        );
    };
    let departure = match oidc.depart().await {
        Ok(departure) => departure,
        Err(e) => {
            tracing::error!(error = %e, "web: the identity provider is not reachable");
            return error_page(
                StatusCode::BAD_GATEWAY,
                "The identity provider is not answering",
                &format!("{e}. Try again in a moment."),
            );
        }
    };
    let browser_secret = aws_jit_app::random_secret();
    let started = state
        .jit
        .begin_sign_in(aws_jit_app::NewSignIn {
            state: departure.state,
            nonce: departure.nonce,
            pkce_verifier: departure.pkce_verifier,
            browser_secret: browser_secret.clone(),
            return_to: return_to(query.return_to.as_deref()),
        })
        .await;
    if let Err(e) = started {
        return refuse(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            &e.to_string(),
        )
        .await;
    }
    let mut response = Redirect::to(&departure.url).into_response();
    if let Ok(value) = HeaderValue::from_str(&set_cookie(SIGN_IN_COOKIE, &browser_secret, 600)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// What the identity provider sends back.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn bounded(text: &str) -> String {
    aws_jit_core::text::printable(text)
        .chars()
        .take(200)
        .collect()
}

/// `GET /auth/callback`: the identity provider's answer.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(answer)) = query else {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            None,
            "the answer from the identity provider does not read",
        )
        .await;
    };
    let Some(oidc) = &state.web.oidc else {
        return refuse(
            &state,
            StatusCode::NOT_FOUND,
            None,
            "single sign-on is not configured",
        )
        .await;
    };
    if let Some(error) = &answer.error {
        let why = format!(
            "the identity provider said `{}`{}",
            bounded(error),
            answer
                .error_description
                .as_deref()
                .map(|d| format!(": {}", bounded(d)))
                .unwrap_or_default()
        );
        return refuse(&state, StatusCode::BAD_REQUEST, None, &why).await;
    }
    let (Some(code), Some(sign_in_state)) = (&answer.code, &answer.state) else {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            None,
            "the answer has no `code` or no `state`",
        )
        .await;
    };
    if code.len() > 2048 || sign_in_state.len() > 256 {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            None,
            "the answer is too long to be genuine",
        )
        .await;
    }
    let browser = request_cookie(&headers, SIGN_IN_COOKIE);
    let pending = match state.jit.finish_sign_in(sign_in_state, browser).await {
        Ok(pending) => pending,
        Err(e) => return refuse(&state, StatusCode::BAD_REQUEST, None, &e.to_string()).await,
    };
    let identity = match oidc
        .arrive(code, &pending.nonce, &pending.pkce_verifier)
        .await
    {
        Ok(identity) => identity,
        Err(e @ OidcError::Provider(_)) => {
            return refuse(&state, StatusCode::BAD_GATEWAY, None, &e.to_string()).await;
        }
        Err(e) => return refuse(&state, StatusCode::BAD_REQUEST, None, &e.to_string()).await,
    };
    if let Err(e) = email_allowed(&identity.email, &oidc.settings().allowed_domains) {
        return refuse(&state, StatusCode::FORBIDDEN, Some(&identity.email), &e.0).await;
    }
    let Ok(email) = UserEmail::parse(&identity.email) else {
        let why = "the identity provider's email is not an address aws-jit accepts";
        return refuse(&state, StatusCode::FORBIDDEN, Some(&identity.email), why).await;
    };
    tracing::debug!(subject = %identity.subject, "web: identity provider vouched");
    let person = match state.jit.resolve_person(&email, false).await {
        Ok(person) => person,
        Err(e) => return unavailable(&e.to_string()),
    };
    let role = if state
        .web
        .settings
        .approvers
        .iter()
        .any(|a| person.is_named(a))
    {
        Role::Approver
    } else {
        Role::Requester
    };
    open(&state, person, role, "oidc", &pending.return_to).await
}

fn unavailable(why: &str) -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Signing in failed",
        &format!("{}. Try again in a moment.", bounded(why)),
    )
}

/// Opens the session and sends the browser on, with its cookie.
async fn open(state: &AppState, person: Person, role: Role, via: &str, back: &str) -> Response {
    let lifetime = state.web.settings.session_lifetime;
    let opened = match state.jit.open_session(person, role, via, lifetime).await {
        Ok(opened) => opened,
        Err(e) => return unavailable(&e.to_string()),
    };
    let mut response = Redirect::to(back).into_response();
    let cookies = [
        set_cookie(SESSION_COOKIE, &opened.secret, lifetime.as_secs()),
        set_cookie(SIGN_IN_COOKIE, "", 0),
    ];
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The dev sign-in form.
#[derive(Debug, Deserialize)]
struct TokenForm {
    csrf: String,
    token: String,
    #[serde(default)]
    return_to: String,
}

/// `POST /login/token`: the dev sign-in with an API token that acts for a person.
pub async fn with_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.web.settings.dev_sign_in {
        return error_page(
            StatusCode::NOT_FOUND,
            "The dev sign-in is off",
            "Sign in with single sign-on, or set AWS_JIT_WEB_DEV_SIGN_IN=1 for local use.",
        );
    }
    let form: TokenForm = match form_of(&body) {
        Ok(form) => form,
        Err(page) => return page,
    };
    let cookie = request_cookie(&headers, FORM_COOKIE);
    if !cookie.is_some_and(|c| equal_in_constant_time(c, &form.csrf)) {
        return refuse(&state, StatusCode::FORBIDDEN, None, "the sign-in form did not come from this site's sign-in page (no valid CSRF token): reload it and try again").await;
    }
    let actor = match state.jit.authenticate(form.token.trim()).await {
        Ok(actor) => actor,
        Err(aws_jit_app::AuthFailure::Refused(why)) => {
            return refuse(
                &state,
                StatusCode::UNAUTHORIZED,
                None,
                &format!("the token is not accepted: {why}"),
            )
            .await;
        }
        Err(e) => return unavailable(&e.to_string()),
    };
    let Some(email) = actor.own_person().map(|p| p.email.clone()) else {
        return refuse(
            &state,
            StatusCode::FORBIDDEN,
            None,
            "that token acts for no person: make one with `aws-jit token create --user EMAIL`",
        )
        .await;
    };
    let Ok(email) = UserEmail::parse(&email) else {
        return refuse(
            &state,
            StatusCode::FORBIDDEN,
            Some(&email),
            "the token's user is not an email address",
        )
        .await;
    };
    let person = match state.jit.resolve_person(&email, false).await {
        Ok(person) => person,
        Err(e) => return unavailable(&e.to_string()),
    };
    let token_name = match &actor.channel {
        aws_jit_core::Channel::Api { token } => token.clone(),
        _ => String::new(),
    };
    let token_id = aws_jit_core::auth::parse_token(form.token.trim())
        .map(|(id, _)| id.to_owned())
        .unwrap_or_default();
    let back = return_to(Some(&form.return_to));
    let via = format!("token:{token_id}:{token_name}");
    open(&state, person, actor.rights.role, &via, &back).await
}

/// The sign-out form (its CSRF token only).
#[derive(Debug, Deserialize)]
pub struct SignOutForm {}

/// `POST /logout`.
pub async fn sign_out(State(state): State<AppState>, posted: Posted<SignOutForm>) -> Response {
    if let Err(e) = state.jit.close_session(&posted.visitor.session).await {
        tracing::error!(error = %e, "web: could not end a session");
        return unavailable("the store is not reachable");
    }
    let mut response = Redirect::to("/login?why=signed_out").into_response();
    if let Ok(value) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", 0)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
