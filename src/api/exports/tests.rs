//! The export service over a scripted upstream: every state a watch can see, polling without
//! events, event-driven completion, the drain, and reading a CSV served by a local mock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt as _;
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::watch;
use tonic::{Code, Request};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::events::decode::WebhookSource;
use crate::events::log::EventLog as _;
use crate::events::testing::RecordingLog;
use crate::idempotency::EmbeddedIdempotencyStore;
use crate::model::Dialect;
use crate::model::{ExportRequest, ExportState, MessageExport};
use crate::proto::pb::export_service_server::ExportService as _;
use crate::service::{Account, Accounts, IdempotentSends, PollPolicy, SendTiming};
use crate::telemetry::metrics::IdempotencyMetrics;
use crate::upstream::registry::WEBHOOK_DECODERS;
use crate::upstream::transport::Downloads;
use crate::upstream::{CallContext, Upstream, UpstreamError};

/// An upstream answering `get_message_export` from a script; the last answer repeats.
#[derive(Debug)]
struct Scripted {
    answers: Mutex<VecDeque<MessageExport>>,
}

#[async_trait::async_trait]
impl Upstream for Scripted {
    fn dialect(&self) -> Dialect {
        Dialect::WazzupTech
    }

    async fn create_message_export(
        &self,
        _request: &ExportRequest,
        _call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        Ok(export("e1", "pending", ""))
    }

    async fn get_message_export(
        &self,
        export_id: &str,
        _call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        if export_id != "e1" {
            return Err(UpstreamError::ExportNotFound {
                export_id: export_id.to_owned(),
            });
        }
        let mut answers = self.answers.lock();
        let answer = answers.front().cloned().expect("a scripted answer");
        if answers.len() > 1 {
            answers.pop_front();
        }
        Ok(answer)
    }
}

fn export(export_id: &str, state_raw: &str, url: &str) -> MessageExport {
    MessageExport {
        export_id: export_id.to_owned(),
        state: ExportState::from_upstream(state_raw),
        state_raw: state_raw.to_owned(),
        url: url.to_owned(),
    }
}

/// The service over one `wazzup_tech`-like account answering `script`, with its log and drain.
struct Fixture {
    api: ExportsApi,
    log: Arc<RecordingLog>,
    drain: watch::Sender<bool>,
    _data_dir: tempfile::TempDir,
}

fn fixture(script: Vec<MessageExport>) -> Fixture {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let store =
        EmbeddedIdempotencyStore::open(data_dir.path(), SystemTime::now()).expect("store opens");
    let sends = Arc::new(IdempotentSends::new(
        Arc::new(store),
        SendTiming::for_test(Duration::from_secs(3600)),
        IdempotencyMetrics::default(),
    ));
    let upstream = Arc::new(Scripted {
        answers: Mutex::new(script.into()),
    });
    let account = Account::new(
        "partner",
        upstream,
        sends,
        Downloads::new().expect("client builds"),
    );
    let accounts = Accounts::new(vec![account], Some("partner".to_owned()));
    let log = Arc::new(RecordingLog::new());
    let (drain, draining) = watch::channel(false);
    let watching = ExportWatching {
        log: log.clone(),
        draining,
        poll: PollPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(40),
        },
    };
    let context = ApiContext {
        accounts: Arc::new(accounts),
        crm_response_timeout: Duration::from_secs(25),
    };
    Fixture {
        api: ExportsApi::new(context, watching),
        log,
        drain,
        _data_dir: data_dir,
    }
}

fn watch_request(export_id: &str) -> Request<pb::WatchMessageExportRequest> {
    Request::new(pb::WatchMessageExportRequest {
        account: String::new(),
        export_id: export_id.to_owned(),
    })
}

/// Reads the whole watch stream: the states, then how it ended.
async fn watch_all(api: &ExportsApi, export_id: &str) -> (Vec<pb::ExportState>, Option<Code>) {
    let mut stream = api
        .watch_message_export(watch_request(export_id))
        .await
        .expect("the watch opens")
        .into_inner();
    let mut states = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(message))) => states.push(message.export.unwrap().state()),
            Ok(Some(Err(status))) => return (states, Some(status.code())),
            Ok(None) => return (states, None),
            Err(_) => panic!("the watch stalled after {states:?}"),
        }
    }
}

#[tokio::test]
async fn polling_reports_each_state_once_and_ends_after_done() {
    let url = "http://127.0.0.1:9/e1.csv";
    let fixture = fixture(vec![
        export("e1", "pending", ""),
        export("e1", "pending", ""),
        export("e1", "processing", ""),
        export("e1", "processing", ""),
        export("e1", "done", url),
    ]);
    let (states, end) = watch_all(&fixture.api, "e1").await;
    use pb::ExportState::{Done, Pending, Processing};
    assert_eq!(states, [Pending, Processing, Done]);
    assert_eq!(end, None, "ends OK");
}

#[tokio::test]
async fn webhook_failed_and_unknown_states_are_reported_and_the_former_ends_the_watch() {
    let fixture = fixture(vec![
        export("e1", "queued_somewhere", ""),
        export("e1", "webhook_failed", "http://127.0.0.1:9/e1.csv"),
    ]);
    let (states, end) = watch_all(&fixture.api, "e1").await;
    assert_eq!(
        states,
        [pb::ExportState::Other, pb::ExportState::WebhookFailed]
    );
    assert_eq!(end, None);
}

#[tokio::test]
async fn an_export_ready_event_finishes_the_watch_without_waiting_for_a_poll() {
    let mut fixture = fixture(vec![export("e1", "processing", "")]);
    fixture.api.watching.poll = PollPolicy {
        initial: Duration::from_secs(3600),
        max: Duration::from_secs(3600),
    };
    let mut stream = fixture
        .api
        .watch_message_export(watch_request("e1"))
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.export.unwrap().state(), pb::ExportState::Processing);

    let body = json!({
        "event": "messages_dump.status_update",
        "data": [{"export_id": "e1", "status": "done", "url": "http://127.0.0.1:9/e1.csv"}],
        "meta": {"idempotency_key": "k", "timestamp": 1}
    });
    let source = WebhookSource {
        account: "partner",
        dialect: Dialect::WazzupTech,
        received_at_ms: 1,
    };
    let events = WEBHOOK_DECODERS
        .decode_webhook(source, &serde_json::to_vec(&body).unwrap())
        .events;
    fixture.log.append(events).await.unwrap();

    let done = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the event drives the watch")
        .unwrap()
        .unwrap();
    let done = done.export.unwrap();
    assert_eq!(done.state(), pb::ExportState::Done);
    assert_eq!(done.url, "http://127.0.0.1:9/e1.csv");
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn the_drain_ends_a_watch_with_unavailable() {
    let fixture = fixture(vec![export("e1", "processing", "")]);
    let mut stream = fixture
        .api
        .watch_message_export(watch_request("e1"))
        .await
        .unwrap()
        .into_inner();
    assert!(stream.next().await.unwrap().is_ok());
    fixture.drain.send_replace(true);
    let status = stream.next().await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn an_unknown_export_ends_the_watch_with_not_found() {
    let fixture = fixture(vec![export("e1", "pending", "")]);
    let (states, end) = watch_all(&fixture.api, "nope").await;
    assert!(states.is_empty());
    assert_eq!(end, Some(Code::NotFound));
}

fn read_request(export_id: &str) -> Request<pb::ReadMessageExportRequest> {
    Request::new(pb::ReadMessageExportRequest {
        account: String::new(),
        export_id: export_id.to_owned(),
    })
}

#[tokio::test]
async fn reading_streams_the_rows_of_the_downloaded_csv() {
    let server = MockServer::start().await;
    let csv = "\u{feff}direction;chat_id;datetime;text\r\ninbound;79001;2025-11-05 10:00:00;\"a;\nb\"\r\noutbound;79002;;ok\r\n";
    Mock::given(method("GET"))
        .and(path("/files/e1.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_string(csv))
        .mount(&server)
        .await;
    let url = format!("{}/files/e1.csv", server.uri());
    let fixture = fixture(vec![export("e1", "done", &url)]);

    let rows: Vec<pb::MessageExportRow> = fixture
        .api
        .read_message_export(read_request("e1"))
        .await
        .expect("the read starts")
        .into_inner()
        .map(|message| message.unwrap().row.unwrap())
        .collect()
        .await;

    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].line_number, 2);
    assert_eq!(rows[0].direction(), pb::Direction::Inbound);
    assert_eq!(rows[0].chat_id, "79001");
    assert_eq!(rows[0].other_columns["text"], "a;\nb");
    assert_eq!(rows[0].sent_at.unwrap().seconds, 1_762_336_800);
    assert_eq!(rows[1].line_number, 4);
    assert_eq!(rows[1].sent_at, None);
}

#[tokio::test]
async fn reading_before_done_a_missing_file_and_a_broken_file_fail_clearly() {
    let pending = fixture(vec![export("e1", "processing", "")]);
    let status = pending
        .api
        .read_message_export(read_request("e1"))
        .await
        .err()
        .expect("refused");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("processing"),
        "{}",
        status.message()
    );

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/broken.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_string("a,b\n1,2\n1,2,3\n"))
        .mount(&server)
        .await;
    let gone = fixture(vec![export(
        "e1",
        "done",
        &format!("{}/gone.csv", server.uri()),
    )]);
    let status = gone
        .api
        .read_message_export(read_request("e1"))
        .await
        .err()
        .expect("refused");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        !status.message().contains("gone.csv"),
        "the link is not shown"
    );

    let broken = fixture(vec![export(
        "e1",
        "done",
        &format!("{}/broken.csv", server.uri()),
    )]);
    let results: Vec<_> = broken
        .api
        .read_message_export(read_request("e1"))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let status = results[1].as_ref().unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert!(
        status
            .message()
            .contains("line 3: 3 fields where the header has 2"),
        "{}",
        status.message()
    );
}
