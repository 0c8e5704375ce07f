//! What a request form offers: the durations a person may choose for an access (never
//! above the access's maximum or the installation's cap), and which accesses a search
//! finds. The web UI and the Slack modal offer the same.

use crate::duration::AccessDuration;
use crate::{Access, AccessTarget};

/// The usual steps offered, in seconds: 15 and 30 minutes, 1, 2, 4, 8 and 12 hours, a day.
const STEPS: [u64; 8] = [900, 1_800, 3_600, 7_200, 14_400, 28_800, 43_200, 86_400];

/// The longest a grant of `access` may last, under the installation's cap.
pub fn longest(access: &Access, global_max: Option<AccessDuration>) -> AccessDuration {
    global_max.map_or(access.session_duration, |cap| {
        cap.min(access.session_duration)
    })
}

/// The durations offered for `access`, shortest first: the usual steps below its
/// longest, and the longest itself.
pub fn duration_choices(
    access: &Access,
    global_max: Option<AccessDuration>,
) -> Vec<AccessDuration> {
    let max = longest(access, global_max);
    let mut choices: Vec<AccessDuration> = STEPS
        .iter()
        .filter(|s| **s < max.as_seconds())
        .filter_map(|s| AccessDuration::from_seconds(*s))
        .collect();
    choices.push(max);
    choices
}

/// Whether a search (words, any order, case-insensitive) finds `access`: every word must
/// appear in its key, name, description, account, permission set or buckets.
pub fn matches(access: &Access, search: &str) -> bool {
    let haystack = search_text(access);
    search
        .split_whitespace()
        .all(|word| haystack.contains(&word.to_lowercase()))
}

/// What an access gives, in a few words (`123456789012 · DBRead`).
pub fn target_summary(access: &Access) -> String {
    match &access.target {
        AccessTarget::IdentityCenter {
            account_id,
            permission_set,
        } => format!("{account_id} · {permission_set}"),
        AccessTarget::EphemeralPermissionSet { account_id, .. } => {
            format!("{account_id} · a permission set made for the grant")
        }
        AccessTarget::S3 { buckets, .. } => {
            let names: Vec<&str> = buckets.iter().map(|b| b.as_str()).collect();
            format!("S3 · {}", names.join(", "))
        }
    }
}

/// What a search looks in, lowercase (also what the page's filter script reads).
pub fn search_text(access: &Access) -> String {
    format!(
        "{} {} {} {}",
        access.key,
        access.name,
        access.description,
        target_summary(access)
    )
    .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Catalog, ConfigFile, ConfigSource};

    fn access(duration: &str) -> Access {
        let text = format!(
            r#"{{"DB Staging": {{"name": "DB Staging", "description": "Read the staging database", "account_id": "123456789012", "permission_set": "DBRead", "session_duration": "{duration}"}}}}"#
        );
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: &text,
        }])
        .unwrap_or_else(|e| panic!("{e:?}"));
        catalog
            .accesses()
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("no access"))
    }

    #[test]
    fn choices_never_pass_the_access_or_the_cap() {
        let a = access("PT3H");
        let human: Vec<String> = duration_choices(&a, None)
            .iter()
            .map(|d| d.human())
            .collect();
        assert_eq!(human, ["15m", "30m", "1h", "2h", "3h"]);
        let cap = AccessDuration::parse("45m").ok();
        let human: Vec<String> = duration_choices(&a, cap)
            .iter()
            .map(|d| d.human())
            .collect();
        assert_eq!(human, ["15m", "30m", "45m"]);
        let short = access("PT10M");
        let human: Vec<String> = duration_choices(&short, None)
            .iter()
            .map(|d| d.human())
            .collect();
        assert_eq!(human, ["10m"]);
    }

    #[test]
    fn a_search_needs_every_word_anywhere() {
        let a = access("PT1H");
        assert!(matches(&a, "staging dbread"));
        assert!(matches(&a, "  1234567 "));
        assert!(matches(&a, ""));
        assert!(!matches(&a, "staging prod"));
    }
}
