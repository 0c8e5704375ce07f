//! The access catalog: the seed's `access_configs.json` and `s3_configs.json`, validated.
//!
//! Parsing is pure: callers hand in each file's name and text. Every problem is collected
//! (not just the first), and each names the file, the entry key and the field. JSON syntax
//! errors carry line and column. Duplicate keys, at the top level or inside an entry, are
//! errors rather than silently last-wins. The JSON Schema in `schema/` describes the same
//! rules; a test keeps the two in agreement. This module does not touch AWS: checks that need
//! AWS (does the permission set exist?) live in the app layer.

use crate::duration::AccessDuration;
use crate::ids::{AccountId, BucketName, PermissionSetName};
use crate::policy::BuiltinTemplate;

mod eligibility_fields;
mod ordered_json;
mod parse;
mod problems;
#[cfg(test)]
mod tests;

use parse::parse_file;
pub use problems::{ConfigErrors, ConfigProblem, ProblemKind};

/// Which of the two seed files an access comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigFile {
    /// `access_configs.json`: IAM Identity Center permission set assignments.
    AccessConfigs,
    /// `s3_configs.json`: S3 bucket access through IAM policies.
    S3Configs,
}

impl ConfigFile {
    /// Both files, in load order.
    pub const ALL: [ConfigFile; 2] = [ConfigFile::AccessConfigs, ConfigFile::S3Configs];

    /// The file's name in the config directory.
    pub fn file_name(self) -> &'static str {
        match self {
            ConfigFile::AccessConfigs => "access_configs.json",
            ConfigFile::S3Configs => "s3_configs.json",
        }
    }

    fn fields(self) -> &'static [FieldSpec] {
        match self {
            ConfigFile::AccessConfigs => SSO_FIELDS,
            ConfigFile::S3Configs => S3_FIELDS,
        }
    }
}

#[derive(Debug)]
struct FieldSpec {
    name: &'static str,
    required: bool,
}

const fn req(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        required: true,
    }
}
const fn opt(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        required: false,
    }
}

const SSO_FIELDS: &[FieldSpec] = &[
    req("name"),
    opt("description"),
    req("account_id"),
    // Either `permission_set`, or the fields of a per-grant (ephemeral) permission set.
    opt("permission_set"),
    opt("inline_policy"),
    opt("managed_policies"),
    opt("buckets"),
    opt("policy_template"),
    req("session_duration"),
    opt("managed_exclusively"),
    opt("requesters"),
    opt("tags"),
    opt("approvers"),
    opt("approvals_required"),
    opt("auto_approve"),
    opt("approval_timeout"),
    opt("require_reason"),
    opt("break_glass"),
    opt("break_glass_duration"),
];

/// IAM Identity Center's limit for a permission set's inline policy, in characters.
pub const MAX_INLINE_POLICY_CHARS: usize = 32_768;
const S3_FIELDS: &[FieldSpec] = &[
    req("name"),
    opt("description"),
    req("buckets"),
    req("policy_template"),
    req("session_duration"),
    opt("requesters"),
    opt("tags"),
    opt("approvers"),
    opt("approvals_required"),
    opt("auto_approve"),
    opt("approval_timeout"),
    opt("require_reason"),
    opt("break_glass"),
    opt("break_glass_duration"),
];

/// The longest `name`: it becomes tool names and Slack headers (150 characters).
pub const MAX_NAME_CHARS: usize = 128;
/// The longest `description`: Kubiya's limit on tool descriptions.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;

/// How long a break-glass grant lasts at most when the access does not say.
pub const DEFAULT_BREAK_GLASS_DURATION: &str = "PT1H";

/// How long a request waits for approval when the access does not say.
pub const DEFAULT_APPROVAL_TIMEOUT: &str = "PT1H";

/// Who may request an access: people (lowercase emails, matched against every address the
/// directory knows them by) and Identity Center groups (`group:NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requesters {
    /// People, by email.
    pub people: Vec<String>,
    /// Identity Center groups, by display name.
    pub groups: Vec<String>,
}

impl Requesters {
    /// The list as `parse_list` reads it.
    pub fn to_list(&self) -> String {
        self.people
            .iter()
            .cloned()
            .chain(self.groups.iter().map(|g| format!("group:{g}")))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the `default_requesters` setting: comma-separated emails and `group:NAME`s.
    pub fn parse_list(list: &str) -> Result<Requesters, String> {
        let mut requesters = Requesters::default();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.strip_prefix("group:").map(str::trim) {
                Some("") => return Err("`group:` needs an Identity Center group name".to_owned()),
                Some(group) => {
                    crate::text::check("a group name", group, MAX_NAME_CHARS)
                        .map_err(|e| e.to_string())?;
                    requesters.groups.push(group.to_owned());
                }
                None => requesters.people.push(
                    crate::ids::UserEmail::parse(item)
                        .map_err(|e| e.to_string())?
                        .normalized(),
                ),
            }
        }
        Ok(requesters)
    }
}

/// The most `tags` an access may carry, and their longest key and value.
pub const MAX_TAGS: usize = 50;
/// The longest tag key.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// The longest tag value.
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// Who must approve requests for an access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// The people who may approve (lowercase emails).
    pub approvers: Vec<String>,
    /// Identity Center groups whose members may approve (`group:NAME` in the config).
    pub groups: Vec<String>,
    /// How many distinct approvers must approve (at least 1).
    pub required: usize,
    /// Requesters whose requests need no approval (lowercase emails).
    pub auto_approve: Vec<String>,
    /// How long a request waits before it lapses.
    pub timeout: AccessDuration,
}

/// What an access grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessTarget {
    /// A permission set assigned to the user on an account.
    IdentityCenter {
        /// The account the permission set is assigned on.
        account_id: AccountId,
        /// The permission set, by name.
        permission_set: PermissionSetName,
    },
    /// A permission set created for each grant alone from the given policies, assigned on
    /// the account, and deleted when the grant ends.
    EphemeralPermissionSet {
        /// The account it is assigned on.
        account_id: AccountId,
        /// What the permission set allows.
        policy: EphemeralPolicy,
    },
    /// S3 buckets through an IAM policy on the user.
    S3 {
        /// The buckets, each valid under S3's naming rules.
        buckets: Vec<BucketName>,
        /// A built-in template name or an existing policy's name or ARN.
        policy_template: String,
    },
}

/// The policies of an ephemeral permission set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EphemeralPolicy {
    /// An inline IAM policy document (compact JSON), as configured.
    pub inline_policy: Option<String>,
    /// AWS-managed policy ARNs to attach.
    pub managed_policies: Vec<String>,
    /// Buckets and the built-in template rendered into the inline policy.
    pub s3: Option<(Vec<BucketName>, BuiltinTemplate)>,
}

/// One requestable access, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The entry's JSON key.
    pub key: String,
    /// The human name (`name`).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The seed's tool slug: `name` lowercased with spaces as `_`.
    pub slug: String,
    /// The file it was defined in.
    pub source: ConfigFile,
    /// The longest a grant of it may last.
    pub session_duration: AccessDuration,
    /// What it grants.
    pub target: AccessTarget,
    /// Only the tool may hold this access: `reconcile --fix` removes standing assignments of
    /// it too (`managed_exclusively` in the config; Identity Center accesses only).
    pub managed_exclusively: bool,
    /// Who may request it (`requesters`); `None` when the entry does not say, and the
    /// `default_requesters` setting (or, without it, every directory user) applies.
    pub requesters: Option<Requesters>,
    /// Labels for policies (`tags`: `{"env": "prod"}`), Cedar entity tags on the access.
    pub tags: std::collections::BTreeMap<String, String>,
    /// Requests wait for approval (`approvers`, `approvals_required`, `auto_approve`,
    /// `approval_timeout`).
    pub approval: Option<ApprovalPolicy>,
    /// Requests must say why (`require_reason`).
    pub require_reason: bool,
    /// A requester may skip approval in an emergency, with a reason (`break_glass`).
    pub break_glass: bool,
    /// The longest a break-glass grant lasts (`break_glass_duration`, default one hour;
    /// never more than `session_duration`).
    pub break_glass_duration: AccessDuration,
}

/// The seed's slug: lowercase, spaces to `_`.
pub fn slug(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "_")
}

/// A config file's name and contents, as read by the caller.
#[derive(Debug, Clone, Copy)]
pub struct ConfigSource<'a> {
    /// Which file this is.
    pub file: ConfigFile,
    /// Its text.
    pub text: &'a str,
}

/// The validated set of accesses from both files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    accesses: Vec<Access>,
}

/// Why an access could not be found by the name the user gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing matched.
    #[error("no access is called `{query}`: {}run `aws-jit accesses` to list them{}", did_you_mean(.suggestion.as_deref()), hint(.known))]
    NotFound {
        /// What the user asked for.
        query: String,
        /// The closest key, name or slug, when one is close.
        suggestion: Option<String>,
        /// A few known keys, to help.
        known: Vec<String>,
    },
    /// Several accesses matched.
    #[error("`{query}` matches several accesses: {}; {hint}", .candidates.join(", "))]
    Ambiguous {
        /// What the user asked for.
        query: String,
        /// `file: key` of each match.
        candidates: Vec<String>,
        /// How to get out of it.
        hint: &'static str,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("did you mean `{s}`? "))
}

fn hint(known: &[String]) -> String {
    if known.is_empty() {
        " (none are configured)".to_owned()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

impl Catalog {
    /// Parses and validates the given files, collecting every problem.
    pub fn parse(sources: &[ConfigSource<'_>]) -> Result<Catalog, ConfigErrors> {
        let mut accesses = Vec::new();
        let mut problems = Vec::new();
        for source in sources {
            parse_file(*source, &mut accesses, &mut problems);
        }
        if problems.is_empty() {
            Ok(Catalog { accesses })
        } else {
            Err(ConfigErrors { problems })
        }
    }

    /// All accesses, in file and document order.
    pub fn accesses(&self) -> &[Access] {
        &self.accesses
    }

    /// Finds an access by its JSON key, its `name` or its slug.
    pub fn find(&self, query: &str) -> Result<&Access, AddressError> {
        let wanted_slug = slug(query);
        let matches: Vec<&Access> = self
            .accesses
            .iter()
            .filter(|a| a.key == query || a.name == query || a.slug == wanted_slug)
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(AddressError::NotFound {
                query: query.to_owned(),
                suggestion: crate::text::closest(
                    query,
                    self.accesses
                        .iter()
                        .flat_map(|a| [a.key.as_str(), a.name.as_str(), a.slug.as_str()]),
                )
                .map(str::to_owned),
                known: self
                    .accesses
                    .iter()
                    .take(8)
                    .map(|a| format!("`{}`", a.key))
                    .collect(),
            }),
            several => {
                let same_key = several.iter().all(|a| a.key == query);
                Err(AddressError::Ambiguous {
                    hint: if same_key {
                        "rename one of the entries: keys must differ to be addressed"
                    } else {
                        "use the entry key"
                    },
                    query: query.to_owned(),
                    candidates: several
                        .iter()
                        .map(|a| format!("`{}` in {}", a.key, a.source.file_name()))
                        .collect(),
                })
            }
        }
    }
}
