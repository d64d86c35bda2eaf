//! The provider-neutral domain: what the gateway's callers talk about, independent of both the gRPC
//! encoding (`api/`) and the upstream dialects (`upstream/`).
//!
//! Conversions from protobuf live in `api::convert`; conversions to upstream JSON live in each
//! dialect's `wire.rs`. Validation against the upstream limits lives in [`validate`], with the
//! limits themselves in one table, [`limits`].

pub(crate) mod channel;
pub(crate) mod dialect;
pub(crate) mod export;
pub(crate) mod http_url;
pub(crate) mod keyboard;
pub(crate) mod lenient;
pub(crate) mod limits;
pub(crate) mod message;
pub(crate) mod path_segment;
pub(crate) mod template;
pub(crate) mod validate;
pub(crate) mod webhook;

pub(crate) use channel::{Channel, ChannelState, ChatType, Transport};
pub use dialect::Dialect;
pub(crate) use dialect::EventDialect;
pub use export::{ExportRequest, ExportState};
pub(crate) use export::{ExportRow, MessageExport};
pub(crate) use keyboard::{
    Keyboard, MaxButton, MaxButtonType, MaxIntent, MaxKeyboard, TelegramButton, TelegramKeyboard,
    TelegramMarkup, WabaButton,
};
pub(crate) use message::{
    Attachment, Content, DeleteMessage, EditContent, EditMessage, MessageRef, NotifyOptions,
    Recipient, SendMessage, SendReply, SentMessage, TemplateButton, TemplateMessage,
};
pub(crate) use template::{
    Template, TemplateButtonSpec, TemplateComponent, TemplatePage, TemplateStatus,
};
pub(crate) use validate::{FieldViolation, ValidationError, Violations};
pub(crate) use webhook::WebhookSettings;
