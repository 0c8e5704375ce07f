//! Property tests standing in for fuzzing (`cargo fuzz` needs a nightly toolchain, which
//! these machines cannot fetch): the config loader, the identifiers, the policy renderer
//! and the generated names take arbitrary input without panicking, and what they accept
//! keeps its promises.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code"
)]

use aws_jit_core::ids::{BucketName, UserEmail};
use aws_jit_core::policy::{BuiltinTemplate, generated_policy_name, render_s3_policy};
use aws_jit_core::{Catalog, ConfigFile, ConfigSource};
use proptest::prelude::*;

/// JSON-ish text built from the config's own vocabulary, so that the loader's deeper paths
/// are reached, not only its syntax errors.
fn config_like() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("name"),
        Just("description"),
        Just("account_id"),
        Just("permission_set"),
        Just("session_duration"),
        Just("buckets"),
        Just("policy_template"),
        Just("approvers"),
        Just("approvals_required"),
        Just("auto_approve"),
        Just("break_glass"),
        Just("managed_policies"),
        Just("inline_policy"),
        Just("x")
    ];
    let value = prop_oneof![
        Just("\"PT1H\"".to_owned()),
        Just("\"1h\"".to_owned()),
        Just("\"123456789012\"".to_owned()),
        Just("\"P\"".to_owned()),
        Just("[\"b-one\", \"*\"]".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("true".to_owned()),
        Just("2".to_owned()),
        Just("null".to_owned()),
        Just("[\"group:x\", \"a@example.com\"]".to_owned()),
        Just("{\"users\": [1]}".to_owned()),
        "\"[^\"\\\\]{0,12}\"".prop_map(|s| s),
    ];
    proptest::collection::vec((key, value), 0..10).prop_map(|fields| {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        format!("{{\"E\": {{{}}}}}", body.join(", "))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_loader_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        for file in ConfigFile::ALL {
            let _ = Catalog::parse(&[ConfigSource { file, text: &text }]);
        }
    }

    #[test]
    fn the_loader_never_panics_on_config_like_input_and_what_it_accepts_is_sound(text in config_like()) {
        for file in ConfigFile::ALL {
            if let Ok(catalog) = Catalog::parse(&[ConfigSource { file, text: &text }]) {
                for access in catalog.accesses() {
                    prop_assert!(!access.name.trim().is_empty());
                    if let Some(policy) = &access.approval {
                        prop_assert!(policy.required >= 1);
                        prop_assert!(!policy.groups.is_empty() || policy.required <= policy.approvers.len());
                    }
                }
            }
        }
    }

    #[test]
    fn accepted_emails_are_ascii_and_plausible(text in "\\PC{0,40}") {
        if let Ok(email) = UserEmail::parse(&text) {
            prop_assert!(text.is_ascii());
            prop_assert_eq!(text.matches('@').count(), 1);
            prop_assert!(!email.normalized().chars().any(char::is_whitespace));
        }
    }

    #[test]
    fn rendered_s3_policies_name_only_the_given_buckets(names in proptest::collection::vec("[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", 1..5)) {
        let buckets: Vec<BucketName> = names.iter().filter_map(|n| BucketName::parse(n).ok()).collect();
        prop_assume!(!buckets.is_empty());
        for template in BuiltinTemplate::ALL {
            let document = render_s3_policy(template, &buckets, "aws", None).unwrap();
            let json: serde_json::Value = serde_json::from_str(&document.to_json()).unwrap();
            for statement in json["Statement"].as_array().unwrap() {
                for resource in statement["Resource"].as_array().unwrap() {
                    let resource = resource.as_str().unwrap();
                    let bucket = resource.trim_start_matches("arn:aws:s3:::").trim_end_matches("/*");
                    prop_assert!(buckets.iter().any(|b| b.as_str() == bucket), "{resource}");
                    prop_assert!(!bucket.contains('*'));
                }
            }
        }
    }

    #[test]
    fn generated_policy_names_are_valid_iam_names(slug in "\\PC{0,300}", user in "\\PC{0,300}", id in "[0-9a-f-]{36}") {
        let name = generated_policy_name(&slug, &user, &id);
        prop_assert!(name.len() <= 128, "{name}");
        prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c)), "{name}");
        prop_assert!(name.ends_with(&id));
    }
}
