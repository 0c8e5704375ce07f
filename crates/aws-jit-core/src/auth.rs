//! API tokens and who may do what through the HTTP API.
//!
//! A token is `ajit_<id>_<secret>`: the id finds the record, the secret proves possession.
//! Only the SHA-256 of the secret is stored (secrets are 256 random bits, so a slow hash
//! adds nothing), and it is compared in constant time. What a token's holder may do is
//! decided by [`crate::authorize`], like every other actor's.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::actor::{Actor, Channel, Person, Principal, Rights};

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
    equal_in_constant_time(&hash_secret(secret), stored_hash)
}

/// Whether two secrets (or their hashes) are equal, in time independent of where they
/// differ.
pub fn equal_in_constant_time(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// The actor a presented token stands for: its person (as the token names them, resolved
/// against the directory by the use cases) or a service, through the API, with the
/// token's role and on-behalf right.
pub fn token_actor(token: &ApiToken) -> Actor {
    Actor {
        principal: match &token.user {
            Some(email) => Principal::Person {
                person: Person::unresolved(email),
            },
            None => Principal::Service,
        },
        channel: Channel::Api {
            token: token.name.clone(),
        },
        on_behalf_of: None,
        rights: Rights {
            role: token.role,
            on_behalf: token.on_behalf,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
