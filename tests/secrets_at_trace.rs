//! The gateway binary at `WGW_LOG=trace`, driven through a send, an upstream error that echoes
//! the API key, a `wazzup_tech` token renewal followed by an echoing error, webhooks with wrong
//! secrets, a wrong caller token, `/metrics` and `check-config`: no secret, configured or
//! renewed, appears in its output, in a gRPC error or in the metrics.

mod support;

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::secrets::{Echo, assert_no_secret};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use wazzup_gateway::proto::pb;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CALLER_TOKEN: &str = "c7c1e9a2b5f3d0a4e6b8";
const WRONG_CALLER_TOKEN: &str = "w1d2e3f4a5b6c7d8e9f0";
const V3_API_KEY: &str = "k4d8f2a6c1e3b5d7f9a0";
const V3_WEBHOOK_SECRET: &str = "h91b0c2d4e6f8a1b3c5d";
const V3_CRM_KEY: &str = "m5e7d3c1a9b8f6e4d2c0";
const WRONG_WEBHOOK_SECRET: &str = "x77aa1b2c3d4e5f6a7b8c";
const WRONG_CRM_KEY: &str = "y88bb9c0d1e2f3a4b5c6";
const TECH_TOKEN: &str = "t0b9c8d7e6f5a4b3c2d1";
const TECH_REFRESH_TOKEN: &str = "r6a5b4c3d2e1f0a9b8c7";
const PARTNER_PASSWORD: &str = "p2f1e0d9c8b7a6f5e4d3";
const RENEWED_TOKEN: &str = "n8e9f0a1b2c3d4e5f6a7";
const ROTATED_REFRESH_TOKEN: &str = "o3c4d5e6f7a8b9c0d1e2";
const WHATSAPP_CHANNEL: &str = "e0629e11-0f67-4567-92a9-2237e91ec1b9";

/// Every secret the run knows of.
const SECRETS: [&str; 12] = [
    CALLER_TOKEN,
    WRONG_CALLER_TOKEN,
    V3_API_KEY,
    V3_WEBHOOK_SECRET,
    V3_CRM_KEY,
    WRONG_WEBHOOK_SECRET,
    WRONG_CRM_KEY,
    TECH_TOKEN,
    TECH_REFRESH_TOKEN,
    PARTNER_PASSWORD,
    RENEWED_TOKEN,
    ROTATED_REFRESH_TOKEN,
];

/// Returns a port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The configuration file: a `wazzup_v3` and a `wazzup_tech` account on the two mock upstreams.
fn config_toml(v3: &MockServer, tech: &MockServer) -> String {
    format!(
        "[[accounts]]\nname = \"v3\"\ndialect = \"wazzup_v3\"\nbase_url = \"{}\"\n\n\
         [[accounts]]\nname = \"tech\"\ndialect = \"wazzup_tech\"\nbase_url = \"{}\"\n\
         oauth_client_id = \"client-7\"\n",
        v3.uri(),
        tech.uri()
    )
}

/// The binary with the secrets in its environment and trace-level logging, writing its output to
/// `output` (a file: a pipe nobody reads while the gateway runs would fill and block it).
fn gateway_command(config_file: &Path, output: &Path) -> Command {
    let file = File::create(output).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wazzup-gateway"));
    command
        .env_clear()
        .env("WGW_LOG", "trace")
        .env("WGW_AUTH_TOKEN", CALLER_TOKEN)
        .env("WGW_CONFIG_FILE", config_file)
        .env("WGW_ACCOUNT_V3_API_KEY", V3_API_KEY)
        .env("WGW_ACCOUNT_V3_WEBHOOK_SECRET", V3_WEBHOOK_SECRET)
        .env("WGW_ACCOUNT_V3_CRM_KEY", V3_CRM_KEY)
        .env("WGW_ACCOUNT_TECH_API_KEY", TECH_TOKEN)
        .env("WGW_ACCOUNT_TECH_REFRESH_TOKEN", TECH_REFRESH_TOKEN)
        .env(
            "WGW_ACCOUNT_TECH_PARTNER_CREDENTIALS",
            format!("partner@example.com:{PARTNER_PASSWORD}"),
        )
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file));
    command
}

/// Mounts the v3 upstream: channels, and every send answered 400 echoing what it was sent.
async fn v3_upstream() -> MockServer {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/channels"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"channelId": WHATSAPP_CHANNEL, "transport": "whatsapp", "plainId": "79865784457",
             "state": "active"}
        ])))
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .respond_with(Echo(400))
        .mount(&upstream)
        .await;
    upstream
}

/// Mounts the tech upstream: the configured token is refused, the refresh answers a renewed
/// token, and a send with it is answered 503 echoing what it was sent.
async fn tech_upstream() -> MockServer {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/channels"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"channel_id": WHATSAPP_CHANNEL, "transport": "whatsapp", "plain_id": "79865784457",
             "state": "active"}
        ]})))
        .mount(&upstream)
        .await;
    support::secrets::mount_renewal_then_echo(
        &upstream,
        TECH_TOKEN,
        RENEWED_TOKEN,
        ROTATED_REFRESH_TOKEN,
    )
    .await;
    upstream
}

/// Connects to the gRPC port once the binary listens (it is polled, not timed).
async fn connect(port: u16, child: &mut Child) -> Channel {
    for _ in 0..600 {
        let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
        if let Ok(channel) = endpoint.connect().await {
            return channel;
        }
        assert!(child.try_wait().unwrap().is_none(), "the gateway exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway never listened on {port}");
}

/// A send of "hi" from the WhatsApp channel of `account`, with `token` as the caller's.
fn send(account: &str, token: &str) -> tonic::Request<pb::SendMessageRequest> {
    let mut request = tonic::Request::new(pb::SendMessageRequest {
        account: account.to_owned(),
        channel_id: WHATSAPP_CHANNEL.to_owned(),
        recipient: support::recipient(pb::ChatType::Whatsapp, "79999999999"),
        content: Some(pb::send_message_request::Content::Text("hi".to_owned())),
        ..Default::default()
    });
    let bearer: MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
    request.metadata_mut().insert("authorization", bearer);
    request
}

/// Posts webhooks with wrong credentials; returns the statuses.
async fn wrong_webhooks(port: u16) -> Vec<u16> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/webhooks/v3");
    let attempts = [
        (format!("{base}/{WRONG_WEBHOOK_SECRET}"), WRONG_CRM_KEY),
        (format!("{base}/{V3_WEBHOOK_SECRET}"), WRONG_CRM_KEY),
        (base.clone(), V3_CRM_KEY),
    ];
    let mut statuses = Vec::new();
    for (url, crm_key) in attempts {
        let answer = client
            .post(url)
            .bearer_auth(crm_key)
            .json(&json!({"messages": []}))
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    statuses
}

/// Waits until `child` has exited and returns what it wrote to `output`.
fn output_of(mut child: Child, output: &Path) -> String {
    child.wait().unwrap();
    std::fs::read_to_string(output).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_trace_logs_errors_or_metrics() {
    let (v3, tech) = (v3_upstream().await, tech_upstream().await);
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("gateway.toml");
    std::fs::write(&config_file, config_toml(&v3, &tech)).unwrap();
    let (grpc_port, webhook_port, admin_port) = (free_port(), free_port(), free_port());
    let (served_log, checked_log) = (
        dir.path().join("served.log"),
        dir.path().join("checked.log"),
    );
    let mut child = gateway_command(&config_file, &served_log)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--grpc-listen", &format!("127.0.0.1:{grpc_port}")])
        .args(["--webhook-listen", &format!("127.0.0.1:{webhook_port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
        .spawn()
        .unwrap();

    let channel = connect(grpc_port, &mut child).await;
    let mut messages = pb::message_service_client::MessageServiceClient::new(channel);
    let mut errors = Vec::new();
    for (account, token) in [
        ("v3", CALLER_TOKEN),
        ("tech", CALLER_TOKEN),
        ("v3", WRONG_CALLER_TOKEN),
    ] {
        let status = messages
            .send_message(send(account, token))
            .await
            .expect_err("every send here fails");
        errors.push(status);
    }
    let webhook_statuses = wrong_webhooks(webhook_port).await;
    let metrics = reqwest::get(format!("http://127.0.0.1:{admin_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    child.kill().unwrap();
    let served = output_of(child, &served_log);
    let checking = gateway_command(&config_file, &checked_log)
        .arg("check-config")
        .arg(&config_file)
        .spawn()
        .unwrap();
    let checked = output_of(checking, &checked_log);

    let codes: Vec<tonic::Code> = errors.iter().map(tonic::Status::code).collect();
    assert_eq!(
        codes,
        [
            tonic::Code::InvalidArgument,
            tonic::Code::Unavailable,
            tonic::Code::Unauthenticated
        ]
    );
    assert!(
        webhook_statuses
            .iter()
            .all(|status| (400..500).contains(status))
    );
    assert!(
        served.contains("TRACE"),
        "nothing was logged at trace level"
    );
    assert!(served.contains("renewed the upstream access token"));
    assert!(checked.contains("configuration is valid"), "{checked}");
    for status in &errors {
        let visible = format!(
            "{} {} {:?}",
            status.message(),
            String::from_utf8_lossy(status.details()),
            status.metadata()
        );
        assert_no_secret(&visible, &SECRETS, "a gRPC error");
    }
    assert_no_secret(&metrics, &SECRETS, "/metrics");
    assert_no_secret(&checked, &SECRETS, "check-config");
    assert_no_secret(&served, &SECRETS, "the trace log");
}
