//! `EventService` through a real gRPC server in this process: start positions, filters,
//! retention, consumer groups, acks and redelivery, restarts, heartbeats, deletion, shutdown,
//! back-pressure. Events are appended to the gateway's log directly, as the webhook ingress does.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::TestGateway;
use support::events::{PATIENCE, config, event, event_of, now_ms};
use tonic::{Code, Status, Streaming};
use tonic_types::StatusExt as _;
use wazzup_gateway::EventType;
use wazzup_gateway::proto::pb;
use wazzup_gateway::proto::pb::subscribe_request::Start;
use wazzup_gateway::proto::pb::subscribe_response::Kind;

type Events = Streaming<pb::SubscribeResponse>;

/// Returns the next message, failing the test when none comes in time.
async fn next(stream: &mut Events) -> Result<Kind, Status> {
    let message = tokio::time::timeout(PATIENCE, stream.message()).await;
    let message = message.expect("a message in time")?;
    Ok(message
        .expect("the stream is still open")
        .kind
        .expect("a kind"))
}

/// Returns the next event, skipping heartbeats.
async fn next_event(stream: &mut Events) -> pb::Event {
    loop {
        match next(stream).await.expect("no error") {
            Kind::Event(event) => return event,
            Kind::Heartbeat(_) => {}
        }
    }
}

/// Returns the error that ends the stream, skipping heartbeats.
async fn end_of(stream: &mut Events) -> Status {
    loop {
        match next(stream).await {
            Ok(Kind::Heartbeat(_)) => {}
            Ok(Kind::Event(event)) => panic!("unexpected event {}", event.cursor),
            Err(status) => return status,
        }
    }
}

/// Subscribes and checks that the first message is a heartbeat.
async fn subscribe(gateway: &TestGateway, request: pb::SubscribeRequest) -> Events {
    let mut stream = gateway
        .events()
        .await
        .subscribe(request)
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(next(&mut stream).await, Ok(Kind::Heartbeat(_))),
        "heartbeat first"
    );
    stream
}

fn from(start: Start) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        start: Some(start),
        ..Default::default()
    }
}

fn named(consumer: &str, ack_mode: pb::AckMode) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        consumer: consumer.to_owned(),
        ack_mode: ack_mode as i32,
        start: Some(Start::Earliest(true)),
        ..Default::default()
    }
}

fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .expect("error info")
        .reason
        .clone()
}

async fn ack(gateway: &TestGateway, consumer: &str, cursors: Vec<u64>) -> u64 {
    let request = pb::AckRequest {
        consumer: consumer.to_owned(),
        cursors,
        ..Default::default()
    };
    gateway
        .events()
        .await
        .ack(request)
        .await
        .unwrap()
        .into_inner()
        .acked_cursor
}

async fn get_consumer(gateway: &TestGateway, name: &str) -> Result<pb::Consumer, Status> {
    let request = pb::GetConsumerRequest {
        name: name.to_owned(),
        ..Default::default()
    };
    let response = gateway.events().await.get_consumer(request).await?;
    Ok(response.into_inner().consumer.unwrap())
}

/// Waits until consumer `name` has `members` open subscriptions, failing the test after
/// [`PATIENCE`]. The gateway notices a closed stream asynchronously and no stream event says so,
/// so this polls `GetConsumer`.
async fn wait_for_members(gateway: &TestGateway, name: &str, members: u32) {
    let polled = tokio::time::timeout(PATIENCE, async {
        while get_consumer(gateway, name).await.unwrap().members != members {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    polled.await.expect("the consumer's members in time");
}

#[tokio::test]
async fn latest_starts_with_the_first_event_stored_after_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    gateway.append(vec![event("before")]).await;

    let mut stream = subscribe(&gateway, pb::SubscribeRequest::default()).await;
    gateway
        .append(vec![event("after-1"), event("after-2")])
        .await;

    let first = next_event(&mut stream).await;
    assert_eq!(
        (first.cursor, first.id.as_str(), first.delivery_count),
        (2, "after-1", 1)
    );
    assert_eq!(first.account, "main");
    assert_eq!(first.r#type, pb::EventType::MessageReceived as i32);
    assert_eq!(next_event(&mut stream).await.id, "after-2");
    gateway.stop().await;
}

#[tokio::test]
async fn earliest_after_cursor_and_since_start_where_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let mut old = event("old");
    old.received_at_ms = now_ms() - 60_000;
    let boundary_ms = now_ms() - 30_000;
    gateway.append(vec![old, event("e2"), event("e3")]).await;
    let since = prost_types::Timestamp {
        seconds: boundary_ms / 1000,
        nanos: 0,
    };

    let table = [
        (Start::Earliest(true), "old"),
        (Start::AfterCursor(1), "e2"),
        (Start::AfterCursor(2), "e3"),
        (Start::Since(since), "e2"),
    ];
    for (start, first_id) in table {
        let mut stream = subscribe(&gateway, from(start)).await;
        assert_eq!(next_event(&mut stream).await.id, first_id, "{start:?}");
    }
    gateway.stop().await;
}

#[tokio::test]
async fn filters_pass_only_the_asked_accounts_types_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let request = pb::SubscribeRequest {
        accounts: vec!["main".to_owned(), "other".to_owned()],
        types: vec![
            pb::EventType::MessageStatus as i32,
            pb::EventType::TemplateStatus as i32,
        ],
        channel_ids: vec!["ch-1".to_owned()],
        ..from(Start::Earliest(true))
    };
    gateway
        .append(vec![
            event_of("main", EventType::MessageStatus, Some("ch-1"), "pass-1"),
            event_of(
                "main",
                EventType::MessageReceived,
                Some("ch-1"),
                "wrong-type",
            ),
            event_of(
                "main",
                EventType::MessageStatus,
                Some("ch-2"),
                "wrong-channel",
            ),
            event_of(
                "elsewhere",
                EventType::MessageStatus,
                Some("ch-1"),
                "wrong-account",
            ),
            event_of("other", EventType::TemplateStatus, None, "pass-2"),
        ])
        .await;
    let mut stream = subscribe(&gateway, request).await;

    assert_eq!(next_event(&mut stream).await.id, "pass-1");
    assert_eq!(next_event(&mut stream).await.id, "pass-2");
    gateway.stop().await;
}

#[tokio::test]
async fn a_cursor_older_than_retention_fails_with_out_of_range_naming_the_oldest_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let retention = "[events]\nretention_max_bytes = 1000\n";
    let gateway = TestGateway::start(config(dir.path(), retention)).await;
    for index in 0..20 {
        gateway.append(vec![event(&format!("r{index}"))]).await;
    }
    let oldest = gateway.log.bounds().oldest;
    assert!(oldest > 2, "retention dropped the first events");

    let status = gateway
        .events()
        .await
        .subscribe(from(Start::AfterCursor(1)))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::OutOfRange);
    let details = status.get_error_details();
    let info = details.error_info().unwrap();
    assert_eq!(info.reason, "CURSOR_OUT_OF_RANGE");
    assert_eq!(info.metadata["oldestCursor"], oldest.to_string());
    assert_eq!(info.metadata["requestedCursor"], "1");
    let mut resumed = subscribe(&gateway, from(Start::AfterCursor(oldest - 1))).await;
    assert_eq!(next_event(&mut resumed).await.cursor, oldest);
    gateway.stop().await;
}

#[tokio::test]
async fn members_of_one_consumer_share_the_events_each_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let mut first = subscribe(&gateway, named("workers", pb::AckMode::Auto)).await;
    let mut second = subscribe(&gateway, named("workers", pb::AckMode::Auto)).await;
    assert_eq!(get_consumer(&gateway, "workers").await.unwrap().members, 2);

    let ids: Vec<String> = (0..10).map(|index| format!("g{index}")).collect();
    gateway
        .append(ids.iter().map(|id| event(id)).collect())
        .await;

    let (mut seen_first, mut seen_second) = (Vec::new(), Vec::new());
    while seen_first.len() + seen_second.len() < ids.len() {
        tokio::select! {
            event = next_event(&mut first) => seen_first.push(event.cursor),
            event = next_event(&mut second) => seen_second.push(event.cursor),
        }
    }
    assert!(
        !seen_first.is_empty() && !seen_second.is_empty(),
        "{seen_first:?} {seen_second:?}"
    );
    let all: BTreeSet<u64> = seen_first.iter().chain(&seen_second).copied().collect();
    assert_eq!(all, (1..=10).collect(), "each event once");
    gateway.stop().await;
}

#[tokio::test]
async fn an_unacked_event_is_redelivered_after_ack_wait_with_delivery_count_two() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let request = pb::SubscribeRequest {
        ack_wait: Some(prost_types::Duration {
            seconds: 0,
            nanos: 300_000_000,
        }),
        ..named("billing", pb::AckMode::Explicit)
    };
    let mut stream = subscribe(&gateway, request).await;
    gateway.append(vec![event("x1"), event("x2")]).await;

    let first = next_event(&mut stream).await;
    let second = next_event(&mut stream).await;
    assert_eq!((first.cursor, first.delivery_count), (1, 1));
    assert_eq!(
        ack(&gateway, "billing", vec![second.cursor]).await,
        0,
        "1 is not acked yet"
    );

    let again = next_event(&mut stream).await;

    assert_eq!((again.cursor, again.delivery_count), (1, 2));
    assert_eq!(ack(&gateway, "billing", vec![1]).await, 2);
    let consumer = get_consumer(&gateway, "billing").await.unwrap();
    assert_eq!(
        (consumer.acked_cursor, consumer.pending, consumer.lag),
        (2, 0, 0)
    );
    gateway.stop().await;
}

#[tokio::test]
async fn auto_acks_move_the_acked_cursor_without_ack_calls() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let mut stream = subscribe(&gateway, named("auto", pb::AckMode::Auto)).await;
    gateway.append(vec![event("a1"), event("a2")]).await;
    next_event(&mut stream).await;
    next_event(&mut stream).await;
    drop(stream);
    // An event written to a stream the client has closed but the gateway has not yet seen close
    // is acked with it (auto mode acks on write): append only once the member is gone.
    wait_for_members(&gateway, "auto", 0).await;

    // The same consumer, resubscribed, continues after what was written to the first stream.
    gateway.append(vec![event("a3")]).await;
    let mut resumed = subscribe(&gateway, named("auto", pb::AckMode::Auto)).await;
    assert_eq!(next_event(&mut resumed).await.id, "a3");
    let consumer = get_consumer(&gateway, "auto").await.unwrap();
    assert!(consumer.acked_cursor >= 2, "{consumer:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn a_named_consumer_resumes_after_its_acked_cursor_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let mut stream = subscribe(&gateway, named("crm", pb::AckMode::Explicit)).await;
    gateway
        .append(vec![event("c1"), event("c2"), event("c3")])
        .await;
    for _ in 0..3 {
        next_event(&mut stream).await;
    }
    assert_eq!(ack(&gateway, "crm", vec![1, 2]).await, 2);
    gateway.stop().await;
    assert_eq!(end_of(&mut stream).await.code(), Code::Unavailable);

    let restarted = TestGateway::start(config(dir.path(), "")).await;
    let mut resumed = subscribe(&restarted, named("crm", pb::AckMode::Explicit)).await;
    let redelivered = next_event(&mut resumed).await;
    restarted.append(vec![event("c4")]).await;
    let fresh = next_event(&mut resumed).await;

    assert_eq!(
        (redelivered.id.as_str(), redelivered.delivery_count),
        ("c3", 2)
    );
    assert_eq!((fresh.id.as_str(), fresh.delivery_count), ("c4", 1));
    restarted.stop().await;
}

#[tokio::test]
async fn idle_streams_get_heartbeats_with_the_latest_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    gateway.append(vec![event("h1")]).await;
    let request = pb::SubscribeRequest {
        heartbeat_interval: Some(prost_types::Duration {
            seconds: 0,
            nanos: 200_000_000,
        }),
        ..Default::default()
    };
    let mut stream = subscribe(&gateway, request).await;

    for _ in 0..2 {
        match next(&mut stream).await.unwrap() {
            Kind::Heartbeat(heartbeat) => assert_eq!(heartbeat.latest_cursor, 1),
            Kind::Event(event) => panic!("unexpected event {}", event.cursor),
        }
    }
    gateway.stop().await;
}

#[tokio::test]
async fn deleting_a_consumer_ends_its_streams_with_aborted_and_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let mut stream = subscribe(&gateway, named("temp", pb::AckMode::Auto)).await;

    let request = pb::DeleteConsumerRequest {
        name: "temp".to_owned(),
        ..Default::default()
    };
    let deleted = gateway
        .events()
        .await
        .delete_consumer(request)
        .await
        .unwrap()
        .into_inner();

    assert_eq!(deleted.consumer.unwrap().members, 1);
    let end = end_of(&mut stream).await;
    assert_eq!(
        (end.code(), reason(&end).as_str()),
        (Code::Aborted, "CONSUMER_DELETED")
    );
    let missing = get_consumer(&gateway, "temp").await.unwrap_err();
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::NotFound, "CONSUMER_NOT_FOUND")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_with_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = TestGateway::start(config(dir.path(), "")).await;
    let mut ephemeral = subscribe(&gateway, pb::SubscribeRequest::default()).await;
    let mut durable = subscribe(&gateway, named("d", pb::AckMode::Auto)).await;

    gateway.begin_shutdown();

    for stream in [&mut ephemeral, &mut durable] {
        let end = end_of(stream).await;
        assert_eq!(
            (end.code(), reason(&end).as_str()),
            (Code::Unavailable, "SHUTTING_DOWN")
        );
    }
    gateway.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_reads_nothing_blocks_neither_ingest_nor_others() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let _stalled = subscribe(&gateway, from(Start::Earliest(true))).await;
    let mut reader = subscribe(&gateway, from(Start::Earliest(true))).await;
    let payload = "x".repeat(500);

    for batch in 0..20 {
        let events = (0..50)
            .map(|index| {
                let mut new = event(&format!("b{batch}-{index}"));
                new.raw = serde_json::json!({ "text": payload });
                new
            })
            .collect();
        gateway.append(events).await;
    }

    for expected in 1..=1000 {
        assert_eq!(next_event(&mut reader).await.cursor, expected);
    }
    gateway.stop().await;
}

#[tokio::test]
async fn subscriptions_beyond_the_stream_limit_are_refused_with_resource_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "[events]\nmax_streams = 1\n")).await;
    let _open = subscribe(&gateway, pb::SubscribeRequest::default()).await;

    let refused = gateway
        .events()
        .await
        .subscribe(pb::SubscribeRequest::default())
        .await;

    let status = refused.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::ResourceExhausted, "TOO_MANY_STREAMS")
    );
    assert!(status.get_error_details().retry_info().is_some());
    gateway.stop().await;
}

#[tokio::test]
async fn joining_a_consumer_with_other_filters_fails_with_failed_precondition() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let statuses = pb::SubscribeRequest {
        types: vec![pb::EventType::MessageStatus as i32],
        ..named("statuses", pb::AckMode::Auto)
    };
    let _first = subscribe(&gateway, statuses.clone()).await;
    let _same_without_filters = subscribe(&gateway, named("statuses", pb::AckMode::Auto)).await;

    let other = pb::SubscribeRequest {
        types: vec![pb::EventType::MessageReceived as i32],
        ..statuses
    };
    let status = gateway.events().await.subscribe(other).await.unwrap_err();

    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "CONSUMER_FILTERS_MISMATCH")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn invalid_subscriptions_name_every_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let request = pb::SubscribeRequest {
        accounts: vec!["nope".to_owned()],
        ack_mode: pb::AckMode::Explicit as i32,
        max_in_flight: 1_000_000,
        ack_wait: Some(prost_types::Duration {
            seconds: -1,
            nanos: 0,
        }),
        ..Default::default()
    };

    let status = gateway.events().await.subscribe(request).await.unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(
        fields,
        ["accounts[0]", "ack_mode", "max_in_flight", "ack_wait"]
    );
    let ahead = gateway
        .events()
        .await
        .subscribe(from(Start::AfterCursor(5)))
        .await
        .unwrap_err();
    assert_eq!(ahead.code(), Code::InvalidArgument);
    assert_eq!(
        ahead
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "after_cursor"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn respond_hands_the_body_to_the_held_request_or_reports_event_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    gateway
        .append(vec![
            event_of("main", EventType::ContactRequested, None, "crm-1"),
            event("plain"),
        ])
        .await;
    let held = gateway.pending.hold("main", "crm-1").await.unwrap();
    let waiting = tokio::spawn(held.answer(PATIENCE));
    let body = prost_types::Struct {
        fields: [(
            "id".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue("c-9".to_owned())),
            },
        )]
        .into(),
    };
    let respond = |event_id: &str| pb::RespondRequest {
        event_id: event_id.to_owned(),
        body: Some(body.clone()),
        ..Default::default()
    };

    let delivered = gateway
        .events()
        .await
        .respond(respond("crm-1"))
        .await
        .unwrap()
        .into_inner()
        .delivered;

    assert!(delivered, "the held request took the answer");

    assert_eq!(
        waiting.await.unwrap(),
        Some(serde_json::json!({ "id": "c-9" }))
    );
    for missing in ["plain", "unknown"] {
        let status = gateway
            .events()
            .await
            .respond(respond(missing))
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::NotFound, "EVENT_NOT_FOUND")
        );
    }
    gateway.stop().await;
}

#[tokio::test]
async fn a_respond_body_over_the_limit_names_the_field_and_the_request_stays_held() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    gateway
        .append(vec![event_of(
            "main",
            EventType::ContactRequested,
            None,
            "crm-1",
        )])
        .await;
    let held = gateway.pending.hold("main", "crm-1").await.unwrap();
    let waiting = tokio::spawn(held.answer(PATIENCE));
    let text = |length: usize| prost_types::Struct {
        fields: [(
            "name".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue("x".repeat(length))),
            },
        )]
        .into(),
    };
    let respond = |body| pb::RespondRequest {
        event_id: "crm-1".to_owned(),
        body: Some(body),
        ..Default::default()
    };

    // 300 000 bytes of text: over the 256 KiB limit, under gRPC's 4 MB message limit.
    let status = gateway
        .events()
        .await
        .respond(respond(text(300_000)))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    let violations = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .clone();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "body");
    assert!(
        violations[0].description.contains("262144"),
        "{}",
        violations[0].description
    );
    let delivered = gateway
        .events()
        .await
        .respond(respond(text(10)))
        .await
        .unwrap()
        .into_inner()
        .delivered;
    assert!(delivered, "the refused body left the request held");
    assert_eq!(
        waiting.await.unwrap(),
        Some(serde_json::json!({ "name": "xxxxxxxxxx" }))
    );
    gateway.stop().await;
}

#[tokio::test]
async fn consumers_are_listed_with_their_progress_and_metrics_show_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start(config(dir.path(), "")).await;
    let mut stream = subscribe(&gateway, named("zeta", pb::AckMode::Explicit)).await;
    let _alpha = subscribe(&gateway, named("alpha", pb::AckMode::Auto)).await;
    gateway.append(vec![event("m1"), event("m2")]).await;
    next_event(&mut stream).await;
    next_event(&mut stream).await;

    let listed = gateway
        .events()
        .await
        .list_consumers(pb::ListConsumersRequest::default())
        .await;

    let consumers = listed.unwrap().into_inner().consumers;
    let names: Vec<_> = consumers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    assert_eq!(
        (
            consumers[1].account.as_str(),
            consumers[1].lag,
            consumers[1].pending,
            consumers[1].members
        ),
        ("main", 2, 2, 1)
    );
    // The gateway's reqwest uses rustls without a default crypto provider; pick the same one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = reqwest::get(format!("http://{}/metrics", gateway.admin_addr))
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    for line in [
        "events_appended_total 2",
        "event_log_latest_cursor 2",
        "event_streams_open 2",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    for line in [
        "event_consumer_lag{account=\"main\",consumer=\"zeta\"} 2",
        "event_consumer_pending{account=\"main\",consumer=\"zeta\"} 2",
        "event_consumer_streams{account=\"main\",consumer=\"zeta\"} 1",
        "event_consumer_streams{account=\"main\",consumer=\"alpha\"} 1",
    ] {
        assert!(
            text.lines().any(|rendered| rendered == line),
            "{line} in {text}"
        );
    }
    gateway.stop().await;
}

#[tokio::test]
async fn a_data_directory_that_cannot_be_used_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("occupied");
    std::fs::write(&file, b"not a directory").unwrap();

    let opened = wazzup_gateway::EventPipeline::open(&config(&file, "")).await;

    let message = opened.unwrap_err().to_string();
    assert!(message.contains("cannot open the event log"), "{message}");
}
