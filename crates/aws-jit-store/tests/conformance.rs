//! The store conformance suite: every check runs against SQLite (a temporary file) and
//! PostgreSQL (a fresh schema in `AWS_JIT_TEST_PG`; `scripts/test` sets it), through the
//! [`GrantStore`] trait only, so both backends keep one behaviour.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::sync::Arc;

use aws_jit_app::ports::{
    AuditQuery, GrantChange, GrantFilter, GrantStore, LockOp, OutboxMessage, Recipient, StoreError,
};
use aws_jit_core::audit::verify_chain;
use aws_jit_core::auth::{ApiToken, Role};
use aws_jit_core::grant::NewGrant;
use aws_jit_core::{
    AuditAction, AuditEvent, Catalog, ConfigFile, ConfigSource, EndCause, Grant, GrantId,
    GrantStatus, GrantTarget, UserEmail,
};
use aws_jit_testkit::PgSchema;
use jiff::{SignedDuration, Timestamp};

const CONFIG: &str = r#"{
  "a": {"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H"},
  "b": {"name": "B", "account_id": "123456789012", "permission_set": "Q", "session_duration": "PT1H"}
}"#;

/// Where a check runs; holds what must outlive the store (the file, the schema).
#[derive(Debug)]
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(PgSchema),
}

impl Backend {
    async fn open(&self) -> Arc<dyn GrantStore> {
        let url = match self {
            Backend::Sqlite(dir) => format!("sqlite://{}", dir.path().join("s.db").display()),
            Backend::Postgres(schema) => schema.url.clone(),
        };
        aws_jit_store::open(&url).await.unwrap()
    }
}

fn sqlite() -> Backend {
    Backend::Sqlite(tempfile::tempdir().unwrap())
}

async fn postgres() -> Option<Backend> {
    let schema = PgSchema::create().await;
    if schema.is_none() {
        eprintln!("skipped: AWS_JIT_TEST_PG is not set");
    }
    schema.map(Backend::Postgres)
}

/// Runs each check once per backend, as `sqlite::NAME` and `postgres::NAME`.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                super::$check(&super::sqlite()).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if let Some(backend) = super::postgres().await {
                    super::$check(&backend).await;
                }
            })*
        }
    };
}

conformance!(
    a_lapsed_lock_can_be_taken_over_and_the_loser_can_no_longer_write,
    grants_round_trip_and_filter,
    due_work_skips_live_locks_and_waits_for_retries,
    a_stale_version_is_refused,
    concurrent_writers_keep_one_unbroken_audit_chain,
    two_replicas_claim_each_due_grant_exactly_once,
    audit_query_filters_and_pages,
    cache_round_trips,
    reopening_keeps_everything,
    tokens_are_unique_by_name_and_revocable,
    grant_pages_follow_the_cursor,
    another_handles_change_wakes_a_waiter_where_the_backend_can_tell,
    queued_notifications_are_claimed_once_retried_and_given_up,
    web_sessions_live_until_they_end_and_sign_ins_are_taken_once,
    a_grant_is_warned_once_per_expiry_by_any_number_of_replicas,
);

fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

fn new_grant(id: &str, access: usize, user: &str, now: Timestamp, ttl: i64) -> Grant {
    let catalog = Catalog::parse(&[ConfigSource {
        file: ConfigFile::AccessConfigs,
        text: CONFIG,
    }])
    .unwrap();
    let user = UserEmail::parse(user).unwrap();
    NewGrant {
        id: GrantId::new(id),
        access: &catalog.accesses()[access],
        user: &user,
        requested_by: &aws_jit_core::Actor::person(
            aws_jit_core::Person::unresolved(user.as_str()),
            aws_jit_core::Channel::Cli,
        ),
        user_id: Some(format!("u-{}", user.normalized())),
        target: GrantTarget::Assignment {
            instance_arn: "arn:aws:sso:::instance/ssoins-1".to_owned(),
            account_id: "123456789012".to_owned(),
            permission_set: "P".to_owned(),
            permission_set_arn: "arn:aws:sso:::permissionSet/ssoins-1/ps-1".to_owned(),
            principal_id: format!("u-{}", user.normalized()),
        },
        reason: Some("on call".to_owned()),
        now,
        expires_at: now + secs(ttl),
    }
    .into_grant()
}

fn event(grant: &Grant, action: AuditAction, time: Timestamp) -> AuditEvent {
    AuditEvent {
        seq: 0,
        time,
        actor: grant.user.clone(),
        action,
        grant_id: grant.id.to_string(),
        access: grant.access.clone(),
        user: grant.user.clone(),
        detail: format!("{} of {}", action.as_str(), grant.id),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// Records a grant as `provisioning`, its lock held by `holder` for a minute.
async fn insert(store: &dyn GrantStore, grant: &Grant, holder: &str) {
    let now = grant.requested_at;
    let requested = event(grant, AuditAction::GrantRequested, now);
    store
        .insert_grant(grant, &requested, &[], holder, now + secs(60), now)
        .await
        .unwrap();
}

fn change(grant: &Grant, holder: &str, lock: LockOp, status: GrantStatus) -> GrantChange {
    let mut next = grant.clone();
    next.status = status;
    next.version = grant.version + 1;
    GrantChange {
        grant: next,
        expected_version: grant.version,
        event: None,
        lock,
        next_attempt_at: None,
        outbox: Vec::new(),
        holder: holder.to_owned(),
    }
}

/// Records and activates a grant, releasing its lock.
async fn active(store: &dyn GrantStore, id: &str, access: usize, ttl: i64) -> Grant {
    let grant = new_grant(id, access, &format!("{id}@example.com"), t0(), ttl);
    insert(store, &grant, id).await;
    let mut c = change(&grant, id, LockOp::Release, GrantStatus::Active);
    c.grant.granted_at = Some(t0());
    c.event = Some(event(&grant, AuditAction::GrantActivated, t0()));
    store.apply(&c, t0()).await.unwrap();
    c.grant
}

fn ids(grants: &[Grant]) -> Vec<String> {
    grants.iter().map(|g| g.id.to_string()).collect()
}

async fn a_lapsed_lock_can_be_taken_over_and_the_loser_can_no_longer_write(backend: &Backend) {
    let store = backend.open().await;
    let grant = new_grant("g-1", 0, "a@example.com", t0(), 3_600);
    insert(store.as_ref(), &grant, "slow").await;
    let status = GrantStatus::Provisioning;
    // While the lease runs, nobody else gets the lock.
    let during = t0() + secs(30);
    let attempt = change(
        &grant,
        "sweeper",
        LockOp::Acquire(during + secs(60)),
        status,
    );
    let busy = store.apply(&attempt, during).await;
    assert!(
        matches!(&busy, Err(StoreError::TargetBusy { holder }) if holder == "slow"),
        "{busy:?}"
    );
    // After it lapses, a sweeper takes it over...
    let after = t0() + secs(61);
    let taken = change(&grant, "sweeper", LockOp::Acquire(after + secs(60)), status);
    store.apply(&taken, after).await.unwrap();
    // ...and the slow holder's next write is refused, even with the right version.
    let late = store
        .apply(
            &change(&taken.grant, "slow", LockOp::Release, status),
            after,
        )
        .await;
    assert!(matches!(late, Err(StoreError::LockLost(_))), "{late:?}");
    // The sweeper keeps working and releases it; then the next grant on the target may
    // take it.
    store
        .apply(
            &change(&taken.grant, "sweeper", LockOp::Release, status),
            after,
        )
        .await
        .unwrap();
    let next = new_grant("g-2", 0, "a@example.com", after, 3_600);
    insert(store.as_ref(), &next, "next").await;
}

async fn grants_round_trip_and_filter(backend: &Backend) {
    let store = backend.open().await;
    let first = active(store.as_ref(), "g-a", 0, 3_600).await;
    let second = active(store.as_ref(), "g-b", 1, 60).await;
    let read = store.grant(&first.id).await.unwrap().unwrap();
    assert_eq!(read.status, GrantStatus::Active);
    assert_eq!(read.reason.as_deref(), Some("on call"));
    assert_eq!(read.granted_at, Some(t0()));
    assert_eq!(read.expires_at, t0() + secs(3_600));
    assert_eq!(read.version, first.version);
    assert_eq!(read.target, first.target, "the target is stored whole");
    assert_eq!(read.user_id, first.user_id);
    assert_eq!(read.requested_by, first.requested_by);
    assert!(store.grant(&GrantId::new("nope")).await.unwrap().is_none());

    // End the second one.
    let lease = LockOp::Acquire(t0() + secs(60));
    let mut ending = change(&second, "ender", lease, GrantStatus::Revoking);
    ending.grant.end_cause = Some(EndCause::Requested);
    store.apply(&ending, t0()).await.unwrap();
    let mut done = change(
        &ending.grant,
        "ender",
        LockOp::Release,
        GrantStatus::Revoked,
    );
    done.grant.ended_at = Some(t0() + secs(1));
    store.apply(&done, t0()).await.unwrap();

    let live = store.grants(&GrantFilter::default()).await.unwrap();
    assert_eq!(ids(&live), ["g-a"]);
    let everything = GrantFilter {
        include_ended: true,
        ..GrantFilter::default()
    };
    assert_eq!(store.grants(&everything).await.unwrap().len(), 2);
    let by_user = store
        .grants(&GrantFilter {
            include_ended: true,
            user: Some("g-b@example.com".to_owned()),
            ..GrantFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&by_user), ["g-b"]);
    assert_eq!(by_user[0].end_cause, Some(EndCause::Requested));
    assert_eq!(by_user[0].ended_at, Some(t0() + secs(1)));
    let by_status = store
        .grants(&GrantFilter {
            statuses: vec![GrantStatus::Revoked, GrantStatus::Expired],
            access: Some("b".to_owned()),
            ..GrantFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&by_status), ["g-b"]);
    let mut counts = store.count_by_status().await.unwrap();
    counts.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(
        counts,
        [(GrantStatus::Active, 1), (GrantStatus::Revoked, 1)]
    );
}

async fn due_work_skips_live_locks_and_waits_for_retries(backend: &Backend) {
    let store = backend.open().await;
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let soon = active(store.as_ref(), "g-soon", 0, 10).await;
    active(store.as_ref(), "g-later", 1, 100).await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(t0() + secs(10)));
    assert!(store.due(t0() + secs(9), 10).await.unwrap().is_empty());
    let at_ten = store.due(t0() + secs(10), 10).await.unwrap();
    assert_eq!(ids(&at_ten), ["g-soon"]);
    let at_hundred = store.due(t0() + secs(100), 10).await.unwrap();
    assert_eq!(ids(&at_hundred), ["g-soon", "g-later"]);
    assert_eq!(store.due(t0() + secs(100), 1).await.unwrap().len(), 1);

    // A revocation in progress (lock live) is nobody else's work; a failed one waits for
    // its next attempt.
    let at = t0() + secs(10);
    let lease = LockOp::Acquire(at + secs(30));
    let revoking = change(&soon, "w", lease, GrantStatus::Revoking);
    store.apply(&revoking, at).await.unwrap();
    assert!(store.due(at, 10).await.unwrap().is_empty());
    let mut failed = change(&revoking.grant, "w", LockOp::Release, GrantStatus::Revoking);
    failed.next_attempt_at = Some(at + secs(5));
    failed.grant.attempts = 1;
    store.apply(&failed, at).await.unwrap();
    assert!(store.due(at + secs(4), 10).await.unwrap().is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), Some(at + secs(5)));
    let retry = store.due(at + secs(5), 10).await.unwrap();
    assert_eq!(ids(&retry), ["g-soon"]);
    assert_eq!(retry[0].attempts, 1);

    // A grant stuck in provisioning becomes due when its lock lapses.
    let stuck = new_grant("g-stuck", 0, "s@example.com", t0(), 3_600);
    insert(store.as_ref(), &stuck, "dead").await;
    let is_due = |grants: Vec<Grant>| grants.iter().any(|g| g.id.as_str() == "g-stuck");
    assert!(!is_due(store.due(t0() + secs(59), 10).await.unwrap()));
    assert!(is_due(store.due(t0() + secs(61), 10).await.unwrap()));
}

async fn a_stale_version_is_refused(backend: &Backend) {
    let store = backend.open().await;
    let grant = active(store.as_ref(), "g-v", 0, 60).await;
    let lease = LockOp::Acquire(t0() + secs(60));
    let first = change(&grant, "x", lease, GrantStatus::Revoking);
    store.apply(&first, t0()).await.unwrap();
    // Same holder, lock held, but the version moved on.
    let again = change(&grant, "x", LockOp::Keep, GrantStatus::Revoking);
    let stale = store.apply(&again, t0()).await;
    assert!(matches!(stale, Err(StoreError::Stale(_))), "{stale:?}");
    let ghost = new_grant("ghost", 0, "g@example.com", t0(), 60);
    let missing = change(
        &ghost,
        "x",
        LockOp::Acquire(t0() + secs(60)),
        GrantStatus::Active,
    );
    assert!(store.apply(&missing, t0()).await.is_err());
    assert!(store.grant(&ghost.id).await.unwrap().is_none());
}

async fn concurrent_writers_keep_one_unbroken_audit_chain(backend: &Backend) {
    // Two handles, as two processes (or replicas) would have.
    let stores = [backend.open().await, backend.open().await];
    let mut tasks = tokio::task::JoinSet::new();
    for (n, store) in (0..40).zip(stores.iter().cycle()) {
        let store = Arc::clone(store);
        tasks.spawn(async move {
            let id = format!("g-{n}");
            let grant = new_grant(&id, n % 2, &format!("u{n}@example.com"), t0(), 60);
            insert(store.as_ref(), &grant, &id).await;
            let note = event(&grant, AuditAction::GrantOriginChanged, t0());
            store.append_audit(&note).await.unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let events = stores[0].audit(&AuditQuery::default()).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=80).collect::<Vec<_>>());
    assert_eq!(verify_chain(&events), Ok(80));
}

async fn two_replicas_claim_each_due_grant_exactly_once(backend: &Backend) {
    let replicas = [backend.open().await, backend.open().await];
    let mut grants = Vec::new();
    for n in 0..30 {
        grants.push(active(replicas[0].as_ref(), &format!("g-{n}"), n % 2, 1).await);
    }
    let at = t0() + secs(2);
    // Each replica walks the due list and claims what it can, at the same time.
    let mut tasks = tokio::task::JoinSet::new();
    for (r, store) in replicas.iter().enumerate() {
        let store = Arc::clone(store);
        tasks.spawn(async move {
            let mut claimed = Vec::new();
            for grant in store.due(at, 100).await.unwrap() {
                let holder = format!("replica-{r}-{}", grant.id);
                let lease = LockOp::Acquire(at + secs(30));
                let mut start = change(&grant, &holder, lease, GrantStatus::Revoking);
                start.grant.end_cause = Some(EndCause::Expired);
                match store.apply(&start, at).await {
                    Ok(()) => {}
                    Err(StoreError::TargetBusy { .. } | StoreError::Stale(_)) => continue,
                    Err(e) => panic!("{e}"),
                }
                let mut end = change(&start.grant, &holder, LockOp::Release, GrantStatus::Expired);
                end.event = Some(event(&grant, AuditAction::GrantExpired, at));
                store.apply(&end, at).await.unwrap();
                claimed.push(grant.id.to_string());
            }
            claimed
        });
    }
    let mut claimed = Vec::new();
    while let Some(done) = tasks.join_next().await {
        claimed.extend(done.unwrap());
    }
    claimed.sort();
    let mut expected = ids(&grants);
    expected.sort();
    assert_eq!(claimed, expected, "every grant claimed exactly once");
    let events = replicas[1].audit(&AuditQuery::default()).await.unwrap();
    let expired = events
        .iter()
        .filter(|e| e.action == AuditAction::GrantExpired)
        .count();
    assert_eq!(expired, 30);
    assert!(replicas[0].due(at, 100).await.unwrap().is_empty());
}

async fn audit_query_filters_and_pages(backend: &Backend) {
    let store = backend.open().await;
    for n in 0..5 {
        active(store.as_ref(), &format!("g-{n}"), 0, 60).await;
    }
    assert_eq!(store.audit(&AuditQuery::default()).await.unwrap().len(), 10);
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let query = AuditQuery {
            after_seq: cursor,
            limit: 3,
            ..AuditQuery::default()
        };
        let page = store.audit(&query).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.seq);
        pages.push(page.len());
    }
    assert_eq!(pages, [3, 3, 3, 1]);
    let one_grant = AuditQuery {
        grant_id: Some("g-3".to_owned()),
        ..AuditQuery::default()
    };
    let actions: Vec<AuditAction> = store
        .audit(&one_grant)
        .await
        .unwrap()
        .iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [AuditAction::GrantRequested, AuditAction::GrantActivated]
    );
    let one_user = AuditQuery {
        user: Some("G-2@Example.com".to_owned()),
        ..AuditQuery::default()
    };
    let by_user = store.audit(&one_user).await.unwrap();
    assert_eq!(by_user.len(), 2);
    assert!(by_user.iter().all(|e| e.grant_id == "g-2"));
}

async fn cache_round_trips(backend: &Backend) {
    let store = backend.open().await;
    assert_eq!(store.cache_get("k").await.unwrap(), None);
    store.cache_put("k", "v1", t0()).await.unwrap();
    store.cache_put("k", "v2", t0()).await.unwrap();
    assert_eq!(store.cache_get("k").await.unwrap().as_deref(), Some("v2"));
    // Fresh only when stored at the given time or later.
    let later = t0()
        .checked_add(jiff::SignedDuration::from_secs(1))
        .unwrap();
    assert_eq!(
        store.cache_get_fresh("k", t0()).await.unwrap().as_deref(),
        Some("v2")
    );
    assert_eq!(store.cache_get_fresh("k", later).await.unwrap(), None);
    store.cache_delete("k").await.unwrap();
    assert_eq!(store.cache_get("k").await.unwrap(), None);
}

async fn reopening_keeps_everything(backend: &Backend) {
    let grant = {
        let store = backend.open().await;
        active(store.as_ref(), "g-keep", 0, 60).await
    };
    // A second open finds the schema migrated already and the data in place.
    let store = backend.open().await;
    let read = store.grant(&grant.id).await.unwrap().unwrap();
    assert_eq!(read.status, GrantStatus::Active);
    let events = store.audit(&AuditQuery::default()).await.unwrap();
    assert_eq!(verify_chain(&events), Ok(2));
}

fn token_event(name: &str, action: AuditAction) -> AuditEvent {
    AuditEvent {
        seq: 0,
        time: t0(),
        actor: "admin".to_owned(),
        action,
        grant_id: String::new(),
        access: String::new(),
        user: String::new(),
        detail: name.to_owned(),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

async fn web_sessions_live_until_they_end_and_sign_ins_are_taken_once(backend: &Backend) {
    use aws_jit_core::Person;
    use aws_jit_core::web_session::{PendingSignIn, WebSession};
    let store = backend.open().await;
    let session = WebSession {
        id_hash: "cd".repeat(32),
        person: Person {
            email: "alice@example.com".to_owned(),
            id: Some("u-1".to_owned()),
            aliases: Vec::new(),
        },
        role: Role::Approver,
        via: "oidc".to_owned(),
        csrf: "ef".repeat(32),
        created_at: t0(),
        expires_at: t0() + secs(3600),
    };
    let signed_in = token_event("alice", AuditAction::SignedIn);
    store
        .insert_session(&session, &signed_in, t0())
        .await
        .unwrap();
    let found = store
        .session(&session.id_hash, t0() + secs(10))
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&session));
    assert!(
        store
            .session(&"00".repeat(32), t0())
            .await
            .unwrap()
            .is_none()
    );
    // Past its end it opens nothing, and the next sign-in clears it away.
    assert!(
        store
            .session(&session.id_hash, t0() + secs(3600))
            .await
            .unwrap()
            .is_none()
    );
    let next = WebSession {
        id_hash: "ab".repeat(32),
        created_at: t0() + secs(4000),
        expires_at: t0() + secs(8000),
        ..session.clone()
    };
    store
        .insert_session(&next, &signed_in, t0() + secs(4000))
        .await
        .unwrap();
    assert!(
        store
            .session(&session.id_hash, t0())
            .await
            .unwrap()
            .is_none(),
        "ended sessions are deleted"
    );
    let signed_out = token_event("alice", AuditAction::SignedOut);
    assert!(
        store
            .delete_session(&next.id_hash, &signed_out)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_session(&next.id_hash, &signed_out)
            .await
            .unwrap()
    );
    assert!(
        store
            .session(&next.id_hash, t0() + secs(4001))
            .await
            .unwrap()
            .is_none()
    );

    let sign_in = PendingSignIn {
        state: "state-1".to_owned(),
        browser_hash: "12".repeat(32),
        nonce: "nonce".to_owned(),
        pkce_verifier: "verifier".to_owned(),
        return_to: "/grants".to_owned(),
        created_at: t0(),
    };
    assert!(
        store
            .insert_sign_in(&sign_in, t0() - secs(600))
            .await
            .unwrap()
    );
    assert_eq!(
        store.take_sign_in("state-1").await.unwrap(),
        Some(sign_in.clone())
    );
    assert_eq!(
        store.take_sign_in("state-1").await.unwrap(),
        None,
        "taken once"
    );
    // A lapsed sign-in is cleared by the next one.
    assert!(
        store
            .insert_sign_in(&sign_in, t0() - secs(600))
            .await
            .unwrap()
    );
    let later = PendingSignIn {
        state: "state-2".to_owned(),
        created_at: t0() + secs(700),
        ..sign_in.clone()
    };
    assert!(
        store
            .insert_sign_in(&later, t0() + secs(100))
            .await
            .unwrap()
    );
    assert_eq!(
        store.take_sign_in("state-1").await.unwrap(),
        None,
        "lapsed, cleared"
    );
    let actions: Vec<AuditAction> = store
        .audit(&AuditQuery::default())
        .await
        .unwrap()
        .iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            AuditAction::SignedIn,
            AuditAction::SignedIn,
            AuditAction::SignedOut
        ]
    );
}

async fn tokens_are_unique_by_name_and_revocable(backend: &Backend) {
    let store = backend.open().await;
    let token = ApiToken {
        id: "0a0b".to_owned(),
        name: "agent".to_owned(),
        role: Role::Requester,
        user: None,
        on_behalf: true,
        secret_hash: "ab".repeat(32),
        created_at: t0(),
        revoked_at: None,
    };
    let created = token_event("agent", AuditAction::TokenCreated);
    store.insert_token(&token, &created).await.unwrap();
    assert_eq!(store.token("0a0b").await.unwrap().as_ref(), Some(&token));
    let twin = ApiToken {
        id: "0c0d".to_owned(),
        ..token.clone()
    };
    let again = store.insert_token(&twin, &created).await;
    assert!(matches!(again, Err(StoreError::Duplicate(_))), "{again:?}");
    assert!(store.token("0c0d").await.unwrap().is_none());
    let revoked = token_event("agent", AuditAction::TokenRevoked);
    let later = t0() + secs(5);
    assert!(store.revoke_token("agent", later, &revoked).await.unwrap());
    assert!(!store.revoke_token("agent", later, &revoked).await.unwrap());
    let read = store.tokens().await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].revoked_at, Some(later));
    let actions: Vec<AuditAction> = store
        .audit(&AuditQuery::default())
        .await
        .unwrap()
        .iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [AuditAction::TokenCreated, AuditAction::TokenRevoked]
    );
}

async fn grant_pages_follow_the_cursor(backend: &Backend) {
    let store = backend.open().await;
    for n in 0..7 {
        // Two share each instant, so the id breaks ties.
        let at = t0() + secs(n / 2);
        let grant = new_grant(&format!("g-{n}"), 0, &format!("u{n}@example.com"), at, 60);
        insert(store.as_ref(), &grant, &format!("h-{n}")).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let filter = GrantFilter {
            limit: 3,
            after: after.clone(),
            ..GrantFilter::default()
        };
        let page = store.grants(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.requested_at, last.id.to_string()));
        seen.extend(ids(&page));
    }
    assert_eq!(seen, ["g-6", "g-5", "g-4", "g-3", "g-2", "g-1", "g-0"]);
}

async fn another_handles_change_wakes_a_waiter_where_the_backend_can_tell(backend: &Backend) {
    let (waiter, writer) = (backend.open().await, backend.open().await);
    let short = std::time::Duration::from_millis(300);
    // The first wait starts the listener (if any); nothing has changed yet.
    assert!(!waiter.wait_for_change(short).await);
    let patience = match backend {
        Backend::Postgres(_) => std::time::Duration::from_secs(10),
        Backend::Sqlite(_) => std::time::Duration::from_secs(1),
    };
    let waiting = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let woken = waiter.wait_for_change(patience).await;
        (woken, started.elapsed())
    });
    tokio::time::sleep(short).await;
    active(writer.as_ref(), "g-new", 0, 60).await;
    let (woken, after) = waiting.await.unwrap();
    match backend {
        Backend::Postgres(_) => {
            assert!(woken, "NOTIFY reached the other handle");
            assert!(after < std::time::Duration::from_secs(2), "{after:?}");
        }
        Backend::Sqlite(_) => assert!(!woken, "SQLite cannot tell; the poll finds it"),
    }
}

async fn a_grant_is_warned_once_per_expiry_by_any_number_of_replicas(backend: &Backend) {
    let stores = [backend.open().await, backend.open().await];
    let soon = active(stores[0].as_ref(), "g-w1", 0, 300).await;
    let later = active(stores[0].as_ref(), "g-w2", 0, 3_600).await;
    let now = t0() + secs(60);
    let before = now + secs(600);
    let expiring = stores[0].expiring_unwarned(now, before, 10).await.unwrap();
    assert_eq!(
        ids(&expiring),
        ["g-w1"],
        "only what expires within the lead time"
    );
    let message = OutboxMessage {
        grant_id: "g-w1".to_owned(),
        recipient: Recipient::Person {
            email: "g-w1@example.com".to_owned(),
        },
        body: "{\"text\": \"ends soon\"}".to_owned(),
    };
    // Two replicas warn at once: one records it, and one message is queued.
    let (a, b) = tokio::join!(
        stores[0].record_warning(&soon, Some(&message), now),
        stores[1].record_warning(&soon, Some(&message), now)
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|w| **w).count(),
        1,
        "warned once"
    );
    assert_eq!(stores[0].outbox_counts().await.unwrap(), (1, 0));
    assert!(
        stores[1]
            .expiring_unwarned(now, before, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Extended: its new expiry is warned again.
    let mut extended = change(&soon, "", LockOp::Ignore, GrantStatus::Active);
    extended.grant.expires_at = soon.expires_at + secs(120);
    stores[0].apply(&extended, now).await.unwrap();
    let again = stores[0].expiring_unwarned(now, before, 10).await.unwrap();
    assert_eq!(ids(&again), ["g-w1"]);
    // A copy whose expiry the grant no longer has is not warned.
    let mut stale = soon.clone();
    stale.expires_at = soon.expires_at + secs(999);
    assert!(
        !stores[1]
            .record_warning(&stale, Some(&message), now)
            .await
            .unwrap()
    );
    assert_eq!(stores[0].outbox_counts().await.unwrap(), (1, 0));
    // Recorded without a message (too short to warn): nothing queued, never listed again.
    assert!(
        stores[0]
            .record_warning(&again[0], None, now)
            .await
            .unwrap()
    );
    assert_eq!(stores[0].outbox_counts().await.unwrap(), (1, 0));
    assert!(
        stores[0]
            .expiring_unwarned(now, later.expires_at, 10)
            .await
            .unwrap()
            .iter()
            .all(|g| g.id.as_str() == "g-w2")
    );
}

async fn queued_notifications_are_claimed_once_retried_and_given_up(backend: &Backend) {
    let stores = [backend.open().await, backend.open().await];
    let grant = new_grant("g-n", 0, "n@example.com", t0(), 60);
    insert(stores[0].as_ref(), &grant, "h").await;
    let mut activate = change(&grant, "h", LockOp::Release, GrantStatus::Active);
    activate.outbox = (0..6)
        .map(|n| OutboxMessage {
            grant_id: "g-n".to_owned(),
            recipient: if n % 2 == 0 {
                Recipient::Channel {
                    channel: "C1".to_owned(),
                    thread_ts: (n == 0).then(|| "1.2".to_owned()),
                }
            } else {
                Recipient::Person {
                    email: "n@example.com".to_owned(),
                }
            },
            body: format!("{{\"text\": \"{n}\"}}"),
        })
        .collect();
    stores[0].apply(&activate, t0()).await.unwrap();
    assert_eq!(stores[0].outbox_counts().await.unwrap(), (6, 0));

    // Two workers claim at once: each message goes to one of them.
    let lease = t0() + secs(60);
    let (a, b) = tokio::join!(
        stores[0].claim_messages(t0(), lease, 4),
        stores[1].claim_messages(t0(), lease, 4)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut ids: Vec<i64> = a.iter().chain(&b).map(|m| m.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "no message claimed twice, none left out");
    let first = a
        .iter()
        .chain(&b)
        .find(|m| m.message.body.contains('0'))
        .unwrap();
    assert_eq!(first.message, activate.outbox[0]);
    // Claimed messages are not due again while the lease runs.
    assert!(
        stores[0]
            .claim_messages(t0() + secs(30), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let all: Vec<_> = a.iter().chain(&b).collect();
    stores[0].message_sent(all[0].id, t0()).await.unwrap();
    let retry_at = t0() + secs(5);
    stores[0]
        .message_failed(all[1].id, "ratelimited", Some(retry_at), t0())
        .await
        .unwrap();
    stores[0]
        .message_failed(all[2].id, "users_not_found", None, t0())
        .await
        .unwrap();
    assert_eq!(stores[0].outbox_counts().await.unwrap(), (4, 1));
    let again = stores[0]
        .claim_messages(retry_at, retry_at + secs(60), 10)
        .await
        .unwrap();
    assert_eq!(
        again.len(),
        1,
        "only the retried one, before the leases lapse"
    );
    assert_eq!((again[0].id, again[0].attempts), (all[1].id, 1));
    let later = stores[0]
        .claim_messages(lease, lease + secs(60), 10)
        .await
        .unwrap();
    assert_eq!(
        later.len(),
        3,
        "the unanswered claims come back when their lease lapses"
    );
}

/// The audit log is append-only on PostgreSQL even for `TRUNCATE`, which row triggers do
/// not see (a database writer would otherwise empty the log in one statement).
#[tokio::test]
async fn postgres_refuses_truncating_the_audit_log() {
    let Some(backend) = postgres().await else {
        return;
    };
    let Backend::Postgres(schema) = &backend else {
        unreachable!("postgres() makes a PostgreSQL backend")
    };
    let opened = backend.open().await;
    let grant = new_grant("g-t", 0, "a@example.com", t0(), 3_600);
    insert(opened.as_ref(), &grant, "t").await;
    let pool = sqlx::PgPool::connect(&schema.url).await.unwrap();
    let refused = sqlx::query("TRUNCATE audit_events").execute(&pool).await;
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("append-only"), "{message}");
    let events = opened.audit(&Default::default()).await.unwrap();
    assert_eq!(events.len(), 1);
}
