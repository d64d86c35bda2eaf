//! The gRPC edge: tonic services (thin adapters over [`crate::service`]), health, reflection,
//! caller authentication, limits per caller, TLS and RPC metrics, assembled into one server.
//! Every call passes the gates (`gate::CallGate`) in order: the drain, authentication, the
//! caller's limits.
//!
//! Adapters follow four steps: convert the request (`convert`), resolve the account and check the
//! caller may use it ([`ApiContext::account`]), call the account, convert the answer. Every failure
//! becomes a `Status` in exactly one place, `crate::error`.

pub(crate) mod auth;
pub(crate) mod caller_limits;
pub(crate) mod channels;
mod client_cert;
pub(crate) mod coalesced_writes;
pub(crate) mod convert;
pub(crate) mod deadline;
pub(crate) mod drain_gate;
pub(crate) mod events;
pub(crate) mod exports;
pub(crate) mod gate;
pub(crate) mod health;
pub(crate) mod messages;
pub(crate) mod metering;
pub(crate) mod oversize;
pub(crate) mod sandbox;
pub(crate) mod templates;
pub(crate) mod tls;
pub(crate) mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::server::{HealthReporter, HealthService};
use tower::ServiceBuilder;

use crate::config::Config;
use crate::error::ApiError;
use crate::events::outcomes::SendOutcomes;
use crate::proto::pb;
use crate::service::{Account, Accounts, CallContext, ExportWatching};
use crate::telemetry::Metrics;
use crate::upstream::registry::WEBHOOK_DECODERS;

use self::auth::{Caller, CallerAuth};
use self::caller_limits::CallerLimitGate;
use self::coalesced_writes::CoalescedWrites;
use self::drain_gate::{DrainGate, drain_started};
use self::gate::GateLayer;
use self::health::DrainingHealth;
pub(crate) use self::health::HealthHandle;
use self::metering::RpcMetricsLayer;
use self::tls::{ReloadingTls, TlsListener};

/// What every adapter shares.
#[derive(Clone, Debug)]
pub(crate) struct ApiContext {
    /// The configured accounts.
    pub accounts: Arc<Accounts>,
    /// How long the webhook ingress holds CRM entity requests open
    /// (`webhooks.crm_response_timeout`): events report `response_deadline` as `received_at`
    /// plus this.
    pub crm_response_timeout: Duration,
}

impl ApiContext {
    /// Resolves the account a request names and checks that the caller's token covers it.
    ///
    /// # Errors
    ///
    /// Fails with an unknown or missing account, or a caller not allowed to use it.
    pub(crate) fn account<T>(
        &self,
        request: &tonic::Request<T>,
        name: &str,
    ) -> Result<Arc<Account>, ApiError> {
        let account = self.accounts.resolve(name)?;
        if let Some(caller) = request.extensions().get::<Caller>() {
            caller.check_account(account.name())?;
        }
        Ok(account)
    }
}

/// Returns the per-call facts upstreams need: the deadline fixed when the call arrived.
pub(crate) fn call_context<T>(request: &tonic::Request<T>) -> CallContext {
    CallContext {
        deadline: deadline::of_request(request),
    }
}

/// The gRPC server, built and ready to serve.
#[derive(Debug)]
pub(crate) struct GrpcServer {
    /// Every service, health and reflection included.
    routes: Routes,
    /// Flips health to NOT_SERVING on drain.
    health: HealthHandle,
    /// Counts and times every RPC.
    metrics_layer: RpcMetricsLayer,
    /// Authenticates callers.
    caller_auth: CallerAuth,
    /// Holds each caller to its request rate and stream limit.
    caller_limits: CallerLimitGate,
    /// Server limits from the configuration.
    limits: crate::config::ServerConfig,
    /// HTTP/2 streams one connection may open at once.
    max_concurrent_streams: u32,
    /// TLS on the listener, when configured.
    tls: Option<Arc<ReloadingTls>>,
}

impl GrpcServer {
    /// Builds every service for `accounts`, the event service over `events`, export watches
    /// over `watching`.
    ///
    /// # Errors
    ///
    /// Fails when the embedded descriptor sets cannot be served by reflection, or the TLS
    /// certificates cannot be loaded.
    pub(crate) fn build(
        config: &Config,
        accounts: Arc<Accounts>,
        events: events::EventServices,
        watching: ExportWatching,
        metrics: Arc<Metrics>,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let context = ApiContext {
            accounts,
            crm_response_timeout: config.webhooks.crm_response_timeout,
        };
        let has_sandbox = context
            .accounts
            .iter()
            .any(|account| account.as_sandbox().is_some());
        let reporter = HealthReporter::new();
        let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut services = GATEWAY_SERVICES.to_vec();
        if has_sandbox {
            services.push(<pb::sandbox_service_server::SandboxServiceServer<sandbox::SandboxApi> as NamedService>::NAME);
        }
        let mut routes = Routes::builder();
        routes
            .add_service(tonic_health::pb::health_server::HealthServer::new(
                DrainingHealth::new(
                    HealthService::from_health_reporter(reporter.clone()),
                    draining.clone(),
                ),
            ))
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);
        add_gateway_services(&mut routes, &context, events, watching, has_sandbox);
        Ok(Self {
            routes: routes.routes(),
            health: HealthHandle::new(reporter, services, draining),
            metrics_layer: RpcMetricsLayer::new(metrics.clone()),
            caller_auth: CallerAuth::from_config(&config.auth),
            caller_limits: CallerLimitGate::new(&config.limits, &config.auth, metrics),
            limits: config.server.clone(),
            max_concurrent_streams: config.limits.grpc_max_concurrent_streams.get(),
            tls: config
                .grpc_tls
                .clone()
                .map(|files| ReloadingTls::load(files, TlsListener::Grpc))
                .transpose()?
                .map(Arc::new),
        })
    }

    /// Returns the handle that reports health.
    pub(crate) fn health(&self) -> HealthHandle {
        self.health.clone()
    }

    /// Serves on `listener` until `draining` turns true (or its sender is dropped), then lets
    /// in-flight calls finish while refusing new ones.
    ///
    /// # Errors
    ///
    /// Fails when the server stops with a transport error.
    pub(crate) async fn serve(
        self,
        listener: TcpListener,
        draining: watch::Receiver<bool>,
    ) -> Result<(), tonic::transport::Error> {
        self.health.set_serving().await;
        let handler_timeout = self.limits.handler_timeout;
        let layers = ServiceBuilder::new()
            // First of all, so that the deadline counts from the call's arrival.
            .map_request(move |request| deadline::stamp(request, handler_timeout))
            // Outermost but for the deadline, so that refused calls (unauthenticated, shed) are counted too.
            .layer(self.metrics_layer)
            // Calls that arrive once draining has started are refused, whatever connection they use.
            .layer(GateLayer::new(DrainGate::new(draining.clone())))
            // Before the services, so no adapter runs for an unknown caller.
            .layer(GateLayer::new(self.caller_auth))
            // After authentication, which names the caller whose limits apply.
            .layer(GateLayer::new(self.caller_limits))
            // Innermost, so the metrics count the code the caller gets.
            .map_response(oversize::refuse_oversize);
        let router = Server::builder()
            // Announced in SETTINGS: a client over it waits for one of its streams to end.
            .max_concurrent_streams(self.max_concurrent_streams)
            // Fail fast with UNAVAILABLE instead of queueing when a connection is saturated.
            // Permits are released when headers are sent, so open streams are not counted.
            .concurrency_limit_per_connection(self.limits.max_in_flight_per_connection)
            .load_shed(true)
            // Upper bound for producing a response; a shorter client grpc-timeout wins.
            .timeout(self.limits.handler_timeout)
            .layer(layers)
            .add_routes(self.routes);
        match self.tls {
            Some(tls) => {
                let incoming = tls.incoming(listener, draining.clone());
                router
                    .serve_with_incoming_shutdown(incoming, drain_started(draining))
                    .await
            }
            None => {
                let incoming = TcpListenerStream::new(listener).map_ok(CoalescedWrites::new);
                router
                    .serve_with_incoming_shutdown(incoming, drain_started(draining))
                    .await
            }
        }
    }
}

/// Adds the gateway's own services to `routes`.
fn add_gateway_services(
    routes: &mut tonic::service::RoutesBuilder,
    context: &ApiContext,
    events: events::EventServices,
    watching: ExportWatching,
    has_sandbox: bool,
) {
    use pb::{
        channel_service_server::ChannelServiceServer, export_service_server::ExportServiceServer,
        message_service_server::MessageServiceServer, sandbox_service_server::SandboxServiceServer,
        template_service_server::TemplateServiceServer,
        webhook_service_server::WebhookServiceServer,
    };
    routes
        .add_service(ChannelServiceServer::new(channels::ChannelsApi::new(
            context.clone(),
        )))
        .add_service(MessageServiceServer::new(messages::MessagesApi::new(
            context.clone(),
            SendOutcomes::new(events.log.clone(), WEBHOOK_DECODERS),
        )))
        .add_service(TemplateServiceServer::new(templates::TemplatesApi::new(
            context.clone(),
        )))
        .add_service(ExportServiceServer::new(exports::ExportsApi::new(
            context.clone(),
            watching,
        )))
        .add_service(WebhookServiceServer::new(webhooks::WebhooksApi::new(
            context.clone(),
        )))
        .add_service(events::EventServiceRoute::new(events::EventsApi::new(
            context.clone(),
            events,
        )));
    if has_sandbox {
        routes.add_service(SandboxServiceServer::new(sandbox::SandboxApi::new(
            context.clone(),
        )));
    }
}

/// The gateway services always served (health reports each of them).
const GATEWAY_SERVICES: &[&str] = &[
    "",
    "wazzup_gateway.v1.ChannelService",
    "wazzup_gateway.v1.MessageService",
    "wazzup_gateway.v1.TemplateService",
    "wazzup_gateway.v1.ExportService",
    "wazzup_gateway.v1.WebhookService",
    "wazzup_gateway.v1.EventService",
];

/// A reflection builder with every descriptor set the gateway's services use: ours, health, both
/// reflection versions (so each lists the other), and `google.rpc` error details (so grpcurl can
/// print `BadRequest` and `ErrorInfo`).
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}
