//! The Cedar entities and contexts of a question: the person (with their groups), the
//! access (with its tags), and what is asked, as Cedar's JSON forms.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::actor::Person;
use crate::config::{Access, AccessTarget};

/// The principal's Cedar id: the directory's user id, or the address when it has none.
pub(crate) fn user_id(person: &Person) -> String {
    person.id.clone().unwrap_or_else(|| person.email.clone())
}

/// The entity types of the schema, parsed once (Cedar's parser is far too slow to run per
/// question).
#[derive(Debug, Clone)]
pub(crate) struct Types {
    user: EntityTypeName,
    group: EntityTypeName,
    access: EntityTypeName,
    action: EntityTypeName,
}

impl Types {
    pub(crate) fn new() -> Result<Types, String> {
        let parse = |name: &str| {
            EntityTypeName::from_str(name).map_err(|e| format!("entity type `{name}`: {e}"))
        };
        Ok(Types {
            user: parse("AwsJit::User")?,
            group: parse("AwsJit::Group")?,
            access: parse("AwsJit::Access")?,
            action: parse("AwsJit::Action")?,
        })
    }

    fn uid(kind: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
    }

    /// The person's uid.
    pub(crate) fn user(&self, person: &Person) -> EntityUid {
        Self::uid(&self.user, &user_id(person))
    }

    /// An action's uid.
    pub(crate) fn action(&self, name: &str) -> EntityUid {
        Self::uid(&self.action, name)
    }

    /// An access's uid.
    pub(crate) fn access(&self, key: &str) -> EntityUid {
        Self::uid(&self.access, key)
    }
}

fn string(text: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(text.to_owned())
}

/// The entities: the person in their groups, the groups, and the access.
pub(crate) fn entities(
    types: &Types,
    person: &Person,
    groups: &[String],
    access: &Access,
) -> Result<Vec<Entity>, String> {
    let mut all = person_entities(types, person, groups)?;
    all.push(access_entity(types, access)?);
    Ok(all)
}

/// The person in their groups, and the groups.
pub(crate) fn person_entities(
    types: &Types,
    person: &Person,
    groups: &[String],
) -> Result<Vec<Entity>, String> {
    let mut names: Vec<String> = std::iter::once(person.email.to_lowercase())
        .chain(person.aliases.iter().map(|a| a.to_lowercase()))
        .collect();
    names.sort();
    names.dedup();
    let parents: HashSet<EntityUid> = groups.iter().map(|g| Types::uid(&types.group, g)).collect();
    let attrs = HashMap::from([
        ("email".to_owned(), string(&person.email)),
        (
            "names".to_owned(),
            RestrictedExpression::new_set(names.iter().map(|n| string(n))),
        ),
    ]);
    let mut all = vec![Entity::new(types.user(person), attrs, parents).map_err(|e| e.to_string())?];
    all.extend(
        groups
            .iter()
            .map(|g| Entity::with_uid(Types::uid(&types.group, g))),
    );
    Ok(all)
}

/// The access, with its attributes and tags.
pub(crate) fn access_entity(types: &Types, access: &Access) -> Result<Entity, String> {
    let (kind, account, permission_set, buckets) = match &access.target {
        AccessTarget::IdentityCenter {
            account_id,
            permission_set,
        } => (
            "permission_set",
            account_id.to_string(),
            permission_set.to_string(),
            Vec::new(),
        ),
        AccessTarget::EphemeralPermissionSet { account_id, .. } => (
            "ephemeral_permission_set",
            account_id.to_string(),
            String::new(),
            Vec::new(),
        ),
        AccessTarget::S3 { buckets, .. } => (
            "s3",
            String::new(),
            String::new(),
            buckets.iter().map(ToString::to_string).collect(),
        ),
    };
    let attrs = HashMap::from([
        ("name".to_owned(), string(&access.name)),
        ("kind".to_owned(), string(kind)),
        ("account".to_owned(), string(&account)),
        ("permission_set".to_owned(), string(&permission_set)),
        (
            "buckets".to_owned(),
            RestrictedExpression::new_set(buckets.iter().map(|b| string(b))),
        ),
        (
            "max_duration_seconds".to_owned(),
            RestrictedExpression::new_long(
                i64::try_from(access.session_duration.as_seconds()).unwrap_or(i64::MAX),
            ),
        ),
    ]);
    let tags = access.tags.iter().map(|(k, v)| (k.clone(), string(v)));
    Entity::new_with_tags(types.access(&access.key), attrs, HashSet::new(), tags)
        .map_err(|e| e.to_string())
}

/// A context value from its JSON form (numbers, strings and booleans only).
pub(crate) fn restricted(value: &Value) -> RestrictedExpression {
    match value {
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) => RestrictedExpression::new_long(n.as_i64().unwrap_or_default()),
        Value::String(s) => string(s),
        other => string(&other.to_string()),
    }
}

/// The time fields every context has.
pub(crate) fn time_fields(at: Timestamp) -> [(&'static str, Value); 4] {
    let seconds = at.as_second();
    let of_day = seconds.rem_euclid(86_400);
    // 1970-01-01 was a Thursday.
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let day = usize::try_from(seconds.div_euclid(86_400).rem_euclid(7)).unwrap_or_default();
    let weekday = WEEKDAYS.get(day).copied().unwrap_or("Thu");
    [
        ("now", json!(at.as_second())),
        ("hour_utc", json!(of_day / 3_600)),
        ("minute_utc", json!(of_day % 3_600 / 60)),
        ("weekday_utc", json!(weekday)),
    ]
}
