//! Slack's request signatures on arbitrary headers and bodies: verification never panics,
//! and only the body signed with the secret at that time verifies.
#![no_main]

use aws_jit_core::slack_signature::{sign, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &[u8], i64)| {
    let (timestamp, signature, body, now) = input;
    let _ = verify("secret", Some(timestamp), Some(signature), body, now);
    let _ = verify("secret", None, Some(signature), body, now);
    if let Ok(at) = timestamp.parse::<i64>()
        && at.to_string() == timestamp
    {
        let good = sign("secret", timestamp, body);
        assert!(verify("secret", Some(timestamp), Some(&good), body, at).is_ok());
        assert!(verify("other", Some(timestamp), Some(&good), body, at).is_err());
    }
});
