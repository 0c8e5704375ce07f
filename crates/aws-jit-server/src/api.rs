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
//! | GET | `/api/v1/approvals` | any person's token: the requests they may decide |
//! | GET | `/api/v1/audit` | one's own events; everyone's for approvers and admins |
//! | GET | `/api/v1/openapi.json` | anyone: the OpenAPI 3.1 document ([`crate::openapi`]) |

use aws_jit_app::ports::{AuditQuery, GrantFilter};
use aws_jit_app::{AppError, AuthFailure, ErrorKind, GrantRequest};
use aws_jit_core::api_request::{
    AuditParams, DecisionBody, ExtendBody, GrantBody, GrantsQuery, grant_cursor,
    parse_grant_cursor, parse_statuses,
};
use aws_jit_core::auth::Role;
use aws_jit_core::authorize;
use aws_jit_core::views::{AccessView, AuditView, GrantView, PendingView, grant_view_with};
use aws_jit_core::{AccessDuration, GrantId, GrantStatus, UserEmail};
use aws_jit_core::{Actor, Channel};
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
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
        .route("/approvals", get(list_approvals))
        .route("/audit", get(audit))
        .route("/openapi.json", get(openapi))
}

/// `GET /api/v1/openapi.json`: the OpenAPI 3.1 document (no token needed).
async fn openapi(State(state): State<AppState>) -> Response {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        let keys: Vec<String> = state
            .jit
            .catalog()
            .map(|c| c.accesses().iter().map(|a| a.key.clone()).collect())
            .unwrap_or_default();
        crate::openapi::document(&keys)
    });
    Json(document.clone()).into_response()
}

/// An API error: a status and a JSON body `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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

impl ApiError {
    /// The status an error of the use cases answers with (the API's and the pages').
    pub fn from_app_status(e: &AppError) -> StatusCode {
        status_and_code(e).0
    }
}

fn status_and_code(e: &AppError) -> (StatusCode, &'static str) {
    match (e.kind(), e) {
        (_, AppError::UnknownAccess(_)) => (StatusCode::NOT_FOUND, "not_found"),
        (_, AppError::Invalid(_)) => (StatusCode::BAD_REQUEST, "bad_request"),
        (ErrorKind::Invalid, _) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        (ErrorKind::NotFound, _) => (StatusCode::NOT_FOUND, "not_found"),
        (ErrorKind::Forbidden, _) => (StatusCode::FORBIDDEN, "forbidden"),
        (ErrorKind::Conflict | ErrorKind::Busy, _) => (StatusCode::CONFLICT, "conflict"),
        (ErrorKind::Upstream, _) => (StatusCode::BAD_GATEWAY, "aws_error"),
        (ErrorKind::Unavailable, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let (status, code) = status_and_code(&e);
        if status.is_server_error() {
            tracing::error!(error = %e, "API request failed");
        }
        ApiError::new(status, code, e.to_string())
    }
}

/// The authenticated caller of a request: the token's actor.
#[derive(Debug, Clone)]
pub struct Authed(pub Actor);

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
            && let Err(e) = state
                .jit
                .record_refusal(&Actor::anonymous(anonymous_api()), "", detail)
                .await
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

/// The channel of a request that presented no valid token.
fn anonymous_api() -> Channel {
    Channel::Api {
        token: String::new(),
    }
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

async fn me(Authed(actor): Authed) -> Response {
    let token = match &actor.channel {
        Channel::Api { token } => token.clone(),
        _ => String::new(),
    };
    Json(json!({
        "token": token,
        "role": actor.rights.role.as_str(),
        "user": actor.own_person().map(|p| p.email.clone()),
        "on_behalf": actor.rights.on_behalf,
    }))
    .into_response()
}

/// What the caller may request: a person sees only what the policies let them request;
/// tokens that request for others (on-behalf, admin) see every access.
async fn list_accesses(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Response, ApiError> {
    let catalog = state.jit.catalog().ok_or(AppError::NoCatalog)?;
    let for_others = actor.rights.on_behalf || actor.rights.role == Role::Admin;
    let items: Vec<AccessView> = match actor.own_person() {
        Some(_) if !for_others => {
            let actor = state.jit.identify(&actor).await?;
            let person = actor.own_person().ok_or(AppError::NoCatalog)?;
            state
                .jit
                .requestable(person, actor.channel.as_str())
                .await?
                .into_iter()
                .map(AccessView::from)
                .collect()
        }
        _ => catalog.accesses().iter().map(AccessView::from).collect(),
    };
    Ok(Json(json!({ "items": items })).into_response())
}

async fn create_grant(
    State(state): State<AppState>,
    Authed(actor): Authed,
    json: Result<Json<GrantBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = body(json)?;
    let subject = authorize::subject_email(&actor, request.user.as_deref())
        .map_err(|refusal| ApiError::bad_request(refusal.0))?;
    let user =
        UserEmail::parse(&subject).map_err(|e| ApiError::bad_request(format!("user: {e}")))?;
    let outcome = state
        .jit
        .grant(GrantRequest {
            access: request.access,
            user,
            actor,
            duration: duration(request.duration.as_deref())?,
            reason: request.reason,
            break_glass: request.break_glass,
        })
        .await?;
    state.wake.notify_one();
    let capped = outcome.duration.capped_from.map(|asked| asked.to_string());
    let view = grant_view_with(&outcome.grant, "capped_from", capped);
    // 202: recorded, waiting for approval; 201: granted.
    let status = if outcome.grant.status == GrantStatus::Pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(view)).into_response())
}

async fn list_grants(
    State(state): State<AppState>,
    Authed(actor): Authed,
    params: Result<Query<GrantsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let scope = state.jit.scope(&actor, params.user.as_deref()).await?;
    let statuses = match &params.status {
        None => Vec::new(),
        Some(list) => parse_statuses(list).map_err(ApiError::bad_request)?,
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
            .transpose()
            .map_err(ApiError::bad_request)?,
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

async fn get_grant(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let grant = state.jit.view(&GrantId::new(id), &actor).await?;
    Ok(Json(GrantView::from(&grant)).into_response())
}

async fn revoke_grant(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let outcome = state.jit.revoke(&GrantId::new(id), &actor).await?;
    Ok(Json(grant_view_with(&outcome.grant, "kept", outcome.kept)).into_response())
}

async fn extend_grant(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    json: Result<Json<ExtendBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let extension = body(json)?;
    let by = duration(extension.duration.as_deref())?;
    let extended = state.jit.extend(&GrantId::new(id), by, &actor).await?;
    state.wake.notify_one();
    Ok(Json(GrantView::from(&extended)).into_response())
}

async fn decide(
    state: &AppState,
    actor: &Actor,
    id: &str,
    approve: bool,
    json: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let decision = body(json)?;
    let id = GrantId::new(id);
    let grant = if approve {
        state.jit.approve(&id, actor, decision.reason).await?
    } else {
        state.jit.deny(&id, actor, decision.reason).await?
    };
    state.wake.notify_one();
    Ok(Json(GrantView::from(&grant)).into_response())
}

/// The requests the caller may approve or deny now, oldest first (the same rules and
/// policies as deciding; listing audits nothing).
async fn list_approvals(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Response, ApiError> {
    let queue = state.jit.decidable(&actor).await?;
    let items: Vec<PendingView> = queue.iter().map(aws_jit_app::Decidable::view).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })).into_response())
}

async fn approve_grant(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    json: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    decide(&state, &actor, &id, true, json).await
}

async fn deny_grant(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    json: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    decide(&state, &actor, &id, false, json).await
}

async fn audit(
    State(state): State<AppState>,
    Authed(actor): Authed,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(params)?;
    let scope = state.jit.scope(&actor, params.user.as_deref()).await?;
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
