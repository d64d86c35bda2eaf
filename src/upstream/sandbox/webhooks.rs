//! The sandbox's webhooks: it speaks v3, except for message exports, which only tech v2 has, so
//! a body that is a v2 envelope is read as v2 and an `EXPORT_READY` event decodes as v2. Ids are
//! tagged `sandbox`.

use crate::events::decode::{Batch, TopLevel, WebhookDecoder};
use crate::events::payload::EventPayload;
use crate::events::{EventType, NewEvent};
use crate::model::Dialect;
use crate::upstream::{wazzup_tech, wazzup_v3};

/// The sandbox's [`WebhookDecoder`].
#[derive(Debug)]
pub(crate) struct SandboxWebhooks;

impl WebhookDecoder for SandboxWebhooks {
    fn id_tag(&self) -> &'static str {
        Dialect::Sandbox.as_str()
    }

    fn split(&self, batch: &mut Batch<'_>, body: TopLevel) {
        match &body {
            TopLevel::Object(entries) if wazzup_tech::webhooks::is_envelope(entries) => {
                wazzup_tech::webhooks::split(batch, body);
            }
            _ => wazzup_v3::webhooks::split(batch, body),
        }
    }

    fn payload(&self, event: &NewEvent) -> EventPayload {
        if event.event_type == EventType::ExportReady {
            wazzup_tech::webhooks::payload(event)
        } else {
            wazzup_v3::webhooks::payload(event)
        }
    }
}
