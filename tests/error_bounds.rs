//! Errors stay small whatever the request holds: a huge id, account name or list comes back as a
//! bounded `grpc-message`, bounded detail strings and at most a few field violations (with the
//! total in `violationCount`), and the log lines about the call stay bounded too.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use support::{TestGateway, metadata_of, reason_of, text_send, violated_fields};
use tonic::Code;
use tonic_types::StatusExt as _;
use wazzup_gateway::proto::pb;

/// Longest `grpc-message` (the README states these bounds).
const MAX_STATUS_MESSAGE_BYTES: usize = 512;
/// Longest string inside an error detail.
const MAX_DETAIL_BYTES: usize = 128;
/// Most field violations in one `BadRequest`.
const MAX_FIELD_VIOLATIONS: usize = 8;

/// A mebibyte of one character: far over every bound.
fn huge() -> String {
    "x".repeat(1 << 20)
}

/// Asserts that `status` is bounded: its message, every detail string, and its violation count.
fn assert_bounded(status: &tonic::Status) {
    assert!(
        status.message().len() <= MAX_STATUS_MESSAGE_BYTES,
        "message of {} bytes",
        status.message().len()
    );
    let details = status.get_error_details();
    let info = details.error_info().expect("error info");
    assert!(info.reason.len() <= MAX_DETAIL_BYTES);
    for (key, value) in &info.metadata {
        assert!(key.len() <= MAX_DETAIL_BYTES, "metadata key {key:.40}");
        assert!(value.len() <= MAX_DETAIL_BYTES, "metadata {key} value");
    }
    if let Some(bad_request) = details.bad_request() {
        assert!(bad_request.field_violations.len() <= MAX_FIELD_VIOLATIONS);
        for violation in &bad_request.field_violations {
            assert!(violation.field.len() <= MAX_DETAIL_BYTES);
            assert!(violation.description.len() <= MAX_DETAIL_BYTES);
        }
    }
    // Message, ErrorInfo and a full BadRequest together fit in a few KiB.
    assert!(
        status.details().len() <= 4096,
        "{} detail bytes",
        status.details().len()
    );
}

#[tokio::test]
async fn a_huge_channel_id_gets_a_small_error_naming_the_field() {
    let gateway = TestGateway::sandbox().await;

    let status = gateway
        .channels()
        .await
        .get_channel(pb::GetChannelRequest {
            channel_id: huge(),
            ..Default::default()
        })
        .await
        .expect_err("refused");

    assert_bounded(&status);
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{:.200}",
        status.message()
    );
    assert_eq!(violated_fields(&status), ["channel_id"]);
    gateway.stop().await;
}

#[tokio::test]
async fn an_unknown_channel_id_is_echoed_cut_to_the_detail_bound() {
    let gateway = TestGateway::sandbox().await;

    let status = gateway
        .channels()
        .await
        .get_channel(pb::GetChannelRequest {
            channel_id: "c".repeat(250),
            ..Default::default()
        })
        .await
        .expect_err("no such channel");

    assert_eq!(status.code(), Code::NotFound, "{:.200}", status.message());
    assert_bounded(&status);
    let channel_id = &metadata_of(&status)["channelId"];
    assert!(channel_id.starts_with("cccc") && channel_id.ends_with('…'));
    gateway.stop().await;
}

#[tokio::test]
async fn a_huge_account_name_is_refused_with_a_bounded_error() {
    let gateway = TestGateway::sandbox().await;
    let mut send = text_send(support::WHATSAPP_CHANNEL, "79011112233", "hi");
    send.account = huge();

    let status = gateway
        .messages()
        .await
        .send_message(send)
        .await
        .expect_err("unknown account");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason_of(&status).0, "UNKNOWN_ACCOUNT");
    assert_bounded(&status);
    gateway.stop().await;
}

#[tokio::test]
async fn ten_thousand_bad_accounts_report_a_few_violations_and_their_count() {
    let gateway = TestGateway::sandbox().await;
    let accounts = (0..10_000).map(|index| format!("nobody-{index}")).collect();

    let status = gateway
        .events()
        .await
        .subscribe(pb::SubscribeRequest {
            accounts,
            ..Default::default()
        })
        .await
        .expect_err("unknown accounts");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_bounded(&status);
    assert_eq!(
        violated_fields(&status),
        (0..MAX_FIELD_VIOLATIONS)
            .map(|index| format!("accounts[{index}]"))
            .collect::<Vec<_>>()
    );
    assert_eq!(metadata_of(&status)["violationCount"], "10000");
    gateway.stop().await;
}

/// Every line written by the tracing subscriber of this test binary.
#[derive(Clone, Default)]
struct CapturedLines(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a debug-level subscriber writing into one buffer (once per test binary).
fn captured_logs() -> CapturedLines {
    static LINES: OnceLock<CapturedLines> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let lines = CapturedLines::default();
            let writer = lines.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .init();
            lines
        })
        .clone()
}

#[tokio::test]
async fn debug_logs_of_huge_requests_stay_bounded() {
    let logs = captured_logs();
    let gateway = TestGateway::sandbox().await;

    let refused = gateway
        .channels()
        .await
        .get_channel(pb::GetChannelRequest {
            channel_id: huge(),
            ..Default::default()
        })
        .await;
    assert!(refused.is_err());
    let mut send = text_send(&huge(), "79011112233", "hi");
    send.account = huge();
    assert!(gateway.messages().await.send_message(send).await.is_err());
    gateway.stop().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("request refused"), "the refusals are logged");
    let longest = text.lines().map(str::len).max().unwrap_or_default();
    assert!(longest <= 4096, "a log line of {longest} bytes");
}
