//! Who may do what: the rules behind the one decision point (`Jit::authorize` in the app).
//!
//! Pure functions of the actor (with its rights), the action and the subject. People are
//! compared with [`Person::same_as`] (directory ids), never as strings, so a request made
//! for any alias of an approver is still that approver's own request. What the rules need
//! from outside (approver-group membership, the approvals so far) is looked up by the
//! caller and handed in.

use std::fmt;

use crate::actor::{Actor, Channel, Person, Principal};
use crate::auth::Role;
use crate::config::Access;

/// Why something is refused. The message is one line, for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// What an actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Ask for access for a person.
    Request,
    /// Move a grant's expiry later.
    Extend,
    /// End a grant (or withdraw a request).
    Revoke,
    /// See a grant.
    View,
    /// Approve a pending request.
    Approve,
    /// Deny a pending request.
    Deny,
}

impl Action {
    /// The action's name, as audited.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Request => "request",
            Action::Extend => "extend",
            Action::Revoke => "revoke",
            Action::View => "view",
            Action::Approve => "approve",
            Action::Deny => "deny",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pending request, as an approver's decision needs it.
#[derive(Debug, Clone, Copy)]
pub struct PendingRequest<'a> {
    /// Its access.
    pub access: &'a Access,
    /// The person it is for.
    pub user: &'a Person,
    /// Who made it.
    pub requested_by: &'a Actor,
    /// Whether the actor belongs to one of the access's approver groups.
    pub actor_in_approver_group: bool,
    /// The distinct people who approved it so far.
    pub approved_by: &'a [Person],
}

/// What an action is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// The person whose access it is (request, extend, revoke, view).
    Person(&'a Person),
    /// A pending request (approve, deny).
    Pending(PendingRequest<'a>),
}

impl Subject<'_> {
    /// The person concerned.
    pub fn person(&self) -> &Person {
        match self {
            Subject::Person(p) => p,
            Subject::Pending(r) => r.user,
        }
    }
}

/// How the actor is named in a refusal: its token for API callers, else as rendered.
fn who(actor: &Actor) -> String {
    match &actor.channel {
        Channel::Api { token } => format!("token `{token}`"),
        _ => match actor.own_person() {
            Some(p) => p.email.clone(),
            None => actor.to_string(),
        },
    }
}

fn is_self(actor: &Actor, person: &Person) -> bool {
    actor.own_person().is_some_and(|own| own.same_as(person))
}

fn oversees(actor: &Actor) -> bool {
    matches!(actor.rights.role, Role::Approver | Role::Admin)
}

fn may_act_for(actor: &Actor, person: &Person) -> Result<(), Refusal> {
    if is_self(actor, person) || actor.rights.on_behalf || actor.rights.role == Role::Admin {
        return Ok(());
    }
    let own = actor
        .own_person()
        .map_or("no user".to_owned(), |p| p.email.clone());
    Err(Refusal(format!(
        "{} may act only for {own}, not for {}",
        who(actor),
        person.email
    )))
}

/// What a person needs to oversee others' grants, by channel.
fn oversight_hint(actor: &Actor) -> &'static str {
    match actor.channel {
        Channel::Api { .. } => "an approver or admin token",
        Channel::Cli | Channel::Kubiya | Channel::Web => "being listed in AWS_JIT_APPROVERS",
        _ => "approver rights",
    }
}

/// Whether `actor` may take `action` on `subject`.
pub fn decide(actor: &Actor, action: Action, subject: &Subject<'_>) -> Result<(), Refusal> {
    match (action, subject) {
        (Action::Request | Action::Extend, Subject::Person(person)) => may_act_for(actor, person),
        (Action::Revoke, Subject::Person(person)) => {
            if oversees(actor) || may_act_for(actor, person).is_ok() {
                Ok(())
            } else {
                Err(Refusal(format!(
                    "{} may not revoke {}'s grant: that needs {}",
                    who(actor),
                    person.email,
                    oversight_hint(actor)
                )))
            }
        }
        (Action::View, Subject::Person(person)) => {
            if oversees(actor) || may_act_for(actor, person).is_ok() {
                Ok(())
            } else {
                Err(Refusal(format!(
                    "{} may not see {}'s grants",
                    who(actor),
                    person.email
                )))
            }
        }
        (Action::Approve | Action::Deny, Subject::Pending(request)) => may_decide(actor, request),
        // Revoking (withdrawing) a pending request is about its person.
        (_, Subject::Pending(request)) => decide(actor, action, &Subject::Person(request.user)),
        (Action::Approve | Action::Deny, Subject::Person(_)) => Err(Refusal(
            "only a pending request can be approved or denied".to_owned(),
        )),
    }
}

/// Whether `actor` may approve or deny `request`: a person, never the one it is for nor
/// the one who asked, a listed approver or a member of an approver group, and not twice.
fn may_decide(actor: &Actor, request: &PendingRequest<'_>) -> Result<(), Refusal> {
    let access = request.access;
    let Some(policy) = &access.approval else {
        return Err(Refusal(format!("`{}` needs no approval", access.key)));
    };
    let Some(me) = actor.own_person() else {
        return Err(Refusal(format!(
            "{} acts for no person, and only people approve",
            who(actor)
        )));
    };
    if me.same_as(request.user) {
        return Err(Refusal(
            "you may not approve or deny your own request".to_owned(),
        ));
    }
    if request
        .requested_by
        .acting_person()
        .is_some_and(|requester| me.same_as(&requester))
    {
        return Err(Refusal(
            "you may not approve or deny a request you made".to_owned(),
        ));
    }
    let listed = policy.approvers.iter().any(|a| me.is_named(a));
    if !listed && !request.actor_in_approver_group {
        let groups = policy.groups.iter().map(|g| format!("group {g}"));
        let approvers: Vec<String> = policy.approvers.iter().cloned().chain(groups).collect();
        return Err(Refusal(format!(
            "{} is not an approver of `{}` (approvers: {})",
            me.email,
            access.key,
            approvers.join(", ")
        )));
    }
    if request.approved_by.iter().any(|p| me.same_as(p)) {
        return Err(Refusal(format!(
            "{} has approved this request already: approvals must come from distinct people",
            me.email
        )));
    }
    Ok(())
}

/// Whether `actor` may withdraw a request still waiting for approval: the person it is for,
/// whoever made it (the same person, or the same service token), or an admin.
pub fn may_withdraw(actor: &Actor, user: &Person, requested_by: &Actor) -> bool {
    if actor.rights.role == Role::Admin || is_self(actor, user) {
        return true;
    }
    match (actor.own_person(), requested_by.acting_person()) {
        (Some(me), Some(requester)) => me.same_as(&requester),
        (None, None) => {
            matches!(actor.principal, Principal::Service)
                && matches!(requested_by.principal, Principal::Service)
                && actor.channel == requested_by.channel
        }
        _ => false,
    }
}

/// Whose grants and audit events the actor may list: `None` for everyone's, else only the
/// given person's (canonical email). `asked` is the user filter the actor gave.
pub fn scope(actor: &Actor, asked: Option<&str>) -> Result<Option<String>, Refusal> {
    let asked = asked.map(|u| u.trim().to_lowercase());
    if oversees(actor) || actor.rights.on_behalf {
        return Ok(asked);
    }
    match (actor.own_person(), asked) {
        (Some(own), None) => Ok(Some(own.email.clone())),
        (Some(own), Some(asked)) if own.is_named(&asked) => Ok(Some(own.email.clone())),
        (_, Some(asked)) => Err(Refusal(format!(
            "{} may not see {asked}'s records",
            who(actor)
        ))),
        (None, None) => Err(Refusal(format!(
            "{} acts for no user and may not see others' records",
            who(actor)
        ))),
    }
}

/// The person an action is for: the one named, or the actor's own.
pub fn subject_email(actor: &Actor, named: Option<&str>) -> Result<String, Refusal> {
    match (named, actor.own_person()) {
        (Some(user), _) => Ok(user.trim().to_lowercase()),
        (None, Some(own)) => Ok(own.email.clone()),
        (None, None) => Err(Refusal(format!(
            "{} acts for no user: name the user",
            who(actor)
        ))),
    }
}

/// Whether the actor may oversee everyone's grants (list them all, revoke any): approvers
/// and admins.
pub fn may_oversee(actor: &Actor) -> Result<(), Refusal> {
    if oversees(actor) {
        Ok(())
    } else {
        Err(Refusal(format!(
            "{} may not oversee others' grants: that needs {}",
            who(actor),
            oversight_hint(actor)
        )))
    }
}

/// Whether the actor is a person (and not the tool, an operator or a service).
pub fn is_person(actor: &Actor) -> bool {
    matches!(actor.principal, Principal::Person { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Rights;
    use crate::config::{Catalog, ConfigFile, ConfigSource};

    fn access(extra: &str) -> Access {
        let text = format!(
            r#"{{"A": {{"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H"{extra}}}}}"#
        );
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: &text,
        }])
        .unwrap();
        catalog.accesses()[0].clone()
    }

    fn person(email: &str, id: &str) -> Person {
        Person {
            email: email.to_owned(),
            id: Some(id.to_owned()),
            aliases: Vec::new(),
        }
    }

    fn token(person: Option<Person>, role: Role, on_behalf: bool) -> Actor {
        Actor {
            principal: person.map_or(Principal::Service, |person| Principal::Person { person }),
            channel: Channel::Api {
                token: "t".to_owned(),
            },
            on_behalf_of: None,
            rights: Rights { role, on_behalf },
        }
    }

    const GUARDED: &str =
        r#", "approvers": ["lead@example.com", "carol@example.com"], "approvals_required": 2"#;

    #[test]
    fn a_requester_acts_only_for_itself_and_approvers_oversee() {
        let alice = person("alice@example.com", "u-a");
        let bob = person("bob@example.com", "u-b");
        let mine = token(Some(alice.clone()), Role::Requester, false);
        assert!(decide(&mine, Action::Request, &Subject::Person(&alice)).is_ok());
        let alias = Person {
            email: "alice.w@example.com".to_owned(),
            ..alice.clone()
        };
        assert!(decide(&mine, Action::Request, &Subject::Person(&alias)).is_ok());
        for action in [
            Action::Request,
            Action::Revoke,
            Action::View,
            Action::Extend,
        ] {
            assert!(
                decide(&mine, action, &Subject::Person(&bob)).is_err(),
                "{action}"
            );
        }
        let agent = token(None, Role::Requester, true);
        assert!(decide(&agent, Action::Revoke, &Subject::Person(&bob)).is_ok());
        let approver = token(Some(alice), Role::Approver, false);
        assert!(decide(&approver, Action::Revoke, &Subject::Person(&bob)).is_ok());
        assert!(decide(&approver, Action::Request, &Subject::Person(&bob)).is_err());
        assert_eq!(scope(&approver, None), Ok(None));
        assert_eq!(scope(&mine, None), Ok(Some("alice@example.com".to_owned())));
        assert!(scope(&mine, Some("bob@example.com")).is_err());
        assert!(scope(&token(None, Role::Requester, false), None).is_err());
    }

    #[test]
    fn nobody_approves_a_request_for_any_alias_of_themselves() {
        let guarded = access(GUARDED);
        let carol = Person {
            email: "carol@example.com".to_owned(),
            id: Some("u-carol".to_owned()),
            aliases: vec!["carol.admin@example.com".to_owned()],
        };
        // The request was recorded for carol's user name by an agent; the directory says
        // it is carol.
        let for_alias = person("carol.admin@example.com", "u-carol");
        let agent = token(None, Role::Requester, true).for_person(&for_alias);
        let request = PendingRequest {
            access: &guarded,
            user: &for_alias,
            requested_by: &agent,
            actor_in_approver_group: false,
            approved_by: &[],
        };
        let carols_token = token(Some(carol), Role::Approver, false);
        assert_eq!(
            decide(&carols_token, Action::Approve, &Subject::Pending(request)),
            Err(Refusal(
                "you may not approve or deny your own request".to_owned()
            ))
        );
        // The lead approves once, and only once.
        let lead = person("lead@example.com", "u-lead");
        let leads_token = token(Some(lead.clone()), Role::Requester, false);
        assert!(decide(&leads_token, Action::Approve, &Subject::Pending(request)).is_ok());
        let already = [lead];
        let again = PendingRequest {
            approved_by: &already,
            ..request
        };
        assert!(decide(&leads_token, Action::Approve, &Subject::Pending(again)).is_err());
        // The person who asked for someone else cannot approve it either.
        let bob = person("bob@example.com", "u-bob");
        let by_lead = leads_token.for_person(&bob);
        let made_by_lead = PendingRequest {
            user: &bob,
            requested_by: &by_lead,
            ..request
        };
        assert_eq!(
            decide(&leads_token, Action::Deny, &Subject::Pending(made_by_lead)),
            Err(Refusal(
                "you may not approve or deny a request you made".to_owned()
            ))
        );
        // Not listed, not in a group: refused; a service token: refused.
        let mallory = token(
            Some(person("mallory@example.com", "u-m")),
            Role::Admin,
            true,
        );
        assert!(decide(&mallory, Action::Approve, &Subject::Pending(made_by_lead)).is_err());
        let in_group = PendingRequest {
            actor_in_approver_group: true,
            ..made_by_lead
        };
        assert!(decide(&mallory, Action::Approve, &Subject::Pending(in_group)).is_ok());
        let service = token(None, Role::Admin, true);
        assert!(decide(&service, Action::Approve, &Subject::Pending(in_group)).is_err());
    }
}
