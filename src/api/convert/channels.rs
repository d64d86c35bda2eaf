//! Channels, transports, chat types and channel states.

use crate::model::{Channel, ChannelState, ChatType, Transport};
use crate::proto::pb;

impl From<Transport> for pb::Transport {
    fn from(transport: Transport) -> Self {
        match transport {
            Transport::Whatsapp => Self::Whatsapp,
            Transport::Waba => Self::Waba,
            Transport::Instagram => Self::Instagram,
            Transport::TelegramPersonal => Self::TelegramPersonal,
            Transport::TelegramBot => Self::TelegramBot,
            Transport::Vk => Self::Vk,
            Transport::Avito => Self::Avito,
            Transport::Viber => Self::Viber,
            Transport::Max => Self::Max,
            Transport::MaxBot => Self::MaxBot,
            Transport::Other => Self::Other,
        }
    }
}

/// Returns the domain transport of a request filter value; `None` for unspecified.
pub(crate) fn transport_from_pb(transport: pb::Transport) -> Option<Transport> {
    Some(match transport {
        pb::Transport::Unspecified => return None,
        pb::Transport::Whatsapp => Transport::Whatsapp,
        pb::Transport::Waba => Transport::Waba,
        pb::Transport::Instagram => Transport::Instagram,
        pb::Transport::TelegramPersonal => Transport::TelegramPersonal,
        pb::Transport::TelegramBot => Transport::TelegramBot,
        pb::Transport::Vk => Transport::Vk,
        pb::Transport::Avito => Transport::Avito,
        pb::Transport::Viber => Transport::Viber,
        pb::Transport::Max => Transport::Max,
        pb::Transport::MaxBot => Transport::MaxBot,
        pb::Transport::Other => Transport::Other,
    })
}

impl From<ChatType> for pb::ChatType {
    fn from(chat_type: ChatType) -> Self {
        match chat_type {
            ChatType::Whatsapp => Self::Whatsapp,
            ChatType::Whatsgroup => Self::Whatsgroup,
            ChatType::Viber => Self::Viber,
            ChatType::Instagram => Self::Instagram,
            ChatType::Telegram => Self::Telegram,
            ChatType::Telegroup => Self::Telegroup,
            ChatType::Vk => Self::Vk,
            ChatType::Avito => Self::Avito,
            ChatType::Max => Self::Max,
            ChatType::Maxgroup => Self::Maxgroup,
            ChatType::Other => Self::Other,
        }
    }
}

/// Returns the domain chat type; `None` for unspecified.
pub(crate) fn chat_type_from_pb(chat_type: pb::ChatType) -> Option<ChatType> {
    Some(match chat_type {
        pb::ChatType::Unspecified => return None,
        pb::ChatType::Whatsapp => ChatType::Whatsapp,
        pb::ChatType::Whatsgroup => ChatType::Whatsgroup,
        pb::ChatType::Viber => ChatType::Viber,
        pb::ChatType::Instagram => ChatType::Instagram,
        pb::ChatType::Telegram => ChatType::Telegram,
        pb::ChatType::Telegroup => ChatType::Telegroup,
        pb::ChatType::Vk => ChatType::Vk,
        pb::ChatType::Avito => ChatType::Avito,
        pb::ChatType::Max => ChatType::Max,
        pb::ChatType::Maxgroup => ChatType::Maxgroup,
        pb::ChatType::Other => ChatType::Other,
    })
}

impl From<ChannelState> for pb::ChannelState {
    fn from(state: ChannelState) -> Self {
        match state {
            ChannelState::Active => Self::Active,
            ChannelState::Init => Self::Init,
            ChannelState::Disabled => Self::Disabled,
            ChannelState::PhoneUnavailable => Self::PhoneUnavailable,
            ChannelState::Qr => Self::Qr,
            ChannelState::OpenElsewhere => Self::OpenElsewhere,
            ChannelState::NotEnoughMoney => Self::NotEnoughMoney,
            ChannelState::ForeignPhone => Self::ForeignPhone,
            ChannelState::Unauthorized => Self::Unauthorized,
            ChannelState::WaitForPassword => Self::WaitForPassword,
            ChannelState::OnModeration => Self::OnModeration,
            ChannelState::Rejected => Self::Rejected,
            ChannelState::Blocked => Self::Blocked,
            ChannelState::Other => Self::Other,
        }
    }
}

/// Returns the domain channel state; `None` for unspecified or `OTHER` (which cannot be set).
pub(crate) fn channel_state_from_pb(state: pb::ChannelState) -> Option<ChannelState> {
    Some(match state {
        pb::ChannelState::Unspecified | pb::ChannelState::Other => return None,
        pb::ChannelState::Active => ChannelState::Active,
        pb::ChannelState::Init => ChannelState::Init,
        pb::ChannelState::Disabled => ChannelState::Disabled,
        pb::ChannelState::PhoneUnavailable => ChannelState::PhoneUnavailable,
        pb::ChannelState::Qr => ChannelState::Qr,
        pb::ChannelState::OpenElsewhere => ChannelState::OpenElsewhere,
        pb::ChannelState::NotEnoughMoney => ChannelState::NotEnoughMoney,
        pb::ChannelState::ForeignPhone => ChannelState::ForeignPhone,
        pb::ChannelState::Unauthorized => ChannelState::Unauthorized,
        pb::ChannelState::WaitForPassword => ChannelState::WaitForPassword,
        pb::ChannelState::OnModeration => ChannelState::OnModeration,
        pb::ChannelState::Rejected => ChannelState::Rejected,
        pb::ChannelState::Blocked => ChannelState::Blocked,
    })
}

impl From<Channel> for pb::Channel {
    fn from(channel: Channel) -> Self {
        Self {
            account: channel.account,
            channel_id: channel.channel_id,
            transport: pb::Transport::from(channel.transport).into(),
            transport_raw: channel.transport_raw,
            plain_id: channel.plain_id,
            state: pb::ChannelState::from(channel.state).into(),
            state_raw: channel.state_raw,
            provider: channel.provider,
        }
    }
}
