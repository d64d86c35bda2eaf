//! Arbitrary JSON and webhook bodies for the property tests of the decoders and the stored-event
//! codec.

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Cases per property: enough to reach every decoder branch, few enough to keep the suite fast.
pub(crate) const CASES: u32 = 256;

/// Keys the decoders look at (v3 top-level kinds and item fields, tech v2 envelope and item
/// fields), so generated objects often take the known paths and not only the unknown one.
const KNOWN_KEYS: &[&str] = &[
    "messages",
    "statuses",
    "channelsUpdates",
    "templateStatus",
    "createContact",
    "createDeal",
    "test",
    "messageId",
    "channelId",
    "chatType",
    "chatId",
    "dateTime",
    "timestamp",
    "status",
    "state",
    "isEcho",
    "isEdited",
    "isDeleted",
    "text",
    "contact",
    "error",
    "event",
    "data",
    "meta",
    "idempotency_key",
    "message_id",
    "channel_id",
    "direction",
];

/// Tech v2 event names, so envelopes often name a known event.
const TECH_EVENTS: &[&str] = &[
    "message.add",
    "message.edit",
    "message.status_update",
    "channel.status_update",
    "waba_template.status_update",
    "group_chat.update",
    "crm_entities.contact_add",
    "messages_dump.status_update",
    "no.such_event",
];

/// Any JSON number: integers of both signs and sizes, and finite floats of any magnitude.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |float| Number::from_f64(float).map(Value::Number)),
        time(),
    ]
}

/// A time as the upstreams spell it (epoch seconds or ms, ISO text), sometimes beyond the range
/// of `google.protobuf.Timestamp`.
fn time() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop_oneof![
            Just(1e308),
            Just(-1e20),
            Just(1.738_735_267_499e12),
            Just(1.7e9)
        ]
        .prop_filter_map("finite", |float| Number::from_f64(float).map(Value::Number)),
        any::<i64>().prop_map(Value::from),
        Just(Value::String("2025-02-05T06:01:07.499+03:00".to_owned())),
        Just(Value::String("1e308".to_owned())),
    ]
}

/// A key: usually one the decoders know, sometimes any text.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KNOWN_KEYS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// A leaf value of any kind.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        any::<String>().prop_map(Value::String),
        proptest::sample::select(TECH_EVENTS).prop_map(|name| Value::String(name.to_owned())),
    ]
}

/// Any JSON value nested at most `depth` levels, with up to `width` items per array or object.
pub(crate) fn any_json(depth: u32, width: usize) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(depth, 256, width as u32, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..width).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..width)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An item of a known kind: an object of mostly known fields with values of any kind.
fn item() -> impl Strategy<Value = Value> {
    let field = prop_oneof![3 => leaf(), 1 => any_json(3, 4)];
    let times = proptest::option::of(time());
    (prop::collection::vec((key(), field), 0..8), times).prop_map(|(entries, time)| {
        let mut fields: Map<String, Value> = entries.into_iter().collect();
        if let Some(time) = time {
            fields.insert("timestamp".to_owned(), time.clone());
            fields.insert("dateTime".to_owned(), time);
        }
        Value::Object(fields)
    })
}

/// A list of items, or one item where the upstream sends an object.
fn items() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::collection::vec(item(), 0..4).prop_map(Value::Array),
        1 => item(),
        1 => any_json(3, 4),
    ]
}

/// A webhook body: mostly JSON objects shaped like a v3 body or a tech v2 envelope with arbitrary
/// values inside, sometimes any JSON value, sometimes bytes that are not JSON at all.
pub(crate) fn webhook_body() -> impl Strategy<Value = Vec<u8>> {
    let json = || any_json(4, 5);
    let v3 = prop::collection::vec((key(), items()), 0..4)
        .prop_map(|entries| Value::Object(entries.into_iter().collect()));
    let tech = (proptest::sample::select(TECH_EVENTS), items(), item()).prop_map(
        |(event, data, meta)| serde_json::json!({ "event": event, "data": data, "meta": meta }),
    );
    prop_oneof![
        3 => v3.prop_map(to_bytes),
        3 => tech.prop_map(to_bytes),
        1 => json().prop_map(to_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// The body as sent.
fn to_bytes(value: Value) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap_or_default()
}
