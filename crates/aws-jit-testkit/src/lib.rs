//! Test support: a moto server per test process (the real AWS SDK talks to it over HTTP),
//! helpers to seed and inspect it through the SDK, and a fixed clock.
//!
//! Nothing here fakes AWS: moto is the emulator, and the code under test uses the same SDK
//! clients it uses in production. `publish = false`; never a dependency of a shipped crate.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes,
    reason = "test support fails loudly; moto lives as long as the test process"
)]

mod clock;
mod fault_proxy;
mod moto;
mod postgres;
mod slack;

pub use clock::FixedClock;
pub use fault_proxy::{ChaosFigures, Fault, FaultProxy};
pub use moto::{Moto, MotoAws, aws_env, start_moto, unique, unique_account, workspace_root};
pub use postgres::{PgSchema, TEST_PG_VAR};
pub use slack::{FAKE_OTHER_TEAM, FAKE_TEAM, FakeSlack, check_options};
/// Slack's payloads, as the fake Slack's users send them.
pub mod slack_payloads {
    pub use crate::slack::{
        block_suggestion, form_encode, home_click, home_opened, interaction_body, view_submission,
    };
}
