//! Requesting from Slack: the slash command (`/jit`, `SLACK_COMMAND`) opens the request
//! modal with `views.open` right after the command is acknowledged (the trigger is valid
//! for three seconds); the modal's access search lists what the person may request (the
//! same listing as the web's); its submission goes through the grant use case and its
//! decision point, like every other path. A refusal shows in the modal, under the field it
//! is about; work that outlives Slack's three seconds finishes after, and the modal is
//! updated with its outcome (`views.update`).

use std::time::Duration;

use aws_jit_app::ports::ViewPlace;
use aws_jit_app::{AppError, GrantRequest};
use aws_jit_core::AccessDuration;
use aws_jit_core::slack::decision_refused;
use aws_jit_core::slack_interaction::{SlashCommand, Submission, Suggestion, parse_command};
use aws_jit_core::slack_views::{
    ACCESS_FIELD, DURATION_FIELD, REASON_FIELD, access_options, modal_error, request_failed,
    request_modal, request_outcome,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{
    Lookup, audit_listing_refusal, audit_refusal, identified, slack_person, start_work, verified,
};
use crate::{AppState, SlackApp};

/// How long a submission may take before the modal is answered with "working on it"
/// (Slack closes the connection at three seconds).
const ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

/// `POST /slack/commands`.
pub async fn slack_commands(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let slack = match verified(&state, &headers, &body, "/slack/commands").await {
        Ok(slack) => slack,
        Err(refused) => return refused,
    };
    let Some(command) = parse_command(&body) else {
        return (StatusCode::BAD_REQUEST, "not a slash command").into_response();
    };
    if command.command != *slack.command {
        return ephemeral(&format!(
            "aws-jit answers `{}`, not `{}`",
            slack.command, command.command
        ));
    }
    if command.text.trim().eq_ignore_ascii_case("help") {
        return ephemeral(&format!(
            "`{}` opens the request form: choose an access you may request, a duration and a reason. Your grants, with Extend and Revoke, and the requests you may approve are on the app's Home tab.",
            slack.command
        ));
    }
    if let Some(ours) = &slack.team_id
        && command.user.team_id != *ours
    {
        let why = format!(
            "requests from workspace `{}` are not accepted here",
            command.user.team_id
        );
        audit_listing_refusal(&state, &command.user, "command", &why).await;
        return ephemeral(&why);
    }
    let work = match start_work(&slack, &command.user.user_id) {
        Ok(work) => work,
        Err(why) => return ephemeral(why),
    };
    // Acknowledged now; the modal opens right after (who may request what is decided when
    // the person searches and submits).
    tokio::spawn(async move {
        let _work = work;
        open(&slack, &command).await;
    });
    StatusCode::OK.into_response()
}

async fn open(slack: &SlackApp, command: &SlashCommand) {
    let place = ViewPlace::Open {
        trigger_id: &command.trigger_id,
    };
    if let Err(e) = slack
        .messenger
        .show_view(place, &request_modal().to_string())
        .await
    {
        tracing::warn!(error = %e, "could not open the request modal");
        let answer = decision_refused(&format!("could not open the request form: {e}"));
        if let Err(e) = slack
            .messenger
            .respond(&command.response_url, &answer.to_string())
            .await
        {
            tracing::error!(error = %e, "could not answer Slack");
        }
    }
}

fn ephemeral(text: &str) -> Response {
    axum::Json(json!({
        "response_type": "ephemeral",
        "text": aws_jit_core::slack::escaped(text),
    }))
    .into_response()
}

/// The access search: what the person may request, matching what they typed. Asked on
/// every keystroke, so bounded: a few searches at once (beyond, an empty list until the
/// next keystroke), and the person as Slack and the directory said within the minute.
pub(crate) async fn suggest(state: &AppState, slack: &SlackApp, search: &Suggestion) -> Response {
    let Ok(_slot) = slack.searches.clone().try_acquire_owned() else {
        return axum::Json(json!({ "options": [] })).into_response();
    };
    let listed = async {
        let (_, person) = identified(state, slack, &search.user, Lookup::Recent).await?;
        let accesses = state
            .jit
            .requestable(&person, "slack")
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(access_options(&accesses, &search.query))
    };
    match listed.await {
        Ok(options) => axum::Json(options).into_response(),
        Err(why) => {
            audit_listing_refusal(state, &search.user, "access search", &why).await;
            axum::Json(json!({ "options": [] })).into_response()
        }
    }
}

/// Why a submission was not carried out, and under which field.
struct Refusal {
    field: &'static str,
    why: String,
}

impl Refusal {
    fn at(field: &'static str, why: impl Into<String>) -> Refusal {
        Refusal {
            field,
            why: why.into(),
        }
    }
}

/// The modal, submitted: answered within Slack's three seconds with the outcome, the
/// refusal in the modal, or "working on it" (and the outcome later).
pub(crate) async fn submitted(
    state: AppState,
    slack: SlackApp,
    submission: Submission,
) -> Response {
    let work = match start_work(&slack, &submission.user.user_id) {
        Ok(work) => work,
        Err(why) => return axum::Json(modal_error(ACCESS_FIELD, why)).into_response(),
    };
    let (done, outcome) = tokio::sync::oneshot::channel();
    let later = state.clone();
    tokio::spawn(async move {
        let _work = work;
        let result = request(&later, &slack, &submission).await;
        if let Err(result) = done.send(result) {
            finish_later(&later, &slack, &submission, result).await;
        }
    });
    let now = state.jit.now();
    let mut outcome = outcome;
    let answer = match tokio::time::timeout(ANSWER_WITHIN, &mut outcome).await {
        Ok(Ok(Ok(grant))) => update(&request_outcome(Some(&grant), now)),
        Ok(Ok(Err(refusal))) => modal_error(refusal.field, &refusal.why),
        // The work ended without an outcome (it panicked).
        Ok(Err(_)) => update(&request_failed("something went wrong: try again")),
        Err(_) => {
            // Closed first, so that an outcome arriving from now on goes to the modal
            // later (a send after this fails); one that came just now is answered now.
            outcome.close();
            match outcome.try_recv() {
                Ok(Ok(grant)) => update(&request_outcome(Some(&grant), now)),
                Ok(Err(refusal)) => modal_error(refusal.field, &refusal.why),
                Err(_) => update(&request_outcome(None, now)),
            }
        }
    };
    axum::Json(answer).into_response()
}

/// The outcome of work that outlived Slack's three seconds: the modal (showing "working
/// on it") is updated; if it is gone (closed), the person gets a DM instead.
async fn finish_later(
    state: &AppState,
    slack: &SlackApp,
    submission: &Submission,
    result: Result<aws_jit_core::Grant, Refusal>,
) {
    // Give the "working on it" answer a moment to reach Slack before replacing it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (view, text) = match &result {
        Ok(grant) => (
            request_outcome(Some(grant), state.jit.now()),
            if grant.status == aws_jit_core::GrantStatus::Pending {
                format!(
                    "Your request for {} is waiting for approval (request {}).",
                    grant.access, grant.id
                )
            } else {
                format!(
                    "Access granted: {} until {} (grant {}).",
                    grant.access,
                    aws_jit_core::views::rfc3339(grant.expires_at),
                    grant.id
                )
            },
        ),
        Err(refusal) => (
            request_failed(&refusal.why),
            format!("Your request was not carried out: {}", refusal.why),
        ),
    };
    let place = ViewPlace::Update {
        view_id: &submission.view_id,
    };
    let Err(e) = slack.messenger.show_view(place, &view.to_string()).await else {
        return;
    };
    tracing::info!(error = %e, "the request modal is gone: telling the person in a DM");
    let email = match slack_person(slack, &submission.user, Lookup::Recent).await {
        Ok((_, email)) => email,
        Err(why) => {
            tracing::warn!(reason = %why, "could not tell the person the outcome");
            return;
        }
    };
    let message = aws_jit_core::slack::notice(&text);
    let body = json!({ "text": message.text, "blocks": message.blocks }).to_string();
    let to = aws_jit_app::ports::Recipient::Person {
        email: email.normalized(),
    };
    if let Err(e) = slack.messenger.deliver(&to, &body).await {
        tracing::error!(error = %e, "could not tell the person the outcome");
    }
}

fn update(view: &serde_json::Value) -> serde_json::Value {
    json!({ "response_action": "update", "view": view })
}

/// The request, through the grant use case.
async fn request(
    state: &AppState,
    slack: &SlackApp,
    submission: &Submission,
) -> Result<aws_jit_core::Grant, Refusal> {
    let (actor, email) = match slack_person(slack, &submission.user, Lookup::Fresh).await {
        Ok(found) => found,
        Err(why) => {
            audit_refusal(state, &submission.user, "request", &why).await;
            return Err(Refusal::at(ACCESS_FIELD, why));
        }
    };
    // Refused before the decision point: audited here, as the decision point audits its own.
    let refuse = |refusal: Refusal| async move {
        audit_refusal(state, &submission.user, "request", &refusal.why).await;
        Err(refusal)
    };
    let Some(key) = submission.access.as_deref() else {
        return refuse(Refusal::at(ACCESS_FIELD, "choose an access")).await;
    };
    let access = match state.jit.access(key) {
        Ok(access) => access,
        Err(e) => return refuse(Refusal::at(ACCESS_FIELD, e.to_string())).await,
    };
    let duration = match submission.duration.trim() {
        "" => None,
        text => match AccessDuration::parse(text) {
            Ok(duration) => Some(duration),
            Err(e) => {
                let why = format!("{e} (e.g. 30m, 1h or PT2H)");
                return refuse(Refusal::at(DURATION_FIELD, why)).await;
            }
        },
    };
    let reason = Some(submission.reason.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.is_none() && (access.require_reason || submission.break_glass) {
        let why = if submission.break_glass {
            "break-glass needs a reason: say what the emergency is"
        } else {
            "this access needs a reason: say what you need it for"
        };
        return refuse(Refusal::at(REASON_FIELD, why)).await;
    }
    let outcome = state
        .jit
        .grant(GrantRequest {
            access: access.key.clone(),
            user: email,
            actor,
            duration,
            reason,
            break_glass: submission.break_glass,
        })
        .await;
    match outcome {
        Ok(outcome) => {
            state.wake.notify_one();
            Ok(outcome.grant)
        }
        // The decision point audited its refusal; anything else is audited here.
        Err(AppError::NotAllowed(why)) => Err(Refusal::at(ACCESS_FIELD, why)),
        Err(e) => {
            let why = e.to_string();
            audit_refusal(state, &submission.user, "request", &why).await;
            Err(Refusal::at(ACCESS_FIELD, why))
        }
    }
}
