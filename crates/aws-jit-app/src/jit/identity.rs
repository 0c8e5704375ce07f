//! People: an address resolved once to the directory's user (its Identity Center id, its
//! canonical email, and every other name it goes by), so that every decision compares ids.
//!
//! Which user an address names is asked of Identity Center every time (`GetUserId`): that
//! is the security-relevant answer, and it is never cached. What a known user id is called
//! (`DescribeUser`) is cached in the store for [`PROFILE_TTL`], since it only feeds display
//! and alias matching.

use std::time::Duration;

use aws_jit_core::{Actor, Channel, Person, UserEmail};
use jiff::Timestamp;

use super::{AppError, Jit};
use crate::ports::{DirectoryUser, ProviderErrorKind};

/// How long a user's names are remembered.
pub const PROFILE_TTL: Duration = Duration::from_secs(600);

fn profile_cache_key(user_id: &str) -> String {
    format!("directory.user:{user_id}")
}

/// A person from the directory's record.
fn person_from(user: &DirectoryUser, asked: &UserEmail) -> Person {
    let mut names: Vec<String> = Vec::new();
    for name in user.emails.iter().chain(user.user_name.iter()) {
        let name = name.trim().to_lowercase();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    // The canonical email: the primary one, else a user name that is an address, else the
    // address asked for.
    let email = names
        .iter()
        .find(|n| n.contains('@'))
        .cloned()
        .unwrap_or_else(|| asked.normalized());
    let asked = asked.normalized();
    if !names.contains(&asked) {
        names.push(asked);
    }
    names.retain(|n| *n != email);
    Person {
        email,
        id: Some(user.id.clone()),
        aliases: names,
    }
}

impl Jit {
    /// The directory's person for an address. With `required`, a person the directory does
    /// not know is an error; otherwise they are known by the address alone (S3 accesses,
    /// approvers listed by email, installations without Identity Center).
    pub async fn resolve_person(
        &self,
        email: &UserEmail,
        required: bool,
    ) -> Result<Person, AppError> {
        self.resolve_person_by(email, required, true).await
    }

    /// [`Jit::resolve_person`]; without `thorough`, only exact directory lookups (no scan
    /// of every user on the front doors' Identity Center budget).
    async fn resolve_person_by(
        &self,
        email: &UserEmail,
        required: bool,
        thorough: bool,
    ) -> Result<Person, AppError> {
        let instance = match self.instance().await {
            Ok(instance) => instance,
            Err(AppError::Provider(e))
                if !required
                    && matches!(
                        e.kind,
                        ProviderErrorKind::NotFound | ProviderErrorKind::AccessDenied
                    ) =>
            {
                return Ok(Person::unresolved(email.as_str()));
            }
            Err(e) => return Err(e),
        };
        let Some(user_id) = self.sso.find_user(&instance, email, thorough).await? else {
            if required {
                return Err(AppError::UnknownUser(email.to_string()));
            }
            return Ok(Person::unresolved(email.as_str()));
        };
        let now = self.clock.now();
        let key = profile_cache_key(&user_id);
        if let Some(cached) = self.store.cache_get(&key).await?
            && let Some((at, json)) = cached.split_once('|')
            && let Ok(at) = at.parse::<i64>()
            && Timestamp::from_millisecond(at)
                .is_ok_and(|at| now.duration_since(at).unsigned_abs() < PROFILE_TTL)
            && let Ok(user) = serde_json::from_str::<CachedUser>(json)
        {
            return Ok(person_from(&user.into_directory(user_id), email));
        }
        let user = self
            .sso
            .describe_user(&instance, &user_id)
            .await?
            .unwrap_or_else(|| DirectoryUser {
                id: user_id.clone(),
                user_name: None,
                emails: Vec::new(),
            });
        let cached = CachedUser::from(&user);
        if let Ok(json) = serde_json::to_string(&cached) {
            let value = format!("{}|{json}", now.as_millisecond());
            self.store.cache_put(&key, &value, now).await?;
        }
        Ok(person_from(&user, email))
    }

    /// The actor with its people resolved in the directory (best effort: a person the
    /// directory does not know keeps their address). Done once, before a decision.
    pub async fn identify(&self, actor: &Actor) -> Result<Actor, AppError> {
        let mut actor = actor.clone();
        // A Slack clicker is looked up exactly: anyone can click, and a miss must not cost
        // a scan of the whole directory.
        let thorough = !matches!(actor.channel, Channel::Slack { .. });
        if let Some(person) = actor.own_person_mut()
            && person.id.is_none()
            && let Ok(email) = UserEmail::parse(&person.email)
        {
            *person = self.resolve_person_by(&email, false, thorough).await?;
        }
        Ok(actor)
    }
}

/// What the cache keeps of a directory user.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CachedUser {
    user_name: Option<String>,
    emails: Vec<String>,
}

impl CachedUser {
    fn into_directory(self, id: String) -> DirectoryUser {
        DirectoryUser {
            id,
            user_name: self.user_name,
            emails: self.emails,
        }
    }
}

impl From<&DirectoryUser> for CachedUser {
    fn from(user: &DirectoryUser) -> Self {
        CachedUser {
            user_name: user.user_name.clone(),
            emails: user.emails.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directorys_primary_email_is_canonical_and_every_other_name_an_alias() {
        let user = DirectoryUser {
            id: "u-1".to_owned(),
            user_name: Some("carol.admin@example.com".to_owned()),
            emails: vec!["Carol@Example.com".to_owned(), "c.k@example.com".to_owned()],
        };
        let asked = UserEmail::parse("CAROL.ADMIN@example.com").unwrap();
        let person = person_from(&user, &asked);
        assert_eq!(person.email, "carol@example.com");
        assert_eq!(person.id.as_deref(), Some("u-1"));
        assert_eq!(
            person.aliases,
            ["c.k@example.com", "carol.admin@example.com"]
        );
        let nameless = DirectoryUser {
            id: "u-2".to_owned(),
            user_name: Some("dave".to_owned()),
            emails: Vec::new(),
        };
        let asked = UserEmail::parse("dave@example.com").unwrap();
        let person = person_from(&nameless, &asked);
        assert_eq!(person.email, "dave@example.com");
        assert_eq!(person.aliases, ["dave"]);
    }
}
