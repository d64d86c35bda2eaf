//! The seam every dialect implements: what the shared code may ask of a dialect without naming
//! it. Each dialect implements [`DialectSpec`] once, in its own folder, and the [`registry`]
//! lists them, one line each.
//!
//! [`registry`]: super::registry

use std::fmt;
use std::sync::Arc;

use crate::config::{AccountConfig, Config};
use crate::events::decode::WebhookDecoder;

use crate::model::{EditMessage, SendMessage, Violations};

use super::Upstream;
use super::error::ErrorBody;
use super::sandbox::SandboxUpstream;
use super::transport::{TransportError, TransportShared};

/// What building a dialect's upstream for one account gave.
#[derive(Debug)]
pub(crate) enum BuiltUpstream {
    /// A client of a real upstream API (or the stub of one not implemented yet).
    Client(Arc<dyn Upstream>),
    /// The built-in sandbox, which the application also wires to the event log and file routes.
    Sandbox(Arc<SandboxUpstream>),
}

/// One dialect's answers to the shared code: its name, its error domain, how to build its client
/// from an account's configuration, the send, edit and webhook rules of its API beyond the shared
/// limits table, and the decoder of its webhooks.
pub(crate) trait DialectSpec: Sync + fmt::Debug {
    /// Returns the ErrorInfo domain of the upstream's own error codes (`error_reason.proto`).
    fn error_domain(&self) -> &'static str;

    /// Builds the upstream of one configured account of this dialect; an HTTP client records
    /// its attempts and rate limiter waits into `shared`'s metrics and takes its rate budget
    /// from `shared`'s budgets.
    ///
    /// # Errors
    ///
    /// Fails when the account's HTTP client cannot be built.
    fn build(
        &self,
        config: &Config,
        account: &AccountConfig,
        shared: &TransportShared,
    ) -> Result<BuiltUpstream, TransportError>;

    /// Reads the body of an error answer (any non-2xx) into the shared error shape; dialects whose
    /// error envelope differs from Wazzup's (`{error, description, data}`) read their own here.
    fn error_body(&self, body: &[u8]) -> ErrorBody {
        ErrorBody::parse(body)
    }

    /// Adds the violations of the dialect's own send rules (such as fields its API cannot carry,
    /// refused rather than dropped); the shared rules are checked before.
    fn check_send(&self, _send: &SendMessage, _violations: &mut Violations) {}

    /// Adds the violations of the dialect's own edit rules; the shared rules are checked before.
    fn check_edit(&self, _edit: &EditMessage, _violations: &mut Violations) {}

    /// Tells whether a send may carry notification options (`SendMessage::notify`).
    fn accepts_notify(&self) -> bool {
        false
    }

    /// Returns the decoder of the dialect's webhooks.
    fn webhooks(&self) -> &'static dyn WebhookDecoder;

    /// Tells whether webhook subscriptions are chosen by event name (`WebhookSettings::events`)
    /// rather than by the boolean subscriptions.
    fn subscribes_by_event_name(&self) -> bool {
        false
    }
}
