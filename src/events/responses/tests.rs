use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::nats::test_server::TestNatsServer;
use crate::storage::Writability;

/// Patience no test waits out unless it means to (the answers come at once).
const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_answer_reaches_the_held_request() {
    let pending = PendingResponses::new();
    let held = pending.hold("main", "evt-1").await.unwrap();

    let delivered = pending
        .respond("main", "evt-1", json!({"id": "c-1"}))
        .await
        .unwrap();

    assert!(delivered);
    assert_eq!(held.answer(LONG).await, Some(json!({"id": "c-1"})));
}

#[tokio::test(start_paused = true)]
async fn nobody_answering_ends_the_wait_empty_and_late_answers_are_refused() {
    let pending = PendingResponses::new();
    let held = pending.hold("main", "evt-2").await.unwrap();

    assert_eq!(held.answer(Duration::from_secs(10)).await, None);

    assert!(!pending.respond("main", "evt-2", json!({})).await.unwrap());
}

#[tokio::test]
async fn a_second_answer_and_another_accounts_answer_are_refused() {
    let pending = PendingResponses::new();
    let held = pending.hold("main", "evt-3").await.unwrap();

    assert!(!pending.respond("other", "evt-3", json!({})).await.unwrap());
    assert!(pending.respond("main", "evt-3", json!(1)).await.unwrap());
    assert!(!pending.respond("main", "evt-3", json!(2)).await.unwrap());
    assert_eq!(held.answer(LONG).await, Some(json!(1)));
}

#[tokio::test(start_paused = true)]
async fn an_answer_given_as_the_wait_ends_is_delivered_when_it_says_so() {
    let pending = Arc::new(PendingResponses::new());
    let held = pending.hold("main", "evt-4").await.unwrap();
    let answered = pending
        .respond("main", "evt-4", json!("late"))
        .await
        .unwrap();

    // The deadline passes before the hold looks: the answer already taken is still returned.
    let got = held.answer(Duration::ZERO).await;

    assert!(answered);
    assert_eq!(got, Some(json!("late")));
}

#[tokio::test]
async fn a_dropped_hold_refuses_answers() {
    let pending = PendingResponses::new();
    drop(pending.hold("main", "evt-5").await.unwrap());

    assert!(!pending.respond("main", "evt-5", json!({})).await.unwrap());
}

/// A replica's registry and its connection.
struct Replica {
    /// The registry.
    pending: PendingResponses,
    /// Its connection.
    connection: NatsConnection,
}

impl Replica {
    /// Holds the request of `event_id` of `account`, returning once the server has the holder's
    /// subscription, as the gateway's publish of the event on the same connection would ensure:
    /// the server answers a request after the operations sent before it on the connection.
    async fn hold(&self, account: &str, event_id: &str) -> HeldRequest {
        let held = self.pending.hold(account, event_id).await.unwrap();
        let barrier = self.connection.client().request("test.barrier", "".into());
        assert!(barrier.await.is_err(), "nobody answers the barrier");
        held
    }
}

/// Two replicas' registries, each on its own connection to one server.
async fn two_replicas(server: &TestNatsServer) -> (Replica, PendingResponses) {
    let dir = tempfile::tempdir().unwrap();
    let config = server.config_for(dir.path());
    let a = NatsConnection::connect(&config).await.unwrap();
    let b = NatsConnection::connect(&config).await.unwrap();
    let holder = Replica {
        pending: PendingResponses::over_nats(&a, &config.stream),
        connection: a,
    };
    (holder, PendingResponses::over_nats(&b, &config.stream))
}

#[tokio::test]
async fn an_answer_given_on_another_replica_reaches_the_holder_once() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let (a, b) = two_replicas(server).await;
    // An event id that is no subject token as it is.
    let event_id = "evt.1 *>";
    let held = a.hold("main", event_id).await;

    let (delivered, answer) = tokio::join!(
        b.respond("main", event_id, json!({"id": "c-9"})),
        held.answer(LONG)
    );

    assert!(delivered.unwrap(), "the holder took the answer");
    assert_eq!(answer, Some(json!({"id": "c-9"})));
    assert!(
        !b.respond("main", event_id, json!({"id": "again"}))
            .await
            .unwrap(),
        "a repeated answer is refused"
    );
}

#[tokio::test]
async fn an_answer_nobody_holds_gets_false_on_any_replica() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let (a, b) = two_replicas(server).await;
    let held = a.hold("main", "evt-held").await;

    assert!(!b.respond("main", "evt-unknown", json!({})).await.unwrap());
    assert!(
        !b.respond("other", "evt-held", json!({})).await.unwrap(),
        "another account's request of the same id"
    );
    drop(held);
}

#[tokio::test]
async fn an_answer_after_the_holders_wait_ended_gets_false() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let (a, b) = two_replicas(server).await;
    let held = a.hold("main", "evt-ended").await;

    assert_eq!(held.answer(Duration::from_millis(1)).await, None);

    assert!(!b.respond("main", "evt-ended", json!({})).await.unwrap());
}

#[tokio::test]
async fn an_answer_on_the_holding_replica_is_taken_there() {
    let Some(server) = TestNatsServer::shared() else {
        return;
    };
    let (a, _b) = two_replicas(server).await;
    let held = a.hold("main", "evt-local").await;

    assert!(
        a.pending
            .respond("main", "evt-local", json!("here"))
            .await
            .unwrap()
    );
    assert_eq!(held.answer(LONG).await, Some(json!("here")));
}

#[tokio::test]
async fn without_nats_holding_and_relaying_are_unavailable() {
    let Some(server) = TestNatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = server.config_for(dir.path());
    let connection = NatsConnection::connect(&config).await.unwrap();
    let pending = PendingResponses::over_nats(&connection, &config.stream);
    let mut health = connection.health().subscribe();

    drop(server);
    health
        .wait_for(|writability| *writability != Writability::Writable)
        .await
        .unwrap();

    let held = pending.hold("main", "evt-down").await;
    let relayed = pending.respond("main", "evt-down", json!({})).await;

    assert!(matches!(held, Err(EventLogError::Storage(_))), "{held:?}");
    assert!(
        matches!(relayed, Err(EventLogError::Storage(_))),
        "{relayed:?}"
    );
}
