//! `wazzup-load`: the benchmarks' load tool (see `scripts/bench-send`, `scripts/bench-ingest`,
//! `scripts/bench-export` and `docs/benchmarks.md`).
//!
//! * `mock-upstream --listen 127.0.0.1:PORT` serves the two Wazzup v3 routes a send needs
//!   (`GET /v3/channels`, `POST /v3/message`) with fixed answers, as cheaply as possible.
//! * `run --mode gateway|direct --target … --concurrency N --requests M` fires `M` sends with `N` in
//!   flight and prints one JSON line (mode, concurrency, requests, seconds, rps, p50_ms, p99_ms,
//!   errors). `gateway` sends unary `SendMessage` to the gateway's gRPC address; `direct` POSTs the
//!   same v3 JSON body straight to the mock with reqwest, as the gateway's upstream client would.
//! * `sink`, `ingest` and `latency` are the webhook ingest benchmark ([`ingest`]): a plain HTTP
//!   server answering 200 (the ceiling), closed-loop webhook posting, and ingest → subscriber
//!   latency at a fixed rate.
//!
//! * `fsync-anchor --dir DIR` appends 4 KB records to a file in `DIR`, each followed by `fdatasync`,
//!   and prints their p50/p99 ([`fsync`]): the disk's own cost, beside which the ingest benchmark
//!   reads the gateway's durable commit.
//!
//! * `acks --webhook-url … --grpc … --consumers N --events M` measures durable explicit acks
//!   ([`acks`]): N named consumers each ack M events one at a time; one JSON line with acks/s.
//!
//! * `nats-fanout --url nats://127.0.0.1:PORT --subscribers N --rate R --messages M` is the
//!   fan-out reference ([`nats_fanout`]): a core `nats-server` fanning the latency run's 1 KB
//!   messages to as many subscribers, with the same latency figures; the script reads the
//!   server's CPU per delivery beside the gateway's.
//!
//! * `jetstream-publish --url nats://127.0.0.1:PORT --stream NAME --concurrency N --messages M`
//!   is the JetStream ceiling of the ingest benchmark ([`jetstream_publish`]): a bare `async-nats`
//!   publisher storing the same 1 KB payloads with N publish + ack in flight; one JSON line with
//!   the same fields as `ingest`.
//!
//! * `read-export --target HOST:PORT` creates a message export on the gateway's default account
//!   (the sandbox, with `server.sandbox_export_rows` generated rows), watches it to `DONE`, reads
//!   every row with `ReadMessageExport` and prints one JSON line (rows, seconds, rows_per_s,
//!   first_row_ms, errors).
//!
//! Only loopback addresses are meant here; every run is bounded by `--requests` and `--max-seconds`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use clap::{Parser, Subcommand, ValueEnum};
use tonic::transport::Channel;
use wazzup_gateway::proto::pb;
use wazzup_gateway::proto::pb::export_service_client::ExportServiceClient;
use wazzup_gateway::proto::pb::message_service_client::MessageServiceClient;

#[path = "wazzup-load/acks.rs"]
mod acks;
#[path = "wazzup-load/fsync.rs"]
mod fsync;
#[path = "wazzup-load/ingest.rs"]
mod ingest;
#[path = "wazzup-load/jetstream_publish.rs"]
mod jetstream_publish;
#[path = "wazzup-load/nats_fanout.rs"]
mod nats_fanout;
#[path = "wazzup-load/passthrough.rs"]
mod passthrough;

/// The one channel the mock lists; the gateway validates sends against it.
const CHANNEL_ID: &str = "6f0c8a52-3b1e-4b7a-9d3c-1a2b3c4d5e6f";
/// Recipient of every benchmark send (WhatsApp digits).
const CHAT_ID: &str = "79991112233";
/// Text of every benchmark send.
const TEXT: &str = "bench";
/// API key the direct mode sends (the mock does not check it).
const API_KEY: &str = "bench-key";
/// Timeout of a single request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Load tool for the send and webhook ingest benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serves a minimal, fast Wazzup v3 mock (channels list and message send).
    MockUpstream {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Serves a bare tonic → reqwest pass-through of `SendMessage` to the mock (the reference).
    PassThrough {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// The mock's base URL `http://HOST:PORT`.
        #[arg(long)]
        upstream: String,
    },
    /// Fires sends and prints one JSON line of results.
    Run {
        /// What to call.
        #[arg(long, value_enum)]
        mode: Mode,
        /// `gateway`: gRPC address `HOST:PORT`; `direct`: the mock's base URL `http://HOST:PORT`.
        #[arg(long)]
        target: String,
        /// Requests in flight.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Measured requests.
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Unmeasured requests sent first (connections, channel cache).
        #[arg(long, default_value_t = 100)]
        warmup: usize,
        /// Stop early (counting what finished) after this many seconds.
        #[arg(long, default_value_t = 120)]
        max_seconds: u64,
    },
    /// Serves a plain HTTP server that answers 200 to any webhook POST and stores nothing.
    Sink {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Posts webhooks with a fixed number in flight and prints one JSON line of results.
    Ingest {
        /// Webhook URL (`http://HOST:PORT/webhooks/ACCOUNT/SECRET`).
        #[arg(long)]
        target: String,
        /// Posts in flight.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Measured posts.
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Unmeasured posts sent first.
        #[arg(long, default_value_t = 100)]
        warmup: usize,
        /// Size of each webhook body.
        #[arg(long, default_value_t = 1024)]
        body_bytes: usize,
        /// Stop early (counting what finished) after this many seconds.
        #[arg(long, default_value_t = 120)]
        max_seconds: u64,
    },
    /// Opens Subscribe streams, posts webhooks at a fixed rate, prints ingest → subscriber latency.
    Latency {
        /// Webhook URL (`http://HOST:PORT/webhooks/ACCOUNT/SECRET`).
        #[arg(long)]
        webhook_url: String,
        /// The gateway's gRPC address `HOST:PORT`.
        #[arg(long)]
        grpc: String,
        /// Subscribe streams.
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
        /// Webhooks per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Webhooks in all.
        #[arg(long, default_value_t = 5000)]
        requests: usize,
        /// Size of each webhook body.
        #[arg(long, default_value_t = 1024)]
        body_bytes: usize,
    },
    /// Named consumers ack events one at a time, each ack awaited; prints acks/s.
    Acks {
        /// Webhook URL (`http://HOST:PORT/webhooks/ACCOUNT/SECRET`).
        #[arg(long)]
        webhook_url: String,
        /// The gateway's gRPC address `HOST:PORT`.
        #[arg(long)]
        grpc: String,
        /// Named consumers acking at once.
        #[arg(long, default_value_t = 1)]
        consumers: usize,
        /// Events each consumer acks.
        #[arg(long, default_value_t = 2000)]
        events: usize,
    },
    /// Appends records to a file in `dir`, each made durable with `fdatasync`; prints p50/p99.
    FsyncAnchor {
        /// A directory on the filesystem to measure (where the gateway keeps its data).
        #[arg(long)]
        dir: std::path::PathBuf,
        /// Appends measured.
        #[arg(long, default_value_t = 1000)]
        records: usize,
        /// Bytes per append.
        #[arg(long, default_value_t = 4096)]
        record_bytes: usize,
    },
    /// Publishes messages at a fixed rate through a core NATS server to N subscribers; prints
    /// the delivery latency (the fan-out reference of the latency run).
    NatsFanout {
        /// The server's URL `nats://HOST:PORT`.
        #[arg(long)]
        url: String,
        /// Subscriptions on the subject.
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
        /// Messages per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Messages in all.
        #[arg(long, default_value_t = 5000)]
        messages: usize,
        /// Size of each message.
        #[arg(long, default_value_t = 1024)]
        body_bytes: usize,
    },
    /// Publishes payloads to a JetStream stream, each awaited until its ack, with a fixed number
    /// in flight; prints one JSON line like `ingest` (the JetStream ceiling).
    JetstreamPublish {
        /// The server's URL `nats://HOST:PORT` (JetStream enabled).
        #[arg(long)]
        url: String,
        /// The stream to create (or reuse) and publish to.
        #[arg(long, default_value = "WGW_BENCH_BARE")]
        stream: String,
        /// Publishes in flight.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Measured publishes.
        #[arg(long, default_value_t = 1000)]
        messages: usize,
        /// Unmeasured publishes sent first.
        #[arg(long, default_value_t = 100)]
        warmup: usize,
        /// Size of each payload.
        #[arg(long, default_value_t = 1024)]
        body_bytes: usize,
        /// Stop early (counting what finished) after this many seconds.
        #[arg(long, default_value_t = 120)]
        max_seconds: u64,
    },
    /// Creates an export, watches it to DONE, reads all its rows and prints one JSON line.
    ReadExport {
        /// The gateway's gRPC address `HOST:PORT`.
        #[arg(long)]
        target: String,
        /// Give up (counting what was read) after this many seconds.
        #[arg(long, default_value_t = 300)]
        max_seconds: u64,
    },
}

/// What the load tool calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Unary `SendMessage` through the gateway.
    Gateway,
    /// The same v3 JSON POST, straight to the mock.
    Direct,
}

/// One way of sending; cheap to clone per worker.
#[derive(Clone)]
enum Sender {
    Gateway(Vec<MessageServiceClient<Channel>>),
    Direct(reqwest::Client, Arc<str>),
}

impl Sender {
    async fn new(mode: Mode, target: &str, concurrency: usize) -> Result<Self, String> {
        match mode {
            Mode::Gateway => {
                // One HTTP/2 connection carries at most ~100 streams well; use a few for high concurrency.
                let count = concurrency.div_ceil(16).clamp(1, 4);
                let mut clients = Vec::with_capacity(count);
                for _ in 0..count {
                    let channel = Channel::from_shared(format!("http://{target}"))
                        .map_err(|error| error.to_string())?
                        .timeout(REQUEST_TIMEOUT)
                        .connect()
                        .await
                        .map_err(|error| format!("cannot connect to {target}: {error}"))?;
                    clients.push(MessageServiceClient::new(channel));
                }
                Ok(Self::Gateway(clients))
            }
            Mode::Direct => {
                let client = reqwest::Client::builder()
                    .timeout(REQUEST_TIMEOUT)
                    .build()
                    .map_err(|error| error.to_string())?;
                let url = format!("{}/v3/message", target.trim_end_matches('/'));
                Ok(Self::Direct(client, url.into()))
            }
        }
    }

    /// Sends one message; `worker` picks the gRPC connection.
    async fn send(&self, worker: usize) -> bool {
        match self {
            Self::Gateway(clients) => {
                let mut client = clients[worker % clients.len()].clone();
                let request = pb::SendMessageRequest {
                    channel_id: CHANNEL_ID.to_owned(),
                    recipient: Some(pb::Recipient {
                        chat_type: pb::ChatType::Whatsapp.into(),
                        chat_id: CHAT_ID.to_owned(),
                        ..Default::default()
                    }),
                    content: Some(pb::send_message_request::Content::Text(TEXT.to_owned())),
                    ..Default::default()
                };
                client.send_message(request).await.is_ok()
            }
            Self::Direct(client, url) => {
                let body = serde_json::json!({
                    "channelId": CHANNEL_ID,
                    "chatType": "whatsapp",
                    "chatId": CHAT_ID,
                    "text": TEXT,
                });
                // The body is read, as the gateway does.
                succeeded(
                    client
                        .post(&**url)
                        .bearer_auth(API_KEY)
                        .json(&body)
                        .send()
                        .await,
                )
                .await
            }
        }
    }
}

/// Tells whether an HTTP exchange succeeded: a 2xx answer whose body was read to the end.
async fn succeeded(sent: Result<reqwest::Response, reqwest::Error>) -> bool {
    match sent {
        Ok(response) => {
            let ok = response.status().is_success();
            response.bytes().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

/// Sends `requests` messages with `concurrency` in flight; returns sorted latencies, errors, wall time.
async fn fire(
    sender: &Sender,
    concurrency: usize,
    requests: usize,
    deadline: Instant,
) -> (Vec<Duration>, usize, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let (sender, next) = (sender.clone(), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(requests / concurrency + 1);
            let mut errors = 0;
            while next.fetch_add(1, Ordering::Relaxed) < requests && Instant::now() < deadline {
                let begun = Instant::now();
                if !sender.send(worker).await {
                    errors += 1;
                }
                latencies.push(begun.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    for worker in workers {
        let (mut own, own_errors) = worker.await.unwrap_or_default();
        latencies.append(&mut own);
        errors += own_errors;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    (latencies, errors, elapsed)
}

/// The common fields of a closed-loop run's JSON line: how many finished (`requests`), over how
/// many `seconds`, at what rate (`rps`), their p50/p99 latency and the `errors`; `sorted` holds
/// the finished ones' latencies in order. Each run adds its own fields.
fn closed_loop_summary(
    sorted: &[Duration],
    seconds: f64,
    errors: usize,
) -> serde_json::Map<String, serde_json::Value> {
    serde_json::Map::from_iter([
        ("requests".to_owned(), sorted.len().into()),
        ("seconds".to_owned(), seconds.into()),
        ("rps".to_owned(), (sorted.len() as f64 / seconds).into()),
        ("p50_ms".to_owned(), quantile_ms(sorted, 0.50).into()),
        ("p99_ms".to_owned(), quantile_ms(sorted, 0.99).into()),
        ("errors".to_owned(), errors.into()),
    ])
}

/// The latency at quantile `q` of sorted samples, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest-rank quantile.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

async fn run(
    mode: Mode,
    target: &str,
    concurrency: usize,
    requests: usize,
    warmup: usize,
    max_seconds: u64,
) -> Result<(), String> {
    let concurrency = concurrency.max(1);
    let deadline = Instant::now() + Duration::from_secs(max_seconds);
    let sender = Sender::new(mode, target, concurrency).await?;
    let (_, warmup_errors, _) = fire(&sender, concurrency, warmup, deadline).await;
    if warmup > 0 && warmup_errors == warmup {
        return Err(format!("every warm-up request to {target} failed"));
    }
    let (latencies, errors, elapsed) = fire(&sender, concurrency, requests, deadline).await;
    let seconds = elapsed.as_secs_f64();
    let mut line = closed_loop_summary(&latencies, seconds, errors);
    line.insert(
        "mode".to_owned(),
        match mode {
            Mode::Gateway => "gateway",
            Mode::Direct => "direct",
        }
        .into(),
    );
    line.insert("concurrency".to_owned(), concurrency.into());
    let line = serde_json::Value::Object(line);
    println!("{line}");
    Ok(())
}

/// Creates an export of the last day, waits for `DONE`, then reads and counts its rows.
async fn read_export(target: &str, max_seconds: u64) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(max_seconds);
    let channel = Channel::from_shared(format!("http://{target}"))
        .map_err(|error| error.to_string())?
        .connect()
        .await
        .map_err(|error| format!("cannot connect to {target}: {error}"))?;
    let mut client = ExportServiceClient::new(channel);
    let now = SystemTime::now();
    let created = client
        .create_message_export(pb::CreateMessageExportRequest {
            start_time: Some((now - Duration::from_secs(24 * 3600)).into()),
            end_time: Some((now + Duration::from_secs(3600)).into()),
            ..Default::default()
        })
        .await
        .map_err(|status| format!("CreateMessageExport: {status}"))?
        .into_inner()
        .export
        .ok_or("CreateMessageExport answered no export")?;
    let export_id = created.export_id;
    let mut watch = client
        .watch_message_export(pb::WatchMessageExportRequest {
            export_id: export_id.clone(),
            ..Default::default()
        })
        .await
        .map_err(|status| format!("WatchMessageExport: {status}"))?
        .into_inner();
    while let Some(message) = tokio::time::timeout_at(deadline.into(), watch.message())
        .await
        .map_err(|_| "the export did not finish in time")?
        .map_err(|status| format!("WatchMessageExport: {status}"))?
    {
        let state = message.export.map(|export| export.state());
        if state == Some(pb::ExportState::Done) {
            break;
        }
    }
    let started = Instant::now();
    let mut rows = client
        .read_message_export(pb::ReadMessageExportRequest {
            export_id,
            ..Default::default()
        })
        .await
        .map_err(|status| format!("ReadMessageExport: {status}"))?
        .into_inner();
    let (mut count, mut errors, mut first_row) = (0_u64, 0_u64, None);
    loop {
        match tokio::time::timeout_at(deadline.into(), rows.message()).await {
            Ok(Ok(Some(_))) => {
                count += 1;
                first_row.get_or_insert_with(|| started.elapsed());
            }
            Ok(Ok(None)) => break,
            Ok(Err(status)) => {
                eprintln!("ReadMessageExport ended early: {status}");
                errors += 1;
                break;
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let line = serde_json::json!({
        "rows": count,
        "seconds": seconds,
        "rows_per_s": count as f64 / seconds,
        "first_row_ms": first_row.map(|elapsed| elapsed.as_secs_f64() * 1e3),
        "errors": errors,
    });
    println!("{line}");
    Ok(())
}

async fn mock_upstream(listen: SocketAddr) -> Result<(), String> {
    let channels = format!(
        r#"[{{"channelId":"{CHANNEL_ID}","transport":"whatsapp","plainId":"79990000001","state":"active"}}]"#
    );
    let sent =
        format!(r#"{{"messageId":"00000000-0000-4000-8000-000000000001","chatId":"{CHAT_ID}"}}"#);
    let router = Router::new()
        .route(
            "/v3/channels",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], channels) }),
        )
        .route(
            "/v3/message",
            post(move || async move {
                (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/json")],
                    sent,
                )
                    .into_response()
            }),
        );
    serve(listen, router).await
}

/// Serves `router` on `listen` until the process ends, after printing the bound address.
async fn serve(listen: SocketAddr, router: Router) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    println!("listening on http://{address}");
    axum::serve(listener, router)
        .await
        .map_err(|error| error.to_string())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let outcome = match Cli::parse().command {
        Command::MockUpstream { listen } => mock_upstream(listen).await,
        Command::Run {
            mode,
            target,
            concurrency,
            requests,
            warmup,
            max_seconds,
        } => run(mode, &target, concurrency, requests, warmup, max_seconds).await,
        Command::PassThrough { listen, upstream } => passthrough::serve(listen, &upstream).await,
        Command::Sink { listen } => ingest::sink(listen).await,
        Command::Ingest {
            target,
            concurrency,
            requests,
            warmup,
            body_bytes,
            max_seconds,
        } => {
            let deadline = Instant::now() + Duration::from_secs(max_seconds);
            ingest::throughput(&target, concurrency, requests, warmup, body_bytes, deadline)
                .await
                .map(|line| println!("{line}"))
        }
        Command::Latency {
            webhook_url,
            grpc,
            subscribers,
            rate,
            requests,
            body_bytes,
        } => ingest::latency(ingest::LatencyRun {
            webhook_url,
            grpc,
            subscribers,
            rate,
            requests,
            body_bytes,
        })
        .await
        .map(|line| println!("{line}")),
        Command::ReadExport {
            target,
            max_seconds,
        } => read_export(&target, max_seconds).await,
        Command::Acks {
            webhook_url,
            grpc,
            consumers,
            events,
        } => acks::acks(acks::AckRun {
            webhook_url,
            grpc,
            consumers: consumers.max(1),
            events,
        })
        .await
        .map(|line| println!("{line}")),
        Command::NatsFanout {
            url,
            subscribers,
            rate,
            messages,
            body_bytes,
        } => nats_fanout::fanout(nats_fanout::FanoutRun {
            url,
            subscribers,
            rate,
            messages,
            body_bytes,
        })
        .await
        .map(|line| println!("{line}")),
        Command::JetstreamPublish {
            url,
            stream,
            concurrency,
            messages,
            warmup,
            body_bytes,
            max_seconds,
        } => jetstream_publish::publish(jetstream_publish::PublishRun {
            url,
            stream,
            concurrency,
            messages,
            warmup,
            body_bytes,
            deadline: Instant::now() + Duration::from_secs(max_seconds),
        })
        .await
        .map(|line| println!("{line}")),
        Command::FsyncAnchor {
            dir,
            records,
            record_bytes,
        } => {
            let run = fsync::AnchorRun {
                dir,
                records,
                record_bytes,
            };
            tokio::task::spawn_blocking(move || fsync::anchor(&run))
                .await
                .map_err(|error| error.to_string())
                .and_then(|outcome| outcome)
                .map(|line| println!("{line}"))
        }
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wazzup-load: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
