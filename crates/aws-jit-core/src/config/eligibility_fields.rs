//! The eligibility fields of an access entry: who may request it (`requesters`) and the
//! labels policies match on (`tags`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::parse::{EntryCtx, email_list, has, split_groups};
use super::*;

/// `requesters`: emails and `group:NAME`s; an empty list means nobody (but what
/// `policies.cedar` permits).
pub(crate) fn parse_requesters(ctx: &mut EntryCtx<'_>) -> Option<Requesters> {
    if !has(ctx, "requesters") {
        return None;
    }
    let (groups, people) = split_groups(ctx, "requesters");
    let only_people = vec![("requesters".to_owned(), people)];
    let mut inner = EntryCtx {
        file: ctx.file,
        key: ctx.key,
        fields: &only_people,
        problems: ctx.problems,
    };
    let people = email_list(&mut inner, "requesters")?;
    Some(Requesters { people, groups })
}

/// `tags`: an object of short, printable strings.
pub(crate) fn parse_tags(ctx: &mut EntryCtx<'_>) -> Option<BTreeMap<String, String>> {
    let Some(value) = ctx
        .fields
        .iter()
        .find(|(k, _)| k == "tags")
        .map(|(_, v)| v.clone())
    else {
        return Some(BTreeMap::new());
    };
    let Value::Object(map) = value else {
        ctx.problem(
            Some("tags"),
            ProblemKind::WrongType {
                expected: "an object of strings (`{\"env\": \"prod\"}`)",
            },
        );
        return None;
    };
    if map.len() > MAX_TAGS {
        ctx.problem(
            Some("tags"),
            ProblemKind::Invalid {
                reason: format!("at most {MAX_TAGS} tags"),
            },
        );
        return None;
    }
    let mut tags = BTreeMap::new();
    for (key, value) in map {
        let Value::String(value) = value else {
            ctx.problem(
                Some("tags"),
                ProblemKind::WrongType {
                    expected: "an object of strings (`{\"env\": \"prod\"}`)",
                },
            );
            return None;
        };
        let checked = crate::text::check("a tag key", &key, MAX_TAG_KEY_CHARS)
            .and_then(|()| crate::text::check("a tag value", &value, MAX_TAG_VALUE_CHARS));
        if let Err(e) = checked.map_err(|e| e.to_string()).and_then(|()| {
            if key.trim().is_empty() {
                Err("a tag key may not be empty".to_owned())
            } else {
                Ok(())
            }
        }) {
            ctx.problem(Some("tags"), ProblemKind::Invalid { reason: e });
            return None;
        }
        tags.insert(key, value);
    }
    Some(tags)
}
