//! The partner (tech) v2 dialect's entry in the registry, with its send rules.

use std::sync::Arc;

use crate::config::{AccountConfig, Config};

use crate::events::decode::WebhookDecoder;
use crate::model::{SendMessage, Violations};
use crate::upstream::dialect::{BuiltUpstream, DialectSpec};
use crate::upstream::error::TECH_UPSTREAM_DOMAIN;
use crate::upstream::transport::{TransportError, TransportShared};

use super::WazzupTechClient;
use super::send_rules;
use super::webhooks::WazzupTechWebhooks;

/// The tech dialect's entry in the registry.
pub(crate) static SPEC: WazzupTechSpec = WazzupTechSpec;

/// The tech dialect's [`DialectSpec`].
#[derive(Debug)]
pub(crate) struct WazzupTechSpec;

impl DialectSpec for WazzupTechSpec {
    fn error_domain(&self) -> &'static str {
        TECH_UPSTREAM_DOMAIN
    }

    fn build(
        &self,
        _config: &Config,
        account: &AccountConfig,
        shared: &TransportShared,
    ) -> Result<BuiltUpstream, TransportError> {
        Ok(BuiltUpstream::Client(Arc::new(WazzupTechClient::new(
            account, shared,
        )?)))
    }

    fn check_send(&self, send: &SendMessage, violations: &mut Violations) {
        send_rules::check_send(send, violations);
    }

    fn subscribes_by_event_name(&self) -> bool {
        true
    }

    fn webhooks(&self) -> &'static dyn WebhookDecoder {
        &WazzupTechWebhooks
    }
}
