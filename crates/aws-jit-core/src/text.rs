//! Free text at the boundary, and text on its way to a person.
//!
//! Every free-text input (a reason, a name) is checked where it enters: a length limit, and
//! no control characters or bidirectional overrides, so that nothing typed can rewrite a
//! terminal line, forge an audit line or hide text. Text shown to people is passed through
//! [`printable`] anyway (records written before these checks may hold anything), and every
//! line the binary prints or logs through [`redact`], which masks secrets.

use std::borrow::Cow;

/// The longest reason accepted (characters).
pub const MAX_REASON_CHARS: usize = 1_000;

/// Why a free-text value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Longer than the limit.
    #[error("{field} is {chars} characters long: keep it to {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// It holds a control character or a bidirectional override.
    #[error("{field} holds a control character ({found}): use plain text on one line")]
    ControlCharacter {
        /// The field.
        field: &'static str,
        /// The character, escaped.
        found: String,
    },
}

/// Whether a character may rewrite or hide what a person sees: C0 and C1 controls (line
/// breaks and escapes included), and the Unicode bidirectional overrides and isolates.
pub fn is_hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Checks one free-text field: at most `max` characters, none of them hostile.
pub fn check(field: &'static str, value: &str, max: usize) -> Result<(), TextError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(TextError::TooLong { field, chars, max });
    }
    if let Some(c) = value.chars().find(|c| is_hostile(*c)) {
        return Err(TextError::ControlCharacter {
            field,
            found: c.escape_unicode().to_string(),
        });
    }
    Ok(())
}

/// The text with every hostile character escaped (`\u{1b}`), for terminals and logs.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hostile) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_hostile(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// The text with secrets masked: the password of a URL (`postgres://user:****@host`), the
/// secret half of an aws-jit token (`ajit_<id>_****`) and Slack tokens (`xoxb-****`).
pub fn redact(text: &str) -> Cow<'_, str> {
    let masked = mask_slack_tokens(&mask_api_tokens(&mask_url_passwords(text)));
    if masked == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(masked)
    }
}

fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first `/`, whitespace, quote or backtick.
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || "`'\"".contains(c))
            .unwrap_or(after.len());
        let (authority, tail) = after.split_at(end);
        match authority.rfind('@') {
            Some(userinfo_end) => {
                let (userinfo, host) = authority.split_at(userinfo_end);
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push_str(":****");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn mask_api_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("ajit_") {
        let (before, after) = rest.split_at(at + 5);
        out.push_str(before);
        let id_len = after.chars().take_while(char::is_ascii_hexdigit).count();
        let (id, tail) = after.split_at(id_len);
        out.push_str(id);
        match tail.strip_prefix('_') {
            Some(secret) if id_len > 0 => {
                let secret_len = secret.chars().take_while(char::is_ascii_hexdigit).count();
                if secret_len > 0 {
                    out.push_str("_****");
                    rest = secret.get(secret_len..).unwrap_or_default();
                } else {
                    rest = tail;
                }
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

fn mask_slack_tokens(text: &str) -> String {
    let text = mask_after(text, "xapp-");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("xox") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let kind = after.get(3..4).unwrap_or_default();
        let is_token = after.get(4..5) == Some("-")
            && kind.chars().all(|c| c.is_ascii_lowercase())
            && !kind.is_empty();
        if is_token {
            let len = after
                .get(5..)
                .unwrap_or_default()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .count();
            out.push_str(after.get(..5).unwrap_or_default());
            out.push_str("****");
            rest = after.get(5 + len..).unwrap_or_default();
        } else {
            out.push_str(after.get(..3).unwrap_or_default());
            rest = after.get(3..).unwrap_or_default();
        }
    }
    out.push_str(rest);
    out
}

/// Masks the token characters after each `prefix` (Slack's app-level `xapp-1-…`).
fn mask_after(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let (before, after) = rest.split_at(at + prefix.len());
        out.push_str(before);
        let len = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .count();
        if len > 0 {
            out.push_str("****");
        }
        rest = after.get(len..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_text_is_refused_with_a_one_line_reason() {
        assert!(check("reason", "INC-42: db down", 100).is_ok());
        let forged = "ok\u{1b}[2K\r     1 2026-01-01T00:00:00Z grant.revoked";
        assert_eq!(
            check("reason", forged, 100).unwrap_err().to_string(),
            "reason holds a control character (\\u{1b}): use plain text on one line"
        );
        assert!(check("reason", "a\nb", 100).is_err());
        assert!(check("reason", "evil\u{202e}txt.exe", 100).is_err());
        assert_eq!(
            check("reason", &"r".repeat(1_001), 1_000)
                .unwrap_err()
                .to_string(),
            "reason is 1001 characters long: keep it to 1000"
        );
    }

    #[test]
    fn printable_escapes_what_would_rewrite_a_terminal() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{1b}[2Kb\rc"), "a\\u{1b}[2Kb\\u{d}c");
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(
            redact("`postgress://jit:Sup3rS3cret@db.internal:5432/jit` is not a store URL"),
            "`postgress://jit:****@db.internal:5432/jit` is not a store URL"
        );
        assert_eq!(redact("postgres://jit@h/db"), "postgres://jit@h/db");
        assert_eq!(
            redact("token ajit_0a1b2c_ffee00 refused"),
            "token ajit_0a1b2c_**** refused"
        );
        assert_eq!(redact("SLACK xoxb-123-456-abc!"), "SLACK xoxb-****!");
        assert_eq!(redact("app token xapp-1-A0B-9c"), "app token xapp-****");
        assert_eq!(redact("xoxo, nothing here"), "xoxo, nothing here");
    }

    proptest! {
        #[test]
        fn redaction_and_escaping_never_panic(text in "\\PC{0,120}") {
            let _ = redact(&text);
            let _ = printable(&text);
            let _ = check("reason", &text, 50);
        }

        #[test]
        fn no_password_survives_redaction(user in "[a-z]{1,8}", password in "[A-Z0-9]{6,16}") {
            let url = format!("postgres://{user}:{password}@db/x");
            prop_assert!(!redact(&url).contains(&password));
        }
    }
}

/// The candidate closest to `word` (case-insensitively), if it is close enough to be what
/// was meant: for "did you mean" hints.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_lowercase()), c))
        .filter(|(d, _)| *d > 0 && *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row.first().copied().unwrap_or_default();
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or_default();
            let left = row.get(j).copied().unwrap_or_default();
            let next = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(left + 1);
            diagonal = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = next;
            }
        }
    }
    row.last().copied().unwrap_or_default()
}

#[cfg(test)]
mod closest_tests {
    use super::closest;

    #[test]
    fn near_misses_are_suggested_and_far_ones_are_not() {
        let fields = ["session_duration", "approvers", "requesters", "name"];
        assert_eq!(closest("sesion_duration", fields), Some("session_duration"));
        assert_eq!(closest("Approver", fields), Some("approvers"));
        assert_eq!(closest("colour", fields), None);
        assert_eq!(
            closest("name", fields),
            None,
            "an exact match is no suggestion"
        );
    }
}
