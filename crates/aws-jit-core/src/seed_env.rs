//! The seed's environment-driven invocation: one access described by variables instead of
//! a config file (`AWS_ACCOUNT_ID` + `PERMISSION_SET_NAME`, or `BUCKETS` +
//! `POLICY_TEMPLATE`, with `MAX_DURATION` as its maximum). The access goes through the same
//! validation as a config entry; problems are reported by variable name.

use crate::config::{Catalog, ConfigFile, ConfigSource};

/// The seed's variables, as read by the caller (this crate never reads the environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedEnv {
    /// `AWS_ACCOUNT_ID`.
    pub account_id: Option<String>,
    /// `PERMISSION_SET_NAME`.
    pub permission_set: Option<String>,
    /// `MAX_DURATION` (the access's maximum; `PT1H`, the seed's default, when unset).
    pub max_duration: Option<String>,
    /// `BUCKETS`, comma-separated.
    pub buckets: Option<String>,
    /// `POLICY_TEMPLATE`.
    pub policy_template: Option<String>,
}

/// Why the variables do not describe an access (one line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SeedEnvError(pub String);

fn set(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The variable a config field comes from.
fn variable(field: &str) -> &str {
    match field {
        "account_id" => "AWS_ACCOUNT_ID",
        "permission_set" => "PERMISSION_SET_NAME",
        "session_duration" => "MAX_DURATION",
        "buckets" => "BUCKETS",
        "policy_template" => "POLICY_TEMPLATE",
        other => other,
    }
}

impl SeedEnv {
    /// The one-access catalog the variables describe, and the access's key; `None` when
    /// they describe none.
    pub fn catalog(&self) -> Result<Option<(Catalog, String)>, SeedEnvError> {
        let duration = set(self.max_duration.as_ref()).unwrap_or("PT1H");
        let sso = (
            set(self.account_id.as_ref()),
            set(self.permission_set.as_ref()),
        );
        let s3 = (
            set(self.buckets.as_ref()),
            set(self.policy_template.as_ref()),
        );
        let (file, key, entry) = match (sso, s3) {
            ((Some(account), Some(permission_set)), _) => {
                let key = format!("{permission_set} on {account}");
                let entry = serde_json::json!({
                    "name": key,
                    "description": "From AWS_ACCOUNT_ID and PERMISSION_SET_NAME",
                    "account_id": account,
                    "permission_set": permission_set,
                    "session_duration": duration,
                });
                (ConfigFile::AccessConfigs, key, entry)
            }
            ((Some(_), None), _) => {
                return Err(SeedEnvError(
                    "AWS_ACCOUNT_ID is set but PERMISSION_SET_NAME is not".to_owned(),
                ));
            }
            ((None, Some(_)), _) => {
                return Err(SeedEnvError(
                    "PERMISSION_SET_NAME is set but AWS_ACCOUNT_ID is not".to_owned(),
                ));
            }
            (_, (Some(buckets), Some(template))) => {
                let list: Vec<&str> = buckets
                    .split(',')
                    .map(str::trim)
                    .filter(|b| !b.is_empty())
                    .collect();
                let key = format!("{template} on {}", list.join(" "));
                let entry = serde_json::json!({
                    "name": key,
                    "description": "From BUCKETS and POLICY_TEMPLATE",
                    "buckets": list,
                    "policy_template": template,
                    "session_duration": duration,
                });
                (ConfigFile::S3Configs, key, entry)
            }
            (_, (Some(_), None)) => {
                return Err(SeedEnvError(
                    "BUCKETS is set but POLICY_TEMPLATE is not".to_owned(),
                ));
            }
            (_, (None, Some(_))) => {
                return Err(SeedEnvError(
                    "POLICY_TEMPLATE is set but BUCKETS is not".to_owned(),
                ));
            }
            (_, (None, None)) => return Ok(None),
        };
        let text = serde_json::json!({ key.clone(): entry }).to_string();
        let catalog = Catalog::parse(&[ConfigSource { file, text: &text }]).map_err(|errors| {
            let problems: Vec<String> = errors
                .problems
                .iter()
                .map(|p| {
                    let field = p.field.as_deref().map_or("environment", variable);
                    let mut shown = p.clone();
                    shown.file = format!("`{field}`");
                    shown.entry = None;
                    shown.field = None;
                    shown.to_string()
                })
                .collect();
            SeedEnvError(problems.join("; "))
        })?;
        Ok(Some((catalog, key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccessTarget;

    fn env(pairs: &[(&str, &str)]) -> SeedEnv {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        SeedEnv {
            account_id: get("AWS_ACCOUNT_ID"),
            permission_set: get("PERMISSION_SET_NAME"),
            max_duration: get("MAX_DURATION"),
            buckets: get("BUCKETS"),
            policy_template: get("POLICY_TEMPLATE"),
        }
    }

    #[test]
    fn the_seed_variables_describe_one_identity_center_access() {
        let (catalog, key) = env(&[
            ("AWS_ACCOUNT_ID", "123456789012"),
            ("PERMISSION_SET_NAME", "ReadOnly"),
            ("MAX_DURATION", "PT2H"),
        ])
        .catalog()
        .unwrap()
        .unwrap();
        let access = catalog.find(&key).unwrap();
        assert_eq!(access.session_duration.to_string(), "PT2H");
        assert!(matches!(
            &access.target,
            AccessTarget::IdentityCenter { permission_set, .. } if permission_set.as_str() == "ReadOnly"
        ));
    }

    #[test]
    fn buckets_and_a_template_describe_an_s3_access_with_the_seed_default_maximum() {
        let (catalog, key) = env(&[
            ("BUCKETS", "logs-a, logs-b"),
            ("POLICY_TEMPLATE", "S3ReadOnlyPolicy"),
        ])
        .catalog()
        .unwrap()
        .unwrap();
        let access = catalog.find(&key).unwrap();
        assert_eq!(access.session_duration.to_string(), "PT1H");
        assert!(matches!(&access.target, AccessTarget::S3 { buckets, .. } if buckets.len() == 2));
    }

    #[test]
    fn half_a_pair_or_a_bad_value_is_named_by_its_variable() {
        assert_eq!(env(&[]).catalog(), Ok(None));
        let half = env(&[("AWS_ACCOUNT_ID", "123456789012")]).catalog();
        assert_eq!(
            half.unwrap_err().0,
            "AWS_ACCOUNT_ID is set but PERMISSION_SET_NAME is not"
        );
        let bad = env(&[
            ("AWS_ACCOUNT_ID", "***1775"),
            ("PERMISSION_SET_NAME", "ReadOnly"),
        ])
        .catalog()
        .unwrap_err();
        assert!(bad.0.starts_with("`AWS_ACCOUNT_ID`: "), "{bad}");
        let duration = env(&[
            ("AWS_ACCOUNT_ID", "123456789012"),
            ("PERMISSION_SET_NAME", "ReadOnly"),
            ("MAX_DURATION", "forever"),
        ])
        .catalog()
        .unwrap_err();
        assert!(duration.0.starts_with("`MAX_DURATION`: "), "{duration}");
    }
}
