//! `aws-jit serve`: the expiry worker and the HTTP endpoints, in one process.
//!
//! The worker is the only place that sleeps: it runs the sweep use case, then waits until
//! the store's next due instant, never longer than `poll` (so that grants written by another
//! process, such as the CLI, are picked up within it), and wakes early when told to. On
//! shutdown it finishes the sweep in flight (the AWS call included) and stops.
//! This crate chooses no adapters: it receives a wired [`Jit`].

pub mod api;
mod bounds;
pub mod openapi;
pub mod slack;
pub mod web;

pub use bounds::HttpLimits;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_jit_app::ports::Messenger;
use aws_jit_app::{DueOutcome, Jit, SweepReport};
use aws_jit_core::Catalog;
use aws_jit_core::eligibility::PolicyEngine;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use tokio::sync::{Notify, watch};

/// Worker tuning.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The longest the worker sleeps before looking at the store again.
    pub poll: Duration,
    /// The shortest pause after a sweep that made no progress (all due grants busy or
    /// failing), so a stuck grant never makes the worker spin.
    pub idle_floor: Duration,
    /// How many grants are ended at once (each is a few AWS calls).
    pub concurrency: usize,
    /// How often to look for generated policies and permission sets left behind.
    pub orphan_scan_every: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            poll: Duration::from_secs(1),
            idle_floor: Duration::from_millis(250),
            concurrency: 16,
            orphan_scan_every: Duration::from_secs(300),
        }
    }
}

/// Counts AWS calls by `Service.Operation outcome` (the binary passes its adapter's).
pub type AwsCalls = Arc<dyn Fn() -> BTreeMap<String, u64> + Send + Sync>;

/// The revocation lateness histogram's bucket bounds, in seconds.
const LATENESS_BUCKETS: [f64; 9] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];

/// The worker's counters, exported at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    expired: AtomicU64,
    revoked: AtomicU64,
    undone: AtomicU64,
    revoke_failures: AtomicU64,
    worker_errors: AtomicU64,
    lateness_buckets: [AtomicU64; LATENESS_BUCKETS.len()],
    lateness_count: AtomicU64,
    lateness_sum_ms: AtomicU64,
}

impl Metrics {
    fn record(&self, outcome: &DueOutcome) {
        let counter = match outcome {
            DueOutcome::Expired => &self.expired,
            DueOutcome::Revoked => &self.revoked,
            DueOutcome::Undone => &self.undone,
            DueOutcome::Failed(_) => &self.revoke_failures,
            DueOutcome::Busy | DueOutcome::Nothing => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn observe_lateness(&self, late: Duration) {
        let seconds = late.as_secs_f64();
        for (bound, bucket) in LATENESS_BUCKETS.iter().zip(&self.lateness_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.lateness_count.fetch_add(1, Ordering::Relaxed);
        self.lateness_sum_ms.fetch_add(
            u64::try_from(late.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub jit: Jit,
    /// The access catalog, if the configs loaded (the worker runs either way: expiry must
    /// never wait on a config fix).
    pub catalog: Option<Arc<Catalog>>,
    /// Wakes the worker after a change made through this process.
    pub wake: Arc<Notify>,
    /// The worker's counters.
    pub metrics: Arc<Metrics>,
    /// AWS calls so far.
    pub aws_calls: AwsCalls,
    /// Slack, with the signing secret that authenticates its button clicks.
    pub slack: Option<SlackApp>,
    /// How many unauthenticated refusals may still be audited this minute.
    pub refusals: Arc<RefusalBudget>,
    /// The web UI.
    pub web: Arc<web::Web>,
}

/// Unauthenticated refusals (401s, bad Slack signatures) are audited, but at most
/// [`RefusalBudget::PER_MINUTE`] a minute: anyone can send them, and each audit append
/// serializes with every grant change. Beyond the budget they are counted
/// (`aws_jit_refusals_unaudited_total`) and logged.
#[derive(Debug, Default)]
pub struct RefusalBudget {
    window: std::sync::Mutex<Option<(tokio::time::Instant, u32)>>,
    unaudited: AtomicU64,
}

impl RefusalBudget {
    /// Audited unauthenticated refusals per minute.
    pub const PER_MINUTE: u32 = 30;

    /// Whether this refusal may be audited; counts it otherwise.
    pub fn take(&self) -> bool {
        let now = tokio::time::Instant::now();
        let Ok(mut window) = self.window.lock() else {
            return false;
        };
        let (start, used) = window.get_or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(60) {
            *start = now;
            *used = 0;
        }
        if *used < Self::PER_MINUTE {
            *used += 1;
            true
        } else {
            self.unaudited.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// Slack's side of the server: buttons clicked in approval requests.
#[derive(Clone)]
pub struct SlackApp {
    /// `SLACK_SIGNING_SECRET`.
    pub signing_secret: Arc<str>,
    /// Who clicked, and where to answer.
    pub messenger: Arc<dyn Messenger>,
    /// `SLACK_TEAM_ID`: the only workspace whose clicks are accepted, when set.
    pub team_id: Option<String>,
    /// Clicks being decided at once, at most.
    pub decisions: Arc<tokio::sync::Semaphore>,
    /// The Slack users with work in progress: one at a time each.
    pub deciding: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    /// The slash command that opens the request modal (`SLACK_COMMAND`).
    pub command: Arc<str>,
    /// Slack users recently looked up.
    pub people: Arc<slack::People>,
    /// Access searches answered at once, at most.
    pub searches: Arc<tokio::sync::Semaphore>,
}

/// How many of the request modal's access searches are answered at once.
pub const SLACK_SEARCHES_AT_ONCE: usize = 4;

/// How many Slack clicks are decided at once.
pub const SLACK_DECISIONS_AT_ONCE: usize = 8;

impl std::fmt::Debug for SlackApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("SlackApp")
            .field("messenger", &self.messenger)
            .finish_non_exhaustive()
    }
}

/// What the server runs on.
pub struct Services {
    /// The use cases, for the front doors (HTTP API, Slack).
    pub jit: Jit,
    /// The use cases for the expiry worker and the outbox: wired apart (their own store
    /// connections and a reserved share of the Identity Center rate), so that no amount of
    /// front-door traffic can delay a revocation.
    pub worker_jit: Jit,
    /// The HTTP side's limits.
    pub http: HttpLimits,
    /// The access catalog, if the configs loaded.
    pub catalog: Option<Arc<Catalog>>,
    /// The access policies loaded with the catalog; without them nothing may be requested
    /// or approved (grants still end).
    pub policies: Option<Arc<PolicyEngine>>,
    /// Slack, when configured: the outbox worker delivers through it.
    pub messenger: Option<Arc<dyn Messenger>>,
    /// `SLACK_SIGNING_SECRET`, enabling `POST /slack/interactions`.
    pub slack_signing_secret: Option<String>,
    /// `SLACK_TEAM_ID`: the only workspace whose clicks are accepted, when set.
    pub slack_team_id: Option<String>,
    /// `SLACK_COMMAND`: the slash command that opens the request modal.
    pub slack_command: String,
    /// AWS calls so far, for `/metrics`.
    pub aws_calls: AwsCalls,
    /// The web UI's settings.
    pub web: web::WebSettings,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("jit", &self.jit)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("jit", &self.jit)
            .finish_non_exhaustive()
    }
}

/// The HTTP routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest("/api/v1", api::routes())
        .merge(web::routes())
        .route(
            "/slack/interactions",
            axum::routing::post(slack::slack_interactions),
        )
        .route(
            "/slack/commands",
            axum::routing::post(slack::request_modal::slack_commands),
        )
        .route(
            "/slack/events",
            axum::routing::post(slack::home::slack_events),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

/// 404, as the documented JSON error.
async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    api::ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!(
            "no route {method} {}: the README lists the API's routes",
            aws_jit_core::text::printable(uri.path())
        ),
    )
    .into_response()
}

/// 405, as the documented JSON error.
async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    api::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not take {method}",
            aws_jit_core::text::printable(uri.path())
        ),
    )
    .into_response()
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the store answers and the configs and their policies loaded: a server that
/// cannot grant is not ready (its worker still revokes).
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.catalog.is_none() || state.jit.policies().is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "unavailable",
                "error": "the access configs or policies do not load: fix them (`aws-jit validate`) and restart",
            })),
        );
    }
    match state.jit.store().next_due_at().await {
        Ok(_) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "store not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({ "status": "unavailable", "error": "store not reachable" }),
                ),
            )
        }
    }
}

/// Prometheus text: grants by status, revocations, revocation lateness, worker errors and
/// AWS calls by operation and outcome.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    use std::fmt::Write as _;
    let mut out = String::new();
    let m = &state.metrics;
    let _ = writeln!(
        out,
        "# HELP aws_jit_grants Grants by status.\n# TYPE aws_jit_grants gauge"
    );
    match state.jit.store().count_by_status().await {
        Ok(counts) => {
            for status in aws_jit_core::GrantStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                let _ = writeln!(out, "aws_jit_grants{{status=\"{status}\"}} {n}");
            }
        }
        Err(e) => tracing::error!(error = %e, "metrics: store not reachable"),
    }
    let _ = writeln!(
        out,
        "# HELP aws_jit_revocations_total Grants ended by the worker, by outcome.\n# TYPE aws_jit_revocations_total counter"
    );
    for (outcome, counter) in [
        ("expired", &m.expired),
        ("revoked", &m.revoked),
        ("undone", &m.undone),
        ("failed", &m.revoke_failures),
    ] {
        let _ = writeln!(
            out,
            "aws_jit_revocations_total{{outcome=\"{outcome}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP aws_jit_revocation_lateness_seconds Time from expiry to revocation.\n# TYPE aws_jit_revocation_lateness_seconds histogram"
    );
    for (bound, bucket) in LATENESS_BUCKETS.iter().zip(&m.lateness_buckets) {
        let _ = writeln!(
            out,
            "aws_jit_revocation_lateness_seconds_bucket{{le=\"{bound}\"}} {}",
            bucket.load(Ordering::Relaxed)
        );
    }
    let count = m.lateness_count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "aws_jit_revocation_lateness_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "aws_jit_revocation_lateness_seconds_sum {}",
        m.lateness_sum_ms.load(Ordering::Relaxed) as f64 / 1000.0
    );
    let _ = writeln!(out, "aws_jit_revocation_lateness_seconds_count {count}");
    let _ = writeln!(
        out,
        "# HELP aws_jit_worker_errors_total Sweeps that failed as a whole.\n# TYPE aws_jit_worker_errors_total counter\naws_jit_worker_errors_total {}",
        m.worker_errors.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP aws_jit_refusals_unaudited_total Unauthenticated refusals beyond the audit budget.\n# TYPE aws_jit_refusals_unaudited_total counter\naws_jit_refusals_unaudited_total {}",
        state.refusals.unaudited.load(Ordering::Relaxed)
    );
    if let Ok((queued, given_up)) = state.jit.store().outbox_counts().await {
        let _ = writeln!(
            out,
            "# HELP aws_jit_notifications Notifications by state.\n# TYPE aws_jit_notifications gauge\naws_jit_notifications{{state=\"queued\"}} {queued}\naws_jit_notifications{{state=\"given_up\"}} {given_up}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP aws_jit_aws_calls_total AWS API calls by operation and outcome.\n# TYPE aws_jit_aws_calls_total counter"
    );
    for (key, n) in (state.aws_calls)() {
        let (operation, outcome) = key.rsplit_once(' ').unwrap_or((key.as_str(), "unknown"));
        let _ = writeln!(
            out,
            "aws_jit_aws_calls_total{{operation=\"{operation}\",outcome=\"{outcome}\"}} {n}"
        );
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
}

/// Runs the expiry worker until `shutdown` turns true.
pub async fn run_worker(
    jit: Jit,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_orphan_scan = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let progressed = match sweep_concurrently(&jit, settings.concurrency, &metrics).await {
            Ok(mut report) => {
                if last_orphan_scan.is_none_or(|at: tokio::time::Instant| {
                    at.elapsed() >= settings.orphan_scan_every
                }) {
                    last_orphan_scan = Some(tokio::time::Instant::now());
                    if let Err(e) = jit.remove_orphans(&mut report).await {
                        tracing::error!(error = %e, "scan for leftovers failed");
                    }
                }
                let done = report.expired.len() + report.revoked.len() + report.undone.len();
                if done > 0 || !report.failed.is_empty() {
                    tracing::info!(
                        expired = report.expired.len(),
                        revoked = report.revoked.len(),
                        undone = report.undone.len(),
                        failed = report.failed.len(),
                        "sweep"
                    );
                }
                for (id, error) in &report.failed {
                    tracing::error!(grant_id = %id, %error, "revocation failed, will retry");
                }
                done > 0
            }
            Err(e) => {
                metrics.worker_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "sweep failed");
                false
            }
        };
        let wait = match jit.store().next_due_at().await {
            Ok(Some(at)) => {
                let now = jit.now();
                let until = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
                until.min(settings.poll)
            }
            Ok(None) => settings.poll,
            Err(e) => {
                tracing::error!(error = %e, "store not reachable");
                settings.poll
            }
        };
        let wait = if progressed {
            wait
        } else {
            wait.max(settings.idle_floor)
        };
        tokio::select! {
            // PostgreSQL wakes us when another process changes a grant; SQLite just waits.
            _ = jit.store().wait_for_change(wait) => {}
            () = wake.notified() => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return; // the sender is gone: nobody can keep us running
                }
            }
        }
    }
}

/// Delivers queued notifications until `shutdown` turns true: at least every second, and
/// at once after a change made through this process. Slack being slow or down never holds
/// up the expiry worker (they are separate tasks) or an access change (it is already made).
pub async fn run_outbox(
    jit: Jit,
    messenger: Arc<dyn Messenger>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Warnings of grants about to expire are queued here, and sent just below.
        match jit.warn_expiring(100).await {
            Ok(0) => {}
            Ok(queued) => tracing::info!(queued, "expiry warnings queued"),
            Err(e) => tracing::error!(error = %e, "expiry warnings failed"),
        }
        match jit.deliver_outbox(messenger.as_ref(), 50).await {
            Ok(report) if report.sent > 0 => {
                tracing::info!(sent = report.sent, "notifications delivered")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "notification delivery failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = wake.notified() => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Ends every due grant, up to `concurrency` at a time. Grants in flight are always
/// finished before this returns (a shutdown waits for them).
pub async fn sweep_concurrently(
    jit: &Jit,
    concurrency: usize,
    metrics: &Metrics,
) -> Result<SweepReport, aws_jit_app::AppError> {
    let due = jit.due_grants().await?;
    let mut report = SweepReport::default();
    let mut running = tokio::task::JoinSet::new();
    let mut pending = due.into_iter();
    loop {
        while running.len() < concurrency.max(1) {
            let Some(grant) = pending.next() else { break };
            let jit = jit.clone();
            running.spawn(async move {
                let id = grant.id.to_string();
                let expires_at = grant.expires_at;
                let outcome = jit.finish_due(grant).await;
                let late = jit.now().duration_since(expires_at);
                (
                    id,
                    outcome,
                    Duration::try_from(late).unwrap_or(Duration::ZERO),
                )
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((id, Ok(outcome), late)) => {
                metrics.record(&outcome);
                if outcome == DueOutcome::Expired {
                    metrics.observe_lateness(late);
                }
                report.record(id, outcome);
            }
            Ok((id, Err(e), _)) => {
                metrics.worker_errors.fetch_add(1, Ordering::Relaxed);
                report.failed.push((id, e.to_string()));
            }
            Err(e) => tracing::error!(error = %e, "a revocation task failed"),
        }
    }
    Ok(report)
}

/// Serves HTTP on `listener` and runs the worker, until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    services: Services,
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Services {
        jit,
        worker_jit,
        http,
        catalog,
        policies,
        messenger,
        slack_signing_secret,
        slack_team_id,
        slack_command,
        aws_calls,
        web,
    } = services;
    let web = Arc::new(web::Web::new(web).map_err(std::io::Error::other)?);
    // The use cases own the catalog and its policies: every front door finds accesses,
    // and asks who may have them, through them.
    let jit = match &catalog {
        Some(catalog) => jit.with_catalog(catalog.clone()),
        None => jit,
    };
    let jit = match policies {
        Some(policies) => jit.with_policies(policies),
        None => jit,
    };
    let slack = match (&messenger, slack_signing_secret) {
        (Some(messenger), Some(secret)) => Some(SlackApp {
            signing_secret: secret.into(),
            messenger: messenger.clone(),
            team_id: slack_team_id,
            decisions: Arc::new(tokio::sync::Semaphore::new(SLACK_DECISIONS_AT_ONCE)),
            deciding: Arc::default(),
            command: slack_command.into(),
            people: Arc::default(),
            searches: Arc::new(tokio::sync::Semaphore::new(SLACK_SEARCHES_AT_ONCE)),
        }),
        _ => None,
    };
    let wake = Arc::new(Notify::new());
    let metrics = Arc::new(Metrics::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(run_worker(
        worker_jit.clone(),
        settings,
        wake.clone(),
        metrics.clone(),
        stop_rx.clone(),
    ));
    let outbox = messenger.map(|messenger| {
        // Its own wake-up: a grant made here should wake the expiry worker, not this.
        let nudge = Arc::new(Notify::new());
        // The catalog tells the expiry warnings which grants can be extended.
        let outbox_jit = match &catalog {
            Some(catalog) => worker_jit.with_catalog(catalog.clone()),
            None => worker_jit,
        };
        tokio::spawn(run_outbox(outbox_jit, messenger, nudge, stop_rx.clone()))
    });
    let app = router(AppState {
        jit,
        catalog,
        wake,
        metrics,
        aws_calls,
        slack,
        refusals: Arc::new(RefusalBudget::default()),
        web,
    })
    .layer(axum::middleware::from_fn_with_state(
        bounds::Gate::new(http.clone()),
        bounds::gate,
    ));
    let server = bounds::serve_http(listener, app, &http, stop_rx, Duration::from_secs(30));
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let result = server.await;
    signal.abort();
    let _ = worker.await;
    if let Some(outbox) = outbox {
        let _ = outbox.await;
    }
    result
}

/// The address the listener is bound to, for the "listening on" line.
pub fn local_addr(listener: &tokio::net::TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}
