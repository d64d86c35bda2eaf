//! The table of dialects: one line per dialect, the only place in `upstream/` that matches on
//! [`Dialect`] to pick a dialect's code.
//!
//! Adding a dialect touches: its variant in `model/dialect.rs` (name, default base URL, whether
//! it needs a key); its folder `upstream/<dialect>.rs` + `upstream/<dialect>/` (client, wire
//! types, its webhook decoder, `spec.rs` implementing [`DialectSpec`]) and its `mod` line in
//! `upstream.rs`; and its line here.

use crate::events::decode::{WebhookDecoder, WebhookDecoders};
use crate::model::Dialect;

use super::dialect::DialectSpec;
use super::{devino, sandbox, wazzup_tech, wazzup_v3};

/// Returns the spec of `dialect`.
pub(crate) fn spec(dialect: Dialect) -> &'static dyn DialectSpec {
    match dialect {
        Dialect::WazzupV3 => &wazzup_v3::SPEC,
        Dialect::WazzupTech => &wazzup_tech::SPEC,
        Dialect::Devino => &devino::SPEC,
        Dialect::Sandbox => &sandbox::SPEC,
    }
}

/// The webhook decoders of every dialect, for the layers below `upstream` (the event ingress and
/// the send outcomes), which cannot name the dialects.
pub(crate) const WEBHOOK_DECODERS: WebhookDecoders = WebhookDecoders::new(webhook_decoder);

/// Returns the webhook decoder of `dialect`.
fn webhook_decoder(dialect: Dialect) -> &'static dyn WebhookDecoder {
    spec(dialect).webhooks()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_has_its_own_spec_and_error_domain() {
        let domains = Dialect::ALL.map(|dialect| spec(dialect).error_domain());
        assert_eq!(
            domains,
            [
                "api.wazzup24.com",
                "tech.wazzup24.com",
                "api.devino.online",
                "api.wazzup24.com",
            ]
        );
    }
}
