//! Stored events into `pb::Event`.

mod payloads;

use std::time::Duration;

use crate::events::{EventType, StoredEvent};
use crate::proto::pb;
use crate::upstream::registry::WEBHOOK_DECODERS;

impl From<EventType> for pb::EventType {
    fn from(event_type: EventType) -> Self {
        match event_type {
            EventType::MessageReceived => Self::MessageReceived,
            EventType::MessageEcho => Self::MessageEcho,
            EventType::MessageEdited => Self::MessageEdited,
            EventType::MessageDeleted => Self::MessageDeleted,
            EventType::MessageStatus => Self::MessageStatus,
            EventType::ChannelUpdated => Self::ChannelUpdated,
            EventType::TemplateStatus => Self::TemplateStatus,
            EventType::ContactRequested => Self::ContactRequested,
            EventType::DealRequested => Self::DealRequested,
            EventType::ExportReady => Self::ExportReady,
            EventType::GroupChatUpdated => Self::GroupChatUpdated,
            EventType::Unknown => Self::Unknown,
        }
    }
}

/// Returns the domain event type of a subscription filter value; `None` for unspecified.
pub(crate) fn event_type_from_pb(event_type: pb::EventType) -> Option<EventType> {
    Some(match event_type {
        pb::EventType::Unspecified => return None,
        pb::EventType::MessageReceived => EventType::MessageReceived,
        pb::EventType::MessageEcho => EventType::MessageEcho,
        pb::EventType::MessageEdited => EventType::MessageEdited,
        pb::EventType::MessageDeleted => EventType::MessageDeleted,
        pb::EventType::MessageStatus => EventType::MessageStatus,
        pb::EventType::ChannelUpdated => EventType::ChannelUpdated,
        pb::EventType::TemplateStatus => EventType::TemplateStatus,
        pb::EventType::ContactRequested => EventType::ContactRequested,
        pb::EventType::DealRequested => EventType::DealRequested,
        pb::EventType::ExportReady => EventType::ExportReady,
        pb::EventType::GroupChatUpdated => EventType::GroupChatUpdated,
        pb::EventType::Unknown => EventType::Unknown,
    })
}

/// Converts milliseconds since the Unix epoch into a protobuf timestamp.
pub(crate) fn timestamp_from_ms(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Converts a JSON value into a protobuf `Struct` when it is an object (`None` otherwise).
pub(crate) fn json_to_struct(value: &serde_json::Value) -> Option<prost_types::Struct> {
    match json_to_value(value).kind {
        Some(prost_types::value::Kind::StructValue(fields)) => Some(fields),
        _ => None,
    }
}

/// Converts any JSON value into a protobuf `Value`.
fn json_to_value(value: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(flag) => Kind::BoolValue(*flag),
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or_default()),
        serde_json::Value::String(text) => Kind::StringValue(text.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields
                .iter()
                .map(|(key, field)| (key.clone(), json_to_value(field)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Converts a stored event into its gRPC envelope: identity, account, type, times and the raw
/// upstream JSON. The typed payload is filled in by the dialect's decoder.
pub(crate) fn envelope(stored: &StoredEvent, delivery_count: u32) -> pb::Event {
    let event = &stored.event;
    pb::Event {
        cursor: stored.cursor,
        id: event.id.clone(),
        account: event.account.clone(),
        dialect: event.dialect.as_str().to_owned(),
        r#type: pb::EventType::from(event.event_type).into(),
        received_at: Some(timestamp_from_ms(event.received_at_ms)),
        occurred_at: event.occurred_at_ms.map(timestamp_from_ms),
        delivery_count,
        payload: None,
        raw: json_to_struct(&event.raw),
    }
}

/// Converts a stored event into its gRPC form: the [`envelope`] plus its typed payload (decoded
/// at ingress; its dialect decodes it from `raw` again for an event read back from storage).
///
/// `raw` is a `Struct`, so an unknown body that is not a JSON object (an array, a number, text
/// that is not JSON) is carried as `{"value": <body>}`; `UnknownEvent.reason` says so.
/// A CRM entity request's `response_deadline` is `received_at` plus `crm_response_timeout` (the
/// configured `webhooks.crm_response_timeout`), which is when the ingress stops holding the
/// request open.
pub(crate) fn event_to_pb(
    stored: &StoredEvent,
    delivery_count: u32,
    crm_response_timeout: Duration,
) -> pb::Event {
    let mut event = envelope(stored, delivery_count);
    let raw = &stored.event.raw;
    if event.raw.is_none() {
        event.raw = json_to_struct(&serde_json::json!({ "value": raw }));
    }
    let timeout_ms = i64::try_from(crm_response_timeout.as_millis()).unwrap_or(i64::MAX);
    let crm_deadline_ms = stored.event.received_at_ms.saturating_add(timeout_ms);
    let payload = WEBHOOK_DECODERS.payload(&stored.event);
    event.payload = Some(payloads::payload_to_pb(
        payload.into_owned(),
        crm_deadline_ms,
    ));
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_split_milliseconds_including_before_the_epoch() {
        assert_eq!(
            timestamp_from_ms(1_500),
            prost_types::Timestamp {
                seconds: 1,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            timestamp_from_ms(-1),
            prost_types::Timestamp {
                seconds: -1,
                nanos: 999_000_000
            }
        );
    }

    #[test]
    fn json_objects_become_structs_with_every_kind_of_value() {
        let raw = serde_json::json!({"a": 1, "b": [true, null], "c": {"d": "x"}});
        let converted = json_to_struct(&raw).unwrap();
        assert_eq!(converted.fields.len(), 3);
        assert!(json_to_struct(&serde_json::json!([1])).is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            crate::events::testing::json::CASES
        ))]

        /// The ingress bounds an event by this size before storing it, so it must be exact.
        #[test]
        fn the_ingress_size_of_raw_is_its_encoded_struct(
            raw in crate::events::testing::json::any_json(6, 6),
        ) {
            use prost::Message as _;
            let delivered = json_to_struct(&raw)
                .or_else(|| json_to_struct(&serde_json::json!({ "value": raw })))
                .map_or(0, |fields| fields.encoded_len());
            proptest::prop_assert_eq!(crate::events::bounds::delivered_raw_len(&raw), delivered);
        }
    }
}
