//! API tokens and who may do what through the HTTP API.
//!
//! A token is `ajit_<id>_<secret>`: the id finds the record, the secret proves possession.
//! Only the SHA-256 of the secret is stored (secrets are 256 random bits, so a slow hash
//! adds nothing), and it is compared in constant time. The rules are plain functions of the
//! caller and the grant's user, so every refusal is tested without HTTP.

use std::fmt;

use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Requests, extends, sees and revokes its own user's grants (or, with the on-behalf
    /// right, those of the users it acts for).
    Requester,
    /// Also sees every grant and the whole audit log, and revokes anyone's grant.
    Approver,
    /// Everything, including acting for any user.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Requester, Role::Approver, Role::Admin];

    /// The role's name, as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    fn oversees(self) -> bool {
        matches!(self, Role::Approver | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored API token (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The public part, found in the token string.
    pub id: String,
    /// A unique name people use (`kubiya-agent`, `alice-laptop`).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The user it acts as (lowercase email), if any.
    pub user: Option<String>,
    /// Whether it may act on behalf of other users (a service token, e.g. an agent's).
    pub on_behalf: bool,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// When it was created.
    pub created_at: jiff::Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<jiff::Timestamp>,
}

/// The token string shown once at creation.
pub fn token_string(id: &str, secret: &str) -> String {
    format!("ajit_{id}_{secret}")
}

/// Splits a presented token into (id, secret), if it has the shape of one.
pub fn parse_token(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix("ajit_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id) && hex(secret)).then_some((id, secret))
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `secret` matches the stored hash, in time independent of where they differ.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let computed = hash_secret(secret);
    computed.len() == stored_hash.len()
        && computed
            .bytes()
            .zip(stored_hash.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// An authenticated caller of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub token: String,
    /// Its role.
    pub role: Role,
    /// The user it acts as, if any.
    pub user: Option<String>,
    /// Whether it may act for other users.
    pub on_behalf: bool,
}

/// Why a caller may not do something (the API answers 403 with this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

impl From<&ApiToken> for Caller {
    fn from(t: &ApiToken) -> Self {
        Caller {
            token: t.name.clone(),
            role: t.role,
            user: t.user.clone(),
            on_behalf: t.on_behalf,
        }
    }
}

impl Caller {
    fn is_self(&self, user: &str) -> bool {
        self.user.as_deref() == Some(user)
    }

    /// The audit actor for an action on `user`'s behalf: the token, its own person if it
    /// has one, and the user acted for.
    pub fn actor(&self, user: &str) -> String {
        match &self.user {
            Some(own) if own == user => format!("{user} (token {})", self.token),
            Some(own) => format!("{own} (token {}) on behalf of {user}", self.token),
            None => format!("token {} on behalf of {user}", self.token),
        }
    }

    /// The audit actor for an action about no particular user.
    pub fn name(&self) -> String {
        match &self.user {
            Some(user) => format!("{user} (token {})", self.token),
            None => format!("token {}", self.token),
        }
    }

    /// The user a request is for: the one named, or the caller's own.
    pub fn subject(&self, named: Option<&str>) -> Result<String, Denied> {
        match (named, &self.user) {
            (Some(user), _) => Ok(user.trim().to_lowercase()),
            (None, Some(own)) => Ok(own.clone()),
            (None, None) => Err(Denied(format!(
                "token `{}` acts for no user: name the user",
                self.token
            ))),
        }
    }

    /// Requesting or extending access for `user`.
    pub fn may_act_for(&self, user: &str) -> Result<(), Denied> {
        if self.is_self(user) || self.on_behalf || self.role == Role::Admin {
            Ok(())
        } else {
            Err(Denied(format!(
                "token `{}` may act only for {}, not for {user}",
                self.token,
                self.user.as_deref().unwrap_or("no user")
            )))
        }
    }

    /// Revoking a grant of `user`: one's own (or an acted-for user's), or anyone's with
    /// approver rights.
    pub fn may_revoke(&self, user: &str) -> Result<(), Denied> {
        if self.role.oversees() || self.may_act_for(user).is_ok() {
            Ok(())
        } else {
            Err(Denied(format!(
                "revoking {user}'s grant needs an approver or admin token; `{}` is a {}",
                self.token, self.role
            )))
        }
    }

    /// Seeing a grant of `user`.
    pub fn may_see(&self, user: &str) -> Result<(), Denied> {
        if self.role.oversees() || self.may_act_for(user).is_ok() {
            Ok(())
        } else {
            Err(Denied(format!(
                "token `{}` may not see {user}'s grants",
                self.token
            )))
        }
    }

    /// Whose audit events and grant lists the caller may query: `None` for everyone's,
    /// else only the given user's. `asked` is the user filter the caller gave.
    pub fn scope(&self, asked: Option<&str>) -> Result<Option<String>, Denied> {
        let asked = asked.map(|u| u.trim().to_lowercase());
        if self.role.oversees() || self.on_behalf {
            return Ok(asked);
        }
        match (&self.user, asked) {
            (Some(own), None) => Ok(Some(own.clone())),
            (Some(own), Some(asked)) if *own == asked => Ok(Some(asked)),
            (_, Some(asked)) => Err(Denied(format!(
                "token `{}` may not see {asked}'s records",
                self.token
            ))),
            (None, None) => Err(Denied(format!(
                "token `{}` acts for no user and may not see others' records",
                self.token
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, user: Option<&str>, on_behalf: bool) -> Caller {
        Caller {
            token: "t".to_owned(),
            role,
            user: user.map(str::to_owned),
            on_behalf,
        }
    }

    const ALICE: &str = "alice@example.com";
    const BOB: &str = "bob@example.com";

    #[test]
    fn tokens_round_trip_and_only_the_right_secret_matches() {
        let s = token_string("0a1b", "ff00");
        assert_eq!(parse_token(&s), Some(("0a1b", "ff00")));
        for bad in [
            "",
            "ajit_",
            "ajit__ff",
            "ajit_0a_",
            "xjit_0a_ff",
            "ajit_0a_zz",
            "ajit_0a",
        ] {
            assert_eq!(parse_token(bad), None, "{bad}");
        }
        let stored = hash_secret("ff00");
        assert!(secret_matches("ff00", &stored));
        assert!(!secret_matches("ff01", &stored));
        assert!(!secret_matches("ff00", ""));
        assert_ne!(stored, "ff00", "the secret itself is never stored");
    }

    #[test]
    fn a_requester_acts_only_for_itself() {
        let alice = caller(Role::Requester, Some(ALICE), false);
        assert!(alice.may_act_for(ALICE).is_ok());
        assert!(alice.may_act_for(BOB).is_err());
        assert!(alice.may_revoke(BOB).is_err());
        assert!(alice.may_see(BOB).is_err());
        assert_eq!(alice.subject(None).as_deref(), Ok(ALICE));
        assert_eq!(alice.scope(None), Ok(Some(ALICE.to_owned())));
        assert!(alice.scope(Some(BOB)).is_err());
        assert_eq!(alice.actor(ALICE), "alice@example.com (token t)");
    }

    #[test]
    fn a_service_token_with_the_right_acts_for_others_and_the_actor_names_both() {
        let agent = caller(Role::Requester, None, true);
        assert!(agent.may_act_for(BOB).is_ok());
        assert!(agent.may_revoke(BOB).is_ok());
        assert_eq!(agent.actor(BOB), "token t on behalf of bob@example.com");
        assert!(agent.subject(None).is_err(), "it must name the user");
        let plain = caller(Role::Requester, None, false);
        assert!(plain.may_act_for(BOB).is_err());
        assert!(plain.scope(None).is_err());
    }

    #[test]
    fn approvers_revoke_and_see_anyone_but_do_not_request_for_others() {
        let approver = caller(Role::Approver, Some(ALICE), false);
        assert!(approver.may_revoke(BOB).is_ok());
        assert!(approver.may_see(BOB).is_ok());
        assert_eq!(approver.scope(None), Ok(None));
        assert!(approver.may_act_for(BOB).is_err());
        let admin = caller(Role::Admin, None, false);
        assert!(admin.may_act_for(BOB).is_ok());
    }
}
