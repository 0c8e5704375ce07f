//! Who is at the browser: the session cookie (`HttpOnly; Secure; SameSite=Lax`, its secret
//! known only to the browser, its hash to the store), the [`Visitor`] it opens, and
//! [`Posted`], the only way a page takes a form: signed in, with the session's CSRF token.

use aws_jit_app::session_actor;
use aws_jit_core::Actor;
use aws_jit_core::auth::equal_in_constant_time;
use aws_jit_core::web_session::{WebSession, cookie};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use super::MAX_FORM_BYTES;
use super::render::{Notice, error_page, sign_in_page};
use crate::AppState;

/// The session cookie's name. `__Host-`: the browser takes it only from this host, over a
/// secure connection, for the whole site, so a sibling domain cannot plant one.
pub const SESSION_COOKIE: &str = "__Host-aws_jit_session";
/// The cookie that binds a single sign-on in progress to the browser that started it.
pub const SIGN_IN_COOKIE: &str = "__Host-aws_jit_sign_in";
/// The dev sign-in form's double-submit token.
pub const FORM_COOKIE: &str = "__Host-aws_jit_form";

/// A `Set-Cookie` value: `HttpOnly; Secure; SameSite=Lax; Path=/`, for `max_age` seconds
/// (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax")
}

/// A cookie of the request, if it has a plain value (hex secrets only).
pub fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie(h, name))
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A signed-in person at the browser.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Their session.
    pub session: WebSession,
    /// The actor the session stands for.
    pub actor: Actor,
}

impl Visitor {
    /// Whether they oversee everyone's grants.
    pub fn oversees(&self) -> bool {
        aws_jit_core::authorize::may_oversee(&self.actor).is_ok()
    }
}

/// Where a signed-out browser is sent: the sign-in page, then back here.
fn to_sign_in(parts: &Parts) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let back = if parts.method == axum::http::Method::GET {
        aws_jit_core::web_session::local_path(&here)
    } else {
        "/".to_owned()
    };
    Redirect::to(&format!("/login?return_to={}", aws_jit_http::encode(&back))).into_response()
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(secret) = request_cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in(parts));
        };
        match state.jit.session(secret).await {
            Ok(Some(session)) => {
                let actor = session_actor(&session);
                Ok(Visitor { session, actor })
            }
            Ok(None) => {
                // No session has this secret: it ended, or the cookie was altered.
                let why = "a session cookie that opens no session (ended, or altered)";
                tracing::warn!(path = %parts.uri.path(), "web: {why}");
                if state.refusals.take()
                    && let Err(e) = state.jit.record_sign_in_refusal(None, why).await
                {
                    tracing::error!(error = %e, "could not audit a refused session");
                }
                let mut page = sign_in_page(
                    state,
                    StatusCode::UNAUTHORIZED,
                    Some(Notice::error(
                        "Your session has ended or its cookie is not valid. Sign in again.",
                    )),
                    "/",
                    None,
                );
                if let Ok(value) = set_cookie(SESSION_COOKIE, "", 0).parse() {
                    page.headers_mut().append(header::SET_COOKIE, value);
                }
                Err(page)
            }
            Err(e) => {
                tracing::error!(error = %e, "web: store not reachable");
                Err(error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The store is not reachable",
                    "aws-jit cannot read its store right now. Try again in a moment.",
                ))
            }
        }
    }
}

/// A form posted by a signed-in visitor, with the session's CSRF token (field `csrf`):
/// anything else is refused (403, audited) before the handler runs.
#[derive(Debug)]
pub struct Posted<T> {
    /// Who posted.
    pub visitor: Visitor,
    /// The form, without its token.
    pub form: T,
}

/// The `csrf` field of a form body.
pub fn csrf_field(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == "csrf").then_some(v))
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let what = format!("{} {}", request.method(), request.uri().path());
        let bytes = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                error_page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "That form is too large",
                    "Shorten what you typed and send it again.",
                )
            })?;
        let token_ok = csrf_field(&bytes)
            .is_some_and(|token| equal_in_constant_time(&token, &visitor.session.csrf));
        if !token_ok {
            let detail = format!("{what}: 403 the form has no valid CSRF token");
            tracing::warn!(request = %what, "web: form without a valid CSRF token");
            if let Err(e) = state
                .jit
                .record_refusal(&visitor.actor, &visitor.session.person.email, detail)
                .await
            {
                tracing::error!(error = %e, "could not audit a refused form");
            }
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "This form was refused",
                "It did not come from an aws-jit page of this session (no valid CSRF token). Go back, reload the page and send it again.",
            ));
        }
        let form = form_of(&bytes)?;
        Ok(Posted { visitor, form })
    }
}

/// A form body as `T`, or the page that says what is wrong with it.
#[expect(
    clippy::result_large_err,
    reason = "the page is what the handler answers with"
)]
pub fn form_of<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Response> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        error_page(
            StatusCode::BAD_REQUEST,
            "That form does not read",
            &format!(
                "{}. Go back and fill it in again.",
                aws_jit_core::text::printable(&e.to_string())
            ),
        )
    })
}
