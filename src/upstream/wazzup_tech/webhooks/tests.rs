//! Tech v2 webhooks: the reference shapes of §16.6 (observed, [S]) and, marked, the item shapes
//! the reference leaves undocumented ([U]: the names tried are the likely ones).

use serde_json::{Value, json};

use crate::events::decode::{DecodedWebhook, WebhookSource};
use crate::events::payload::{ChannelChange, EventPayload, GroupChatChange, MessageStatus};
use crate::events::{EventType, NewEvent};
use crate::model::Dialect;
use crate::model::{ChannelState, ChatType, ExportState};
use crate::upstream::registry::WEBHOOK_DECODERS;

/// Splits a body with the registry's decoders, as the ingress does.
fn decode_webhook(source: WebhookSource<'_>, body: &[u8]) -> DecodedWebhook {
    WEBHOOK_DECODERS.decode_webhook(source, body)
}

/// Returns an event's typed payload as readers get it.
fn payload(event: &NewEvent) -> EventPayload {
    WEBHOOK_DECODERS.payload(event).into_owned()
}

fn decode(body: &Value) -> Vec<NewEvent> {
    decode_as(Dialect::WazzupTech, body)
}

fn decode_as(dialect: Dialect, body: &Value) -> Vec<NewEvent> {
    let source = WebhookSource {
        account: "partner",
        dialect,
        received_at_ms: 5,
    };
    decode_webhook(source, &serde_json::to_vec(body).unwrap()).events
}

fn envelope(event: &str, data: Value) -> Value {
    json!({
        "event": event,
        "data": data,
        "meta": { "idempotency_key": "9ef07b18-e95f-4ba1-9981-63d95d8ed468", "timestamp": 1762340623 }
    })
}

/// The observed `message.add` item of §16.6 [S], phone as a number in `sender`.
fn observed_message() -> Value {
    json!({
        "message_id": "a14325c0-97c0-43dd-917e-f0ad7460b6a9",
        "channel_id": "808e0654-d0f5-4926-a7fa-4783f1c05eeb",
        "direction": "inbound",
        "timestamp": 1762340622177_i64,
        "status": "accepted",
        "crm_user_id": null,
        "sender": { "chat_type": "telegram", "chat_id": "221601332", "name": "Ann", "username": null, "phone": 79111234567_i64 },
        "recipient": { "chat_id": "77001112233", "chat_type": "whatsapp", "name": "Bob", "username": null, "phone": "77001112233" },
        "text": "hello"
    })
}

#[test]
fn an_observed_message_add_becomes_a_received_message_with_both_phone_spellings() {
    let events = decode(&envelope("message.add", json!([observed_message()])));
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.event_type, EventType::MessageReceived);
    assert_eq!(
        event.id,
        "wazzup_tech:partner:9ef07b18-e95f-4ba1-9981-63d95d8ed468:0"
    );
    assert_eq!(event.dialect, "wazzup_tech");
    assert_eq!(
        event.channel_id.as_deref(),
        Some("808e0654-d0f5-4926-a7fa-4783f1c05eeb")
    );
    assert_eq!(event.occurred_at_ms, Some(1_762_340_622_177));
    assert_eq!(event.raw["event"], "message.add");
    assert_eq!(event.raw["data"], observed_message());
    let EventPayload::Message(message) = payload(event) else {
        panic!("a message");
    };
    assert_eq!(message.message_id, "a14325c0-97c0-43dd-917e-f0ad7460b6a9");
    assert_eq!(message.chat_id, "77001112233");
    assert_eq!(message.chat_type, Some(ChatType::Whatsapp));
    assert_eq!(message.text, "hello");
    assert_eq!(message.direction_raw, "inbound");
    assert!(!message.is_echo);
    let contact = message.contact.unwrap();
    assert_eq!(
        (contact.name.as_str(), contact.phone.as_str()),
        ("Bob", "77001112233")
    );
    let sender = message.sender.unwrap();
    assert_eq!(
        sender.phone, "79111234567",
        "a numeric phone reads as digits"
    );
    assert_eq!(sender.chat_id, "221601332");
}

#[test]
fn object_data_is_one_item_and_outbound_adds_are_echoes() {
    let mut item = observed_message();
    item["direction"] = json!("outbound");
    let events = decode(&envelope("message.add", item));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, EventType::MessageEcho);
    let EventPayload::Message(message) = payload(&events[0]) else {
        panic!("a message");
    };
    assert!(message.is_echo);
}

#[test]
fn items_are_identified_by_key_and_index_so_redeliveries_repeat_their_ids() {
    let body = envelope(
        "message.add",
        json!([observed_message(), observed_message()]),
    );
    let first: Vec<String> = decode(&body).into_iter().map(|event| event.id).collect();
    let again: Vec<String> = decode(&body).into_iter().map(|event| event.id).collect();
    assert_eq!(first, again);
    assert_eq!(first.len(), 2);
    assert!(first[1].ends_with(":1"));

    let mut keyless = body.clone();
    keyless["meta"] = json!({ "timestamp": 1 });
    let ids: Vec<String> = decode(&keyless).into_iter().map(|event| event.id).collect();
    assert_eq!(ids.len(), 1, "identical items without a key are one event");
    assert!(
        ids[0].starts_with("wazzup_tech:partner:message.add:h"),
        "{}",
        ids[0]
    );
}

#[test]
fn a_status_update_carries_the_request_id_and_the_real_message_id() {
    // [U] the item shape: request_id, message_id, status, error as in the send docs.
    let item = json!({
        "request_id": "req-1", "message_id": "msg-1", "channel_id": "ch", "status": "error",
        "error": { "code": "BAD_CONTACT", "description": "no such chat" },
        "timestamp": 1762340623
    });
    let events = decode(&envelope("message.status_update", json!([item])));
    assert_eq!(events[0].event_type, EventType::MessageStatus);
    let EventPayload::Status(status) = payload(&events[0]) else {
        panic!("a status");
    };
    assert_eq!(status.request_id, "req-1");
    assert_eq!(status.message_id, "msg-1");
    assert_eq!(status.error.unwrap().code, "BAD_CONTACT");
    assert_eq!(status.occurred_at_ms, Some(1_762_340_623_000));
}

#[test]
fn expired_and_clicked_status_updates_are_typed_in_any_letter_case() {
    // [U] the docs list no status values for message.status_update; these two are typed when
    // they come, as Devino's are, instead of arriving as OTHER.
    for (raw, expected) in [
        ("expired", MessageStatus::Expired),
        ("CLICKED", MessageStatus::Clicked),
    ] {
        let item = json!({
            "request_id": "req-1", "message_id": "msg-1", "channel_id": "ch", "status": raw,
            "timestamp": 1762340623
        });
        let events = decode(&envelope("message.status_update", json!([item])));
        let EventPayload::Status(status) = payload(&events[0]) else {
            panic!("a status");
        };
        assert_eq!(status.status, Some(expected), "{raw}");
        assert_eq!(status.status_raw, raw);
    }
}

#[test]
fn every_channel_event_is_a_channel_update_saying_what_changed() {
    // [S] channel.status_update; [U] the others.
    let cases = [
        (
            "channel.status_update",
            json!({"channel_id": "c", "status": "active", "reason": null}),
            ChannelChange::State,
        ),
        (
            "channel.create",
            json!({"channel_id": "c", "transport": "telegram"}),
            ChannelChange::Created,
        ),
        (
            "channel.delete",
            json!({"channel_id": "c"}),
            ChannelChange::Deleted,
        ),
        (
            "channel.qr_update",
            json!({"channel_id": "c", "qr": "data:image/png;base64,AA", "pairing_code": "ABCD-1234"}),
            ChannelChange::Qr,
        ),
        (
            "channel.waba_tier_update",
            json!({"channel_id": "c", "tier": "TIER_1K"}),
            ChannelChange::Tier,
        ),
    ];
    for (name, item, change) in cases {
        let events = decode(&envelope(name, json!([item])));
        assert_eq!(events[0].event_type, EventType::ChannelUpdated, "{name}");
        let EventPayload::Channel(channel) = payload(&events[0]) else {
            panic!("a channel: {name}");
        };
        assert_eq!(channel.change, change, "{name}");
        assert_eq!(channel.channel_id, "c");
        match change {
            ChannelChange::State => assert_eq!(channel.state, Some(ChannelState::Active)),
            ChannelChange::Created => assert_eq!(channel.transport_raw, "telegram"),
            ChannelChange::Qr => assert_eq!(channel.pairing_code, "ABCD-1234"),
            ChannelChange::Tier => assert_eq!(channel.tier, "TIER_1K"),
            ChannelChange::Deleted => {}
        }
    }
}

#[test]
fn group_crm_template_and_export_events_get_their_types() {
    // [U] every item shape below.
    let cases = [
        ("group_chat.memberships_update", EventType::GroupChatUpdated),
        ("group_chat.update", EventType::GroupChatUpdated),
        ("crm_entities.contact_add", EventType::ContactRequested),
        ("crm_entities.deal_add", EventType::DealRequested),
        ("waba_template.status_update", EventType::TemplateStatus),
        ("messages_dump.status_update", EventType::ExportReady),
    ];
    for (name, event_type) in cases {
        let events = decode(&envelope(
            name,
            json!([{"channel_id": "c", "chat_id": "g"}]),
        ));
        assert_eq!(events[0].event_type, event_type, "{name}");
    }
    let group = decode(&envelope(
        "group_chat.memberships_update",
        json!([{"channel_id": "c", "chat_id": "g", "added": ["1"]}]),
    ));
    let EventPayload::GroupChat(group) = payload(&group[0]) else {
        panic!("a group chat");
    };
    assert_eq!(group.change, GroupChatChange::Memberships);
    assert_eq!(group.chat_id, "g");
    assert_eq!(group.data["added"], json!(["1"]));

    let contact = decode(&envelope(
        "crm_entities.contact_add",
        json!([{"name": "Ann"}]),
    ));
    let EventPayload::CrmRequest(request) = payload(&contact[0]) else {
        panic!("a CRM request");
    };
    assert_eq!(request.body, json!({"name": "Ann"}));

    let export = decode(&envelope(
        "messages_dump.status_update",
        json!([{"export_id": "e1", "status": "done", "url": "https://files/e1.csv"}]),
    ));
    let EventPayload::Export(export) = payload(&export[0]) else {
        panic!("an export");
    };
    assert_eq!(export.export_id, "e1");
    assert_eq!(export.state, ExportState::Done);
    assert_eq!(export.url, "https://files/e1.csv");
}

#[test]
fn unknown_names_bodies_and_items_are_kept_as_unknown() {
    let events = decode(&envelope("counters.update", json!([{"counter": 5}])));
    assert_eq!(events[0].event_type, EventType::Unknown);
    assert_eq!(events[0].raw["data"], json!({"counter": 5}));
    let EventPayload::Unknown(unknown) = payload(&events[0]) else {
        panic!("unknown");
    };
    assert_eq!(unknown.kind, "counters.update");
    assert_eq!(unknown.reason, "unknown webhook kind");

    let not_an_object = decode(&envelope("message.add", json!(["text"])));
    let EventPayload::Unknown(unknown) = payload(&not_an_object[0]) else {
        panic!("unknown");
    };
    assert_eq!(unknown.reason, "item is not a JSON object");

    let v3_shape = decode(&json!({"messages": []}));
    assert_eq!(v3_shape.len(), 1);
    assert_eq!(v3_shape[0].event_type, EventType::Unknown);
}

#[test]
fn the_sandbox_reads_v2_envelopes_as_v2_and_everything_else_as_v3() {
    let export = envelope(
        "messages_dump.status_update",
        json!([{"export_id": "e1", "status": "done", "url": "http://127.0.0.1/e1.csv"}]),
    );
    let events = decode_as(Dialect::Sandbox, &export);
    assert_eq!(events[0].event_type, EventType::ExportReady);
    assert!(matches!(payload(&events[0]), EventPayload::Export(_)));
    let v3 = decode_as(
        Dialect::Sandbox,
        &json!({"statuses": [{"messageId": "m", "status": "sent"}]}),
    );
    assert_eq!(v3[0].event_type, EventType::MessageStatus);
}
