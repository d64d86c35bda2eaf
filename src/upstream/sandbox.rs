//! The built-in sandbox upstream, a product feature: an in-memory stand-in for a Wazzup account
//! with a few channels of different transports and WABA templates, so that a newcomer can call
//! every RPC with grpcurl without credentials. It applies the same validation as the real dialects
//! (that happens in [`Account`](crate::service::Account)) and refuses what the real API refuses (editing a message
//! with buttons, deleting on a transport without deletion, …). It never stands in for tests of the
//! real dialects.

mod catalogue;
mod events;
mod exports;
mod spec;
mod webhooks;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

pub(crate) use spec::SPEC;

use crate::failure::ErrorClass;
use crate::model::Dialect;
use crate::model::{
    Channel, ChannelState, ChatType, Content, DeleteMessage, EditContent, EditMessage,
    ExportRequest, MessageExport, MessageRef, SendMessage, SentMessage, Template, TemplatePage,
    TemplateStatus, Transport, WebhookSettings,
};

pub(crate) use self::exports::csv_chunks;
use super::error::Rejection;
use super::{CallContext, PageRequest, Upstream, UpstreamError};

pub(crate) use events::IncomingMessage;

use self::events::SandboxEvents;
use self::exports::{ExportFile, HistoryEntry, SandboxExports};

/// The ErrorInfo domain of refusals the sandbox makes in the upstream's place.
const SANDBOX_DOMAIN: &str = "sandbox.wazzup-gateway";

/// An in-memory upstream account.
#[derive(Debug)]
pub(crate) struct SandboxUpstream {
    /// The account's name (part of its export file links).
    account: String,
    /// Where the gateway serves export files, e.g. `http://127.0.0.1:9090`, once known.
    files_base_url: OnceLock<String>,
    /// Simulated latency of every operation.
    latency: Duration,
    /// Channels, sent messages and templates.
    state: Mutex<SandboxState>,
    /// Where its events go, once the event log is connected (`connect_event_log`).
    events: OnceLock<SandboxEvents>,
}

/// What the sandbox remembers.
#[derive(Debug)]
struct SandboxState {
    /// The account's channels, in a fixed order.
    channels: Vec<Channel>,
    /// Messages sent through the sandbox, by message id.
    messages: HashMap<String, SentRecord>,
    /// The WABA templates.
    templates: Vec<Template>,
    /// The webhook subscription, kept in memory (nothing is ever delivered to it).
    webhooks: WebhookSettings,
    /// Messages seen, and export jobs.
    exports: SandboxExports,
}

/// What the sandbox keeps of a sent message.
#[derive(Clone, Debug)]
struct SentRecord {
    /// The chat it went to.
    chat_id: String,
    /// The transport of the channel it went from.
    transport: Transport,
    /// Whether it carried buttons (such messages cannot be edited).
    has_keyboard: bool,
    /// Whether it was deleted.
    deleted: bool,
}

impl SandboxUpstream {
    /// Creates the sandbox for `account`, with its channels and templates, answering every
    /// operation after `latency`.
    pub(crate) fn new(account: &str, latency: Duration) -> Self {
        let state = SandboxState {
            channels: catalogue::channels(account),
            messages: HashMap::new(),
            templates: catalogue::templates(),
            webhooks: WebhookSettings::default(),
            exports: SandboxExports::default(),
        };
        Self {
            account: account.to_owned(),
            files_base_url: OnceLock::new(),
            latency,
            state: Mutex::new(state),
            events: OnceLock::new(),
        }
    }

    /// Puts a channel into `state`, as if the upstream reported a change.
    ///
    /// # Errors
    ///
    /// Fails with [`UpstreamError::ChannelNotFound`] for an unknown channel.
    pub(crate) fn set_channel_state(
        &self,
        channel_id: &str,
        state: ChannelState,
    ) -> Result<Channel, UpstreamError> {
        let mut sandbox = self.state.lock();
        let channel = sandbox
            .channels
            .iter_mut()
            .find(|channel| channel.channel_id == channel_id)
            .ok_or_else(|| UpstreamError::ChannelNotFound {
                channel_id: channel_id.to_owned(),
            })?;
        channel.state = state;
        channel.state_raw = state.as_upstream().to_owned();
        Ok(channel.clone())
    }

    /// Makes every export CSV end with `rows` generated rows (a load-test knob: they are written
    /// as the file is sent, never held).
    pub(crate) fn with_synthetic_export_rows(self, rows: u64) -> Self {
        self.state.lock().exports.set_synthetic_rows(rows);
        self
    }

    /// Tells the sandbox where the gateway serves its export files (the admin listener's base
    /// URL, e.g. `http://127.0.0.1:9090`); done links point there. Returns false when already set.
    pub(crate) fn serve_files_at(&self, base_url: &str) -> bool {
        self.files_base_url
            .set(base_url.trim_end_matches('/').to_owned())
            .is_ok()
    }

    /// Returns the link of an export's CSV (empty until [`Self::serve_files_at`] was called).
    fn file_url(&self, export_id: &str) -> String {
        self.files_base_url
            .get()
            .map(|base| file_url(base, &self.account, export_id))
            .unwrap_or_default()
    }

    /// Returns the rows of a finished export's CSV; `None` for an unknown or unfinished export.
    pub(crate) fn export_file(&self, export_id: &str) -> Option<ExportFile> {
        self.state.lock().exports.file(export_id)
    }

    /// Remembers a message for exports.
    fn record_history(&self, entry: HistoryEntry) {
        self.state.lock().exports.record(entry);
    }

    /// Waits the configured latency, as a remote upstream would take.
    async fn simulate_latency(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    /// Returns a sent message that still exists.
    fn live_message(&self, message_id: &str) -> Result<SentRecord, UpstreamError> {
        let sandbox = self.state.lock();
        match sandbox.messages.get(message_id) {
            Some(record) if !record.deleted => Ok(record.clone()),
            _ => Err(UpstreamError::MessageNotFound {
                message_id: message_id.to_owned(),
            }),
        }
    }

    /// Checks that an approved template with that id exists.
    fn check_template(&self, template_id: &str) -> Result<(), UpstreamError> {
        let sandbox = self.state.lock();
        let template = sandbox
            .templates
            .iter()
            .find(|template| template.template_id == template_id)
            .ok_or_else(|| UpstreamError::TemplateNotFound {
                template_id: template_id.to_owned(),
            })?;
        if template.status == TemplateStatus::Approved {
            return Ok(());
        }
        Err(refusal(
            ErrorClass::FailedPrecondition,
            "TEMPLATE_REJECTED",
            "only approved templates can be sent",
            vec![
                ("templateId", template_id.to_owned()),
                ("status", template.status_raw.clone()),
            ],
        ))
    }
}

#[async_trait]
impl Upstream for SandboxUpstream {
    fn dialect(&self) -> Dialect {
        Dialect::Sandbox
    }

    async fn list_channels(&self, _call: CallContext) -> Result<Vec<Channel>, UpstreamError> {
        self.simulate_latency().await;
        Ok(self.state.lock().channels.clone())
    }

    async fn send_message(
        &self,
        send: &SendMessage,
        _call: CallContext,
    ) -> Result<SentMessage, UpstreamError> {
        self.simulate_latency().await;
        if let Some(Content::Template(template)) = &send.content {
            self.check_template(&template.template_id)?;
        }
        let transport = self
            .state
            .lock()
            .channels
            .iter()
            .find(|channel| channel.channel_id == send.channel_id)
            .map_or(Transport::Other, |channel| channel.transport);
        let chat_id = chat_id_for(send);
        let message_id = uuid::Uuid::new_v4().to_string();
        self.record_history(HistoryEntry {
            at: std::time::SystemTime::now(),
            direction: "outbound",
            transport,
            chat_type: send
                .recipient
                .chat_type
                .or_else(|| transport.chat_types().first().copied())
                .unwrap_or(ChatType::Other),
            chat_id: chat_id.clone(),
            channel_id: send.channel_id.clone(),
            message_id: message_id.clone(),
            user_name: send.recipient.contact_name.clone().unwrap_or_default(),
            text: match &send.content {
                Some(Content::Text(text)) => text.clone(),
                _ => String::new(),
            },
        });
        let record = SentRecord {
            chat_id: chat_id.clone(),
            transport,
            has_keyboard: send.keyboard.is_some(),
            deleted: false,
        };
        self.state
            .lock()
            .messages
            .insert(message_id.clone(), record);
        if let Some(events) = self.events.get() {
            events.message_sent(&message_id, &send.channel_id, &chat_id);
        }
        Ok(SentMessage {
            message_id,
            chat_id,
            request_id: String::new(),
        })
    }

    async fn edit_message(
        &self,
        edit: &EditMessage,
        _call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        self.simulate_latency().await;
        let record = self.live_message(&edit.message_id)?;
        let editable = match edit.content {
            Some(EditContent::Attachment(_)) => can_edit_content(record.transport),
            _ => can_edit_text(record.transport),
        };
        if !editable {
            return Err(transport_refusal(
                "CHANNEL_INVALID_TRANSPORT_FOR_EDITING",
                "this transport does not allow editing this content",
                record.transport,
            ));
        }
        if record.has_keyboard {
            return Err(refusal(
                ErrorClass::FailedPrecondition,
                "MESSAGES_CONTAIN_BUTTONS",
                "messages with buttons cannot be edited",
                vec![("messageId", edit.message_id.clone())],
            ));
        }
        Ok(MessageRef {
            message_id: edit.message_id.clone(),
            chat_id: record.chat_id,
        })
    }

    async fn delete_message(
        &self,
        delete: &DeleteMessage,
        _call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        self.simulate_latency().await;
        let record = self.live_message(&delete.message_id)?;
        if !can_delete(record.transport) {
            return Err(transport_refusal(
                "CHANNEL_INVALID_TRANSPORT_FOR_DELETION",
                "this transport does not allow deleting messages",
                record.transport,
            ));
        }
        if let Some(stored) = self.state.lock().messages.get_mut(&delete.message_id) {
            stored.deleted = true;
        }
        Ok(MessageRef {
            message_id: delete.message_id.clone(),
            chat_id: record.chat_id,
        })
    }

    async fn list_templates(
        &self,
        page: PageRequest,
        _call: CallContext,
    ) -> Result<TemplatePage, UpstreamError> {
        self.simulate_latency().await;
        let sandbox = self.state.lock();
        let start = (page.offset as usize).min(sandbox.templates.len());
        let end = start
            .saturating_add(page.limit as usize)
            .min(sandbox.templates.len());
        let next_offset = (end < sandbox.templates.len()).then_some(end as u32);
        Ok(TemplatePage {
            templates: sandbox.templates[start..end].to_vec(),
            next_offset,
        })
    }

    async fn get_webhook_settings(
        &self,
        _call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        self.simulate_latency().await;
        Ok(self.state.lock().webhooks.clone())
    }

    async fn update_webhook_settings(
        &self,
        settings: &WebhookSettings,
        _call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        self.simulate_latency().await;
        self.state.lock().webhooks = settings.clone();
        Ok(settings.clone())
    }

    async fn create_message_export(
        &self,
        request: &ExportRequest,
        _call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        self.simulate_latency().await;
        if let Some(channel_id) = &request.channel_id {
            self.channel(channel_id)?;
        }
        let export_id = self.state.lock().exports.create(request);
        if let Some(events) = self.events.get() {
            events.export_will_finish(&export_id, self.file_url(&export_id));
        }
        Ok(exports::job_state(
            &export_id,
            std::time::Duration::ZERO,
            "",
        ))
    }

    async fn get_message_export(
        &self,
        export_id: &str,
        _call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        self.simulate_latency().await;
        let url = self.file_url(export_id);
        self.state
            .lock()
            .exports
            .get(export_id, &url)
            .ok_or_else(|| UpstreamError::ExportNotFound {
                export_id: export_id.to_owned(),
            })
    }

    async fn get_template(
        &self,
        template_id: &str,
        _call: CallContext,
    ) -> Result<Template, UpstreamError> {
        self.simulate_latency().await;
        self.state
            .lock()
            .templates
            .iter()
            .find(|template| template.template_id == template_id)
            .cloned()
            .ok_or_else(|| UpstreamError::TemplateNotFound {
                template_id: template_id.to_owned(),
            })
    }
}

/// Returns the chat a send goes to: the given chat id, or for Telegram/MAX addressed by user name
/// or phone, a stable numeric id derived from it (as the upstream returns a chat id it assigned).
fn chat_id_for(send: &SendMessage) -> String {
    if let Some(chat_id) = &send.recipient.chat_id {
        return chat_id.clone();
    }
    let handle = send
        .recipient
        .username
        .as_ref()
        .or(send.recipient.phone.as_ref());
    let mut hasher = DefaultHasher::new();
    handle.hash(&mut hasher);
    (100_000_000 + hasher.finish() % 900_000_000).to_string()
}

/// Tells whether messages of `transport` can have their text edited (tech v2 docs).
fn can_edit_text(transport: Transport) -> bool {
    matches!(
        transport,
        Transport::Whatsapp
            | Transport::TelegramPersonal
            | Transport::TelegramBot
            | Transport::Max
            | Transport::MaxBot
    )
}

/// Tells whether messages of `transport` can have their file replaced (WhatsApp: text only).
fn can_edit_content(transport: Transport) -> bool {
    can_edit_text(transport) && transport != Transport::Whatsapp
}

/// Tells whether messages of `transport` can be deleted (tech v2 docs).
fn can_delete(transport: Transport) -> bool {
    can_edit_text(transport)
}

/// Builds a refusal for an operation the message's transport does not allow.
fn transport_refusal(code: &str, description: &str, transport: Transport) -> UpstreamError {
    refusal(
        ErrorClass::FailedPrecondition,
        code,
        description,
        vec![("transport", transport.as_upstream().to_owned())],
    )
}

/// Builds a refusal the way the real upstream would word it.
fn refusal(
    class: ErrorClass,
    code: &str,
    description: &str,
    metadata: Vec<(&str, String)>,
) -> UpstreamError {
    UpstreamError::Rejected(Box::new(Rejection {
        class,
        code: code.to_owned(),
        description: description.to_owned(),
        domain: SANDBOX_DOMAIN,
        metadata: metadata
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
        fields: Vec::new(),
        retry_after: None,
    }))
}

/// Returns the link of an export file served under `base_url` (the route the app serves, see
/// `app/sandbox_files.rs`).
fn file_url(base_url: &str, account: &str, export_id: &str) -> String {
    format!("{base_url}/sandbox/exports/{account}/{export_id}.csv")
}
