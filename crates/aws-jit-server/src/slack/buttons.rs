//! Buttons: Approve and Deny (in approval requests and the App Home), Extend (in the
//! pre-expiry DM and the Home), Revoke (the Home) and Request access (the Home). The click
//! is acknowledged at once and carried out after, through the same use cases as every
//! other path; the outcome replaces the message (a refusal is shown to the clicker alone)
//! or, for a Home button, the Home is published again with the outcome on top.

use aws_jit_app::AppError;
use aws_jit_app::ports::ViewPlace;
use aws_jit_core::slack::{decision_refused, decision_update};
use aws_jit_core::slack_interaction::{ButtonAction, Click};
use aws_jit_core::slack_views::request_modal;
use aws_jit_core::views::rfc3339;
use aws_jit_core::{GrantId, GrantStatus};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Lookup, audit_refusal, home, slack_person, start_work};
use crate::{AppState, SlackApp};

/// Acknowledges a click and carries it out after.
pub(crate) fn clicked(state: AppState, slack: SlackApp, click: Click) -> Response {
    if click.action == ButtonAction::OpenRequest {
        // Harmless and urgent (the trigger lasts three seconds): not queued behind the
        // person's other work, only within the work at once.
        if let Ok(slot) = slack.decisions.clone().try_acquire_owned() {
            tokio::spawn(async move {
                let _slot = slot;
                carry_out(state, slack, click).await;
            });
        }
        return StatusCode::OK.into_response();
    }
    let work = match start_work(&slack, &click.user.user_id) {
        Ok(work) => work,
        Err(why) => {
            // Slack ignores a button's HTTP answer: say it where the button is.
            tracing::info!(slack_user = %click.user.user_id, why, "Slack click not taken");
            if let Some(url) = click.response_url.clone() {
                let messenger = slack.messenger.clone();
                tokio::spawn(async move {
                    let answer = decision_refused(why).to_string();
                    if let Err(e) = messenger.respond(&url, &answer).await {
                        tracing::error!(error = %e, "could not answer Slack");
                    }
                });
            }
            return StatusCode::OK.into_response();
        }
    };
    tokio::spawn(async move {
        // Dropped however the work ends (a panic included): the person may click again.
        let _work = work;
        carry_out(state, slack, click).await;
    });
    StatusCode::OK.into_response()
}

/// What a click came to.
enum Outcome {
    /// Done: the message's replacement, or the Home's notice.
    Done {
        message: Option<Value>,
        notice: String,
    },
    /// Not done, and why.
    Refused(String),
    /// Nothing to say (the modal opened).
    Quiet,
}

async fn carry_out(state: AppState, slack: SlackApp, click: Click) {
    let outcome = outcome(&state, &slack, &click).await;
    let (answer, notice) = match outcome {
        Outcome::Quiet => return,
        Outcome::Done { message, notice } => (message, notice),
        Outcome::Refused(why) => (Some(decision_refused(&why)), format!("Not done: {why}")),
    };
    match (&click.response_url, answer) {
        (Some(url), Some(answer)) => {
            if let Err(e) = slack.messenger.respond(url, &answer.to_string()).await {
                tracing::error!(error = %e, "could not answer Slack");
            }
        }
        // A Home button: the Home again, with what happened.
        _ => home::publish(&state, &slack, &click.user, Some(&notice)).await,
    }
}

async fn outcome(state: &AppState, slack: &SlackApp, click: &Click) -> Outcome {
    let verb = click.action.verb();
    let (clicker, email) = match slack_person(slack, &click.user, Lookup::Fresh).await {
        Ok(found) => found,
        Err(why) => {
            audit_refusal(state, &click.user, verb, &why).await;
            return Outcome::Refused(why);
        }
    };
    let id = GrantId::new(click.grant_id.clone());
    let reason = Some("via Slack".to_owned());
    let done = match click.action {
        ButtonAction::OpenRequest => {
            let Some(trigger_id) = &click.trigger_id else {
                return Outcome::Refused("Slack sent no trigger to open the form with".into());
            };
            let place = ViewPlace::Open { trigger_id };
            return match slack
                .messenger
                .show_view(place, &request_modal().to_string())
                .await
            {
                Ok(()) => Outcome::Quiet,
                Err(e) => Outcome::Refused(format!("could not open the request form: {e}")),
            };
        }
        ButtonAction::Approve | ButtonAction::Deny => {
            let approve = click.action == ButtonAction::Approve;
            let decided = if approve {
                state.jit.approve(&id, &clicker, reason).await
            } else {
                state.jit.deny(&id, &clicker, reason).await
            };
            decided.map(|grant| {
                let notice = match grant.status {
                    GrantStatus::Pending => {
                        format!("✅ Approved {}: more approvals needed.", grant.access)
                    }
                    GrantStatus::Active => format!(
                        "✅ Approved: {} has {} until {}.",
                        grant.user,
                        grant.access,
                        rfc3339(grant.expires_at)
                    ),
                    status => format!("{} is {status}.", grant.access),
                };
                let update = decision_update(&grant, &email.normalized(), approve);
                (Some(update), notice)
            })
        }
        ButtonAction::Extend => state.jit.extend(&id, None, &clicker).await.map(|grant| {
            let notice = format!(
                "⏳ Extended: {} now lasts until {}.",
                grant.access,
                rfc3339(grant.expires_at)
            );
            (Some(replace(&notice)), notice)
        }),
        ButtonAction::Revoke => state.jit.revoke(&id, &clicker).await.map(|revoked| {
            let notice = format!("🔒 Revoked: {}.", revoked.grant.access);
            (Some(replace(&notice)), notice)
        }),
    };
    match done {
        Ok((message, notice)) => {
            state.wake.notify_one();
            Outcome::Done { message, notice }
        }
        // The decision point audited its refusal.
        Err(AppError::NotAllowed(why)) => Outcome::Refused(why),
        Err(e) => {
            let why = e.to_string();
            tracing::warn!(grant_id = %click.grant_id, reason = %why, "Slack {verb} failed");
            audit_refusal(state, &click.user, verb, &why).await;
            Outcome::Refused(why)
        }
    }
}

/// Replaces the message the button was in (the pre-expiry DM) with what happened.
fn replace(text: &str) -> Value {
    json!({
        "replace_original": true,
        "text": aws_jit_core::slack::escaped(text),
    })
}
