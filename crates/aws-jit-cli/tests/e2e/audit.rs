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
    // Lingering: the tool's grant ended, yet the assignment is back (a lost delete).
    tool.json(&["grant", "jit", "--user", &f.email]);
    tool.ok(&["revoke", "jit", "--user", &f.email]);
    f.aws
        .assign(&f.account, &f.permission_set_arn, &f.user_id)
        .await;
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
        report[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["principal_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("lingering"), std::slice::from_ref(&f.user_id));
    assert_eq!(ids("unmanaged"), std::slice::from_ref(&standing));
    assert_eq!(ids("missing"), [gone]);
    assert!(ids("removed").is_empty(), "nothing removed without --fix");
    assert_eq!(f.assignments().await, 1);

    let fixed = tool.json(&["reconcile", "--fix"]);
    assert_eq!(fixed["removed"].as_array().unwrap().len(), 1);
    assert_eq!(f.assignments().await, 0, "the lingering assignment is gone");
    assert_eq!(
        f.aws
            .assignments(&f.account, &f.permission_set_arn, &standing)
            .await,
        1,
        "standing access is reported, not removed"
    );
    let events = tool.json(&["audit"]);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "access.drift_removed")
    );
    tool.ok(&["audit", "verify"]);
}
