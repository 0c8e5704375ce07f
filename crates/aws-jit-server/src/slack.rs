//! Slack's side of the server: `POST /slack/interactions` (buttons, the request modal's
//! access search and submission), `POST /slack/commands` (the slash command) and
//! `POST /slack/events` (the App Home being opened).
//!
//! Every request must carry Slack's `v0` signature over the raw body, made with
//! `SLACK_SIGNING_SECRET`, at most five minutes old; anything else is a 401 and an
//! `api.refused` audit event. The sender is identified by Slack (`users.info` gives their
//! email and standing), must belong to the workspace (`SLACK_TEAM_ID`, or at least their
//! own), and is then a person like any other: every decision goes through the use cases
//! and their one decision point. Slack wants an answer within three seconds, so work that
//! may reach AWS runs after the answer, bounded: a few at once, one per Slack user.

pub mod buttons;
pub mod home;
pub mod request_modal;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_jit_app::ports::ChatUser;
use aws_jit_core::slack_interaction::{Interaction, SlackUser, parse_interaction};
use aws_jit_core::slack_signature;
use aws_jit_core::{Actor, Channel, Person, UserEmail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{AppState, SlackApp};

/// How long what Slack says of a user is kept (their email and standing): the access
/// search asks on every keystroke.
const PEOPLE_TTL: Duration = Duration::from_secs(60);
/// At most this many Slack users are remembered; beyond, the memory starts afresh.
const MAX_PEOPLE: usize = 10_000;

/// Slack users recently looked up, and the directory people behind them: for the access
/// search only (it asks on every keystroke); acting always looks the person up afresh.
#[derive(Debug, Default)]
pub struct People {
    chat: Mutex<HashMap<String, (Instant, ChatUser)>>,
    resolved: Mutex<HashMap<String, (Instant, Person)>>,
}

fn recall<T: Clone>(map: &Mutex<HashMap<String, (Instant, T)>>, key: &str) -> Option<T> {
    let map = map.lock().ok()?;
    map.get(key)
        .filter(|(at, _)| at.elapsed() < PEOPLE_TTL)
        .map(|(_, value)| value.clone())
}

fn remember<T>(map: &Mutex<HashMap<String, (Instant, T)>>, key: &str, value: T) {
    if let Ok(mut map) = map.lock() {
        if map.len() >= MAX_PEOPLE {
            map.clear();
        }
        map.insert(key.to_owned(), (Instant::now(), value));
    }
}

/// How a Slack user is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Ask Slack now: for anything that acts (their standing may have just changed).
    Fresh,
    /// What Slack said within the last minute will do: for the access search.
    Recent,
}

/// Checks the signature; the Slack app, or the 401 (audited, within the refusal budget).
pub(crate) async fn verified(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
) -> Result<SlackApp, Response> {
    let Some(slack) = state.slack.clone() else {
        return Err((StatusCode::NOT_FOUND, "Slack is not configured").into_response());
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let checked = slack_signature::verify(
        &slack.signing_secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        state.jit.now().as_second(),
    );
    match checked {
        Ok(()) => Ok(slack),
        Err(e) => {
            tracing::warn!(reason = %e, path, "Slack request refused");
            if state.refusals.take() {
                let nobody = Actor::anonymous(Channel::Slack {
                    user_id: String::new(),
                });
                let detail = format!("POST {path}: 401 {e}");
                if let Err(e) = state.jit.record_refusal(&nobody, "", detail).await {
                    tracing::error!(error = %e, "could not audit a refused request");
                }
            }
            Err((StatusCode::UNAUTHORIZED, e.to_string()).into_response())
        }
    }
}

/// `POST /slack/interactions`: also the Options Load URL (the modal's access search).
pub async fn slack_interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let slack = match verified(&state, &headers, &body, "/slack/interactions").await {
        Ok(slack) => slack,
        Err(refused) => return refused,
    };
    match parse_interaction(&body) {
        Some(Interaction::Click(click)) => buttons::clicked(state, slack, click),
        Some(Interaction::Suggestion(search)) => {
            request_modal::suggest(&state, &slack, &search).await
        }
        Some(Interaction::Submission(submission)) => {
            request_modal::submitted(state, slack, submission).await
        }
        // Other interactions (and other apps' buttons and views) are acknowledged.
        None => StatusCode::OK.into_response(),
    }
}

/// A Slack user's work in progress: a share of the decisions at once, and their one turn.
pub(crate) struct Work {
    user: String,
    users: Arc<Mutex<BTreeSet<String>>>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Work {
    fn drop(&mut self) {
        if let Ok(mut users) = self.users.lock() {
            users.remove(&self.user);
        }
    }
}

/// Starts work for `user`, or says at once why not (Slack wants its answer within three
/// seconds, so nobody waits).
pub(crate) fn start_work(slack: &SlackApp, user: &str) -> Result<Work, &'static str> {
    let Ok(slot) = slack.decisions.clone().try_acquire_owned() else {
        return Err("aws-jit is busy with other requests: try again in a moment");
    };
    let fresh = slack
        .deciding
        .lock()
        .is_ok_and(|mut users| users.insert(user.to_owned()));
    if !fresh {
        return Err("your previous request is still being carried out");
    }
    Ok(Work {
        user: user.to_owned(),
        users: slack.deciding.clone(),
        _slot: slot,
    })
}

/// The person behind a Slack user: from this workspace (the configured one, or at least
/// their own), a member in good standing (not deactivated, a guest, a bot or someone from
/// another organisation in a shared channel), with an email. The error says why not.
pub(crate) async fn slack_person(
    slack: &SlackApp,
    user: &SlackUser,
    lookup: Lookup,
) -> Result<(Actor, UserEmail), String> {
    if let Some(ours) = &slack.team_id
        && user.team_id != *ours
    {
        return Err(format!(
            "requests from workspace `{}` are not accepted here",
            user.team_id
        ));
    }
    let known = match lookup {
        Lookup::Recent => recall(&slack.people.chat, &user.user_id),
        Lookup::Fresh => None,
    };
    let who = match known {
        Some(who) => who,
        None => {
            let who = slack
                .messenger
                .person(&user.user_id)
                .await
                .map_err(|e| e.message)?;
            remember(&slack.people.chat, &user.user_id, who.clone());
            who
        }
    };
    let standing = if who.deleted {
        Some("your Slack account is deactivated")
    } else if who.external || who.team_id.as_deref() != Some(user.team_id.as_str()) {
        Some("only members of this workspace use aws-jit here")
    } else if who.guest {
        Some("guests do not use aws-jit")
    } else {
        None
    };
    if let Some(why) = standing {
        return Err(why.to_owned());
    }
    let email = who.email.ok_or_else(|| {
        format!(
            "Slack user {} has no email (users:read.email scope?)",
            user.user_id
        )
    })?;
    let email = UserEmail::parse(&email).map_err(|e| e.to_string())?;
    let actor = Actor::person(
        Person::unresolved(email.as_str()),
        Channel::Slack {
            user_id: user.user_id.clone(),
        },
    );
    Ok((actor, email))
}

/// The person behind a Slack user, as the directory knows them (see [`slack_person`]):
/// an actor whose own person is resolved, for listings.
pub(crate) async fn identified(
    state: &AppState,
    slack: &SlackApp,
    user: &SlackUser,
    lookup: Lookup,
) -> Result<(Actor, Person), String> {
    let (actor, _) = slack_person(slack, user, lookup).await?;
    if lookup == Lookup::Recent
        && let Some(person) = recall(&slack.people.resolved, &user.user_id)
    {
        let mut actor = actor;
        if let Some(own) = actor.own_person_mut() {
            own.clone_from(&person);
        }
        return Ok((actor, person));
    }
    let actor = state
        .jit
        .identify(&actor)
        .await
        .map_err(|e| e.to_string())?;
    let person = actor
        .own_person()
        .cloned()
        .ok_or_else(|| "no person is signed in".to_owned())?;
    remember(&slack.people.resolved, &user.user_id, person.clone());
    Ok((actor, person))
}

/// Audits a refused listing (the access search, the Home, a command from elsewhere)
/// within the refusal budget: these come on every keystroke or visit.
pub(crate) async fn audit_listing_refusal(
    state: &AppState,
    user: &SlackUser,
    what: &str,
    why: &str,
) {
    if state.refusals.take() {
        audit_refusal(state, user, what, why).await;
    } else {
        tracing::warn!(slack_user = %user.user_id, what, reason = %why, "Slack request refused (not audited: over the budget)");
    }
}

/// Audits something refused before any decision could be asked for (the decision point
/// audits its own refusals).
pub(crate) async fn audit_refusal(state: &AppState, user: &SlackUser, what: &str, why: &str) {
    tracing::warn!(slack_user = %user.user_id, what, reason = %why, "Slack request refused");
    let who = Actor::anonymous(Channel::Slack {
        user_id: user.user_id.clone(),
    });
    if let Err(e) = state
        .jit
        .record_refusal(&who, "", format!("slack {what}: {why}"))
        .await
    {
        tracing::error!(error = %e, "could not audit a refused Slack request");
    }
}
