//! The fan-out over a real embedded log, on a paused clock (no sockets): `ack_wait`, heartbeats
//! and redelivery are checked without waiting for real time to pass.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::time::Instant;

use super::*;
use crate::events::log::EmbeddedEventLog;
use crate::events::log::conformance::{event, keep_everything};

const ACK_WAIT: Duration = Duration::from_secs(30);
const HEARTBEAT: Duration = Duration::from_secs(3600);

struct Setup {
    _dir: tempfile::TempDir,
    log: Arc<EmbeddedEventLog>,
    fanout: Fanout,
    _draining_tx: watch::Sender<bool>,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(
        EmbeddedEventLog::open(dir.path(), keep_everything())
            .await
            .unwrap(),
    );
    let (draining_tx, draining_rx) = watch::channel(false);
    let fanout = Fanout::start(log.clone(), log.clone(), 8, draining_rx)
        .await
        .unwrap();
    Setup {
        _dir: dir,
        log,
        fanout,
        _draining_tx: draining_tx,
    }
}

fn explicit(consumer: &str) -> Subscription {
    Subscription {
        account: "main".to_owned(),
        consumer: Some(consumer.to_owned()),
        filter: EventFilter::default(),
        scope: AccountScope::All,
        start: Start::Earliest,
        delivery: DeliverySettings {
            ack_mode: AckMode::Explicit,
            max_in_flight: 10,
            ack_wait: ACK_WAIT,
            heartbeat_interval: HEARTBEAT,
        },
    }
}

/// Returns the next item's cursor and delivery count, `None` for a heartbeat.
async fn next(stream: &mut SubscriptionStream) -> Option<(Cursor, u32)> {
    match stream.next().await.unwrap().unwrap() {
        StreamItem::Event(delivery) => Some((delivery.event.cursor, delivery.delivery_count)),
        StreamItem::Heartbeat { .. } => None,
    }
}

/// Returns the next event's cursor and delivery count. Heartbeats are skipped: the paused clock
/// jumps to the next timer whenever the runtime idles, also while the log's writer thread works.
async fn next_event(stream: &mut SubscriptionStream) -> (Cursor, u32) {
    loop {
        if let Some(event) = next(stream).await {
            return event;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_unacked_event_comes_back_once_ack_wait_has_passed() {
    let setup = setup().await;
    let mut stream = setup.fanout.subscribe(explicit("c")).await.unwrap();
    assert_eq!(next(&mut stream).await, None, "heartbeat first");
    setup.log.append(vec![event("e1", 1)]).await.unwrap();
    let delivered_at = Instant::now();

    assert_eq!(next_event(&mut stream).await, (1, 1));
    assert_eq!(next_event(&mut stream).await, (1, 2));

    assert!(
        delivered_at.elapsed() >= ACK_WAIT,
        "{:?}",
        delivered_at.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn an_acked_event_is_not_delivered_again() {
    let setup = setup().await;
    let mut stream = setup.fanout.subscribe(explicit("c")).await.unwrap();
    assert_eq!(next(&mut stream).await, None);
    setup.log.append(vec![event("e1", 1)]).await.unwrap();
    assert_eq!(next_event(&mut stream).await, (1, 1));
    let key = ConsumerKey {
        account: "main".to_owned(),
        name: "c".to_owned(),
    };

    assert_eq!(
        setup
            .fanout
            .ack(&key, &AccountScope::All, vec![1])
            .await
            .unwrap(),
        1
    );

    // Well past `ack_wait`, the next event is the new one: 1 was not queued for redelivery
    // (a redelivery would come first).
    tokio::time::sleep(ACK_WAIT * 3).await;
    setup.log.append(vec![event("e2", 2)]).await.unwrap();
    assert_eq!(next_event(&mut stream).await, (2, 1));
    assert_eq!(
        setup
            .fanout
            .consumer(&key, &AccountScope::All)
            .await
            .unwrap()
            .pending,
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_leaving_members_unacked_events_go_to_the_remaining_member() {
    let setup = setup().await;
    let mut first = setup.fanout.subscribe(explicit("g")).await.unwrap();
    let mut second = setup.fanout.subscribe(explicit("g")).await.unwrap();
    assert_eq!(
        (next(&mut first).await, next(&mut second).await),
        (None, None)
    );
    setup.log.append(vec![event("e1", 1)]).await.unwrap();
    let holder_is_first = tokio::select! {
        item = next_event(&mut first) => { assert_eq!(item, (1, 1)); true }
        item = next_event(&mut second) => { assert_eq!(item, (1, 1)); false }
    };
    let (leaving, mut staying) = if holder_is_first {
        (first, second)
    } else {
        (second, first)
    };

    drop(leaving);

    let before = Instant::now();
    assert_eq!(next_event(&mut staying).await, (1, 2));
    assert!(
        before.elapsed() < ACK_WAIT,
        "redelivered on leave, not on expiry"
    );
}

#[tokio::test(start_paused = true)]
async fn draining_ends_every_stream_with_shutting_down() {
    let setup = setup().await;
    let mut ephemeral = setup
        .fanout
        .subscribe(Subscription {
            consumer: None,
            ..explicit("")
        })
        .await
        .unwrap();
    let mut member = setup.fanout.subscribe(explicit("d")).await.unwrap();
    assert_eq!(
        (next(&mut ephemeral).await, next(&mut member).await),
        (None, None)
    );

    setup._draining_tx.send(true).unwrap();

    for stream in [&mut ephemeral, &mut member] {
        assert!(matches!(
            stream.next().await,
            Some(Err(FanoutError::ShuttingDown))
        ));
        assert!(stream.next().await.is_none(), "nothing after the end");
    }
    assert!(matches!(
        setup.fanout.subscribe(explicit("d")).await,
        Err(FanoutError::ShuttingDown)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_follows_the_last_event_after_one_interval_of_silence() {
    let setup = setup().await;
    let interval = Duration::from_secs(10);
    let mut request = explicit("beats");
    request.consumer = None;
    request.start = Start::Latest;
    request.delivery.heartbeat_interval = interval;
    let mut stream = setup.fanout.subscribe(request).await.unwrap();
    assert_eq!(
        next(&mut stream).await,
        None,
        "the first item is a heartbeat"
    );

    // Events keep the stream busy past the first heartbeat's due time (heartbeats may come in
    // between: the paused clock jumps while the log's writer thread works).
    tokio::time::sleep(interval / 2).await;
    setup.log.append(vec![event("e1", 1)]).await.unwrap();
    assert_eq!(next_event(&mut stream).await, (1, 1));
    tokio::time::sleep(interval * 3 / 4).await;
    setup.log.append(vec![event("e2", 2)]).await.unwrap();
    assert_eq!(next_event(&mut stream).await, (2, 1));
    let last_event_at = Instant::now();

    assert_eq!(next(&mut stream).await, None, "a heartbeat, not an event");
    assert_eq!(Instant::now() - last_event_at, interval);
}
