//! What Slack sends (after the signature check): any body is an interaction, a command, an
//! event or nothing, and what is read from it is bounded and printable.
#![no_main]

use aws_jit_core::slack_interaction::{
    Interaction, MAX_ID_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS, SlackEvent, SlackUser, form_value,
    parse_command, parse_event, parse_interaction,
};
use libfuzzer_sys::fuzz_target;

fn plain_id(id: &str) {
    assert!(id.len() <= MAX_ID_CHARS, "{id:?}");
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'),
        "{id:?}"
    );
}

fn user(user: &SlackUser) {
    plain_id(&user.user_id);
    plain_id(&user.team_id);
    assert!(!user.user_id.is_empty());
}

fn url(url: &str) {
    assert!(url.len() <= MAX_URL_CHARS);
    assert!(!url.chars().any(aws_jit_core::text::is_hostile));
}

fn check(body: &[u8]) {
    match parse_interaction(body) {
        Some(Interaction::Click(click)) => {
            user(&click.user);
            plain_id(&click.grant_id);
            if let Some(u) = &click.response_url {
                url(u);
            }
        }
        Some(Interaction::Suggestion(s)) => {
            user(&s.user);
            assert!(s.query.chars().count() <= MAX_TEXT_CHARS);
        }
        Some(Interaction::Submission(s)) => {
            user(&s.user);
            plain_id(&s.view_id);
            assert!(s.reason.chars().count() <= MAX_TEXT_CHARS);
            assert!(s.duration.chars().count() <= MAX_TEXT_CHARS);
        }
        None => {}
    }
    if let Some(command) = parse_command(body) {
        user(&command.user);
        plain_id(&command.trigger_id);
        url(&command.response_url);
        assert!(command.text.chars().count() <= MAX_TEXT_CHARS);
    }
    if let Some(SlackEvent::HomeOpened(u)) = parse_event(body) {
        user(&u);
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = form_value(data, "payload");
    check(data);
    // The same payload as a JSON text, form-encoded as Slack sends it.
    if let Ok(text) = std::str::from_utf8(data) {
        let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
        check(format!("payload={encoded}").as_bytes());
    }
});
