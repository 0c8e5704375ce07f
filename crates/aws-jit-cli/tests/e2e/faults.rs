//! Against a fault-injecting proxy in front of moto: throttling, conflicts and 5xx are
//! retried; an assignment that stays `IN_PROGRESS` is polled to the end; a `FAILED` one
//! surfaces AWS's reason and nothing is recorded as active.

use super::*;
use aws_jit_testkit::{Fault, FaultProxy};

fn through(f: &Fixture, proxy: &FaultProxy) -> Tool {
    let mut tool = f.tool("1h");
    tool.endpoint = proxy.url.clone();
    tool
}

#[tokio::test]
async fn throttling_conflicts_and_server_errors_are_retried() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(&f.aws.endpoint());
    let mut tool = through(&f, &proxy);
    // SDK retries on, as in production.
    tool.env
        .push(("AWS_JIT_MAX_ATTEMPTS".to_owned(), "3".to_owned()));
    proxy.inject("CreateAccountAssignment", Fault::Throttle, 2);
    proxy.inject("CreateAccountAssignment", Fault::Conflict, 1);
    proxy.inject(
        "ListAccountAssignmentsForPrincipal",
        Fault::ServerError(503),
        1,
    );
    let grant = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(grant["status"], "active");
    assert_eq!(f.assignments().await, 1);
    assert_eq!(
        proxy.calls("CreateAccountAssignment"),
        4,
        "three refused, then done"
    );
    proxy.inject("DeleteAccountAssignment", Fault::Throttle, 1);
    tool.ok(&["revoke", "jit", "--user", &f.email]);
    assert_eq!(f.assignments().await, 0);
}

#[tokio::test]
async fn slow_answers_and_dropped_connections_are_survived() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(&f.aws.endpoint());
    let mut tool = through(&f, &proxy);
    tool.env
        .push(("AWS_JIT_MAX_ATTEMPTS".to_owned(), "3".to_owned()));
    proxy.inject("GetUserId", Fault::Drop, 1);
    proxy.inject(
        "CreateAccountAssignment",
        Fault::Delay(std::time::Duration::from_millis(1_500)),
        1,
    );
    let started = std::time::Instant::now();
    let grant = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(grant["status"], "active");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1_500));
    assert_eq!(proxy.calls("GetUserId"), 2, "dropped once, then answered");
    assert_eq!(f.assignments().await, 1);
}

#[tokio::test]
async fn an_assignment_in_progress_is_polled_until_it_succeeds() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(&f.aws.endpoint());
    let tool = through(&f, &proxy);
    proxy.inject("CreateAccountAssignment", Fault::InProgress, 1);
    proxy.inject(
        "DescribeAccountAssignmentCreationStatus",
        Fault::InProgress,
        2,
    );
    let grant = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(grant["status"], "active");
    assert_eq!(proxy.calls("DescribeAccountAssignmentCreationStatus"), 3);
    let id = grant["id"].as_str().unwrap();
    assert_eq!(tool.audit_actions(id).last().unwrap(), "grant.activated");
}

#[tokio::test]
async fn a_failed_assignment_surfaces_the_reason_and_nothing_is_active() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(&f.aws.endpoint());
    let tool = through(&f, &proxy);
    proxy.inject("CreateAccountAssignment", Fault::InProgress, 1);
    let reason = "Received a 404 status error: Not supported account";
    proxy.inject(
        "DescribeAccountAssignmentCreationStatus",
        Fault::FailedWith(reason.to_owned()),
        1,
    );
    let (code, err) = tool.fails(&["grant", "jit", "--user", &f.email]);
    assert_eq!(code, 1);
    assert!(err.contains(reason), "{err}");
    let grants = tool.json(&["grants", "--all"]);
    let grants = grants.as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["status"], "failed", "{grants:?}");
    assert!(
        tool.json(&["grants"]).as_array().unwrap().is_empty(),
        "nothing live"
    );
    let actions = tool.audit_actions(grants[0]["id"].as_str().unwrap());
    assert_eq!(actions.last().unwrap(), "grant.failed");
    assert_eq!(terminal_count(&actions), 1);
}
