//! Webhook bodies into events, and stored events into typed payloads.
//!
//! Two steps, on purpose: at ingress, [`decode_webhook`] only splits a body into items and gives
//! each a type, a stable id, its channel and time, keeping the item's JSON as `raw`; the typed
//! payload is decoded from `raw` when the event is read ([`payload`]). Nothing authentic is ever
//! rejected: a body or item of a shape the gateway does not know is stored as an
//! [`EventType::Unknown`] event with its JSON, and a field of an unexpected type reads as absent.

mod identity;
mod wazzup_tech;
mod wazzup_v3;

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::model::Dialect;

use super::payload::{EventPayload, UnknownPayload};
use super::{EventType, NewEvent};

pub(crate) use identity::now_ms;

/// Where a webhook came from.
#[derive(Clone, Copy, Debug)]
pub struct WebhookSource<'a> {
    /// The configured account it was received for.
    pub account: &'a str,
    /// The account's dialect, which decides how the body is read.
    pub dialect: Dialect,
    /// When the gateway received it, in ms since the Unix epoch.
    pub received_at_ms: i64,
}

/// What a webhook body holds.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedWebhook {
    /// Its events, in body order, each id at most once.
    pub events: Vec<NewEvent>,
    /// What kind of webhook it was, for metrics.
    pub kind: &'static str,
}

impl DecodedWebhook {
    /// Tells whether the body was the upstream's test probe (`{"test": true}`) and nothing else.
    pub fn is_test_probe(&self) -> bool {
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

/// Splits a webhook body into events. Never fails: what cannot be read is kept as unknown.
///
/// The sandbox speaks v3, except for message exports, which only tech v2 has: a sandbox body that
/// is a v2 envelope is read as v2. Dialects without a decoder yet (`devino`) store the whole body
/// as one unknown event, so nothing they send is lost before their decoder lands.
pub fn decode_webhook(source: WebhookSource<'_>, body: &[u8]) -> DecodedWebhook {
    let mut batch = Batch::new(source);
    let top_level = TopLevel::parse(body);
    match source.dialect {
        Dialect::WazzupTech => wazzup_tech::split(&mut batch, top_level),
        Dialect::Sandbox if top_level.is_tech_envelope() => {
            wazzup_tech::split(&mut batch, top_level);
        }
        Dialect::WazzupV3 | Dialect::Sandbox => wazzup_v3::split(&mut batch, top_level),
        Dialect::Devino => {
            batch.push_unknown(top_level.into_value(), WebhookKind::Unknown);
        }
    }
    batch.finish()
}

/// Decodes the typed payload of a stored event from its raw JSON.
pub fn payload(event: &NewEvent) -> EventPayload {
    match event.dialect.known() {
        Some(Dialect::WazzupTech) => wazzup_tech::payload(event),
        // The sandbox's export events are v2 envelopes (see `decode_webhook`).
        Some(Dialect::Sandbox) if event.event_type == EventType::ExportReady => {
            wazzup_tech::payload(event)
        }
        Some(Dialect::WazzupV3 | Dialect::Sandbox) => wazzup_v3::payload(event),
        Some(Dialect::Devino) | None => EventPayload::Unknown(UnknownPayload {
            reason: format!("webhooks of dialect {} are not decoded yet", event.dialect),
            kind: String::new(),
        }),
    }
}

/// The top level of a body, read in order.
#[derive(Debug)]
enum TopLevel {
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

    /// Tells whether the body is a tech v2 envelope (`{event, data, meta}`).
    fn is_tech_envelope(&self) -> bool {
        matches!(self, Self::Object(entries) if wazzup_tech::is_envelope(entries))
    }

    /// Returns the body as one JSON value.
    fn into_value(self) -> Value {
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
enum WebhookKind {
    /// The upstream's test probe.
    Test,
    /// A known kind, named by its top-level key.
    Known(&'static str),
    /// A shape the decoder does not know.
    Unknown,
}

/// Why an event is stored as unknown; the wording is part of `UnknownEvent.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnknownReason {
    /// The body (or, for undecoded dialects, the whole body) is not a JSON object.
    NotAnObject,
    /// An item of a known kind is not a JSON object.
    ItemNotAnObject,
    /// A top-level key the decoder does not know.
    UnknownKind,
}

impl UnknownReason {
    /// Returns the payload explaining an unknown event of upstream kind `kind`.
    fn payload(self, kind: String) -> UnknownPayload {
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
struct Batch<'a> {
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
    /// Starts an empty batch for a body from `source`.
    fn new(source: WebhookSource<'a>) -> Self {
        Self {
            id_prefix: format!("{}:{}:", id_tag(source.dialect), source.account),
            source,
            events: Vec::new(),
            ids: HashSet::new(),
            kinds: Vec::new(),
        }
    }

    /// Records that the body carries `kind`.
    fn note_kind(&mut self, kind: WebhookKind) {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
    }

    /// Adds an event whose id ends in `id_suffix`; a repeated id is dropped.
    fn push(
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
        });
    }

    /// Adds an unknown event holding `raw`, counted as `kind` in metrics.
    fn push_unknown(&mut self, raw: Value, kind: WebhookKind) {
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

/// Returns the id prefix of a dialect.
fn id_tag(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::WazzupV3 => "v3",
        other => other.as_str(),
    }
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
    fn undecoded_dialects_keep_the_whole_body_as_one_unknown_event() {
        let body = br#"{"event": "message.add", "data": [{"message_id": "m"}]}"#;
        let decoded = decode_webhook(source(Dialect::Devino), body);
        assert_eq!(decoded.kind, "unknown");
        assert_eq!(decoded.events.len(), 1);
        let event = &decoded.events[0];
        assert_eq!(event.event_type, EventType::Unknown);
        assert_eq!(event.dialect, "devino");
        assert!(event.id.starts_with("devino:main:unknown:"), "{}", event.id);
        assert_eq!(
            event.raw,
            json!({"event": "message.add", "data": [{"message_id": "m"}]})
        );
        let EventPayload::Unknown(unknown) = payload(event) else {
            panic!("unknown payload");
        };
        assert!(unknown.reason.contains("devino"), "{}", unknown.reason);
    }

    #[test]
    fn text_that_is_not_json_is_kept_as_a_string() {
        let decoded = decode_webhook(source(Dialect::WazzupV3), b"hello \xff");
        assert_eq!(decoded.events.len(), 1);
        assert_eq!(decoded.events[0].raw, json!("hello \u{fffd}"));
        assert_eq!(decoded.kind, "unknown");
    }

    #[test]
    fn an_empty_object_holds_nothing() {
        let decoded = decode_webhook(source(Dialect::WazzupV3), b"{}");
        assert!(decoded.events.is_empty());
        assert_eq!(decoded.kind, "empty");
        assert!(!decoded.is_test_probe());
    }
}
