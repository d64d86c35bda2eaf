//! The webhook ingest benchmark: durable ingest throughput against a plain HTTP sink (the ceiling),
//! and ingest → subscriber latency at a fixed webhook rate.
//!
//! Every webhook is a Wazzup v3 `messages` body with one incoming message, padded to the requested
//! size, whose `messageId` is `bench-{run}-{n}`: unique, so the gateway's dedupe keeps every one,
//! and readable back from the event, so a subscriber can tell which post it is looking at.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::Semaphore;
use tonic::transport::Channel;
use wazzup_gateway::proto::pb;

use crate::{CHANNEL_ID, CHAT_ID, REQUEST_TIMEOUT, closed_loop_summary, quantile_ms, succeeded};

/// Most webhook posts in flight during a latency run (the rate, not this bound, sets the load).
const LATENCY_RUN_MAX_IN_FLIGHT: usize = 256;
/// How long subscribers may take to drain the last events after the final post.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Builds webhook bodies of one size for one run.
#[derive(Clone, Debug)]
pub(crate) struct WebhookBodies {
    run: u128,
    padding: Arc<str>,
}

impl WebhookBodies {
    /// Bodies of about `bytes` bytes (never less than the unpadded body).
    pub(crate) fn new(bytes: usize) -> Self {
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let unpadded = Self {
            run,
            padding: Arc::from(""),
        }
        .body(0)
        .len();
        let padding = "x".repeat(bytes.saturating_sub(unpadded));
        Self {
            run,
            padding: padding.into(),
        }
    }

    /// Tells this run from others (a timestamp), for names that must not collide between runs.
    pub(crate) fn run_id(&self) -> u128 {
        self.run
    }

    /// The `messageId` of post `n`.
    fn message_id(&self, n: usize) -> String {
        format!("bench-{}-{n}", self.run)
    }

    /// Reads `n` back from a `messageId` of this run.
    fn post_number(&self, message_id: &str) -> Option<usize> {
        let rest = message_id.strip_prefix(&format!("bench-{}-", self.run))?;
        rest.parse().ok()
    }

    /// The body of post `n`.
    pub(crate) fn body(&self, n: usize) -> String {
        serde_json::json!({ "messages": [{
            "messageId": self.message_id(n),
            "dateTime": "2026-11-21T12:00:00.000Z",
            "channelId": CHANNEL_ID,
            "chatType": "whatsapp",
            "chatId": CHAT_ID,
            "type": "text",
            "isEcho": false,
            "status": "inbound",
            "contact": { "name": "Bench" },
            "text": format!("bench {}", self.padding),
        }]})
        .to_string()
    }
}

/// Posts one webhook; true on a 2xx answer with its body read.
pub(crate) async fn post_webhook(client: &reqwest::Client, url: &str, body: String) -> bool {
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    succeeded(sent).await
}

/// The webhook poster's HTTP client.
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(LATENCY_RUN_MAX_IN_FLIGHT)
        .build()
        .map_err(|error| error.to_string())
}

/// Closed-loop throughput: `requests` posts with `concurrency` in flight (after `warmup` unmeasured
/// ones); prints one JSON line with webhooks/s and post latency p50/p99.
pub(crate) async fn throughput(
    url: &str,
    concurrency: usize,
    requests: usize,
    warmup: usize,
    body_bytes: usize,
    deadline: Instant,
) -> Result<serde_json::Value, String> {
    let client = http_client()?;
    let bodies = WebhookBodies::new(body_bytes);
    let next = Arc::new(AtomicUsize::new(0));
    let fire = |limit: usize| {
        let mut workers = Vec::with_capacity(concurrency);
        for _ in 0..concurrency.max(1) {
            let (client, bodies, next, url) = (
                client.clone(),
                bodies.clone(),
                Arc::clone(&next),
                url.to_owned(),
            );
            workers.push(tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= limit || Instant::now() >= deadline {
                        return (latencies, errors);
                    }
                    let begun = Instant::now();
                    if !post_webhook(&client, &url, bodies.body(n)).await {
                        errors += 1;
                    }
                    latencies.push(begun.elapsed());
                }
            }));
        }
        workers
    };
    for worker in fire(warmup) {
        let _ = worker.await;
    }
    // Each warm-up worker took one number past the limit on its way out.
    next.store(warmup, Ordering::Relaxed);
    let started = Instant::now();
    let (mut latencies, mut errors) = (Vec::with_capacity(requests), 0);
    for worker in fire(warmup + requests) {
        let (mut own, own_errors) = worker.await.unwrap_or_default();
        latencies.append(&mut own);
        errors += own_errors;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let mut line = closed_loop_summary(&latencies, seconds, errors);
    line.insert("concurrency".to_owned(), concurrency.into());
    line.insert("body_bytes".to_owned(), bodies.body(0).len().into());
    Ok(serde_json::Value::Object(line))
}

/// What one latency run is given.
#[derive(Clone, Debug)]
pub(crate) struct LatencyRun {
    /// Webhook URL of the gateway (`http://HOST:PORT/webhooks/ACCOUNT/SECRET`).
    pub(crate) webhook_url: String,
    /// The gateway's gRPC address `HOST:PORT`.
    pub(crate) grpc: String,
    /// Subscribe streams to open.
    pub(crate) subscribers: usize,
    /// Webhooks posted per second.
    pub(crate) rate: u32,
    /// Webhooks posted in all.
    pub(crate) requests: usize,
    /// Size of each body.
    pub(crate) body_bytes: usize,
}

/// Open-loop latency: opens the subscriptions, posts `requests` webhooks at `rate` per second, and
/// measures, for every (subscriber, webhook) pair, the time from the start of the post to the
/// event's arrival on that stream. Prints p50/p99, how many deliveries were missing, and the
/// posts' own latency (the durable commit and the 200) for comparison.
pub(crate) async fn latency(run: LatencyRun) -> Result<serde_json::Value, String> {
    let bodies = WebhookBodies::new(run.body_bytes);
    let sent_at: Arc<Vec<OnceLock<Instant>>> =
        Arc::new((0..run.requests).map(|_| OnceLock::new()).collect());
    let channel = Channel::from_shared(format!("http://{}", run.grpc))
        .map_err(|error| error.to_string())?
        .connect()
        .await
        .map_err(|error| format!("cannot connect to {}: {error}", run.grpc))?;

    let mut subscribers = Vec::with_capacity(run.subscribers);
    for _ in 0..run.subscribers {
        let mut stream = subscribe_thin(channel.clone()).await?;
        // The first message of every stream is a heartbeat: the subscription is in place.
        stream
            .message()
            .await
            .map_err(|status| format!("Subscribe failed: {status}"))?;
        let (bodies, sent_at, expected) = (bodies.clone(), Arc::clone(&sent_at), run.requests);
        subscribers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expected);
            while latencies.len() < expected {
                let Ok(Ok(Some(message))) =
                    tokio::time::timeout(DRAIN_GRACE, stream.message()).await
                else {
                    break;
                };
                let Some(payload) = message.event.and_then(|event| event.message) else {
                    continue;
                };
                let sent = bodies
                    .post_number(&payload.message_id)
                    .and_then(|n| sent_at.get(n))
                    .and_then(OnceLock::get);
                if let Some(sent) = sent {
                    latencies.push(sent.elapsed());
                }
            }
            latencies
        }));
    }

    // The posts run on a runtime of their own, as the upstream is a client of its own: the
    // subscribers' messages must not queue the posts' requests and answers in the load tool.
    let posts = PostsAtRate {
        bodies: bodies.clone(),
        sent_at: Arc::clone(&sent_at),
        url: run.webhook_url.clone(),
        rate: run.rate,
        requests: run.requests,
    };
    let (mut post_latencies, errors, posting_seconds) = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?
            .block_on(posts.run())
    })
    .await
    .map_err(|error| error.to_string())??;
    post_latencies.sort_unstable();
    let mut latencies = Vec::with_capacity(run.requests * run.subscribers);
    for subscriber in subscribers {
        latencies.append(&mut subscriber.await.unwrap_or_default());
    }
    latencies.sort_unstable();
    let expected = run.requests * run.subscribers;
    Ok(serde_json::json!({
        "subscribers": run.subscribers,
        "rate": run.rate,
        "achieved_rate": run.requests as f64 / posting_seconds,
        "requests": run.requests,
        "body_bytes": bodies.body(0).len(),
        "deliveries": latencies.len(),
        "missing": expected - latencies.len(),
        "p50_ms": quantile_ms(&latencies, 0.50),
        "p99_ms": quantile_ms(&latencies, 0.99),
        "p999_ms": quantile_ms(&latencies, 0.999),
        "max_ms": latencies.last().map_or(f64::NAN, |max| max.as_secs_f64() * 1e3),
        "post_p50_ms": quantile_ms(&post_latencies, 0.50),
        "post_p99_ms": quantile_ms(&post_latencies, 0.99),
        "errors": errors,
    }))
}

/// Webhooks posted at a fixed rate, each post's start recorded in `sent_at`.
struct PostsAtRate {
    bodies: WebhookBodies,
    sent_at: Arc<Vec<OnceLock<Instant>>>,
    url: String,
    rate: u32,
    requests: usize,
}

impl PostsAtRate {
    /// Posts them all; returns each post's latency, the failed posts and the seconds it took.
    async fn run(self) -> Result<(Vec<Duration>, usize, f64), String> {
        let client = http_client()?;
        let in_flight = Arc::new(Semaphore::new(LATENCY_RUN_MAX_IN_FLIGHT));
        let errors = Arc::new(AtomicUsize::new(0));
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / self.rate.max(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut posts = Vec::with_capacity(self.requests);
        for n in 0..self.requests {
            ticker.tick().await;
            let permit = Arc::clone(&in_flight)
                .acquire_owned()
                .await
                .map_err(|error| error.to_string())?;
            let (client, url, body) = (client.clone(), self.url.clone(), self.bodies.body(n));
            let (sent_at, errors) = (Arc::clone(&self.sent_at), Arc::clone(&errors));
            posts.push(tokio::spawn(async move {
                let begun = *sent_at[n].get_or_init(Instant::now);
                if !post_webhook(&client, &url, body).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                drop(permit);
                begun.elapsed()
            }));
        }
        let mut latencies = Vec::with_capacity(self.requests);
        for post in posts {
            latencies.extend(post.await.ok());
        }
        let seconds = started.elapsed().as_secs_f64();
        Ok((latencies, errors.load(Ordering::Relaxed), seconds))
    }
}

/// A `SubscribeResponse` read only as far as the benchmark needs: the message id of a message
/// event. prost skips every other field unread, so the load tool's decoding does not compete with
/// the gateway for the CPU; the bytes on the wire are the full messages.
#[derive(Clone, PartialEq, prost::Message)]
struct ThinSubscribeResponse {
    /// `SubscribeResponse.event`.
    #[prost(message, optional, tag = "1")]
    event: Option<ThinEvent>,
}

/// `Event`, only its `message` payload.
#[derive(Clone, PartialEq, prost::Message)]
struct ThinEvent {
    /// `Event.message`.
    #[prost(message, optional, tag = "10")]
    message: Option<ThinMessageEvent>,
}

/// `MessageEvent`, only its id.
#[derive(Clone, PartialEq, prost::Message)]
struct ThinMessageEvent {
    /// `MessageEvent.message_id`.
    #[prost(string, tag = "1")]
    message_id: String,
}

/// Subscribes to `MESSAGE_RECEIVED` events, reading responses as [`ThinSubscribeResponse`].
async fn subscribe_thin(
    channel: Channel,
) -> Result<tonic::Streaming<ThinSubscribeResponse>, String> {
    let request = pb::SubscribeRequest {
        types: vec![pb::EventType::MessageReceived.into()],
        ..Default::default()
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| format!("Subscribe failed: {error}"))?;
    let codec = tonic_prost::ProstCodec::<pb::SubscribeRequest, ThinSubscribeResponse>::default();
    let path = http::uri::PathAndQuery::from_static("/wazzup_gateway.v1.EventService/Subscribe");
    grpc.server_streaming(tonic::Request::new(request), path, codec)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| format!("Subscribe failed: {status}"))
}

/// Serves the ceiling: any `POST /webhooks/...` has its body read and is answered 200, nothing
/// stored.
pub(crate) async fn sink(listen: SocketAddr) -> Result<(), String> {
    async fn accept(_body: Bytes) -> StatusCode {
        StatusCode::OK
    }
    let router = Router::new().route("/webhooks/{*path}", post(accept));
    crate::serve(listen, router).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_requested_size_and_carry_their_post_number() {
        let bodies = WebhookBodies::new(1024);
        let body = bodies.body(7);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let message_id = json["messages"][0]["messageId"].as_str().unwrap();

        assert!((1024..1030).contains(&body.len()), "{}", body.len());
        assert_eq!(bodies.post_number(message_id), Some(7));
        assert_eq!(bodies.post_number("bench-0-7"), None);
    }
}
