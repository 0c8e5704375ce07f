//! Use cases of aws-jit: grant, revoke, sweep, and the queries behind the CLI. They talk to
//! the world only through the [`ports`]; the binary decides which adapters fill them.
//!
//! The durability rules live here:
//! - a grant is recorded (`provisioning`, audit `grant.requested`) before AWS is changed;
//! - every status change is written with its audit event in one transaction;
//! - work on one target (one user's assignment) holds the target's lease-lock, so grants and
//!   revokes of the same assignment never interleave;
//! - access the tool did not create is never removed, and a shared assignment goes only
//!   when the last grant on it ends.

#![warn(missing_docs)]

mod jit;
pub mod ports;
mod tokens;
mod web_sessions;

pub use jit::{
    AppError, Decidable, DeliveryReport, Drift, DueOutcome, ErrorKind, GrantOutcome, GrantRequest,
    Jit, MAX_DELIVERY_ATTEMPTS, NotifySettings, Plan, PlannedChange, ReconcileReport,
    RevokeOutcome, Settings, SweepReport, TAG_GRANT, WhatIf, WhatIfAnswer, system_actor,
};
pub use tokens::{AuthFailure, NewToken, TokenError, Unauthenticated, random_secret};
pub use web_sessions::{NewSignIn, OpenedSession, SignInError, session_actor};
