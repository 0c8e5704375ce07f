//! Verifying requests from Slack (interactivity: button clicks). Slack signs
//! `v0:{timestamp}:{raw body}` with the app's signing secret (HMAC-SHA256, hex, prefixed
//! `v0=`) and sends it in `X-Slack-Signature`, with `X-Slack-Request-Timestamp`. A request
//! older than five minutes is refused, so a captured request cannot be replayed.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How old a signed request may be.
pub const MAX_AGE_SECONDS: i64 = 300;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A header is missing or malformed.
    #[error("missing or malformed Slack signature headers")]
    Malformed,
    /// The timestamp is more than five minutes away from now.
    #[error("the request is too old (or from the future): possible replay")]
    Stale,
    /// The signature does not match the body and the secret.
    #[error("the signature does not match")]
    Mismatch,
}

/// The signature Slack would send for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable_hmac());
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

/// HMAC accepts keys of any length; this is never reached.
#[expect(clippy::panic, reason = "HMAC keys of any length are valid")]
fn unreachable_hmac() -> Hmac<Sha256> {
    panic!("HMAC-SHA256 refused a key")
}

/// Checks a request's signature and age (`now` in Unix seconds).
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Malformed);
    };
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed)?;
    if (now - sent).abs() > MAX_AGE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let expected = sign(secret, timestamp.trim(), body);
    let given = signature.trim();
    let same = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const BODY: &[u8] = b"payload=%7B%22type%22%3A%22block_actions%22%7D";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn slacks_documented_example_verifies() {
        // From Slack's "Verifying requests from Slack" guide.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(SECRET, "1531420618", body), signature);
        assert_eq!(
            verify(
                SECRET,
                Some("1531420618"),
                Some(signature),
                body,
                1_531_420_700
            ),
            Ok(())
        );
    }

    #[test]
    fn a_valid_signature_passes() {
        let ts = NOW.to_string();
        let signature = sign(SECRET, &ts, BODY);
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&signature), BODY, NOW + 10),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_secret_fails() {
        let ts = NOW.to_string();
        let signature = sign("another-secret", &ts, BODY);
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&signature), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_altered_body_fails() {
        let ts = NOW.to_string();
        let signature = sign(SECRET, &ts, BODY);
        let altered = b"payload=%7B%22type%22%3A%22block_actions%22%2C%22x%22%3A1%7D";
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&signature), altered, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_stale_or_future_timestamp_fails_even_when_signed() {
        let old = (NOW - MAX_AGE_SECONDS - 1).to_string();
        let signature = sign(SECRET, &old, BODY);
        assert_eq!(
            verify(SECRET, Some(&old), Some(&signature), BODY, NOW),
            Err(SignatureError::Stale)
        );
        let future = (NOW + MAX_AGE_SECONDS + 1).to_string();
        let signature = sign(SECRET, &future, BODY);
        assert_eq!(
            verify(SECRET, Some(&future), Some(&signature), BODY, NOW),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn missing_headers_fail() {
        assert_eq!(
            verify(SECRET, None, Some("v0=00"), BODY, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, Some("soon"), Some("v0=00"), BODY, NOW),
            Err(SignatureError::Malformed)
        );
    }
}
