//! The Devino notifications dialect (`https://api.devino.online`, whatsapp-notify-api.md). Its
//! client is not part of this build yet: accounts of this dialect are configured, and every
//! operation answers [`UpstreamError::Unsupported`](super::UpstreamError::Unsupported) naming the dialect, so callers get
//! `UNIMPLEMENTED`, not silence. The Devino issue fills this folder in.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{AccountConfig, Config};
use crate::events::NewEvent;
use crate::events::decode::{Batch, TopLevel, WebhookDecoder, WebhookKind};
use crate::events::payload::{EventPayload, UnknownPayload};
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

    fn webhooks(&self) -> &'static dyn WebhookDecoder {
        &UndecodedWebhooks
    }
}

/// Devino's webhooks until their decoder lands: each body is kept whole as one unknown event, so
/// nothing Devino sends is lost.
#[derive(Debug)]
struct UndecodedWebhooks;

impl WebhookDecoder for UndecodedWebhooks {
    fn id_tag(&self) -> &'static str {
        Dialect::Devino.as_str()
    }

    fn split(&self, batch: &mut Batch<'_>, body: TopLevel) {
        batch.push_unknown(body.into_value(), WebhookKind::Unknown);
    }

    fn payload(&self, _event: &NewEvent) -> EventPayload {
        EventPayload::Unknown(UnknownPayload {
            reason: "webhooks of dialect devino are not decoded yet".to_owned(),
            kind: String::new(),
        })
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
    use serde_json::json;

    use super::*;
    use crate::events::EventType;
    use crate::events::decode::WebhookSource;
    use crate::upstream::registry::WEBHOOK_DECODERS;
    use crate::upstream::{CallContext, UpstreamError};

    #[test]
    fn webhooks_are_kept_whole_as_one_unknown_event() {
        let body = br#"{"event": "message.add", "data": [{"message_id": "m"}]}"#;
        let source = WebhookSource {
            account: "main",
            dialect: Dialect::Devino,
            received_at_ms: 1_000,
        };
        let decoded = WEBHOOK_DECODERS.decode_webhook(source, body);
        assert_eq!(decoded.kind, "unknown");
        assert_eq!(decoded.events.len(), 1);
        let event = &decoded.events[0];
        assert_eq!(event.event_type, EventType::Unknown);
        assert_eq!(event.dialect, "devino");
        assert!(event.id.starts_with("devino:main:unknown:"), "{}", event.id);
        assert_eq!(
            event.raw,
            json!({"event": "message.add", "data": [{"message_id": "m"}]})
        );
        let EventPayload::Unknown(unknown) = WEBHOOK_DECODERS.payload(event) else {
            panic!("unknown payload");
        };
        assert!(unknown.reason.contains("devino"), "{}", unknown.reason);
    }

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
