//! The admin listener: liveness (`/healthz`, naming the stores that cannot write), readiness
//! (`/readyz`, 503 while draining or while a store cannot write, naming accounts whose upstream
//! credentials are refused) and Prometheus metrics (`/metrics`). Internal only; never exposed
//! with the webhook port.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

use crate::service::Accounts;
use crate::storage::StorageHealth;
use crate::telemetry::Metrics;

/// What the admin endpoints read.
#[derive(Clone, Debug)]
pub(crate) struct AdminState {
    /// The metrics to render.
    pub metrics: Arc<Metrics>,
    /// True once the gateway has started draining.
    pub draining: watch::Receiver<bool>,
    /// The accounts, whose upstream credentials readiness reports.
    pub accounts: Arc<Accounts>,
    /// Whether the embedded stores can write.
    pub storage: StorageHealth,
}

/// Builds the admin router.
pub(crate) fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Answers 200 while the process runs, and names the stores that cannot write. A full disk is
/// not a reason to restart the process (the stores recover by themselves once there is room), so
/// it stays a 200; readiness reports it.
async fn healthz(State(state): State<AdminState>) -> String {
    let mut body = "ok\n".to_owned();
    push_storage_failures(&mut body, &state.storage);
    body
}

/// Answers 200 while serving and 503 once draining or while a store cannot write (webhooks are
/// refused then), so load balancers stop sending traffic.
///
/// The body also names every account whose upstream refuses its credentials. That stays a 200:
/// every replica shares the account's key, so taking replicas out of service would not help, and
/// the other accounts still work.
async fn readyz(State(state): State<AdminState>) -> (StatusCode, String) {
    if *state.draining.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n".to_owned());
    }
    if !state.storage.is_writable() {
        let mut body = "not ready\n".to_owned();
        push_storage_failures(&mut body, &state.storage);
        return (StatusCode::SERVICE_UNAVAILABLE, body);
    }
    let mut body = "ready\n".to_owned();
    for account in state.accounts.iter() {
        if account.credentials_rejected() {
            body.push_str(&format!(
                "account {}: upstream refuses its credentials (HTTP 401)\n",
                account.name()
            ));
        }
    }
    (StatusCode::OK, body)
}

/// Adds one line per store that cannot write, with the reason.
fn push_storage_failures(body: &mut String, storage: &StorageHealth) {
    for (store, reason) in storage.failing() {
        body.push_str(&format!("{store}: cannot write: {reason}\n"));
    }
}

/// Renders the metrics in the Prometheus text format.
async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
