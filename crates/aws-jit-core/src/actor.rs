//! Who acts: a directory person (or the tool itself, or an operator at a shell), through
//! which channel, and on whose behalf.
//!
//! People are compared as directory principals, never as strings: two [`Person`]s are the
//! same when their Identity Center user ids are equal, and only when one of them is unknown
//! to the directory are their names compared (every name the directory knows them by,
//! case-insensitively). An actor is stored as JSON ([`Actor::to_stored`]) in grant rows and
//! audit events, and rendered for people in one place ([`Actor`]'s `Display`). Records
//! written before actors were structured hold a free-form string, kept as
//! [`Principal::Recorded`] so that rendering and the audit hash stay exactly as written.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::Role;

/// A person of the organisation's directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Person {
    /// The canonical email (lowercase): the directory's primary email, or the address as
    /// given when the directory does not know the person.
    pub email: String,
    /// The Identity Center user id, when the directory knows the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Every other name the directory knows the person by (user name, other emails),
    /// lowercase. Found at resolution; not stored.
    #[serde(skip)]
    pub aliases: Vec<String>,
}

impl Person {
    /// A person known only by an address (not, or not yet, found in the directory).
    pub fn unresolved(email: &str) -> Person {
        Person {
            email: email.trim().to_lowercase(),
            id: None,
            aliases: Vec::new(),
        }
    }

    /// Every name the person is known by, lowercase: the email first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.email.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// Whether the person goes by `name` (case-insensitive).
    pub fn is_named(&self, name: &str) -> bool {
        let name = name.trim().to_lowercase();
        self.names().any(|n| n == name)
    }

    /// Whether both are the same person: equal directory ids when both are known, else
    /// any shared name.
    pub fn same_as(&self, other: &Person) -> bool {
        match (&self.id, &other.id) {
            (Some(a), Some(b)) => a == b,
            _ => self.names().any(|n| other.is_named(n)),
        }
    }
}

impl PartialEq for Person {
    fn eq(&self, other: &Self) -> bool {
        self.email == other.email && self.id == other.id
    }
}

impl Eq for Person {}

/// Through what an actor reached the tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    /// The command line, by an operator or a person named with `--as`.
    Cli,
    /// A Kubiya tool (the CLI with `KUBIYA_USER_EMAIL`).
    Kubiya,
    /// The HTTP API, with a token.
    Api {
        /// The token's name.
        token: String,
    },
    /// Slack (a button or a command).
    Slack {
        /// The Slack user id.
        user_id: String,
    },
    /// The MCP server.
    Mcp,
    /// The web UI.
    Web,
    /// The tool itself (the worker, a sweep).
    System,
}

impl Channel {
    /// The channel's name, as policies and audit filters see it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Cli => "cli",
            Channel::Kubiya => "kubiya",
            Channel::Api { .. } => "api",
            Channel::Slack { .. } => "slack",
            Channel::Mcp => "mcp",
            Channel::Web => "web",
            Channel::System => "system",
        }
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// A directory person.
    Person {
        /// The person.
        person: Person,
    },
    /// An operator at a shell, by OS user name: whoever holds the store and the AWS
    /// credentials is trusted with them.
    Operator {
        /// The OS user.
        name: String,
    },
    /// A service (an API token that acts for no person).
    Service,
    /// Nobody known: a request that did not authenticate.
    Anonymous,
    /// The tool itself.
    System {
        /// The task (`sweep`, `grant`, `approval`).
        task: String,
    },
    /// An actor recorded as free text before actors were structured.
    Recorded {
        /// The text as written.
        text: String,
    },
}

/// What an actor may do beyond acting for themselves (from an API token's role and
/// on-behalf right, or the CLI's trust in its operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    /// The role.
    pub role: Role,
    /// Whether they may act on behalf of other people.
    pub on_behalf: bool,
}

impl Default for Rights {
    fn default() -> Self {
        Rights {
            role: Role::Requester,
            on_behalf: false,
        }
    }
}

/// Who acts, through what, for whom, with which rights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Who.
    pub principal: Principal,
    /// Through what.
    pub channel: Channel,
    /// The person acted for, when not the principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<Person>,
    /// What they may do (decided per request; not stored).
    #[serde(skip)]
    pub rights: Rights,
}

impl Actor {
    /// A person acting for themselves through `channel`, with requester rights.
    pub fn person(person: Person, channel: Channel) -> Actor {
        Actor {
            principal: Principal::Person { person },
            channel,
            on_behalf_of: None,
            rights: Rights::default(),
        }
    }

    /// The tool itself, doing `task`.
    pub fn system(task: &str) -> Actor {
        Actor {
            principal: Principal::System {
                task: task.to_owned(),
            },
            channel: Channel::System,
            on_behalf_of: None,
            rights: Rights {
                role: Role::Admin,
                on_behalf: true,
            },
        }
    }

    /// An operator at a shell (trusted like an admin).
    pub fn operator(name: &str) -> Actor {
        Actor {
            principal: Principal::Operator {
                name: name.to_owned(),
            },
            channel: Channel::Cli,
            on_behalf_of: None,
            rights: Rights {
                role: Role::Admin,
                on_behalf: true,
            },
        }
    }

    /// Somebody unauthenticated, through `channel`.
    pub fn anonymous(channel: Channel) -> Actor {
        Actor {
            principal: Principal::Anonymous,
            channel,
            on_behalf_of: None,
            rights: Rights::default(),
        }
    }

    /// The same actor known only by its rights: what it may do whoever it is.
    pub fn rights_only(&self) -> Actor {
        Actor {
            principal: Principal::Service,
            on_behalf_of: None,
            ..self.clone()
        }
    }

    /// The same actor with these rights.
    pub fn with_rights(self, rights: Rights) -> Actor {
        Actor { rights, ..self }
    }

    /// The same actor, acting on behalf of `person` (nothing changes when that is the
    /// actor's own person).
    pub fn for_person(&self, person: &Person) -> Actor {
        let own = self.own_person().is_some_and(|p| p.same_as(person));
        Actor {
            on_behalf_of: (!own).then(|| person.clone()),
            ..self.clone()
        }
    }

    /// The directory person acting, if a person acts. For records written before actors
    /// were structured, the email the text starts with.
    pub fn own_person(&self) -> Option<&Person> {
        match &self.principal {
            Principal::Person { person } => Some(person),
            _ => None,
        }
    }

    /// The person the actor is, or else the one recorded in a legacy text.
    pub fn acting_person(&self) -> Option<Person> {
        match &self.principal {
            Principal::Person { person } => Some(person.clone()),
            Principal::Recorded { text } => recorded_person(text).map(|e| Person::unresolved(&e)),
            _ => None,
        }
    }

    /// Mutable access to the acting person, to fill in what the directory says.
    pub fn own_person_mut(&mut self) -> Option<&mut Person> {
        match &mut self.principal {
            Principal::Person { person } => Some(person),
            _ => None,
        }
    }

    /// The stored form: JSON, or a legacy record's text exactly as written.
    pub fn to_stored(&self) -> String {
        match &self.principal {
            Principal::Recorded { text } => text.clone(),
            _ => serde_json::to_string(self).unwrap_or_else(|_| self.to_string()),
        }
    }

    /// Reads a stored actor: JSON, or a legacy free-form text.
    pub fn from_stored(stored: &str) -> Actor {
        if stored.starts_with('{')
            && let Ok(actor) = serde_json::from_str::<Actor>(stored)
        {
            return actor;
        }
        Actor {
            principal: Principal::Recorded {
                text: stored.to_owned(),
            },
            channel: Channel::System,
            on_behalf_of: None,
            rights: Rights::default(),
        }
    }
}

/// The email a legacy actor text starts with (`alice@example.com`, `alice@example.com
/// (token t)`, `lead@example.com (token t) on behalf of bob@example.com`), if any.
fn recorded_person(text: &str) -> Option<String> {
    let first = text.split_whitespace().next()?;
    first
        .contains('@')
        .then(|| first.trim_matches(|c| c == '(' || c == ')').to_lowercase())
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let via = match &self.channel {
            Channel::Api { token } => Some(format!("token {token}")),
            Channel::Slack { user_id } => Some(format!("slack {user_id}")),
            Channel::Mcp => Some("mcp".to_owned()),
            Channel::Kubiya => Some("kubiya".to_owned()),
            Channel::Web => Some("web".to_owned()),
            Channel::Cli | Channel::System => None,
        };
        match (&self.principal, via) {
            (Principal::Person { person }, Some(via)) => write!(f, "{} ({via})", person.email)?,
            (Principal::Person { person }, None) => f.write_str(&person.email)?,
            (Principal::Operator { name }, _) => write!(f, "cli:{name}")?,
            (Principal::Service, Some(via)) => f.write_str(&via)?,
            (Principal::Service, None) => f.write_str("service")?,
            (Principal::Anonymous, _) => write!(f, "anonymous ({})", self.channel.as_str())?,
            (Principal::System { task }, _) => write!(f, "system:{task}")?,
            (Principal::Recorded { text }, _) => return f.write_str(text),
        }
        if let Some(other) = &self.on_behalf_of {
            write!(f, " on behalf of {}", other.email)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carol() -> Person {
        Person {
            email: "carol@example.com".to_owned(),
            id: Some("u-carol".to_owned()),
            aliases: vec!["carol.admin@example.com".to_owned()],
        }
    }

    #[test]
    fn people_are_the_same_by_directory_id_whatever_they_are_called() {
        let by_user_name = Person {
            email: "carol.admin@example.com".to_owned(),
            id: Some("u-carol".to_owned()),
            aliases: Vec::new(),
        };
        assert!(carol().same_as(&by_user_name));
        let namesake = Person {
            email: "carol@example.com".to_owned(),
            id: Some("u-other".to_owned()),
            aliases: Vec::new(),
        };
        assert!(
            !carol().same_as(&namesake),
            "ids decide when both are known"
        );
        assert!(carol().same_as(&Person::unresolved("CAROL.ADMIN@example.com")));
        assert!(!carol().same_as(&Person::unresolved("mallory@example.com")));
    }

    #[test]
    fn actors_render_as_people_read_them_and_round_trip_through_the_store() {
        let alice = Person::unresolved("alice@example.com");
        let bob = Person::unresolved("bob@example.com");
        let token = Channel::Api {
            token: "t".to_owned(),
        };
        let own = Actor::person(alice.clone(), token.clone());
        assert_eq!(own.to_string(), "alice@example.com (token t)");
        assert_eq!(
            own.for_person(&bob).to_string(),
            "alice@example.com (token t) on behalf of bob@example.com"
        );
        assert_eq!(own.for_person(&alice), own);
        let agent = Actor {
            principal: Principal::Service,
            channel: token,
            on_behalf_of: Some(bob),
            rights: Rights::default(),
        };
        assert_eq!(agent.to_string(), "token t on behalf of bob@example.com");
        assert_eq!(Actor::system("sweep").to_string(), "system:sweep");
        assert_eq!(Actor::operator("root").to_string(), "cli:root");
        assert_eq!(
            Actor::person(alice, Channel::Mcp).to_string(),
            "alice@example.com (mcp)"
        );
        for actor in [agent, own, Actor::system("sweep")] {
            let back = Actor::from_stored(&actor.to_stored());
            assert_eq!(back.to_string(), actor.to_string());
            assert_eq!(back.principal, actor.principal);
        }
    }

    #[test]
    fn legacy_records_keep_their_text_and_name_their_person() {
        let text = "lead@example.com (token t) on behalf of bob@example.com";
        let legacy = Actor::from_stored(text);
        assert_eq!(legacy.to_stored(), text);
        assert_eq!(legacy.to_string(), text);
        assert_eq!(
            legacy.acting_person().map(|p| p.email).as_deref(),
            Some("lead@example.com")
        );
        assert_eq!(Actor::from_stored("cli:root").acting_person(), None);
        assert_eq!(
            Actor::from_stored("token agent on behalf of bob@example.com").acting_person(),
            None
        );
    }
}
