//! Properties of every webhook decoder over arbitrary bodies: no panic; a body is either refused
//! by the ingress bounds or split into events that carry their account and dialect, have distinct
//! ids, times `google.protobuf.Timestamp` can hold, and a payload that decodes.

use std::collections::HashSet;

use proptest::prelude::*;

use super::WebhookSource;
use crate::events::bounds::{MAX_JSON_DEPTH, nests_deeper_than};
use crate::events::testing::json::{CASES, webhook_body};
use crate::model::Dialect;
use crate::upstream::registry::WEBHOOK_DECODERS;

/// Every dialect the ingress accepts webhooks for.
fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![
        Just(Dialect::WazzupV3),
        Just(Dialect::WazzupTech),
        Just(Dialect::Sandbox),
        Just(Dialect::Devino),
    ]
}

/// Tells whether a time fits `google.protobuf.Timestamp` (years 1 to 9999).
fn fits_a_timestamp(ms: i64) -> bool {
    (-62_135_596_800_000..=253_402_300_799_999).contains(&ms)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn every_body_is_refused_by_the_bounds_or_split_into_readable_events(
        body in webhook_body(),
        dialect in dialect(),
    ) {
        if nests_deeper_than(&body, MAX_JSON_DEPTH) {
            return Ok(());
        }
        let source = WebhookSource { account: "main", dialect, received_at_ms: 1_000 };
        let decoded = WEBHOOK_DECODERS.decode_webhook(source, &body);
        let mut ids = HashSet::new();
        for event in &decoded.events {
            prop_assert!(ids.insert(event.id.clone()), "repeated id {}", event.id);
            prop_assert_eq!(event.account.as_str(), "main");
            prop_assert_eq!(event.dialect.as_str(), dialect.as_str());
            prop_assert_eq!(event.received_at_ms, 1_000);
            prop_assert!(event.occurred_at_ms.is_none_or(fits_a_timestamp), "{:?}", event);
            prop_assert!(event.channel_id.as_ref().is_none_or(|channel| !channel.is_empty()));
            let _ = WEBHOOK_DECODERS.payload(event);
        }
        prop_assert_eq!(decoded.is_test_probe(), decoded.kind == "test");
    }
}
