//! The App Home tab (`POST /slack/events`, `app_home_opened`): my live grants with Extend
//! and Revoke, and the requests I may decide with Approve and Deny, published with
//! `views.publish`. What is listed is what the same person sees on the web: their own
//! grants, and the requests the decision point lets them decide.

use aws_jit_app::ports::{GrantFilter, ViewPlace};
use aws_jit_core::GrantStatus;
use aws_jit_core::slack_interaction::{SlackEvent, SlackUser, parse_event};
use aws_jit_core::slack_views::{HomeGrant, HomeRequest, extendable, home};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{Lookup, audit_listing_refusal, identified, start_work, verified};
use crate::{AppState, SlackApp};

/// `POST /slack/events`: the Request URL check, and the Home being opened.
pub async fn slack_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let slack = match verified(&state, &headers, &body, "/slack/events").await {
        Ok(slack) => slack,
        Err(refused) => return refused,
    };
    match parse_event(&body) {
        Some(SlackEvent::UrlVerification(challenge)) => {
            axum::Json(serde_json::json!({ "challenge": challenge })).into_response()
        }
        Some(SlackEvent::HomeOpened(user)) => {
            // Slack retries an event left unanswered for three seconds: answer first. A
            // person already being served gets the Home when that work publishes it.
            if let Ok(work) = start_work(&slack, &user.user_id) {
                tokio::spawn(async move {
                    let _work = work;
                    publish(&state, &slack, &user, None).await;
                });
            }
            StatusCode::OK.into_response()
        }
        None => StatusCode::OK.into_response(),
    }
}

/// How many of my grants the Home looks at.
const LOOKED_AT: usize = 50;

/// Publishes `user`'s Home, with `notice` on top (the outcome of their last click).
pub(crate) async fn publish(
    state: &AppState,
    slack: &SlackApp,
    user: &SlackUser,
    notice: Option<&str>,
) {
    let view = match home_view(state, slack, user, notice).await {
        Ok(view) => view,
        Err(why) => {
            audit_listing_refusal(state, user, "home", &why).await;
            home(
                &slack.command,
                &[],
                &[],
                Some(&format!("Not available: {why}")),
                state.jit.now(),
            )
        }
    };
    let place = ViewPlace::Home {
        user_id: &user.user_id,
    };
    if let Err(e) = slack.messenger.show_view(place, &view.to_string()).await {
        tracing::error!(error = %e, "could not publish the Slack Home");
    }
}

async fn home_view(
    state: &AppState,
    slack: &SlackApp,
    user: &SlackUser,
    notice: Option<&str>,
) -> Result<serde_json::Value, String> {
    let (actor, person) = identified(state, slack, user, Lookup::Fresh).await?;
    let filter = GrantFilter {
        user: Some(person.email.clone()),
        statuses: vec![GrantStatus::Active, GrantStatus::Pending],
        limit: LOOKED_AT,
        ..GrantFilter::default()
    };
    let grants = state
        .jit
        .store()
        .grants(&filter)
        .await
        .map_err(|e| e.to_string())?;
    let mut mine: Vec<HomeGrant<'_>> = Vec::with_capacity(grants.len());
    for grant in &grants {
        let offered = extendable(
            grant,
            state.jit.access(&grant.access).ok(),
            state.jit.settings().global_max,
            false,
        );
        // Only then ask the log whether it began by break-glass (never extended).
        let break_glass = offered
            && state
                .jit
                .began_by_break_glass(grant)
                .await
                .map_err(|e| e.to_string())?;
        mine.push(HomeGrant {
            grant,
            extendable: offered && !break_glass,
        });
    }
    // Requests to decide: only for those the decision point lets decide some.
    let decidable = state.jit.decidable(&actor).await.unwrap_or_default();
    let requests: Vec<HomeRequest<'_>> = decidable
        .iter()
        .map(|d| HomeRequest {
            grant: &d.grant,
            approvals: d.approved_by.len(),
            required: d.required,
        })
        .collect();
    Ok(home(
        &slack.command,
        &mine,
        &requests,
        notice,
        state.jit.now(),
    ))
}
