//! Buttons and keyboards attached to outgoing messages, in the three shapes the upstreams know.

/// Buttons attached to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keyboard {
    /// WABA interactive buttons (flat list).
    Waba(Vec<WabaButton>),
    /// A Telegram bot keyboard (rows of buttons).
    Telegram(TelegramKeyboard),
    /// A MAX bot keyboard (rows of buttons).
    Max(MaxKeyboard),
}

/// One WABA interactive button.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WabaButton {
    /// Button label.
    pub text: String,
    /// Payload returned when pressed; without one the reply carries the button's index.
    pub payload: Option<String>,
}

/// Telegram keyboard kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TelegramMarkup {
    /// Buttons under the message.
    Inline,
    /// A custom reply keyboard.
    Reply,
}

/// A Telegram bot keyboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelegramKeyboard {
    /// Inline or reply keyboard; `None` when unspecified.
    pub markup: Option<TelegramMarkup>,
    /// Rows of buttons.
    pub rows: Vec<Vec<TelegramButton>>,
    /// Hide the reply keyboard after one press.
    pub one_time: bool,
    /// Fit the reply keyboard to its buttons.
    pub resize: bool,
    /// Show the keyboard to selected users only.
    pub selective: bool,
    /// Remove the custom keyboard.
    pub remove: bool,
}

/// One Telegram button.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TelegramButton {
    /// Button label.
    pub text: String,
    /// URL opened by an inline link button.
    pub url: Option<String>,
    /// Data sent back to the bot by an inline callback button (1–64 bytes).
    pub callback_data: Option<String>,
}

/// A MAX bot keyboard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaxKeyboard {
    /// Rows of buttons.
    pub rows: Vec<Vec<MaxButton>>,
}

/// MAX button kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxButtonType {
    /// Sends a payload back to the bot.
    Callback,
    /// Opens a URL.
    Link,
    /// Sends the label as a message.
    Message,
}

impl MaxButtonType {
    /// Returns the upstream spelling.
    pub fn as_upstream(self) -> &'static str {
        match self {
            Self::Callback => "callback",
            Self::Link => "link",
            Self::Message => "message",
        }
    }
}

/// MAX button colouring intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxIntent {
    /// Neutral.
    Default,
    /// Positive.
    Positive,
    /// Negative.
    Negative,
}

impl MaxIntent {
    /// Returns the upstream spelling.
    pub fn as_upstream(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Positive => "positive",
            Self::Negative => "negative",
        }
    }
}

/// One MAX button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxButton {
    /// Button kind; `None` when the caller left it unspecified.
    pub button_type: Option<MaxButtonType>,
    /// Button label.
    pub text: String,
    /// Payload (callback buttons only).
    pub payload: Option<String>,
    /// URL (link buttons only).
    pub url: Option<String>,
    /// Colouring intent.
    pub intent: Option<MaxIntent>,
}
