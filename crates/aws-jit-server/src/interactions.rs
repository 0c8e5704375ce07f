//! `POST /slack/interactions`: the Approve and Deny buttons of approval requests.
//!
//! Every request must carry Slack's `v0` signature over the raw body, made with
//! `SLACK_SIGNING_SECRET`, at most five minutes old; anything else is a 401 and an
//! `api.refused` audit event. The clicker is identified by Slack (`users.info` gives their
//! email) and must be an eligible approver, exactly as on the CLI and the API. Slack wants an
//! answer within three seconds, so the click is acknowledged at once and the decision, which
//! may provision the access in AWS, runs after; its outcome replaces the original message
//! (or, when refused, is shown to the clicker alone) through the `response_url`.

use aws_jit_app::AppError;
use aws_jit_core::slack::{decision_refused, decision_update};
use aws_jit_core::slack_interaction::{Click, parse_interaction};
use aws_jit_core::slack_signature;
use aws_jit_core::{Actor, Channel, GrantId, Person, UserEmail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::{AppState, SlackApp};

/// The handler.
pub async fn slack_interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(slack) = state.slack.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "Slack interactivity is not configured",
        )
            .into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = slack_signature::verify(
        &slack.signing_secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        state.jit.now().as_second(),
    );
    if let Err(e) = verified {
        tracing::warn!(reason = %e, "Slack interaction refused");
        let detail = format!("POST /slack/interactions: 401 {e}");
        if state.refusals.take()
            && let Err(e) = state
                .jit
                .record_refusal(
                    &Actor::anonymous(Channel::Slack {
                        user_id: String::new(),
                    }),
                    "",
                    detail,
                )
                .await
        {
            tracing::error!(error = %e, "could not audit a refused request");
        }
        return (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    let Some(click) = parse_interaction(&body) else {
        // Other interactions (and clicks on other apps' buttons) are acknowledged and ignored.
        return StatusCode::OK.into_response();
    };
    // Bounded: a few decisions at once, one per Slack user; a click beyond that is told to
    // wait, at once (Slack wants its answer within three seconds).
    let Ok(slot) = slack.decisions.clone().try_acquire_owned() else {
        return busy("aws-jit is deciding other clicks: click again in a moment");
    };
    let fresh = slack
        .deciding
        .lock()
        .is_ok_and(|mut users| users.insert(click.user_id.clone()));
    if !fresh {
        return busy("your previous click is still being decided");
    }
    let done = Deciding {
        user: click.user_id.clone(),
        users: slack.deciding.clone(),
    };
    tokio::spawn(async move {
        // Dropped however the decision ends (a panic included): the person may click again.
        let _done = done;
        let _slot = slot;
        decide(state, slack, click).await;
    });
    StatusCode::OK.into_response()
}

/// A Slack user's click being decided; dropping it lets them click again.
struct Deciding {
    user: String,
    users: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

impl Drop for Deciding {
    fn drop(&mut self) {
        if let Ok(mut users) = self.users.lock() {
            users.remove(&self.user);
        }
    }
}

/// An immediate answer to the clicker alone.
fn busy(why: &str) -> Response {
    axum::Json(decision_refused(why)).into_response()
}

/// Why a click was not carried out: refused by the decision point (which audited it), or
/// failed before a decision could be asked for.
enum Refused {
    Decided(String),
    Failed(String),
}

/// Runs the decision and answers through the `response_url`.
async fn decide(state: AppState, slack: SlackApp, click: Click) {
    let answer = match decision(&state, &slack, &click).await {
        Ok(answer) => answer,
        Err(Refused::Decided(why)) => decision_refused(&why),
        Err(Refused::Failed(why)) => {
            tracing::warn!(grant_id = %click.grant_id, reason = %why, "Slack decision failed");
            let detail = format!(
                "slack {}: {why}",
                if click.approve { "approve" } else { "deny" }
            );
            let clicker = Actor::anonymous(Channel::Slack {
                user_id: click.user_id.clone(),
            });
            if let Err(e) = state.jit.record_refusal(&clicker, "", detail).await {
                tracing::error!(error = %e, "could not audit a refused click");
            }
            decision_refused(&why)
        }
    };
    if let Err(e) = slack
        .messenger
        .respond(&click.response_url, &answer.to_string())
        .await
    {
        tracing::error!(error = %e, "could not answer Slack");
    }
}

async fn decision(state: &AppState, slack: &SlackApp, click: &Click) -> Result<Value, Refused> {
    let failed = |e: &dyn std::fmt::Display| Refused::Failed(e.to_string());
    // The click comes from our workspace (the configured one, or at least the clicker's
    // own), from a member in good standing: not a deactivated account, a guest, a bot or
    // someone from another organisation in a shared channel.
    if let Some(ours) = &slack.team_id
        && click.team_id != *ours
    {
        return Err(Refused::Failed(format!(
            "clicks from workspace `{}` are not accepted here",
            click.team_id
        )));
    }
    let user = slack
        .messenger
        .person(&click.user_id)
        .await
        .map_err(|e| failed(&e))?;
    let standing = if user.deleted {
        Some("your Slack account is deactivated")
    } else if user.external || user.team_id.as_deref() != Some(click.team_id.as_str()) {
        Some("only members of this workspace decide requests")
    } else if user.guest {
        Some("guests do not decide requests")
    } else {
        None
    };
    if let Some(why) = standing {
        return Err(Refused::Failed(why.to_owned()));
    }
    let email = user.email.ok_or_else(|| {
        Refused::Failed(format!(
            "Slack user {} has no email (users:read.email scope?)",
            click.user_id
        ))
    })?;
    let email = UserEmail::parse(&email).map_err(|e| failed(&e))?;
    let clicker = Actor::person(
        Person::unresolved(email.as_str()),
        Channel::Slack {
            user_id: click.user_id.clone(),
        },
    );
    let id = GrantId::new(click.grant_id.clone());
    let reason = Some("via Slack".to_owned());
    let outcome = if click.approve {
        state.jit.approve(&id, &clicker, reason).await
    } else {
        state.jit.deny(&id, &clicker, reason).await
    };
    match outcome {
        Ok(grant) => {
            state.wake.notify_one();
            Ok(decision_update(&grant, &email.normalized(), click.approve))
        }
        Err(AppError::NotAllowed(why)) => Err(Refused::Decided(why)),
        Err(e) => Err(failed(&e)),
    }
}
