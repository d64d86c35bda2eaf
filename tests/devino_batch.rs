//! `BatchSendMessages` on a Devino account: sent natively in chunks of the configured size, in
//! order, one result per item with its field paths; whole-request failures typed for every item
//! of the chunk; retries only when every item carries an idempotency key; the idempotency store
//! answering keyed items one by one; Devino items beside items of other accounts.

#[path = "support/devino.rs"]
mod devino_support;
mod support;

use std::collections::HashMap;

use devino_support::*;
use serde_json::json;
use support::{TestGateway, WHATSAPP_CHANNEL, text_send};
use tonic::Code;
use tonic_types::pb::{BadRequest, ErrorInfo};
use wazzup_gateway::proto::pb;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use prost::Message as _;

/// A batch of `requests` for the Devino account.
fn batch(requests: Vec<pb::SendMessageRequest>) -> pb::BatchSendMessagesRequest {
    pb::BatchSendMessagesRequest {
        account: ACCOUNT.to_owned(),
        requests,
    }
}

/// What a test asserts of one result.
#[derive(Debug, PartialEq)]
enum Item {
    Sent {
        message_id: String,
        replayed: bool,
    },
    Failed {
        code: Code,
        reason: String,
        domain: String,
        fields: Vec<String>,
    },
}

fn sent(message_id: &str) -> Item {
    Item::Sent {
        message_id: message_id.to_owned(),
        replayed: false,
    }
}

fn failed(code: Code, reason: &str, domain: &str, fields: &[&str]) -> Item {
    Item::Failed {
        code,
        reason: reason.to_owned(),
        domain: domain.to_owned(),
        fields: fields.iter().map(|field| (*field).to_owned()).collect(),
    }
}

/// Sends `request` and reads each result.
async fn send(gateway: &TestGateway, request: pb::BatchSendMessagesRequest) -> Vec<Item> {
    let results = gateway
        .messages()
        .await
        .batch_send_messages(request)
        .await
        .expect("a batch answers OK")
        .into_inner()
        .results;
    results.into_iter().map(item).collect()
}

fn item(result: pb::BatchSendResult) -> Item {
    match result.result.expect("a result") {
        pb::batch_send_result::Result::Response(response) => Item::Sent {
            message_id: response.message_id,
            replayed: response.replayed,
        },
        pb::batch_send_result::Result::Error(status) => {
            let detail = |suffix: &str| {
                status
                    .details
                    .iter()
                    .find(|any| any.type_url.ends_with(suffix))
                    .map(|any| any.value.clone())
            };
            let info =
                ErrorInfo::decode(detail("ErrorInfo").expect("ErrorInfo").as_slice()).unwrap();
            let fields = detail("BadRequest")
                .map(|bytes| BadRequest::decode(bytes.as_slice()).unwrap())
                .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
                .unwrap_or_default();
            Item::Failed {
                code: Code::from_i32(status.code),
                reason: info.reason,
                domain: info.domain,
                fields,
            }
        }
    }
}

fn message(to: &str, text: &str) -> serde_json::Value {
    json!({"from": SENDER, "to": to, "text": text, "callbackUrl": CALLBACK_URL})
}

#[tokio::test]
async fn a_batch_goes_in_chunks_in_order_and_rejections_name_the_callers_fields() {
    let upstream = MockServer::start().await;
    expect_messages(
        &upstream,
        json!({"messages": [message("79000000000", "a"), message("79000000001", "b")]}),
        json!({"result": [{"code": "OK", "messageId": "3482512350952730368"},
                          {"code": "OK", "messageId": "3482512350952730369"}]}),
        1,
    )
    .await;
    expect_messages(
        &upstream,
        json!({"messages": [message("79000000002", "c"), message("79000000003", "d")]}),
        json!({"result": [
            {"code": "OK", "messageId": "3482512350952730370"},
            {"code": "REJECTED", "reasons": [{"key": "invalid", "ref": "messages[1].to"}],
             "description": "Wrong phone number is provided"},
        ]}),
        1,
    )
    .await;
    let gateway = start_devino(&upstream, "batch_chunk_size = 2").await;
    let requests = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(index, text)| text_to(&format!("7900000000{index}"), text))
        .collect();

    let items = send(&gateway, batch(requests)).await;

    assert_eq!(
        items,
        [
            sent("3482512350952730368"),
            sent("3482512350952730369"),
            sent("3482512350952730370"),
            failed(
                Code::InvalidArgument,
                "invalid",
                "api.devino.online",
                &["requests[3].recipient.chat_id"]
            ),
        ]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_result_object_and_reasons_object_are_read_and_invalid_items_are_not_sent() {
    let upstream = MockServer::start().await;
    expect_messages(
        &upstream,
        json!({"messages": [message("79000000000", "a")]}),
        json!({"result": {"code": "REJECTED", "reasons": {"length.too.long": "messages[0].text"}}}),
        1,
    )
    .await;
    let gateway = start_devino(&upstream, "").await;
    let requests = vec![
        text_to("79000000000", "a"),
        text_to("79000000001", &"x".repeat(1001)),
    ];

    let items = send(&gateway, batch(requests)).await;

    assert_eq!(
        items,
        [
            failed(
                Code::InvalidArgument,
                "length.too.long",
                "api.devino.online",
                &["requests[0].text"]
            ),
            failed(
                Code::InvalidArgument,
                "INVALID_REQUEST",
                "wazzup-gateway",
                &["requests[1].text"]
            ),
        ]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_whole_batch_401_or_5xx_fails_every_item_and_an_unkeyed_batch_is_sent_once() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/whatsapp/messages"))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/whatsapp/messages"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_devino(&upstream, "").await;
    let requests = || vec![text_to("79000000000", "a"), text_to("79000000001", "b")];

    let refused = send(&gateway, batch(requests())).await;
    let credentials = || {
        failed(
            Code::Internal,
            "UPSTREAM_CREDENTIALS_REJECTED",
            "wazzup-gateway",
            &[],
        )
    };
    assert_eq!(refused, [credentials(), credentials()]);

    let unavailable = send(&gateway, batch(requests())).await;
    let down = || {
        failed(
            Code::Unavailable,
            "UPSTREAM_UNAVAILABLE",
            "wazzup-gateway",
            &[],
        )
    };
    assert_eq!(unavailable, [down(), down()]);
    gateway.stop().await;
}

#[tokio::test]
async fn a_keyed_batch_is_retried_and_its_items_replay_from_the_store_one_by_one() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/whatsapp/messages"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&upstream)
        .await;
    expect_messages(
        &upstream,
        json!({"messages": [message("79000000000", "a"), message("79000000001", "b")]}),
        json!({"result": [{"code": "OK", "messageId": "11"}, {"code": "OK", "messageId": "12"}]}),
        1,
    )
    .await;
    expect_messages(
        &upstream,
        json!({"messages": [message("79000000002", "c")]}),
        json!({"result": [{"code": "OK", "messageId": "13"}]}),
        1,
    )
    .await;
    let gateway = start_devino(&upstream, "").await;
    let keyed = |to: &str, text: &str, key: &str| {
        let mut request = text_to(to, text);
        request.idempotency_key = key.to_owned();
        request
    };

    let first = send(
        &gateway,
        batch(vec![
            keyed("79000000000", "a", "k-a"),
            keyed("79000000001", "b", "k-b"),
        ]),
    )
    .await;
    assert_eq!(first, [sent("11"), sent("12")]);

    // The recorded items answer from the store; only the new one is sent.
    let second = send(
        &gateway,
        batch(vec![
            keyed("79000000001", "b", "k-b"),
            keyed("79000000002", "c", "k-c"),
            keyed("79000000001", "b", "k-b"),
        ]),
    )
    .await;
    let replayed = |message_id: &str| Item::Sent {
        message_id: message_id.to_owned(),
        replayed: true,
    };
    assert_eq!(second, [replayed("12"), sent("13"), replayed("12")]);
    gateway.stop().await;
}

#[tokio::test]
async fn devino_items_and_items_of_other_accounts_share_one_batch() {
    let upstream = MockServer::start().await;
    expect_messages(
        &upstream,
        json!({"messages": [message("79000000000", "a"), message("79000000002", "c")]}),
        json!({"result": [{"code": "OK", "messageId": "21"}, {"code": "OK", "messageId": "22"}]}),
        1,
    )
    .await;
    let mut env = devino_env(API_KEY);
    env.extend(HashMap::from([(
        "WGW_SANDBOX".to_owned(),
        "true".to_owned(),
    )]));
    let gateway = TestGateway::start_with(&devino_toml(&upstream.uri(), true, ""), &env).await;
    let mut sandbox_item = text_send(WHATSAPP_CHANNEL, "79000000001", "b");
    sandbox_item.account = "sandbox".to_owned();

    let items = send(
        &gateway,
        batch(vec![
            text_to("79000000000", "a"),
            sandbox_item,
            text_to("79000000002", "c"),
        ]),
    )
    .await;

    assert_eq!(items[0], sent("21"));
    assert!(
        matches!(&items[1], Item::Sent { message_id, replayed: false } if !message_id.is_empty()),
        "{:?}",
        items[1]
    );
    assert_eq!(items[2], sent("22"));
    gateway.stop().await;
}

#[tokio::test]
async fn one_key_twice_in_a_batch_is_one_send_and_a_different_request_with_it_is_refused() {
    let upstream = MockServer::start().await;
    expect_messages(
        &upstream,
        json!({"messages": [message("79000000000", "a")]}),
        json!({"result": [{"code": "OK", "messageId": "31"}]}),
        1,
    )
    .await;
    let gateway = start_devino(&upstream, "").await;
    let keyed = |text: &str| {
        let mut request = text_to("79000000000", text);
        request.idempotency_key = "k-1".to_owned();
        request
    };

    let items = send(
        &gateway,
        batch(vec![keyed("a"), keyed("a"), keyed("other")]),
    )
    .await;

    assert_eq!(
        items,
        [
            sent("31"),
            Item::Sent {
                message_id: "31".to_owned(),
                replayed: true
            },
            failed(
                Code::FailedPrecondition,
                "IDEMPOTENCY_KEY_REUSED",
                "wazzup-gateway",
                &[]
            ),
        ]
    );
    gateway.stop().await;
}
