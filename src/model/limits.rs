//! The one table of limits the gateway enforces before it calls an upstream.
//!
//! Every number comes from the reference note `shared/reference/wazzup-api.md` (cited as §n) or
//! the tech v2 seed page `shared/reference/seeds/wazzup-tech-v2-messages.txt` ("tech v2").
//! Where the docs contradict themselves the **smaller** number wins, so a request that passes
//! here is not refused upstream for the same reason; the upstream's own error is still mapped.
//!
//! Text lengths count Unicode scalar values (`str::chars().count()`); Telegram `callback_data`
//! counts bytes, as the Telegram Bot API does.

use std::ops::RangeInclusive;

use super::Transport;

/// Longest message text any transport accepts, in characters; used while the channel is not known
/// yet (§3.2, §17: WhatsApp's 10 000 is the largest documented text limit).
pub(crate) const MAX_TEXT_CHARS_ANY_TRANSPORT: usize = 10_000;

/// Longest WABA template message, in characters: the template's text with its values in place,
/// so also the most characters all values of one send may have together (§3.2, §17: 550 in the
/// parameter table while `MESSAGES_TOO_LONG_WABA_TEMPLATE` says 1 024; the smaller wins).
pub(crate) const WABA_TEMPLATE_TEXT_MAX_CHARS: usize = 550;

/// Largest attachment, in bytes (§3.2, §17: `MESSAGES_CONTENT_SIZE_EXCEEDED`, the general API
/// limit of 10 MB; the webhook error `TOO_BIG_CONTENT` mentions 50 MB, and the smaller wins).
///
/// The docs do not say whether a megabyte is 10^6 or 2^20 bytes; the decimal reading,
/// 10 000 000 bytes, is the smaller one and therefore the one enforced. The stricter per-transport
/// photo limits (WABA and Telegram photos: 5 MB) depend on the file kind and are left to the
/// upstream.
pub(crate) const MAX_ATTACHMENT_BYTES: u64 = 10_000_000;

/// Number of hexadecimal characters of an attachment's SHA-1 (tech v2 `attachment.sha1`,
/// `string(hex)`: 160 bits).
pub(crate) const SHA1_HEX_CHARS: usize = 40;

/// Most buttons of a WABA interactive message (§3.4, §17, tech v2: "Maximum 10"; the upstream
/// silently drops the rest, the gateway refuses them instead).
pub(crate) const WABA_MAX_BUTTONS: usize = 10;

/// Longest label of a WABA interactive button, in characters (§3.4, §17, tech v2).
pub(crate) const WABA_BUTTON_TEXT_MAX_CHARS: usize = 20;

/// Most buttons of a Telegram bot keyboard, counted over all rows (tech v2: "No more than 12"; the
/// upstream silently drops the rest, the gateway refuses them instead).
pub(crate) const TELEGRAM_MAX_BUTTONS: usize = 12;

/// Longest label of a Telegram bot button, in characters (§3.4, §17, tech v2: longer buttons are
/// not sent).
pub(crate) const TELEGRAM_BUTTON_TEXT_MAX_CHARS: usize = 64;

/// Accepted size of a Telegram button's `callback_data`, in **bytes** (§3.4 \[S\], tech v2: "1–64
/// bytes").
pub(crate) const TELEGRAM_CALLBACK_DATA_BYTES: RangeInclusive<usize> = 1..=64;

/// Accepted number of digits of a phone number: WhatsApp and Viber chat ids and the Telegram / MAX
/// `phone` (§3.1, tech v2 `recipient`: international format with the country code, digits only,
/// no `+`). The docs give no length; this range is the gateway's contract for these fields.
pub(crate) const PHONE_DIGITS: RangeInclusive<usize> = 9..=16;

/// Longest idempotency key, in characters (a gateway bound: the key is stored and compared, and
/// the upstream's `crmMessageId` (§3.3) documents no limit).
pub(crate) const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;

/// Longest id the caller passes on (`channel_id`, `recipient.chat_id`, `message_id`,
/// `quoted_message_id`, `crm_user_id`, `template_id`, ...), in characters. A gateway bound: the
/// upstream ids are UUIDs (36 characters) or messenger ids, and §3.1 documents no length for the
/// CRM's own ids; a longer value is refused before it reaches an upstream, a log or an error.
pub(crate) const MAX_ID_CHARS: usize = 255;

/// Longest display name the caller passes on (`recipient.contact_name`, `attachment.name`), in
/// characters (a gateway bound; the docs give none).
pub(crate) const MAX_NAME_CHARS: usize = 255;

/// Most values of one WABA template (a gateway bound against runaway requests; §3.1
/// `templateValues` documents no limit and real templates have a handful of variables).
pub(crate) const TEMPLATE_MAX_VALUES: usize = 50;

/// Most button payloads of one WABA template (§3.4, §17: a WABA message has at most 10 buttons).
pub(crate) const TEMPLATE_MAX_BUTTONS: usize = 10;

/// Longest webhook URI, in characters (§17: `webhooksUri` ≤ 200).
pub(crate) const WEBHOOK_URI_MAX_CHARS: usize = 200;

/// Longest period one message export may cover (tech v2 `messages_dump`; the upstream documents
/// no bound, so this is the gateway's: a year, leap day included, keeps one job and its CSV sane).
pub(crate) const EXPORT_MAX_SPAN: std::time::Duration =
    std::time::Duration::from_secs(366 * 24 * 60 * 60);

/// Returns the longest message text, in characters, a channel of `transport` accepts (§3.2, §17).
///
/// The result never exceeds [`MAX_TEXT_CHARS_ANY_TRANSPORT`].
pub(crate) fn max_text_chars(transport: Transport) -> usize {
    match transport {
        // 10 000 in both the parameter and the error-code table.
        Transport::Whatsapp => 10_000,
        // Parameter table 1 000; `MESSAGES_TOO_LONG_INSTAGRAM` says "10 000" (likely a typo): the
        // smaller wins.
        Transport::Instagram => 1_000,
        // 1 024 for a regular message; an older page and `MESSAGES_TOO_LONG_WABA` say 4 096 for
        // the body: the smaller wins. Template texts (550) are fixed at moderation, see
        // `WABA_TEMPLATE_TEXT_MAX_CHARS`.
        Transport::Waba => 1_024,
        // 4 096 in both tables.
        Transport::TelegramPersonal
        | Transport::TelegramBot
        | Transport::Max
        | Transport::MaxBot => 4_096,
        // Parameter table 1 000; `MESSAGES_TOO_LONG_VK` says 4 096: the smaller wins.
        Transport::Vk => 1_000,
        // 1 000 in both tables (`MESSAGES_TOO_LONG_AVITO`: 1 000 caption / 1 000 text).
        Transport::Avito => 1_000,
        // Only the error-code table names a limit (`MESSAGES_TOO_LONG_VIBER`).
        Transport::Viber => 6_999,
        // Unknown transports get the largest documented limit; the upstream decides.
        Transport::Other => MAX_TEXT_CHARS_ANY_TRANSPORT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_follow_the_smaller_documented_number_per_transport() {
        let table = [
            (Transport::Whatsapp, 10_000),
            (Transport::Waba, 1_024),
            (Transport::Instagram, 1_000),
            (Transport::TelegramPersonal, 4_096),
            (Transport::TelegramBot, 4_096),
            (Transport::Vk, 1_000),
            (Transport::Avito, 1_000),
            (Transport::Viber, 6_999),
            (Transport::Max, 4_096),
            (Transport::MaxBot, 4_096),
            (Transport::Other, 10_000),
        ];
        for (transport, expected) in table {
            assert_eq!(max_text_chars(transport), expected, "{transport:?}");
        }
    }

    #[test]
    fn no_transport_allows_more_text_than_the_any_transport_limit() {
        for transport in Transport::ALL {
            assert!(
                max_text_chars(transport) <= MAX_TEXT_CHARS_ANY_TRANSPORT,
                "{transport:?}"
            );
        }
    }
}
