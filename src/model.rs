//! The provider-neutral domain: what the gateway's callers talk about, independent of both the gRPC
//! encoding (`api/`) and the upstream dialects (`upstream/`).
//!
//! Conversions from protobuf live in `api::convert`; conversions to upstream JSON live in each
//! dialect's `wire.rs`. Validation against the upstream limits lives in [`validate`], with the
//! limits themselves in one table, [`limits`].

pub mod channel;
pub mod dialect;
pub mod export;
pub mod http_url;
pub mod keyboard;
pub(crate) mod lenient;
pub mod limits;
pub mod message;
pub mod path_segment;
pub mod template;
pub mod validate;
pub mod webhook;

pub use channel::{Channel, ChannelState, ChatType, Transport};
pub use dialect::{Dialect, EventDialect};
pub use export::{ExportRequest, ExportRow, ExportState, MessageExport};
pub use keyboard::{
    Keyboard, MaxButton, MaxButtonType, MaxIntent, MaxKeyboard, TelegramButton, TelegramKeyboard,
    TelegramMarkup, WabaButton,
};
pub use message::{
    Attachment, Content, DeleteMessage, EditContent, EditMessage, MessageRef, NotifyOptions,
    Recipient, SendMessage, SendReply, SentMessage, TemplateButton, TemplateMessage,
};
pub use template::{Template, TemplateButtonSpec, TemplateComponent, TemplatePage, TemplateStatus};
pub use validate::{FieldViolation, ValidationError, Violations};
pub use webhook::WebhookSettings;
