//! The admin listener: liveness (`/healthz`), readiness (`/readyz`, 503 while draining, naming
//! accounts whose upstream credentials are refused) and Prometheus metrics (`/metrics`). Internal
//! only; never exposed with the webhook port.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

use crate::telemetry::Metrics;
use crate::upstream::Accounts;

/// What the admin endpoints read.
#[derive(Clone, Debug)]
pub struct AdminState {
    /// The metrics to render.
    pub metrics: Arc<Metrics>,
    /// True once the gateway has started draining.
    pub draining: watch::Receiver<bool>,
    /// The accounts, whose upstream credentials readiness reports.
    pub accounts: Arc<Accounts>,
}

/// Builds the admin router.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Answers 200 while the process runs.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Answers 200 while serving and 503 once draining, so load balancers stop sending traffic.
///
/// The body also names every account whose upstream refuses its credentials. That stays a 200:
/// every replica shares the account's key, so taking replicas out of service would not help, and
/// the other accounts still work.
async fn readyz(State(state): State<AdminState>) -> (StatusCode, String) {
    if *state.draining.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n".to_owned());
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
