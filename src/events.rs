//! Webhooks as durable streams: the shared vocabulary of the ingress (which turns upstream
//! webhooks into [`NewEvent`]s), the [`log::EventLog`] (which stores them durably before the
//! webhook is acknowledged), and the subscribers that read them back by cursor.
//!
//! An event is stored with the upstream's JSON item it came from (`raw`); its typed payload is
//! decoded from `raw` once when the webhook is received and travels with the event in memory, and
//! an event read back from storage is decoded again. An upstream shape the gateway does not
//! understand yet is stored and delivered (as [`EventType::Unknown`] when its kind is unknown),
//! never lost.
//!
//! - [`bounds`]: the nesting depth and delivered size every stored event stays within.
//! - [`log`]: the [`log::EventLog`] and [`log::ConsumerStore`] traits and the embedded backend.
//! - [`fanout`]: subscriptions over the log (ephemeral tails and named consumers' group members).
//! - [`groups`]: the [`groups::ConsumerGroups`] seam the event service uses; [`fanout::Fanout`]
//!   is the embedded backend's implementation.
//! - [`dispatcher`]: one task per active named consumer: group dispatch, acks, redelivery.
//! - [`consumers`]: consumer identity, filters and stored progress.
//! - [`responses`]: CRM entity requests held open until `EventService.Respond`.

pub(crate) mod bounds;
pub(crate) mod consumers;
pub(crate) mod decode;
pub(crate) mod dispatcher;
pub(crate) mod fanout;
pub(crate) mod groups;
pub(crate) mod ingress;
pub(crate) mod log;
pub(crate) mod outcomes;
pub(crate) mod payload;
pub(crate) mod responses;
#[cfg(test)]
pub(crate) mod testing;

use serde::{Deserialize, Serialize};

use crate::model::EventDialect;

/// A position in the event log: assigned at append, strictly increasing, starting at 1.
pub type Cursor = u64;

/// What happened, as the gRPC `EventType` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A customer wrote to a channel.
    MessageReceived,
    /// A message was sent outside the API (phone, Wazzup chat) and echoed to us.
    MessageEcho,
    /// A message was edited.
    MessageEdited,
    /// A message was deleted.
    MessageDeleted,
    /// An outgoing message changed status (sent, delivered, read, error, …).
    MessageStatus,
    /// A channel changed state (QR, active, tier, …).
    ChannelUpdated,
    /// A WABA template's moderation status changed.
    TemplateStatus,
    /// The upstream asks the CRM to create a contact (answered through `EventService.Respond`).
    ContactRequested,
    /// The upstream asks the CRM to create a deal (answered through `EventService.Respond`).
    DealRequested,
    /// A message export is ready.
    ExportReady,
    /// A group chat changed (members, info).
    GroupChatUpdated,
    /// An authentic webhook of a shape or kind the gateway does not know; `raw` holds it all.
    Unknown,
}

/// An event ready to be stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Stable identity: a redelivered webhook produces the same id, and the log stores an id once
    /// (v3: `messageId` + kind + status; tech v2: `meta.idempotency_key` + item index).
    pub id: String,
    /// The configured account the webhook arrived for.
    pub account: String,
    /// The dialect that produced it, stored as its name (`wazzup_v3`, `wazzup_tech`, `devino`,
    /// `sandbox`).
    pub dialect: EventDialect,
    /// What happened.
    pub event_type: EventType,
    /// The channel the event concerns, when it names one (used by subscription filters).
    pub channel_id: Option<String>,
    /// When the gateway received it, in milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// When it happened upstream, in milliseconds since the Unix epoch, when the upstream says.
    pub occurred_at_ms: Option<i64>,
    /// The upstream's JSON for this one event (the whole body for unknown shapes).
    pub raw: serde_json::Value,
    /// What the event says, typed: decoded from `raw` once, by the dialect, when the webhook is
    /// received, so that the events delivered from memory (the live tail) are converted, not
    /// decoded again. Not stored: the backends keep `raw` alone (a stored copy measured at about
    /// +50% CPU per webhook at ingest and up to twice the bytes per row, see
    /// `docs/benchmarks.md`), so an event read back from storage has `None` and its dialect
    /// decodes it when it is read.
    pub payload: Option<payload::EventPayload>,
}

/// An event as stored, with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Its position in the log.
    pub cursor: Cursor,
    /// The event.
    pub event: NewEvent,
}
