//! Snapshots of the pages built from fixed data (HTML as served), and the escaping of
//! what people type.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use askama::Template;
use aws_jit_app::{Decidable, session_actor};
use aws_jit_core::auth::Role;
use aws_jit_core::config::{Catalog, ConfigFile, ConfigSource};
use aws_jit_core::grant::{GrantStatus, NewGrant};
use aws_jit_core::web_session::WebSession;
use aws_jit_core::{Actor, Channel, GrantId, GrantTarget, Person, UserEmail};
use jiff::Timestamp;

use super::render::Nav;
use super::request::{form_page, list_page};
use super::review::approvals_page;
use super::session::Visitor;

const CATALOG: &str = r#"{
  "staging_db": {"name": "Staging database", "description": "Read <b>staging</b> & more", "account_id": "876809951775", "permission_set": "DBRead", "session_duration": "PT3H", "require_reason": true},
  "prod_admin": {"name": "Prod admin", "description": "Break glass only", "account_id": "123456789012", "permission_set": "Admin", "session_duration": "PT1H", "approvers": ["bob@example.com", "carol@example.com"], "approvals_required": 2, "break_glass": true, "break_glass_duration": "15m"}
}"#;

fn catalog() -> Catalog {
    Catalog::parse(&[ConfigSource {
        file: ConfigFile::AccessConfigs,
        text: CATALOG,
    }])
    .unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn visitor(email: &str, role: Role) -> Visitor {
    let session = WebSession {
        id_hash: "00".repeat(32),
        person: Person::unresolved(email),
        role,
        via: "oidc".to_owned(),
        csrf: "c5rf".repeat(16),
        created_at: now(),
        expires_at: now() + jiff::SignedDuration::from_hours(8),
    };
    let actor = session_actor(&session);
    Visitor { session, actor }
}

#[test]
fn the_request_list_page() {
    let catalog = catalog();
    let accesses: Vec<_> = catalog.accesses().iter().collect();
    let alice = visitor("alice@example.com", Role::Requester);
    let page = list_page(Nav::of(&alice, "request"), &accesses, "", None);
    let html = page.render().unwrap();
    assert!(
        html.contains("Read &#60;b&#62;staging&#60;/b&#62; &#38; more"),
        "{html}"
    );
    insta::assert_snapshot!("request_list", html);
    let searched = list_page(Nav::of(&alice, "request"), &accesses, "prod ADMIN", None);
    let html = searched.render().unwrap();
    assert!(
        html.contains("prod_admin") && !html.contains("staging_db"),
        "{html}"
    );
}

#[test]
fn the_request_form_offers_only_what_the_access_allows() {
    let catalog = catalog();
    let alice = visitor("alice@example.com", Role::Requester);
    let prod = &catalog.accesses()[1];
    let html = form_page(&alice, prod, None, None, None).render().unwrap();
    assert!(html.contains("Break glass"), "{html}");
    insta::assert_snapshot!("request_form", html);
    let capped = form_page(
        &alice,
        &catalog.accesses()[0],
        aws_jit_core::AccessDuration::parse("45m").ok(),
        None,
        None,
    )
    .render()
    .unwrap();
    assert!(
        capped.contains(r#"<option value="45m" selected>"#),
        "{capped}"
    );
    assert!(
        !capped.contains(r#"value="1h""#),
        "never above the cap: {capped}"
    );
    assert!(capped.contains("Reason (required)") && !capped.contains("Break glass"));
}

#[test]
fn the_approvals_page() {
    let catalog = catalog();
    let prod = &catalog.accesses()[1];
    let user = UserEmail::parse("alice@example.com").unwrap();
    let mut grant = NewGrant {
        id: GrantId::new("01a2-request"),
        access: prod,
        user: &user,
        requested_by: &Actor::person(Person::unresolved("alice@example.com"), Channel::Web),
        user_id: None,
        target: GrantTarget::Assignment {
            instance_arn: String::new(),
            account_id: "123456789012".to_owned(),
            permission_set: "Admin".to_owned(),
            permission_set_arn: String::new(),
            principal_id: String::new(),
        },
        reason: Some("incident <42> \"rollback\"".to_owned()),
        now: now(),
        expires_at: now() + jiff::SignedDuration::from_secs(1_800),
    }
    .into_grant();
    grant.status = GrantStatus::Pending;
    grant.requested_duration = aws_jit_core::AccessDuration::parse("30m").ok();
    let queue = vec![Decidable {
        grant,
        approved_by: vec![Person::unresolved("carol@example.com")],
        required: 2,
    }];
    let bob = visitor("bob@example.com", Role::Approver);
    let html = approvals_page(
        Nav::of(&bob, "approvals"),
        None,
        &bob.session.csrf,
        &queue,
        now(),
    )
    .render()
    .unwrap();
    assert!(
        html.contains("incident &#60;42&#62; &#34;rollback&#34;"),
        "{html}"
    );
    assert!(
        html.contains("Approvals: 1 of 2 (by carol@example.com)"),
        "{html}"
    );
    insta::assert_snapshot!("approvals", html);
}
