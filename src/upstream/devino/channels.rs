//! A Devino account's channels: its configured sender names. Devino has no channel listing; a
//! sender name is what a message is sent `from`, so each one is a WABA channel of the account,
//! always active, with an id derived from the name alone (the same in every process and release).

use uuid::Builder;

use crate::events::decode::stable_hash;
use crate::model::{Channel, ChannelState, Dialect, Transport};

/// One sender name and its channel id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Sender {
    /// The sender name, sent as `from`.
    pub(super) name: String,
    /// The channel id callers send with.
    pub(super) channel_id: String,
}

impl Sender {
    /// Derives the channel of the sender `name`.
    pub(super) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            channel_id: channel_id(name),
        }
    }

    /// Returns the sender as a channel of `account`.
    pub(super) fn to_channel(&self, account: &str) -> Channel {
        Channel {
            account: account.to_owned(),
            channel_id: self.channel_id.clone(),
            transport: Transport::Waba,
            transport_raw: "whatsapp".to_owned(),
            plain_id: self.name.clone(),
            state: ChannelState::Active,
            state_raw: "active".to_owned(),
            provider: Dialect::Devino.as_str().to_owned(),
        }
    }
}

/// Returns the channel id of a sender name: a version 8 UUID made of the stable 128-bit hash of
/// `devino:{name}`.
fn channel_id(name: &str) -> String {
    let hash = stable_hash(&serde_json::Value::String(format!("devino:{name}")));
    let value = u128::from_str_radix(&hash, 16).unwrap_or_default();
    Builder::from_custom_bytes(value.to_be_bytes())
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_is_an_active_waba_channel_with_a_stable_id() {
        let sender = Sender::new("MyCompany");
        // Pinned: callers store channel ids, so the derivation must never change.
        assert_eq!(sender.channel_id, "2316f9b8-0ed2-8035-8395-f81f53291f43");
        assert_ne!(Sender::new("Other").channel_id, sender.channel_id);
        let channel = sender.to_channel("notify");
        assert_eq!(channel.transport, Transport::Waba);
        assert_eq!(channel.state, ChannelState::Active);
        assert_eq!(channel.plain_id, "MyCompany");
        assert_eq!(channel.provider, "devino");
        assert_eq!(channel.account, "notify");
    }
}
