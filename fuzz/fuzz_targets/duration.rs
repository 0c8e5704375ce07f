//! The duration parser: never panics, and what it accepts prints back to the same value.
#![no_main]

use aws_jit_core::AccessDuration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = AccessDuration::parse(text) {
        let back = AccessDuration::parse(&d.to_string()).expect("a printed duration parses");
        assert_eq!(back, d);
    }
});
