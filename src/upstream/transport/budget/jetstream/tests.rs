use parking_lot::Mutex;

use super::*;
use crate::nats::test_server::TestNatsServer;
use crate::storage::Writability;

/// A window no test run outlives; the clock only moves when a test moves it.
const WINDOW: Duration = Duration::from_secs(3600);

/// The start of some window, as the manual clock's first reading.
const EPOCH_OFFSET: Duration = Duration::from_secs(3600 * 500_000);

/// Limits of `budget` requests per [`WINDOW`].
fn limits(budget: u32) -> UpstreamLimits {
    UpstreamLimits {
        requests_per_window: budget,
        rate_window: WINDOW,
        ..UpstreamLimits::default()
    }
}

/// A replica's budgets: its own connection to `config`'s server, windows numbered by `clock`.
async fn replica(config: &NatsConfig, clock: &Arc<Mutex<Duration>>) -> JetStreamBudgets {
    let connection = NatsConnection::connect(config).await.unwrap();
    JetStreamBudgets::open_with_clock(&connection, config, WallClock::Manual(clock.clone()))
        .await
        .unwrap()
}

/// Takes `count` shares one after the other: how many were granted, and the waits of the rest.
async fn take_many(budget: &dyn RateBudget, count: usize) -> (usize, Vec<Duration>) {
    let mut granted = 0;
    let mut waits = Vec::new();
    for _ in 0..count {
        match budget.take().await {
            Ok(()) => granted += 1,
            Err(wait) => waits.push(wait),
        }
    }
    (granted, waits)
}

#[tokio::test]
async fn two_replicas_together_get_the_windows_budget_and_the_rest_waits_for_the_next() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = server.config_for(dir.path());
    let clock = Arc::new(Mutex::new(EPOCH_OFFSET + Duration::from_secs(600)));
    let metrics = UpstreamMetrics::default();
    let a = replica(&config, &clock)
        .await
        .budget("main", &limits(10), &metrics);
    let b = replica(&config, &clock)
        .await
        .budget("main", &limits(10), &metrics);

    let ((granted_a, waits_a), (granted_b, waits_b)) =
        tokio::join!(take_many(&*a, 8), take_many(&*b, 8));

    assert_eq!(granted_a + granted_b, 10, "a {granted_a}, b {granted_b}");
    let until_next = Duration::from_secs(3000);
    assert!(
        waits_a
            .iter()
            .chain(&waits_b)
            .all(|wait| *wait == until_next),
        "{waits_a:?} {waits_b:?}"
    );

    *clock.lock() = EPOCH_OFFSET + WINDOW;
    let ((granted_a, _), (granted_b, _)) = tokio::join!(take_many(&*a, 8), take_many(&*b, 8));

    assert_eq!(
        granted_a + granted_b,
        10,
        "the next window: a {granted_a}, b {granted_b}"
    );
    assert!(
        !metrics
            .render()
            .contains("upstream_rate_budget_fallbacks_total{"),
        "nothing fell back"
    );
}

#[tokio::test]
async fn accounts_have_budgets_of_their_own() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = server.config_for(dir.path());
    let clock = Arc::new(Mutex::new(EPOCH_OFFSET));
    let budgets = replica(&config, &clock).await;
    let metrics = UpstreamMetrics::default();
    let main = budgets.budget("main", &limits(2), &metrics);
    let other = budgets.budget("other", &limits(3), &metrics);

    assert_eq!(take_many(&*main, 5).await.0, 2);
    assert_eq!(take_many(&*other, 5).await.0, 3);
}

#[tokio::test]
async fn shares_are_leased_in_blocks_so_the_bucket_sees_few_writes() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = server.config_for(dir.path());
    let clock = Arc::new(Mutex::new(EPOCH_OFFSET));
    let budgets = replica(&config, &clock).await;
    let budget = budgets.budget("main", &limits(500), &UpstreamMetrics::default());

    let (granted, waits) = take_many(&*budget, 501).await;

    assert_eq!((granted, waits.len()), (500, 1));
    let entry = budgets.bucket.entry(kv_key("main")).await.unwrap().unwrap();
    let stored: Granted = serde_json::from_slice(&entry.value).unwrap();
    assert_eq!((stored.granted, stored.window), (500, 500_000));
    // The entry's revision counts every write to the bucket, this test's only entry: blocks of
    // 1, 2, 4, 8 and 16, then 19 of 25 (the last one 19 shares), none for the refused request.
    assert_eq!(entry.revision, 24);
}

#[tokio::test]
async fn a_quiet_replica_holds_back_only_what_it_used() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = server.config_for(dir.path());
    let clock = Arc::new(Mutex::new(EPOCH_OFFSET));
    let metrics = UpstreamMetrics::default();
    let quiet = replica(&config, &clock)
        .await
        .budget("main", &limits(100), &metrics);
    let busy = replica(&config, &clock)
        .await
        .budget("main", &limits(100), &metrics);

    assert_eq!(quiet.take().await, Ok(()));

    assert_eq!(take_many(&*busy, 100).await.0, 99);
}

#[tokio::test]
async fn a_replica_whose_clock_lags_waits_for_the_window_another_started() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = server.config_for(dir.path());
    let ahead = Arc::new(Mutex::new(EPOCH_OFFSET + WINDOW));
    let behind = Arc::new(Mutex::new(EPOCH_OFFSET + WINDOW - Duration::from_secs(1)));
    let metrics = UpstreamMetrics::default();
    let a = replica(&config, &ahead)
        .await
        .budget("main", &limits(1), &metrics);
    let b = replica(&config, &behind)
        .await
        .budget("main", &limits(1), &metrics);

    assert_eq!(a.take().await, Ok(()));

    assert_eq!(b.take().await, Err(Duration::from_secs(1)));
}

/// A replica alone on a `nats-server` of its own, which the test stops.
struct LoneReplica {
    /// The server; `None` once stopped.
    server: Option<TestNatsServer>,
    /// The server's store directory.
    _store: tempfile::TempDir,
    /// The replica's connection, whose health tells when NATS is lost.
    connection: NatsConnection,
    /// The replica's budgets, windows numbered by a clock standing at the start of a window.
    budgets: JetStreamBudgets,
}

impl LoneReplica {
    /// Starts a server and a replica on it; `None` where no `nats-server` can run.
    async fn start() -> Option<Self> {
        let server = TestNatsServer::start()?;
        let store = tempfile::tempdir().unwrap();
        let config = server.config_for(store.path());
        let connection = NatsConnection::connect(&config).await.unwrap();
        let clock = Arc::new(Mutex::new(EPOCH_OFFSET));
        let budgets =
            JetStreamBudgets::open_with_clock(&connection, &config, WallClock::Manual(clock))
                .await
                .unwrap();
        Some(Self {
            server: Some(server),
            _store: store,
            connection,
            budgets,
        })
    }

    /// Stops the server and waits until the replica knows NATS is lost.
    async fn lose_nats(&mut self) {
        let mut health = self.connection.health().subscribe();
        self.server = None;
        health
            .wait_for(|writability| *writability != Writability::Writable)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn without_nats_the_replica_paces_itself_and_counts_the_fallbacks() {
    let Some(mut replica) = LoneReplica::start().await else {
        return;
    };
    let metrics = UpstreamMetrics::default();
    let budget = replica.budgets.budget("main", &limits(2), &metrics);

    replica.lose_nats().await;
    let (granted, waits) = take_many(&*budget, 3).await;

    assert_eq!((granted, waits.len()), (2, 1), "the local limiter's budget");
    let text = metrics.render();
    assert!(
        text.lines()
            .any(|line| line == "upstream_rate_budget_fallbacks_total{account=\"main\"} 3"),
        "{text}"
    );
}

#[tokio::test]
async fn a_spent_window_is_remembered_without_asking_the_bucket_again() {
    let Some(mut replica) = LoneReplica::start().await else {
        return;
    };
    let metrics = UpstreamMetrics::default();
    let budget = replica.budgets.budget("main", &limits(1), &metrics);
    assert_eq!(take_many(&*budget, 2).await.0, 1);

    replica.lose_nats().await;

    assert_eq!(
        budget.take().await,
        Err(WINDOW),
        "still the window's answer"
    );
    assert!(
        !metrics
            .render()
            .contains("upstream_rate_budget_fallbacks_total{"),
        "no fallback"
    );
}
