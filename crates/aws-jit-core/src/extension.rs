//! When a live grant can be extended: one set of rules for the extend use case (which
//! refuses with the reason) and for the buttons that offer it (Slack's Home and its
//! pre-expiry DM), so that nothing offers what the use case would refuse.

use crate::config::Access;
use crate::duration::effective_duration;
use crate::grant::Grant;

/// Why `grant` cannot be extended, or `None` when it can: its generated policy carries
/// the expiry, its access needs approval, it began by break-glass (`break_glass`, from its
/// first audit event), or it already ends at the access's longest (and `MAX_DURATION`'s,
/// `global_max`) after it started. Whether it is active is the caller's to check.
pub fn cannot_extend(
    grant: &Grant,
    access: &Access,
    global_max: Option<crate::AccessDuration>,
    break_glass: bool,
) -> Option<String> {
    if grant.target.carries_expiry() {
        return Some(
            "its generated policy carries the expiry in its condition; request a new grant"
                .to_owned(),
        );
    }
    if access.approval.is_some() {
        return Some(
            "its access needs approval: request it again, and approvers decide".to_owned(),
        );
    }
    if break_glass {
        return Some("break-glass grants are short by design: request it again".to_owned());
    }
    let longest = effective_duration(None, access.session_duration, global_max)
        .duration
        .to_signed();
    let started = grant.granted_at.unwrap_or(grant.requested_at);
    let at_longest = started
        .checked_add(longest)
        .map_or(true, |limit| limit <= grant.expires_at);
    at_longest.then(|| {
        format!(
            "it already ends at the access's maximum of {} after it started",
            access.session_duration.human()
        )
    })
}
