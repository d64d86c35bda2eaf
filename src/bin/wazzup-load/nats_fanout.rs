//! The fan-out reference of issue 13, item 4: a core NATS server (`nats-server`, no JetStream)
//! fanning the same 1 KB messages, at the same rate, to the same number of subscribers as the
//! gateway's `Subscribe` streams get in the latency run. The subscriptions share one connection,
//! as the latency run's streams share one HTTP/2 connection; the messages are published on a
//! connection of their own. The script reads `nats-server`'s CPU time around the run, so the two
//! servers' CPU per delivery can be set side by side.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;

use crate::quantile_ms;

/// How long a subscriber waits for the next message before it stops counting.
const DRAIN_GRACE: Duration = Duration::from_secs(10);
/// The subject every message is published on.
const SUBJECT: &str = "wazzup-load.fanout";

/// What one fan-out run is given.
#[derive(Clone, Debug)]
pub(crate) struct FanoutRun {
    /// The server's URL (`nats://127.0.0.1:PORT`).
    pub(crate) url: String,
    /// Subscriptions on the subject.
    pub(crate) subscribers: usize,
    /// Messages published per second.
    pub(crate) rate: u32,
    /// Messages published in all.
    pub(crate) messages: usize,
    /// Size of each message (at least the 8 bytes of its publish time).
    pub(crate) body_bytes: usize,
}

/// Subscribes `subscribers` times, publishes `messages` at `rate` per second, and measures, for
/// every (subscriber, message) pair, the time from the publish to the arrival. Returns one JSON
/// line: deliveries, missing, p50/p99/max.
pub(crate) async fn fanout(run: FanoutRun) -> Result<serde_json::Value, String> {
    let origin = Arc::new(Instant::now());
    let subscribing = connect(&run.url).await?;
    let mut subscribers = Vec::with_capacity(run.subscribers);
    for _ in 0..run.subscribers {
        let mut subscription = subscribing
            .subscribe(SUBJECT)
            .await
            .map_err(|error| format!("cannot subscribe: {error}"))?;
        let (origin, expected) = (Arc::clone(&origin), run.messages);
        subscribers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expected);
            while latencies.len() < expected {
                let Ok(Some(message)) =
                    tokio::time::timeout(DRAIN_GRACE, subscription.next()).await
                else {
                    break;
                };
                if let Some(published) = published_at(&message.payload) {
                    latencies.push(origin.elapsed().saturating_sub(published));
                }
            }
            latencies
        }));
    }
    // The subscriptions are in place at the server once it has answered a PING sent after them.
    subscribing
        .flush()
        .await
        .map_err(|error| format!("cannot flush the subscriptions: {error}"))?;

    let publishing = connect(&run.url).await?;
    let mut body = vec![b'x'; run.body_bytes.max(8)];
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / run.rate.max(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    for _ in 0..run.messages {
        ticker.tick().await;
        let elapsed = u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        body[..8].copy_from_slice(&elapsed.to_le_bytes());
        publishing
            .publish(SUBJECT, body.clone().into())
            .await
            .map_err(|error| format!("cannot publish: {error}"))?;
    }
    publishing
        .flush()
        .await
        .map_err(|error| format!("cannot flush the publishes: {error}"))?;
    let publishing_seconds = started.elapsed().as_secs_f64();

    let mut latencies = Vec::with_capacity(run.messages * run.subscribers);
    for subscriber in subscribers {
        latencies.append(&mut subscriber.await.unwrap_or_default());
    }
    latencies.sort_unstable();
    let expected = run.messages * run.subscribers;
    Ok(serde_json::json!({
        "subscribers": run.subscribers,
        "rate": run.rate,
        "achieved_rate": run.messages as f64 / publishing_seconds,
        "messages": run.messages,
        "body_bytes": body.len(),
        "deliveries": latencies.len(),
        "missing": expected - latencies.len(),
        "p50_ms": quantile_ms(&latencies, 0.50),
        "p99_ms": quantile_ms(&latencies, 0.99),
        "max_ms": latencies.last().map_or(f64::NAN, |max| max.as_secs_f64() * 1e3),
    }))
}

/// Connects to the server, failing fast when it does not answer.
async fn connect(url: &str) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        // Enough room that a burst of 100 subscribers' copies is not dropped as a slow consumer.
        .subscription_capacity(1 << 16)
        .connect(url)
        .await
        .map_err(|error| format!("cannot connect to {url}: {error}"))
}

/// Reads the publish time (ns since the run's origin) from the first 8 bytes of a message.
fn published_at(payload: &[u8]) -> Option<Duration> {
    let stamp: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    Some(Duration::from_nanos(u64::from_le_bytes(stamp)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publish_time_is_read_from_the_first_eight_bytes() {
        let mut body = vec![b'x'; 1024];
        body[..8].copy_from_slice(&1_500_u64.to_le_bytes());
        assert_eq!(published_at(&body), Some(Duration::from_nanos(1_500)));
        assert_eq!(published_at(b"short"), None);
    }
}
