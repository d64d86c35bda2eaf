//! `grpc.health.v1.Health`, overall and per service, and how it behaves on drain: every service
//! turns NOT_SERVING, and `Watch` streams end right after reporting it, so that a client watching
//! health does not hold the drain open until its deadline.

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_server::Health;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService};

/// Reports overall and per-service health.
#[derive(Clone, Debug)]
pub struct HealthHandle {
    /// The health service's state.
    reporter: HealthReporter,
    /// Every reported service name, `""` (overall) included.
    services: Vec<&'static str>,
}

impl HealthHandle {
    /// Creates the handle for `services` (`""` is the overall status).
    pub fn new(reporter: HealthReporter, services: Vec<&'static str>) -> Self {
        Self { reporter, services }
    }

    /// Marks every service SERVING.
    pub async fn set_serving(&self) {
        self.set_all(ServingStatus::Serving).await;
    }

    /// Marks every service NOT_SERVING, so health checks fail before the gateway stops accepting.
    /// The gateway never serves again after this.
    pub async fn set_draining(&self) {
        self.set_all(ServingStatus::NotServing).await;
    }

    /// Sets one status on every service.
    async fn set_all(&self, status: ServingStatus) {
        for service in &self.services {
            self.reporter.set_service_status(*service, status).await;
        }
    }
}

/// tonic-health's service, with `Watch` streams that end after reporting NOT_SERVING.
#[derive(Debug)]
pub struct DrainingHealth {
    /// The standard implementation.
    inner: HealthService,
}

impl DrainingHealth {
    /// Wraps the standard health service.
    pub fn new(inner: HealthService) -> Self {
        Self { inner }
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
        // Ends without waiting for another update once NOT_SERVING went out.
        let until_draining = futures::stream::unfold(
            (updates, false),
            |(mut updates, reported_not_serving)| async move {
                if reported_not_serving {
                    return None;
                }
                let update = updates.next().await?;
                let not_serving = update
                    .as_ref()
                    .is_ok_and(|response| response.status() == WireStatus::NotServing);
                Some((update, (updates, not_serving)))
            },
        );
        Ok(Response::new(until_draining.boxed()))
    }
}
