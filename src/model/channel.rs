//! Channels (a messenger account connected to an upstream account), their transports and states,
//! and the chat types a message can be addressed to.

use std::fmt;

/// The kind of messenger account a channel is (Wazzup calls it `transport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// WhatsApp personal (v3 `whatsapp`).
    Whatsapp,
    /// WhatsApp Business API (v3 `wapi`).
    Waba,
    /// Instagram (v3 `instagram`).
    Instagram,
    /// Telegram personal account (v3 `tgapi`).
    TelegramPersonal,
    /// Telegram bot (v3 `telegram`).
    TelegramBot,
    /// VK (v3 `vk`).
    Vk,
    /// Avito (v3 `avito`).
    Avito,
    /// Viber (v3 `viber`).
    Viber,
    /// MAX personal (v3 `max`).
    Max,
    /// MAX bot (v3 `maxbot`).
    MaxBot,
    /// A transport the gateway does not know yet; the upstream string is kept beside it.
    Other,
}

impl Transport {
    /// Every transport, for tests that go through all of them.
    #[cfg(test)]
    pub(crate) const ALL: [Self; 11] = [
        Self::Whatsapp,
        Self::Waba,
        Self::Instagram,
        Self::TelegramPersonal,
        Self::TelegramBot,
        Self::Vk,
        Self::Avito,
        Self::Viber,
        Self::Max,
        Self::MaxBot,
        Self::Other,
    ];

    /// Parses the upstream (v3 / tech v2) transport string, case-insensitively; unknown → `Other`.
    pub fn from_upstream(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "whatsapp" => Self::Whatsapp,
            "wapi" | "waba" => Self::Waba,
            "instagram" | "instapi" => Self::Instagram,
            "tgapi" => Self::TelegramPersonal,
            "telegram" => Self::TelegramBot,
            "vk" => Self::Vk,
            "avito" => Self::Avito,
            "viber" => Self::Viber,
            "max" => Self::Max,
            "maxbot" => Self::MaxBot,
            _ => Self::Other,
        }
    }

    /// Returns the v3 transport string.
    pub fn as_upstream(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Waba => "wapi",
            Self::Instagram => "instagram",
            Self::TelegramPersonal => "tgapi",
            Self::TelegramBot => "telegram",
            Self::Vk => "vk",
            Self::Avito => "avito",
            Self::Viber => "viber",
            Self::Max => "max",
            Self::MaxBot => "maxbot",
            Self::Other => "other",
        }
    }

    /// Returns the chat types a channel of this transport can send to (empty for `Other`, which
    /// the gateway cannot check and leaves to the upstream).
    pub fn chat_types(self) -> &'static [ChatType] {
        match self {
            Self::Whatsapp => &[ChatType::Whatsapp, ChatType::Whatsgroup],
            Self::Waba => &[ChatType::Whatsapp],
            Self::Instagram => &[ChatType::Instagram],
            Self::TelegramPersonal | Self::TelegramBot => {
                &[ChatType::Telegram, ChatType::Telegroup]
            }
            Self::Vk => &[ChatType::Vk],
            Self::Avito => &[ChatType::Avito],
            Self::Viber => &[ChatType::Viber],
            Self::Max | Self::MaxBot => &[ChatType::Max, ChatType::Maxgroup],
            Self::Other => &[],
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_upstream())
    }
}

/// The kind of chat a message goes to (Wazzup's `chatType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChatType {
    /// WhatsApp one-to-one chat; the chat id is the phone number in digits.
    Whatsapp,
    /// WhatsApp group chat.
    Whatsgroup,
    /// Viber chat; the chat id is the phone number in digits.
    Viber,
    /// Instagram chat; the chat id is the account name without `@`.
    Instagram,
    /// Telegram one-to-one chat.
    Telegram,
    /// Telegram group chat.
    Telegroup,
    /// VK chat.
    Vk,
    /// Avito chat.
    Avito,
    /// MAX one-to-one chat.
    Max,
    /// MAX group chat.
    Maxgroup,
    /// A chat type the gateway does not know yet.
    Other,
}

impl ChatType {
    /// Parses the upstream chat type string, case-insensitively; unknown → `Other`.
    pub fn from_upstream(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "whatsapp" => Self::Whatsapp,
            "whatsgroup" => Self::Whatsgroup,
            "viber" => Self::Viber,
            "instagram" => Self::Instagram,
            "telegram" => Self::Telegram,
            "telegroup" => Self::Telegroup,
            "vk" => Self::Vk,
            "avito" => Self::Avito,
            "max" => Self::Max,
            "maxgroup" => Self::Maxgroup,
            _ => Self::Other,
        }
    }

    /// Returns the upstream chat type string.
    pub fn as_upstream(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Whatsgroup => "whatsgroup",
            Self::Viber => "viber",
            Self::Instagram => "instagram",
            Self::Telegram => "telegram",
            Self::Telegroup => "telegroup",
            Self::Vk => "vk",
            Self::Avito => "avito",
            Self::Max => "max",
            Self::Maxgroup => "maxgroup",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for ChatType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_upstream())
    }
}

/// The state of a channel as the upstream reports it. Only `Active` allows sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelState {
    /// Connected and able to send.
    Active,
    /// Starting.
    Init,
    /// Turned off (removed from the subscription, or deleted keeping history).
    Disabled,
    /// No connection to the phone.
    PhoneUnavailable,
    /// A QR code must be scanned.
    Qr,
    /// Authorised in another Wazzup account.
    OpenElsewhere,
    /// Not paid.
    NotEnoughMoney,
    /// The QR code was scanned by another phone number.
    ForeignPhone,
    /// Not authorised.
    Unauthorized,
    /// Waiting for a two-factor password.
    WaitForPassword,
    /// WABA channel under moderation.
    OnModeration,
    /// WABA channel rejected.
    Rejected,
    /// Blocked.
    Blocked,
    /// A state the gateway does not know yet; treated as not active.
    Other,
}

impl ChannelState {
    /// Parses the upstream state string case-insensitively (the docs spell some states in several
    /// ways, e.g. `openElsewhere` / `openelsewhere`, `qr` / `qridle`); unknown → `Other`.
    pub fn from_upstream(raw: &str) -> Self {
        match raw.to_ascii_lowercase().replace('_', "").as_str() {
            "active" => Self::Active,
            "init" => Self::Init,
            "disabled" => Self::Disabled,
            "phoneunavailable" => Self::PhoneUnavailable,
            "qr" | "qridle" => Self::Qr,
            "openelsewhere" => Self::OpenElsewhere,
            "notenoughmoney" => Self::NotEnoughMoney,
            "foreignphone" => Self::ForeignPhone,
            "unauthorized" => Self::Unauthorized,
            "waitforpassword" => Self::WaitForPassword,
            "onmoderation" => Self::OnModeration,
            "rejected" => Self::Rejected,
            "blocked" => Self::Blocked,
            _ => Self::Other,
        }
    }

    /// Returns the v3 spelling of the state.
    pub fn as_upstream(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Init => "init",
            Self::Disabled => "disabled",
            Self::PhoneUnavailable => "phoneUnavailable",
            Self::Qr => "qr",
            Self::OpenElsewhere => "openElsewhere",
            Self::NotEnoughMoney => "notEnoughMoney",
            Self::ForeignPhone => "foreignphone",
            Self::Unauthorized => "unauthorized",
            Self::WaitForPassword => "waitForPassword",
            Self::OnModeration => "onModeration",
            Self::Rejected => "rejected",
            Self::Blocked => "blocked",
            Self::Other => "other",
        }
    }

    /// Tells whether a channel in this state can send messages.
    pub fn allows_sending(self) -> bool {
        self == Self::Active
    }
}

impl fmt::Display for ChannelState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_upstream())
    }
}

/// A messenger account connected to an upstream account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// The configured gateway account the channel belongs to.
    pub account: String,
    /// The upstream channel id (a UUID for Wazzup).
    pub channel_id: String,
    /// The kind of messenger account.
    pub transport: Transport,
    /// The transport exactly as the upstream spelled it.
    pub transport_raw: String,
    /// The phone number, user name or messenger id of the channel.
    pub plain_id: String,
    /// The channel's state.
    pub state: ChannelState,
    /// The state exactly as the upstream spelled it.
    pub state_raw: String,
    /// The upstream API that serves the channel (the account's dialect, e.g. `wazzup_v3`).
    pub provider: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_transport_strings_round_trip() {
        for transport in Transport::ALL
            .into_iter()
            .filter(|transport| *transport != Transport::Other)
        {
            assert_eq!(Transport::from_upstream(transport.as_upstream()), transport);
        }
        assert_eq!(Transport::from_upstream("carrier-pigeon"), Transport::Other);
    }

    #[test]
    fn channel_states_parse_case_and_spelling_insensitively() {
        assert_eq!(
            ChannelState::from_upstream("openelsewhere"),
            ChannelState::OpenElsewhere
        );
        assert_eq!(
            ChannelState::from_upstream("OPEN_ELSEWHERE"),
            ChannelState::OpenElsewhere
        );
        assert_eq!(ChannelState::from_upstream("qridle"), ChannelState::Qr);
        assert_eq!(ChannelState::from_upstream("Active"), ChannelState::Active);
        assert_eq!(
            ChannelState::from_upstream("hibernating"),
            ChannelState::Other
        );
        assert!(!ChannelState::Other.allows_sending());
    }

    #[test]
    fn waba_channels_send_only_to_whatsapp_chats() {
        assert_eq!(Transport::Waba.chat_types(), &[ChatType::Whatsapp]);
        assert!(
            Transport::TelegramBot
                .chat_types()
                .contains(&ChatType::Telegroup)
        );
    }
}
