//! The API's request bodies and query strings, decoded at the boundary (`/api/v1`).
//!
//! Pure serde types and parsers, so that they can be fuzzed (`fuzz/fuzz_targets/api_requests.rs`)
//! without the server. Unknown fields are refused. Free text in them is checked where it is
//! used (`text::check`), with the limits of every other channel.

use jiff::Timestamp;
use serde::Deserialize;

use crate::grant::{Grant, GrantStatus};

/// `POST /api/v1/grants`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// The access's key or display name.
    pub access: String,
    /// Whom for; the caller when absent.
    pub user: Option<String>,
    /// How long (`1h`, `PT1H`); the access's own when absent.
    pub duration: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Break-glass: granted at once, flagged for review.
    #[serde(default)]
    pub break_glass: bool,
}

/// `GET /api/v1/grants` filters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantsQuery {
    /// Only this person's.
    pub user: Option<String>,
    /// Only this access's (by key).
    pub access: Option<String>,
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// Include ended grants.
    #[serde(default)]
    pub all: bool,
    /// Page size (1 to 500; 50 when absent).
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `POST /api/v1/grants/{id}/extend`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// By how much; the access's duration when absent.
    pub duration: Option<String>,
}

/// `POST /api/v1/grants/{id}/approve` and `/deny`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Why (shown to the requester).
    pub reason: Option<String>,
}

/// `GET /api/v1/audit` filters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only this grant's events.
    pub grant: Option<String>,
    /// Only this person's.
    pub user: Option<String>,
    /// Events after this sequence number (the previous page's `next_cursor`).
    pub after: Option<i64>,
    /// Page size (1 to 500; 50 when absent).
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<usize>,
}

/// A comma-separated status filter (`active,pending`).
pub fn parse_statuses(list: &str) -> Result<Vec<GrantStatus>, String> {
    list.split(',')
        .map(|s| {
            GrantStatus::parse(s.trim()).ok_or_else(|| {
                format!(
                    "status `{}` is not a grant status",
                    crate::text::printable(s)
                )
            })
        })
        .collect()
}

/// The cursor after `grant` in a listing (newest first): its request time and id.
pub fn grant_cursor(grant: &Grant) -> String {
    format!("{}.{}", grant.requested_at.as_millisecond(), grant.id)
}

/// Reads a cursor [`grant_cursor`] made.
pub fn parse_grant_cursor(cursor: &str) -> Result<(Timestamp, String), String> {
    let bad = || {
        format!(
            "cursor `{}` is not one this API returned",
            crate::text::printable(cursor)
        )
    };
    let (ms, id) = cursor.split_once('.').ok_or_else(bad)?;
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    let at = Timestamp::from_millisecond(ms).map_err(|_| bad())?;
    Ok((at, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Any text decodes or is refused (the fuzz target `api_requests` goes further).
        #[test]
        fn the_request_decoders_never_panic(text in "\\PC{0,200}") {
            let _ = serde_json::from_str::<GrantBody>(&text);
            let _ = serde_json::from_str::<ExtendBody>(&text);
            let _ = serde_json::from_str::<DecisionBody>(&text);
            let _ = parse_grant_cursor(&text);
            let _ = parse_statuses(&text);
        }

        #[test]
        fn grant_cursors_round_trip(ms in 0i64..4_000_000_000_000, id in "[0-9a-f-]{1,40}") {
            let at = Timestamp::from_millisecond(ms).unwrap();
            let cursor = format!("{}.{id}", at.as_millisecond());
            let (back, back_id) = parse_grant_cursor(&cursor).unwrap();
            prop_assert_eq!(back, at);
            prop_assert_eq!(back_id, id);
        }
    }

    #[test]
    fn unknown_fields_and_statuses_are_refused_by_name() {
        let err = serde_json::from_str::<GrantBody>(r#"{"access": "a", "acess": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("acess"), "{err}");
        assert_eq!(
            parse_statuses("active,\u{1b}[31mbogus").unwrap_err(),
            "status `\\u{1b}[31mbogus` is not a grant status"
        );
    }
}
