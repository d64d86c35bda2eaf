//! wazzup-gateway: a gRPC gateway in front of the Wazzup24 messaging APIs.
//!
//! Internal services call it over gRPC (`proto/wazzup_gateway/v1`) instead of speaking each
//! upstream's REST dialect, and receive upstream webhooks as durable, replayable gRPC streams
//! (`EventService`). How the modules depend on each other, and which files each kind of change
//! touches, is in `docs/architecture.md`. The map, in the order the modules are listed:
//!
//! - `config`: one typed `config::Config` from a TOML file, environment overrides and the
//!   command line; secrets from env or mounted files, redacted everywhere.
//! - `cli`: the command line (`serve`, `check-config`).
//! - `telemetry`: logging, OpenTelemetry traces (with the links from event deliveries to their
//!   append), and Prometheus metrics.
//! - `app`: wiring and lifecycle: binds the three listeners (gRPC, webhooks, admin), runs them,
//!   and drains on SIGTERM/SIGINT.
//! - `bearer`: the one reader of `Authorization: Bearer` (gRPC callers and webhooks).
//! - `api`: the tonic services (thin adapters: proto → `model` → `service` → proto), caller
//!   authentication (tokens, optionally bound to client certificates), limits per caller, TLS for
//!   the gRPC and webhook listeners, health, reflection, RPC metrics.
//! - `admin`: `/healthz`, `/readyz` (draining, refused upstream credentials), `/metrics`.
//! - `model`: the provider-neutral domain and its validation against one limits table.
//! - `service`: the layer between `api` and `upstream`: the account registry, the
//!   per-request flow (validation against the channel, the channel cache, the call into the
//!   dialect), the send flow (validation → idempotency → dialect → outcome wait), export reading
//!   and watching.
//! - `upstream`: the `Upstream` trait, one implementation per API dialect (the built-in sandbox,
//!   the Wazzup API v3 and the partner API v2), the shared HTTP stack (reqwest client per account, rate limiter,
//!   concurrency bound, retry policy), and the error table.
//! - `idempotency`: the records that make sends with an `idempotency_key` happen at most once:
//!   outcomes recorded in an embedded redb store or a JetStream key-value bucket (24 h by
//!   default), fingerprints, the codec.
//! - `events`: the event vocabulary; the durable `events::log::EventLog` (redb backend by
//!   default, one writer thread with group commit, retention by age and size, the newest events
//!   also in memory; or one NATS JetStream stream with `events.backend = "nats"`); the fan-out of
//!   subscriptions (sharing log reads and encoded events), named consumers with their group
//!   dispatchers, acks and redelivery; CRM requests held open; outcomes of asynchronous sends.
//! - `storage`: what the embedded redb stores share: a file reopened on the next write after a
//!   failed one (a full disk), and the write health that readiness and gRPC health report.
//! - `nats`: the NATS JetStream connection of the nats backend (options from `[nats]`,
//!   whether it is up) and, for tests, a real `nats-server`.
//! - `exports`: message export CSVs read as a stream of rows with bounded memory.
//! - `failure`: how a failure is classified (`failure::ErrorClass`, the gateway's error
//!   domain), below any transport, so the lower layers classify without knowing gRPC.
//! - `error`: the single mapping from gateway errors to gRPC statuses with `google.rpc` details.
//! - [`proto`]: the generated code and the descriptor set served by reflection.
//!
//! Everything is `pub(crate)` but [`proto`] (the contract clients build against) and what is
//! re-exported below: what the binaries (`wazzup-gateway`, `wazzup-load`) and the integration
//! tests drive the gateway with.

mod admin;
mod api;
mod app;
mod bearer;
mod cli;
mod config;
mod error;
mod events;
mod exports;
mod failure;
mod idempotency;
mod model;
mod nats;
pub mod proto;
mod service;
mod storage;
mod telemetry;
mod upstream;

pub use app::{AppError, EventPipeline, Listeners, run, run_with_events, shutdown_signal};
pub use cli::{Cli, Command};
pub use config::{Config, ConfigError, RetrySettings, SETTINGS};
pub use events::log::{EventLog, EventLogError};
pub use events::responses::PendingResponses;
pub use events::{Cursor, EventType, NewEvent};
pub use model::{Dialect, ExportRequest, ExportState};
pub use telemetry::init as init_telemetry;
pub use telemetry::metrics::UpstreamMetrics;
pub use upstream::transport::TransportShared;
pub use upstream::{CallContext, RetryPolicy, Upstream, UpstreamError, WazzupTechClient};
