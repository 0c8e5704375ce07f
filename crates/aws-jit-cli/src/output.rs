//! How grants, accesses and audit events look on stdout for people. The JSON views (the
//! same the HTTP API returns) are [`aws_jit_core::views`].

use std::io::Write as _;

use aws_jit_core::text::printable;
use aws_jit_core::views::rfc3339;
pub use aws_jit_core::views::{AccessView, AuditView, GrantView};
use aws_jit_core::{Access, AccessTarget, AuditEvent, Grant, GrantStatus};

/// Writes the program's output; a reader that has gone (a broken pipe) ends the process
/// quietly with exit 0: what was asked is done, and nobody is left to read the rest.
pub fn emit(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// One line per grant for people.
pub fn grant_line(g: &Grant) -> String {
    let when = match g.status {
        GrantStatus::Active | GrantStatus::Provisioning | GrantStatus::Pending => {
            format!("expires {}", rfc3339(g.expires_at))
        }
        GrantStatus::Revoking => format!("revoking (attempts: {})", g.attempts),
        _ => g
            .ended_at
            .map_or_else(String::new, |t| format!("ended {}", rfc3339(t))),
    };
    format!(
        "{}  {:<12} {:<28} {:<28} {}",
        g.id,
        g.status.as_str(),
        g.access,
        g.user,
        when
    )
}

/// One line per access for people.
pub fn access_line(a: &Access) -> String {
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
    format!(
        "{:<32} {:<40} max {:<8} {}",
        a.key,
        a.slug,
        a.session_duration.human(),
        what
    )
}

/// One line per event for people.
pub fn audit_line(e: &AuditEvent) -> String {
    // Events about no grant (tokens, refusals, drift) leave the grant fields empty.
    let subject = match (e.grant_id.is_empty(), e.user.is_empty()) {
        (false, _) => format!("{} {} ({})", e.grant_id, e.user, e.access),
        (true, false) => e.user.clone(),
        (true, true) => "-".to_owned(),
    };
    format!(
        "{:>6} {} {:<22} {:<24} {} {}",
        e.seq,
        rfc3339(e.time),
        e.action.as_str(),
        printable(&aws_jit_core::Actor::from_stored(&e.actor).to_string()),
        printable(&subject),
        printable(&e.detail)
    )
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
        let line = audit_line(&event);
        assert!(
            line.contains(" alice@example.com (token laptop) g-1 "),
            "{line}"
        );
        assert!(!line.contains('{'), "no JSON for people: {line}");
    }
}
