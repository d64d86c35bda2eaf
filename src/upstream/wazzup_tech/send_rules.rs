//! Rules only the partner API v2 (`wazzup_tech`) imposes, beyond the shared ones (tech v2 seed
//! page `keyboard`: `buttons.payload *` is required for WABA interactive buttons, while v3 lets
//! a button go without one and replies with its index).

use crate::model::validate::is_filled;
use crate::model::{Keyboard, SendMessage, Violations};

/// Checks a send bound for a `wazzup_tech` account: every WABA interactive button has a payload.
pub(super) fn check_send(send: &SendMessage, violations: &mut Violations) {
    let Some(Keyboard::Waba(buttons)) = &send.keyboard else {
        return;
    };
    for (index, button) in buttons.iter().enumerate() {
        if !is_filled(button.payload.as_deref()) {
            violations.add(
                format!("keyboard.waba.buttons[{index}].payload"),
                "is missing or blank; wazzup_tech accounts need a payload on every waba button",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatType, Content, Recipient, WabaButton};

    fn waba_send(payloads: &[Option<&str>]) -> SendMessage {
        SendMessage {
            channel_id: "24197d5f-06de-421f-8576-9f6e6cb67f28".to_owned(),
            recipient: Recipient {
                chat_type: Some(ChatType::Whatsapp),
                chat_id: Some("79011112233".to_owned()),
                ..Recipient::default()
            },
            content: Some(Content::Text("Confirm?".to_owned())),
            keyboard: Some(Keyboard::Waba(
                payloads
                    .iter()
                    .map(|payload| WabaButton {
                        text: "Yes".to_owned(),
                        payload: payload.map(str::to_owned),
                    })
                    .collect(),
            )),
            quoted_message_id: None,
            crm_user_id: None,
            reset_unanswered: None,
            idempotency_key: None,
            notify: None,
        }
    }

    fn fields(send: &SendMessage) -> Vec<String> {
        let mut violations = Violations::new();
        check_send(send, &mut violations);
        violations
            .as_slice()
            .iter()
            .map(|violation| violation.field.clone())
            .collect()
    }

    #[test]
    fn every_waba_button_needs_a_payload() {
        assert!(fields(&waba_send(&[Some("yes"), Some("no")])).is_empty());
        assert_eq!(
            fields(&waba_send(&[Some("yes"), None, Some(" ")])),
            [
                "keyboard.waba.buttons[1].payload",
                "keyboard.waba.buttons[2].payload"
            ]
        );
    }

    #[test]
    fn sends_without_a_waba_keyboard_pass() {
        let mut send = waba_send(&[None]);
        send.keyboard = None;
        assert!(fields(&send).is_empty());
    }
}
