//! The chaos run: a benchmark-style command (`scripts/chaos`), not part of the suite.
//! Concurrent grants and revokes through the server, with a share of AWS calls
//! throttled or failing and the server killed and restarted along the way; at the end
//! AWS (through the SDK) is compared with the store.

use super::*;
use aws_jit_testkit::FaultProxy;
use std::time::{Duration, Instant};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
#[ignore = "a benchmark-style run: scripts/chaos"]
async fn chaos_run() {
    let grants = usize::try_from(env_number("AWS_JIT_CHAOS_GRANTS", 40)).unwrap();
    let per_mille = u32::try_from(env_number("AWS_JIT_CHAOS_FAULTS_PER_MILLE", 300)).unwrap();
    let seed = env_number("AWS_JIT_CHAOS_SEED", 7);
    let aws = MotoAws::connect().await;
    let account = unique_account();
    let permission_set = unique("PS");
    let permission_set_arn = aws.create_permission_set(&permission_set).await;
    let mut users = Vec::new();
    for _ in 0..grants {
        let email = format!("{}@example.com", unique("chaos"));
        let id = aws.create_user(&email).await;
        users.push((email, id));
    }
    let proxy = FaultProxy::start(&aws.endpoint());
    let mut tool = Tool::with_access(&aws, &account, &permission_set, "PT1H");
    tool.endpoint = proxy.url.clone();
    tool.env
        .push(("AWS_JIT_MAX_ATTEMPTS".to_owned(), "3".to_owned()));
    tool.env
        .push(("AWS_JIT_RETRY_BASE".to_owned(), "1s".to_owned()));
    tool.env
        .push(("AWS_JIT_LOCK_LEASE".to_owned(), "5s".to_owned()));
    let admin = super::serve::token(&tool, &["--name", "chaos", "--role", "admin"]);
    proxy.chaos(per_mille, seed);
    let started = Instant::now();
    let mut server = Some(super::serve::start(&tool));
    let mut restarts = 0;
    let mut rng = seed;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut granted: Vec<(String, String)> = Vec::new();
    let mut refused = 0;
    for (n, (email, _)) in users.iter().enumerate() {
        let seconds = 3 + next() % 6;
        let body = format!(r#"{{"access": "jit", "user": "{email}", "duration": "{seconds}s"}}"#);
        let addr = server.as_ref().unwrap().addr.clone();
        let (status, grant) =
            super::serve::call(&addr, "POST", "/api/v1/grants", Some(&admin), Some(&body));
        match status {
            201 => granted.push((grant["id"].as_str().unwrap().to_owned(), email.clone())),
            _ => refused += 1, // an AWS failure after retries: recorded and undone
        }
        // Revoke some early; kill -9 the server now and then.
        if next() % 4 == 0
            && let Some((id, _)) = granted.last()
        {
            let path = format!("/api/v1/grants/{id}/revoke");
            let _ = super::serve::call(&addr, "POST", &path, Some(&admin), None);
        }
        if n % 15 == 14 {
            drop(server.take()); // kill -9
            restarts += 1;
            server = Some(super::serve::start(&tool));
        }
    }
    // Wait for every grant to end (expiry, revocation, retries), faults still on.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let live = tool.json(&["grants"]).as_array().unwrap().len();
        if live == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{live} grants still live");
        std::thread::sleep(Duration::from_millis(500));
    }
    let converged = started.elapsed();
    proxy.chaos(0, seed);
    drop(server);
    let mut left_in_aws = 0;
    for (_, id) in &users {
        left_in_aws += aws.assignments(&account, &permission_set_arn, id).await;
    }
    let all = tool.json(&["grants", "--all"]);
    let all = all.as_array().unwrap();
    let mut duplicates = 0;
    let mut lost = 0;
    for grant in all {
        let actions = tool.audit_actions(grant["id"].as_str().unwrap());
        match terminal_count(&actions) {
            1 => {}
            0 => lost += 1,
            _ => duplicates += 1,
        }
    }
    let figures = proxy.figures();
    println!(
        "aws-jit chaos run: {grants} requests ({} granted, {refused} refused after retries), {per_mille}/1000 of AWS calls failing or throttled (seed {seed}), {restarts} server kill -9 restarts",
        granted.len()
    );
    println!(
        "converged in {:.1} s; AWS calls faulted: {}",
        converged.as_secs_f64(),
        figures.injected
    );
    println!(
        "assignments left in AWS beyond their grants: {left_in_aws}; lost revocations: {lost}; duplicate revocations: {duplicates}"
    );
    println!(
        "Identity Center calls at the proxy: at most {} in any second (limit 20); CreateAccountAssignment in flight at the proxy: at most {} (limit 10)",
        figures.max_identity_center_calls_per_second, figures.max_creations_in_flight
    );
    assert_eq!(left_in_aws, 0);
    assert_eq!(lost, 0);
    assert_eq!(duplicates, 0);
}
