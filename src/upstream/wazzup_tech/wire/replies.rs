//! The tech v2 replies, decoded tolerantly: the `{data, meta}` envelope unwrapped when present
//! (bare data accepted), unknown fields ignored, every field defaulted, scalars of varying type
//! accepted, unknown enum strings kept raw beside the mapped value.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::Dialect;
use crate::model::lenient;
use crate::model::{Channel, ChannelState, ExportState, MessageExport, Transport};

/// Decodes the `data` of a `{data, meta}` envelope, or the whole body when it is bare data.
///
/// # Errors
///
/// Fails when the body is not JSON or the data does not decode as `T`.
pub(crate) fn unwrap_data<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let value: Value = serde_json::from_slice(body)?;
    serde_json::from_value(data_of(value))
}

/// Decodes a list: the envelope's `data` (or the bare body) as an array, or an object holding the
/// array under `key` or `items`; items that do not decode are skipped.
///
/// # Errors
///
/// Fails when the body is not JSON.
pub(crate) fn unwrap_list<T: DeserializeOwned>(
    body: &[u8],
    key: &str,
) -> Result<Vec<T>, serde_json::Error> {
    let value: Value = serde_json::from_slice(body)?;
    let items = match data_of(value) {
        Value::Array(items) => items,
        Value::Object(mut object) => match object.remove(key).or_else(|| object.remove("items")) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect())
}

/// Returns `data` of an envelope object, or the value itself.
fn data_of(value: Value) -> Value {
    match value {
        Value::Object(mut object) if object.contains_key("data") => {
            object.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// Answer of `POST /v2/messages`: accepted for asynchronous sending.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SendReply {
    /// Id of the send request; the real message id arrives with `message.status_update`.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub request_id: String,
    /// Chat id (a number in the docs' example).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub chat_id: String,
    /// Message id, should the upstream ever answer one.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub message_id: String,
}

/// Answer of an edit or a delete.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MessageReply {
    /// The message id.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub message_id: String,
    /// The chat id.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub chat_id: String,
}

/// One channel of `GET /v2/channels` (fields seen in clients, wazzup-api.md §16.9 \[S\]).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChannelReply {
    /// Channel id (uuid).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub channel_id: String,
    /// Transport string, kept raw.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub transport: String,
    /// State string, kept raw.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub status: String,
    /// State under the v3 name, should it arrive so.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub state: String,
    /// Phone number of the channel.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub phone: String,
    /// User name of the channel.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub username: String,
    /// The v3 `plain_id`, should it arrive so.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub plain_id: String,
    /// Display name of the channel.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub name: String,
}

impl ChannelReply {
    /// Converts into the domain channel of `account`; the plain id is the first of phone, user
    /// name, plain id and name that is set.
    pub(crate) fn into_channel(self, account: &str) -> Channel {
        let state_raw = first_set([self.status, self.state]);
        let plain_id = first_set([self.phone, self.username, self.plain_id, self.name]);
        Channel {
            account: account.to_owned(),
            transport: Transport::from_upstream(&self.transport),
            state: ChannelState::from_upstream(&state_raw),
            channel_id: self.channel_id,
            transport_raw: self.transport,
            plain_id,
            state_raw,
            provider: Dialect::WazzupTech.as_str().to_owned(),
        }
    }
}

/// Returns the first non-empty text.
fn first_set<const N: usize>(texts: [String; N]) -> String {
    texts
        .into_iter()
        .find(|text| !text.is_empty())
        .unwrap_or_default()
}

/// One subscription of `GET /v2/webhooks` (§16.4 \[S\]).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WebhookReply {
    /// Subscription id.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub id: String,
    /// Receiver URL.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub url: String,
    /// Event name.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub event: String,
}

/// An export job of `POST`/`GET /v2/messages/messages_dump`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExportReply {
    /// Job id (only in the answer of the creation).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub export_id: String,
    /// State, kept raw.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub status: String,
    /// Link to the CSV file once done (`null` before).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub url: String,
}

impl ExportReply {
    /// Converts into the domain job; `export_id` fills in an id the answer does not repeat.
    pub(crate) fn into_export(self, export_id: &str) -> MessageExport {
        MessageExport {
            export_id: if self.export_id.is_empty() {
                export_id.to_owned()
            } else {
                self.export_id
            },
            state: ExportState::from_upstream(&self.status),
            state_raw: self.status,
            url: self.url,
        }
    }
}

/// Answer of `POST /v2/oauth/token` (§16.2 \[S\]).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenReply {
    /// The new `client_access_token`.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub access_token: String,
    /// The new refresh token, when the upstream rotates it.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub refresh_token: String,
    /// Seconds the access token is valid for.
    #[serde(default, deserialize_with = "lenient::count")]
    pub expires_in: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_unwrapped_and_bare_data_accepted() {
        let wrapped = br#"{"data": {"request_id": "r-1", "chat_id": 79385005913, "extra": 1},
                           "meta": {"timestamp": 1759492896}}"#;
        let reply: SendReply = unwrap_data(wrapped).unwrap();
        assert_eq!(
            (reply.request_id.as_str(), reply.chat_id.as_str()),
            ("r-1", "79385005913")
        );
        let bare: SendReply = unwrap_data(br#"{"request_id": "r-2"}"#).unwrap();
        assert_eq!(bare.request_id, "r-2");
    }

    #[test]
    fn lists_come_bare_wrapped_or_under_a_key_and_bad_items_are_skipped() {
        let bodies: [&[u8]; 3] = [
            br#"{"data": [{"id": "w1", "url": "u", "event": "message.add"}, 7]}"#,
            br#"[{"id": "w1", "url": "u", "event": "message.add"}]"#,
            br#"{"data": {"webhooks": [{"id": "w1", "url": "u", "event": "message.add"}]}}"#,
        ];
        for body in bodies {
            let list: Vec<WebhookReply> = unwrap_list(body, "webhooks").unwrap();
            assert_eq!(list.len(), 1, "{}", String::from_utf8_lossy(body));
            assert_eq!(list[0].event, "message.add");
        }
    }

    #[test]
    fn unknown_transports_and_states_are_kept_raw() {
        let channel = ChannelReply {
            channel_id: "c1".to_owned(),
            transport: "pigeon".to_owned(),
            status: "hibernating".to_owned(),
            username: "acme_bot".to_owned(),
            ..ChannelReply::default()
        }
        .into_channel("tech");
        assert_eq!(channel.transport, Transport::Other);
        assert_eq!(channel.transport_raw, "pigeon");
        assert_eq!(channel.state, ChannelState::Other);
        assert_eq!(channel.state_raw, "hibernating");
        assert_eq!(channel.plain_id, "acme_bot");
        assert_eq!(channel.provider, "wazzup_tech");
    }
}
