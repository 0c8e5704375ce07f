//! The HTTP API under `/api/v1`: JSON in and out, bearer tokens, and the authorization
//! rules of [`aws_jit_core::auth`]. Every refusal is a JSON error with status 401 or 403
//! and an `api.refused` audit event; tokens never reach the logs.
//!
//! | method | path | who |
//! |---|---|---|
//! | GET | `/api/v1/me` | any token: its name, role and user |
//! | GET | `/api/v1/accesses` | any token |
//! | POST | `/api/v1/grants` | for oneself; for others with the on-behalf right or admin |
//! | GET | `/api/v1/grants` | one's own; everyone's for approvers and admins |
//! | GET | `/api/v1/grants/{id}` | as above |
//! | POST | `/api/v1/grants/{id}/revoke` | one's own; anyone's for approvers and admins |
//! | POST | `/api/v1/grants/{id}/extend` | as for requesting |
//! | POST | `/api/v1/grants/{id}/approve`, `/deny` | the access's approvers, never for themselves |
//! | GET | `/api/v1/audit` | one's own events; everyone's for approvers and admins |

use aws_jit_app::ports::{AuditQuery, GrantFilter, StoreError};
use aws_jit_app::{AppError, AuthFailure, GrantRequest};
use aws_jit_core::auth::{Caller, Denied};
use aws_jit_core::views::{AccessView, AuditView, GrantView};
use aws_jit_core::{AccessDuration, GrantId, GrantStatus, UserEmail};
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;

/// The most items one page holds.
pub const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

/// The API routes (mounted under `/api/v1` by [`crate::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/accesses", get(list_accesses))
        .route("/grants", post(create_grant).get(list_grants))
        .route("/grants/{id}", get(get_grant))
        .route("/grants/{id}/revoke", post(revoke_grant))
        .route("/grants/{id}/extend", post(extend_grant))
        .route("/grants/{id}/approve", post(approve_grant))
        .route("/grants/{id}/deny", post(deny_grant))
        .route("/audit", get(audit))
}

/// An API error: a status and a JSON body `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = match &e {
            AppError::UnknownUser(_)
            | AppError::UnknownIamUser(_)
            | AppError::UnknownPolicy(_)
            | AppError::UnknownPermissionSet(_)
            | AppError::Policy(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            AppError::GrantNotFound(_) | AppError::NoActiveGrant { .. } => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            AppError::NotAllowed(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::AlreadyEnded { .. }
            | AppError::NotPending { .. }
            | AppError::NotActive { .. }
            | AppError::CannotExtend { .. }
            | AppError::InvalidTransition(_)
            | AppError::Store(
                StoreError::TargetBusy { .. } | StoreError::Stale(_) | StoreError::LockLost(_),
            ) => (StatusCode::CONFLICT, "conflict"),
            AppError::Provider(_)
            | AppError::ProvisioningFailed { .. }
            | AppError::RevokeFailed { .. } => (StatusCode::BAD_GATEWAY, "aws_error"),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        if status.0.is_server_error() {
            tracing::error!(error = %e, "API request failed");
        }
        ApiError::new(status.0, status.1, e.to_string())
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

fn what(parts: &Parts) -> String {
    format!("{} {}", parts.method, parts.uri.path())
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let why = match presented {
            None => "no bearer token".to_owned(),
            Some(token) => match state.jit.authenticate(token).await {
                Ok(caller) => return Ok(Authed(caller)),
                Err(AuthFailure::Refused(why)) => why.0,
                Err(e) => {
                    tracing::error!(error = %e, "authentication: store not reachable");
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the store is not reachable",
                    ));
                }
            },
        };
        let detail = format!("{}: 401 {why}", what(parts));
        tracing::warn!(request = %what(parts), reason = %why, "API request refused");
        if state.refusals.take()
            && let Err(e) = state.jit.record_refusal("anonymous", "", detail).await
        {
            tracing::error!(error = %e, "could not audit a refused request");
        }
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            format!("{why}: send `Authorization: Bearer <token>` (see `aws-jit token create`)"),
        ))
    }
}

/// Records a 403 and returns it.
async fn forbid(
    state: &AppState,
    caller: &Caller,
    request: &str,
    user: &str,
    denied: Denied,
) -> ApiError {
    tracing::warn!(token = %caller.token, request, reason = %denied, "API request forbidden");
    let detail = format!("{request}: 403 {denied}");
    if let Err(e) = state.jit.record_refusal(&caller.name(), user, detail).await {
        tracing::error!(error = %e, "could not audit a refused request");
    }
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", denied.0)
}

fn catalog(state: &AppState) -> Result<&aws_jit_core::Catalog, ApiError> {
    state.catalog.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the access configs did not load when the server started: fix them and restart (`aws-jit validate`)",
        )
    })
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    json.map(|Json(t)| t).map_err(|e| {
        // 413 for a body over the limit (2 MB), 415 without a JSON content type, and 400
        // for every body that does not decode (axum says 422 for the well-formed ones).
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text())
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                e.body_text(),
            ),
            _ => ApiError::bad_request(e.body_text()),
        }
    })
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn duration(text: Option<&str>) -> Result<Option<AccessDuration>, ApiError> {
    text.map(AccessDuration::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("duration: {e}")))
}

fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n}: use 1 to {MAX_PAGE}"
        ))),
    }
}

async fn me(Authed(caller): Authed) -> Response {
    Json(json!({
        "token": caller.token,
        "role": caller.role.as_str(),
        "user": caller.user,
        "on_behalf": caller.on_behalf,
    }))
    .into_response()
}

async fn list_accesses(
    State(state): State<AppState>,
    Authed(_): Authed,
) -> Result<Response, ApiError> {
    let items: Vec<AccessView> = catalog(&state)?
        .accesses()
        .iter()
        .map(AccessView::from)
        .collect();
    Ok(Json(json!({ "items": items })).into_response())
}

/// A grant's view with one more field, when it has a value.
fn grant_with(grant: &aws_jit_core::Grant, key: &str, value: Option<String>) -> serde_json::Value {
    let mut view = serde_json::to_value(GrantView::from(grant)).unwrap_or_default();
    if let (Some(map), Some(value)) = (view.as_object_mut(), value) {
        map.insert(key.to_owned(), json!(value));
    }
    view
}

/// `POST /api/v1/grants`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    access: String,
    user: Option<String>,
    duration: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    break_glass: bool,
}

async fn create_grant(
    State(state): State<AppState>,
    Authed(caller): Authed,
    json: Result<Json<GrantBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = body(json)?;
    let here = "POST /api/v1/grants";
    let subject = match caller.subject(request.user.as_deref()) {
        Ok(user) => user,
        Err(denied) => return Err(ApiError::bad_request(denied.0)),
    };
    let user =
        UserEmail::parse(&subject).map_err(|e| ApiError::bad_request(format!("user: {e}")))?;
    if let Err(denied) = caller.may_act_for(&user.normalized()) {
        return Err(forbid(&state, &caller, here, &user.normalized(), denied).await);
    }
    let access = catalog(&state)?
        .find(&request.access)
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()))?;
    let subject = user.normalized();
    let outcome = state
        .jit
        .grant(GrantRequest {
            access,
            requested_by: caller.actor(&subject),
            user,
            duration: duration(request.duration.as_deref())?,
            reason: request.reason,
            break_glass: request.break_glass,
        })
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(AppError::NotAllowed(why)) => {
            return Err(forbid(&state, &caller, here, &subject, Denied(why)).await);
        }
        Err(e) => return Err(e.into()),
    };
    state.wake.notify_one();
    let capped = outcome.duration.capped_from.map(|asked| asked.to_string());
    let view = grant_with(&outcome.grant, "capped_from", capped);
    // 202: recorded, waiting for approval; 201: granted.
    let status = if outcome.grant.status == GrantStatus::Pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(view)).into_response())
}

/// `GET /api/v1/grants` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsQuery {
    user: Option<String>,
    access: Option<String>,
    status: Option<String>,
    #[serde(default)]
    all: bool,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn grant_cursor(grant: &aws_jit_core::Grant) -> String {
    format!("{}.{}", grant.requested_at.as_millisecond(), grant.id)
}

fn parse_grant_cursor(cursor: &str) -> Result<(jiff::Timestamp, String), ApiError> {
    let bad = || ApiError::bad_request(format!("cursor `{cursor}` is not one this API returned"));
    let (ms, id) = cursor.split_once('.').ok_or_else(bad)?;
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    let at = jiff::Timestamp::from_millisecond(ms).map_err(|_| bad())?;
    Ok((at, id.to_owned()))
}

async fn list_grants(
    State(state): State<AppState>,
    Authed(caller): Authed,
    params: Result<Query<GrantsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let scope = match caller.scope(params.user.as_deref()) {
        Ok(scope) => scope,
        Err(denied) => {
            let user = params.user.as_deref().unwrap_or_default();
            return Err(forbid(&state, &caller, "GET /api/v1/grants", user, denied).await);
        }
    };
    let statuses = match &params.status {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                GrantStatus::parse(s.trim()).ok_or_else(|| {
                    ApiError::bad_request(format!("status `{s}` is not a grant status"))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let limit = page_size(params.limit)?;
    let filter = GrantFilter {
        include_ended: params.all,
        user: scope,
        access: params.access.clone(),
        target_key: None,
        statuses,
        limit,
        after: params
            .cursor
            .as_deref()
            .map(parse_grant_cursor)
            .transpose()?,
    };
    let grants = state
        .jit
        .store()
        .grants(&filter)
        .await
        .map_err(AppError::from)?;
    let next = (grants.len() == limit)
        .then(|| grants.last().map(grant_cursor))
        .flatten();
    let items: Vec<GrantView> = grants.iter().map(GrantView::from).collect();
    Ok(Json(json!({ "items": items, "next_cursor": next })).into_response())
}

/// Loads a grant, or answers 404.
async fn fetch_grant(state: &AppState, id: &str) -> Result<aws_jit_core::Grant, ApiError> {
    state
        .jit
        .store()
        .grant(&GrantId::new(id))
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no grant has id `{id}`"),
            )
        })
}

/// Loads a grant the caller may see.
async fn visible_grant(
    state: &AppState,
    caller: &Caller,
    id: &str,
    request: &str,
) -> Result<aws_jit_core::Grant, ApiError> {
    let grant = fetch_grant(state, id).await?;
    if let Err(denied) = caller.may_see(&grant.user) {
        return Err(forbid(state, caller, request, &grant.user, denied).await);
    }
    Ok(grant)
}

async fn get_grant(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let request = format!("GET /api/v1/grants/{id}");
    let grant = visible_grant(&state, &caller, &id, &request).await?;
    Ok(Json(GrantView::from(&grant)).into_response())
}

async fn revoke_grant(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let request = format!("POST /api/v1/grants/{id}/revoke");
    let grant = visible_grant(&state, &caller, &id, &request).await?;
    if let Err(denied) = caller.may_revoke(&grant.user) {
        return Err(forbid(&state, &caller, &request, &grant.user, denied).await);
    }
    let outcome = state
        .jit
        .revoke(&grant.id, &caller.actor(&grant.user))
        .await?;
    Ok(Json(grant_with(&outcome.grant, "kept", outcome.kept)).into_response())
}

/// `POST /api/v1/grants/{id}/extend`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    duration: Option<String>,
}

async fn extend_grant(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    json: Result<Json<ExtendBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = format!("POST /api/v1/grants/{id}/extend");
    let extension = body(json)?;
    let grant = visible_grant(&state, &caller, &id, &request).await?;
    if let Err(denied) = caller.may_act_for(&grant.user) {
        return Err(forbid(&state, &caller, &request, &grant.user, denied).await);
    }
    let access = catalog(&state)?.find(&grant.access).map_err(|e| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("the grant's access is no longer configured: {e}"),
        )
    })?;
    let by = duration(extension.duration.as_deref())?;
    let extended = state
        .jit
        .extend(&grant.id, access, by, &caller.actor(&grant.user))
        .await?;
    state.wake.notify_one();
    Ok(Json(GrantView::from(&extended)).into_response())
}

/// `POST /api/v1/grants/{id}/approve` and `/deny`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    reason: Option<String>,
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    id: &str,
    approve: bool,
    json: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let verb = if approve { "approve" } else { "deny" };
    let request = format!("POST /api/v1/grants/{id}/{verb}");
    let decision = body(json)?;
    let grant = fetch_grant(state, id).await?;
    let Some(person) = caller
        .user
        .as_deref()
        .and_then(|u| UserEmail::parse(u).ok())
    else {
        let denied = Denied(format!(
            "token `{}` acts for no person, and only people approve",
            caller.token
        ));
        return Err(forbid(state, caller, &request, &grant.user, denied).await);
    };
    let access = catalog(state)?.find(&grant.access).map_err(|e| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("the request's access is no longer configured: {e}"),
        )
    })?;
    let outcome = if approve {
        state
            .jit
            .approve(&grant.id, access, &person, decision.reason)
            .await
    } else {
        state
            .jit
            .deny(&grant.id, access, &person, decision.reason)
            .await
    };
    match outcome {
        Ok(grant) => {
            state.wake.notify_one();
            Ok(Json(GrantView::from(&grant)).into_response())
        }
        Err(AppError::NotAllowed(why)) => {
            Err(forbid(state, caller, &request, &grant.user, Denied(why)).await)
        }
        Err(e) => Err(e.into()),
    }
}

async fn approve_grant(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    json: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &id, true, json).await
}

async fn deny_grant(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    json: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &id, false, json).await
}

/// `GET /api/v1/audit` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    grant: Option<String>,
    user: Option<String>,
    after: Option<i64>,
    limit: Option<usize>,
}

async fn audit(
    State(state): State<AppState>,
    Authed(caller): Authed,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let scope = match caller.scope(params.user.as_deref()) {
        Ok(scope) => scope,
        Err(denied) => {
            let user = params.user.as_deref().unwrap_or_default();
            return Err(forbid(&state, &caller, "GET /api/v1/audit", user, denied).await);
        }
    };
    let limit = page_size(params.limit)?;
    let events = state
        .jit
        .store()
        .audit(&AuditQuery {
            grant_id: params.grant,
            user: scope,
            after_seq: params.after,
            limit,
        })
        .await
        .map_err(AppError::from)?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    let items: Vec<AuditView> = events.iter().map(AuditView::from).collect();
    Ok(Json(json!({ "items": items, "next_cursor": next })).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The request decoders stand in for a fuzz target: any text decodes or is refused.
        #[test]
        fn the_request_decoders_never_panic(text in "\\PC{0,200}") {
            let _ = serde_json::from_str::<GrantBody>(&text);
            let _ = serde_json::from_str::<ExtendBody>(&text);
            let _ = serde_json::from_str::<DecisionBody>(&text);
            let _ = parse_grant_cursor(&text);
        }

        #[test]
        fn grant_cursors_round_trip(ms in 0i64..4_000_000_000_000, id in "[0-9a-f-]{1,40}") {
            let at = jiff::Timestamp::from_millisecond(ms).unwrap();
            let cursor = format!("{}.{id}", at.as_millisecond());
            let (back, back_id) = parse_grant_cursor(&cursor).unwrap();
            prop_assert_eq!(back, at);
            prop_assert_eq!(back_id, id);
        }
    }
}
