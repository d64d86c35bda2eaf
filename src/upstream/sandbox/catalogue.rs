//! The sandbox's fixed channels and templates. The ids are stable so that documentation and
//! scripts can use them verbatim.

use crate::model::{
    Channel, ChannelState, Template, TemplateButtonSpec, TemplateComponent, TemplateStatus,
    Transport,
};

/// The sandbox's active WhatsApp channel.
pub(crate) const WHATSAPP_CHANNEL_ID: &str = "11111111-1111-4111-8111-111111111111";
/// The sandbox's WABA channel (templates are attached to it).
pub(crate) const WABA_CHANNEL_ID: &str = "22222222-2222-4222-8222-222222222222";
/// The sandbox's Telegram bot channel.
pub(crate) const TELEGRAM_BOT_CHANNEL_ID: &str = "33333333-3333-4333-8333-333333333333";
/// The sandbox's Instagram channel.
pub(crate) const INSTAGRAM_CHANNEL_ID: &str = "44444444-4444-4444-8444-444444444444";
/// The sandbox's WhatsApp channel that waits for a QR scan (not active).
pub(crate) const QR_CHANNEL_ID: &str = "55555555-5555-4555-8555-555555555555";

/// The WABA account the sandbox templates belong to.
const SANDBOX_WABA_ID: &str = "100000000000001";

/// Returns the channels of the sandbox account `account`.
pub(crate) fn channels(account: &str) -> Vec<Channel> {
    [
        (
            WHATSAPP_CHANNEL_ID,
            Transport::Whatsapp,
            "79990000001",
            ChannelState::Active,
        ),
        (
            WABA_CHANNEL_ID,
            Transport::Waba,
            "79990000002",
            ChannelState::Active,
        ),
        (
            TELEGRAM_BOT_CHANNEL_ID,
            Transport::TelegramBot,
            "wazzup_sandbox_bot",
            ChannelState::Active,
        ),
        (
            INSTAGRAM_CHANNEL_ID,
            Transport::Instagram,
            "wazzup.sandbox",
            ChannelState::Active,
        ),
        (
            QR_CHANNEL_ID,
            Transport::Whatsapp,
            "79990000005",
            ChannelState::Qr,
        ),
    ]
    .into_iter()
    .map(|(channel_id, transport, plain_id, state)| Channel {
        account: account.to_owned(),
        channel_id: channel_id.to_owned(),
        transport,
        transport_raw: transport.as_upstream().to_owned(),
        plain_id: plain_id.to_owned(),
        state,
        state_raw: state.as_upstream().to_owned(),
        provider: "sandbox".to_owned(),
    })
    .collect()
}

/// Returns the sandbox's WABA templates: one approved, one pending, one rejected.
pub(crate) fn templates() -> Vec<Template> {
    vec![
        Template {
            template_id: "aaaaaaaa-0000-4000-8000-000000000001".to_owned(),
            title: "Order update".to_owned(),
            name: "order_update".to_owned(),
            category: "UTILITY".to_owned(),
            language: "en".to_owned(),
            status: TemplateStatus::Approved,
            status_raw: "approved".to_owned(),
            rejected_reason: String::new(),
            channel_ids: vec![WABA_CHANNEL_ID.to_owned()],
            waba_id: SANDBOX_WABA_ID.to_owned(),
            waba_name: "Sandbox WABA".to_owned(),
            namespace: String::new(),
            components: vec![
                component(
                    "BODY",
                    "Your order {{1}} is {{2}}.",
                    &["A-1001", "on its way"],
                ),
                buttons_component(&["Track", "Cancel"]),
            ],
        },
        Template {
            template_id: "aaaaaaaa-0000-4000-8000-000000000002".to_owned(),
            title: "Spring promo".to_owned(),
            name: "spring_promo".to_owned(),
            category: "MARKETING".to_owned(),
            language: "en".to_owned(),
            status: TemplateStatus::Pending,
            status_raw: "pending".to_owned(),
            rejected_reason: String::new(),
            channel_ids: vec![WABA_CHANNEL_ID.to_owned()],
            waba_id: SANDBOX_WABA_ID.to_owned(),
            waba_name: "Sandbox WABA".to_owned(),
            namespace: String::new(),
            components: vec![component(
                "BODY",
                "Spring sale: {{1}} off until {{2}}.",
                &["20%", "May 1"],
            )],
        },
        Template {
            template_id: "aaaaaaaa-0000-4000-8000-000000000003".to_owned(),
            title: "Welcome".to_owned(),
            name: "welcome".to_owned(),
            category: "UTILITY".to_owned(),
            language: "en".to_owned(),
            status: TemplateStatus::Rejected,
            status_raw: "rejected".to_owned(),
            rejected_reason: "INVALID_FORMAT".to_owned(),
            channel_ids: vec![WABA_CHANNEL_ID.to_owned()],
            waba_id: SANDBOX_WABA_ID.to_owned(),
            waba_name: "Sandbox WABA".to_owned(),
            namespace: String::new(),
            components: vec![component("BODY", "Welcome, {{1}}!", &["Anna"])],
        },
    ]
}

/// Builds a text component.
fn component(component_type: &str, text: &str, examples: &[&str]) -> TemplateComponent {
    TemplateComponent {
        component_type: component_type.to_owned(),
        format: String::new(),
        text: text.to_owned(),
        examples: examples
            .iter()
            .map(|example| (*example).to_owned())
            .collect(),
        buttons: Vec::new(),
    }
}

/// Builds a quick-reply buttons component.
fn buttons_component(labels: &[&str]) -> TemplateComponent {
    TemplateComponent {
        component_type: "BUTTONS".to_owned(),
        buttons: labels
            .iter()
            .map(|label| TemplateButtonSpec {
                button_type: "QUICK_REPLY".to_owned(),
                text: (*label).to_owned(),
                url: String::new(),
            })
            .collect(),
        ..TemplateComponent::default()
    }
}
