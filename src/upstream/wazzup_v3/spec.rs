//! The v3 dialect's entry in the registry, with its send and edit rules: what a v3 body cannot
//! carry is refused.

use std::sync::Arc;

use crate::config::{AccountConfig, Config};

use crate::events::decode::WebhookDecoder;
use crate::model::{EditMessage, SendMessage, Violations};
use crate::upstream::dialect::{BuiltUpstream, DialectSpec};
use crate::upstream::error::UPSTREAM_DOMAIN;
use crate::upstream::transport::{TransportError, TransportShared};

use super::WazzupV3Client;
use super::expressible;
use super::webhooks::WazzupV3Webhooks;

/// The v3 dialect's entry in the registry.
pub(crate) static SPEC: WazzupV3Spec = WazzupV3Spec;

/// The v3 dialect's [`DialectSpec`].
#[derive(Debug)]
pub(crate) struct WazzupV3Spec;

impl DialectSpec for WazzupV3Spec {
    fn error_domain(&self) -> &'static str {
        UPSTREAM_DOMAIN
    }

    fn build(
        &self,
        _config: &Config,
        account: &AccountConfig,
        shared: &TransportShared,
    ) -> Result<BuiltUpstream, TransportError> {
        Ok(BuiltUpstream::Client(Arc::new(WazzupV3Client::new(
            account, shared,
        )?)))
    }

    fn check_send(&self, send: &SendMessage, violations: &mut Violations) {
        expressible::check_send(send, violations);
    }

    fn check_edit(&self, edit: &EditMessage, violations: &mut Violations) {
        expressible::check_edit(edit, violations);
    }

    fn webhooks(&self) -> &'static dyn WebhookDecoder {
        &WazzupV3Webhooks
    }
}
