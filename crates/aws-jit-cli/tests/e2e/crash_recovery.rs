//! A crash is simulated by writing the records a killed process leaves behind (through
//! the real store, with the lapsed lock a dead holder leaves), plus the AWS state it
//! may have left; then `aws-jit sweep` must converge.

use super::*;
use aws_jit_app::ports::{GrantChange, GrantStore, LockOp};
use aws_jit_core::grant::NewGrant;
use aws_jit_core::{
    AccessOrigin, AuditAction, AuditEvent, Catalog, ConfigFile, ConfigSource, GrantId, GrantStatus,
    GrantTarget, UserEmail,
};
use jiff::{SignedDuration, Timestamp};

#[expect(
    clippy::disallowed_methods,
    reason = "tests build records for the real clock"
)]
fn now() -> Timestamp {
    Timestamp::now()
}

pub(super) async fn store(tool: &Tool) -> std::sync::Arc<dyn GrantStore> {
    aws_jit_store::open(&tool.db()).await.unwrap()
}

/// What a crashed grant of the fixture's assignment had recorded.
pub(super) fn assignment(f: &Fixture) -> GrantTarget {
    GrantTarget::Assignment {
        instance_arn: f.aws.instance_arn.clone(),
        account_id: f.account.clone(),
        permission_set: f.permission_set.clone(),
        permission_set_arn: f.permission_set_arn.clone(),
        principal_id: f.user_id.clone(),
    }
}

/// Writes a grant of the tool's only access as a process that died while provisioning
/// it would have left it; returns its id.
pub(super) async fn leave_provisioning(
    tool: &Tool,
    email: &str,
    id: &str,
    target: GrantTarget,
    origin: AccessOrigin,
) {
    let mut sources = Vec::new();
    let mut texts = Vec::new();
    for file in ConfigFile::ALL {
        if let Ok(text) = std::fs::read_to_string(tool.config_dir.join(file.file_name())) {
            texts.push((file, text));
        }
    }
    for (file, text) in &texts {
        sources.push(ConfigSource { file: *file, text });
    }
    let catalog = Catalog::parse(&sources).unwrap();
    let user = UserEmail::parse(email).unwrap();
    let at = now() - SignedDuration::from_secs(5);
    let grant = NewGrant {
        id: GrantId::new(id),
        access: &catalog.accesses()[0],
        user: &user,
        requested_by: &aws_jit_core::Actor::operator("tester"),
        user_id: target.principal_id().map(str::to_owned),
        target,
        reason: None,
        now: at,
        expires_at: at + SignedDuration::from_secs(3_600),
    }
    .into_grant();
    let event = AuditEvent {
        seq: 0,
        time: at,
        actor: "tester".to_owned(),
        action: AuditAction::GrantRequested,
        grant_id: id.to_owned(),
        access: grant.access.clone(),
        user: grant.user.clone(),
        detail: String::new(),
        prev_hash: String::new(),
        hash: String::new(),
    };
    let store = store(tool).await;
    // The lease lapsed a second ago: its holder is dead.
    let lapsed = now() - SignedDuration::from_secs(1);
    let holder = "crashed-process";
    store
        .insert_grant(&grant, &event, &[], holder, lapsed, at)
        .await
        .unwrap();
    if origin != AccessOrigin::Unknown {
        let mut intent = grant.clone();
        intent.origin = origin;
        intent.version = 1;
        let change = GrantChange {
            grant: intent,
            expected_version: 0,
            event: None,
            lock: LockOp::Keep,
            next_attempt_at: None,
            outbox: Vec::new(),
            holder: holder.to_owned(),
        };
        store.apply(&change, at).await.unwrap();
    }
}

#[tokio::test]
async fn a_grant_interrupted_after_creating_the_assignment_is_undone() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let id = unique("crash");
    leave_provisioning(
        &tool,
        &f.email,
        &id,
        assignment(&f),
        AccessOrigin::CreatedByTool,
    )
    .await;
    f.aws
        .assign(&f.account, &f.permission_set_arn, &f.user_id)
        .await;
    let report = tool.json(&["sweep"]);
    assert_eq!(report["undone"][0], id.as_str(), "{report}");
    assert_eq!(f.assignments().await, 0);
    let actions = tool.audit_actions(&id);
    assert_eq!(actions.last().unwrap(), "grant.failed");
    assert_eq!(terminal_count(&actions), 1);
}

#[tokio::test]
async fn a_new_grant_finishes_an_interrupted_one_first_so_nothing_is_left_behind() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let stale = unique("crash");
    leave_provisioning(
        &tool,
        &f.email,
        &stale,
        assignment(&f),
        AccessOrigin::CreatedByTool,
    )
    .await;
    // The crashed process had created the assignment.
    f.aws
        .assign(&f.account, &f.permission_set_arn, &f.user_id)
        .await;
    let grant = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(
        grant["origin"], "created",
        "not mistaken for standing access"
    );
    let g = store(&tool)
        .await
        .grant(&GrantId::new(stale.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.status, GrantStatus::Failed);
    assert_eq!(f.assignments().await, 1);
    tool.ok(&["revoke", "jit", "--user", &f.email]);
    assert_eq!(f.assignments().await, 0, "nothing left once the grant ends");
}

#[tokio::test]
async fn a_grant_interrupted_before_reaching_aws_is_closed_without_touching_aws() {
    let f = Fixture::new().await;
    // Standing access the interrupted grant never touched must survive the undo.
    f.aws
        .assign(&f.account, &f.permission_set_arn, &f.user_id)
        .await;
    let tool = f.tool("1h");
    let id = unique("crash");
    leave_provisioning(&tool, &f.email, &id, assignment(&f), AccessOrigin::Unknown).await;
    let report = tool.json(&["sweep"]);
    assert_eq!(report["undone"][0], id.as_str(), "{report}");
    assert_eq!(f.assignments().await, 1);
    let g = store(&tool)
        .await
        .grant(&GrantId::new(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.status, GrantStatus::Failed);
}

#[tokio::test]
async fn a_revoke_that_fails_in_aws_stays_due_and_a_later_sweep_finishes_it() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let grant = tool.json(&["grant", "jit", "--user", &f.email]);
    let id = grant["id"].as_str().unwrap();
    // AWS unreachable: a closed port.
    let out = tool
        .command(&["revoke", "--grant", id])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_JIT_RETRY_BASE", "1s")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("will retry"), "{err}");
    assert_eq!(f.assignments().await, 1, "still there: the revoke failed");
    let g = store(&tool)
        .await
        .grant(&GrantId::new(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.status, GrantStatus::Revoking);
    assert_eq!(g.attempts, 1);

    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let report = tool.json(&["sweep"]);
    assert_eq!(report["revoked"][0], id, "{report}");
    assert_eq!(f.assignments().await, 0);
    let actions = tool.audit_actions(id);
    assert!(actions.contains(&"grant.revoke_failed".to_owned()));
    assert_eq!(actions.last().unwrap(), "grant.revoked");
    assert_eq!(terminal_count(&actions), 1);
}
