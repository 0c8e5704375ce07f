//! The API's request decoders (`/api/v1`): JSON bodies, query strings, status filters and
//! page cursors never panic; a cursor the API makes reads back as the same position.
#![no_main]

use aws_jit_core::api_request::{
    AuditParams, DecisionBody, ExtendBody, GrantBody, GrantsQuery, parse_grant_cursor,
    parse_statuses,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<GrantBody>(data);
    let _ = serde_json::from_slice::<ExtendBody>(data);
    let _ = serde_json::from_slice::<DecisionBody>(data);
    // axum's `Query` decodes with serde_urlencoded, as here.
    let _ = serde_urlencoded::from_bytes::<GrantsQuery>(data);
    let _ = serde_urlencoded::from_bytes::<AuditParams>(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(message) = parse_statuses(text) {
        assert!(
            !message.chars().any(aws_jit_core::text::is_hostile),
            "{message:?}"
        );
    }
    match parse_grant_cursor(text) {
        Ok((at, id)) => {
            let again = format!("{}.{id}", at.as_millisecond());
            assert_eq!(parse_grant_cursor(&again), Ok((at, id)));
        }
        Err(message) => {
            assert!(
                !message.chars().any(aws_jit_core::text::is_hostile),
                "{message:?}"
            );
        }
    }
});
