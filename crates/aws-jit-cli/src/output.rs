//! How grants, accesses and audit events look on stdout for people. The JSON views (the
//! same the HTTP API returns) are [`aws_jit_core::views`].

use std::io::Write as _;

use aws_jit_core::text::printable;
use aws_jit_core::views::rfc3339;
pub use aws_jit_core::views::{AccessView, AuditView, GrantView};
use aws_jit_core::{Access, AccessTarget, AuditEvent, Grant, GrantStatus};

/// Whether the reader of stdout has gone (a broken pipe).
static READER_GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes the program's output. A reader that has gone (a broken pipe: `aws-jit audit |
/// head`) is no error: the rest of the output is dropped, and the command's own outcome
/// decides the exit code (0 when it succeeded).
pub fn emit(args: std::fmt::Arguments<'_>) {
    use std::sync::atomic::Ordering;
    if READER_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            READER_GONE.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// A table for people: a header row, and columns as wide as their widest cell (the last
/// one unpadded). Cells are escaped for the terminal.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<String>> =
        std::iter::once(headers.iter().map(|h| (*h).to_owned()).collect())
            .chain(
                rows.iter()
                    .map(|r| r.iter().map(|c| printable(c).into_owned()).collect()),
            )
            .collect();
    let columns = headers.len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            cells
                .iter()
                .map(|r| r.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                let width = widths.get(c).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The grants table's columns.
pub const GRANT_HEADERS: [&str; 5] = ["ID", "STATUS", "ACCESS", "USER", "WHEN"];

/// A grant as a row of [`GRANT_HEADERS`].
pub fn grant_row(g: &Grant) -> Vec<String> {
    let when = match g.status {
        GrantStatus::Active | GrantStatus::Provisioning | GrantStatus::Pending => {
            format!("expires {}", rfc3339(g.expires_at))
        }
        GrantStatus::Revoking => format!("revoking (attempts: {})", g.attempts),
        _ => g
            .ended_at
            .map_or_else(String::new, |t| format!("ended {}", rfc3339(t))),
    };
    vec![
        g.id.to_string(),
        g.status.as_str().to_owned(),
        g.access.clone(),
        g.user.clone(),
        when,
    ]
}

/// The accesses table's columns.
pub const ACCESS_HEADERS: [&str; 4] = ["ACCESS", "SLUG", "MAX", "GRANTS"];

/// An access as a row of [`ACCESS_HEADERS`].
pub fn access_row(a: &Access) -> Vec<String> {
    let what = match &a.target {
        AccessTarget::IdentityCenter {
            account_id,
            permission_set,
        } => format!("{permission_set} on {account_id}"),
        AccessTarget::EphemeralPermissionSet { account_id, .. } => {
            format!("per-grant permission set on {account_id}")
        }
        AccessTarget::S3 {
            buckets,
            policy_template,
        } => {
            let names: Vec<&str> = buckets.iter().map(|b| b.as_str()).collect();
            format!("{policy_template} on {}", names.join(", "))
        }
    };
    vec![
        a.key.clone(),
        a.slug.clone(),
        a.session_duration.human(),
        what,
    ]
}

/// The audit table's columns.
pub const AUDIT_HEADERS: [&str; 6] = ["SEQ", "TIME", "ACTION", "ACTOR", "SUBJECT", "DETAIL"];

/// An event as a row of [`AUDIT_HEADERS`].
pub fn audit_row(e: &AuditEvent) -> Vec<String> {
    // Events about no grant (tokens, refusals, drift) leave the grant fields empty.
    let subject = match (e.grant_id.is_empty(), e.user.is_empty()) {
        (false, _) => format!("{} {} ({})", e.grant_id, e.user, e.access),
        (true, false) => e.user.clone(),
        (true, true) => "-".to_owned(),
    };
    vec![
        e.seq.to_string(),
        rfc3339(e.time),
        e.action.as_str().to_owned(),
        aws_jit_core::Actor::from_stored(&e.actor).to_string(),
        subject,
        e.detail.clone(),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use aws_jit_core::{Actor, AuditAction, Channel, Person};

    #[test]
    fn an_audit_line_names_the_actor_as_people_read_it() {
        let actor = Actor::person(
            Person::unresolved("alice@example.com"),
            Channel::Api {
                token: "laptop".to_owned(),
            },
        );
        let event = AuditEvent {
            seq: 7,
            time: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
            actor: actor.to_stored(),
            action: AuditAction::GrantRequested,
            grant_id: "g-1".to_owned(),
            access: "ops".to_owned(),
            user: "alice@example.com".to_owned(),
            detail: "duration PT1H".to_owned(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let text = table(&AUDIT_HEADERS, &[audit_row(&event)]);
        assert!(text.starts_with("SEQ  TIME"), "{text}");
        assert!(
            text.contains("  alice@example.com (token laptop)  g-1 "),
            "{text}"
        );
        assert!(!text.contains('{'), "no JSON for people: {text}");
    }

    #[test]
    fn columns_fit_their_widest_cell_and_escape_control_characters() {
        let rows = vec![
            vec!["a-very-long-access-name-indeed".to_owned(), "x".to_owned()],
            vec!["b".to_owned(), "evil\u{1b}[2K".to_owned()],
        ];
        let text = table(&["NAME", "NOTE"], &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NAME                            NOTE");
        assert_eq!(lines[1], "a-very-long-access-name-indeed  x");
        assert_eq!(lines[2], "b                               evil\\u{1b}[2K");
    }
}
