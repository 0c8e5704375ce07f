use super::*;

const SEED_SSO: &str = r#"{
    "DB Access to Staging": {
        "name": "Database Access to Staging",
        "description": "Grants access to all staging RDS databases",
        "account_id": "876809951775",
        "permission_set": "ECRReadOnly",
        "session_duration": "PT1H"
    }
}"#;

fn sso(text: &str) -> Result<Catalog, ConfigErrors> {
    Catalog::parse(&[ConfigSource {
        file: ConfigFile::AccessConfigs,
        text,
    }])
}

fn messages(text: &str) -> Vec<String> {
    sso(text)
        .unwrap_err()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_seed_example_loads() {
    let catalog = sso(SEED_SSO).unwrap();
    let access = &catalog.accesses()[0];
    assert_eq!(access.key, "DB Access to Staging");
    assert_eq!(access.slug, "database_access_to_staging");
    assert_eq!(access.session_duration.as_seconds(), 3_600);
}

#[test]
fn an_access_is_found_by_key_name_or_slug() {
    let catalog = sso(SEED_SSO).unwrap();
    for q in [
        "DB Access to Staging",
        "Database Access to Staging",
        "database_access_to_staging",
    ] {
        assert_eq!(catalog.find(q).unwrap().key, "DB Access to Staging");
    }
    let err = catalog.find("prod").unwrap_err().to_string();
    assert_eq!(
        err,
        "no access is called `prod`: run `aws-jit accesses` to list them (known: `DB Access to Staging`)"
    );
}

#[test]
fn a_name_shared_by_both_files_is_ambiguous_and_lists_the_candidates() {
    let s3 = r#"{"DB Access to Staging": {"name": "Staging Buckets", "buckets": ["staging-data"], "policy_template": "S3ReadOnlyPolicy", "session_duration": "1h"}}"#;
    let catalog = Catalog::parse(&[
        ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: SEED_SSO,
        },
        ConfigSource {
            file: ConfigFile::S3Configs,
            text: s3,
        },
    ])
    .unwrap();
    assert_eq!(
        catalog
            .find("DB Access to Staging")
            .unwrap_err()
            .to_string(),
        "`DB Access to Staging` matches several accesses: `DB Access to Staging` in access_configs.json, `DB Access to Staging` in s3_configs.json; rename one of the entries: keys must differ to be addressed"
    );
    assert_eq!(
        catalog.find("staging_buckets").unwrap().source,
        ConfigFile::S3Configs
    );
}

#[test]
fn every_problem_is_collected_and_located() {
    let text = r#"{
        "A": {"name": "A", "account_id": "***1775", "permission_set": "bad name", "session_duration": "1y", "colour": "red"},
        "B": {"name": "B", "account_id": "123456789012", "session_duration": 5}
    }"#;
    assert_eq!(
        messages(text),
        vec![
            "access_configs.json: entry `A`: field `colour`: unknown field: the fields allowed here are `name`, `description`, `account_id`, `permission_set`, `inline_policy`, `managed_policies`, `buckets`, `policy_template`, `session_duration`, `managed_exclusively`, `requesters`, `tags`, `approvers`, `approvals_required`, `auto_approve`, `approval_timeout`, `require_reason`, `break_glass`, `break_glass_duration`",
            "access_configs.json: entry `A`: field `account_id`: `***1775` looks masked: use the full 12-digit account id",
            "access_configs.json: entry `A`: field `permission_set`: `bad name` is not a valid permission set name: 1 to 32 characters of letters, digits and `+=,.@-_`",
            "access_configs.json: entry `A`: field `session_duration`: `1y` uses years, whose length varies: use days, hours, minutes or seconds",
            "access_configs.json: entry `B`: field `permission_set`: required field is missing: name a permission set, or give `inline_policy`, `managed_policies` or `buckets` with `policy_template` for a per-grant permission set",
            "access_configs.json: entry `B`: field `session_duration`: must be a string",
        ]
    );
}

#[test]
fn per_grant_permission_sets_are_configured_by_policy_instead_of_by_name() {
    let text = r#"{
        "Inline": {"name": "Inline", "account_id": "123456789012", "inline_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}, "session_duration": "1h"},
        "Buckets": {"name": "Buckets", "account_id": "123456789012", "buckets": ["team-data"], "policy_template": "S3ReadOnlyPolicy", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "session_duration": "1h"}
    }"#;
    let catalog = sso(text).unwrap();
    assert!(matches!(
        &catalog.accesses()[1].target,
        AccessTarget::EphemeralPermissionSet { policy, .. }
            if policy.managed_policies.len() == 1 && policy.s3.is_some()
    ));
    let bad = r#"{
        "Both": {"name": "Both", "account_id": "123456789012", "permission_set": "P", "inline_policy": {"Statement": []}, "session_duration": "1h"},
        "Managed": {"name": "Managed", "account_id": "123456789012", "managed_policies": ["arn:aws:iam::123456789012:policy/Mine"], "session_duration": "1h"},
        "Half": {"name": "Half", "account_id": "123456789012", "buckets": ["team-data"], "session_duration": "1h"},
        "Custom": {"name": "Custom", "account_id": "123456789012", "buckets": ["team-data"], "policy_template": "TeamRead", "session_duration": "1h"},
        "NoStatement": {"name": "NoStatement", "account_id": "123456789012", "inline_policy": {"Version": "2012-10-17"}, "session_duration": "1h"}
    }"#;
    assert_eq!(
        messages(bad),
        vec![
            "access_configs.json: entry `Both`: field `permission_set`: give either `permission_set` or a per-grant policy (`inline_policy`, `managed_policies`, `buckets` with `policy_template`), not both",
            "access_configs.json: entry `Managed`: field `managed_policies[0]`: `arn:aws:iam::123456789012:policy/Mine` is not an AWS-managed policy ARN (`arn:aws:iam::aws:policy/…`)",
            "access_configs.json: entry `Half`: field `policy_template`: required field is missing",
            "access_configs.json: entry `Custom`: field `policy_template`: `TeamRead` is not a built-in template: use `S3ReadOnlyPolicy`, `S3ReadWritePolicy`, `S3FullAccessPolicy` in a per-grant permission set",
            "access_configs.json: entry `NoStatement`: field `inline_policy`: an IAM policy document needs a `Statement`",
        ]
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    assert_eq!(
        messages("{\n  \"A\": {,}\n}"),
        vec!["access_configs.json:2:9: invalid JSON: key must be a string"]
    );
    assert_eq!(
        messages("[]"),
        vec!["access_configs.json: the file must be a JSON object whose keys name the accesses"]
    );
}

#[test]
fn duplicate_entries_fields_and_slugs_are_refused() {
    let text = r#"{
        "A": {"name": "Same Name", "account_id": "123456789012", "permission_set": "P", "session_duration": "1h"},
        "A": {"name": "Other", "account_id": "123456789012", "permission_set": "P", "session_duration": "1h"},
        "B": {"name": "same name", "account_id": "123456789012", "permission_set": "P", "permission_set": "Q", "session_duration": "1h"},
        "C": {"name": "same name", "account_id": "123456789012", "permission_set": "P", "session_duration": "1h"}
    }"#;
    assert_eq!(
        messages(text),
        vec![
            "access_configs.json: entry `A`: the entry is defined twice",
            "access_configs.json: entry `B`: field `permission_set`: the field is given twice",
            "access_configs.json: entry `C`: field `name`: its tool slug `same_name` is the same as entry `A`'s: give it a distinct `name`",
        ]
    );
}

#[test]
fn policy_templates_with_wildcards_are_refused() {
    for template in [
        "arn:aws:iam::aws:policy/Admin?strator*",
        "arn:aws:iam::aws:policy/Admin?Access",
        "Team Read",
    ] {
        let text = format!(
            r#"{{"R": {{"name": "R", "buckets": ["ok-bucket"], "policy_template": "{template}", "session_duration": "1h"}}}}"#
        );
        let parsed = Catalog::parse(&[ConfigSource {
            file: ConfigFile::S3Configs,
            text: &text,
        }]);
        assert!(parsed.is_err(), "{template} accepted");
    }
}

#[test]
fn s3_buckets_that_would_widen_a_policy_are_refused() {
    let text = r#"{"R": {"name": "R", "buckets": ["ok-bucket", "*", "ok-bucket"], "policy_template": "S3ReadOnlyPolicy", "session_duration": "1h"}}"#;
    let errs = Catalog::parse(&[ConfigSource {
        file: ConfigFile::S3Configs,
        text,
    }])
    .unwrap_err();
    let msgs: Vec<String> = errs.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        vec![
            "s3_configs.json: entry `R`: field `buckets[1]`: `*` is not a valid S3 bucket name: wildcards would widen the policy",
            "s3_configs.json: entry `R`: field `buckets[2]`: `ok-bucket` is listed twice",
        ]
    );
}

#[test]
fn approval_rules_are_read_and_checked() {
    let ok = r#"{"A": {"name": "A", "account_id": "123456789012", "permission_set": "P",
        "session_duration": "PT1H", "approvers": ["Lead@Example.com", "sec@example.com"],
        "approvals_required": 2, "auto_approve": {"users": ["oncall@example.com"]},
        "approval_timeout": "30m", "require_reason": true, "break_glass": true}}"#;
    let catalog = Catalog::parse(&[ConfigSource {
        file: ConfigFile::AccessConfigs,
        text: ok,
    }])
    .unwrap();
    let access = &catalog.accesses()[0];
    let policy = access.approval.as_ref().unwrap();
    assert_eq!(policy.approvers, ["lead@example.com", "sec@example.com"]);
    assert_eq!(policy.required, 2);
    assert_eq!(policy.auto_approve, ["oncall@example.com"]);
    assert_eq!(policy.timeout.to_string(), "PT30M");
    assert!(access.require_reason && access.break_glass);

    let problems = |entry: &str| -> Vec<String> {
        let text = format!(
            r#"{{"A": {{"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H", {entry}}}}}"#
        );
        match Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: &text,
        }]) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    };
    assert!(problems(r#""approvers": ["a@example.com"], "approvals_required": 2"#)[0]
        .ends_with("field `approvals_required`: 2 distinct approvals are required but only 1 approver is listed"));
    assert!(
        problems(r#""approvals_required": 1"#)[0].ends_with("only meaningful with `approvers`")
    );
    assert!(problems(r#""approvers": []"#)[0].ends_with("list at least one approver"));
    assert!(
        problems(r#""approvers": ["a@example.com", "A@example.com"]"#)[0].contains("listed twice")
    );
    assert!(problems(r#""approvers": ["not-an-email"]"#)[0].contains("field `approvers`"));
    assert!(
        problems(r#""approvers": ["a@example.com"], "auto_approve": {"groups": []}"#)[0]
            .contains("unknown rule `groups`")
    );
    assert!(problems(r#""break_glass": "yes""#)[0].ends_with("must be `true` or `false`"));
    assert!(
        problems(r#""approvers": ["group:"]"#)[0].contains("needs an Identity Center group name")
    );
    assert!(problems(r#""approvers": ["group:Leads"], "approvals_required": 3"#).is_empty());
}
