//! The audit chain's verification and reconciliation against AWS.

use super::*;

#[tokio::test]
async fn audit_verify_names_the_first_edited_or_deleted_event() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    tool.json(&["grant", "jit", "--user", &f.email]);
    tool.ok(&["revoke", "jit", "--user", &f.email]);
    let ok = tool.json(&["audit", "verify"]);
    assert_eq!(ok["verified"], 4);
    let lines = tool.ok(&["audit", "--jsonl"]);
    assert_eq!(lines.lines().count(), 4);
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["prev_hash"].as_str().unwrap(), "0".repeat(64));

    // Someone with the database file removes the guard and rewrites history.
    let db = tool.dir.path().join("jit.db");
    let tamper = |sql: &str| {
        let script = format!(
            "import sqlite3; c = sqlite3.connect({db:?}); c.executescript({sql:?}); c.commit()",
            db = db.display().to_string()
        );
        let status = Command::new("python3")
            .args(["-c", &script])
            .status()
            .unwrap();
        assert!(status.success());
    };
    tamper(
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; \
         UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 2;",
    );
    let (code, err) = tool.fails(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(err.contains("audit event 2 was edited"), "{err}");

    tamper("DELETE FROM audit_events WHERE seq = 2;");
    let (_, err) = tool.fails(&["audit", "verify"]);
    assert!(err.contains("breaks at event 3"), "{err}");
}

#[tokio::test]
async fn reconcile_finds_lingering_unmanaged_and_missing_assignments_and_fixes_the_first() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    // Back after a confirmed removal: the tool's grant ended and its delete was confirmed,
    // so an administrator assigned it since. Standing access: reported, never removed
    // (issue 14, finding 2: it was removed as "lingering").
    tool.json(&["grant", "jit", "--user", &f.email]);
    tool.ok(&["revoke", "jit", "--user", &f.email]);
    f.aws
        .assign(&f.account, &f.permission_set_arn, &f.user_id)
        .await;
    // Lingering: the tool created it and never saw it removed (as the takeover path records).
    let lost_email = format!("{}@example.com", unique("lost"));
    let lost = f.aws.create_user(&lost_email).await;
    tool.json(&["grant", "jit", "--user", &lost_email]);
    tool.ok(&["revoke", "jit", "--user", &lost_email]);
    f.aws.assign(&f.account, &f.permission_set_arn, &lost).await;
    let store = super::crash_recovery::store(&tool).await;
    let target_key = format!("sso:{}:{}:{lost_email}", f.account, f.permission_set);
    store
        .cache_put(
            &format!("lingering:{target_key}"),
            "g",
            jiff::Timestamp::from_second(1_900_000_000).unwrap(),
        )
        .await
        .unwrap();
    // Unmanaged: someone assigned by hand, no grant.
    let standing_email = format!("{}@example.com", unique("standing"));
    let standing = f.aws.create_user(&standing_email).await;
    f.aws
        .assign(&f.account, &f.permission_set_arn, &standing)
        .await;
    // Missing: an active grant whose assignment an administrator removed.
    let gone_email = format!("{}@example.com", unique("gone"));
    let gone = f.aws.create_user(&gone_email).await;
    tool.json(&["grant", "jit", "--user", &gone_email]);
    f.aws
        .unassign(&f.account, &f.permission_set_arn, &gone)
        .await;

    let report = tool.json(&["reconcile"]);
    let ids = |kind: &str| -> Vec<String> {
        let mut ids: Vec<String> = report[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["principal_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("lingering"), std::slice::from_ref(&lost));
    let mut unmanaged = vec![f.user_id.clone(), standing.clone()];
    unmanaged.sort();
    assert_eq!(ids("unmanaged"), unmanaged);
    assert_eq!(ids("missing"), [gone]);
    assert!(ids("removed").is_empty(), "nothing removed without --fix");

    let fixed = tool.json(&["reconcile", "--fix"]);
    assert_eq!(fixed["removed"].as_array().unwrap().len(), 1);
    let count = |principal: String| {
        let aws = f.aws.clone();
        let (account, arn) = (f.account.clone(), f.permission_set_arn.clone());
        async move { aws.assignments(&account, &arn, &principal).await }
    };
    assert_eq!(
        count(lost.clone()).await,
        0,
        "the lingering assignment is gone"
    );
    assert_eq!(f.assignments().await, 1, "access assigned again is kept");
    assert_eq!(count(standing).await, 1, "standing access is kept");
    let events = tool.json(&["audit"]);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "access.drift_removed")
    );
    tool.ok(&["audit", "verify"]);
    // Once removed, nothing is lingering any more.
    let again = tool.json(&["reconcile"]);
    assert!(again["lingering"].as_array().unwrap().is_empty(), "{again}");
}
