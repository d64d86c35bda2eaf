//! Operations: health per service, readiness and drain, metrics, caller authentication.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use wazzup_gateway::proto::pb;

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

#[tokio::test]
async fn health_is_serving_overall_and_per_service() {
    let gateway = TestGateway::sandbox().await;
    let mut health = gateway.health().await;

    for service in [
        "",
        "wazzup_gateway.v1.MessageService",
        "wazzup_gateway.v1.EventService",
        "wazzup_gateway.v1.SandboxService",
    ] {
        let status = health
            .check(check(service))
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
    let unknown = health
        .check(check("wazzup_gateway.v1.NoSuchService"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    gateway.stop().await;
}

#[tokio::test]
async fn draining_reports_not_serving_and_unready_while_in_flight_calls_finish() {
    let env = HashMap::from([("WGW_SANDBOX_LATENCY".to_owned(), "700ms".to_owned())]);
    let mut gateway = TestGateway::start_with("", &env).await;
    let mut watch = gateway
        .health()
        .await
        .watch(check(""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    let mut messages = gateway.messages().await;
    let in_flight = tokio::spawn(async move {
        messages
            .send_message(text_send(WHATSAPP_CHANNEL, "79991112233", "slow"))
            .await
    });
    // The send is in flight once the sandbox holds it; the readiness probe answers meanwhile.
    assert_eq!(gateway.admin_get("/readyz").await.0, 200);

    gateway.begin_shutdown();
    let drained_status = watch.message().await.unwrap().unwrap().status();
    let (ready_code, _) = gateway.admin_get("/readyz").await;
    let sent = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(drained_status, ServingStatus::NotServing);
    assert_eq!(ready_code, 503);
    assert!(sent.is_ok(), "the in-flight send finishes: {sent:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn metrics_count_and_time_calls_by_method_and_code() {
    let gateway = TestGateway::sandbox().await;
    let mut messages = gateway.messages().await;
    messages
        .send_message(text_send(WHATSAPP_CHANNEL, "79991112233", "hi"))
        .await
        .unwrap();
    messages
        .send_message(text_send(QR_CHANNEL, "79991112233", "hi"))
        .await
        .unwrap_err();

    let (code, body) = gateway.admin_get("/metrics").await;

    assert_eq!(code, 200);
    let method = "method=\"wazzup_gateway.v1.MessageService/SendMessage\"";
    assert!(
        body.contains(&format!(
            "grpc_server_handled_total{{{method},code=\"OK\"}} 1"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "grpc_server_handled_total{{{method},code=\"FAILED_PRECONDITION\"}} 1"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "grpc_server_handling_seconds_count{{{method},code=\"OK\"}} 1"
        )),
        "{body}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn liveness_answers_ok() {
    let gateway = TestGateway::sandbox().await;
    assert_eq!(
        gateway.admin_get("/healthz").await,
        (200, "ok\n".to_owned())
    );
    gateway.stop().await;
}

/// Two tokens: one for everything, one limited to the channel service of account "sandbox".
const TOKENS: &str = r#"
[[auth.tokens]]
name = "ops"
token_env = "OPS_TOKEN"

[[auth.tokens]]
name = "reader"
token_env = "READER_TOKEN"
services = ["wazzup_gateway.v1.ChannelService"]
accounts = ["sandbox"]
"#;

fn token_env() -> HashMap<String, String> {
    HashMap::from([
        ("OPS_TOKEN".to_owned(), "ops-secret".to_owned()),
        ("READER_TOKEN".to_owned(), "reader-secret".to_owned()),
    ])
}

#[tokio::test]
async fn configured_tokens_are_required_but_health_stays_open() {
    let gateway = TestGateway::start_with(TOKENS, &token_env()).await;
    let mut channels = gateway.channels().await;

    let anonymous = channels
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .unwrap_err();
    let wrong = channels
        .list_channels(with_token(pb::ListChannelsRequest::default(), "guess"))
        .await
        .unwrap_err();
    let allowed = channels
        .list_channels(with_token(pb::ListChannelsRequest::default(), "ops-secret"))
        .await;
    let health = gateway.health().await.check(check("")).await;

    assert_eq!(
        (anonymous.code(), reason_of(&anonymous).0.as_str()),
        (Code::Unauthenticated, "UNAUTHENTICATED")
    );
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert!(allowed.is_ok(), "{allowed:?}");
    assert!(health.is_ok(), "{health:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn tokens_limited_to_services_and_accounts_are_refused_elsewhere() {
    let gateway = TestGateway::start_with(TOKENS, &token_env()).await;

    let reading = gateway
        .channels()
        .await
        .list_channels(with_token(
            pb::ListChannelsRequest::default(),
            "reader-secret",
        ))
        .await;
    let sending = gateway
        .messages()
        .await
        .send_message(with_token(
            text_send(WHATSAPP_CHANNEL, "79991112233", "hi"),
            "reader-secret",
        ))
        .await
        .unwrap_err();

    assert!(reading.is_ok(), "{reading:?}");
    assert_eq!(sending.code(), Code::PermissionDenied);
    assert_eq!(
        metadata_of(&sending).get("caller").map(String::as_str),
        Some("reader")
    );
    gateway.stop().await;
}
