//! The target lock, against a real SQLite file: a lapsed lease can be taken over, and the
//! process that lost it can no longer write.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use aws_jit_app::ports::{GrantChange, LockOp, StoreError};
use aws_jit_core::grant::NewGrant;
use aws_jit_core::{
    AuditAction, AuditEvent, Catalog, ConfigFile, ConfigSource, GrantId, UserEmail,
};
use jiff::{SignedDuration, Timestamp};

const CONFIG: &str = r#"{"a": {"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H"}}"#;

#[tokio::test]
async fn a_lapsed_lock_can_be_taken_over_and_the_loser_can_no_longer_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = aws_jit_store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .unwrap();
    let catalog = Catalog::parse(&[ConfigSource {
        file: ConfigFile::AccessConfigs,
        text: CONFIG,
    }])
    .unwrap();
    let user = UserEmail::parse("a@example.com").unwrap();
    let t0 = Timestamp::from_second(1_800_000_000).unwrap();
    let grant = NewGrant {
        id: GrantId::new("g-1"),
        access: &catalog.accesses()[0],
        user: &user,
        requested_by: "a@example.com",
        principal_id: None,
        instance_arn: None,
        permission_set_arn: None,
        iam_user: None,
        policy_arn: None,
        reason: None,
        now: t0,
        expires_at: t0 + SignedDuration::from_secs(3_600),
    }
    .into_grant();
    let event = AuditEvent {
        seq: 0,
        time: t0,
        actor: "a@example.com".to_owned(),
        action: AuditAction::GrantRequested,
        grant_id: "g-1".to_owned(),
        access: "a".to_owned(),
        user: "a@example.com".to_owned(),
        detail: String::new(),
        prev_hash: String::new(),
        hash: String::new(),
    };
    let lease = t0 + SignedDuration::from_secs(60);
    store
        .insert_grant(&grant, &event, "slow", lease, t0)
        .await
        .unwrap();

    let change = |holder: &str, lock: LockOp, expected: i64| {
        let mut next = grant.clone();
        next.version = expected + 1;
        GrantChange {
            grant: next,
            expected_version: expected,
            event: None,
            lock,
            next_attempt_at: None,
            holder: holder.to_owned(),
        }
    };
    // While the lease runs, nobody else gets the lock.
    let during = t0 + SignedDuration::from_secs(30);
    let busy = store
        .apply(
            &change(
                "sweeper",
                LockOp::Acquire(during + SignedDuration::from_secs(60)),
                0,
            ),
            during,
        )
        .await;
    assert!(
        matches!(busy, Err(StoreError::TargetBusy { .. })),
        "{busy:?}"
    );
    // After it lapses, a sweeper takes it over...
    let after = t0 + SignedDuration::from_secs(61);
    store
        .apply(
            &change(
                "sweeper",
                LockOp::Acquire(after + SignedDuration::from_secs(60)),
                0,
            ),
            after,
        )
        .await
        .unwrap();
    // ...and the slow holder's next write is refused, even with the right version.
    let late = store
        .apply(&change("slow", LockOp::Release, 1), after)
        .await;
    assert!(matches!(late, Err(StoreError::LockLost(_))), "{late:?}");
    // The sweeper keeps working and releases it.
    store
        .apply(&change("sweeper", LockOp::Release, 1), after)
        .await
        .unwrap();
}
