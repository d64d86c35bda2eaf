//! `ExportService` through the running gateway against the sandbox: an export created, watched
//! from `PENDING` to `DONE` (the last step driven by the sandbox's `messages_dump.status_update`
//! event), and read back from the CSV the gateway serves; the refusals; and a tech v2 webhook
//! posted to a `wazzup_tech` account reaching a `Subscribe` stream typed.

mod support;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures::StreamExt as _;
use support::*;
use tonic::Code;
use tonic::transport::Channel;
use wazzup_gateway::proto::pb;

type ExportClient = pb::export_service_client::ExportServiceClient<Channel>;

async fn exports(gateway: &TestGateway) -> ExportClient {
    ExportClient::new(gateway.channel().await)
}

fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(time)
}

/// A request for the hour around now.
fn last_hour() -> pb::CreateMessageExportRequest {
    let now = SystemTime::now();
    pb::CreateMessageExportRequest {
        start_time: Some(timestamp(now - Duration::from_secs(3600))),
        end_time: Some(timestamp(now + Duration::from_secs(3600))),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_sandbox_export_is_watched_to_done_and_its_rows_are_read() {
    let gateway = TestGateway::sandbox().await;
    gateway
        .messages()
        .await
        .send_message(text_send(WHATSAPP_CHANNEL, "79991112233", "hello, export"))
        .await
        .unwrap();
    gateway
        .sandbox_service()
        .await
        .inject_incoming_message(pb::InjectIncomingMessageRequest {
            channel_id: WHATSAPP_CHANNEL.to_owned(),
            chat_id: "79991112233".to_owned(),
            text: "a reply\non two lines".to_owned(),
            contact_name: "Ivan".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut client = exports(&gateway).await;

    let created = client
        .create_message_export(last_hour())
        .await
        .unwrap()
        .into_inner()
        .export
        .unwrap();
    assert_eq!(created.state(), pb::ExportState::Pending);
    let mut watch = client
        .watch_message_export(pb::WatchMessageExportRequest {
            export_id: created.export_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut states = Vec::new();
    let mut url = String::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("the watch moves")
        .expect("the watch ends OK")
    {
        let export = message.export.unwrap();
        states.push(export.state());
        url = export.url;
    }

    use pb::ExportState::{Done, Pending, Processing};
    assert!(
        states == [Pending, Processing, Done] || states == [Pending, Done],
        "{states:?}"
    );
    assert!(
        url.starts_with(&format!("http://{}/sandbox/exports/", gateway.admin_addr)),
        "{url}"
    );

    let rows: Vec<pb::MessageExportRow> = client
        .read_message_export(pb::ReadMessageExportRequest {
            export_id: created.export_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .map(|message| message.unwrap().row.unwrap())
        .collect()
        .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].direction(), pb::Direction::Outbound);
    assert_eq!(rows[0].transport(), pb::Transport::Whatsapp);
    assert_eq!(rows[0].chat_id, "79991112233");
    assert_eq!(rows[0].other_columns["text"], "hello, export");
    assert_eq!(rows[1].direction(), pb::Direction::Inbound);
    assert_eq!(rows[1].user_name, "Ivan");
    assert_eq!(rows[1].other_columns["text"], "a reply\non two lines");
    assert_eq!(rows[1].line_number, 3);
    assert!(rows[1].sent_at.is_some());
    gateway.stop().await;
}

#[tokio::test]
async fn reading_an_unfinished_export_is_a_failed_precondition() {
    let gateway = TestGateway::sandbox().await;
    let mut client = exports(&gateway).await;
    let created = client
        .create_message_export(last_hour())
        .await
        .unwrap()
        .into_inner()
        .export
        .unwrap();

    let status = client
        .read_message_export(pb::ReadMessageExportRequest {
            export_id: created.export_id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("refused");

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&status).0, "EXPORT_NOT_READY");
    assert_eq!(metadata_of(&status)["exportId"], created.export_id);
    let unknown = client
        .get_message_export(pb::GetMessageExportRequest {
            export_id: "no-such-export".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(reason_of(&unknown).0, "EXPORT_NOT_FOUND");
    let file = format!("/sandbox/exports/sandbox/{}.csv", created.export_id);
    assert_eq!(
        gateway.admin_get(&file).await.0,
        404,
        "not served before done"
    );
    assert_eq!(
        gateway
            .admin_get("/sandbox/exports/sandbox/no-such-export.csv")
            .await
            .0,
        404
    );
    gateway.stop().await;
}

#[tokio::test]
async fn bad_periods_are_invalid_arguments_naming_the_field() {
    let gateway = TestGateway::sandbox().await;
    let mut client = exports(&gateway).await;
    let now = SystemTime::now();
    let day = Duration::from_secs(24 * 3600);
    let cases = [
        (
            pb::CreateMessageExportRequest::default(),
            vec!["start_time", "end_time"],
        ),
        (
            pb::CreateMessageExportRequest {
                start_time: Some(timestamp(now)),
                end_time: Some(timestamp(now - day)),
                ..Default::default()
            },
            vec!["end_time"],
        ),
        (
            pb::CreateMessageExportRequest {
                start_time: Some(timestamp(now - 400 * day)),
                end_time: Some(timestamp(now)),
                ..Default::default()
            },
            vec!["end_time"],
        ),
        (
            pb::CreateMessageExportRequest {
                channel_id: "no-such-channel".to_owned(),
                ..last_hour()
            },
            vec![],
        ),
    ];
    for (request, fields) in cases {
        let status = client.create_message_export(request).await.unwrap_err();
        if fields.is_empty() {
            assert_eq!(status.code(), Code::NotFound, "{status:?}");
            continue;
        }
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(violated_fields(&status), fields);
    }
    let missing_id = client
        .watch_message_export(pb::WatchMessageExportRequest::default())
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap_err();
    assert_eq!(missing_id.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&missing_id), ["export_id"]);
    gateway.stop().await;
}

/// A gateway with one `wazzup_tech` account `partner` (webhook secret `tech-secret`).
async fn tech_gateway() -> TestGateway {
    let toml = "[[accounts]]\nname = \"partner\"\ndialect = \"wazzup_tech\"\ndefault = true\n";
    let env = HashMap::from([
        (
            "WGW_ACCOUNT_PARTNER_API_KEY".to_owned(),
            "test-token".to_owned(),
        ),
        (
            "WGW_ACCOUNT_PARTNER_WEBHOOK_SECRET".to_owned(),
            "tech-secret".to_owned(),
        ),
    ]);
    TestGateway::start_with(toml, &env).await
}

/// Posts a v2 webhook body to the `partner` account.
async fn post_tech_webhook(
    webhook_addr: std::net::SocketAddr,
    body: serde_json::Value,
) -> reqwest::Response {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .post(format!(
            "http://{webhook_addr}/webhooks/partner/tech-secret"
        ))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Opens a subscription from the oldest event and returns its first event.
async fn first_event(gateway: &TestGateway) -> pb::Event {
    let mut events = gateway.events().await;
    let mut stream = events
        .subscribe(pb::SubscribeRequest {
            start: Some(pb::subscribe_request::Start::Earliest(true)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("an event arrives")
            .unwrap()
            .unwrap();
        if let Some(pb::subscribe_response::Kind::Event(event)) = message.kind {
            return event;
        }
    }
}

#[tokio::test]
async fn a_tech_v2_webhook_reaches_the_stream_typed() {
    let gateway = tech_gateway().await;
    let body = serde_json::json!({
        "event": "message.status_update",
        "data": [{ "request_id": "req-7", "message_id": "msg-7", "status": "sent", "channel_id": "ch-1" }],
        "meta": { "idempotency_key": "key-1", "timestamp": 1762340623 }
    });

    let answer = post_tech_webhook(gateway.webhook_addr, body).await;
    let event = first_event(&gateway).await;

    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(event.r#type(), pb::EventType::MessageStatus);
    assert_eq!(event.dialect, "wazzup_tech");
    assert_eq!(event.id, "wazzup_tech:partner:key-1:0");
    let Some(pb::event::Payload::Status(status)) = event.payload else {
        panic!("{:?}", event.payload);
    };
    assert_eq!(
        (status.request_id.as_str(), status.message_id.as_str()),
        ("req-7", "msg-7")
    );
    assert_eq!(status.status(), pb::MessageStatus::Sent);
    gateway.stop().await;
}

#[tokio::test]
async fn a_tech_v2_contact_request_is_answered_through_respond() {
    let gateway = tech_gateway().await;
    // [U] the item shape of crm_entities.contact_add; the item is handed over as sent.
    let body = serde_json::json!({
        "event": "crm_entities.contact_add",
        "data": [{ "name": "Ann", "contact_data": [{ "chat_type": "telegram", "chat_id": "42" }] }],
        "meta": { "idempotency_key": "crm-key", "timestamp": 1762340623 }
    });
    let webhook_addr = gateway.webhook_addr;
    let held = tokio::spawn(async move {
        let answer = post_tech_webhook(webhook_addr, body).await;
        let status = answer.status().as_u16();
        (status, answer.json::<serde_json::Value>().await.unwrap())
    });

    let event = first_event(&gateway).await;
    assert_eq!(event.r#type(), pb::EventType::ContactRequested);
    let Some(pb::event::Payload::CrmRequest(request)) = &event.payload else {
        panic!("{:?}", event.payload);
    };
    assert_eq!(request.kind(), pb::CrmEntityKind::Contact);
    let mut client = gateway.events().await;
    let created = prost_types::Struct {
        fields: [(
            "id".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue(
                    "contact-1".to_owned(),
                )),
            },
        )]
        .into(),
    };
    let delivered = client
        .respond(pb::RespondRequest {
            event_id: event.id.clone(),
            body: Some(created),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (status, answer) = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the held webhook is answered")
        .unwrap();

    assert!(delivered.delivered);
    assert_eq!(status, 200);
    assert_eq!(answer, serde_json::json!({ "id": "contact-1" }));
    gateway.stop().await;
}
