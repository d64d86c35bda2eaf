//! The table of dialects: one line per dialect, the only place in `upstream/` that matches on
//! [`Dialect`] to pick a dialect's code.
//!
//! Adding a dialect touches: its variant in `model/dialect.rs` (name, default base URL, whether
//! it needs a key); its folder `upstream/<dialect>.rs` + `upstream/<dialect>/` (client, wire
//! types, `spec.rs` implementing [`DialectSpec`]) and its `mod` line in `upstream.rs`; its line
//! here; and, while webhook decoding still lives in `events/decode/`, its decoder there and its
//! arms in `events/decode.rs`.

use crate::model::Dialect;

use super::dialect::DialectSpec;
use super::{devino, sandbox, wazzup_tech, wazzup_v3};

/// Returns the spec of `dialect`.
pub fn spec(dialect: Dialect) -> &'static dyn DialectSpec {
    match dialect {
        Dialect::WazzupV3 => &wazzup_v3::SPEC,
        Dialect::WazzupTech => &wazzup_tech::SPEC,
        Dialect::Devino => &devino::SPEC,
        Dialect::Sandbox => &sandbox::SPEC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_has_its_own_spec_and_error_domain() {
        for dialect in Dialect::ALL {
            assert_eq!(spec(dialect).dialect(), dialect);
        }
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
