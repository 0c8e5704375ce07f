//! The use cases, over one lifecycle engine: [`Jit`] holds the ports and the access
//! catalog, and writes every change through one path (`write`, `apply_locked`).
//! Every use case takes ids and an [`Actor`], and asks the one decision point
//! (`authorize`) before it acts.
//!
//! Each is a sequence of store transactions around AWS calls, written so that a crash
//! between any two steps leaves a record from which [`Jit::sweep`] finishes or undoes the
//! work. The sweep never sleeps on its own: the caller (cron, or the server's runner)
//! decides when to call it.
use std::sync::Arc;
use std::time::Duration;

use aws_jit_core::eligibility::PolicyEngine;
use aws_jit_core::{
    Access, AccessDuration, Actor, AuditAction, AuditEvent, Catalog, Grant, GrantStatus,
};
use jiff::Timestamp;

use crate::ports::{
    Clock, GrantChange, GrantStore, Iam, IdentityCenter, Instance, LockOp, OutboxMessage,
    StoreError,
};

mod approval;
mod approval_queue;
mod authorize;
mod eligibility;
mod error;
mod extend;
mod grant;
mod identity;
mod lifecycle;
mod notify;
mod plan;
mod reconcile;
mod resolve;
mod revoke;
mod sweep;

pub use approval_queue::Decidable;
pub use eligibility::{WhatIf, WhatIfAnswer};
pub use error::{AppError, ErrorKind};
pub use grant::{GrantOutcome, GrantRequest};
pub use notify::{DeliveryReport, MAX_DELIVERY_ATTEMPTS};
pub use plan::{Plan, PlannedChange};
pub use reconcile::{Drift, ReconcileReport};
pub(crate) use resolve::{Blueprint, Prepared, assignment_of};
pub use revoke::RevokeOutcome;
pub use sweep::{DueOutcome, SweepReport};

/// The tag naming the grant on everything the tool creates in AWS.
pub const TAG_GRANT: &str = "aws-jit:grant-id";

/// One operation (a grant, or the ending of one): who acts, and the token it holds the
/// target's lock with.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) actor: Actor,
    pub(crate) holder: String,
    /// The operation carries out an approved request (the requester is told).
    pub(crate) approved: bool,
}

/// Tunables of the use cases.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `MAX_DURATION`: a cap on every grant, below each access's own maximum.
    pub global_max: Option<AccessDuration>,
    /// How long a target lock is held before it lapses (crash safety).
    pub lock_lease: Duration,
    /// How long to wait for a busy target before giving up.
    pub lock_wait: Duration,
    /// First retry delay after a failed revocation; doubles up to `retry_max`.
    pub retry_base: Duration,
    /// Longest retry delay after failed revocations.
    pub retry_max: Duration,
    /// A configured instance, skipping discovery.
    pub instance: Option<Instance>,
    /// Whether `sweep` also looks for generated policies left behind (S3 accesses exist).
    pub scan_generated_policies: bool,
    /// Whether `sweep` also looks for per-grant permission sets left behind.
    pub scan_ephemeral_permission_sets: bool,
    /// Where notifications go; `None` queues none.
    pub notify: Option<NotifySettings>,
}

/// Where notifications go (Slack): grants to the request thread and the channel, ends to
/// the user's direct messages.
#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    /// `SLACK_CHANNEL_ID`.
    pub channel: Option<String>,
    /// `SLACK_THREAD_TS`: the request's thread.
    pub thread_ts: Option<String>,
    /// What the granted message points at.
    pub instructions: aws_jit_core::slack::Instructions,
    /// `AWS_JIT_SLACK_ADMIN_CHANNEL`: where failed revocations are raised.
    pub admin_channel: Option<String>,
    /// `AWS_JIT_EXPIRY_WARNING`: how long before its expiry a grant's user is warned (with
    /// an Extend button); `None` sends no warnings.
    pub expiry_warning: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            global_max: None,
            // Longer than the worst single AWS operation (status polling is bounded at
            // two minutes); renewed before each change in AWS.
            lock_lease: Duration::from_secs(300),
            lock_wait: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            instance: None,
            scan_generated_policies: false,
            scan_ephemeral_permission_sets: false,
            notify: None,
        }
    }
}

/// The actor for work the tool does by itself.
pub fn system_actor(task: &str) -> Actor {
    Actor::system(task)
}

/// The use cases, over their ports.
#[derive(Debug, Clone)]
pub struct Jit {
    store: Arc<dyn GrantStore>,
    sso: Arc<dyn IdentityCenter>,
    iam: Arc<dyn Iam>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    catalog: Option<Arc<Catalog>>,
    policies: Option<Arc<PolicyEngine>>,
    groups: eligibility::GroupCache,
    listings: eligibility::ListingCache,
}

impl Jit {
    /// Wires the use cases.
    pub fn new(
        store: Arc<dyn GrantStore>,
        sso: Arc<dyn IdentityCenter>,
        iam: Arc<dyn Iam>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Jit {
            store,
            sso,
            iam,
            clock,
            settings,
            catalog: None,
            policies: None,
            groups: eligibility::GroupCache::default(),
            listings: eligibility::ListingCache::default(),
        }
    }

    /// The use cases over this access catalog. Without [`Jit::with_policies`] nothing
    /// may be requested or approved (fail closed); grants may still be seen and ended.
    pub fn with_catalog(self, catalog: Arc<Catalog>) -> Self {
        Jit {
            catalog: Some(catalog),
            ..self
        }
    }

    /// The access policies decided with (loaded with the catalog).
    pub fn with_policies(self, policies: Arc<PolicyEngine>) -> Self {
        Jit {
            policies: Some(policies),
            ..self
        }
    }

    /// The access catalog, if one was loaded.
    pub fn catalog(&self) -> Option<&Arc<Catalog>> {
        self.catalog.as_ref()
    }

    /// An access by its key, name or slug.
    pub fn access(&self, query: &str) -> Result<&Access, AppError> {
        let catalog = self.catalog.as_deref().ok_or(AppError::NoCatalog)?;
        catalog
            .find(query)
            .map_err(|e| AppError::UnknownAccess(e.to_string()))
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings, to adjust after wiring.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The store, for queries.
    pub fn store(&self) -> &Arc<dyn GrantStore> {
        &self.store
    }

    pub(crate) fn lease_until(&self, now: Timestamp) -> Timestamp {
        now.checked_add(self.settings.lock_lease).unwrap_or(now)
    }

    /// Runs a store write that takes a target lock, retrying while another process holds
    /// it, for at most `lock_wait`. `write` gets the current time.
    pub(crate) async fn wait_for_target<T, F, Fut>(&self, mut write: F) -> Result<T, AppError>
    where
        F: FnMut(Timestamp) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let started = self.clock.now();
        let mut delay = Duration::from_millis(50);
        loop {
            let now = self.clock.now();
            match write(now).await {
                Err(StoreError::TargetBusy { .. })
                    if now.duration_since(started).unsigned_abs() < self.settings.lock_wait =>
                {
                    self.clock.sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                other => return other.map_err(AppError::from),
            }
        }
    }

    /// Inserts the grant, taking its target's lock for the operation `op`.
    pub(crate) async fn insert_locked(
        &self,
        grant: &Grant,
        event: &AuditEvent,
        outbox: &[OutboxMessage],
        op: &Op,
    ) -> Result<(), AppError> {
        // A request waiting for approval touches no AWS resource: it takes the lock only
        // to check that nobody is mid-change on the target, and lets it lapse at once.
        let hold = grant.status != GrantStatus::Pending;
        self.wait_for_target(|now| {
            let lease = if hold { self.lease_until(now) } else { now };
            async move {
                self.store
                    .insert_grant(grant, event, outbox, &op.holder, lease, now)
                    .await?;
                log_event(event);
                Ok(())
            }
        })
        .await
    }

    /// Applies a change in the store, and says so on the log (one info line per audited
    /// change: what `serve` tells its operator about grants, revocations and expiries).
    async fn apply_change(&self, change: &GrantChange, now: Timestamp) -> Result<(), StoreError> {
        self.store.apply(change, now).await?;
        if let Some(event) = &change.event {
            log_event(event);
        }
        Ok(())
    }

    /// Writes `next` as operation `op`, taking the target's lock for it (waiting while
    /// another operation holds it).
    pub(crate) async fn write_locked(
        &self,
        op: &Op,
        current: &Grant,
        next: Grant,
        event: Option<AuditEvent>,
    ) -> Result<Grant, AppError> {
        let change = change(current, next, event, LockOp::Keep, None, Vec::new(), op);
        self.wait_for_target(|now| {
            let change = GrantChange {
                lock: LockOp::Acquire(self.lease_until(now)),
                ..change.clone()
            };
            async move {
                self.apply_change(&change, now).await?;
                Ok(change.grant)
            }
        })
        .await
    }

    /// Writes `next` once no other operation holds the target's lock: for a change that
    /// touches nothing in AWS but must not interleave with one that does (an extension of a
    /// grant whose target is being provisioned). The lock is taken with a lease that ends
    /// at once.
    pub(crate) async fn write_when_free(
        &self,
        op: &Op,
        current: &Grant,
        next: Grant,
        event: AuditEvent,
    ) -> Result<Grant, AppError> {
        let change = change(
            current,
            next,
            Some(event),
            LockOp::Keep,
            None,
            Vec::new(),
            op,
        );
        self.wait_for_target(|now| {
            let change = GrantChange {
                lock: LockOp::Acquire(now),
                ..change.clone()
            };
            async move {
                self.apply_change(&change, now).await?;
                Ok(change.grant)
            }
        })
        .await
    }

    /// Writes `next` without the target's lock: for changes that touch nothing in AWS (an
    /// approval short of the quorum, a closed request, an extension), serialized by the
    /// row version alone.
    pub(crate) async fn write_unlocked(
        &self,
        current: &Grant,
        next: Grant,
        event: AuditEvent,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Grant, AppError> {
        let op = Op {
            actor: Actor::system("write"),
            holder: String::new(),
            approved: false,
        };
        let change = change(
            current,
            next,
            Some(event),
            LockOp::Ignore,
            None,
            outbox,
            &op,
        );
        self.apply_change(&change, self.clock.now()).await?;
        Ok(change.grant)
    }

    /// A new operation by `actor`, with its own lock-holder token.
    pub(crate) fn op(&self, actor: &Actor) -> Op {
        Op {
            actor: actor.clone(),
            holder: new_grant_id(self.clock.now()),
            approved: false,
        }
    }

    pub(crate) fn event(
        &self,
        grant: &Grant,
        actor: &Actor,
        action: AuditAction,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            seq: 0,
            time: self.clock.now(),
            actor: actor.to_stored(),
            action,
            grant_id: grant.id.to_string(),
            access: grant.access.clone(),
            user: grant.user.clone(),
            detail,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// Writes `next` (a modified copy of `current`) with an audit event, as operation `op`
    /// (which must still hold the target's lock).
    pub(crate) async fn write(
        &self,
        op: &Op,
        current: &Grant,
        next: Grant,
        event: Option<AuditEvent>,
        lock: LockOp,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<Grant, AppError> {
        self.write_with(
            op,
            current,
            next,
            event,
            (lock, next_attempt_at),
            Vec::new(),
        )
        .await
    }

    /// [`Jit::write`], queueing notifications in the same transaction.
    pub(crate) async fn write_with(
        &self,
        op: &Op,
        current: &Grant,
        next: Grant,
        event: Option<AuditEvent>,
        (lock, next_attempt_at): (LockOp, Option<Timestamp>),
        outbox: Vec<OutboxMessage>,
    ) -> Result<Grant, AppError> {
        let change = change(current, next, event, lock, next_attempt_at, outbox, op);
        self.apply_change(&change, self.clock.now()).await?;
        Ok(change.grant)
    }
}

/// The one shape of every grant change: `next` (a modified copy of `current`) at the next
/// version, expected to find `current`'s version in the store, written by operation `op`.
fn change(
    current: &Grant,
    mut next: Grant,
    event: Option<AuditEvent>,
    lock: LockOp,
    next_attempt_at: Option<Timestamp>,
    outbox: Vec<OutboxMessage>,
    op: &Op,
) -> GrantChange {
    next.version = current.version + 1;
    GrantChange {
        grant: next,
        expected_version: current.version,
        event,
        lock,
        next_attempt_at,
        outbox,
        holder: op.holder.clone(),
    }
}

/// One info line for an audited change: what, about which grant, by whom. The detail (it
/// may quote a requester's free-text reason) is for the audit log, and for `-v`.
fn log_event(event: &AuditEvent) {
    tracing::info!(
        grant_id = %event.grant_id,
        access = %aws_jit_core::text::printable(&event.access),
        user = %event.user,
        actor = %Actor::from_stored(&event.actor),
        "{}",
        event.action.as_str()
    );
    tracing::debug!(
        grant_id = %event.grant_id,
        detail = %aws_jit_core::text::printable(&event.detail),
        "{} detail",
        event.action.as_str()
    );
}

/// A new grant id: a UUIDv7 (time-ordered) for the given instant.
///
/// The core takes ids as input; this is the one place they are made.
pub(crate) fn new_grant_id(now: Timestamp) -> String {
    let seconds = u64::try_from(now.as_second()).unwrap_or(0);
    let nanos = u32::try_from(now.subsec_nanosecond()).unwrap_or(0);
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, seconds, nanos);
    uuid::Uuid::new_v7(ts).to_string()
}

/// A crash point for tests: with the `failpoints` feature, `AWS_JIT_FAILPOINT=<name>`
/// aborts the process here, as a kill -9 would. Without the feature it is nothing.
#[cfg(feature = "failpoints")]
fn failpoint(name: &str) {
    if std::env::var("AWS_JIT_FAILPOINT").as_deref() == Ok(name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
fn failpoint(_name: &str) {}

/// A timestamp truncated to whole seconds, for messages.
pub(crate) fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}
