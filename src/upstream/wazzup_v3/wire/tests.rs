use serde_json::{Value, json};

use super::*;
use crate::model::lenient::ListReply;
use crate::model::{
    Channel, ChannelState, ChatType, MaxButton, MaxButtonType, MaxIntent, Recipient,
    TelegramButton, Template, TemplateButton, TemplateStatus, Transport,
};
use crate::upstream::error::ErrorBody;

fn fixture(name: &str) -> Value {
    let text = match name {
        "channels" => include_str!("../fixtures/channels.json"),
        "channels_drifted" => include_str!("../fixtures/channels_drifted.json"),
        "send_reply" => include_str!("../fixtures/send_reply.json"),
        "send_regular" => include_str!("../fixtures/send_regular.json"),
        "send_waba_template" => include_str!("../fixtures/send_waba_template.json"),
        "send_waba_buttons" => include_str!("../fixtures/send_waba_buttons.json"),
        "templates" => include_str!("../fixtures/templates.json"),
        "templates_drifted" => include_str!("../fixtures/templates_drifted.json"),
        "webhooks_strings" => include_str!("../fixtures/webhooks_strings.json"),
        "webhooks_booleans" => include_str!("../fixtures/webhooks_booleans.json"),
        "webhooks_patch" => include_str!("../fixtures/webhooks_patch.json"),
        "error_repeated" => include_str!("../fixtures/error_repeated_crm_message_id.json"),
        "error_invalid" => include_str!("../fixtures/error_invalid_message_data.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixture is JSON")
}

fn send(channel_id: &str, chat_id: &str, content: Content) -> SendMessage {
    SendMessage {
        channel_id: channel_id.to_owned(),
        recipient: Recipient {
            chat_type: Some(ChatType::Whatsapp),
            chat_id: Some(chat_id.to_owned()),
            ..Recipient::default()
        },
        content: Some(content),
        keyboard: None,
        quoted_message_id: None,
        crm_user_id: None,
        reset_unanswered: None,
        idempotency_key: None,
        notify: None,
    }
}

fn encoded(send: &SendMessage) -> Value {
    serde_json::to_value(SendMessageBody::new(send)).expect("encodes")
}

#[test]
fn the_documented_regular_message_encodes_exactly() {
    let mut regular = send(
        "e0629e11-0f67-4567-92a9-2237e91ec1b9",
        "79011112233",
        Content::Text("message text".to_owned()),
    );
    regular.quoted_message_id = Some("61e5a375-1760-452f-ad73-5318844ffc4f".to_owned());
    regular.crm_user_id = Some("string-user-id".to_owned());
    regular.idempotency_key = Some("string-crm-message-id".to_owned());

    assert_eq!(encoded(&regular), fixture("send_regular"));
}

#[test]
fn the_documented_template_with_button_payloads_encodes_exactly() {
    let template = TemplateMessage {
        template_id: "6201005a-9a6f-486f-bdd5-e6cb86c76ddb".to_owned(),
        values: vec!["value".to_owned()],
        buttons: (1..=3)
            .map(|n| TemplateButton {
                payload: Some(format!("button_payload {n}")),
                ..TemplateButton::default()
            })
            .collect(),
    };
    let message = send(
        "24197d5f-06de-421f-8576-9f6e6cb67f28",
        "79994621848",
        Content::Template(template),
    );

    assert_eq!(encoded(&message), fixture("send_waba_template"));
}

#[test]
fn the_documented_interactive_buttons_encode_exactly() {
    let mut message = send(
        "e0629e11-0f67-4567-92a9-2237e91ec1b9",
        "79011112233",
        Content::Text("message text".to_owned()),
    );
    message.keyboard = Some(Keyboard::Waba(
        ["Yes", "No", "Maybe"]
            .map(|text| WabaButton {
                text: text.to_owned(),
                payload: None,
            })
            .to_vec(),
    ));

    assert_eq!(encoded(&message), fixture("send_waba_buttons"));
}

#[test]
fn unset_fields_are_omitted_and_false_is_sent_when_set() {
    let mut message = send("c", "79011112233", Content::Text("hi".to_owned()));
    message.crm_user_id = Some(String::new());
    message.reset_unanswered = Some(false);

    assert_eq!(
        encoded(&message),
        json!({"channelId": "c", "chatType": "whatsapp", "chatId": "79011112233",
               "text": "hi", "clearUnanswered": false})
    );
}

#[test]
fn bot_keyboards_encode_as_rows() {
    let mut telegram = send("c", "1", Content::Text("pick".to_owned()));
    telegram.keyboard = Some(Keyboard::Telegram(TelegramKeyboard {
        markup: Some(TelegramMarkup::Inline),
        rows: vec![vec![
            TelegramButton {
                text: "Site".to_owned(),
                url: Some("https://example.com".to_owned()),
                callback_data: None,
            },
            TelegramButton {
                text: "Yes".to_owned(),
                url: None,
                callback_data: Some("yes".to_owned()),
            },
        ]],
        one_time: true,
        resize: false,
        selective: false,
        remove: false,
    }));
    let mut max = send("c", "1", Content::Text("pick".to_owned()));
    max.keyboard = Some(Keyboard::Max(MaxKeyboard {
        rows: vec![vec![MaxButton {
            button_type: Some(MaxButtonType::Callback),
            text: "Yes".to_owned(),
            payload: Some("y".to_owned()),
            url: None,
            intent: Some(MaxIntent::Positive),
        }]],
    }));

    assert_eq!(
        encoded(&telegram)["buttonsObject"],
        json!({"buttons": [[{"text": "Site", "url": "https://example.com"},
                            {"text": "Yes", "callbackData": "yes"}]],
               "replyMarkup": "inline", "oneTimeKeyboard": true})
    );
    assert_eq!(
        encoded(&max)["buttonsObject"],
        json!({"buttons": [[{"type": "callback", "text": "Yes", "payload": "y", "intent": "positive"}]]})
    );
}

#[test]
fn documented_channels_decode() {
    let list: ListReply<ChannelReply> =
        serde_json::from_value(fixture("channels")).expect("decodes");
    let channels: Vec<Channel> = list
        .into_parts()
        .0
        .into_iter()
        .map(|reply| reply.into_channel("main"))
        .collect();

    assert_eq!(channels.len(), 3);
    assert_eq!(channels[0].transport, Transport::Whatsapp);
    assert_eq!(channels[0].state, ChannelState::Active);
    assert_eq!(channels[1].transport, Transport::Waba);
    assert_eq!(channels[1].state, ChannelState::OnModeration);
    assert_eq!(channels[2].transport, Transport::TelegramBot);
    assert_eq!(
        (channels[2].account.as_str(), channels[2].provider.as_str()),
        ("main", "wazzup_v3")
    );
}

#[test]
fn drifted_channels_still_decode_keeping_unknown_values_raw() {
    let list: ListReply<ChannelReply> =
        serde_json::from_value(fixture("channels_drifted")).expect("decodes");
    let (replies, count) = list.into_parts();
    let channels: Vec<Channel> = replies
        .into_iter()
        .map(|reply| reply.into_channel("main"))
        .collect();

    assert_eq!(count, Some(2));
    assert_eq!(channels[0].transport, Transport::Other);
    assert_eq!(channels[0].transport_raw, "carrierpigeon");
    assert_eq!(channels[0].state, ChannelState::Other);
    assert_eq!(channels[0].state_raw, "hibernating");
    assert_eq!(channels[0].plain_id, "79999999999");
    assert_eq!(channels[1].transport, Transport::MaxBot);
    assert_eq!(channels[1].state, ChannelState::OpenElsewhere);
}

#[test]
fn the_send_reply_decodes_and_round_trips() {
    let reply: MessageReply = serde_json::from_value(fixture("send_reply")).expect("decodes");
    assert_eq!(reply.message_id, "f66c53a6-957a-46b2-b41b-5a2ef4844bcb");
    assert_eq!(reply.chat_id, "79999999999");
    let numeric: MessageReply =
        serde_json::from_value(json!({"messageId": "m", "chatId": 79_999_999_999_u64, "x": 1}))
            .expect("decodes");
    assert_eq!(numeric.chat_id, "79999999999");
}

#[test]
fn templates_decode_with_components_and_drift() {
    let documented: ListReply<TemplateReply> =
        serde_json::from_value(fixture("templates")).expect("decodes");
    let template = documented.into_parts().0.remove(0).into_template();
    assert_eq!(template.status, TemplateStatus::Approved);
    assert_eq!(template.waba_id, "100000000000001");
    assert_eq!(
        template.channel_ids,
        ["24197d5f-06de-421f-8576-9f6e6cb67f28"]
    );
    assert_eq!(template.components[1].examples, ["A-1", "Monday"]);
    assert_eq!(
        template.components[2].buttons[1].url,
        "https://example.com/t/{{1}}"
    );

    let drifted: ListReply<TemplateReply> =
        serde_json::from_value(fixture("templates_drifted")).expect("decodes");
    let (replies, count) = drifted.into_parts();
    let templates: Vec<Template> = replies
        .into_iter()
        .map(TemplateReply::into_template)
        .collect();
    assert_eq!(count, Some(3));
    assert_eq!(templates[0].status, TemplateStatus::Archived);
    assert_eq!(templates[0].rejected_reason, "INVALID_FORMAT");
    assert_eq!(
        templates[0].channel_ids,
        ["24197d5f-06de-421f-8576-9f6e6cb67f28"]
    );
    assert_eq!(templates[1].status, TemplateStatus::Other);
    assert_eq!(templates[1].status_raw, "under_appeal");
}

#[test]
fn webhook_settings_decode_from_strings_or_booleans_and_encode_every_flag() {
    let strings: WebhooksReply =
        serde_json::from_value(fixture("webhooks_strings")).expect("decodes");
    let booleans: WebhooksReply =
        serde_json::from_value(fixture("webhooks_booleans")).expect("decodes");
    let strings = strings.into_settings();
    let booleans = booleans.into_settings();

    assert_eq!(
        (
            strings.messages_and_statuses,
            strings.contacts_and_deals_creation,
            strings.channels_updates
        ),
        (true, true, false)
    );
    assert!(
        booleans.template_status,
        "wabaTemplatesStatus is templateStatus"
    );

    let settings = WebhookSettings {
        uri: "https://gw.example.com/wazzup/hook?k=SECRET".to_owned(),
        messages_and_statuses: true,
        contacts_and_deals_creation: false,
        channels_updates: true,
        template_status: true,
        events: Vec::new(),
    };
    assert_eq!(
        serde_json::to_value(WebhooksBody::new(&settings)).expect("encodes"),
        fixture("webhooks_patch")
    );
}

#[test]
fn documented_error_bodies_decode() {
    let repeated: ErrorBody = serde_json::from_value(fixture("error_repeated")).expect("decodes");
    let invalid: ErrorBody = serde_json::from_value(fixture("error_invalid")).expect("decodes");

    assert_eq!(repeated.code(), Some("REPEATED_CRM_MESSAGE_ID"));
    assert_eq!(
        repeated.request_id.as_deref(),
        Some("c1005276e8a2b5aa23fcc94407d39f49")
    );
    assert_eq!(invalid.field_violations("bad")[0].field, "channel_id");
}

#[test]
fn edits_send_text_or_content_and_the_editor() {
    let edit = EditMessage {
        message_id: "m".to_owned(),
        // Only checked locally: the edit route takes no channel.
        channel_id: Some("e0629e11-0f67-4567-92a9-2237e91ec1b9".to_owned()),
        content: Some(EditContent::Text("Updated message text".to_owned())),
        crm_user_id: Some("2e0df379-0e3c-470f-9b36-06b9e34c3bdb".to_owned()),
    };
    assert_eq!(
        serde_json::to_value(EditMessageBody::new(&edit)).expect("encodes"),
        json!({"text": "Updated message text", "crmUserId": "2e0df379-0e3c-470f-9b36-06b9e34c3bdb"})
    );
}
