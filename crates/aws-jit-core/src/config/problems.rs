//! What is wrong with a config: every problem, each naming the file, the entry and the field.

use std::fmt;

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
        /// The allowed field closest to the unknown one, when one is close.
        suggestion: Option<&'static str>,
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
            ProblemKind::UnknownField {
                allowed,
                suggestion,
            } => {
                let list = allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                f.write_str("unknown field: ")?;
                if let Some(s) = suggestion {
                    write!(f, "did you mean `{s}`? ")?;
                }
                write!(f, "the fields allowed here are {list}")
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
