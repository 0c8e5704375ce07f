//! The web UI's sessions: a sign-in in progress (kept until the identity provider answers,
//! taken once), a session opened for a person resolved in the directory, found again by the
//! cookie's secret, and closed on sign-out. Every refused sign-in is audited
//! (`web.sign_in_refused`), as every refused API call is.

use aws_jit_core::auth::{Role, equal_in_constant_time, hash_secret};
use aws_jit_core::web_session::{PendingSignIn, SIGN_IN_WINDOW, WebSession};
use aws_jit_core::{Actor, AuditAction, Channel, Person, Rights};

use crate::ports::StoreError;
use crate::tokens::{plain_event, random_secret};
use crate::{AppError, Jit};

/// Why a sign-in did not open a session (the page says so; the audit log keeps it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// The answer or the browser is not the one the sign-in expects.
    #[error("{0}")]
    Refused(String),
    /// The store, the directory or AWS failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        SignInError::App(AppError::from(e))
    }
}

/// A sign-in about to leave for the identity provider.
#[derive(Debug, Clone)]
pub struct NewSignIn {
    /// The OpenID Connect `state`.
    pub state: String,
    /// The `nonce`.
    pub nonce: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// The secret of the cookie that binds the sign-in to this browser.
    pub browser_secret: String,
    /// Where to go afterwards (a local path).
    pub return_to: String,
}

/// A session just opened: the cookie's secret (shown once, to the browser) and its record.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    /// The cookie's value.
    pub secret: String,
    /// The record.
    pub session: WebSession,
}

impl Jit {
    /// Keeps a sign-in until the identity provider answers (at most
    /// [`SIGN_IN_WINDOW`]).
    pub async fn begin_sign_in(&self, sign_in: NewSignIn) -> Result<(), SignInError> {
        let now = self.now();
        let pending = PendingSignIn {
            state: sign_in.state,
            browser_hash: hash_secret(&sign_in.browser_secret),
            nonce: sign_in.nonce,
            pkce_verifier: sign_in.pkce_verifier,
            return_to: sign_in.return_to,
            created_at: now,
        };
        let lapsed_before = now - SIGN_IN_WINDOW;
        if self.store().insert_sign_in(&pending, lapsed_before).await? {
            Ok(())
        } else {
            Err(SignInError::Refused(
                "too many sign-ins are in progress: try again in a few minutes".to_owned(),
            ))
        }
    }

    /// Takes the sign-in an answer names by its `state`: it must exist (a replayed or
    /// forged answer finds none), come back to the browser that started it, and be recent.
    pub async fn finish_sign_in(
        &self,
        state: &str,
        browser_secret: Option<&str>,
    ) -> Result<PendingSignIn, SignInError> {
        let Some(pending) = self.store().take_sign_in(state).await? else {
            return Err(SignInError::Refused(
                "this sign-in is unknown or was used already (a wrong or replayed `state`): sign in again".to_owned(),
            ));
        };
        let same_browser = browser_secret.is_some_and(|secret| {
            equal_in_constant_time(&hash_secret(secret), &pending.browser_hash)
        });
        if !same_browser {
            return Err(SignInError::Refused(
                "this sign-in was started in another browser: sign in again from this one"
                    .to_owned(),
            ));
        }
        if self.now().duration_since(pending.created_at) > SIGN_IN_WINDOW {
            return Err(SignInError::Refused(format!(
                "this sign-in took longer than {} minutes: sign in again",
                SIGN_IN_WINDOW.as_secs() / 60
            )));
        }
        Ok(pending)
    }

    /// Opens a session for `person` (as [`Jit::resolve_person`] found them), with `role`,
    /// for `lifetime`. `via` says how they signed in (`oidc`, `token:<id>:<name>`).
    pub async fn open_session(
        &self,
        person: Person,
        role: Role,
        via: &str,
        lifetime: jiff::SignedDuration,
    ) -> Result<OpenedSession, AppError> {
        let now = self.now();
        let secret = random_secret();
        let session = WebSession {
            id_hash: hash_secret(&secret),
            person: person.clone(),
            role,
            via: via.to_owned(),
            csrf: random_secret(),
            created_at: now,
            expires_at: now + lifetime,
        };
        let actor = session_actor(&session);
        let event = plain_event(
            &actor,
            AuditAction::SignedIn,
            &person.email,
            format!("signed in to the web UI ({via}, {role})"),
            self,
        );
        self.store().insert_session(&session, &event, now).await?;
        Ok(OpenedSession { secret, session })
    }

    /// The live session a cookie's secret opens, if any. A dev sign-in (`token:ID:NAME`)
    /// lasts only as long as its token: a revoked token's sessions open nothing.
    pub async fn session(&self, secret: &str) -> Result<Option<WebSession>, StoreError> {
        let Some(session) = self
            .store()
            .session(&hash_secret(secret), self.now())
            .await?
        else {
            return Ok(None);
        };
        if let Some(rest) = session.via.strip_prefix("token:") {
            let id = rest.split(':').next().unwrap_or_default();
            let live = self
                .store()
                .token(id)
                .await?
                .is_some_and(|token| token.revoked_at.is_none());
            if !live {
                return Ok(None);
            }
        }
        Ok(Some(session))
    }

    /// Ends a session (sign-out).
    pub async fn close_session(&self, session: &WebSession) -> Result<(), StoreError> {
        let event = plain_event(
            &session_actor(session),
            AuditAction::SignedOut,
            &session.person.email,
            "signed out of the web UI".to_owned(),
            self,
        );
        self.store()
            .delete_session(&session.id_hash, &event)
            .await?;
        Ok(())
    }

    /// Audits a refused sign-in (who it claimed to be, when known, and why).
    pub async fn record_sign_in_refusal(
        &self,
        claimed: Option<&str>,
        why: &str,
    ) -> Result<(), StoreError> {
        let actor = match claimed {
            Some(email) => Actor::person(Person::unresolved(email), Channel::Web),
            None => Actor::anonymous(Channel::Web),
        };
        let event = plain_event(
            &actor,
            AuditAction::SignInRefused,
            claimed.unwrap_or_default(),
            why.to_owned(),
            self,
        );
        self.store().append_audit(&event).await
    }
}

/// The actor a session stands for: its person, through the web UI, with its role.
pub fn session_actor(session: &WebSession) -> Actor {
    Actor::person(session.person.clone(), Channel::Web).with_rights(Rights {
        role: session.role,
        on_behalf: false,
    })
}
