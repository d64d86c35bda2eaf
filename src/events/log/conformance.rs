//! The backend-agnostic conformance suite of [`EventLog`] and [`ConsumerStore`]: every backend
//! instantiates it with [`event_log_conformance_suite!`], passing a function that opens the
//! backend at a location (a fresh temporary directory per test; the same one again for the
//! restart test) with a retention policy.
//!
//! ```ignore
//! async fn open(dir: PathBuf, retention: RetentionPolicy) -> Arc<EmbeddedEventLog> { .. }
//! event_log_conformance_suite!(open);
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{ConsumerStore, EventLog, EventLogError, LogBounds, RetentionPolicy};
use crate::events::consumers::{AckState, ConsumerKey, ConsumerRecord, EventFilter};
use crate::events::{EventType, NewEvent};

/// Instantiates every conformance test for the backend that `$open` opens. With
/// `requires: $available`, each test first calls `$available()` and returns at once when it is
/// false (a backend that needs an external server the machine lacks; the function says why).
macro_rules! event_log_conformance_suite {
    ($open:expr) => {
        event_log_conformance_suite!($open, requires: || true);
    };
    ($open:expr, requires: $available:expr) => {
        event_log_conformance_suite!(@tests $open; $available;
            appended_events_get_increasing_cursors_in_order,
            concurrent_batches_keep_their_events_together,
            duplicate_ids_return_the_existing_cursor_and_store_nothing,
            read_after_pages_through_the_log_oldest_first,
            get_finds_retained_events_by_id,
            size_retention_drops_the_oldest_events_and_moves_the_bounds,
            watch_latest_changes_after_an_append,
            cursor_at_finds_the_first_event_received_at_or_after_a_time,
            reopening_keeps_events_cursors_and_consumers,
            consumer_records_round_trip,
            a_closed_log_refuses_every_call,
        );
    };
    (@tests $open:expr; $available:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                if !($available)() {
                    return;
                }
                $crate::events::log::conformance::$name($open).await;
            }
        )*
    };
}

/// Retention that drops nothing during a test.
pub(crate) fn keep_everything() -> RetentionPolicy {
    RetentionPolicy {
        max_age: Duration::from_secs(365 * 24 * 3600),
        max_bytes: u64::MAX,
        check_interval: Duration::from_secs(3600),
    }
}

/// A minimal event with `id`, received at `received_at_ms`.
pub(crate) fn event(id: &str, received_at_ms: i64) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        account: "main".to_owned(),
        dialect: crate::model::Dialect::Sandbox.into(),
        event_type: EventType::MessageReceived,
        channel_id: Some("ch-1".to_owned()),
        received_at_ms,
        occurred_at_ms: Some(received_at_ms - 5),
        raw: serde_json::json!({ "messageId": id, "text": "hello" }),
        payload: None,
    }
}

/// Events `prefix-0` … `prefix-(n-1)`, received at 1000, 1001, ….
fn events(prefix: &str, count: usize) -> Vec<NewEvent> {
    (0..count)
        .map(|index| event(&format!("{prefix}-{index}"), 1000 + index as i64))
        .collect()
}

/// Ids of what `read_after(after, limit)` returns.
async fn ids_after(log: &impl EventLog, after: u64, limit: usize) -> Vec<String> {
    let read = log.read_after(after, limit).await.unwrap();
    read.into_iter().map(|stored| stored.event.id).collect()
}

/// A fresh directory that lives as long as the returned guard.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    (dir, path)
}

pub(crate) async fn appended_events_get_increasing_cursors_in_order<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;
    assert_eq!(log.bounds(), LogBounds::default());

    let first = log.append(events("a", 2)).await.unwrap();
    let second = log.append(events("b", 1)).await.unwrap();

    assert_eq!(first, [1, 2]);
    assert_eq!(second, [3]);
    assert_eq!(
        log.bounds(),
        LogBounds {
            oldest: 1,
            latest: 3
        }
    );
    assert_eq!(ids_after(&*log, 0, 10).await, ["a-0", "a-1", "b-0"]);
    let stored = log.read_after(0, 1).await.unwrap();
    assert_eq!(stored[0].event, event("a-0", 1000));
}

pub(crate) async fn concurrent_batches_keep_their_events_together<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;

    let appends = (0..20).map(|batch| {
        let log = log.clone();
        tokio::spawn(async move { log.append(events(&format!("batch{batch}"), 3)).await })
    });
    let results = futures::future::join_all(appends).await;

    let mut all = Vec::new();
    for result in results {
        let cursors = result.unwrap().unwrap();
        assert_eq!(cursors.len(), 3);
        assert!(
            cursors.windows(2).all(|pair| pair[1] == pair[0] + 1),
            "{cursors:?}"
        );
        all.extend(cursors);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=60).collect::<Vec<u64>>());
}

pub(crate) async fn duplicate_ids_return_the_existing_cursor_and_store_nothing<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;
    log.append(events("a", 2)).await.unwrap();

    let again = log
        .append(vec![
            event("a-1", 5000),
            event("new", 5001),
            event("new", 5002),
        ])
        .await
        .unwrap();

    assert_eq!(again, [2, 3, 3]);
    assert_eq!(log.bounds().latest, 3);
    assert_eq!(ids_after(&*log, 0, 10).await, ["a-0", "a-1", "new"]);
    let kept = log.get("a-1").await.unwrap().unwrap();
    assert_eq!(kept.event.received_at_ms, 1001, "the first copy is kept");
}

pub(crate) async fn read_after_pages_through_the_log_oldest_first<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;
    log.append(events("e", 7)).await.unwrap();

    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = log.read_after(after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.cursor;
        pages.push(page.iter().map(|stored| stored.cursor).collect::<Vec<_>>());
    }

    assert_eq!(pages, [vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    assert!(log.read_after(7, 3).await.unwrap().is_empty());
    assert!(log.read_after(100, 3).await.unwrap().is_empty());
}

pub(crate) async fn get_finds_retained_events_by_id<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;
    log.append(events("g", 3)).await.unwrap();

    let found = log.get("g-1").await.unwrap().unwrap();

    assert_eq!(found.cursor, 2);
    assert_eq!(found.event, event("g-1", 1001));
    assert!(log.get("missing").await.unwrap().is_none());
}

pub(crate) async fn size_retention_drops_the_oldest_events_and_moves_the_bounds<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    // Room for a handful of these small events only.
    let retention = RetentionPolicy {
        max_bytes: 1000,
        ..keep_everything()
    };
    let log = open(dir, retention).await;
    for index in 0..30 {
        log.append(vec![event(&format!("r-{index}"), 1000 + index)])
            .await
            .unwrap();
    }

    let bounds = log.bounds();
    assert_eq!(bounds.latest, 30);
    assert!(bounds.oldest > 1 && bounds.oldest <= 30, "{bounds:?}");
    assert!(log.stats().stored_bytes <= 1000 || bounds.oldest == 30);
    let first = log.read_after(0, 1).await.unwrap();
    assert_eq!(first[0].cursor, bounds.oldest);
    assert!(log.get("r-0").await.unwrap().is_none());
    assert!(bounds.is_gap_after(0));
    // A dropped id may be stored again, under a new cursor.
    assert_eq!(log.append(vec![event("r-0", 9000)]).await.unwrap(), [31]);
}

pub(crate) async fn watch_latest_changes_after_an_append<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;
    let mut latest = log.watch_latest();
    assert_eq!(*latest.borrow_and_update(), 0);

    let waiter = tokio::spawn(async move {
        latest.changed().await.unwrap();
        *latest.borrow_and_update()
    });
    log.append(events("w", 2)).await.unwrap();

    let seen = tokio::time::timeout(Duration::from_secs(5), waiter).await;
    assert_eq!(seen.unwrap().unwrap(), 2);
}

pub(crate) async fn cursor_at_finds_the_first_event_received_at_or_after_a_time<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;
    assert_eq!(log.cursor_at(0).await.unwrap(), 0);
    // Received at 1000, 1001, …, 1009 under cursors 1 … 10.
    log.append(events("t", 10)).await.unwrap();

    let table = [
        (0, 0),
        (1000, 0),
        (1001, 1),
        (1005, 5),
        (1009, 9),
        (1010, 10),
        (99_999, 10),
    ];
    for (since_ms, expected) in table {
        assert_eq!(
            log.cursor_at(since_ms).await.unwrap(),
            expected,
            "since {since_ms}"
        );
    }
}

pub(crate) async fn reopening_keeps_events_cursors_and_consumers<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir.clone(), keep_everything()).await;
    log.append(events("k", 3)).await.unwrap();
    log.create_consumer(record("main", "crm")).await.unwrap();
    log.close().await.unwrap();
    drop(log);

    let reopened = open(dir, keep_everything()).await;

    assert_eq!(
        reopened.bounds(),
        LogBounds {
            oldest: 1,
            latest: 3
        }
    );
    assert_eq!(ids_after(&*reopened, 0, 10).await, ["k-0", "k-1", "k-2"]);
    assert_eq!(reopened.append(vec![event("k-1", 1)]).await.unwrap(), [2]);
    assert_eq!(reopened.append(vec![event("k-3", 1)]).await.unwrap(), [4]);
    let consumer = reopened.load_consumer(&key("main", "crm")).await.unwrap();
    assert_eq!(consumer, Some(record("main", "crm")));
}

pub(crate) async fn consumer_records_round_trip<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;
    let created = log.create_consumer(record("main", "crm")).await.unwrap();
    let mut other = record("main", "crm");
    other.acks = AckState::starting_after(99);
    assert_eq!(
        log.create_consumer(other).await.unwrap(),
        created,
        "the first one stays"
    );
    log.create_consumer(record("acme", "zeta")).await.unwrap();
    log.create_consumer(record("main", "alpha")).await.unwrap();

    let acks = AckState {
        acked: 4,
        delivered: 9,
        unacked: BTreeMap::from([(5, 1), (8, 2)]),
    };
    assert!(
        log.save_acks(&key("main", "crm"), acks.clone())
            .await
            .unwrap()
    );

    let loaded = log
        .load_consumer(&key("main", "crm"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.acks, acks);
    let listed: Vec<_> = log.list_consumers().await.unwrap();
    let names: Vec<_> = listed
        .iter()
        .map(|r| (r.key.account.as_str(), r.key.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [("acme", "zeta"), ("main", "alpha"), ("main", "crm")]
    );
    let deleted = log.delete_consumer(&key("main", "crm")).await.unwrap();
    assert_eq!(deleted.map(|r| r.acks), Some(acks));
    assert!(
        !log.save_acks(&key("main", "crm"), AckState::default())
            .await
            .unwrap()
    );
    assert!(
        log.load_consumer(&key("main", "crm"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        log.delete_consumer(&key("main", "crm"))
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn a_closed_log_refuses_every_call<L, Fut>(
    open: impl Fn(PathBuf, RetentionPolicy) -> Fut,
) where
    L: EventLog + ConsumerStore,
    Fut: Future<Output = Arc<L>>,
{
    let (_guard, dir) = scratch();
    let log = open(dir, keep_everything()).await;
    log.append(events("c", 1)).await.unwrap();

    log.close().await.unwrap();

    let append = log.append(events("d", 1)).await;
    assert!(matches!(append, Err(EventLogError::Closed)), "{append:?}");
    assert!(matches!(
        log.read_after(0, 1).await,
        Err(EventLogError::Closed)
    ));
    assert!(matches!(
        log.list_consumers().await,
        Err(EventLogError::Closed)
    ));
}

fn key(account: &str, name: &str) -> ConsumerKey {
    ConsumerKey {
        account: account.to_owned(),
        name: name.to_owned(),
    }
}

/// A consumer `name` of `account` with no progress.
pub(crate) fn record(account: &str, name: &str) -> ConsumerRecord {
    ConsumerRecord {
        key: key(account, name),
        filter: EventFilter::new(
            vec![account.to_owned()],
            vec![EventType::MessageStatus],
            vec![],
        ),
        acks: AckState::starting_after(0),
    }
}
