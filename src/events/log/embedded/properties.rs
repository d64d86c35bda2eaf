//! Properties of the stored form of events: every event the webhook ingress accepts is stored as
//! JSON that reads back as the same event, so storage answers exactly what the in-memory recent
//! events answer.

use proptest::prelude::*;

use super::decode;
use super::writer::EncodedEvent;
use crate::config::WebhookConfig;
use crate::events::bounds::{MAX_JSON_DEPTH, delivered_raw_len, nests_deeper_than};
use crate::events::decode::WebhookSource;
use crate::events::testing::json::{CASES, any_json, webhook_body};
use crate::events::{EventType, NewEvent};
use crate::model::Dialect;
use crate::upstream::registry::WEBHOOK_DECODERS;

/// Stores `event` as the log does and reads it back.
fn round_trip(event: &NewEvent) -> NewEvent {
    let encoded = EncodedEvent::new(event.clone()).expect("an event always encodes");
    decode(7, &encoded.json)
        .expect("a stored event always decodes")
        .event
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn every_event_the_ingress_accepts_reads_back_identically(
        body in webhook_body(),
        tech in any::<bool>(),
    ) {
        let dialect = if tech { Dialect::WazzupTech } else { Dialect::WazzupV3 };
        prop_assume!(!nests_deeper_than(&body, MAX_JSON_DEPTH));
        let source = WebhookSource { account: "main", dialect, received_at_ms: 1_000 };
        let max_event_bytes = WebhookConfig::default().max_event_bytes;
        for event in WEBHOOK_DECODERS.decode_webhook(source, &body).events {
            prop_assume!(delivered_raw_len(&event.raw) <= max_event_bytes);
            // Rows keep `raw` alone; the payload is decoded from it again when read.
            let event = NewEvent { payload: None, ..event };
            prop_assert_eq!(round_trip(&event), event);
        }
    }

    #[test]
    fn any_json_within_the_depth_bound_reads_back_identically(
        raw in any_json(MAX_JSON_DEPTH as u32 - 1, 3),
        id in any::<String>(),
        occurred_at_ms in any::<Option<i64>>(),
    ) {
        let event = NewEvent {
            id,
            account: "main".to_owned(),
            dialect: crate::model::Dialect::WazzupV3.into(),
            event_type: EventType::Unknown,
            channel_id: None,
            received_at_ms: i64::MIN,
            occurred_at_ms,
            raw,
            payload: None,
        };
        prop_assert_eq!(round_trip(&event), event);
    }
}

#[test]
fn the_deepest_accepted_body_reads_back() {
    let depth = MAX_JSON_DEPTH;
    let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(!nests_deeper_than(body.as_bytes(), depth));
    let source = WebhookSource {
        account: "main",
        dialect: Dialect::WazzupV3,
        received_at_ms: 1_000,
    };
    let decoded = WEBHOOK_DECODERS.decode_webhook(source, body.as_bytes());
    assert_eq!(decoded.events.len(), 1);
    let event = NewEvent {
        payload: None,
        ..decoded.events[0].clone()
    };
    assert_eq!(round_trip(&event), event);
}
