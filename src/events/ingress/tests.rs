//! The ingress on a real 127.0.0.1 listener, posted to with reqwest, storing into a recording
//! log double.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, WebhookConfig};
use crate::events::responses::PendingResponses;
use crate::events::testing::RecordingLog;
use crate::events::{EventType, NewEvent};
use crate::telemetry::Metrics;
use crate::telemetry::event_links::EventLinks;
use crate::upstream::registry::WEBHOOK_DECODERS;

use super::{IngressState, router};

/// Upper bound of every test, so a hang fails instead of blocking the suite.
const PATIENCE: Duration = Duration::from_secs(10);

const ACCOUNTS: &str = r#"
[[accounts]]
name = "main"
[[accounts]]
name = "crm"
[[accounts]]
name = "both"
[[accounts]]
name = "bare"
"#;

/// The gateway's webhook listener with a recording log behind it.
struct Harness {
    base: String,
    log: Arc<RecordingLog>,
    responses: Arc<PendingResponses>,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
    shutdown_tx: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl Harness {
    /// Serves the router on 127.0.0.1:0 with small limits.
    async fn start() -> Self {
        Self::start_with(WebhookConfig {
            max_body_bytes: 4096,
            request_timeout: Duration::from_secs(2),
            crm_response_timeout: Duration::from_secs(5),
            ..WebhookConfig::default()
        })
        .await
    }

    async fn start_with(limits: WebhookConfig) -> Self {
        Self::start_holding_with(limits, Arc::new(PendingResponses::new())).await
    }

    /// Serves the router with `limits`, holding CRM requests in `responses`.
    async fn start_holding_with(limits: WebhookConfig, responses: Arc<PendingResponses>) -> Self {
        let env: HashMap<String, String> = [
            ("WGW_ACCOUNT_MAIN_API_KEY", "k"),
            ("WGW_ACCOUNT_MAIN_WEBHOOK_SECRET", "s3cr3t"),
            ("WGW_ACCOUNT_CRM_API_KEY", "k"),
            ("WGW_ACCOUNT_CRM_CRM_KEY", "crm-key"),
            ("WGW_ACCOUNT_BOTH_API_KEY", "k"),
            ("WGW_ACCOUNT_BOTH_WEBHOOK_SECRET", "both-secret"),
            ("WGW_ACCOUNT_BOTH_CRM_KEY", "both-key"),
            ("WGW_ACCOUNT_BARE_API_KEY", "k"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
        let config = Config::from_toml_str(ACCOUNTS, &env).unwrap();
        let log = Arc::new(RecordingLog::new());
        let metrics = Arc::new(Metrics::new());
        let state = IngressState::new(
            &config.accounts,
            limits,
            WEBHOOK_DECODERS,
            log.clone(),
            responses.clone(),
            metrics.clone(),
            Arc::new(EventLinks::default()),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async {
                    let _ = shutdown_rx.await;
                })
                .await
                .unwrap();
        });
        // The crate's reqwest uses rustls without a default crypto provider; pick the gateway's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(PATIENCE)
            .build()
            .unwrap();
        Self {
            base,
            log,
            responses,
            metrics,
            client,
            shutdown_tx: Some(shutdown_tx),
            server,
        }
    }

    /// Posts `body` as JSON (Wazzup's literal content type) to `path`.
    async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json; charset-utf-8")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Posts `body` to the main account with its secret.
    async fn post_main(&self, body: &str) -> reqwest::Response {
        self.post("/webhooks/main/s3cr3t", body).await
    }

    /// Stops the server and waits for it.
    async fn stop(mut self) {
        if let Some(shutdown_tx) = self.shutdown_tx.take() {
            let _ = shutdown_tx.send(());
        }
        self.server.await.unwrap();
    }
}

/// Runs a test body with a time bound.
async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(PATIENCE, test)
        .await
        .expect("the test finished in time");
}

/// Waits until the log holds an event of `event_type`, and returns it.
async fn stored_event(log: &RecordingLog, event_type: EventType) -> NewEvent {
    loop {
        let found = log
            .events()
            .into_iter()
            .find(|event| event.event_type == event_type);
        if let Some(event) = found {
            return event;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

const STATUSES: &str = r#"{"statuses": [{"messageId": "m-1", "timestamp": "2025-02-05T06:01:07.499Z", "status": "delivered"}]}"#;

#[tokio::test]
async fn a_webhook_is_answered_200_after_its_events_are_appended() {
    bounded(async {
        let harness = Harness::start().await;
        let response = harness
            .post_main(include_str!(
                "../../upstream/wazzup_v3/webhooks/fixtures/messages_and_statuses.json"
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let stored = harness.log.events();
        let types: Vec<EventType> = stored.iter().map(|event| event.event_type).collect();
        assert_eq!(
            types,
            [
                EventType::MessageReceived,
                EventType::MessageEcho,
                EventType::MessageStatus,
                EventType::MessageStatus,
                EventType::MessageStatus,
            ]
        );
        assert_eq!(
            harness.log.calls().len(),
            1,
            "one atomic append per webhook"
        );
        assert!(stored.iter().all(|event| event.account == "main"));
        let metrics = harness.metrics.render();
        assert!(
            metrics.contains(
                r#"webhooks_received_total{account="main",kind="mixed",outcome="stored"} 1"#
            ),
            "{metrics}"
        );
        assert!(
            metrics.contains("event_log_append_seconds_count 1"),
            "{metrics}"
        );
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401_and_nothing_is_stored() {
    bounded(async {
        let harness = Harness::start().await;
        let with_bearer = |path: &str, token: &str| {
            harness
                .client
                .post(format!("{}{path}", harness.base))
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(STATUSES)
                .send()
        };
        let refused = [
            harness.post("/webhooks/main/wrong", STATUSES).await,
            harness.post("/webhooks/main", STATUSES).await,
            harness.post("/webhooks/nobody/s3cr3t", STATUSES).await,
            harness.post("/webhooks/crm", STATUSES).await,
            with_bearer("/webhooks/crm", "other-key").await.unwrap(),
            with_bearer("/webhooks/both", "both-key").await.unwrap(),
            with_bearer("/webhooks/both/wrong", "both-key")
                .await
                .unwrap(),
            harness.post("/webhooks/bare/anything", STATUSES).await,
        ];
        for (index, response) in refused.into_iter().enumerate() {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "case {index}");
        }
        assert!(harness.log.calls().is_empty(), "{:?}", harness.log.calls());

        let accepted = [
            with_bearer("/webhooks/crm", "crm-key").await.unwrap(),
            with_bearer("/webhooks/both/both-secret", "both-key")
                .await
                .unwrap(),
        ];
        for response in accepted {
            assert_eq!(response.status(), StatusCode::OK);
        }
        let metrics = harness.metrics.render();
        assert!(
            metrics.contains(
                r#"webhooks_received_total{account="-",kind="-",outcome="unauthorized"} 1"#
            ),
            "{metrics}"
        );
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_nothing_is_stored() {
    bounded(async {
        let harness = Harness::start().await;
        let padding = "x".repeat(5000);
        let body = json!({"statuses": [{"messageId": padding, "status": "read"}]}).to_string();
        let response = harness.post_main(&body).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(harness.log.calls().is_empty());
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn content_other_than_json_gets_415() {
    bounded(async {
        let harness = Harness::start().await;
        let url = format!("{}/webhooks/main/s3cr3t", harness.base);
        let plain = harness
            .client
            .post(&url)
            .header("content-type", "text/plain")
            .body(STATUSES)
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let untyped = harness
            .client
            .post(&url)
            .body(STATUSES)
            .send()
            .await
            .unwrap();
        assert_eq!(untyped.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(harness.log.calls().is_empty());

        let upper_case = harness
            .client
            .post(&url)
            .header("content-type", "Application/JSON;charset=UTF-8")
            .body(STATUSES)
            .send()
            .await
            .unwrap();
        assert_eq!(upper_case.status(), StatusCode::OK);
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_test_probe_gets_200_and_stores_nothing() {
    bounded(async {
        let harness = Harness::start().await;
        let response = harness.post_main(r#"{"test": true}"#).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(harness.log.calls().is_empty());
        let metrics = harness.metrics.render();
        assert!(
            metrics.contains(
                r#"webhooks_received_total{account="main",kind="test",outcome="test"} 1"#
            ),
            "{metrics}"
        );
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_shape_is_stored_as_unknown_and_answered_200() {
    bounded(async {
        let harness = Harness::start().await;
        let unknown_kind = harness
            .post_main(r#"{"groupChats": [{"chatId": "g"}]}"#)
            .await;
        let not_an_object = harness.post_main(r#"["surprise"]"#).await;
        let not_json = harness.post_main("{oops").await;
        for response in [unknown_kind, not_an_object, not_json] {
            assert_eq!(response.status(), StatusCode::OK);
        }
        let raws: Vec<Value> = harness.log.events().into_iter().map(|e| e.raw).collect();
        assert_eq!(
            raws,
            [
                json!({"groupChats": [{"chatId": "g"}]}),
                json!(["surprise"]),
                json!("{oops")
            ]
        );
        assert!(
            harness
                .log
                .events()
                .iter()
                .all(|event| event.event_type == EventType::Unknown)
        );
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_delivery_produces_the_same_ids_and_is_stored_once() {
    bounded(async {
        let harness = Harness::start().await;
        let body =
            include_str!("../../upstream/wazzup_v3/webhooks/fixtures/messages_and_statuses.json");
        assert_eq!(harness.post_main(body).await.status(), StatusCode::OK);
        assert_eq!(harness.post_main(body).await.status(), StatusCode::OK);
        let calls = harness.log.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], calls[1]);
        assert_eq!(harness.log.events().len(), 5);
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_failing_log_gets_503_so_the_sender_retries() {
    bounded(async {
        let harness = Harness::start().await;
        harness.log.set_failing(true);
        let response = harness.post_main(STATUSES).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(harness.log.events().is_empty());

        harness.log.set_failing(false);
        assert_eq!(harness.post_main(STATUSES).await.status(), StatusCode::OK);
        assert_eq!(harness.log.events().len(), 1, "the retry is stored");
        let metrics = harness.metrics.render();
        assert!(
            metrics.contains("event_log_append_seconds_count 1"),
            "only stored webhooks are timed: {metrics}"
        );
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_log_that_does_not_answer_in_time_gets_503() {
    bounded(async {
        let harness = Harness::start_with(WebhookConfig {
            request_timeout: Duration::from_millis(200),
            ..WebhookConfig::default()
        })
        .await;
        harness.log.set_stalled(true);
        let response = harness.post_main(STATUSES).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_crm_request_is_answered_with_the_subscribers_json() {
    bounded(async {
        let harness = Harness::start().await;
        let body = include_str!("../../upstream/wazzup_v3/webhooks/fixtures/create_contact.json");
        let posting = harness.post_main(body);
        let answering = async {
            let event = stored_event(&harness.log, EventType::ContactRequested).await;
            let contact = json!({"id": "c-7", "responsibleUserId": "1", "name": "contact name",
                                 "contactData": [{"chatType": "whatsapp", "chatId": "79…"}]});
            let delivered = harness.responses.respond("main", &event.id, contact).await;
            assert!(delivered.unwrap(), "a waiter is registered");
        };
        let (response, ()) = tokio::join!(posting, answering);
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["id"], json!("c-7"));
        let metrics = harness.metrics.render();
        assert!(
            metrics.contains(r#"webhooks_received_total{account="main",kind="createContact",outcome="crm_answered"} 1"#),
            "{metrics}"
        );
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_unanswered_crm_request_gets_the_504_fallback_and_stays_in_the_log() {
    bounded(async {
        let harness = Harness::start_with(WebhookConfig {
            crm_response_timeout: Duration::from_millis(150),
            ..WebhookConfig::default()
        })
        .await;
        let body = include_str!("../../upstream/wazzup_v3/webhooks/fixtures/create_deal.json");
        let response = harness.post_main(body).await;
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"], json!("CRM_RESPONSE_TIMEOUT"));
        let events = harness.log.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, EventType::DealRequested);
        let late = harness
            .responses
            .respond("main", &events[0].id, json!({"id": "late"}))
            .await;
        assert!(!late.unwrap(), "late answers are refused");
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_crm_request_that_cannot_be_held_gets_503_and_is_not_stored() {
    let Some(server) = crate::nats::test_server::TestNatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = server.config_for(dir.path());
    let connection = crate::nats::NatsConnection::connect(&config).await.unwrap();
    let responses = Arc::new(PendingResponses::over_nats(&connection, &config.stream));
    let mut health = connection.health().subscribe();
    drop(server);
    health
        .wait_for(|writability| *writability != crate::storage::Writability::Writable)
        .await
        .unwrap();
    bounded(async {
        let harness = Harness::start_holding_with(WebhookConfig::default(), responses).await;
        let body = include_str!("../../upstream/wazzup_v3/webhooks/fixtures/create_contact.json");

        let response = harness.post_main(body).await;

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(harness.log.events().is_empty(), "nothing stored");
        let metrics = harness.metrics.render();
        assert!(
            metrics.contains(r#"webhooks_received_total{account="main",kind="createContact",outcome="unavailable"} 1"#),
            "{metrics}"
        );
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_body_without_a_declared_length_is_cut_off_at_the_limit() {
    let limits = WebhookConfig {
        max_body_bytes: 10,
        ..WebhookConfig::default()
    };
    let state = IngressState::new(
        &[],
        limits,
        WEBHOOK_DECODERS,
        Arc::new(RecordingLog::new()),
        Arc::new(PendingResponses::new()),
        Arc::new(Metrics::new()),
        Arc::new(EventLinks::default()),
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let headers = axum::http::HeaderMap::new();
    let read = |text: &'static str| {
        state
            .inner
            .read_body(&headers, axum::body::Body::from(text), deadline)
    };
    assert_eq!(read("0123456789").await, Ok(b"0123456789".to_vec()));
    assert_eq!(read("0123456789A").await, Err(super::Outcome::TooLarge));
}

#[tokio::test]
async fn a_body_nested_deeper_than_the_limit_is_refused_with_422_and_not_stored() {
    bounded(async {
        let harness = Harness::start().await;
        // The hostile tester's 254-byte body: arrays nested 127 deep.
        let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert_eq!(deep.len(), 254);
        let response = harness.post_main(&deep).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = response.text().await.unwrap();
        assert!(text.contains("nested deeper than 24 levels"), "{text}");
        let at_limit = format!("{{\"deep\": {}{}}}", "[".repeat(23), "]".repeat(23));
        let response = harness.post_main(&at_limit).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(harness.log.events().len(), 1, "only the body within bounds");
        let metrics = harness.metrics.render();
        assert!(
            metrics.contains(
                r#"webhooks_received_total{account="main",kind="-",outcome="too_deep"} 1"#
            ),
            "{metrics}"
        );
        harness.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_event_larger_than_max_event_bytes_as_delivered_is_refused_with_413() {
    bounded(async {
        let harness = Harness::start_with(WebhookConfig {
            max_body_bytes: 4096,
            max_event_bytes: 2048,
            ..WebhookConfig::default()
        })
        .await;
        // 1,000 bytes of JSON, 5,500 as a protobuf list of doubles.
        let numbers = vec!["1"; 500].join(",");
        let body = format!(r#"{{"statuses": [{{"messageId": "m-1", "n": [{numbers}]}}]}}"#);
        let response = harness.post_main(&body).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let text = response.text().await.unwrap();
        assert!(text.contains("webhooks.max_event_bytes"), "{text}");
        assert!(harness.log.calls().is_empty(), "nothing of it is stored");
        // As much JSON in a string is about as large delivered, and fits.
        let text = "x".repeat(1000);
        let body = format!(r#"{{"statuses": [{{"messageId": "m-1", "n": "{text}"}}]}}"#);
        let response = harness.post_main(&body).await;
        assert_eq!(response.status(), StatusCode::OK);
        harness.stop().await;
    })
    .await;
}
