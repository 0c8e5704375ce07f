//! Free text at the boundary: the check never panics, what it accepts prints unchanged,
//! escaping leaves no control character, and redaction keeps no URL password.
#![no_main]

use aws_jit_core::text::{check, is_hostile, printable, redact};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if check("reason", text, 1_000).is_ok() {
        assert_eq!(printable(text), text);
    }
    assert!(!printable(text).chars().any(is_hostile));
    let url = format!("postgres://u:{text}@h/db");
    let masked = redact(&url);
    let plain =
        !text.contains(['/', '@', '`', '\'', '"']) && !text.chars().any(char::is_whitespace);
    if !text.is_empty() && plain {
        assert!(masked.contains("postgres://u:****@h/db"), "{masked}");
    }
});
