//! The Devino notifications dialect (`https://api.devino.online`, whatsapp-notify-api.md). Its
//! client is not part of this build yet: accounts of this dialect are configured, and every
//! operation answers [`UpstreamError::Unsupported`](super::UpstreamError::Unsupported) naming the dialect, so callers get
//! `UNIMPLEMENTED`, not silence. The Devino issue fills this folder in.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{AccountConfig, Config};
use crate::telemetry::metrics::UpstreamMetrics;

use crate::model::Dialect;

use super::Upstream;
use super::dialect::{BuiltUpstream, DialectSpec};
use super::transport::TransportError;

/// The ErrorInfo domain of Devino's own error codes (`error_reason.proto`).
pub const DEVINO_UPSTREAM_DOMAIN: &str = "api.devino.online";

/// The Devino dialect's entry in the registry.
pub static SPEC: DevinoSpec = DevinoSpec;

/// The Devino dialect's [`DialectSpec`].
#[derive(Debug)]
pub struct DevinoSpec;

impl DialectSpec for DevinoSpec {
    fn dialect(&self) -> Dialect {
        Dialect::Devino
    }

    fn error_domain(&self) -> &'static str {
        DEVINO_UPSTREAM_DOMAIN
    }

    fn build(
        &self,
        _config: &Config,
        _account: &AccountConfig,
        _metrics: &UpstreamMetrics,
    ) -> Result<BuiltUpstream, TransportError> {
        Ok(BuiltUpstream::Client(Arc::new(DevinoUpstream)))
    }

    fn accepts_notify(&self) -> bool {
        true
    }
}

/// The Devino upstream of this build: every operation answers
/// [`UpstreamError::Unsupported`](super::UpstreamError::Unsupported).
#[derive(Debug)]
struct DevinoUpstream;

#[async_trait]
impl Upstream for DevinoUpstream {
    fn dialect(&self) -> Dialect {
        Dialect::Devino
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::{CallContext, UpstreamError};

    #[tokio::test]
    async fn every_operation_answers_unsupported_naming_the_dialect() {
        let error = DevinoUpstream
            .list_channels(CallContext::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                UpstreamError::Unsupported {
                    dialect: Dialect::Devino,
                    ..
                }
            ),
            "{error:?}"
        );
    }
}
