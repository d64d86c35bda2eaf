//! The service layer, between the gRPC adapters of [`api`](crate::api) and the upstream clients
//! of [`upstream`](crate::upstream): the registry of configured accounts and the flows every
//! request takes through them.
//!
//! - [`registry`]: [`Accounts`] builds one [`Account`] per configured account and resolves the
//!   account a request names.
//! - [`account`]: validation against the upstream's rules, then the call into the dialect;
//!   channel lookups through the [`channel_cache`].
//! - [`send`]: the send flow: validation → idempotency ([`idempotent_sends`]) → dialect →
//!   outcome wait.
//! - [`batch`]: native batches: the same flow per item, one upstream request per chunk.
//! - [`webhook_registration`]: what `RegisterWebhooks` registers, and the redaction of the
//!   account's secret wherever settings are shown.
//! - [`exports`]: reading an export's CSV as rows, and watching an export's state (the event log
//!   and polling).

pub(crate) mod account;
pub(crate) mod batch;
pub(crate) mod channel_cache;
pub(crate) mod exports;
pub(crate) mod idempotent_sends;
pub(crate) mod registry;
pub(crate) mod send;
pub(crate) mod webhook_registration;

pub(crate) use crate::upstream::{CallContext, PageRequest};
pub(crate) use account::Account;
pub(crate) use exports::{ExportWatching, PollPolicy, WatchError};
pub(crate) use idempotent_sends::{IdempotentSends, SendError, SendTiming, longest_send};
pub(crate) use registry::{AccountError, Accounts};
