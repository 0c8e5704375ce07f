//! The Cedar entities and contexts of a question: the person (with their groups), the
//! access (with its tags), and what is asked, as Cedar's JSON forms.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::actor::Person;
use crate::config::{Access, AccessTarget};

/// The principal's Cedar id: the directory's user id, or the address when it has none.
pub(crate) fn user_id(person: &Person) -> String {
    person.id.clone().unwrap_or_else(|| person.email.clone())
}

fn uid(kind: &str, id: &str) -> Value {
    json!({ "type": kind, "id": id })
}

/// The entities: the person in their groups, the groups, and the access.
pub(crate) fn entities(person: &Person, groups: &[String], access: &Access) -> Value {
    let mut names: Vec<String> = std::iter::once(person.email.to_lowercase())
        .chain(person.aliases.iter().map(|a| a.to_lowercase()))
        .collect();
    names.sort();
    names.dedup();
    let parents: Vec<Value> = groups.iter().map(|g| uid("AwsJit::Group", g)).collect();
    let mut all = vec![json!({
        "uid": uid("AwsJit::User", &user_id(person)),
        "attrs": { "email": person.email, "names": names },
        "parents": parents,
    })];
    all.extend(
        groups
            .iter()
            .map(|g| json!({ "uid": uid("AwsJit::Group", g), "attrs": {}, "parents": [] })),
    );
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
    all.push(json!({
        "uid": uid("AwsJit::Access", &access.key),
        "attrs": {
            "name": access.name,
            "kind": kind,
            "account": account,
            "permission_set": permission_set,
            "buckets": buckets,
            "max_duration_seconds": access.session_duration.as_seconds(),
        },
        "parents": [],
        "tags": access.tags,
    }));
    Value::Array(all)
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
