//! `EventService` requests into fan-out requests (with every field checked at once), and the
//! fan-out's answers into protobuf.

use std::time::Duration;

use super::duration_from_pb;
use super::events::{event_to_pb, event_type_from_pb, timestamp_from_ms};
use crate::config::{MAX_EVENTS_MAX_IN_FLIGHT, StreamDefaults};
use crate::events::EventType;
use crate::events::consumers::{AccountScope, EventFilter, is_valid_consumer_name};
use crate::events::fanout::{
    AckMode, ConsumerInfo, DeliverySettings, Start, StreamItem, Subscription,
};
use crate::model::{ValidationError, Violations};
use crate::proto::pb;

/// Shortest `ack_wait` and `heartbeat_interval` accepted.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Longest `ack_wait` accepted.
const MAX_ACK_WAIT: Duration = Duration::from_secs(24 * 3600);
/// Longest `heartbeat_interval` accepted.
const MAX_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3600);

/// Builds the fan-out request of `request` for the owning `account`, with `accounts` already
/// resolved and the caller's `scope`; fails with every invalid field, those already in
/// `violations` included.
pub(crate) fn subscription(
    request: &pb::SubscribeRequest,
    account: String,
    accounts: Vec<String>,
    scope: AccountScope,
    defaults: &StreamDefaults,
    mut collected: Violations,
) -> Result<Subscription, ValidationError> {
    let violations = &mut collected;
    let consumer = consumer_name(&request.consumer, "consumer", violations);
    let types = event_types(&request.types, violations);
    for (index, channel_id) in request.channel_ids.iter().enumerate() {
        if channel_id.trim().is_empty() {
            violations.add(
                format!("channel_ids[{index}]"),
                "is blank; name a channel id",
            );
        }
    }
    let start = start(request.start.as_ref(), violations);
    let delivery = delivery(request, consumer.is_some(), defaults, violations);
    collected.finish()?;
    Ok(Subscription {
        account,
        consumer,
        filter: EventFilter::new(accounts, types, request.channel_ids.clone()),
        scope,
        start,
        delivery,
    })
}

/// Checks an optional consumer name; `None` when empty or invalid.
pub(crate) fn consumer_name(
    name: &str,
    field: &str,
    violations: &mut Violations,
) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    if !is_valid_consumer_name(name) {
        violations.add(field, "must be 1 to 64 letters, digits, '-', '_' or '.'");
        return None;
    }
    Some(name.to_owned())
}

/// Checks a required consumer name.
pub(crate) fn required_consumer_name(
    name: &str,
    field: &str,
    violations: &mut Violations,
) -> String {
    if name.is_empty() {
        violations.add(field, "is required: name the consumer");
    }
    consumer_name(name, field, violations).unwrap_or_default()
}

/// Converts the type filter; unknown or unspecified values are violations.
fn event_types(types: &[i32], violations: &mut Violations) -> Vec<EventType> {
    let mut converted = Vec::with_capacity(types.len());
    for (index, number) in types.iter().enumerate() {
        match pb::EventType::try_from(*number)
            .ok()
            .and_then(event_type_from_pb)
        {
            Some(event_type) => converted.push(event_type),
            None => violations.add(format!("types[{index}]"), "is not a known event type"),
        }
    }
    converted
}

/// Converts the start position.
fn start(start: Option<&pb::subscribe_request::Start>, violations: &mut Violations) -> Start {
    use pb::subscribe_request::Start as PbStart;
    match start {
        None | Some(PbStart::Latest(_)) | Some(PbStart::Earliest(false)) => Start::Latest,
        Some(PbStart::Earliest(true)) => Start::Earliest,
        Some(PbStart::AfterCursor(cursor)) => Start::AfterCursor(*cursor),
        Some(PbStart::Since(since)) => {
            if !(0..1_000_000_000).contains(&since.nanos) {
                violations.add("since", "nanos must be within 0 and 999,999,999");
                return Start::Latest;
            }
            let ms = since.seconds.saturating_mul(1000) + i64::from(since.nanos / 1_000_000);
            Start::Since(ms)
        }
    }
}

/// Converts the delivery settings, applying the server defaults.
fn delivery(
    request: &pb::SubscribeRequest,
    named: bool,
    defaults: &StreamDefaults,
    violations: &mut Violations,
) -> DeliverySettings {
    let ack_mode = ack_mode(request.ack_mode, named, violations);
    let max_in_flight = match request.max_in_flight {
        0 => defaults.max_in_flight,
        value if value > MAX_EVENTS_MAX_IN_FLIGHT => {
            violations.add(
                "max_in_flight",
                "must be at most 10000 (0 means the default)",
            );
            defaults.max_in_flight
        }
        value => value,
    };
    let ack_wait = interval(request.ack_wait, "ack_wait", MAX_ACK_WAIT, violations);
    let heartbeat = interval(
        request.heartbeat_interval,
        "heartbeat_interval",
        MAX_HEARTBEAT_INTERVAL,
        violations,
    );
    DeliverySettings {
        ack_mode,
        max_in_flight,
        ack_wait: ack_wait.unwrap_or(defaults.ack_wait),
        heartbeat_interval: heartbeat.unwrap_or(defaults.heartbeat_interval),
    }
}

/// Converts the ack mode; explicit acks need a named consumer.
fn ack_mode(number: i32, named: bool, violations: &mut Violations) -> AckMode {
    match pb::AckMode::try_from(number) {
        Ok(pb::AckMode::Unspecified | pb::AckMode::Auto) => AckMode::Auto,
        Ok(pb::AckMode::Explicit) if named => AckMode::Explicit,
        Ok(pb::AckMode::Explicit) => {
            violations.add("ack_mode", "ACK_MODE_EXPLICIT needs a named consumer");
            AckMode::Auto
        }
        Err(_) => {
            violations.add("ack_mode", "is not a known ack mode");
            AckMode::Auto
        }
    }
}

/// Converts an optional duration within [`MIN_INTERVAL`] and `max`; `None` when unset or invalid.
fn interval(
    value: Option<prost_types::Duration>,
    field: &str,
    max: Duration,
    violations: &mut Violations,
) -> Option<Duration> {
    let value = value?;
    let converted = duration_from_pb(value).filter(|d| (MIN_INTERVAL..=max).contains(d));
    if converted.is_none() {
        let description = format!(
            "must be between {} and {}",
            humantime::format_duration(MIN_INTERVAL),
            humantime::format_duration(max)
        );
        violations.add(field, description);
    }
    converted
}

/// Converts a stream item into a response message; CRM entity requests get their response
/// deadline from `crm_response_timeout` (see [`event_to_pb`]).
pub(crate) fn response(
    item: StreamItem,
    now_ms: i64,
    crm_response_timeout: Duration,
) -> pb::SubscribeResponse {
    use pb::subscribe_response::Kind;
    let kind = match item {
        StreamItem::Event(delivery) => Kind::Event(event_to_pb(
            &delivery.event,
            delivery.delivery_count,
            crm_response_timeout,
        )),
        StreamItem::Heartbeat { latest } => Kind::Heartbeat(pb::Heartbeat {
            sent_at: Some(timestamp_from_ms(now_ms)),
            latest_cursor: latest,
        }),
    };
    pb::SubscribeResponse { kind: Some(kind) }
}

impl From<ConsumerInfo> for pb::Consumer {
    fn from(info: ConsumerInfo) -> Self {
        Self {
            name: info.key.name,
            filters: Some(pb::ConsumerFilters {
                accounts: info.filter.accounts,
                types: info
                    .filter
                    .types
                    .into_iter()
                    .map(|event_type| pb::EventType::from(event_type) as i32)
                    .collect(),
                channel_ids: info.filter.channel_ids,
            }),
            acked_cursor: info.acked,
            pending: info.pending,
            lag: info.lag,
            members: info.members,
            account: info.key.account,
        }
    }
}

/// Converts a protobuf `Struct` into a JSON object.
pub(crate) fn struct_to_json(fields: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        fields
            .fields
            .iter()
            .map(|(key, value)| (key.clone(), value_to_json(value)))
            .collect(),
    )
}

/// Converts a protobuf `Value` into JSON (NaN and infinities become null).
fn value_to_json(value: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(flag)) => serde_json::Value::Bool(*flag),
        Some(Kind::NumberValue(number)) => json_number(*number),
        Some(Kind::StringValue(text)) => serde_json::Value::String(text.clone()),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.iter().map(value_to_json).collect())
        }
        Some(Kind::StructValue(fields)) => struct_to_json(fields),
    }
}

/// Keeps integral numbers integral, so an id of 42 is sent as `42`, not `42.0`.
fn json_number(number: f64) -> serde_json::Value {
    let integral = number.fract() == 0.0 && number.abs() < 9_007_199_254_740_992.0;
    if integral {
        serde_json::Value::from(number as i64)
    } else {
        serde_json::Number::from_f64(number)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

#[cfg(test)]
mod tests;
