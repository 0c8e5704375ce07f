//! The web UI's sessions and the sign-ins in progress, as the store keeps them, and the
//! rules about them that need no I/O: who may sign in (allowed email domains), how long a
//! session lives, and how the browser's cookies are read.
//!
//! A session is found by the SHA-256 of its cookie's secret ([`crate::auth::hash_secret`]):
//! the store never holds a value that would let its reader sign in. A sign-in in progress
//! (the OpenID Connect `state`, its `nonce` and PKCE verifier) is bound to the browser that
//! started it by a second cookie, whose hash it keeps, and is taken from the store once: a
//! replayed answer from the identity provider finds nothing.

use jiff::Timestamp;

use crate::actor::Person;
use crate::auth::Role;

/// How long a sign-in may take, from the redirect to the identity provider to its answer.
pub const SIGN_IN_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// The most sign-ins in progress the store keeps; beyond it the oldest make room (anyone
/// can start one).
pub const MAX_PENDING_SIGN_INS: i64 = 10_000;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Hex SHA-256 of the cookie's secret.
    pub id_hash: String,
    /// Who signed in, resolved in the directory.
    pub person: Person,
    /// What they may do beyond acting for themselves.
    pub role: Role,
    /// How they signed in: `oidc` or `token:<id>:<name>` (the dev sign-in).
    pub via: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// When they signed in.
    pub created_at: Timestamp,
    /// When the session ends, whatever happens.
    pub expires_at: Timestamp,
}

/// A sign-in waiting for the identity provider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    /// The OpenID Connect `state`: the key it is found by.
    pub state: String,
    /// Hex SHA-256 of the cookie that binds it to the browser that started it.
    pub browser_hash: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// Where to go after signing in (a path of this site).
    pub return_to: String,
    /// When it started.
    pub created_at: Timestamp,
}

/// Why a signed-in email may not use the UI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAllowed(pub String);

/// Whether `email` may sign in, given the allowed domains (empty: any domain the identity
/// provider vouches for).
pub fn email_allowed(email: &str, domains: &[String]) -> Result<(), NotAllowed> {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return Err(NotAllowed(format!(
            "`{}` is not an email address",
            crate::text::printable(email)
        )));
    };
    if domains.is_empty() || domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
        Ok(())
    } else {
        Err(NotAllowed(format!(
            "`{}` is outside the allowed domains ({}): ask an administrator to add it to AWS_JIT_OIDC_ALLOWED_DOMAINS",
            crate::text::printable(email),
            domains.join(", ")
        )))
    }
}

/// A cookie's value from a `Cookie` header, if present (the first of that name).
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// A path of this site to return to after signing in: only a local absolute path (never
/// `//host` or a scheme), else `/`.
pub fn local_path(asked: &str) -> String {
    let safe = asked.starts_with('/')
        && !asked.starts_with("//")
        && !asked.starts_with("/\\")
        && asked.len() <= 512
        && asked.chars().all(|c| c.is_ascii_graphic());
    if safe {
        asked.to_owned()
    } else {
        "/".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_domains_are_matched_exactly_and_without_case() {
        let domains = vec!["example.com".to_owned()];
        assert!(email_allowed("alice@example.com", &domains).is_ok());
        assert!(email_allowed("alice@EXAMPLE.com", &domains).is_ok());
        assert!(email_allowed("alice@example.com.evil.io", &domains).is_err());
        assert!(email_allowed("alice@sub.example.com", &domains).is_err());
        assert!(email_allowed("not-an-email", &domains).is_err());
        assert!(email_allowed("anyone@anywhere.io", &[]).is_ok());
        let refusal = email_allowed("eve@evil.io", &domains).unwrap_err().0;
        assert!(
            refusal.contains("AWS_JIT_OIDC_ALLOWED_DOMAINS"),
            "{refusal}"
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "a=1; aws_jit_session=abc; aws_jit_session_x=zzz";
        assert_eq!(cookie(header, "aws_jit_session"), Some("abc"));
        assert_eq!(cookie(header, "a"), Some("1"));
        assert_eq!(cookie(header, "b"), None);
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path("/grants?x=1"), "/grants?x=1");
        assert_eq!(local_path("//evil.io/x"), "/");
        assert_eq!(local_path("/\\evil.io"), "/");
        assert_eq!(local_path("https://evil.io"), "/");
        assert_eq!(local_path("/a b"), "/");
    }
}
