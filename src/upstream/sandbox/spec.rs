//! The sandbox's entry in the registry. It speaks v3 (so its errors carry v3's domain); the
//! application connects the sandbox it builds to the event log and the file routes.

use std::sync::Arc;

use crate::config::{AccountConfig, Config};

use crate::events::decode::WebhookDecoder;
use crate::upstream::dialect::{BuiltUpstream, DialectSpec};
use crate::upstream::error::UPSTREAM_DOMAIN;
use crate::upstream::transport::{TransportError, TransportShared};

use super::SandboxUpstream;
use super::webhooks::SandboxWebhooks;

/// The sandbox's entry in the registry.
pub(crate) static SPEC: SandboxSpec = SandboxSpec;

/// The sandbox's [`DialectSpec`].
#[derive(Debug)]
pub(crate) struct SandboxSpec;

impl DialectSpec for SandboxSpec {
    fn error_domain(&self) -> &'static str {
        UPSTREAM_DOMAIN
    }

    fn build(
        &self,
        config: &Config,
        account: &AccountConfig,
        _shared: &TransportShared,
    ) -> Result<BuiltUpstream, TransportError> {
        Ok(BuiltUpstream::Sandbox(Arc::new(
            SandboxUpstream::new(&account.name, config.server.sandbox_latency)
                .with_synthetic_export_rows(config.server.sandbox_export_rows),
        )))
    }

    fn webhooks(&self) -> &'static dyn WebhookDecoder {
        &SandboxWebhooks
    }
}
