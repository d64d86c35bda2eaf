//! Wiring and lifecycle: builds the accounts, the gRPC services and the HTTP routers, runs the
//! three listeners, and drains them when the shutdown future completes.
//!
//! Drain order: readiness and gRPC health go NOT_SERVING first, then every server stops accepting
//! (the gRPC server sends GOAWAY, so new calls are refused while in-flight ones finish), and the
//! process waits for in-flight work at most `server.drain_timeout`. The two HTTP listeners
//! (webhooks, admin) are served by `app/http.rs`: bounded header-read time and connection count, idle
//! connections closed at once on drain.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

mod backends;
mod gauges;
mod http;
mod sandbox_files;

use self::gauges::{AccountSources, EventSources};
use self::http::{HttpLimits, serve_http, webhook_tls};
use crate::admin::{self, AdminState};
use crate::api::GrpcServer;
use crate::api::events::EventServices;
use crate::config::{Config, Listeners as ListenAddresses};
use crate::events::groups::ConsumerGroups;
use crate::events::ingress::IngressState;
use crate::events::log::{ConsumerStore, EventLog, EventLogError};
use crate::events::responses::PendingResponses;
use crate::idempotency::IdempotencyError;
use crate::service::{
    Accounts, ExportWatching, IdempotentSends, PollPolicy, SendTiming, longest_send,
};
use crate::storage::{StorageHealth, WriteHealth};
use crate::telemetry::Metrics;
use crate::telemetry::event_links::EventLinks;
use crate::upstream::registry::WEBHOOK_DECODERS;
use crate::upstream::transport::{RateBudgets, TransportShared};

/// Pending connections the kernel queues per listener; the default 128 overflows when hundreds
/// of clients connect at once, and each dropped attempt stalls a client for a second or more.
const LISTEN_BACKLOG: u32 = 1024;

/// The three bound listeners. Binding happens before [`run`], so tests can bind port 0 and learn
/// the addresses before the gateway starts.
#[derive(Debug)]
pub struct Listeners {
    /// Internal gRPC API.
    pub grpc: TcpListener,
    /// Upstream webhooks (the only port meant to be exposed to the internet).
    pub webhook: TcpListener,
    /// Health, readiness and metrics.
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds the configured addresses.
    ///
    /// # Errors
    ///
    /// Fails when an address cannot be bound (in use, not local, no permission), naming the
    /// listener and its address.
    pub async fn bind(addresses: &ListenAddresses) -> Result<Self, AppError> {
        let bind_named = |listener: &'static str, address: SocketAddr| {
            bind(address).map_err(|source| AppError::Bind {
                listener,
                address,
                source,
            })
        };
        Ok(Self {
            grpc: bind_named("gRPC", addresses.grpc)?,
            webhook: bind_named("webhook", addresses.webhook)?,
            admin: bind_named("admin", addresses.admin)?,
        })
    }
}

/// Binds one TCP listener with a large backlog.
fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The event log and what shares it. Opened before the servers start; the webhook ingress appends
/// to `log` and waits on `pending`, `EventService` reads `log` and answers `pending`.
#[derive(Clone, Debug)]
pub struct EventPipeline {
    /// The durable event log.
    pub log: Arc<dyn EventLog>,
    /// Named consumers' progress, kept in the same storage as the log.
    pub consumers: Arc<dyn ConsumerStore>,
    /// CRM entity requests the webhook ingress holds open until `EventService.Respond`.
    pub pending: Arc<PendingResponses>,
    /// Whether the log can write; readiness follows it.
    pub log_health: WriteHealth,
    /// What serves the named consumers' groups.
    pub(crate) groups: backends::GroupsBackend,
}

impl EventPipeline {
    /// Opens the event log of the configured `events.backend` (the embedded one in
    /// `storage.data_dir`) with the configured retention.
    ///
    /// # Errors
    ///
    /// Fails with [`AppError::EventLog`] naming the file when the data directory cannot be
    /// created or the log cannot be opened (no permission, held by another process, corrupt).
    pub async fn open(config: &Config) -> Result<Self, AppError> {
        let opened = backends::open_event_log(config).await?;
        Ok(Self {
            log: opened.log,
            consumers: opened.consumers,
            pending: opened.responses,
            log_health: opened.health,
            groups: opened.groups,
        })
    }
}

/// Errors that stop the gateway.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A listener's address cannot be bound.
    #[error("cannot bind the {listener} listener to {address}: {source}")]
    Bind {
        /// Which listener.
        listener: &'static str,
        /// The configured address.
        address: SocketAddr,
        /// Why (in use, not local, no permission).
        source: io::Error,
    },
    /// The event log cannot be opened or read at start.
    #[error("cannot open the event log {}", path.display())]
    EventLog {
        /// The log file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: EventLogError,
    },
    /// The idempotency store could not be opened.
    #[error("the idempotency store could not be opened")]
    Storage(#[source] IdempotencyError),
    /// NATS JetStream cannot be reached or its stream and buckets cannot be set up.
    #[error("NATS JetStream cannot be used: {0}")]
    Nats(Box<dyn std::error::Error + Send + Sync>),
    /// The gRPC server could not be built (e.g. a broken descriptor set).
    #[error("the gRPC server could not be built")]
    Build(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An account's upstream client could not be built.
    #[error(transparent)]
    Upstream(crate::upstream::transport::TransportError),
    /// A server stopped with an error.
    #[error("the {listener} server failed")]
    Serve {
        /// Which listener.
        listener: &'static str,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Runs the gateway on `listeners` until `shutdown` completes, then drains.
///
/// # Errors
///
/// Fails when a store cannot be opened, a server cannot be built, or a server stops with an
/// error before shutdown.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    let events = EventPipeline::open(&config).await?;
    run_with_events(config, listeners, events, shutdown).await
}

/// Runs the gateway like [`run`], over an event pipeline the caller opened (tests keep a handle
/// on its log to append events as the webhook ingress would). The stores are closed on return.
///
/// # Errors
///
/// As [`run`].
pub async fn run_with_events(
    config: Config,
    listeners: Listeners,
    events: EventPipeline,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    let idempotency = backends::open_idempotency(&config).await?;
    let budgets = backends::open_rate_budgets(&config).await?;
    let storage = StorageHealth::new(vec![events.log_health.clone(), idempotency.health]);
    let metrics = Metrics::new();
    let sends = Arc::new(IdempotentSends::new(
        idempotency.store,
        SendTiming {
            retention: config.storage.idempotency_retention,
            longest_send: longest_send(&config.accounts),
        },
        metrics.idempotency(),
    ));
    let (draining_tx, draining_rx) = watch::channel(false);
    let outcome = match backends::start_consumer_groups(&config, &events, draining_rx).await {
        Ok(groups) => {
            let stores = Stores {
                sends: sends.clone(),
                storage,
                metrics,
                budgets,
            };
            let outcome = serve(
                &config,
                listeners,
                stores,
                &events,
                &groups,
                draining_tx,
                shutdown,
            )
            .await;
            groups.close().await;
            outcome
        }
        Err(error) => Err(error),
    };
    // Keyed sends whose callers left still finish and are recorded before the file closes.
    if let Err(error) = sends.shutdown(config.server.drain_timeout).await {
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            "idempotency store not closed cleanly"
        );
    }
    if let Err(error) = events.log.close().await {
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            "event log not closed cleanly"
        );
    }
    outcome
}

/// The idempotent sends, the write health of both embedded stores, the metrics registry the sends
/// already record into, and where the rate budgets are kept.
struct Stores {
    /// Keyed sends over the idempotency store.
    sends: Arc<IdempotentSends>,
    /// Whether the event log and the idempotency store can write.
    storage: StorageHealth,
    /// The registry, completed with the scrape-time sources once the accounts are built.
    metrics: Metrics,
    /// Where the accounts' upstream rate budgets are kept.
    budgets: Arc<dyn RateBudgets>,
}

/// Wires every sandbox account: its sends' statuses, injected messages and channel changes
/// become events in `log` (real accounts get theirs from webhooks), and its export links point
/// at `files_base_url`, the admin listener, which serves their files.
fn connect_sandboxes(accounts: &Accounts, log: &Arc<dyn EventLog>, files_base_url: &str) {
    for (name, sandbox) in accounts.sandboxes() {
        sandbox.connect_event_log(name, log.clone());
        sandbox.serve_files_at(files_base_url);
    }
}

/// Runs the three servers until `shutdown` completes or one fails, then drains them.
async fn serve(
    config: &Config,
    listeners: Listeners,
    stores: Stores,
    pipeline: &EventPipeline,
    groups: &Arc<dyn ConsumerGroups>,
    draining_tx: watch::Sender<bool>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    let mut metrics = stores.metrics;
    let accounts = Arc::new(
        Accounts::from_config(
            config,
            &stores.sends,
            &TransportShared {
                metrics: metrics.upstream(),
                budgets: stores.budgets,
            },
        )
        .map_err(AppError::Upstream)?,
    );
    connect_sandboxes(&accounts, &pipeline.log, &local_base_url(&listeners.admin));
    announce(config, &listeners);
    metrics.register_events(EventSources {
        log: pipeline.log.clone(),
        groups: groups.clone(),
    });
    metrics.register_accounts(AccountSources(accounts.clone()));
    let metrics = Arc::new(metrics);
    let links = Arc::new(EventLinks::default());
    let services = EventServices {
        log: pipeline.log.clone(),
        groups: groups.clone(),
        pending: pipeline.pending.clone(),
        defaults: config.events.stream_defaults,
        links: links.clone(),
    };
    let draining_rx = draining_tx.subscribe();
    let watching = ExportWatching {
        log: pipeline.log.clone(),
        draining: draining_rx.clone(),
        poll: PollPolicy::default(),
    };
    let grpc = GrpcServer::build(
        config,
        accounts.clone(),
        services,
        watching,
        metrics.clone(),
    )
    .map_err(AppError::Build)?;
    let health = grpc.health();
    health.follow_storage(stores.storage.clone(), draining_rx.clone());

    // The admin listener outlives the drain, so readiness reports 503 while calls finish.
    let (admin_stop_tx, admin_stop_rx) = watch::channel(false);
    let admin_router = admin::router(AdminState {
        metrics: metrics.clone(),
        draining: draining_rx.clone(),
        accounts: accounts.clone(),
        storage: stores.storage.clone(),
    })
    .merge(sandbox_files::router(accounts.clone()));
    // The admin listener takes the webhook listener's limits: one rule for both HTTP ports.
    let http_limits = HttpLimits::from(&config.webhooks);
    let admin = tokio::spawn(serve_http(
        listeners.admin,
        admin_router,
        http_limits,
        None,
        admin_stop_rx,
    ));
    let mut servers = JoinSet::new();
    let grpc_served = grpc.serve(listeners.grpc, draining_rx.clone());
    servers.spawn(async move {
        grpc_served.await.map_err(|error| AppError::Serve {
            listener: "grpc",
            source: Box::new(error),
        })
    });
    let webhooks = crate::events::ingress::router(IngressState::new(
        &config.accounts,
        config.webhooks.clone(),
        WEBHOOK_DECODERS,
        pipeline.log.clone(),
        pipeline.pending.clone(),
        metrics.clone(),
        links,
    ));
    let webhook_tls = webhook_tls(config).map_err(|error| AppError::Build(Box::new(error)))?;
    servers.spawn(async move {
        serve_http(
            listeners.webhook,
            webhooks,
            http_limits,
            webhook_tls,
            draining_rx,
        )
        .await;
        Ok(())
    });

    let outcome = tokio::select! {
        () = shutdown => {
            tracing::info!("shutdown requested, draining");
            health.set_draining().await;
            let _ = draining_tx.send(true);
            drain(servers, config.server.drain_timeout).await
        }
        finished = servers.join_next() => server_outcome(finished),
    };
    let _ = admin_stop_tx.send(true);
    server_outcome(Some(admin.await.map(Ok))).and(outcome)
}

/// Returns `http://host:port` of a listener, with a loopback host for an unspecified address.
fn local_base_url(listener: &TcpListener) -> String {
    match listener.local_addr() {
        Ok(address) => {
            let host = match address.ip() {
                ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
                ip if ip.is_unspecified() => "[::1]".to_owned(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                std::net::IpAddr::V4(ip) => ip.to_string(),
            };
            format!("http://{host}:{}", address.port())
        }
        Err(_) => String::new(),
    }
}

/// Logs where the gateway listens, and says loudly when the sandbox upstream is in use.
fn announce(config: &Config, listeners: &Listeners) {
    let address = |listener: &TcpListener| {
        listener
            .local_addr()
            .map(|address| address.to_string())
            .unwrap_or_default()
    };
    tracing::info!(
        grpc = %address(&listeners.grpc),
        webhook = %address(&listeners.webhook),
        admin = %address(&listeners.admin),
        accounts = config.accounts.len(),
        "wazzup-gateway listening"
    );
    if config.sandbox {
        tracing::warn!(
            "SANDBOX MODE: account \"sandbox\" is served by the built-in simulated upstream; \
             nothing is sent to Wazzup"
        );
    }
}

/// Waits for every server to finish, at most `deadline`; in-flight work still running after it is
/// abandoned (and logged), and the gateway still exits cleanly.
async fn drain(
    mut servers: JoinSet<Result<(), AppError>>,
    deadline: std::time::Duration,
) -> Result<(), AppError> {
    let drained = tokio::time::timeout(deadline, async {
        while let Some(finished) = servers.join_next().await {
            server_outcome(Some(finished))?;
        }
        Ok(())
    })
    .await;
    match drained {
        Ok(outcome) => {
            tracing::info!("drained, exiting");
            outcome
        }
        Err(_) => {
            tracing::warn!(deadline = ?deadline, "drain deadline passed, abandoning in-flight work");
            servers.abort_all();
            Ok(())
        }
    }
}

/// Turns a finished server task into the gateway's outcome.
fn server_outcome(
    finished: Option<Result<Result<(), AppError>, tokio::task::JoinError>>,
) -> Result<(), AppError> {
    match finished {
        None | Some(Ok(Ok(()))) => Ok(()),
        Some(Ok(Err(error))) => Err(error),
        Some(Err(join_error)) => Err(AppError::Serve {
            listener: "task",
            source: Box::new(join_error),
        }),
    }
}

/// Listens for SIGTERM and SIGINT (Ctrl-C) from the moment it is called, and returns a future that
/// completes on the first of them.
///
/// Call it before binding the listeners: a signal that arrives as soon as the gateway answers (an
/// orchestrator stopping a pod that just became ready) then starts the drain instead of killing the
/// process.
///
/// # Errors
///
/// Fails when the signal handlers cannot be installed.
#[cfg(unix)]
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Returns a future that completes on Ctrl-C (the only shutdown signal off Unix).
///
/// # Errors
///
/// Never fails; the signature matches the Unix version.
#[cfg(not(unix))]
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}
