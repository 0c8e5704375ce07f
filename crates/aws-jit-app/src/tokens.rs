//! API tokens: creation (the secret is shown once and stored only as a hash), revocation,
//! authentication of a presented token, and the audit record of refused API calls.

use aws_jit_core::auth::{
    ApiToken, Role, hash_secret, parse_token, secret_matches, token_actor, token_string,
};
use aws_jit_core::{Actor, AuditAction, AuditEvent, UserEmail};

use crate::Jit;
use crate::ports::StoreError;

/// A token request, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its unique name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The user it acts as.
    pub user: Option<UserEmail>,
    /// Whether it may act for other users.
    pub on_behalf: bool,
}

/// Token failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The request makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken.
    #[error("a token named `{0}` exists already")]
    Taken(String),
    /// No live token has that name.
    #[error("no live token is named `{0}`")]
    Unknown(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Why a presented token was not accepted (the API answers 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unauthenticated(pub String);

/// An audit event about no grant (tokens, sign-ins, refused calls).
pub(crate) fn plain_event(
    actor: &Actor,
    action: AuditAction,
    user: &str,
    detail: String,
    jit: &Jit,
) -> AuditEvent {
    AuditEvent {
        seq: 0,
        time: jit.now(),
        actor: actor.to_stored(),
        action,
        grant_id: String::new(),
        access: String::new(),
        user: user.to_owned(),
        detail,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A random secret: 244 random bits as hex (two v4 UUIDs): token secrets, session cookies,
/// CSRF tokens.
pub fn random_secret() -> String {
    format!("{}{}", random_hex(), random_hex())
}

impl Jit {
    /// Creates a token; returns it and the token string, which is never shown again.
    pub async fn create_token(
        &self,
        request: NewToken,
        actor: &Actor,
    ) -> Result<(ApiToken, String), TokenError> {
        let name = request.name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(TokenError::Invalid(format!(
                "token name `{name}`: use 1 to 64 letters, digits and - _ . @"
            )));
        }
        if request.role == Role::Requester && request.user.is_none() && !request.on_behalf {
            return Err(TokenError::Invalid(
                "a requester token needs --user, or --on-behalf for a service token".to_owned(),
            ));
        }
        // 12 hex characters find the record; 256 random bits (two v4 UUIDs' worth of
        // hex, 244 of them random) prove possession.
        let id = random_hex().chars().take(12).collect::<String>();
        let secret = random_secret();
        let user = request.user.map(|u| u.normalized());
        let token = ApiToken {
            id: id.clone(),
            name: name.to_owned(),
            role: request.role,
            user: user.clone(),
            on_behalf: request.on_behalf,
            secret_hash: hash_secret(&secret),
            created_at: self.now(),
            revoked_at: None,
        };
        let detail = format!(
            "token `{name}`: role {}{}{}",
            token.role,
            user.as_deref()
                .map_or_else(String::new, |u| format!(", user {u}")),
            if token.on_behalf {
                ", may act on behalf of users"
            } else {
                ""
            }
        );
        let event = plain_event(
            actor,
            AuditAction::TokenCreated,
            user.as_deref().unwrap_or_default(),
            detail,
            self,
        );
        match self.store().insert_token(&token, &event).await {
            Ok(()) => Ok((token, token_string(&id, &secret))),
            Err(StoreError::Duplicate(_)) => Err(TokenError::Taken(name.to_owned())),
            Err(e) => Err(TokenError::Store(e)),
        }
    }

    /// Revokes a live token by name.
    pub async fn revoke_token(&self, name: &str, actor: &Actor) -> Result<(), TokenError> {
        let event = plain_event(
            actor,
            AuditAction::TokenRevoked,
            "",
            format!("token `{name}`"),
            self,
        );
        match self.store().revoke_token(name, self.now(), &event).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(TokenError::Unknown(name.to_owned())),
            Err(e) => Err(TokenError::Store(e)),
        }
    }

    /// Every token (without secrets: only their hashes are stored).
    pub async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.store().tokens().await
    }

    /// Who a presented bearer token belongs to.
    pub async fn authenticate(&self, presented: &str) -> Result<Actor, AuthFailure> {
        let refused = |why: &str| AuthFailure::Refused(Unauthenticated(why.to_owned()));
        let (id, secret) = parse_token(presented).ok_or_else(|| refused("malformed token"))?;
        let token = self
            .store()
            .token(id)
            .await
            .map_err(AuthFailure::Store)?
            .ok_or_else(|| refused("unknown token"))?;
        if !secret_matches(secret, &token.secret_hash) {
            return Err(refused("wrong token secret"));
        }
        if token.revoked_at.is_some() {
            return Err(refused("token revoked"));
        }
        Ok(token_actor(&token))
    }

    /// Records a request that did not authenticate (an API 401, a bad Slack signature).
    pub async fn record_refusal(
        &self,
        who: &Actor,
        user: &str,
        detail: String,
    ) -> Result<(), StoreError> {
        let event = plain_event(who, AuditAction::ApiRefused, user, detail, self);
        self.store().append_audit(&event).await
    }
}

/// Why authentication did not produce a caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The token is missing, malformed, unknown, wrong or revoked (401).
    #[error(transparent)]
    Refused(Unauthenticated),
    /// The store could not be read (503).
    #[error(transparent)]
    Store(StoreError),
}
