//! Typed event payloads ([`crate::events::payload`]) into the `pb::Event.payload` oneof.

use crate::events::payload::{
    ChannelChange, ChannelPayload, Contact, CrmEntityKind, CrmRequestPayload, Direction,
    EventPayload, GroupChatChange, Location, MessageError, MessagePayload, MessageStatus,
    MessageType, OldInfo, StatusPayload, TemplateStatusPayload, UnknownPayload,
};
use crate::proto::pb;

use super::{json_to_struct, timestamp_from_ms};

/// Converts a decoded payload; a CRM request reports `crm_deadline_ms` as its response deadline.
pub(super) fn payload_to_pb(payload: EventPayload, crm_deadline_ms: i64) -> pb::event::Payload {
    match payload {
        EventPayload::Message(message) => pb::event::Payload::Message(message_to_pb(*message)),
        EventPayload::Status(status) => pb::event::Payload::Status(status_to_pb(status)),
        EventPayload::Channel(channel) => pb::event::Payload::Channel(channel_to_pb(channel)),
        EventPayload::TemplateStatus(template) => {
            pb::event::Payload::TemplateStatus(template_to_pb(template))
        }
        EventPayload::CrmRequest(request) => {
            pb::event::Payload::CrmRequest(crm_request_to_pb(request, crm_deadline_ms))
        }
        EventPayload::GroupChat(group) => pb::event::Payload::GroupChat(pb::GroupChatEvent {
            channel_id: group.channel_id,
            chat_id: group.chat_id,
            change: match group.change {
                GroupChatChange::Memberships => pb::GroupChatChange::Memberships,
                GroupChatChange::Info => pb::GroupChatChange::Info,
            }
            .into(),
            data: json_to_struct(&group.data),
        }),
        EventPayload::Export(export) => pb::event::Payload::Export(pb::ExportEvent {
            export: Some(export.into()),
        }),
        EventPayload::Unknown(UnknownPayload { reason, kind }) => {
            pb::event::Payload::Unknown(pb::UnknownEvent { reason, kind })
        }
    }
}

/// Returns the proto number of an optional enum (0, unspecified, when absent).
fn enum_number<T, P: From<T> + Into<i32>>(value: Option<T>) -> i32 {
    value.map_or(0, |value| P::from(value).into())
}

/// Converts a message.
fn message_to_pb(message: MessagePayload) -> pb::MessageEvent {
    pb::MessageEvent {
        message_id: message.message_id,
        channel_id: message.channel_id,
        chat_type: enum_number::<_, pb::ChatType>(message.chat_type),
        chat_type_raw: message.chat_type_raw,
        chat_id: message.chat_id,
        avito_profile_id: message.avito_profile_id,
        sent_at: message.sent_at_ms.map(timestamp_from_ms),
        r#type: enum_number::<_, pb::MessageType>(message.message_type),
        type_raw: message.type_raw,
        is_echo: message.is_echo,
        text: message.text,
        content_uri: message.content_uri,
        status: enum_number::<_, pb::MessageStatus>(message.status),
        status_raw: message.status_raw,
        error: message.error.map(error_to_pb),
        author_name: message.author_name,
        author_id: message.author_id,
        contact: message.contact.map(contact_to_pb),
        quoted_message: message.quoted_message.as_ref().and_then(json_to_struct),
        is_edited: message.is_edited,
        is_deleted: message.is_deleted,
        old_info: message.old_info.map(old_info_to_pb),
        instagram_post: message.instagram_post.as_ref().and_then(json_to_struct),
        interactive: message
            .interactive
            .iter()
            .filter_map(json_to_struct)
            .collect(),
        sent_from_app: message.sent_from_app,
        direction: enum_number::<_, pb::Direction>(message.direction),
        advert: message.advert.as_ref().and_then(json_to_struct),
        direction_raw: message.direction_raw,
        request_id: message.request_id,
        crm_user_id: message.crm_user_id,
        sender: message.sender.map(contact_to_pb),
        location: message.location.map(location_to_pb),
        shared_contacts: message
            .shared_contacts
            .iter()
            .filter_map(json_to_struct)
            .collect(),
        content_mime_type: message.content_mime_type,
        content_name: message.content_name,
    }
}

/// Converts a shared location.
fn location_to_pb(location: Location) -> pb::Location {
    pb::Location {
        latitude: location.latitude,
        longitude: location.longitude,
        address: location.address,
        address_name: location.address_name,
        url: location.url,
    }
}

/// Converts a contact.
fn contact_to_pb(contact: Contact) -> pb::Contact {
    pb::Contact {
        name: contact.name,
        avatar_uri: contact.avatar_uri,
        username: contact.username,
        phone: contact.phone,
        chat_id: contact.chat_id,
    }
}

/// Converts a delivery failure.
fn error_to_pb(error: MessageError) -> pb::MessageError {
    pb::MessageError {
        code: error.code,
        description: error.description,
        data: error.data.as_ref().and_then(json_to_struct),
    }
}

/// Converts edit/delete history.
fn old_info_to_pb(old_info: OldInfo) -> pb::OldInfo {
    pb::OldInfo {
        old_text: old_info.old_text,
        old_author_id: old_info.old_author_id,
        old_author_name: old_info.old_author_name,
    }
}

/// Converts a status change.
fn status_to_pb(status: StatusPayload) -> pb::MessageStatusEvent {
    let (error_code, error_description, error_data) = match status.error {
        Some(error) => (
            error.code,
            error.description,
            error.data.as_ref().and_then(json_to_struct),
        ),
        None => (String::new(), String::new(), None),
    };
    pb::MessageStatusEvent {
        message_id: status.message_id,
        status: enum_number::<_, pb::MessageStatus>(status.status),
        status_raw: status.status_raw,
        error_code,
        error_description,
        occurred_at: status.occurred_at_ms.map(timestamp_from_ms),
        channel_id: status.channel_id,
        chat_id: status.chat_id,
        error_data,
        request_id: status.request_id,
        callback_data: status.callback_data,
    }
}

/// Converts a channel change.
fn channel_to_pb(channel: ChannelPayload) -> pb::ChannelEvent {
    pb::ChannelEvent {
        channel_id: channel.channel_id,
        change: pb::ChannelChange::from(channel.change).into(),
        state: enum_number::<_, pb::ChannelState>(channel.state),
        state_raw: channel.state_raw,
        tier: channel.tier,
        qr: channel.qr,
        changed_at: channel.changed_at_ms.map(timestamp_from_ms),
        pairing_code: channel.pairing_code,
        reason: channel.reason,
        transport: enum_number::<_, pb::Transport>(channel.transport),
        transport_raw: channel.transport_raw,
    }
}

/// Converts a template moderation change.
fn template_to_pb(template: TemplateStatusPayload) -> pb::TemplateStatusEvent {
    pb::TemplateStatusEvent {
        template_id: template.template_id,
        name: template.name,
        status: enum_number::<_, pb::TemplateStatus>(template.status),
        status_raw: template.status_raw,
        rejected_reason: template.rejected_reason,
    }
}

/// Converts a CRM entity request.
fn crm_request_to_pb(request: CrmRequestPayload, deadline_ms: i64) -> pb::CrmEntityRequest {
    pb::CrmEntityRequest {
        kind: pb::CrmEntityKind::from(request.kind).into(),
        body: json_to_struct(&request.body),
        response_deadline: Some(timestamp_from_ms(deadline_ms)),
    }
}

impl From<MessageType> for pb::MessageType {
    fn from(message_type: MessageType) -> Self {
        match message_type {
            MessageType::Text => Self::Text,
            MessageType::Image => Self::Image,
            MessageType::Audio => Self::Audio,
            MessageType::Video => Self::Video,
            MessageType::Document => Self::Document,
            MessageType::Vcard => Self::Vcard,
            MessageType::Geo => Self::Geo,
            MessageType::WapiTemplate => Self::WapiTemplate,
            MessageType::Unsupported => Self::Unsupported,
            MessageType::MissingCall => Self::MissingCall,
            MessageType::Unknown => Self::Unknown,
            MessageType::System => Self::System,
            MessageType::Other => Self::Other,
        }
    }
}

impl From<MessageStatus> for pb::MessageStatus {
    fn from(status: MessageStatus) -> Self {
        match status {
            MessageStatus::Sent => Self::Sent,
            MessageStatus::Delivered => Self::Delivered,
            MessageStatus::Read => Self::Read,
            MessageStatus::Error => Self::Error,
            MessageStatus::Edited => Self::Edited,
            MessageStatus::Inbound => Self::Inbound,
            MessageStatus::Accepted => Self::Accepted,
            MessageStatus::Expired => Self::Expired,
            MessageStatus::Clicked => Self::Clicked,
            MessageStatus::Other => Self::Other,
        }
    }
}

impl From<Direction> for pb::Direction {
    fn from(direction: Direction) -> Self {
        match direction {
            Direction::Inbound => Self::Inbound,
            Direction::Outbound => Self::Outbound,
        }
    }
}

impl From<ChannelChange> for pb::ChannelChange {
    fn from(change: ChannelChange) -> Self {
        match change {
            ChannelChange::State => Self::State,
            ChannelChange::Created => Self::Created,
            ChannelChange::Deleted => Self::Deleted,
            ChannelChange::Qr => Self::Qr,
            ChannelChange::Tier => Self::Tier,
        }
    }
}

impl From<CrmEntityKind> for pb::CrmEntityKind {
    fn from(kind: CrmEntityKind) -> Self {
        match kind {
            CrmEntityKind::Contact => Self::Contact,
            CrmEntityKind::Deal => Self::Deal,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::api::convert::events::event_to_pb;
    use crate::events::decode::WebhookSource;
    use crate::events::{NewEvent, StoredEvent};
    use crate::model::Dialect;
    use crate::proto::pb;
    use crate::upstream::registry::WEBHOOK_DECODERS;

    /// Decodes a v3 body the way the ingress does and returns its events as stored.
    fn stored(body: &str) -> Vec<StoredEvent> {
        let source = WebhookSource {
            account: "main",
            dialect: Dialect::WazzupV3,
            received_at_ms: 1_746_540_000_000,
        };
        let decoded = WEBHOOK_DECODERS.decode_webhook(source, body.as_bytes());
        decoded
            .events
            .into_iter()
            .zip(1..)
            .map(|(event, cursor)| StoredEvent { cursor, event })
            .collect()
    }

    /// The CRM hold the tests convert with.
    const HOLD: Duration = Duration::from_secs(25);

    fn first(body: &str) -> pb::Event {
        event_to_pb(&stored(body)[0], 1, HOLD)
    }

    #[test]
    fn a_message_event_carries_the_envelope_and_every_decoded_field() {
        let body = include_str!(
            "../../../upstream/wazzup_v3/webhooks/fixtures/messages_echo_every_field.json"
        );
        let event = first(body);
        assert_eq!(event.cursor, 1);
        assert_eq!(event.r#type(), pb::EventType::MessageEcho);
        assert_eq!(event.delivery_count, 1);
        assert!(event.raw.as_ref().unwrap().fields.contains_key("instPost"));
        let Some(pb::event::Payload::Message(message)) = event.payload else {
            panic!("a message payload");
        };
        assert_eq!(message.chat_type(), pb::ChatType::Telegram);
        assert_eq!(message.r#type(), pb::MessageType::Text);
        assert_eq!(message.status(), pb::MessageStatus::Error);
        assert_eq!(message.direction(), pb::Direction::Outbound);
        assert!(message.is_echo && message.sent_from_app);
        assert_eq!(message.error.unwrap().code, "24_HOURS_EXCEEDED");
        assert_eq!(message.contact.unwrap().phone, "79011112233");
        assert_eq!(message.interactive.len(), 2);
        assert!(message.quoted_message.is_some() && message.instagram_post.is_some());
        assert!(message.advert.is_some());
        let sent_at = message.sent_at.unwrap();
        assert_eq!(
            (sent_at.seconds, sent_at.nanos),
            (1_746_541_211, 500_000_000)
        );
    }

    #[test]
    fn statuses_channels_and_templates_map_their_enums() {
        let body = include_str!(
            "../../../upstream/wazzup_v3/webhooks/fixtures/messages_and_statuses.json"
        );
        let error = event_to_pb(&stored(body)[4], 1, HOLD);
        let Some(pb::event::Payload::Status(status)) = error.payload else {
            panic!("a status payload");
        };
        assert_eq!(status.status(), pb::MessageStatus::Error);
        assert_eq!(status.error_code, "BAD_CONTACT");
        assert_eq!(status.error_description, "The contact does not exist");

        let body =
            include_str!("../../../upstream/wazzup_v3/webhooks/fixtures/channels_updates_qr.json");
        let Some(pb::event::Payload::Channel(channel)) = first(body).payload else {
            panic!("a channel payload");
        };
        assert_eq!(channel.state(), pb::ChannelState::Qr);
        assert_eq!(channel.change(), pb::ChannelChange::State);
        assert!(channel.qr.starts_with("data:image/png"));

        let body =
            include_str!("../../../upstream/wazzup_v3/webhooks/fixtures/tolerant_values.json");
        let Some(pb::event::Payload::TemplateStatus(template)) =
            event_to_pb(&stored(body)[2], 1, HOLD).payload
        else {
            panic!("a template payload");
        };
        assert_eq!(template.status(), pb::TemplateStatus::Other);
        assert_eq!(template.status_raw, "ARCHIVED_FOREVER");
    }

    #[test]
    fn a_crm_request_carries_its_body_and_a_response_deadline() {
        let body = include_str!("../../../upstream/wazzup_v3/webhooks/fixtures/create_deal.json");
        let event = first(body);
        let Some(pb::event::Payload::CrmRequest(request)) = event.payload else {
            panic!("a CRM request payload");
        };
        assert_eq!(request.kind(), pb::CrmEntityKind::Deal);
        assert!(
            request
                .body
                .unwrap()
                .fields
                .contains_key("responsibleUserId")
        );
        let deadline = request.response_deadline.unwrap();
        let received = event.received_at.unwrap();
        assert!(
            (deadline.seconds, deadline.nanos) > (received.seconds, received.nanos),
            "the deadline is after receipt"
        );
    }

    #[test]
    fn an_unknown_body_that_is_not_an_object_travels_under_value() {
        let event = first("[1, 2]");
        assert_eq!(event.r#type(), pb::EventType::Unknown);
        let raw = event.raw.unwrap();
        assert!(raw.fields.contains_key("value"), "{raw:?}");
        let Some(pb::event::Payload::Unknown(unknown)) = event.payload else {
            panic!("an unknown payload");
        };
        assert!(unknown.reason.contains("raw.value"), "{}", unknown.reason);
    }

    #[test]
    fn an_event_of_an_undecoded_dialect_is_delivered_as_unknown() {
        let event = NewEvent {
            id: "devino:main:unknown:1".to_owned(),
            account: "main".to_owned(),
            dialect: crate::model::Dialect::Devino.into(),
            event_type: crate::events::EventType::Unknown,
            channel_id: None,
            received_at_ms: 0,
            occurred_at_ms: None,
            raw: serde_json::json!({"x": 1}),
            payload: None,
        };
        let converted = event_to_pb(&StoredEvent { cursor: 9, event }, 2, HOLD);
        assert_eq!(converted.delivery_count, 2);
        assert!(matches!(
            converted.payload,
            Some(pb::event::Payload::Unknown(_))
        ));
    }
}
