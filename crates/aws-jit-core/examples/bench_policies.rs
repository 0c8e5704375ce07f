//! Policy decision time (`scripts/bench-policies`): 1,000 accesses with `requesters`, 100
//! organisation policies, and many random questions. Prints load time, decision time
//! percentiles and the listing time for one person; it asserts nothing.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "a benchmark command"
)]

use std::time::Instant;

use aws_jit_core::actor::Person;
use aws_jit_core::config::{Catalog, ConfigFile, ConfigSource};
use aws_jit_core::eligibility::{Ask, PolicyAction, PolicyEngine};

fn main() {
    let accesses: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    let org_policies: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let questions: usize = std::env::args()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let mut entries = serde_json::Map::new();
    for i in 0..accesses {
        entries.insert(
            format!("access-{i}"),
            serde_json::json!({
                "name": format!("Access {i}"),
                "account_id": format!("{:012}", 100_000_000_000u64 + (i % 50) as u64),
                "permission_set": format!("Set{}", i % 20),
                "session_duration": "PT4H",
                "requesters": [format!("user{}@example.com", i % 97), format!("group:team-{}", i % 30)],
                "approvers": [format!("group:leads-{}", i % 10)],
                "break_glass": i % 3 == 0,
                "tags": {"env": if i % 4 == 0 { "prod" } else { "dev" }, "team": format!("team-{}", i % 30)},
            }),
        );
    }
    let text = serde_json::Value::Object(entries).to_string();
    let catalog = Catalog::parse(&[ConfigSource {
        file: ConfigFile::AccessConfigs,
        text: &text,
    }])
    .unwrap();
    let mut org = String::new();
    for i in 0..org_policies {
        let policy = match i % 4 {
            0 => format!(
                "@id(\"p{i}\")\nforbid(principal, action == AwsJit::Action::\"request\", resource)\nwhen {{ resource.hasTag(\"team\") && resource.getTag(\"team\") == \"team-{}\" && (context.hour_utc < 7 || context.hour_utc >= 19) }}\nunless {{ context.break_glass }};\n",
                i % 30
            ),
            1 => format!(
                "@id(\"p{i}\")\nforbid(principal, action == AwsJit::Action::\"request\", resource == AwsJit::Access::\"access-{}\")\nunless {{ context.reason like \"INC-*\" }};\n",
                i * 7 % accesses.max(1)
            ),
            2 => format!(
                "@id(\"p{i}\")\npermit(principal in AwsJit::Group::\"oncall-{}\", action == AwsJit::Action::\"request\", resource)\nwhen {{ resource.account == \"{:012}\" && context.duration_seconds <= 7200 }};\n",
                i % 5,
                100_000_000_000u64 + (i % 50) as u64
            ),
            _ => format!(
                "@id(\"p{i}\")\nforbid(principal, action, resource)\nwhen {{ context.channel == \"web\" && principal.email like \"*@contractor-{i}.example\" }};\n"
            ),
        };
        org.push_str(&policy);
    }
    let started = Instant::now();
    let engine = PolicyEngine::load(&catalog, None, Some(&org)).unwrap();
    let load = started.elapsed();
    let people: Vec<Person> = (0..100)
        .map(|i| Person {
            email: format!("user{i}@example.com"),
            id: Some(format!("id-{i}")),
            aliases: vec![format!("u{i}")],
        })
        .collect();
    let groups: Vec<Vec<String>> = (0..100)
        .map(|i| vec![format!("team-{}", i % 30), format!("oncall-{}", i % 5)])
        .collect();
    let mut times = Vec::with_capacity(questions);
    let mut allowed = 0usize;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let at = jiff::Timestamp::from_second(1_764_590_400).unwrap();
    for _ in 0..questions {
        let p = (next() % 100) as usize;
        let access = &catalog.accesses()[(next() % accesses as u64) as usize];
        let ask = Ask {
            action: if next() % 5 == 0 {
                PolicyAction::Approve
            } else {
                PolicyAction::Request
            },
            principal: &people[p],
            groups: &groups[p],
            access,
            duration_seconds: 1_800 * (1 + next() % 8),
            reason: if next() % 2 == 0 {
                "INC-42"
            } else {
                "debugging"
            },
            break_glass: next() % 10 == 0,
            channel: "api",
            on_behalf: false,
            requester: None,
            at,
        };
        let t = Instant::now();
        let verdict = engine.decide(&ask);
        times.push(t.elapsed());
        allowed += usize::from(verdict.allowed);
    }
    times.sort();
    let pct = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
    let t = Instant::now();
    let listed = catalog
        .accesses()
        .iter()
        .filter(|a| engine.may_request(&people[0], &groups[0], a, "api", at))
        .count();
    let listing = t.elapsed();
    let all: Vec<_> = catalog.accesses().iter().collect();
    // The listing is timed over several rounds (the last is reported).
    let rounds: usize = std::env::args()
        .nth(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let (mut batch, mut batched) = (0, std::time::Duration::ZERO);
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        batch = engine
            .requestable(&people[0], &groups[0], &all, "api", at)
            .len();
        batched = t.elapsed();
    }
    assert_eq!(batch, listed, "the batched listing agrees");
    println!(
        "policies: {accesses} accesses, {} policies ({} generated + {org_policies} organisation), loaded in {:.1} ms",
        engine.policies().len(),
        engine.policies().len() - org_policies,
        load.as_secs_f64() * 1e3
    );
    println!(
        "decisions: {questions} ({allowed} allowed): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        pct(0.50),
        pct(0.99),
        times.last().unwrap().as_secs_f64() * 1e6
    );
    println!(
        "listing for one person: {listed} of {accesses} accesses in {:.1} ms one by one, {:.1} ms batched",
        listing.as_secs_f64() * 1e3,
        batched.as_secs_f64() * 1e3
    );
}
