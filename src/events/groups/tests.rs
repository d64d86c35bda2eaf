//! The consumer-group behaviour every backend provides, one test body each, instantiated for the
//! in-process fan-out over the embedded log and for JetStream durable consumers on a real
//! `nats-server` (skipped when none can start, unless CI is set: see `TestNatsServer`). Then what
//! only a backend shared by replicas can do: two groups on one stream act as one.
//!
//! The clock is real (JetStream's `ack_wait` runs in the server): tests wait for the event they
//! expect, never for an amount of time; a redelivery is awaited with a one-second `ack_wait`.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::watch;

use super::ConsumerGroups;
use crate::events::consumers::{AccountScope, ConsumerKey, EventFilter};
use crate::events::fanout::{
    AckMode, ConsumerGauge, DeliverySettings, Fanout, FanoutError, Start, StreamItem, Subscription,
    SubscriptionStream,
};
use crate::events::log::conformance::{event, keep_everything};
use crate::events::log::{EmbeddedEventLog, EventLog, JetStreamEventLog, JetStreamGroups};
use crate::events::{Cursor, EventType};
use crate::nats::NatsConnection;
use crate::nats::test_server::TestNatsServer;

/// Long enough never to expire during a test that acks.
const PATIENT: Duration = Duration::from_secs(300);
/// Short enough to see a redelivery soon.
const IMPATIENT: Duration = Duration::from_secs(1);

/// A log and the groups over it, with what keeps them alive.
struct Replica {
    log: Arc<dyn EventLog>,
    groups: Arc<dyn ConsumerGroups>,
    _draining_tx: watch::Sender<bool>,
    _keep: Box<dyn Any + Send>,
}

impl Replica {
    /// Appends events `prefix-0..count` of type `event_type`; returns their cursors.
    async fn append(&self, prefix: &str, count: usize, event_type: EventType) -> Vec<Cursor> {
        let events = (0..count)
            .map(|index| {
                let mut event = event(&format!("{prefix}-{index}"), 1000 + index as i64);
                event.event_type = event_type;
                event
            })
            .collect();
        self.log.append(events).await.unwrap()
    }
}

async fn embedded() -> Option<Replica> {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(
        EmbeddedEventLog::open(dir.path(), keep_everything())
            .await
            .unwrap(),
    );
    let (draining_tx, draining_rx) = watch::channel(false);
    let fanout = Fanout::start(log.clone(), log.clone(), 16, draining_rx)
        .await
        .unwrap();
    Some(Replica {
        log,
        groups: Arc::new(fanout),
        _draining_tx: draining_tx,
        _keep: Box::new(dir),
    })
}

/// A replica of a JetStream log in `dir` (the same `dir` reaches the same stream).
async fn jetstream_in(dir: Arc<tempfile::TempDir>) -> Option<Replica> {
    let server = TestNatsServer::shared()?;
    let nats = server.config_for(dir.path());
    let connection = NatsConnection::connect(&nats).await.unwrap();
    let log = JetStreamEventLog::open(&connection, &nats, keep_everything())
        .await
        .unwrap();
    let (draining_tx, draining_rx) = watch::channel(false);
    let groups = JetStreamGroups::start(log.clone(), 16, draining_rx)
        .await
        .unwrap();
    Some(Replica {
        log,
        groups,
        _draining_tx: draining_tx,
        _keep: Box::new((dir, connection)),
    })
}

async fn jetstream() -> Option<Replica> {
    jetstream_in(Arc::new(tempfile::tempdir().unwrap())).await
}

fn member(consumer: &str, ack_wait: Duration) -> Subscription {
    Subscription {
        account: "main".to_owned(),
        consumer: Some(consumer.to_owned()),
        filter: EventFilter::default(),
        scope: AccountScope::All,
        start: Start::Earliest,
        delivery: DeliverySettings {
            ack_mode: AckMode::Explicit,
            max_in_flight: 64,
            ack_wait,
            heartbeat_interval: Duration::from_secs(3600),
        },
    }
}

fn key(name: &str) -> ConsumerKey {
    ConsumerKey {
        account: "main".to_owned(),
        name: name.to_owned(),
    }
}

/// Returns the next event's cursor and delivery count, skipping heartbeats.
async fn next_event(stream: &mut SubscriptionStream) -> (Cursor, u32) {
    loop {
        match stream.next().await.expect("the stream ended").unwrap() {
            StreamItem::Event(delivery) => {
                return (delivery.event.cursor, delivery.delivery_count);
            }
            StreamItem::Heartbeat { .. } => {}
        }
    }
}

/// Returns the error that ends `stream`, skipping what comes before it.
async fn end_of(stream: &mut SubscriptionStream) -> FanoutError {
    loop {
        match stream
            .next()
            .await
            .expect("the stream ended without an error")
        {
            Ok(_) => {}
            Err(error) => return error,
        }
    }
}

async fn each_event_goes_to_one_member_and_acked_events_stay_acked(replica: Replica) {
    let groups = &replica.groups;
    let first = groups.subscribe(member("c", PATIENT)).await.unwrap();
    let second = groups.subscribe(member("c", PATIENT)).await.unwrap();
    let cursors = replica.append("e", 20, EventType::MessageReceived).await;

    let mut both = futures::stream::select(first, second);
    let mut received = Vec::new();
    while received.len() < cursors.len() {
        if let StreamItem::Event(delivery) = both.next().await.unwrap().unwrap() {
            assert_eq!(delivery.delivery_count, 1);
            received.push(delivery.event.cursor);
        }
    }
    let distinct: BTreeSet<Cursor> = received.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        received.len(),
        "delivered twice: {received:?}"
    );
    assert_eq!(distinct, cursors.iter().copied().collect());

    let acked = groups
        .ack(&key("c"), &AccountScope::All, cursors.clone())
        .await
        .unwrap();
    assert_eq!(acked, *cursors.last().unwrap());
    let info = groups
        .consumer(&key("c"), &AccountScope::All)
        .await
        .unwrap();
    assert_eq!((info.acked, info.pending, info.lag), (acked, 0, 0));

    let next = replica.append("f", 1, EventType::MessageReceived).await;
    match both.next().await.unwrap().unwrap() {
        StreamItem::Event(delivery) => assert_eq!(
            (delivery.event.cursor, delivery.delivery_count),
            (next[0], 1)
        ),
        StreamItem::Heartbeat { .. } => panic!("a heartbeat before the next event"),
    }
}

async fn acks_of_cursors_not_outstanding_are_ignored(replica: Replica) {
    let groups = &replica.groups;
    let mut stream = groups.subscribe(member("c", PATIENT)).await.unwrap();
    let cursors = replica.append("e", 2, EventType::MessageReceived).await;
    assert_eq!(next_event(&mut stream).await, (cursors[0], 1));

    // The first event twice, and a cursor past the end of the log.
    let acked = groups
        .ack(
            &key("c"),
            &AccountScope::All,
            vec![cursors[0], cursors[0], cursors[1] + 1000],
        )
        .await
        .unwrap();

    assert_eq!(acked, cursors[0]);
    assert_eq!(next_event(&mut stream).await, (cursors[1], 1));
    let again = groups
        .ack(&key("c"), &AccountScope::All, vec![cursors[0], cursors[1]])
        .await
        .unwrap();
    assert_eq!(again, cursors[1]);
}

async fn an_unacked_event_comes_back_with_its_delivery_count(replica: Replica) {
    let mut stream = replica
        .groups
        .subscribe(member("c", IMPATIENT))
        .await
        .unwrap();
    let cursors = replica.append("e", 1, EventType::MessageReceived).await;

    assert_eq!(next_event(&mut stream).await, (cursors[0], 1));
    assert_eq!(next_event(&mut stream).await, (cursors[0], 2));
}

async fn a_member_joining_later_resumes_after_the_acked_events(replica: Replica) {
    let groups = &replica.groups;
    let cursors = replica.append("e", 4, EventType::MessageReceived).await;
    let mut leaving = groups.subscribe(member("c", IMPATIENT)).await.unwrap();
    assert_eq!(next_event(&mut leaving).await.0, cursors[0]);
    assert_eq!(next_event(&mut leaving).await.0, cursors[1]);
    groups
        .ack(&key("c"), &AccountScope::All, cursors[..2].to_vec())
        .await
        .unwrap();
    drop(leaving);

    let mut joining = groups.subscribe(member("c", IMPATIENT)).await.unwrap();
    let mut seen = BTreeSet::new();
    while seen.len() < 2 {
        let (cursor, _) = next_event(&mut joining).await;
        assert!(cursor > cursors[1], "acked event {cursor} delivered again");
        seen.insert(cursor);
    }
    assert_eq!(seen, cursors[2..].iter().copied().collect());
}

async fn a_consumer_gets_only_the_events_its_filters_pass(replica: Replica) {
    let groups = &replica.groups;
    let mut request = member("statuses", PATIENT);
    request.filter = EventFilter::new(
        Vec::new(),
        vec![EventType::MessageStatus, EventType::ChannelUpdated],
        Vec::new(),
    );
    let mut stream = groups.subscribe(request).await.unwrap();
    replica.append("m", 3, EventType::MessageReceived).await;
    let statuses = replica.append("s", 2, EventType::MessageStatus).await;
    replica.append("n", 3, EventType::MessageReceived).await;
    let channels = replica.append("ch", 1, EventType::ChannelUpdated).await;

    let wanted: Vec<Cursor> = statuses.iter().chain(&channels).copied().collect();
    for cursor in &wanted {
        assert_eq!(next_event(&mut stream).await, (*cursor, 1));
    }
    groups
        .ack(&key("statuses"), &AccountScope::All, wanted)
        .await
        .unwrap();
    let info = groups
        .consumer(&key("statuses"), &AccountScope::All)
        .await
        .unwrap();
    assert_eq!((info.pending, info.lag), (0, 0));
}

async fn a_new_consumer_starts_where_it_is_told(replica: Replica) {
    let groups = &replica.groups;
    let before = replica.append("old", 3, EventType::MessageReceived).await;
    let mut after_cursor = member("after", PATIENT);
    after_cursor.start = Start::AfterCursor(before[1]);
    let mut latest = member("latest", PATIENT);
    latest.start = Start::Latest;
    let mut from_cursor = groups.subscribe(after_cursor).await.unwrap();
    let mut from_latest = groups.subscribe(latest).await.unwrap();
    let new = replica.append("new", 1, EventType::MessageReceived).await;

    assert_eq!(next_event(&mut from_cursor).await.0, before[2]);
    assert_eq!(next_event(&mut from_latest).await.0, new[0]);
}

async fn deleting_a_consumer_ends_its_members_and_forgets_it(replica: Replica) {
    let groups = &replica.groups;
    let mut stream = groups.subscribe(member("c", PATIENT)).await.unwrap();
    let cursors = replica.append("e", 1, EventType::MessageReceived).await;
    assert_eq!(next_event(&mut stream).await.0, cursors[0]);

    let deleted = groups.delete(&key("c"), &AccountScope::All).await.unwrap();

    assert_eq!((deleted.key.name.as_str(), deleted.pending), ("c", 1));
    assert!(matches!(
        end_of(&mut stream).await,
        FanoutError::ConsumerDeleted(_)
    ));
    assert!(matches!(
        groups.consumer(&key("c"), &AccountScope::All).await,
        Err(FanoutError::ConsumerNotFound(_))
    ));
    let listed = groups.consumers("main", &AccountScope::All).await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}

async fn members_must_ask_for_the_consumers_filters_and_scope(replica: Replica) {
    let groups = &replica.groups;
    let _first = groups.subscribe(member("c", PATIENT)).await.unwrap();
    let mut other_types = member("c", PATIENT);
    other_types.filter = EventFilter::new(Vec::new(), vec![EventType::MessageStatus], Vec::new());
    let mut out_of_scope = member("c", PATIENT);
    out_of_scope.scope = AccountScope::Only(vec!["other".to_owned()]);

    assert!(matches!(
        groups.subscribe(other_types).await.err(),
        Some(FanoutError::FiltersMismatch(_))
    ));
    assert!(matches!(
        groups.subscribe(out_of_scope).await.err(),
        Some(FanoutError::OutOfScope(_))
    ));
    assert!(matches!(
        groups
            .ack(&key("missing"), &AccountScope::All, vec![1])
            .await,
        Err(FanoutError::ConsumerNotFound(_))
    ));
}

/// A consumer deleted and created again under its name serves its new members.
async fn a_consumer_created_again_after_its_deletion_serves_new_members(replica: Replica) {
    let groups = &replica.groups;
    let mut old = groups.subscribe(member("c", PATIENT)).await.unwrap();
    groups.delete(&key("c"), &AccountScope::All).await.unwrap();

    let mut new = groups.subscribe(member("c", PATIENT)).await.unwrap();
    let cursors = replica.append("e", 1, EventType::MessageReceived).await;

    assert!(matches!(
        end_of(&mut old).await,
        FanoutError::ConsumerDeleted(_)
    ));
    assert_eq!(next_event(&mut new).await, (cursors[0], 1));
}

/// Instantiates each body for one backend (`None` from the setup skips the test).
macro_rules! consumer_group_suite {
    ($setup:ident) => {
        mod $setup {
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test]
                    async fn $name() {
                        if let Some(replica) = super::$setup().await {
                            super::$name(replica).await;
                        }
                    }
                };
            }
            case!(each_event_goes_to_one_member_and_acked_events_stay_acked);
            case!(acks_of_cursors_not_outstanding_are_ignored);
            case!(an_unacked_event_comes_back_with_its_delivery_count);
            case!(a_member_joining_later_resumes_after_the_acked_events);
            case!(a_consumer_gets_only_the_events_its_filters_pass);
            case!(a_new_consumer_starts_where_it_is_told);
            case!(deleting_a_consumer_ends_its_members_and_forgets_it);
            case!(members_must_ask_for_the_consumers_filters_and_scope);
            case!(a_consumer_created_again_after_its_deletion_serves_new_members);
        }
    };
}

consumer_group_suite!(embedded);
consumer_group_suite!(jetstream);

/// Two replicas on one JetStream stream.
async fn two_replicas() -> Option<(Replica, Replica)> {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let a = jetstream_in(dir.clone()).await?;
    let b = jetstream_in(dir).await?;
    Some((a, b))
}

#[tokio::test]
async fn a_group_with_a_member_on_each_replica_gets_every_event_once() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    let on_a = a.groups.subscribe(member("c", PATIENT)).await.unwrap();
    let on_b = b.groups.subscribe(member("c", PATIENT)).await.unwrap();
    let cursors = a.append("e", 40, EventType::MessageReceived).await;

    let mut both = futures::stream::select(on_a, on_b);
    let mut received = BTreeSet::new();
    while received.len() < cursors.len() {
        if let StreamItem::Event(delivery) = both.next().await.unwrap().unwrap() {
            assert!(
                received.insert(delivery.event.cursor),
                "{} delivered twice",
                delivery.event.cursor
            );
        }
    }
    // Acked on B, whichever replica delivered them.
    let acked = b
        .groups
        .ack(&key("c"), &AccountScope::All, cursors.clone())
        .await
        .unwrap();
    assert_eq!(acked, *cursors.last().unwrap());
    let seen_from_a = a
        .groups
        .consumer(&key("c"), &AccountScope::All)
        .await
        .unwrap();
    assert_eq!((seen_from_a.acked, seen_from_a.pending), (acked, 0));
}

#[tokio::test]
async fn events_held_by_a_replica_that_is_gone_go_to_the_other_replica() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    let mut on_a = a.groups.subscribe(member("c", IMPATIENT)).await.unwrap();
    let cursors = a.append("e", 2, EventType::MessageReceived).await;
    assert_eq!(next_event(&mut on_a).await.0, cursors[0]);
    assert_eq!(next_event(&mut on_a).await.0, cursors[1]);
    drop(on_a);
    drop(a);

    let mut on_b = b.groups.subscribe(member("c", IMPATIENT)).await.unwrap();
    let mut redelivered = BTreeSet::new();
    while redelivered.len() < 2 {
        let (cursor, count) = next_event(&mut on_b).await;
        assert!(count >= 2, "{cursor} delivered {count} time(s)");
        redelivered.insert(cursor);
    }
    assert_eq!(redelivered, cursors.iter().copied().collect());
}

#[tokio::test]
async fn the_metrics_see_what_jetstream_says_of_a_consumer_and_its_members_here() {
    let Some(replica) = jetstream().await else {
        return;
    };
    let mut stream = replica
        .groups
        .subscribe(member("c", PATIENT))
        .await
        .unwrap();
    let cursors = replica.append("e", 2, EventType::MessageReceived).await;
    assert_eq!(next_event(&mut stream).await.0, cursors[0]);
    assert_eq!(next_event(&mut stream).await.0, cursors[1]);

    replica
        .groups
        .consumer(&key("c"), &AccountScope::All)
        .await
        .unwrap();

    assert_eq!(
        replica.groups.consumer_gauges(),
        vec![ConsumerGauge {
            key: key("c"),
            lag: 2,
            pending: 2,
            streams: 1,
        }]
    );
    drop(stream);
    assert_eq!(replica.groups.consumer_gauges()[0].streams, 0);
}
