//! Conversions between the generated protobuf types and the domain model. Requests convert
//! permissively (validation lives in `model::validate`); only what the domain cannot represent at
//! all, such as a negative size or an enum number this build does not know, is reported here.

pub mod channels;
pub mod events;
pub mod exports;
pub mod keyboards;
pub mod messages;
pub mod shared_events;
pub mod subscriptions;
pub mod templates;
pub mod webhooks;

/// Returns `Some(value)` unless it is empty (proto3 strings have no "unset").
pub(crate) fn non_empty(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}
