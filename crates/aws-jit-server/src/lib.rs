//! `aws-jit serve`: the expiry worker and the HTTP endpoints, in one process.
//!
//! The worker is the only place that sleeps: it runs the sweep use case, then waits until
//! the store's next due instant, never longer than `poll` (so that grants written by another
//! process, such as the CLI, are picked up within it), and wakes early when told to. On
//! shutdown it finishes the sweep in flight (the AWS call included) and stops.
//! This crate chooses no adapters: it receives a wired [`Jit`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_jit_app::{Jit, SweepReport};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
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

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub jit: Jit,
    /// Wakes the worker after a change made through this process.
    pub wake: Arc<Notify>,
}

/// The HTTP routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
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

/// Runs the expiry worker until `shutdown` turns true.
pub async fn run_worker(
    jit: Jit,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_orphan_scan = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let progressed = match sweep_concurrently(&jit, settings.concurrency).await {
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
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return; // the sender is gone: nobody can keep us running
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
                (id, jit.finish_due(grant).await)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((id, Ok(outcome))) => report.record(id, outcome),
            Ok((id, Err(e))) => report.failed.push((id, e.to_string())),
            Err(e) => tracing::error!(error = %e, "a revocation task failed"),
        }
    }
    Ok(report)
}

/// Serves HTTP on `listener` and runs the worker, until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    jit: Jit,
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let wake = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(run_worker(
        jit.clone(),
        settings,
        wake.clone(),
        stop_rx.clone(),
    ));
    let app = router(AppState { jit, wake });
    let mut http_stop = stop_rx;
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    });
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let result = server.await;
    signal.abort();
    let _ = worker.await;
    result
}

/// The address the listener is bound to, for the "listening on" line.
pub fn local_addr(listener: &tokio::net::TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}
