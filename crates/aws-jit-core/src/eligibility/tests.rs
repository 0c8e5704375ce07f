use super::*;
use crate::config::{ConfigFile, ConfigSource};
use proptest::prelude::*;

const SSO: &str = r#"{
  "Prod Admin": {"name": "Prod Admin", "account_id": "111111111111", "permission_set": "AdministratorAccess",
                 "session_duration": "PT4H", "requesters": ["group:Oncall", "lead@example.com"],
                 "approvers": ["group:Leads", "boss@example.com"], "break_glass": true, "tags": {"env": "prod"}},
  "Staging": {"name": "Staging", "account_id": "222222222222", "permission_set": "PowerUserAccess", "session_duration": "PT8H"},
  "Closed": {"name": "Closed", "account_id": "222222222222", "permission_set": "ReadOnly", "session_duration": "PT1H", "requesters": []}
}"#;

fn catalog() -> Catalog {
    Catalog::parse(&[ConfigSource {
        file: ConfigFile::AccessConfigs,
        text: SSO,
    }])
    .unwrap()
}

fn person(email: &str) -> Person {
    Person {
        email: email.to_owned(),
        id: Some(format!("id-{email}")),
        aliases: Vec::new(),
    }
}

/// 2025-12-01 (a Monday) at HH:MM UTC.
fn at(hour: i64, minute: i64) -> Timestamp {
    Timestamp::from_second(1_764_547_200 + hour * 3_600 + minute * 60).unwrap()
}

fn ask<'a>(
    action: PolicyAction,
    who: &'a Person,
    groups: &'a [String],
    access: &'a Access,
    reason: &'a str,
    when: Timestamp,
) -> Ask<'a> {
    Ask {
        action,
        principal: who,
        groups,
        access,
        duration_seconds: 3_600,
        reason,
        break_glass: action == PolicyAction::BreakGlass,
        channel: "cli",
        on_behalf: false,
        requester: None,
        at: when,
    }
}

#[test]
fn the_shipped_schema_parses_and_the_generated_policies_are_snapshotted() {
    let catalog = catalog();
    let engine = PolicyEngine::load(&catalog, None, None).unwrap();
    let texts: Vec<String> = engine
        .policies()
        .iter()
        .map(|p| format!("// {} ({})\n{}", p.id, p.source, p.text))
        .collect();
    insta::assert_snapshot!("generated_policies", texts.join("\n\n"));
    assert_eq!(engine.open_accesses(), ["Staging"]);
    assert_eq!(engine.groups(), ["Leads", "Oncall"]);
}

#[test]
fn requesters_by_group_and_by_name_are_permitted_and_no_one_else() {
    let catalog = catalog();
    let engine = PolicyEngine::load(&catalog, None, None).unwrap();
    let prod = catalog.find("Prod Admin").unwrap();
    let oncall = vec!["Oncall".to_owned()];
    let member = person("amy@example.com");
    let verdict = engine.decide(&ask(
        PolicyAction::Request,
        &member,
        &oncall,
        prod,
        "",
        at(9, 0),
    ));
    assert!(verdict.allowed, "{verdict:?}");
    assert_eq!(verdict.policies, ["requesters:Prod Admin"]);
    // Named under an alias: the directory's other names count.
    let mut lead = person("l.ead@example.com");
    lead.aliases.push("lead@example.com".to_owned());
    assert!(
        engine
            .decide(&ask(PolicyAction::Request, &lead, &[], prod, "", at(9, 0)))
            .allowed
    );
    let outsider = person("eve@example.com");
    let a = ask(PolicyAction::Request, &outsider, &[], prod, "", at(9, 0));
    let verdict = engine.decide(&a);
    assert!(!verdict.allowed);
    assert_eq!(
        verdict.refusal(&a),
        "eve@example.com may not request `Prod Admin`: no policy permits it (see `aws-jit policy explain Prod Admin`)"
    );
    // An empty list closes the access; no list leaves it open.
    let closed = catalog.find("Closed").unwrap();
    assert!(
        !engine
            .decide(&ask(
                PolicyAction::Request,
                &member,
                &oncall,
                closed,
                "",
                at(9, 0)
            ))
            .allowed
    );
    let staging = catalog.find("Staging").unwrap();
    assert!(
        engine
            .decide(&ask(
                PolicyAction::Request,
                &outsider,
                &[],
                staging,
                "",
                at(9, 0)
            ))
            .allowed
    );
    // default_requesters closes the open ones.
    let default = Requesters::parse_list("group:Oncall").unwrap();
    let closed_by_default = PolicyEngine::load(&catalog, Some(&default), None).unwrap();
    assert!(closed_by_default.open_accesses().is_empty());
    assert!(
        !closed_by_default
            .decide(&ask(
                PolicyAction::Request,
                &outsider,
                &[],
                staging,
                "",
                at(9, 0)
            ))
            .allowed
    );
    assert!(
        closed_by_default
            .decide(&ask(
                PolicyAction::Request,
                &member,
                &oncall,
                staging,
                "",
                at(9, 0)
            ))
            .allowed
    );
}

#[test]
fn a_forbid_wins_over_a_requesters_permit_and_is_named() {
    let catalog = catalog();
    let org = r#"
@id("prod-hours")
forbid(principal, action == AwsJit::Action::"request", resource)
when { resource.hasTag("env") && resource.getTag("env") == "prod" }
when { context.hour_utc < 7 || context.hour_utc >= 19 }
unless { context.break_glass };

@id("prod-needs-incident")
forbid(principal, action == AwsJit::Action::"request", resource)
when { resource.hasTag("env") && resource.getTag("env") == "prod" }
unless { context.reason like "INC-*" };
"#;
    let engine = PolicyEngine::load(&catalog, None, Some(org)).unwrap();
    let prod = catalog.find("Prod Admin").unwrap();
    let oncall = vec!["Oncall".to_owned()];
    let amy = person("amy@example.com");
    assert!(
        engine
            .decide(&ask(
                PolicyAction::Request,
                &amy,
                &oncall,
                prod,
                "INC-42",
                at(9, 0)
            ))
            .allowed
    );
    let late = ask(
        PolicyAction::Request,
        &amy,
        &oncall,
        prod,
        "INC-42",
        at(22, 30),
    );
    let verdict = engine.decide(&late);
    assert!(!verdict.allowed);
    assert_eq!(verdict.policies, ["prod-hours"]);
    assert!(
        verdict
            .refusal(&late)
            .ends_with("forbidden by policy `prod-hours`")
    );
    let mut glass = late.clone();
    glass.break_glass = true;
    assert!(
        engine.decide(&glass).allowed,
        "break-glass is the exception"
    );
    let no_incident = engine.decide(&ask(
        PolicyAction::Request,
        &amy,
        &oncall,
        prod,
        "fixing",
        at(9, 0),
    ));
    assert_eq!(no_incident.policies, ["prod-needs-incident"]);
    // A listing is not refused for what only the request can say (a reason, the hour).
    assert!(engine.may_request(&amy, &oncall, prod, "cli", at(22, 30)));
    assert!(!engine.may_request(&person("eve@example.com"), &[], prod, "cli", at(9, 0)));
}

#[test]
fn an_org_permit_with_a_duration_limit_admits_a_group() {
    let catalog = catalog();
    let org = r#"
@id("oncall-staging-2h")
permit(principal in AwsJit::Group::"Oncall", action == AwsJit::Action::"request", resource)
when { resource.account == "222222222222" && context.duration_seconds <= 7200 };
"#;
    let default = Requesters::parse_list("boss@example.com").unwrap();
    let engine = PolicyEngine::load(&catalog, Some(&default), Some(org)).unwrap();
    let closed = catalog.find("Closed").unwrap();
    let oncall = vec!["Oncall".to_owned()];
    let amy = person("amy@example.com");
    let mut long = ask(PolicyAction::Request, &amy, &oncall, closed, "", at(9, 0));
    assert!(engine.decide(&long).allowed);
    long.duration_seconds = 3 * 3_600;
    assert!(!engine.decide(&long).allowed);
    assert!(engine.may_request(&amy, &oncall, closed, "cli", at(9, 0)));
    assert!(!engine.may_request(&amy, &[], closed, "cli", at(9, 0)));
    // Only the parts of a condition that read the context are relaxed for listings: the
    // account still decides.
    let elsewhere = org.replace("222222222222", "333333333333");
    let engine = PolicyEngine::load(&catalog, Some(&default), Some(&elsewhere)).unwrap();
    assert!(!engine.may_request(&amy, &oncall, closed, "cli", at(9, 0)));
}

#[test]
fn approvers_and_break_glass_are_policies_too() {
    let catalog = catalog();
    let engine = PolicyEngine::load(&catalog, None, None).unwrap();
    let prod = catalog.find("Prod Admin").unwrap();
    let leads = vec!["Leads".to_owned()];
    let lee = person("lee@example.com");
    assert!(
        engine
            .decide(&ask(
                PolicyAction::Approve,
                &lee,
                &leads,
                prod,
                "",
                at(9, 0)
            ))
            .allowed
    );
    assert!(
        !engine
            .decide(&ask(PolicyAction::Approve, &lee, &[], prod, "", at(9, 0)))
            .allowed
    );
    let oncall = vec!["Oncall".to_owned()];
    let amy = person("amy@example.com");
    assert!(
        engine
            .decide(&ask(
                PolicyAction::BreakGlass,
                &amy,
                &oncall,
                prod,
                "",
                at(9, 0)
            ))
            .allowed
    );
    let staging = catalog.find("Staging").unwrap();
    assert!(
        !engine
            .decide(&ask(
                PolicyAction::BreakGlass,
                &amy,
                &oncall,
                staging,
                "",
                at(9, 0)
            ))
            .allowed
    );
    // Longer than the access allows.
    let mut long = ask(PolicyAction::Request, &amy, &oncall, prod, "", at(9, 0));
    long.duration_seconds = 5 * 3_600;
    assert_eq!(
        engine.decide(&long).policies,
        ["session_duration:Prod Admin"]
    );
}

#[test]
fn the_time_fields_are_utc_hour_minute_and_weekday() {
    let fields = |t: Timestamp| -> Vec<String> {
        entities::time_fields(t)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    };
    assert_eq!(
        fields(at(22, 30)),
        [
            "now=1764628200",
            "hour_utc=22",
            "minute_utc=30",
            "weekday_utc=\"Mon\""
        ]
    );
    // 1970-01-01 was a Thursday; 2024-02-29 a Thursday too; 2026-12-06 a Sunday.
    let day = |s: &str| fields(s.parse().unwrap())[3].clone();
    assert_eq!(day("1970-01-01T00:00:00Z"), "weekday_utc=\"Thu\"");
    assert_eq!(day("2024-02-29T23:59:59Z"), "weekday_utc=\"Thu\"");
    assert_eq!(day("2026-12-06T12:00:00Z"), "weekday_utc=\"Sun\"");
    assert_eq!(day("1969-12-31T23:59:59Z"), "weekday_utc=\"Wed\"");
}

#[test]
fn a_broken_policy_file_refuses_to_load_with_one_line_per_problem() {
    let catalog = catalog();
    let broken = "@id(\"a\")\npermit(principal, action, resource)\nwhen { principal.nope == 1 };\n\n@id(\"b\")\nforbid(principal, action == AwsJit::Action::\"fly\", resource);\n";
    let problems = PolicyEngine::load(&catalog, None, Some(broken)).unwrap_err();
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("policies.cedar:3:8: policy `a`: attribute `nope`"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("policies.cedar:6:29: policy `b`: unrecognized action"),
        "{lines:?}"
    );
    let syntax = PolicyEngine::load(
        &catalog,
        None,
        Some("permit(principal, action, resource)\nwhen { "),
    )
    .unwrap_err();
    assert!(syntax[0].0.starts_with("policies.cedar:2:"), "{syntax:?}");
    let taken = PolicyEngine::load(
        &catalog,
        None,
        Some("@id(\"requesters:x\")\npermit(principal, action, resource);"),
    )
    .unwrap_err();
    assert!(taken[0].0.contains("generated"), "{taken:?}");
    let twice = PolicyEngine::load(&catalog, None, Some("@id(\"x\")\npermit(principal, action, resource);\n@id(\"x\")\nforbid(principal, action, resource);")).unwrap_err();
    assert!(
        twice[0].0.starts_with("policies.cedar:3: policy `x`"),
        "{twice:?}"
    );
}

#[test]
fn explain_lists_the_policies_that_could_apply() {
    let catalog = catalog();
    let org = "@id(\"everywhere\")\nforbid(principal, action, resource) when { context.channel == \"web\" };";
    let engine = PolicyEngine::load(&catalog, None, Some(org)).unwrap();
    let ids: Vec<&str> = engine
        .explain(catalog.find("Staging").unwrap())
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["open:Staging", "session_duration:Staging", "everywhere"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// No person outside `requesters` is ever allowed to request, whatever they ask.
    #[test]
    fn no_one_outside_requesters_is_ever_permitted(
        people in proptest::collection::btree_set("[a-e]@example\\.com", 0..3),
        groups in proptest::collection::btree_set("G[1-3]", 0..3),
        who in "[a-f]@example\\.com",
        theirs in proptest::collection::btree_set("G[1-4]", 0..3),
        duration in 0u64..20_000,
        hour in 0i64..24,
        reason in "\\PC{0,12}",
        glass in any::<bool>(),
    ) {
        let list: Vec<String> = people.iter().cloned().chain(groups.iter().map(|g| format!("group:{g}"))).collect();
        let text = serde_json::json!({"A": {"name": "A", "account_id": "111111111111", "permission_set": "P",
            "session_duration": "PT2H", "requesters": list, "break_glass": true}}).to_string();
        let catalog = Catalog::parse(&[ConfigSource { file: ConfigFile::AccessConfigs, text: &text }]).unwrap();
        let engine = PolicyEngine::load(&catalog, None, None).unwrap();
        let access = catalog.find("A").unwrap();
        let theirs: Vec<String> = theirs.into_iter().collect();
        let principal = person(&who);
        let mut a = ask(PolicyAction::Request, &principal, &theirs, access, &reason, at(hour, 0));
        a.duration_seconds = duration;
        a.break_glass = glass;
        let inside = people.contains(&who) || theirs.iter().any(|g| groups.contains(g));
        for action in [PolicyAction::Request, PolicyAction::Extend, PolicyAction::BreakGlass] {
            a.action = action;
            let allowed = engine.decide(&a).allowed;
            prop_assert!(!allowed || inside, "{who} outside {list:?} was allowed to {action:?}");
        }
    }
}
