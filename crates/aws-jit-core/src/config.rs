//! The access catalog: the seed's `access_configs.json` and `s3_configs.json`, validated.
//!
//! Parsing is pure: callers hand in each file's name and text. Every problem is collected
//! (not just the first), and each names the file, the entry key and the field. JSON syntax
//! errors carry line and column. Duplicate keys, at the top level or inside an entry, are
//! errors rather than silently last-wins. The JSON Schema in `schema/` describes the same
//! rules; a test keeps the two in agreement. This module does not touch AWS: checks that need
//! AWS (does the permission set exist?) live in the app layer.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::duration::AccessDuration;
use crate::ids::{AccountId, BucketName, PermissionSetName, UserEmail, is_iam_name_char};
use crate::policy::BuiltinTemplate;

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

/// What is wrong with one place in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file is not valid JSON.
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The top level is not an object of entries.
    NotAnObject,
    /// An entry key appears twice in the file.
    DuplicateEntry,
    /// The entry is not a JSON object.
    EntryNotAnObject,
    /// A field appears twice in the entry.
    DuplicateField,
    /// A field the format does not have.
    UnknownField {
        /// The fields this file allows.
        allowed: Vec<&'static str>,
    },
    /// A required field is absent.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType {
        /// What was expected, e.g. `a string`.
        expected: &'static str,
    },
    /// A field's value is refused.
    Invalid {
        /// Why.
        reason: String,
    },
    /// Two entries of one file share a slug, so their tools would share a name.
    DuplicateSlug {
        /// The slug.
        slug: String,
        /// The other entry's key.
        other: String,
    },
}

/// One problem, located by file, entry and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file's name.
    pub file: String,
    /// The entry key, when the problem is inside an entry.
    pub entry: Option<String>,
    /// The field, when the problem is about one field.
    pub field: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let ProblemKind::Syntax { line, column, .. } = &self.kind {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, ": entry `{entry}`")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        f.write_str(": ")?;
        match &self.kind {
            ProblemKind::Syntax { message, .. } => write!(f, "invalid JSON: {message}"),
            ProblemKind::NotAnObject => {
                f.write_str("the file must be a JSON object whose keys name the accesses")
            }
            ProblemKind::DuplicateEntry => f.write_str("the entry is defined twice"),
            ProblemKind::EntryNotAnObject => f.write_str("the entry must be a JSON object"),
            ProblemKind::DuplicateField => f.write_str("the field is given twice"),
            ProblemKind::UnknownField { allowed } => {
                let list = allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                write!(f, "unknown field: the fields allowed here are {list}")
            }
            ProblemKind::MissingField => f.write_str("required field is missing"),
            ProblemKind::WrongType { expected } => write!(f, "must be {expected}"),
            ProblemKind::Invalid { reason } => f.write_str(reason),
            ProblemKind::DuplicateSlug { slug, other } => write!(
                f,
                "its tool slug `{slug}` is the same as entry `{other}`'s: give it a distinct `name`"
            ),
        }
    }
}

/// Every problem found in a set of config files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, in file order.
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} problem{} in the access configs",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// Key/value pairs in document order, keeping duplicates so they can be reported.
#[derive(Debug)]
struct OrderedObject(Vec<(String, Value)>);

/// An entry as found: an object (with duplicates kept) or some other JSON value.
#[derive(Debug)]
enum RawEntry {
    Object(Vec<(String, Value)>),
    Other,
}

struct OrderedObjectVisitor;

impl<'de> Visitor<'de> for OrderedObjectVisitor {
    type Value = OrderedObject;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            pairs.push((k, v));
        }
        Ok(OrderedObject(pairs))
    }
}

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(OrderedObjectVisitor)
    }
}

/// The top level: entry keys to entries, each entry parsed keeping its own duplicate fields.
#[derive(Debug)]
struct TopLevel(Vec<(String, RawEntry)>);

impl<'de> serde::Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let entry = map.next_value::<EntrySeed>()?;
                    entries.push((key, entry.0));
                }
                Ok(TopLevel(entries))
            }
        }
        d.deserialize_map(V)
    }
}

struct EntrySeed(RawEntry);

impl<'de> serde::Deserialize<'de> for EntrySeed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EntrySeed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let obj = OrderedObjectVisitor.visit_map(map)?;
                Ok(EntrySeed(RawEntry::Object(obj.0)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
        }
        d.deserialize_any(V)
    }
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
    #[error("no access is called `{query}`: run `aws-jit accesses` to list them{}", hint(.known))]
    NotFound {
        /// What the user asked for.
        query: String,
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

struct EntryCtx<'a> {
    file: ConfigFile,
    key: &'a str,
    fields: &'a [(String, Value)],
    problems: &'a mut Vec<ConfigProblem>,
}

impl EntryCtx<'_> {
    fn problem(&mut self, field: Option<&str>, kind: ProblemKind) {
        self.problems.push(ConfigProblem {
            file: self.file.file_name().to_owned(),
            entry: Some(self.key.to_owned()),
            field: field.map(str::to_owned),
            kind,
        });
    }

    fn get(&mut self, field: &str) -> Option<&Value> {
        let found = self.fields.iter().find(|(k, _)| k == field).map(|(_, v)| v);
        if found.is_none()
            && self
                .file
                .fields()
                .iter()
                .any(|f| f.name == field && f.required)
        {
            self.problem(Some(field), ProblemKind::MissingField);
        }
        found
    }

    fn string(&mut self, field: &str) -> Option<String> {
        match self.get(field)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.problem(
                    Some(field),
                    ProblemKind::WrongType {
                        expected: "a string",
                    },
                );
                None
            }
        }
    }

    fn non_empty_string(&mut self, field: &str) -> Option<String> {
        let s = self.string(field)?;
        if s.trim().is_empty() {
            self.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: "must not be empty".to_owned(),
                },
            );
            return None;
        }
        Some(s)
    }

    fn parsed<T, E: fmt::Display>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let s = self.string(field)?;
        match parse(&s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(
                    Some(field),
                    ProblemKind::Invalid {
                        reason: e.to_string(),
                    },
                );
                None
            }
        }
    }

    /// A text within `max` characters and without control characters (line breaks and
    /// tabs aside), or a problem: names end up in tool names, Slack messages and the log.
    fn at_most(&mut self, field: &str, text: String, max: usize) -> Option<String> {
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: "control characters are not allowed".to_owned(),
                },
            );
            return None;
        }
        let n = text.chars().count();
        if n > max {
            self.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: format!("{n} characters, over the limit of {max}"),
                },
            );
            return None;
        }
        Some(text)
    }

    /// An optional `true`/`false` field (absent is `false`).
    fn flag(&mut self, field: &str) -> bool {
        match self.fields.iter().find(|(k, _)| k == field) {
            None => false,
            Some((_, Value::Bool(b))) => *b,
            Some(_) => {
                self.problem(
                    Some(field),
                    ProblemKind::WrongType {
                        expected: "`true` or `false`",
                    },
                );
                false
            }
        }
    }

    fn check_field_names(&mut self) {
        let allowed: Vec<&'static str> = self.file.fields().iter().map(|f| f.name).collect();
        let mut seen: Vec<&str> = Vec::new();
        let names: Vec<String> = self.fields.iter().map(|(k, _)| k.clone()).collect();
        for name in &names {
            if seen.contains(&name.as_str()) {
                self.problem(Some(name), ProblemKind::DuplicateField);
            } else if !allowed.contains(&name.as_str()) {
                self.problem(
                    Some(name),
                    ProblemKind::UnknownField {
                        allowed: allowed.clone(),
                    },
                );
            }
            seen.push(name);
        }
    }
}

fn parse_file(
    source: ConfigSource<'_>,
    accesses: &mut Vec<Access>,
    problems: &mut Vec<ConfigProblem>,
) {
    let file_problem = |kind| ConfigProblem {
        file: source.file.file_name().to_owned(),
        entry: None,
        field: None,
        kind,
    };
    let top: TopLevel = match serde_json::from_str(source.text) {
        Ok(t) => t,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            problems.push(file_problem(ProblemKind::NotAnObject));
            return;
        }
        Err(e) => {
            let message = e.to_string();
            // serde_json appends " at line L column C"; we print those separately.
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m)
                .to_owned();
            problems.push(file_problem(ProblemKind::Syntax {
                line: e.line(),
                column: e.column(),
                message,
            }));
            return;
        }
    };
    let first_in_file = accesses.len();
    let mut seen_keys: Vec<&str> = Vec::new();
    for (key, entry) in &top.0 {
        if seen_keys.contains(&key.as_str()) {
            problems.push(ConfigProblem {
                entry: Some(key.clone()),
                ..file_problem(ProblemKind::DuplicateEntry)
            });
            continue;
        }
        seen_keys.push(key);
        let RawEntry::Object(fields) = entry else {
            problems.push(ConfigProblem {
                entry: Some(key.clone()),
                ..file_problem(ProblemKind::EntryNotAnObject)
            });
            continue;
        };
        let mut ctx = EntryCtx {
            file: source.file,
            key,
            fields,
            problems,
        };
        if let Some(access) = parse_entry(&mut ctx) {
            let clash = accesses
                .get(first_in_file..)
                .unwrap_or_default()
                .iter()
                .find(|a| a.slug == access.slug);
            if let Some(other) = clash {
                let kind = ProblemKind::DuplicateSlug {
                    slug: access.slug.clone(),
                    other: other.key.clone(),
                };
                ctx.problem(Some("name"), kind);
            } else {
                accesses.push(access);
            }
        }
    }
}

fn parse_entry(ctx: &mut EntryCtx<'_>) -> Option<Access> {
    let before = ctx.problems.len();
    ctx.check_field_names();
    let name = ctx
        .non_empty_string("name")
        .and_then(|n| ctx.at_most("name", n, MAX_NAME_CHARS));
    let description = match has(ctx, "description") {
        true => ctx
            .string("description")
            .and_then(|d| ctx.at_most("description", d, MAX_DESCRIPTION_CHARS)),
        false => Some(String::new()),
    };
    let target = match ctx.file {
        ConfigFile::AccessConfigs => parse_identity_center(ctx),
        ConfigFile::S3Configs => {
            let buckets = parse_buckets(ctx);
            let policy_template = ctx.parsed("policy_template", check_policy_template);
            match (buckets, policy_template) {
                (Some(buckets), Some(policy_template)) => Some(AccessTarget::S3 {
                    buckets,
                    policy_template,
                }),
                _ => None,
            }
        }
    };
    let session_duration = ctx.parsed("session_duration", AccessDuration::parse);
    let managed_exclusively = ctx.flag("managed_exclusively");
    let require_reason = ctx.flag("require_reason");
    let break_glass = ctx.flag("break_glass");
    let break_glass_duration = if has(ctx, "break_glass_duration") {
        if !break_glass {
            ctx.problem(
                Some("break_glass_duration"),
                ProblemKind::Invalid {
                    reason: "only meaningful with `\"break_glass\": true`".to_owned(),
                },
            );
        }
        ctx.parsed("break_glass_duration", AccessDuration::parse)
    } else {
        AccessDuration::parse(DEFAULT_BREAK_GLASS_DURATION).ok()
    };
    let approval = parse_approval(ctx);
    if ctx.problems.len() != before {
        return None;
    }
    let name = name?;
    Some(Access {
        key: ctx.key.to_owned(),
        slug: slug(&name),
        name,
        description: description?,
        source: ctx.file,
        session_duration: session_duration?,
        target: target?,
        managed_exclusively,
        approval,
        require_reason,
        break_glass,
        break_glass_duration: break_glass_duration?,
    })
}

/// A list of emails, lowercased; `None` (with a problem) if it is not one.
fn email_list(ctx: &mut EntryCtx<'_>, field: &str) -> Option<Vec<String>> {
    let Some(value) = ctx
        .fields
        .iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v.clone())
    else {
        return Some(Vec::new());
    };
    let Value::Array(items) = value else {
        ctx.problem(
            Some(field),
            ProblemKind::WrongType {
                expected: "a list of emails",
            },
        );
        return None;
    };
    let mut emails: Vec<String> = Vec::new();
    for item in &items {
        let parsed = item.as_str().map(UserEmail::parse);
        match parsed {
            Some(Ok(email)) if !emails.contains(&email.normalized()) => {
                emails.push(email.normalized())
            }
            Some(Ok(email)) => ctx.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: format!("`{}` is listed twice", email.normalized()),
                },
            ),
            Some(Err(e)) => ctx.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: e.to_string(),
                },
            ),
            None => ctx.problem(
                Some(field),
                ProblemKind::WrongType {
                    expected: "a list of emails",
                },
            ),
        }
    }
    Some(emails)
}

/// Splits `approvers` into group names (`group:NAME`) and the other entries (left for the
/// email check; a non-list is left whole, for its type error).
fn split_groups(ctx: &mut EntryCtx<'_>) -> (Vec<String>, Value) {
    let Some((_, value)) = ctx.fields.iter().find(|(k, _)| k == "approvers") else {
        return (Vec::new(), Value::Array(Vec::new()));
    };
    let Value::Array(items) = value.clone() else {
        return (Vec::new(), value.clone());
    };
    let mut groups: Vec<String> = Vec::new();
    let mut rest = Vec::new();
    for item in items {
        match item
            .as_str()
            .and_then(|s| s.strip_prefix("group:"))
            .map(str::trim)
        {
            Some("") => ctx.problem(
                Some("approvers"),
                ProblemKind::Invalid {
                    reason: "`group:` needs an Identity Center group name".to_owned(),
                },
            ),
            Some(name) if groups.iter().any(|g| g == name) => ctx.problem(
                Some("approvers"),
                ProblemKind::Invalid {
                    reason: format!("`group:{name}` is listed twice"),
                },
            ),
            Some(name) => groups.push(name.to_owned()),
            None => rest.push(item),
        }
    }
    (groups, Value::Array(rest))
}

/// The approval fields: none at all, or `approvers` with the others optional.
fn parse_approval(ctx: &mut EntryCtx<'_>) -> Option<ApprovalPolicy> {
    let related = ["approvals_required", "auto_approve", "approval_timeout"];
    if !has(ctx, "approvers") {
        if let Some(field) = related.iter().find(|f| has(ctx, f)) {
            ctx.problem(
                Some(field),
                ProblemKind::Invalid {
                    reason: "only meaningful with `approvers`".to_owned(),
                },
            );
        }
        return None;
    }
    // `group:NAME` entries name Identity Center groups; the rest are emails.
    let (groups, people) = split_groups(ctx);
    let only_people = vec![("approvers".to_owned(), people)];
    let mut inner = EntryCtx {
        file: ctx.file,
        key: ctx.key,
        fields: &only_people,
        problems: ctx.problems,
    };
    let approvers = email_list(&mut inner, "approvers")?;
    if approvers.is_empty() && groups.is_empty() {
        ctx.problem(
            Some("approvers"),
            ProblemKind::Invalid {
                reason: "list at least one approver".to_owned(),
            },
        );
        return None;
    }
    let required = match ctx
        .fields
        .iter()
        .find(|(k, _)| k == "approvals_required")
        .map(|(_, v)| v)
    {
        None => 1,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {
            usize::try_from(n.as_u64().unwrap_or(1)).unwrap_or(usize::MAX)
        }
        Some(_) => {
            ctx.problem(
                Some("approvals_required"),
                ProblemKind::WrongType {
                    expected: "a whole number of at least 1",
                },
            );
            return None;
        }
    };
    if groups.is_empty() && required > approvers.len() {
        ctx.problem(
            Some("approvals_required"),
            ProblemKind::Invalid {
                reason: format!(
                    "{required} distinct approvals are required but only {} approver{} listed",
                    approvers.len(),
                    if approvers.len() == 1 { " is" } else { "s are" }
                ),
            },
        );
        return None;
    }
    let auto_approve = match ctx
        .fields
        .iter()
        .find(|(k, _)| k == "auto_approve")
        .map(|(_, v)| v.clone())
    {
        None => Vec::new(),
        Some(Value::Object(rule)) => {
            if let Some(other) = rule.keys().find(|k| *k != "users") {
                ctx.problem(
                    Some("auto_approve"),
                    ProblemKind::Invalid {
                        reason: format!("unknown rule `{other}`: the rule allowed here is `users`"),
                    },
                );
                return None;
            }
            let fields = vec![(
                "users".to_owned(),
                rule.get("users")
                    .cloned()
                    .unwrap_or(Value::Array(Vec::new())),
            )];
            let mut inner = EntryCtx {
                file: ctx.file,
                key: ctx.key,
                fields: &fields,
                problems: ctx.problems,
            };
            email_list(&mut inner, "users")?
        }
        Some(_) => {
            ctx.problem(
                Some("auto_approve"),
                ProblemKind::WrongType {
                    expected: "an object like {\"users\": [emails]}",
                },
            );
            return None;
        }
    };
    let timeout = if has(ctx, "approval_timeout") {
        ctx.parsed("approval_timeout", AccessDuration::parse)?
    } else {
        AccessDuration::parse(DEFAULT_APPROVAL_TIMEOUT).ok()?
    };
    Some(ApprovalPolicy {
        approvers,
        groups,
        required,
        auto_approve,
        timeout,
    })
}

fn has(ctx: &EntryCtx<'_>, field: &str) -> bool {
    ctx.fields.iter().any(|(k, _)| k == field)
}

/// An Identity Center access: a named permission set, or an ephemeral one.
fn parse_identity_center(ctx: &mut EntryCtx<'_>) -> Option<AccessTarget> {
    let account_id = ctx.parsed("account_id", AccountId::parse);
    let ephemeral_fields = [
        "inline_policy",
        "managed_policies",
        "buckets",
        "policy_template",
    ];
    let ephemeral = ephemeral_fields.iter().any(|f| has(ctx, f));
    if has(ctx, "permission_set") {
        let permission_set = ctx.parsed("permission_set", PermissionSetName::parse);
        if ephemeral {
            ctx.problem(
                Some("permission_set"),
                ProblemKind::Invalid {
                    reason: "give either `permission_set` or a per-grant policy (`inline_policy`, `managed_policies`, `buckets` with `policy_template`), not both".to_owned(),
                },
            );
            return None;
        }
        return Some(AccessTarget::IdentityCenter {
            account_id: account_id?,
            permission_set: permission_set?,
        });
    }
    if !ephemeral {
        ctx.problem(
            Some("permission_set"),
            ProblemKind::Invalid {
                reason: "required field is missing: name a permission set, or give `inline_policy`, `managed_policies` or `buckets` with `policy_template` for a per-grant permission set".to_owned(),
            },
        );
        return None;
    }
    let before = ctx.problems.len();
    let inline_policy = match ctx.fields.iter().find(|(k, _)| k == "inline_policy") {
        None => None,
        Some((_, Value::Object(doc))) => {
            let text = serde_json::to_string(doc).unwrap_or_default();
            if !doc.contains_key("Statement") {
                ctx.problem(
                    Some("inline_policy"),
                    ProblemKind::Invalid {
                        reason: "an IAM policy document needs a `Statement`".to_owned(),
                    },
                );
            } else if text.len() > MAX_INLINE_POLICY_CHARS {
                ctx.problem(
                    Some("inline_policy"),
                    ProblemKind::Invalid {
                        reason: format!(
                            "the policy has {} characters, over Identity Center's limit of {MAX_INLINE_POLICY_CHARS}",
                            text.len()
                        ),
                    },
                );
            }
            Some(text)
        }
        Some(_) => {
            ctx.problem(
                Some("inline_policy"),
                ProblemKind::WrongType {
                    expected: "an IAM policy document (a JSON object)",
                },
            );
            None
        }
    };
    let mut managed_policies = Vec::new();
    match ctx
        .fields
        .iter()
        .find(|(k, _)| k == "managed_policies")
        .map(|(_, v)| v.clone())
    {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("managed_policies[{i}]");
                match item.as_str() {
                    Some(arn) if is_aws_managed_policy_arn(arn) => managed_policies.push(arn.to_owned()),
                    Some(arn) => ctx.problem(
                        Some(&field),
                        ProblemKind::Invalid {
                            reason: format!("`{arn}` is not an AWS-managed policy ARN (`arn:aws:iam::aws:policy/…`)"),
                        },
                    ),
                    None => ctx.problem(Some(&field), ProblemKind::WrongType { expected: "a string" }),
                }
            }
        }
        Some(_) => ctx.problem(
            Some("managed_policies"),
            ProblemKind::WrongType {
                expected: "a list of policy ARNs",
            },
        ),
    }
    let s3 = match (has(ctx, "buckets"), has(ctx, "policy_template")) {
        (false, false) => None,
        (true, true) => {
            let buckets = parse_buckets(ctx);
            let template =
                ctx.parsed("policy_template", |t| {
                    BuiltinTemplate::parse(t).ok_or_else(|| {
                    format!(
                        "`{t}` is not a built-in template: use {} in a per-grant permission set",
                        BuiltinTemplate::ALL.map(|t| format!("`{}`", t.name())).join(", ")
                    )
                })
                });
            Some((buckets?, template?))
        }
        (true, false) => {
            ctx.problem(Some("policy_template"), ProblemKind::MissingField);
            None
        }
        (false, true) => {
            ctx.problem(Some("buckets"), ProblemKind::MissingField);
            None
        }
    };
    if ctx.problems.len() != before {
        return None;
    }
    Some(AccessTarget::EphemeralPermissionSet {
        account_id: account_id?,
        policy: EphemeralPolicy {
            inline_policy,
            managed_policies,
            s3,
        },
    })
}

fn is_aws_managed_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", "aws", resource]
        if partition.starts_with("aws") && resource.starts_with("policy/") && !resource.contains('*'))
}

/// A built-in template, an IAM policy name, or an IAM policy ARN.
fn check_policy_template(value: &str) -> Result<String, String> {
    let name_ok = |n: &str| (1..=128).contains(&n.len()) && n.chars().all(is_iam_name_char);
    let ok = if let Some(rest) = value.strip_prefix("arn:") {
        // arn:PARTITION:iam::ACCOUNT|aws:policy/[PATH/]NAME
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        matches!(parts.as_slice(), [partition, "iam", "", account, resource]
            if partition.starts_with("aws")
                && (*account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
                && resource.strip_prefix("policy/").is_some_and(|p| p.rsplit('/').next().is_some_and(name_ok) && !p.contains(['*', '?']) && p.split('/').all(|seg| seg.chars().all(is_iam_name_char))))
    } else {
        name_ok(value)
    };
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` is neither a built-in template ({}) nor an IAM policy name or ARN",
            crate::policy::BuiltinTemplate::ALL
                .map(|t| format!("`{}`", t.name()))
                .join(", ")
        ))
    }
}

fn parse_buckets(ctx: &mut EntryCtx<'_>) -> Option<Vec<BucketName>> {
    let list = match ctx.get("buckets")? {
        Value::Array(items) => items.clone(),
        _ => {
            ctx.problem(
                Some("buckets"),
                ProblemKind::WrongType {
                    expected: "a list of bucket names",
                },
            );
            return None;
        }
    };
    if list.is_empty() {
        ctx.problem(
            Some("buckets"),
            ProblemKind::Invalid {
                reason: "must name at least one bucket".to_owned(),
            },
        );
        return None;
    }
    let mut buckets: Vec<BucketName> = Vec::new();
    let mut ok = true;
    for (i, item) in list.iter().enumerate() {
        let field = format!("buckets[{i}]");
        let parsed = match item {
            Value::String(s) => BucketName::parse(s).map_err(|e| ProblemKind::Invalid {
                reason: e.to_string(),
            }),
            _ => Err(ProblemKind::WrongType {
                expected: "a string",
            }),
        };
        match parsed {
            Ok(b) if buckets.contains(&b) => {
                ok = false;
                ctx.problem(
                    Some(&field),
                    ProblemKind::Invalid {
                        reason: format!("`{b}` is listed twice"),
                    },
                );
            }
            Ok(b) => buckets.push(b),
            Err(kind) => {
                ok = false;
                ctx.problem(Some(&field), kind);
            }
        }
    }
    ok.then_some(buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_SSO: &str = r#"{
        "DB Access to Staging": {
            "name": "Database Access to Staging",
            "description": "Grants access to all staging RDS databases",
            "account_id": "876809951775",
            "permission_set": "ECRReadOnly",
            "session_duration": "PT1H"
        }
    }"#;

    fn sso(text: &str) -> Result<Catalog, ConfigErrors> {
        Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text,
        }])
    }

    fn messages(text: &str) -> Vec<String> {
        sso(text)
            .unwrap_err()
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_seed_example_loads() {
        let catalog = sso(SEED_SSO).unwrap();
        let access = &catalog.accesses()[0];
        assert_eq!(access.key, "DB Access to Staging");
        assert_eq!(access.slug, "database_access_to_staging");
        assert_eq!(access.session_duration.as_seconds(), 3_600);
    }

    #[test]
    fn an_access_is_found_by_key_name_or_slug() {
        let catalog = sso(SEED_SSO).unwrap();
        for q in [
            "DB Access to Staging",
            "Database Access to Staging",
            "database_access_to_staging",
        ] {
            assert_eq!(catalog.find(q).unwrap().key, "DB Access to Staging");
        }
        let err = catalog.find("prod").unwrap_err().to_string();
        assert_eq!(
            err,
            "no access is called `prod`: run `aws-jit accesses` to list them (known: `DB Access to Staging`)"
        );
    }

    #[test]
    fn a_name_shared_by_both_files_is_ambiguous_and_lists_the_candidates() {
        let s3 = r#"{"DB Access to Staging": {"name": "Staging Buckets", "buckets": ["staging-data"], "policy_template": "S3ReadOnlyPolicy", "session_duration": "1h"}}"#;
        let catalog = Catalog::parse(&[
            ConfigSource {
                file: ConfigFile::AccessConfigs,
                text: SEED_SSO,
            },
            ConfigSource {
                file: ConfigFile::S3Configs,
                text: s3,
            },
        ])
        .unwrap();
        assert_eq!(
            catalog
                .find("DB Access to Staging")
                .unwrap_err()
                .to_string(),
            "`DB Access to Staging` matches several accesses: `DB Access to Staging` in access_configs.json, `DB Access to Staging` in s3_configs.json; rename one of the entries: keys must differ to be addressed"
        );
        assert_eq!(
            catalog.find("staging_buckets").unwrap().source,
            ConfigFile::S3Configs
        );
    }

    #[test]
    fn every_problem_is_collected_and_located() {
        let text = r#"{
            "A": {"name": "A", "account_id": "***1775", "permission_set": "bad name", "session_duration": "1y", "colour": "red"},
            "B": {"name": "B", "account_id": "123456789012", "session_duration": 5}
        }"#;
        assert_eq!(
            messages(text),
            vec![
                "access_configs.json: entry `A`: field `colour`: unknown field: the fields allowed here are `name`, `description`, `account_id`, `permission_set`, `inline_policy`, `managed_policies`, `buckets`, `policy_template`, `session_duration`, `managed_exclusively`, `approvers`, `approvals_required`, `auto_approve`, `approval_timeout`, `require_reason`, `break_glass`, `break_glass_duration`",
                "access_configs.json: entry `A`: field `account_id`: `***1775` looks masked: use the full 12-digit account id",
                "access_configs.json: entry `A`: field `permission_set`: `bad name` is not a valid permission set name: 1 to 32 characters of letters, digits and `+=,.@-_`",
                "access_configs.json: entry `A`: field `session_duration`: `1y` uses years, whose length varies: use days, hours, minutes or seconds",
                "access_configs.json: entry `B`: field `permission_set`: required field is missing: name a permission set, or give `inline_policy`, `managed_policies` or `buckets` with `policy_template` for a per-grant permission set",
                "access_configs.json: entry `B`: field `session_duration`: must be a string",
            ]
        );
    }

    #[test]
    fn per_grant_permission_sets_are_configured_by_policy_instead_of_by_name() {
        let text = r#"{
            "Inline": {"name": "Inline", "account_id": "123456789012", "inline_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}, "session_duration": "1h"},
            "Buckets": {"name": "Buckets", "account_id": "123456789012", "buckets": ["team-data"], "policy_template": "S3ReadOnlyPolicy", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "session_duration": "1h"}
        }"#;
        let catalog = sso(text).unwrap();
        assert!(matches!(
            &catalog.accesses()[1].target,
            AccessTarget::EphemeralPermissionSet { policy, .. }
                if policy.managed_policies.len() == 1 && policy.s3.is_some()
        ));
        let bad = r#"{
            "Both": {"name": "Both", "account_id": "123456789012", "permission_set": "P", "inline_policy": {"Statement": []}, "session_duration": "1h"},
            "Managed": {"name": "Managed", "account_id": "123456789012", "managed_policies": ["arn:aws:iam::123456789012:policy/Mine"], "session_duration": "1h"},
            "Half": {"name": "Half", "account_id": "123456789012", "buckets": ["team-data"], "session_duration": "1h"},
            "Custom": {"name": "Custom", "account_id": "123456789012", "buckets": ["team-data"], "policy_template": "TeamRead", "session_duration": "1h"},
            "NoStatement": {"name": "NoStatement", "account_id": "123456789012", "inline_policy": {"Version": "2012-10-17"}, "session_duration": "1h"}
        }"#;
        assert_eq!(
            messages(bad),
            vec![
                "access_configs.json: entry `Both`: field `permission_set`: give either `permission_set` or a per-grant policy (`inline_policy`, `managed_policies`, `buckets` with `policy_template`), not both",
                "access_configs.json: entry `Managed`: field `managed_policies[0]`: `arn:aws:iam::123456789012:policy/Mine` is not an AWS-managed policy ARN (`arn:aws:iam::aws:policy/…`)",
                "access_configs.json: entry `Half`: field `policy_template`: required field is missing",
                "access_configs.json: entry `Custom`: field `policy_template`: `TeamRead` is not a built-in template: use `S3ReadOnlyPolicy`, `S3ReadWritePolicy`, `S3FullAccessPolicy` in a per-grant permission set",
                "access_configs.json: entry `NoStatement`: field `inline_policy`: an IAM policy document needs a `Statement`",
            ]
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        assert_eq!(
            messages("{\n  \"A\": {,}\n}"),
            vec!["access_configs.json:2:9: invalid JSON: key must be a string"]
        );
        assert_eq!(
            messages("[]"),
            vec![
                "access_configs.json: the file must be a JSON object whose keys name the accesses"
            ]
        );
    }

    #[test]
    fn duplicate_entries_fields_and_slugs_are_refused() {
        let text = r#"{
            "A": {"name": "Same Name", "account_id": "123456789012", "permission_set": "P", "session_duration": "1h"},
            "A": {"name": "Other", "account_id": "123456789012", "permission_set": "P", "session_duration": "1h"},
            "B": {"name": "same name", "account_id": "123456789012", "permission_set": "P", "permission_set": "Q", "session_duration": "1h"},
            "C": {"name": "same name", "account_id": "123456789012", "permission_set": "P", "session_duration": "1h"}
        }"#;
        assert_eq!(
            messages(text),
            vec![
                "access_configs.json: entry `A`: the entry is defined twice",
                "access_configs.json: entry `B`: field `permission_set`: the field is given twice",
                "access_configs.json: entry `C`: field `name`: its tool slug `same_name` is the same as entry `A`'s: give it a distinct `name`",
            ]
        );
    }

    #[test]
    fn policy_templates_with_wildcards_are_refused() {
        for template in [
            "arn:aws:iam::aws:policy/Admin?strator*",
            "arn:aws:iam::aws:policy/Admin?Access",
            "Team Read",
        ] {
            let text = format!(
                r#"{{"R": {{"name": "R", "buckets": ["ok-bucket"], "policy_template": "{template}", "session_duration": "1h"}}}}"#
            );
            let parsed = Catalog::parse(&[ConfigSource {
                file: ConfigFile::S3Configs,
                text: &text,
            }]);
            assert!(parsed.is_err(), "{template} accepted");
        }
    }

    #[test]
    fn s3_buckets_that_would_widen_a_policy_are_refused() {
        let text = r#"{"R": {"name": "R", "buckets": ["ok-bucket", "*", "ok-bucket"], "policy_template": "S3ReadOnlyPolicy", "session_duration": "1h"}}"#;
        let errs = Catalog::parse(&[ConfigSource {
            file: ConfigFile::S3Configs,
            text,
        }])
        .unwrap_err();
        let msgs: Vec<String> = errs.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "s3_configs.json: entry `R`: field `buckets[1]`: `*` is not a valid S3 bucket name: wildcards would widen the policy",
                "s3_configs.json: entry `R`: field `buckets[2]`: `ok-bucket` is listed twice",
            ]
        );
    }

    #[test]
    fn approval_rules_are_read_and_checked() {
        let ok = r#"{"A": {"name": "A", "account_id": "123456789012", "permission_set": "P",
            "session_duration": "PT1H", "approvers": ["Lead@Example.com", "sec@example.com"],
            "approvals_required": 2, "auto_approve": {"users": ["oncall@example.com"]},
            "approval_timeout": "30m", "require_reason": true, "break_glass": true}}"#;
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text: ok,
        }])
        .unwrap();
        let access = &catalog.accesses()[0];
        let policy = access.approval.as_ref().unwrap();
        assert_eq!(policy.approvers, ["lead@example.com", "sec@example.com"]);
        assert_eq!(policy.required, 2);
        assert_eq!(policy.auto_approve, ["oncall@example.com"]);
        assert_eq!(policy.timeout.to_string(), "PT30M");
        assert!(access.require_reason && access.break_glass);

        let problems = |entry: &str| -> Vec<String> {
            let text = format!(
                r#"{{"A": {{"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H", {entry}}}}}"#
            );
            match Catalog::parse(&[ConfigSource {
                file: ConfigFile::AccessConfigs,
                text: &text,
            }]) {
                Ok(_) => Vec::new(),
                Err(e) => e.problems.iter().map(ToString::to_string).collect(),
            }
        };
        assert!(problems(r#""approvers": ["a@example.com"], "approvals_required": 2"#)[0]
            .ends_with("field `approvals_required`: 2 distinct approvals are required but only 1 approver is listed"));
        assert!(
            problems(r#""approvals_required": 1"#)[0].ends_with("only meaningful with `approvers`")
        );
        assert!(problems(r#""approvers": []"#)[0].ends_with("list at least one approver"));
        assert!(
            problems(r#""approvers": ["a@example.com", "A@example.com"]"#)[0]
                .contains("listed twice")
        );
        assert!(problems(r#""approvers": ["not-an-email"]"#)[0].contains("field `approvers`"));
        assert!(
            problems(r#""approvers": ["a@example.com"], "auto_approve": {"groups": []}"#)[0]
                .contains("unknown rule `groups`")
        );
        assert!(problems(r#""break_glass": "yes""#)[0].ends_with("must be `true` or `false`"));
        assert!(
            problems(r#""approvers": ["group:"]"#)[0]
                .contains("needs an Identity Center group name")
        );
        assert!(problems(r#""approvers": ["group:Leads"], "approvals_required": 3"#).is_empty());
    }
}
