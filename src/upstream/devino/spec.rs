//! The Devino dialect's entry in the registry.

use std::sync::Arc;

use crate::config::{AccountConfig, Config};
use crate::events::decode::WebhookDecoder;
use crate::model::{SendMessage, Violations};
use crate::upstream::dialect::{BuiltUpstream, DialectSpec};
use crate::upstream::error::ErrorBody;
use crate::upstream::transport::{TransportError, TransportShared};

use super::webhooks::DevinoWebhooks;
use super::{DEVINO_UPSTREAM_DOMAIN, DevinoClient, reasons, rules};

/// The Devino dialect's entry in the registry.
pub(crate) static SPEC: DevinoSpec = DevinoSpec;

/// The Devino dialect's [`DialectSpec`].
#[derive(Debug)]
pub(crate) struct DevinoSpec;

impl DialectSpec for DevinoSpec {
    fn error_domain(&self) -> &'static str {
        DEVINO_UPSTREAM_DOMAIN
    }

    fn build(
        &self,
        config: &Config,
        account: &AccountConfig,
        shared: &TransportShared,
    ) -> Result<BuiltUpstream, TransportError> {
        Ok(BuiltUpstream::Client(Arc::new(DevinoClient::new(
            config, account, shared,
        )?)))
    }

    fn error_body(&self, body: &[u8]) -> ErrorBody {
        reasons::error_body(body)
    }

    fn check_send(&self, send: &SendMessage, violations: &mut Violations) {
        rules::check_send(send, violations);
    }

    fn accepts_notify(&self) -> bool {
        true
    }

    fn webhooks(&self) -> &'static dyn WebhookDecoder {
        &DevinoWebhooks
    }
}
