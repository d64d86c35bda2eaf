//! The ack benchmark: how many explicit `Ack` calls per second the gateway makes durable, for one
//! named consumer acking one event at a time and for many consumers doing so at once.
//!
//! Each consumer subscribes with `ACK_MODE_EXPLICIT` from the latest event, the webhooks are
//! posted (not timed), and then every consumer reads its events and acks each one on its own,
//! waiting for the answer (an ack is answered once durable) before reading the next. The consumers
//! are deleted at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Barrier;
use tonic::transport::Channel;
use wazzup_gateway::proto::pb;
use wazzup_gateway::proto::pb::event_service_client::EventServiceClient;

use crate::ingest::{WebhookBodies, http_client, post_webhook};
use crate::{REQUEST_TIMEOUT, quantile_ms};

/// Posts in flight while the events are being stored.
const POSTING_CONCURRENCY: usize = 32;
/// How long a consumer waits for its next event before it gives up.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// What one ack run is given.
#[derive(Clone, Debug)]
pub(crate) struct AckRun {
    /// Webhook URL of the gateway (`http://HOST:PORT/webhooks/ACCOUNT/SECRET`).
    pub(crate) webhook_url: String,
    /// The gateway's gRPC address `HOST:PORT`.
    pub(crate) grpc: String,
    /// Named consumers acking at once.
    pub(crate) consumers: usize,
    /// Events each consumer acks (one webhook each).
    pub(crate) events: usize,
}

/// Runs the benchmark and returns one JSON line: acks/s over all consumers, ack latency p50/p99.
pub(crate) async fn acks(run: AckRun) -> Result<serde_json::Value, String> {
    let channel = connect(&run.grpc, None).await?;
    // The acks travel on a connection of their own: on the streams' connection an ack's answer
    // would wait for flow-control window that unread events of the other streams hold.
    let ack_channel = connect(&run.grpc, Some(REQUEST_TIMEOUT)).await?;
    let bodies = WebhookBodies::new(1024);
    let names: Vec<String> = (0..run.consumers)
        .map(|n| format!("bench-acks-{}-{n}", bodies.run_id()))
        .collect();
    let mut streams = Vec::with_capacity(names.len());
    for name in &names {
        streams.push(subscribe(EventServiceClient::new(channel.clone()), name).await?);
    }
    post_all(&run.webhook_url, &bodies, run.events).await?;

    let start = Arc::new(Barrier::new(run.consumers + 1));
    let mut consumers = Vec::with_capacity(run.consumers);
    for (name, stream) in names.iter().cloned().zip(streams) {
        let client = EventServiceClient::new(ack_channel.clone());
        let (start, events) = (Arc::clone(&start), run.events);
        consumers.push(tokio::spawn(async move {
            start.wait().await;
            ack_one_by_one(client, &name, stream, events).await
        }));
    }
    start.wait().await;
    let started = Instant::now();
    let (mut latencies, mut errors) = (Vec::with_capacity(run.consumers * run.events), 0);
    for consumer in consumers {
        let (mut own, own_errors) = consumer.await.map_err(|error| error.to_string())?;
        latencies.append(&mut own);
        errors += own_errors;
    }
    let seconds = started.elapsed().as_secs_f64();
    delete_all(EventServiceClient::new(ack_channel), &names).await;
    latencies.sort_unstable();
    Ok(serde_json::json!({
        "consumers": run.consumers,
        "events": run.events,
        "acks": latencies.len(),
        "seconds": seconds,
        "acks_per_s": latencies.len() as f64 / seconds,
        "p50_ms": quantile_ms(&latencies, 0.50),
        "p99_ms": quantile_ms(&latencies, 0.99),
        "errors": errors,
    }))
}

/// Connects to the gateway's gRPC address, with a timeout per call when given.
async fn connect(grpc: &str, timeout: Option<Duration>) -> Result<Channel, String> {
    let mut endpoint =
        Channel::from_shared(format!("http://{grpc}")).map_err(|error| error.to_string())?;
    if let Some(timeout) = timeout {
        endpoint = endpoint.timeout(timeout);
    }
    endpoint
        .connect()
        .await
        .map_err(|error| format!("cannot connect to {grpc}: {error}"))
}

/// Opens an explicit-ack subscription of the named consumer `name`, starting after the latest
/// event, and waits for its first heartbeat (the subscription is in place).
async fn subscribe(
    mut client: EventServiceClient<Channel>,
    name: &str,
) -> Result<tonic::Streaming<pb::SubscribeResponse>, String> {
    let request = pb::SubscribeRequest {
        consumer: name.to_owned(),
        types: vec![pb::EventType::MessageReceived.into()],
        start: Some(pb::subscribe_request::Start::Latest(true)),
        ack_mode: pb::AckMode::Explicit.into(),
        ..Default::default()
    };
    let mut stream = client
        .subscribe(request)
        .await
        .map_err(|status| format!("Subscribe failed: {status}"))?
        .into_inner();
    stream
        .message()
        .await
        .map_err(|status| format!("Subscribe failed: {status}"))?;
    Ok(stream)
}

/// Posts `count` webhooks, [`POSTING_CONCURRENCY`] at a time; fails unless all were stored.
async fn post_all(url: &str, bodies: &WebhookBodies, count: usize) -> Result<(), String> {
    let client = http_client()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(POSTING_CONCURRENCY);
    for _ in 0..POSTING_CONCURRENCY {
        let (client, bodies, next, url) = (
            client.clone(),
            bodies.clone(),
            Arc::clone(&next),
            url.to_owned(),
        );
        workers.push(tokio::spawn(async move {
            let mut failed = 0_usize;
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    return failed;
                }
                if !post_webhook(&client, &url, bodies.body(n)).await {
                    failed += 1;
                }
            }
        }));
    }
    let mut failed = 0;
    for worker in workers {
        failed += worker.await.map_err(|error| error.to_string())?;
    }
    if failed > 0 {
        return Err(format!("{failed} of {count} webhooks were not stored"));
    }
    Ok(())
}

/// Reads `events` events of `stream` and acks each alone, waiting for its answer; returns each
/// ack's latency and the failed acks (a stream that ends early counts its missing acks).
async fn ack_one_by_one(
    mut client: EventServiceClient<Channel>,
    name: &str,
    mut stream: tonic::Streaming<pb::SubscribeResponse>,
    events: usize,
) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::with_capacity(events);
    let mut errors = 0;
    while latencies.len() + errors < events {
        let Ok(Ok(Some(message))) = tokio::time::timeout(EVENT_WAIT, stream.message()).await else {
            errors = events - latencies.len();
            break;
        };
        let Some(pb::subscribe_response::Kind::Event(event)) = message.kind else {
            continue;
        };
        let begun = Instant::now();
        let acked = client
            .ack(pb::AckRequest {
                consumer: name.to_owned(),
                cursors: vec![event.cursor],
                ..Default::default()
            })
            .await;
        match acked {
            Ok(_) => latencies.push(begun.elapsed()),
            Err(_) => errors += 1,
        }
    }
    (latencies, errors)
}

/// Deletes the benchmark's consumers (best effort: they only hold progress).
async fn delete_all(mut client: EventServiceClient<Channel>, names: &[String]) {
    for name in names {
        let request = pb::DeleteConsumerRequest {
            name: name.clone(),
            ..Default::default()
        };
        if let Err(status) = client.delete_consumer(request).await {
            eprintln!("consumer {name} not deleted: {status}");
        }
    }
}
