//! Validated identifiers: AWS account ids, permission set names, bucket names, user emails
//! and grant ids. Each is a newtype whose only constructor is `parse`, so a value of the
//! type is valid by construction. No I/O here.

use std::fmt;

/// Why an identifier was refused. The messages follow the house error style.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The account id shows signs of masking (`***1775`).
    #[error("`{0}` looks masked: use the full 12-digit account id")]
    MaskedAccountId(String),
    /// The account id is not 12 digits.
    #[error("`{0}` is not an AWS account id: it must be exactly 12 digits")]
    AccountId(String),
    /// The permission set name breaks AWS's rules.
    #[error(
        "`{0}` is not a valid permission set name: 1 to 32 characters of letters, digits and `+=,.@-_`"
    )]
    PermissionSetName(String),
    /// The email is not plausible.
    #[error("`{0}` is not an email address")]
    Email(String),
    /// The email has characters outside ASCII (look-alikes are refused).
    #[error(
        "`{0}` has non-ASCII characters: look-alike letters are refused, type the address in ASCII"
    )]
    NonAsciiEmail(String),
    /// The bucket name breaks S3's naming rules.
    #[error("`{name}` is not a valid S3 bucket name: {why}")]
    BucketName {
        /// The refused name.
        name: String,
        /// Which rule it breaks.
        why: &'static str,
    },
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A 12-digit AWS account id.
    AccountId
);
string_newtype!(
    /// An IAM Identity Center permission set name (`[\w+=,.@-]{1,32}`).
    PermissionSetName
);
string_newtype!(
    /// A user's email address, kept as given (matching is case-insensitive elsewhere).
    UserEmail
);
string_newtype!(
    /// An S3 bucket name that passed S3's naming rules, so it cannot widen a policy.
    BucketName
);
string_newtype!(
    /// A grant's id (a UUID chosen by the caller).
    GrantId
);

impl AccountId {
    /// Parses a 12-digit account id.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        if input.contains('*') || input.contains('x') && input.len() == 12 {
            return Err(IdError::MaskedAccountId(input.to_owned()));
        }
        if input.len() == 12 && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(IdError::AccountId(input.to_owned()))
        }
    }
}

/// Whether IAM allows `c` in a name (`[\w+=,.@-]`): policy, user and permission set names.
pub fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

impl PermissionSetName {
    /// Parses a permission set name under AWS's rules.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let ok = (1..=32).contains(&input.chars().count()) && input.chars().all(is_iam_name_char);
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(IdError::PermissionSetName(input.to_owned()))
        }
    }
}

impl UserEmail {
    /// Parses an email address: one `@`, a non-empty local part, a dotted domain, no spaces
    /// or control characters, at most 254 characters, and ASCII only: a look-alike letter
    /// (Cyrillic `а` for Latin `a`) would otherwise name someone else convincingly in an
    /// approver list or a Slack message.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let err = || IdError::Email(input.to_owned());
        if !input.is_ascii() {
            return Err(IdError::NonAsciiEmail(input.to_owned()));
        }
        if input.len() > 254 || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err());
        }
        let (local, domain) = input.split_once('@').ok_or_else(err)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || !domain_ok {
            return Err(err());
        }
        Ok(Self(input.to_owned()))
    }

    /// The lowercase form used for matching and for the store.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl BucketName {
    /// Parses a bucket name under S3's general-purpose bucket naming rules.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let fail = |why| {
            Err(IdError::BucketName {
                name: input.to_owned(),
                why,
            })
        };
        if input.contains('*') || input.contains('?') {
            return fail("wildcards would widen the policy");
        }
        if input.starts_with("arn:") || input.contains(':') || input.contains('/') {
            return fail("give the bucket name, not an ARN or a path");
        }
        if !(3..=63).contains(&input.len()) {
            return fail("it must be 3 to 63 characters long");
        }
        if input.bytes().any(|b| b.is_ascii_uppercase()) {
            return fail("it must be lowercase");
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return fail("only lowercase letters, digits, `.` and `-` are allowed");
        }
        let edge_ok =
            |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !edge_ok(input.bytes().next()) || !edge_ok(input.bytes().last()) {
            return fail("it must begin and end with a letter or digit");
        }
        if input.contains("..") {
            return fail("it must not contain `..`");
        }
        if input.split('.').count() == 4 && input.split('.').all(|p| p.parse::<u8>().is_ok()) {
            return fail("it must not look like an IP address");
        }
        if input.starts_with("xn--") || input.starts_with("sthree-") {
            return fail("the prefixes `xn--` and `sthree-` are reserved");
        }
        if input.ends_with("-s3alias") || input.ends_with("--ol-s3") || input.ends_with("--x-s3") {
            return fail("the suffixes `-s3alias`, `--ol-s3` and `--x-s3` are reserved");
        }
        Ok(Self(input.to_owned()))
    }
}

impl GrantId {
    /// Wraps an id chosen by the caller (the app layer makes UUIDs).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`%XX`, `+` for a space); `None` if it
/// is malformed or not UTF-8.
pub fn percent_decode(encoded: &str) -> Option<String> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut bytes = encoded.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn a_twelve_digit_account_id_parses() {
        assert_eq!(
            AccountId::parse("876809951775").unwrap().as_str(),
            "876809951775"
        );
    }

    #[rstest]
    #[case::masked("***1775", "`***1775` looks masked: use the full 12-digit account id")]
    #[case::short(
        "12345",
        "`12345` is not an AWS account id: it must be exactly 12 digits"
    )]
    #[case::letters(
        "87680995177a",
        "`87680995177a` is not an AWS account id: it must be exactly 12 digits"
    )]
    #[case::masked_x(
        "xxxxxxxx1775",
        "`xxxxxxxx1775` looks masked: use the full 12-digit account id"
    )]
    fn bad_account_ids_are_refused(#[case] input: &str, #[case] message: &str) {
        assert_eq!(AccountId::parse(input).unwrap_err().to_string(), message);
    }

    #[rstest]
    #[case::seed("ECRReadOnly", true)]
    #[case::symbols("Admin+Ops=1,2.3@x-y_z", true)]
    #[case::space("Admin Access", false)]
    #[case::empty("", false)]
    #[case::too_long("A23456789012345678901234567890123", false)]
    #[case::slash("a/b", false)]
    fn permission_set_names_follow_aws_rules(#[case] input: &str, #[case] ok: bool) {
        assert_eq!(PermissionSetName::parse(input).is_ok(), ok);
    }

    #[rstest]
    #[case::plain("alice@example.com", true)]
    #[case::plus("alice+jit@sub.example.co", true)]
    #[case::no_at("alice.example.com", false)]
    #[case::no_dot("alice@localhost", false)]
    #[case::space("al ice@example.com", false)]
    #[case::two_ats("a@b@example.com", false)]
    #[case::empty_local("@example.com", false)]
    fn emails_are_checked_for_shape(#[case] input: &str, #[case] ok: bool) {
        assert_eq!(UserEmail::parse(input).is_ok(), ok);
    }

    #[rstest]
    #[case::seed("bucket1", true)]
    #[case::dotted("logs.example-1", true)]
    #[case::star("*", false)]
    #[case::prefix_star("logs-*", false)]
    #[case::arn("arn:aws:s3:::x", false)]
    #[case::double_dot("a..b", false)]
    #[case::upper("MyBucket", false)]
    #[case::too_long(&"a".repeat(64), false)]
    #[case::too_short("ab", false)]
    #[case::ip("192.168.1.1", false)]
    #[case::edge_dash("-abc", false)]
    #[case::path("bucket/prefix", false)]
    fn bucket_names_follow_s3_rules(#[case] input: &str, #[case] ok: bool) {
        assert_eq!(BucketName::parse(input).is_ok(), ok, "{input}");
    }

    #[test]
    fn percent_encoding_decodes_and_malformed_input_is_refused() {
        assert_eq!(percent_decode("PT1H").as_deref(), Some("PT1H"));
        assert_eq!(percent_decode("a%40b.com+x").as_deref(), Some("a@b.com x"));
        assert_eq!(
            percent_decode("%27%3B+rm+-rf").as_deref(),
            Some("'; rm -rf")
        );
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None, "not UTF-8");
    }
}
