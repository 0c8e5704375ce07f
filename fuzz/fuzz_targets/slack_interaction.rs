//! Slack interaction bodies (`POST /slack/interactions`, after the signature check): any
//! body is a click or nothing, and a click's ids and URL are bounded and printable.
#![no_main]

use aws_jit_core::slack_interaction::{MAX_ID_CHARS, MAX_URL_CHARS, form_value, parse_interaction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = form_value(data, "payload");
    if let Some(click) = parse_interaction(data) {
        for id in [&click.grant_id, &click.user_id, &click.team_id] {
            assert!(id.len() <= MAX_ID_CHARS, "{id:?}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
        }
        assert!(!click.grant_id.is_empty() && !click.user_id.is_empty());
        assert!(click.response_url.len() <= MAX_URL_CHARS);
        assert!(
            !click
                .response_url
                .chars()
                .any(aws_jit_core::text::is_hostile)
        );
    }
    // The same payload as a JSON text, form-encoded as Slack sends it.
    if let Ok(text) = std::str::from_utf8(data) {
        let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
        let _ = parse_interaction(format!("payload={encoded}").as_bytes());
    }
});
