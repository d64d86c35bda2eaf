//! Webhook bodies into events, and stored events into typed payloads: the shared mechanism and
//! the [`WebhookDecoder`] seam every dialect implements in its own folder
//! (`upstream/<dialect>/webhooks.rs`), found through [`WebhookDecoders`].
//!
//! At ingress, [`WebhookDecoders::decode_webhook`] splits a body into items, gives each a type, a
//! stable id, its channel and time, keeps the item's JSON as `raw`, and decodes its typed payload
//! from that JSON; readers convert that payload, or decode `raw` again for an event read back
//! from storage, which keeps `raw` alone ([`WebhookDecoders::payload`]). Nothing authentic is
//! ever rejected: a body or item of a shape the gateway does not know is stored as an
//! [`EventType::Unknown`] event with its JSON, and a field of an unexpected type reads as absent.

mod identity;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::model::Dialect;

use super::payload::{EventPayload, UnknownPayload};
use super::{EventType, NewEvent};

pub(crate) use identity::{now_ms, stable_hash};

/// One dialect's reading of its webhooks. Each dialect implements it in its own folder and hands
/// it out from its `DialectSpec`; the shared mechanism here parses the body, collects the events
/// and names the metrics kind.
pub(crate) trait WebhookDecoder: Sync + fmt::Debug {
    /// Returns the tag that starts every event id of the dialect (`v3`, `wazzup_tech`, …); part
    /// of the stored ids, so it never changes.
    fn id_tag(&self) -> &'static str;

    /// Splits a parsed body into events, in body order, adding them to `batch`.
    fn split(&self, batch: &mut Batch<'_>, body: TopLevel);

    /// Decodes the typed payload of an event of the dialect from its raw JSON.
    fn payload(&self, event: &NewEvent) -> EventPayload;
}

/// Finds the [`WebhookDecoder`] of each dialect. The table lives with the dialects
/// (`upstream::registry`); the application hands it to the layers below, which cannot name it.
#[derive(Clone, Copy)]
pub(crate) struct WebhookDecoders {
    /// Returns the decoder of a dialect.
    lookup: fn(Dialect) -> &'static dyn WebhookDecoder,
}

impl fmt::Debug for WebhookDecoders {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("WebhookDecoders")
    }
}

impl WebhookDecoders {
    /// Finds decoders with `lookup`.
    pub(crate) const fn new(lookup: fn(Dialect) -> &'static dyn WebhookDecoder) -> Self {
        Self { lookup }
    }

    /// Splits a webhook body into events with its dialect's decoder, each with its typed
    /// payload. Never fails: what cannot be read is kept as unknown.
    pub(crate) fn decode_webhook(&self, source: WebhookSource<'_>, body: &[u8]) -> DecodedWebhook {
        let decoder = (self.lookup)(source.dialect);
        let mut batch = Batch::new(source, decoder.id_tag());
        decoder.split(&mut batch, TopLevel::parse(body));
        let mut decoded = batch.finish();
        for event in &mut decoded.events {
            event.payload = Some(decoder.payload(event));
        }
        decoded
    }

    /// Returns the typed payload of an event: the one decoded when it was received, or, for an
    /// event read back from storage, the one its dialect's decoder reads from `raw` now. An event
    /// of a dialect this build does not know reads as unknown, its raw JSON kept.
    pub(crate) fn payload<'a>(&self, event: &'a NewEvent) -> Cow<'a, EventPayload> {
        if let Some(payload) = &event.payload {
            return Cow::Borrowed(payload);
        }
        Cow::Owned(match event.dialect.known() {
            Some(dialect) => (self.lookup)(dialect).payload(event),
            None => EventPayload::Unknown(UnknownPayload {
                reason: format!(
                    "events of dialect {} are not known to this build",
                    event.dialect
                ),
                kind: String::new(),
            }),
        })
    }
}

/// Where a webhook came from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WebhookSource<'a> {
    /// The configured account it was received for.
    pub account: &'a str,
    /// The account's dialect, which decides how the body is read.
    pub dialect: Dialect,
    /// When the gateway received it, in ms since the Unix epoch.
    pub received_at_ms: i64,
}

/// What a webhook body holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DecodedWebhook {
    /// Its events, in body order, each id at most once.
    pub events: Vec<NewEvent>,
    /// What kind of webhook it was, for metrics.
    pub kind: &'static str,
}

impl DecodedWebhook {
    /// Tells whether the body was the upstream's test probe (`{"test": true}`) and nothing else.
    pub(crate) fn is_test_probe(&self) -> bool {
        self.kind == KIND_TEST
    }
}

/// Metrics kind of a test probe.
const KIND_TEST: &str = "test";
/// Metrics kind of a body with no kind at all (e.g. `{}`).
const KIND_EMPTY: &str = "empty";
/// Metrics kind of a body with several kinds.
const KIND_MIXED: &str = "mixed";
/// Metrics kind of a body of unknown shape.
const KIND_UNKNOWN: &str = "unknown";

/// The top level of a body, read in order.
#[derive(Debug)]
pub(crate) enum TopLevel {
    /// An object: its keys and values in body order.
    Object(Vec<(String, Value)>),
    /// Anything else: valid JSON that is not an object, or text that is not JSON (kept as a JSON
    /// string, invalid UTF-8 replaced).
    Other(Value),
}

impl TopLevel {
    /// Reads a body, keeping the order of the top-level keys (serde_json's `Map` sorts them).
    fn parse(body: &[u8]) -> Self {
        if let Ok(OrderedObject(entries)) = serde_json::from_slice(body) {
            return Self::Object(entries);
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => Self::Other(value),
            Err(_) => Self::Other(Value::String(String::from_utf8_lossy(body).into_owned())),
        }
    }

    /// Returns the body as one JSON value.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Self::Object(entries) => Value::Object(entries.into_iter().collect()),
            Self::Other(value) => value,
        }
    }
}

/// A JSON object read as its entries in order.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OrderedObjectVisitor)
    }
}

/// Collects map entries in order.
struct OrderedObjectVisitor;

impl<'de> Visitor<'de> for OrderedObjectVisitor {
    type Value = OrderedObject;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(2));
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(OrderedObject(entries))
    }
}

/// The kind of (part of) a webhook, for the metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WebhookKind {
    /// The upstream's test probe.
    Test,
    /// A known kind, named by its top-level key.
    Known(&'static str),
    /// A shape the decoder does not know.
    Unknown,
}

/// Why an event is stored as unknown; the wording is part of `UnknownEvent.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnknownReason {
    /// The body (or, for undecoded dialects, the whole body) is not a JSON object.
    NotAnObject,
    /// An item of a known kind is not a JSON object.
    ItemNotAnObject,
    /// A top-level key the decoder does not know.
    UnknownKind,
}

impl UnknownReason {
    /// Returns the payload explaining an unknown event of upstream kind `kind`.
    pub(crate) fn payload(self, kind: String) -> UnknownPayload {
        let reason = match self {
            Self::NotAnObject => {
                "body is not a JSON object (kept in raw.value; text that is not JSON as a string)"
            }
            Self::ItemNotAnObject => "item is not a JSON object",
            Self::UnknownKind => "unknown webhook kind",
        };
        UnknownPayload {
            reason: reason.to_owned(),
            kind,
        }
    }
}

/// The events of one body as they are split off, with the kinds seen.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    /// Where the body came from.
    source: WebhookSource<'a>,
    /// `{tag}:{account}:`, the prefix of every id.
    id_prefix: String,
    /// Events so far, in body order.
    events: Vec<NewEvent>,
    /// Ids so far: a body repeating an item yields it once.
    ids: HashSet<String>,
    /// Kinds seen, in order, each once.
    kinds: Vec<WebhookKind>,
}

impl<'a> Batch<'a> {
    /// Starts an empty batch for a body from `source`, its ids tagged with `id_tag`.
    fn new(source: WebhookSource<'a>, id_tag: &str) -> Self {
        Self {
            id_prefix: format!("{id_tag}:{}:", source.account),
            source,
            events: Vec::new(),
            ids: HashSet::new(),
            kinds: Vec::new(),
        }
    }

    /// Records that the body carries `kind`.
    pub(crate) fn note_kind(&mut self, kind: WebhookKind) {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
    }

    /// Adds an event whose id ends in `id_suffix`; a repeated id is dropped.
    pub(crate) fn push(
        &mut self,
        event_type: EventType,
        id_suffix: String,
        channel_id: Option<String>,
        occurred_at_ms: Option<i64>,
        raw: Value,
    ) {
        let id = format!("{}{id_suffix}", self.id_prefix);
        if !self.ids.insert(id.clone()) {
            return;
        }
        self.events.push(NewEvent {
            id,
            account: self.source.account.to_owned(),
            dialect: self.source.dialect.into(),
            event_type,
            channel_id: channel_id.filter(|channel_id| !channel_id.is_empty()),
            received_at_ms: self.source.received_at_ms,
            occurred_at_ms,
            raw,
            // Decoded by `WebhookDecoders::decode_webhook` once the body is split.
            payload: None,
        });
    }

    /// Adds an unknown event holding `raw`, counted as `kind` in metrics.
    pub(crate) fn push_unknown(&mut self, raw: Value, kind: WebhookKind) {
        self.note_kind(kind);
        let id_suffix = format!("unknown:{}", identity::stable_hash(&raw));
        self.push(EventType::Unknown, id_suffix, None, None, raw);
    }

    /// Returns the events and the metrics kind of the whole body.
    fn finish(self) -> DecodedWebhook {
        let kind = match self.kinds.as_slice() {
            [] => KIND_EMPTY,
            [WebhookKind::Test] => KIND_TEST,
            [WebhookKind::Known(kind)] => kind,
            [WebhookKind::Unknown] => KIND_UNKNOWN,
            _ => KIND_MIXED,
        };
        DecodedWebhook {
            events: self.events,
            kind,
        }
    }
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::EventDialect;
    use crate::upstream::registry::WEBHOOK_DECODERS;

    fn source(dialect: Dialect) -> WebhookSource<'static> {
        WebhookSource {
            account: "main",
            dialect,
            received_at_ms: 1_000,
        }
    }

    #[test]
    fn top_level_keys_keep_their_body_order() {
        let body = br#"{"statuses": [], "messages": [], "zeta": 1, "alpha": 2}"#;
        let TopLevel::Object(entries) = TopLevel::parse(body) else {
            panic!("an object");
        };
        let keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["statuses", "messages", "zeta", "alpha"]);
    }

    #[test]
    fn an_event_of_a_dialect_this_build_does_not_know_reads_as_unknown() {
        let event = NewEvent {
            id: "retired:main:1".to_owned(),
            account: "main".to_owned(),
            dialect: EventDialect::from_name("retired"),
            event_type: EventType::MessageReceived,
            channel_id: None,
            received_at_ms: 1_000,
            occurred_at_ms: None,
            raw: json!({"text": "kept"}),
            payload: None,
        };
        let EventPayload::Unknown(unknown) = WEBHOOK_DECODERS.payload(&event).into_owned() else {
            panic!("unknown payload");
        };
        assert_eq!(
            unknown.reason,
            "events of dialect retired are not known to this build"
        );
    }

    #[test]
    fn events_carry_their_payload_from_ingress_and_readers_convert_it() {
        let body =
            br#"{"messages": [{"messageId": "m-1", "channelId": "ch-1", "chatType": "whatsapp",
            "chatId": "79990000000", "type": "text", "text": "hi", "status": "inbound"}]}"#;
        let decoded = WEBHOOK_DECODERS.decode_webhook(source(Dialect::WazzupV3), body);
        let [event] = decoded.events.as_slice() else {
            panic!("one event: {decoded:?}");
        };
        let Some(EventPayload::Message(message)) = &event.payload else {
            panic!("a message payload: {event:?}");
        };
        assert_eq!(message.text, "hi");

        // The payload an event carries is what readers get: `raw` is not decoded again.
        let carried = NewEvent {
            payload: Some(EventPayload::Unknown(UnknownPayload {
                reason: "carried".to_owned(),
                kind: String::new(),
            })),
            ..event.clone()
        };
        assert!(matches!(
            WEBHOOK_DECODERS.payload(&carried),
            Cow::Borrowed(EventPayload::Unknown(unknown)) if unknown.reason == "carried"
        ));
        // An event read back from storage (which keeps `raw` alone) is decoded when read.
        let read_back = NewEvent {
            payload: None,
            ..event.clone()
        };
        assert_eq!(
            WEBHOOK_DECODERS.payload(&read_back).into_owned(),
            event.payload.clone().unwrap()
        );
    }

    #[test]
    fn text_that_is_not_json_is_kept_as_a_string() {
        let decoded = WEBHOOK_DECODERS.decode_webhook(source(Dialect::WazzupV3), b"hello \xff");
        assert_eq!(decoded.events.len(), 1);
        assert_eq!(decoded.events[0].raw, json!("hello \u{fffd}"));
        assert_eq!(decoded.kind, "unknown");
    }

    #[test]
    fn an_empty_object_holds_nothing() {
        let decoded = WEBHOOK_DECODERS.decode_webhook(source(Dialect::WazzupV3), b"{}");
        assert!(decoded.events.is_empty());
        assert_eq!(decoded.kind, "empty");
        assert!(!decoded.is_test_probe());
    }
}
