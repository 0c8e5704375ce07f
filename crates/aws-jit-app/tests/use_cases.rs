//! The use cases at the app level: [`Jit`] over the real adapters (a temporary SQLite
//! store, the AWS SDK against moto) with a clock the test moves, and no binary. What a use
//! case did in AWS is checked through the SDK.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::sync::Arc;
use std::time::Duration;

use aws_jit_app::ports::{AuditQuery, GrantStore};
use aws_jit_app::{AppError, GrantRequest, Jit, Settings};
use aws_jit_aws::{AwsIam, AwsIdentityCenter, Patience};
use aws_jit_core::auth::Role;
use aws_jit_core::{
    Actor, AuditAction, Catalog, Channel, ConfigFile, ConfigSource, GrantStatus, Person, Rights,
    UserEmail,
};
use aws_jit_testkit::{FixedClock, MotoAws, unique, unique_account};

/// One installation: moto, a store, a clock, and one access (approval by the lead, when
/// `guarded`).
struct World {
    aws: MotoAws,
    jit: Jit,
    clock: Arc<FixedClock>,
    account: String,
    permission_set_arn: String,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(guarded: bool) -> World {
        let aws = MotoAws::connect().await;
        let account = unique_account();
        let permission_set = unique("PS");
        let permission_set_arn = aws.create_permission_set(&permission_set).await;
        let approval = if guarded {
            r#", "approvers": ["lead@example.com"], "approvals_required": 1"#
        } else {
            ""
        };
        let text = format!(
            r#"{{"ops": {{"name": "Ops", "description": "d", "account_id": "{account}", "permission_set": "{permission_set}", "session_duration": "PT1H"{approval}}}}}"#
        );
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: &text,
        }])
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("jit.db").display());
        let store: Arc<dyn GrantStore> = aws_jit_store::open(&url).await.unwrap();
        let clock = Arc::new(FixedClock::at(
            jiff::Timestamp::from_second(1_900_000_000).unwrap(),
        ));
        let sso = AwsIdentityCenter::new(aws.sso.clone(), aws.ids.clone(), Patience::default());
        let iam = AwsIam::new(aws.iam.clone(), aws_sdk_sts::Client::new(&aws.sdk));
        let jit = Jit::new(
            store,
            Arc::new(sso),
            Arc::new(iam),
            clock.clone(),
            Settings::default(),
        )
        .with_policies(Arc::new(
            aws_jit_core::eligibility::PolicyEngine::load(&catalog, None, None).unwrap(),
        ))
        .with_catalog(Arc::new(catalog));
        World {
            aws,
            jit,
            clock,
            account,
            permission_set_arn,
            _dir: dir,
        }
    }

    async fn person(&self, name: &str) -> (String, String) {
        let email = format!("{}@example.com", unique(name));
        let id = self.aws.create_user(&email).await;
        (email, id)
    }

    async fn assignments(&self, principal: &str) -> usize {
        self.aws
            .assignments(&self.account, &self.permission_set_arn, principal)
            .await
    }

    fn request(&self, user: &str, actor: Actor) -> GrantRequest {
        GrantRequest {
            access: "ops".to_owned(),
            user: UserEmail::parse(user).unwrap(),
            actor,
            duration: Some(aws_jit_core::AccessDuration::parse("30m").unwrap()),
            reason: Some("on call".to_owned()),
            break_glass: false,
        }
    }

    async fn actions(&self, grant_id: &str) -> Vec<AuditAction> {
        self.jit
            .store()
            .audit(&AuditQuery {
                grant_id: Some(grant_id.to_owned()),
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}

fn api(email: &str, role: Role, on_behalf: bool) -> Actor {
    Actor::person(
        Person::unresolved(email),
        Channel::Api {
            token: "t".to_owned(),
        },
    )
    .with_rights(Rights { role, on_behalf })
}

#[tokio::test]
async fn a_grant_is_recorded_created_and_swept_at_its_expiry() {
    let world = World::new(false).await;
    let (alice, alice_id) = world.person("alice").await;
    let outcome = world
        .jit
        .grant(world.request(&alice, api(&alice, Role::Requester, false)))
        .await
        .unwrap();
    assert_eq!(outcome.grant.status, GrantStatus::Active);
    assert_eq!(outcome.grant.user_id.as_deref(), Some(alice_id.as_str()));
    assert_eq!(world.assignments(&alice_id).await, 1);

    // Not yet due; then due.
    assert!(world.jit.sweep().await.unwrap().expired.is_empty());
    world.clock.advance(Duration::from_secs(31 * 60));
    let report = world.jit.sweep().await.unwrap();
    assert_eq!(report.expired, [outcome.grant.id.to_string()]);
    assert_eq!(world.assignments(&alice_id).await, 0);
    assert_eq!(
        world.actions(outcome.grant.id.as_str()).await,
        [
            AuditAction::GrantRequested,
            AuditAction::GrantActivated,
            AuditAction::GrantRevokeStarted,
            AuditAction::GrantExpired
        ]
    );
}

#[tokio::test]
async fn the_decision_point_refuses_acting_for_someone_else_audits_it_and_touches_nothing() {
    let world = World::new(false).await;
    let (alice, _) = world.person("alice").await;
    let (bob, bob_id) = world.person("bob").await;
    let refused = world
        .jit
        .grant(world.request(&bob, api(&alice, Role::Requester, false)))
        .await;
    assert!(
        matches!(&refused, Err(AppError::NotAllowed(why)) if why.contains("may act only for")),
        "{refused:?}"
    );
    assert_eq!(world.assignments(&bob_id).await, 0);
    let events = world
        .jit
        .store()
        .audit(&AuditQuery::default())
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "only the refusal: {events:?}");
    assert_eq!(events[0].action, AuditAction::Refused);
    assert_eq!(events[0].user, bob);
    // With the on-behalf right, the same request is granted, and the record names both.
    let granted = world
        .jit
        .grant(world.request(&bob, api(&alice, Role::Requester, true)))
        .await
        .unwrap();
    assert_eq!(
        granted.grant.requested_by.to_string(),
        format!("{alice} (token t) on behalf of {bob}")
    );
    assert_eq!(world.assignments(&bob_id).await, 1);
}

#[tokio::test]
async fn an_approver_is_the_same_person_under_every_name_the_directory_knows() {
    let world = World::new(true).await;
    let name = unique("carol");
    let (email, user_name) = (
        format!("{name}@example.com"),
        format!("{name}.admin@example.com"),
    );
    let carol_id = world.aws.create_person(&user_name, &[&email]).await;
    let agent = Actor {
        principal: aws_jit_core::Principal::Service,
        channel: Channel::Api {
            token: "agent".to_owned(),
        },
        on_behalf_of: None,
        rights: Rights {
            role: Role::Requester,
            on_behalf: true,
        },
    };
    let request = world
        .jit
        .grant(world.request(&user_name, agent))
        .await
        .unwrap()
        .grant;
    assert_eq!(request.status, GrantStatus::Pending);
    assert_eq!(request.user, email, "the directory's canonical user");
    for as_carol in [email.clone(), user_name.clone(), email.to_uppercase()] {
        let refused = world
            .jit
            .approve(&request.id, &api(&as_carol, Role::Approver, false), None)
            .await;
        assert!(
            matches!(&refused, Err(AppError::NotAllowed(why)) if why.contains("your own request")),
            "{as_carol}: {refused:?}"
        );
    }
    assert_eq!(world.assignments(&carol_id).await, 0);
    let approved = world
        .jit
        .approve(
            &request.id,
            &api("lead@example.com", Role::Approver, false),
            None,
        )
        .await
        .unwrap();
    assert_eq!(approved.status, GrantStatus::Active);
    assert_eq!(world.assignments(&carol_id).await, 1);
}

#[tokio::test]
async fn standing_access_survives_a_revoke_and_plan_changes_nothing() {
    let world = World::new(false).await;
    let (alice, alice_id) = world.person("alice").await;
    let plan = world
        .jit
        .plan(world.request(&alice, Actor::operator("root")))
        .await
        .unwrap();
    assert!(
        plan.changes[0].kind == "create_account_assignment"
            && plan.changes[0]
                .description
                .starts_with("create account assignment"),
        "{plan:?}"
    );
    assert_eq!(
        world.assignments(&alice_id).await,
        0,
        "a plan changes nothing"
    );

    world
        .aws
        .assign(&world.account, &world.permission_set_arn, &alice_id)
        .await;
    let grant = world
        .jit
        .grant(world.request(&alice, Actor::operator("root")))
        .await
        .unwrap();
    assert_eq!(grant.origin, aws_jit_core::AccessOrigin::Preexisting);
    let revoked = world
        .jit
        .revoke(&grant.grant.id, &Actor::operator("root"))
        .await
        .unwrap();
    assert_eq!(revoked.grant.status, GrantStatus::Revoked);
    assert!(revoked.kept.unwrap().contains("standing access"));
    assert_eq!(world.assignments(&alice_id).await, 1);
}

#[tokio::test]
async fn grants_made_under_two_names_of_one_person_share_the_assignment() {
    let world = World::new(false).await;
    let name = unique("dana");
    let (email, user_name) = (
        format!("{name}@example.com"),
        format!("{name}.ops@example.com"),
    );
    let dana_id = world.aws.create_person(&user_name, &[&email]).await;
    let root = Actor::operator("root");
    let first = world
        .jit
        .grant(world.request(&email, root.clone()))
        .await
        .unwrap();
    let second = world
        .jit
        .grant(world.request(&user_name, root.clone()))
        .await
        .unwrap();
    assert_eq!(first.grant.target_key, second.grant.target_key);
    assert_eq!(world.assignments(&dana_id).await, 1);
    let revoked = world.jit.revoke(&first.grant.id, &root).await.unwrap();
    assert!(revoked.kept.unwrap().contains("still active"));
    assert_eq!(
        world.assignments(&dana_id).await,
        1,
        "the other grant keeps it"
    );
    world.jit.revoke(&second.grant.id, &root).await.unwrap();
    assert_eq!(world.assignments(&dana_id).await, 0);
}
