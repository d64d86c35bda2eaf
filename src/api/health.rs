//! `grpc.health.v1.Health`, overall and per service, and how it behaves on drain: every service
//! turns NOT_SERVING, and `Watch` streams end right after reporting it, so that a client watching
//! health does not hold the drain open until its deadline.
//!
//! Before the drain, every service is NOT_SERVING while an embedded store cannot write (a full
//! disk: webhooks are refused then) and SERVING again once a write succeeds; `Watch` streams
//! stay open across such changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::sync::{Mutex, watch};
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_server::Health;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService};

use crate::storage::{StorageHealth, health::changed_any};

/// Reports overall and per-service health.
#[derive(Clone, Debug)]
pub(crate) struct HealthHandle {
    /// The health service's state.
    reporter: HealthReporter,
    /// Every reported service name, `""` (overall) included.
    services: Vec<&'static str>,
    /// What the status is computed from; held while a status is reported, so reports do not
    /// overtake each other.
    state: Arc<Mutex<ServingState>>,
    /// Set once draining starts (shared with [`DrainingHealth`]).
    draining: Arc<AtomicBool>,
}

/// What decides SERVING.
#[derive(Debug)]
struct ServingState {
    /// The server has started serving.
    started: bool,
    /// Every embedded store can write.
    storage_writable: bool,
}

impl HealthHandle {
    /// Creates the handle for `services` (`""` is the overall status); `draining` is shared with
    /// the [`DrainingHealth`] service.
    pub(crate) fn new(
        reporter: HealthReporter,
        services: Vec<&'static str>,
        draining: Arc<AtomicBool>,
    ) -> Self {
        Self {
            reporter,
            services,
            state: Arc::new(Mutex::new(ServingState {
                started: false,
                storage_writable: true,
            })),
            draining,
        }
    }

    /// Marks every service SERVING, unless a store cannot write.
    pub(crate) async fn set_serving(&self) {
        let mut state = self.state.lock().await;
        state.started = true;
        self.report(&state).await;
    }

    /// Marks every service NOT_SERVING, so health checks fail before the gateway stops accepting.
    /// The gateway never serves again after this.
    pub(crate) async fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        let _state = self.state.lock().await;
        self.set_all(ServingStatus::NotServing).await;
    }

    /// Follows `storage` until `draining_rx` turns true: NOT_SERVING while a store cannot write,
    /// SERVING again once it can.
    pub(crate) fn follow_storage(
        &self,
        storage: StorageHealth,
        mut draining_rx: watch::Receiver<bool>,
    ) {
        let handle = self.clone();
        tokio::spawn(async move {
            let mut receivers = storage.subscribe();
            loop {
                handle.set_storage_writable(storage.is_writable()).await;
                tokio::select! {
                    changed = changed_any(&mut receivers) => if !changed { return },
                    _ = draining_rx.wait_for(|draining| *draining) => return,
                }
            }
        });
    }

    /// Records whether every store can write and reports the resulting status.
    async fn set_storage_writable(&self, writable: bool) {
        let mut state = self.state.lock().await;
        state.storage_writable = writable;
        if state.started {
            self.report(&state).await;
        }
    }

    /// Reports the status `state` calls for; nothing once draining.
    async fn report(&self, state: &ServingState) {
        if self.draining.load(Ordering::SeqCst) {
            return;
        }
        let status = if state.storage_writable {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.set_all(status).await;
    }

    /// Sets one status on every service.
    async fn set_all(&self, status: ServingStatus) {
        for service in &self.services {
            self.reporter.set_service_status(*service, status).await;
        }
    }
}

/// tonic-health's service, with `Watch` streams that end after reporting NOT_SERVING once the
/// gateway drains.
#[derive(Debug)]
pub(crate) struct DrainingHealth {
    /// The standard implementation.
    inner: HealthService,
    /// Set once draining starts.
    draining: Arc<AtomicBool>,
}

impl DrainingHealth {
    /// Wraps the standard health service; `draining` is shared with the [`HealthHandle`].
    pub(crate) fn new(inner: HealthService, draining: Arc<AtomicBool>) -> Self {
        Self { inner, draining }
    }
}

#[tonic::async_trait]
impl Health for DrainingHealth {
    type WatchStream = BoxStream<'static, Result<HealthCheckResponse, Status>>;

    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let updates = self.inner.watch(request).await?.into_inner();
        let draining = self.draining.clone();
        // Ends without waiting for another update once NOT_SERVING went out during the drain.
        let until_draining =
            futures::stream::unfold((updates, false), move |(mut updates, reported_draining)| {
                let draining = draining.clone();
                async move {
                    if reported_draining {
                        return None;
                    }
                    let update = updates.next().await?;
                    let not_serving = update
                        .as_ref()
                        .is_ok_and(|response| response.status() == WireStatus::NotServing);
                    let ends = not_serving && draining.load(Ordering::SeqCst);
                    Some((update, (updates, ends)))
                }
            });
        Ok(Response::new(until_draining.boxed()))
    }
}
