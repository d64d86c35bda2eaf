//! Upstreams that echo what they were sent (the `Authorization` header, the body) in their error
//! answers: no secret of the account or the request reaches a gRPC error or a log line.

mod support;
#[path = "support/wazzup_tech.rs"]
mod wazzup_tech_support;
#[path = "support/wazzup_v3.rs"]
mod wazzup_v3_support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use support::secrets::{Echo, assert_no_secret};
use wazzup_gateway::proto::pb;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Everything the process logged, at trace level, since the first test started.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_ansi(false)
            .with_writer(move || LogSink(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per process");
        logs
    })
}

/// Appends log output to the shared buffer.
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Returns everything a caller sees of a failed call: message, details and metadata.
fn visible(status: &tonic::Status) -> String {
    format!(
        "{} {} {:?}",
        status.message(),
        String::from_utf8_lossy(status.details()),
        status.metadata()
    )
}

#[tokio::test]
async fn a_v3_upstream_echoing_the_api_key_leaks_it_nowhere() {
    let logs = captured_logs();
    let upstream = MockServer::start().await;
    wazzup_v3_support::mount_channels(&upstream).await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .respond_with(Echo(400))
        .mount(&upstream)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(Echo(503))
        .mount(&upstream)
        .await;
    let gateway = wazzup_v3_support::start_v3(&upstream).await;
    let mut messages = gateway.messages().await;
    let secrets = [
        wazzup_v3_support::API_KEY,
        wazzup_v3_support::WEBHOOK_SECRET,
    ];

    let refused = messages
        .send_message(wazzup_v3_support::whatsapp_text("79999999999", "hi"))
        .await
        .expect_err("the upstream refuses");
    let failed = messages
        .delete_message(pb::DeleteMessageRequest {
            message_id: "m-1".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("the upstream fails");
    gateway.stop().await;

    for status in [&refused, &failed] {
        assert_no_secret(&visible(status), &secrets, "a gRPC error");
        assert!(visible(status).contains("[redacted]"), "{status:?}");
    }
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(failed.code(), tonic::Code::Unavailable);
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logged.contains("request failed"),
        "the failure was not logged"
    );
    assert_no_secret(&logged, &secrets, "the log");
}

#[tokio::test]
async fn a_tech_upstream_echoing_a_renewed_token_leaks_it_nowhere() {
    use wazzup_tech_support::{
        ACCESS_TOKEN, PARTNER_BASIC, PARTNER_CREDENTIALS, REFRESH_TOKEN, WHATSAPP, channel_list,
    };
    const RENEWED_TOKEN: &str = "renewed-access-5f0e1d2c3b4a";
    const ROTATED_REFRESH_TOKEN: &str = "rotated-refresh-a9b8c7d6e5f4";
    let logs = captured_logs();
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/channels"))
        .respond_with(ResponseTemplate::new(200).set_body_json(channel_list()))
        .mount(&upstream)
        .await;
    support::secrets::mount_renewal_then_echo(
        &upstream,
        ACCESS_TOKEN,
        RENEWED_TOKEN,
        ROTATED_REFRESH_TOKEN,
    )
    .await;
    let gateway = wazzup_tech_support::start_tech_with_refresh(&upstream).await;
    let send = pb::SendMessageRequest {
        channel_id: WHATSAPP.to_owned(),
        recipient: support::recipient(pb::ChatType::Whatsapp, "79999999999"),
        content: Some(pb::send_message_request::Content::Text("hi".to_owned())),
        ..Default::default()
    };

    let failed = gateway
        .messages()
        .await
        .send_message(send)
        .await
        .expect_err("the upstream fails");
    gateway.stop().await;

    let basic = PARTNER_BASIC.trim_start_matches("Basic ");
    let password = PARTNER_CREDENTIALS.split_once(':').unwrap().1;
    let secrets = [
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        basic,
        password,
        RENEWED_TOKEN,
        ROTATED_REFRESH_TOKEN,
    ];
    assert_eq!(failed.code(), tonic::Code::Unavailable, "{failed:?}");
    assert_no_secret(&visible(&failed), &secrets, "a gRPC error");
    assert!(visible(&failed).contains("[redacted]"), "{failed:?}");
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logged.contains("renewed the upstream access token"),
        "no renewal"
    );
    assert_no_secret(&logged, &secrets, "the log");
}
