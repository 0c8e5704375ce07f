//! The policy set cut per access, so that a decision evaluates only the policies that can
//! apply to its access (its own generated ones and those that pin no access), and the
//! relaxed form listings evaluate.

use std::collections::HashMap;

use cedar_policy::{Effect, Policy, PolicySet, ResourceConstraint};
use serde_json::{Value, json};

/// What one access's decisions and listings evaluate.
#[derive(Debug, Default)]
pub(crate) struct Slice {
    /// The policies that can apply.
    pub(crate) full: PolicySet,
    /// The same, relaxed for listings: conditions on the context taken as met by permits
    /// and as unmet by forbids.
    pub(crate) listing: PolicySet,
}

/// Every access's slice, and one for keys no access has.
#[derive(Debug, Default)]
pub(crate) struct Slices {
    by_access: HashMap<String, Slice>,
    fallback: Slice,
}

impl Slices {
    /// Cuts `policies` for the accesses `keys`.
    pub(crate) fn build<'a>(
        policies: &PolicySet,
        keys: impl Iterator<Item = &'a str>,
    ) -> Result<Slices, String> {
        let mut pinned: HashMap<String, Vec<(Policy, Policy)>> = HashMap::new();
        let mut everywhere: Vec<(Policy, Policy)> = Vec::new();
        for policy in policies.policies() {
            let pair = (policy.clone(), relaxed(policy)?);
            match pinned_access(policy) {
                Some(key) => pinned.entry(key).or_default().push(pair),
                None => everywhere.push(pair),
            }
        }
        let slice = |own: &[(Policy, Policy)]| -> Result<Slice, String> {
            let mut slice = Slice::default();
            for (full, listing) in own.iter().chain(&everywhere) {
                slice.full.add(full.clone()).map_err(|e| e.to_string())?;
                slice
                    .listing
                    .add(listing.clone())
                    .map_err(|e| e.to_string())?;
            }
            Ok(slice)
        };
        let mut by_access = HashMap::new();
        for key in keys {
            let own = pinned.get(key).map_or(&[][..], Vec::as_slice);
            by_access.insert(key.to_owned(), slice(own)?);
        }
        Ok(Slices {
            by_access,
            fallback: slice(&[])?,
        })
    }

    /// The slice for an access, by key.
    pub(crate) fn get(&self, key: &str) -> &Slice {
        self.by_access.get(key).unwrap_or(&self.fallback)
    }
}

/// The access a policy's resource scope pins (`resource == AwsJit::Access::"K"`, or `in`,
/// which for accesses, having no parents, is the same).
fn pinned_access(policy: &Policy) -> Option<String> {
    let (ResourceConstraint::Eq(uid) | ResourceConstraint::In(uid)) = policy.resource_constraint()
    else {
        return None;
    };
    (uid.type_name().to_string() == "AwsJit::Access").then(|| uid.id().unescaped().to_owned())
}

pub(crate) fn reads_context(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.get("Var").and_then(Value::as_str) == Some("context")
                || map.values().any(reads_context)
        }
        Value::Array(items) => items.iter().any(reads_context),
        _ => false,
    }
}

/// `expr` with every part that reads the context replaced by `want` (or its negation under
/// a `!`), through `&&` and `||`: the most `want`-ward value the context could give it.
fn relax(expr: Value, want: bool) -> Value {
    if !reads_context(&expr) {
        return expr;
    }
    let Value::Object(mut map) = expr else {
        return json!({ "Value": want });
    };
    for op in ["&&", "||"] {
        if let Some(Value::Object(sides)) = map.get_mut(op) {
            for side in ["left", "right"] {
                if let Some(e) = sides.remove(side) {
                    sides.insert(side.to_owned(), relax(e, want));
                }
            }
            return Value::Object(map);
        }
    }
    if let Some(Value::Object(inner)) = map.get_mut("!")
        && let Some(arg) = inner.remove("arg")
    {
        inner.insert("arg".to_owned(), relax(arg, !want));
        return Value::Object(map);
    }
    json!({ "Value": want })
}

/// The listing form of a policy: a permit's conditions as met as the context could make
/// them, a forbid's as unmet.
fn relaxed(policy: &Policy) -> Result<Policy, String> {
    let mut json = policy.to_json().map_err(|e| e.to_string())?;
    let Some(conditions) = json.get_mut("conditions").and_then(Value::as_array_mut) else {
        return Ok(policy.clone());
    };
    if !conditions.iter().any(reads_context) {
        return Ok(policy.clone());
    }
    let permit = policy.effect() == Effect::Permit;
    for condition in conditions.iter_mut() {
        let when = condition.get("kind").and_then(Value::as_str) == Some("when");
        if let Some(body) = condition.get_mut("body") {
            // A permit applies when its `when`s hold and its `unless`es do not.
            let want = permit == when;
            *body = relax(body.take(), want);
        }
    }
    Policy::from_json(Some(policy.id().clone()), json).map_err(|e| e.to_string())
}
