//! The Devino decoder over the document's examples and hand-made bodies for the tolerance rules.

use serde_json::json;

use crate::events::decode::{DecodedWebhook, WebhookSource};
use crate::events::payload::{
    Direction, EventPayload, MessagePayload, MessageStatus, MessageType, StatusPayload,
};
use crate::events::{EventType, NewEvent};
use crate::model::{ChatType, Dialect};
use crate::upstream::devino::channels::Sender;
use crate::upstream::registry::WEBHOOK_DECODERS;

fn decode(body: &str) -> DecodedWebhook {
    let source = WebhookSource {
        account: "notify",
        dialect: Dialect::Devino,
        received_at_ms: 1_746_540_000_000,
    };
    WEBHOOK_DECODERS.decode_webhook(source, body.as_bytes())
}

fn single(body: &str) -> NewEvent {
    let decoded = decode(body);
    assert_eq!(decoded.events.len(), 1, "{:?}", decoded.events);
    decoded.events.into_iter().next().unwrap()
}

fn status(event: &NewEvent) -> StatusPayload {
    match WEBHOOK_DECODERS.payload(event).into_owned() {
        EventPayload::Status(status) => status,
        other => panic!("expected a status, got {other:?}"),
    }
}

fn message(event: &NewEvent) -> MessagePayload {
    match WEBHOOK_DECODERS.payload(event).into_owned() {
        EventPayload::Message(message) => *message,
        other => panic!("expected a message, got {other:?}"),
    }
}

const STATUS: &str = r#"{"messageId": 3482512350952730368, "ts": 1746540000, "status": "DELIVERED",
    "errorCode": 0, "ip": "", "browser": "string", "os": "string", "userAgent": "string",
    "options": "order-42"}"#;

#[test]
fn a_status_callback_is_a_message_status_with_its_callback_data_and_time() {
    let event = single(STATUS);
    assert_eq!(event.event_type, EventType::MessageStatus);
    assert_eq!(
        event.id,
        "devino:notify:status:3482512350952730368:delivered:1746540000"
    );
    assert_eq!(event.occurred_at_ms, Some(1_746_540_000_000));
    assert_eq!(decode(STATUS).kind, "status");
    let status = status(&event);
    assert_eq!(status.message_id, "3482512350952730368");
    assert_eq!(status.status, Some(MessageStatus::Delivered));
    assert_eq!(status.status_raw, "DELIVERED");
    assert_eq!(status.callback_data, "order-42");
    assert_eq!(status.occurred_at_ms, Some(1_746_540_000_000));
    assert_eq!(status.error, None);
}

#[test]
fn callback_data_is_read_from_its_own_field_before_options() {
    let event = single(
        r#"{"messageId": "1", "status": "SENT", "callbackData": "own", "options": "other"}"#,
    );
    assert_eq!(status(&event).callback_data, "own");
}

#[test]
fn statuses_map_case_insensitively_and_unknown_ones_are_kept_raw() {
    let table = [
        ("SENT", MessageStatus::Sent),
        ("delivered", MessageStatus::Delivered),
        ("Read", MessageStatus::Read),
        ("UNDELIVERED", MessageStatus::Error),
        ("failed", MessageStatus::Error),
        ("cancelled", MessageStatus::Error),
        ("EXPIRED", MessageStatus::Expired),
        ("vp_expired", MessageStatus::Expired),
        ("CLICKED", MessageStatus::Clicked),
        ("visited", MessageStatus::Clicked),
        ("enqueued", MessageStatus::Accepted),
        ("TELEPORTED", MessageStatus::Other),
    ];
    for (raw, expected) in table {
        let body = json!({"messageId": "1", "ts": 5, "status": raw}).to_string();
        let decoded = status(&single(&body));
        assert_eq!(decoded.status, Some(expected), "{raw}");
        assert_eq!(decoded.status_raw, raw);
    }
}

#[test]
fn error_codes_map_to_reasons_and_the_documents_descriptions() {
    let event =
        single(r#"{"messageId": "1", "ts": 5, "status": "UNDELIVERED", "errorCode": 2305}"#);
    let error = status(&event).error.unwrap();
    assert_eq!(error.code, "NOT_ON_WHATSAPP");
    assert_eq!(
        error.description,
        "User has not used or is no longer using WhatsApp"
    );
    assert_eq!(error.data, Some(json!({"errorCode": 2305})));
    let other =
        single(r#"{"messageId": "1", "ts": 5, "status": "FAILED", "errorCode": "USER_BLOCKED"}"#);
    let error = status(&other).error.unwrap();
    assert_eq!(error.code, "USER_BLOCKED");
    assert_eq!(error.description, "");
}

#[test]
fn an_array_body_gives_one_event_per_item_and_repeats_once() {
    let body =
        format!("[{STATUS}, {STATUS}, {{\"messageId\": \"9\", \"ts\": 6, \"status\": \"READ\"}}]");
    let decoded = decode(&body);
    let ids: Vec<&str> = decoded
        .events
        .iter()
        .map(|event| event.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "devino:notify:status:3482512350952730368:delivered:1746540000",
            "devino:notify:status:9:read:6",
        ]
    );
    // A redelivery of the same body gives the same ids.
    let again = decode(&body);
    assert_eq!(again.events, decoded.events);
}

const INCOMING: &str = r#"{"incomingMessageId": 77, "to": "MyCompany", "from": "79034567890",
    "text": "hello", "contentUrl": "https://cdn.example.com/a.jpg", "contentType": "image/jpeg",
    "contentName": "a.jpg", "profileName": "Ann", "ts": 1746540000123}"#;

#[test]
fn an_incoming_message_is_a_received_message_with_typed_fields() {
    let event = single(INCOMING);
    assert_eq!(event.event_type, EventType::MessageReceived);
    assert_eq!(event.id, "devino:notify:incoming:77");
    let channel_id = Sender::new("MyCompany").channel_id;
    assert_eq!(event.channel_id.as_deref(), Some(channel_id.as_str()));
    assert_eq!(decode(INCOMING).kind, "incoming");
    let message = message(&event);
    assert_eq!(message.message_id, "77");
    assert_eq!(message.channel_id, channel_id);
    assert_eq!(message.chat_id, "79034567890");
    assert_eq!(message.chat_type, Some(ChatType::Whatsapp));
    assert_eq!(message.text, "hello");
    assert_eq!(message.content_uri, "https://cdn.example.com/a.jpg");
    assert_eq!(message.content_mime_type, "image/jpeg");
    assert_eq!(message.content_name, "a.jpg");
    assert_eq!(message.message_type, Some(MessageType::Image));
    assert_eq!(message.contact.unwrap().name, "Ann");
    assert_eq!(message.sent_at_ms, Some(1_746_540_000_123));
    assert_eq!(message.status, Some(MessageStatus::Inbound));
    assert_eq!(message.direction, Some(Direction::Inbound));
}

#[test]
fn locations_and_shared_contacts_are_typed() {
    let body = json!([{
        "incomingMessageId": "78", "to": "MyCompany", "from": "79034567890", "ts": 5,
        "location": {"latitude": 55.75, "longitude": "37.61", "address": "Red Square",
                      "addressName": "Moscow", "addressurl": "https://maps.example.com/x"},
    }, {
        "incomingMessageId": "79", "to": "MyCompany", "from": "79034567890", "ts": 6,
        "contacts": [{"contactName": [{"formattedName": "Bob"}], "phones": [{"phone": "+1"}]}, 3],
    }])
    .to_string();
    let decoded = decode(&body);
    let located = message(&decoded.events[0]);
    assert_eq!(located.message_type, Some(MessageType::Geo));
    let location = located.location.unwrap();
    assert_eq!((location.latitude, location.longitude), (55.75, 37.61));
    assert_eq!(location.address_name, "Moscow");
    assert_eq!(location.url, "https://maps.example.com/x");
    let card = message(&decoded.events[1]);
    assert_eq!(card.message_type, Some(MessageType::Vcard));
    assert_eq!(
        card.shared_contacts,
        [json!({"contactName": [{"formattedName": "Bob"}], "phones": [{"phone": "+1"}]})]
    );
}

#[test]
fn other_shapes_are_kept_whole_as_unknown() {
    let event = single(r#"{"hello": "world"}"#);
    assert_eq!(event.event_type, EventType::Unknown);
    assert_eq!(event.raw, json!({"hello": "world"}));
    assert!(matches!(
        WEBHOOK_DECODERS.payload(&event).into_owned(),
        EventPayload::Unknown(_)
    ));
    let text = single("plain text");
    assert_eq!(text.event_type, EventType::Unknown);
    let missing = single(r#"{"messageId": "", "status": "SENT"}"#);
    assert!(
        missing.id.starts_with("devino:notify:status:h"),
        "{}",
        missing.id
    );
}
