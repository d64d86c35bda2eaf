//! The upstream API families the gateway speaks, as the domain names them.
//!
//! [`Dialect`] is what an account is configured with; [`EventDialect`] is what a stored event
//! records, which must keep reading even when it names a dialect this build does not know.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The API family an account speaks; serde uses the configuration names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// Wazzup public API v3 (`wazzup_v3`).
    WazzupV3,
    /// Wazzup partner API (`wazzup_tech`).
    WazzupTech,
    /// Devino notifications API (`devino`).
    Devino,
    /// The built-in sandbox upstream (`sandbox`): no key, no network.
    Sandbox,
}

impl Dialect {
    /// Every dialect, in documentation order.
    pub const ALL: [Self; 4] = [
        Self::WazzupV3,
        Self::WazzupTech,
        Self::Devino,
        Self::Sandbox,
    ];

    /// Returns the dialect for its configuration name, e.g. `wazzup_v3`.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|dialect| dialect.as_str() == raw)
    }

    /// Returns the configuration name of the dialect.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WazzupV3 => "wazzup_v3",
            Self::WazzupTech => "wazzup_tech",
            Self::Devino => "devino",
            Self::Sandbox => "sandbox",
        }
    }

    /// Returns the base URL used when an account does not set one.
    pub const fn default_base_url(self) -> &'static str {
        match self {
            Self::WazzupV3 => "https://api.wazzup24.com",
            Self::WazzupTech => "https://tech.wazzup24.com",
            Self::Devino => "https://api.devino.online",
            Self::Sandbox => "sandbox://local",
        }
    }

    /// Returns whether accounts of this dialect need an API key.
    pub const fn requires_api_key(self) -> bool {
        !matches!(self, Self::Sandbox)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The dialect a stored event was produced by.
///
/// Serialised as the dialect's configuration name (`wazzup_v3`, `wazzup_tech`, `devino`,
/// `sandbox`), the same text events have always been stored with. A name this build does not know
/// (written by a newer build) is kept as it is, so an old event never fails to read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EventDialect {
    /// A dialect this build knows.
    Known(Dialect),
    /// The stored name of a dialect this build does not know.
    Other(String),
}

impl EventDialect {
    /// Returns the stored name of the dialect.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(dialect) => dialect.as_str(),
            Self::Other(name) => name,
        }
    }

    /// Returns the dialect, when this build knows it.
    pub const fn known(&self) -> Option<Dialect> {
        match self {
            Self::Known(dialect) => Some(*dialect),
            Self::Other(_) => None,
        }
    }

    /// Returns the dialect for its stored name, keeping a name this build does not know.
    pub fn from_name(name: &str) -> Self {
        Dialect::parse(name).map_or_else(|| Self::Other(name.to_owned()), Self::Known)
    }
}

impl From<Dialect> for EventDialect {
    fn from(dialect: Dialect) -> Self {
        Self::Known(dialect)
    }
}

impl PartialEq<&str> for EventDialect {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Dialect> for EventDialect {
    fn eq(&self, other: &Dialect) -> bool {
        self.known() == Some(*other)
    }
}

impl fmt::Display for EventDialect {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for EventDialect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventDialect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_dialects_store_the_configuration_names_and_keep_unknown_ones() {
        for dialect in Dialect::ALL {
            let stored = serde_json::to_string(&EventDialect::from(dialect)).unwrap();
            assert_eq!(stored, format!("\"{}\"", dialect.as_str()));
            let read: EventDialect = serde_json::from_str(&stored).unwrap();
            assert_eq!(read, EventDialect::Known(dialect));
        }
        let read: EventDialect = serde_json::from_str("\"carrier_pigeon\"").unwrap();
        assert_eq!(read, EventDialect::Other("carrier_pigeon".to_owned()));
        assert_eq!(serde_json::to_string(&read).unwrap(), "\"carrier_pigeon\"");
    }
}
