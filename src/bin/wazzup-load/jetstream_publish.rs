//! The JetStream ceiling of the ingest benchmark (issue 12, item 7): a bare `async-nats`
//! publisher storing the same 1 KB payloads in a JetStream stream, with the same number in
//! flight as the webhook posts, each publish awaited until JetStream's ack (stored, fsync'd as
//! the server's store does it). What the gateway adds per webhook in `events.backend = "nats"`
//! (HTTP, decoding, id bookkeeping) reads against this.
//!
//! The stream is made like the gateway's: file storage, limits retention, one replica, direct
//! gets, the gateway's default 2 minute duplicate window; every message carries a unique
//! `Nats-Msg-Id`, as every event does. All workers share one connection, as the gateway's
//! appends do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, stream};

use crate::closed_loop_summary;

/// The gateway's default `nats.dedupe_window`.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// What one bare publisher run is given.
#[derive(Clone, Debug)]
pub(crate) struct PublishRun {
    /// The server's URL (`nats://127.0.0.1:PORT`, JetStream enabled).
    pub(crate) url: String,
    /// The stream to create (or reuse) and publish to.
    pub(crate) stream: String,
    /// Publishes in flight.
    pub(crate) concurrency: usize,
    /// Measured publishes.
    pub(crate) messages: usize,
    /// Unmeasured publishes sent first.
    pub(crate) warmup: usize,
    /// Size of each payload.
    pub(crate) body_bytes: usize,
    /// Stop early (counting what finished) at this instant.
    pub(crate) deadline: Instant,
}

/// Creates the stream, publishes `warmup` and then `messages` payloads with `concurrency`
/// workers each awaiting its publish's ack before the next, and returns one JSON line: the
/// same fields as the webhook `ingest` run (rps, p50/p99 of publish → ack, errors).
pub(crate) async fn publish(run: PublishRun) -> Result<serde_json::Value, String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(&run.url)
        .await
        .map_err(|error| format!("cannot connect to {}: {error}", run.url))?;
    let context = jetstream::new(client);
    context
        .get_or_create_stream(stream_config(&run.stream))
        .await
        .map_err(|error| format!("cannot create stream {}: {error}", run.stream))?;

    let payload = bytes::Bytes::from(vec![b'x'; run.body_bytes]);
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let next = Arc::new(AtomicUsize::new(0));
    let fire = |limit: usize| {
        (0..run.concurrency.max(1))
            .map(|_| {
                let (context, next, payload) =
                    (context.clone(), Arc::clone(&next), payload.clone());
                let (subject, deadline) = (format!("{}.events", run.stream), run.deadline);
                tokio::spawn(async move {
                    let (mut latencies, mut errors) = (Vec::new(), 0_usize);
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= limit || Instant::now() >= deadline {
                            return (latencies, errors);
                        }
                        let begun = Instant::now();
                        let mut headers = async_nats::HeaderMap::new();
                        headers.insert(
                            async_nats::header::NATS_MESSAGE_ID,
                            format!("bare-{run_id}-{n}").as_str(),
                        );
                        let stored = match context
                            .publish_with_headers(subject.clone(), headers, payload.clone())
                            .await
                        {
                            Ok(ack) => ack.await.is_ok(),
                            Err(_) => false,
                        };
                        if !stored {
                            errors += 1;
                        }
                        latencies.push(begun.elapsed());
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    for worker in fire(run.warmup) {
        let _ = worker.await;
    }
    // Each warm-up worker took one number past the limit on its way out.
    next.store(run.warmup, Ordering::Relaxed);
    let started = Instant::now();
    let (mut latencies, mut errors) = (Vec::with_capacity(run.messages), 0);
    for worker in fire(run.warmup + run.messages) {
        let (mut own, own_errors) = worker.await.unwrap_or_default();
        latencies.append(&mut own);
        errors += own_errors;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let mut line = closed_loop_summary(&latencies, seconds, errors);
    line.insert("concurrency".to_owned(), run.concurrency.into());
    line.insert("body_bytes".to_owned(), run.body_bytes.into());
    Ok(serde_json::Value::Object(line))
}

/// The stream, configured as the gateway configures its events' stream.
fn stream_config(name: &str) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![format!("{name}.>")],
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: 1,
        storage: stream::StorageType::File,
        allow_direct: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_configured_like_the_gateways_events_stream() {
        let config = stream_config("BENCH");
        assert_eq!(config.subjects, ["BENCH.>"]);
        assert_eq!(config.storage, stream::StorageType::File);
        assert_eq!(config.duplicate_window, DUPLICATE_WINDOW);
        assert!(config.allow_direct);
    }
}
