//! The pure core of aws-jit: the access catalog (the seed's JSON configs) and its
//! validation, durations, identifiers, the grant state machine and the audit model.
//!
//! Nothing here performs I/O, reads the clock or the environment, or knows about AWS,
//! databases or HTTP: callers pass file contents and `now` in. That keeps every rule in this
//! crate testable with plain values, and lets the adapters stay thin.

#![warn(missing_docs)]

pub mod actor;
pub mod api_request;
pub mod approval;
pub mod audit;
pub mod auth;
pub mod authorize;
pub mod config;
pub mod duration;
pub mod eligibility;
pub mod extension;
pub mod grant;
pub mod ids;
pub mod kubiya;
pub mod policy;
pub mod request_form;
pub mod seed_env;
pub mod slack;
pub mod slack_interaction;
pub mod slack_signature;
pub mod slack_views;
pub mod target;
pub mod text;
pub mod tool_policy;
pub mod usage;
pub mod views;
pub mod web_session;

pub use actor::{Actor, Channel, Person, Principal, Rights};
pub use audit::{AuditAction, AuditEvent};
pub use config::{
    Access, AccessTarget, Catalog, ConfigErrors, ConfigFile, ConfigSource, EphemeralPolicy,
};
pub use duration::{AccessDuration, DurationError};
pub use grant::{AccessOrigin, EndCause, Grant, GrantEvent, GrantStatus};
pub use ids::{AccountId, BucketName, GrantId, PermissionSetName, UserEmail};
pub use target::GrantTarget;
