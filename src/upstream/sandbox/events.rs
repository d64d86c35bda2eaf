//! What the sandbox reports as events, through the same event log as real webhooks: statuses
//! `sent` → `delivered` → `read` shortly after each send, incoming messages injected through
//! `SandboxService.InjectIncomingMessage`, channel state changes, and finished message exports.
//!
//! Every event is built as the webhook JSON the real upstream would send (v3, wazzup-api.md §6;
//! exports exist only in tech v2, so their event is a v2 `messages_dump.status_update`, §16.8)
//! and split by the same decoder as webhooks ([`crate::events::decode`]), so subscribers see the
//! same shapes, ids and payloads; only `Event.dialect` says `sandbox`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::events::decode::{WebhookSource, now_ms};
use crate::events::log::{EventLog, EventLogError};
use crate::events::{NewEvent, StoredEvent};
use crate::failure::ErrorClass;
use crate::model::Dialect;
use crate::model::{Channel, ChannelState, ChatType, Violations};
use crate::upstream::UpstreamError;
use crate::upstream::registry::WEBHOOK_DECODERS;

use super::exports::{DONE_AFTER, HistoryEntry};
use super::{SandboxUpstream, refusal};

/// Time between a send and its `sent` status, and between the following statuses.
const STATUS_STEP: Duration = Duration::from_millis(100);

/// The statuses every sandbox send goes through, in order.
const STATUS_SEQUENCE: [&str; 3] = ["sent", "delivered", "read"];

/// Where a sandbox account's events go.
#[derive(Debug)]
pub(super) struct SandboxEvents {
    /// The account the events belong to.
    account: String,
    /// The gateway's event log.
    log: Arc<dyn EventLog>,
    /// Status tasks still running, so they can be awaited (tests, shutdown) instead of leaking.
    status_tasks: Mutex<JoinSet<()>>,
}

/// An incoming message to report, as `SandboxService.InjectIncomingMessage` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IncomingMessage {
    /// The sandbox channel that receives it.
    pub channel_id: String,
    /// The customer's chat id.
    pub chat_id: String,
    /// The kind of chat; `None` means the one-to-one chat of the channel's transport.
    pub chat_type: Option<ChatType>,
    /// The text.
    pub text: String,
    /// The customer's display name; empty means the chat id.
    pub contact_name: String,
}

impl SandboxEvents {
    /// Sends the events of `account` to `log`.
    pub(super) fn new(account: &str, log: Arc<dyn EventLog>) -> Self {
        Self {
            account: account.to_owned(),
            log,
            status_tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// Reports `sent`, `delivered` and `read` for a sent message, one step apart, in a tracked
    /// task. A status that cannot be stored is logged and ends the sequence.
    pub(super) fn message_sent(&self, message_id: &str, channel_id: &str, chat_id: &str) {
        let reporter = StatusReporter {
            account: self.account.clone(),
            log: self.log.clone(),
            message_id: message_id.to_owned(),
            channel_id: channel_id.to_owned(),
            chat_id: chat_id.to_owned(),
        };
        let mut tasks = self.status_tasks.lock();
        while tasks.try_join_next().is_some() {}
        tasks.spawn(reporter.run());
    }

    /// Stores an incoming customer message and returns it as stored.
    pub(super) async fn incoming_message(
        &self,
        message: &IncomingMessage,
        chat_type: ChatType,
    ) -> Result<StoredEvent, EventLogError> {
        let contact_name = if message.contact_name.is_empty() {
            &message.chat_id
        } else {
            &message.contact_name
        };
        let item = json!({
            "messageId": uuid::Uuid::new_v4().to_string(),
            "dateTime": iso_now(),
            "channelId": message.channel_id,
            "chatType": chat_type.as_upstream(),
            "chatId": message.chat_id,
            "type": "text",
            "isEcho": false,
            "text": message.text,
            "contact": { "name": contact_name },
            "status": "inbound",
        });
        self.store_one(json!({ "messages": [item] })).await
    }

    /// Stores a channel's new state and returns it as stored.
    pub(super) async fn channel_updated(
        &self,
        channel: &Channel,
    ) -> Result<StoredEvent, EventLogError> {
        let item = json!({
            "channelId": channel.channel_id,
            "state": channel.state_raw,
            "timestamp": now_ms(),
        });
        self.store_one(json!({ "channelsUpdates": [item] })).await
    }

    /// Stores the `messages_dump.status_update` event of an export when it is done (after
    /// [`DONE_AFTER`]), in a tracked task, as the tech v2 upstream would deliver it.
    pub(super) fn export_will_finish(&self, export_id: &str, url: String) {
        let account = self.account.clone();
        let log = self.log.clone();
        let export_id = export_id.to_owned();
        let mut tasks = self.status_tasks.lock();
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            tokio::time::sleep(DONE_AFTER).await;
            let body = json!({
                "event": "messages_dump.status_update",
                "data": [{ "export_id": export_id, "status": "done", "url": url }],
                "meta": {
                    "idempotency_key": format!("sandbox-export-{export_id}"),
                    "timestamp": now_ms() / 1000,
                },
            });
            let event = sandbox_event(&account, &body);
            if let Err(error) = log.append(vec![event]).await {
                tracing::warn!(
                    account,
                    error = &error as &dyn std::error::Error,
                    "sandbox export event not stored"
                );
            }
        });
    }

    /// Waits until every status sequence started so far has been stored.
    #[cfg(test)]
    pub(super) async fn flush(&self) {
        let mut tasks = std::mem::take(&mut *self.status_tasks.lock());
        while tasks.join_next().await.is_some() {}
    }

    /// Stores the single event of a v3-shaped body.
    async fn store_one(&self, body: Value) -> Result<StoredEvent, EventLogError> {
        let event = sandbox_event(&self.account, &body);
        let cursors = self.log.append(vec![event.clone()]).await?;
        let cursor = cursors.first().copied().unwrap_or_default();
        debug_assert_eq!(cursors.len(), 1);
        Ok(StoredEvent { cursor, event })
    }
}

// === impl SandboxUpstream (events) ===

impl SandboxUpstream {
    /// Sends this sandbox's events (statuses after sends, injected messages, channel changes) to
    /// `log` as events of `account`. Returns false when a log was already connected.
    pub(crate) fn connect_event_log(&self, account: &str, log: Arc<dyn EventLog>) -> bool {
        self.events.set(SandboxEvents::new(account, log)).is_ok()
    }

    /// Waits until the status events of every send so far are stored.
    #[cfg(test)]
    pub(crate) async fn flush_events(&self) {
        if let Some(events) = self.events.get() {
            events.flush().await;
        }
    }

    /// Stores an incoming customer message, as if the upstream had delivered its webhook.
    ///
    /// # Errors
    ///
    /// Fails with [`UpstreamError::ChannelNotFound`] for an unknown channel, with every field
    /// violation (empty chat id or text, a chat type the channel cannot have), and with a refusal
    /// (`EVENT_LOG_NOT_CONNECTED`, `EVENT_LOG_UNAVAILABLE`) when no log is connected or it cannot
    /// store the event.
    pub(crate) async fn inject_incoming_message(
        &self,
        message: &IncomingMessage,
    ) -> Result<StoredEvent, UpstreamError> {
        let channel = self.channel(&message.channel_id)?;
        let chat_type = check_incoming(message, &channel)?;
        let events = self.events.get().ok_or_else(log_not_connected)?;
        let stored = events
            .incoming_message(message, chat_type)
            .await
            .map_err(log_unavailable)?;
        self.record_history(HistoryEntry {
            at: SystemTime::now(),
            direction: "inbound",
            transport: channel.transport,
            chat_type,
            chat_id: message.chat_id.clone(),
            channel_id: message.channel_id.clone(),
            message_id: stored.event.raw["messageId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            user_name: message.contact_name.clone(),
            text: message.text.clone(),
        });
        Ok(stored)
    }

    /// Puts a channel into `state` and reports the change as a channel event when a log is
    /// connected.
    ///
    /// # Errors
    ///
    /// As [`Self::set_channel_state`], and `EVENT_LOG_UNAVAILABLE` when the log cannot store the
    /// event (the state is changed all the same).
    pub(crate) async fn change_channel_state(
        &self,
        channel_id: &str,
        state: ChannelState,
    ) -> Result<Channel, UpstreamError> {
        let channel = self.set_channel_state(channel_id, state)?;
        if let Some(events) = self.events.get() {
            events
                .channel_updated(&channel)
                .await
                .map_err(log_unavailable)?;
        }
        Ok(channel)
    }

    /// Returns one of the sandbox's channels.
    pub(super) fn channel(&self, channel_id: &str) -> Result<Channel, UpstreamError> {
        self.state
            .lock()
            .channels
            .iter()
            .find(|channel| channel.channel_id == channel_id)
            .cloned()
            .ok_or_else(|| UpstreamError::ChannelNotFound {
                channel_id: channel_id.to_owned(),
            })
    }
}

/// Checks an injected message against its channel and returns its chat type.
fn check_incoming(message: &IncomingMessage, channel: &Channel) -> Result<ChatType, UpstreamError> {
    let mut violations = Violations::new();
    if message.chat_id.trim().is_empty() {
        violations.add("chat_id", "must not be empty");
    }
    if message.text.trim().is_empty() {
        violations.add("text", "must not be empty");
    }
    let allowed = channel.transport.chat_types();
    let chat_type = match message.chat_type {
        Some(chat_type) => chat_type,
        None => allowed.first().copied().unwrap_or(ChatType::Other),
    };
    if !allowed.is_empty() && !allowed.contains(&chat_type) {
        violations.add(
            "chat_type",
            format!(
                "{chat_type} does not fit the channel's transport {}",
                channel.transport
            ),
        );
    }
    violations.finish()?;
    Ok(chat_type)
}

/// The refusal of an event operation before the event log is connected.
fn log_not_connected() -> UpstreamError {
    refusal(
        ErrorClass::FailedPrecondition,
        "EVENT_LOG_NOT_CONNECTED",
        "the sandbox is not connected to the event log",
        Vec::new(),
    )
}

/// The refusal of an event operation the event log could not store.
fn log_unavailable(error: EventLogError) -> UpstreamError {
    tracing::warn!(
        error = &error as &dyn std::error::Error,
        "sandbox event not stored"
    );
    refusal(
        ErrorClass::Unavailable,
        "EVENT_LOG_UNAVAILABLE",
        "the event log could not store the event",
        Vec::new(),
    )
}

/// One message's status sequence.
#[derive(Debug)]
struct StatusReporter {
    account: String,
    log: Arc<dyn EventLog>,
    message_id: String,
    channel_id: String,
    chat_id: String,
}

impl StatusReporter {
    /// Stores each status one step after the previous one.
    async fn run(self) {
        for status in STATUS_SEQUENCE {
            tokio::time::sleep(STATUS_STEP).await;
            let item = json!({
                "messageId": self.message_id,
                "timestamp": iso_now(),
                "status": status,
                "channelId": self.channel_id,
                "chatId": self.chat_id,
            });
            let event = sandbox_event(&self.account, &json!({ "statuses": [item] }));
            if let Err(error) = self.log.append(vec![event]).await {
                tracing::warn!(
                    account = %self.account,
                    status,
                    error = &error as &dyn std::error::Error,
                    "sandbox status not stored"
                );
                return;
            }
        }
    }
}

/// Splits a one-item body (v3, or a tech v2 envelope for exports) into its event, as the ingress
/// would for a sandbox account.
fn sandbox_event(account: &str, body: &Value) -> NewEvent {
    let source = WebhookSource {
        account,
        dialect: Dialect::Sandbox,
        received_at_ms: now_ms(),
    };
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let decoded = WEBHOOK_DECODERS.decode_webhook(source, &bytes);
    debug_assert_eq!(decoded.events.len(), 1, "{body}");
    decoded
        .events
        .into_iter()
        .next()
        .expect("a one-item body yields one event")
}

/// Returns the current time as the v3 webhooks write it (`2025-05-06T14:16:00.002Z`).
fn iso_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::events::EventType;
    use crate::events::payload::{EventPayload, MessageStatus};
    use crate::events::testing::RecordingLog;
    use crate::model::{Content, Recipient, SendMessage};
    use crate::upstream::sandbox::catalogue::{INSTAGRAM_CHANNEL_ID, WHATSAPP_CHANNEL_ID};
    use crate::upstream::{CallContext, Upstream};

    use super::*;

    /// Upper bound of every test.
    const PATIENCE: Duration = Duration::from_secs(10);

    fn connected() -> (SandboxUpstream, Arc<RecordingLog>) {
        let sandbox = SandboxUpstream::new("sandbox", Duration::ZERO);
        let log = Arc::new(RecordingLog::new());
        assert!(sandbox.connect_event_log("sandbox", log.clone()));
        (sandbox, log)
    }

    fn text_to(chat_id: &str) -> SendMessage {
        SendMessage {
            channel_id: WHATSAPP_CHANNEL_ID.to_owned(),
            recipient: Recipient {
                chat_type: Some(ChatType::Whatsapp),
                chat_id: Some(chat_id.to_owned()),
                ..Recipient::default()
            },
            content: Some(Content::Text("hello".to_owned())),
            keyboard: None,
            quoted_message_id: None,
            crm_user_id: None,
            reset_unanswered: None,
            idempotency_key: None,
            notify: None,
        }
    }

    fn injected(chat_type: Option<ChatType>) -> IncomingMessage {
        IncomingMessage {
            channel_id: WHATSAPP_CHANNEL_ID.to_owned(),
            chat_id: "79011112233".to_owned(),
            chat_type,
            text: "is my order ready?".to_owned(),
            contact_name: String::new(),
        }
    }

    #[tokio::test]
    async fn a_send_is_followed_by_sent_delivered_and_read_statuses() {
        tokio::time::timeout(PATIENCE, async {
            let (sandbox, log) = connected();
            let sent = sandbox
                .send_message(&text_to("79011112233"), CallContext::default())
                .await
                .unwrap();
            sandbox.flush_events().await;
            let events = log.events();
            let ids: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
            let expected: Vec<String> = ["sent", "delivered", "read"]
                .iter()
                .map(|status| format!("sandbox:sandbox:status:{}:{status}", sent.message_id))
                .collect();
            assert_eq!(ids, expected);
            for (event, status) in events.iter().zip([
                MessageStatus::Sent,
                MessageStatus::Delivered,
                MessageStatus::Read,
            ]) {
                assert_eq!(event.event_type, EventType::MessageStatus);
                assert_eq!(event.dialect, "sandbox");
                assert_eq!(event.channel_id.as_deref(), Some(WHATSAPP_CHANNEL_ID));
                let EventPayload::Status(decoded) = WEBHOOK_DECODERS.payload(event).into_owned()
                else {
                    panic!("a status payload");
                };
                assert_eq!(decoded.status, Some(status));
                assert_eq!(decoded.message_id, sent.message_id);
                assert_eq!(decoded.chat_id, "79011112233");
                assert!(decoded.occurred_at_ms.is_some());
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn an_injected_message_is_stored_as_a_received_v3_message() {
        let (sandbox, log) = connected();
        let stored = sandbox
            .inject_incoming_message(&injected(None))
            .await
            .unwrap();
        assert_eq!(stored.cursor, 1);
        assert_eq!(log.events(), vec![stored.event.clone()]);
        assert_eq!(stored.event.event_type, EventType::MessageReceived);
        assert_eq!(
            stored.event.channel_id.as_deref(),
            Some(WHATSAPP_CHANNEL_ID)
        );
        let EventPayload::Message(message) = WEBHOOK_DECODERS.payload(&stored.event).into_owned()
        else {
            panic!("a message payload");
        };
        assert_eq!(message.text, "is my order ready?");
        assert_eq!(
            message.chat_type,
            Some(ChatType::Whatsapp),
            "the channel's default"
        );
        assert_eq!(
            message.contact.unwrap().name,
            "79011112233",
            "defaults to the chat id"
        );
        assert_eq!(message.status, Some(MessageStatus::Inbound));
        assert!(message.sent_at_ms.is_some());
    }

    #[tokio::test]
    async fn an_injected_message_is_checked_against_its_channel() {
        let (sandbox, log) = connected();
        let wrong_type = sandbox
            .inject_incoming_message(&injected(Some(ChatType::Telegram)))
            .await
            .unwrap_err();
        assert_eq!(wrong_type.reason(), "INVALID_REQUEST");
        assert_eq!(wrong_type.field_violations()[0].field, "chat_type");

        let mut empty = injected(None);
        empty.text = " ".to_owned();
        empty.chat_id = String::new();
        let refused = sandbox.inject_incoming_message(&empty).await.unwrap_err();
        assert_eq!(refused.field_violations().len(), 2);

        let mut elsewhere = injected(None);
        elsewhere.channel_id = "no-such-channel".to_owned();
        let missing = sandbox
            .inject_incoming_message(&elsewhere)
            .await
            .unwrap_err();
        assert_eq!(missing.reason(), "CHANNEL_NOT_FOUND");
        assert!(log.events().is_empty());

        let mut instagram = injected(Some(ChatType::Instagram));
        instagram.channel_id = INSTAGRAM_CHANNEL_ID.to_owned();
        assert!(sandbox.inject_incoming_message(&instagram).await.is_ok());
    }

    #[tokio::test]
    async fn without_a_log_injection_is_refused_and_state_changes_still_work() {
        let sandbox = SandboxUpstream::new("sandbox", Duration::ZERO);
        let refused = sandbox
            .inject_incoming_message(&injected(None))
            .await
            .unwrap_err();
        assert_eq!(refused.reason(), "EVENT_LOG_NOT_CONNECTED");
        let channel = sandbox
            .change_channel_state(WHATSAPP_CHANNEL_ID, ChannelState::Disabled)
            .await
            .unwrap();
        assert_eq!(channel.state, ChannelState::Disabled);
    }

    #[tokio::test]
    async fn a_state_change_is_stored_as_a_channel_update() {
        let (sandbox, log) = connected();
        sandbox
            .change_channel_state(WHATSAPP_CHANNEL_ID, ChannelState::Qr)
            .await
            .unwrap();
        let events = log.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, EventType::ChannelUpdated);
        let EventPayload::Channel(channel) = WEBHOOK_DECODERS.payload(&events[0]).into_owned()
        else {
            panic!("a channel payload");
        };
        assert_eq!(channel.channel_id, WHATSAPP_CHANNEL_ID);
        assert_eq!(channel.state, Some(ChannelState::Qr));
    }

    #[tokio::test]
    async fn a_failing_log_reports_the_log_as_unavailable() {
        let (sandbox, log) = connected();
        log.set_failing(true);
        let refused = sandbox
            .inject_incoming_message(&injected(None))
            .await
            .unwrap_err();
        assert_eq!(refused.reason(), "EVENT_LOG_UNAVAILABLE");
        assert_eq!(refused.class(), ErrorClass::Unavailable);
    }
}
