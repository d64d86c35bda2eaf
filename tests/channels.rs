//! ChannelService, TemplateService and SandboxService.SetChannelState against the sandbox.

mod support;

use support::*;
use tonic::Code;
use wazzup_gateway::proto::pb;

#[tokio::test]
async fn the_sandbox_lists_its_channels_with_transports_and_states() {
    let gateway = TestGateway::sandbox().await;

    let channels = gateway
        .channels()
        .await
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .channels;

    let summary: Vec<_> = channels
        .iter()
        .map(|channel| {
            (
                channel.channel_id.as_str(),
                channel.transport(),
                channel.state(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                WHATSAPP_CHANNEL,
                pb::Transport::Whatsapp,
                pb::ChannelState::Active
            ),
            (WABA_CHANNEL, pb::Transport::Waba, pb::ChannelState::Active),
            (
                TELEGRAM_BOT_CHANNEL,
                pb::Transport::TelegramBot,
                pb::ChannelState::Active
            ),
            (
                INSTAGRAM_CHANNEL,
                pb::Transport::Instagram,
                pb::ChannelState::Active
            ),
            (QR_CHANNEL, pb::Transport::Whatsapp, pb::ChannelState::Qr),
        ]
    );
    assert!(
        channels
            .iter()
            .all(|channel| channel.account == "sandbox" && channel.provider == "sandbox")
    );
    assert_eq!(channels[1].transport_raw, "wapi");
    gateway.stop().await;
}

#[tokio::test]
async fn channel_lists_filter_by_transport_and_activity() {
    let gateway = TestGateway::sandbox().await;
    let mut client = gateway.channels().await;

    let whatsapp = client
        .list_channels(pb::ListChannelsRequest {
            transports: vec![pb::Transport::Whatsapp.into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channels;
    let active_whatsapp = client
        .list_channels(pb::ListChannelsRequest {
            transports: vec![pb::Transport::Whatsapp.into()],
            active_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channels;

    let ids = |channels: &[pb::Channel]| {
        channels
            .iter()
            .map(|channel| channel.channel_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&whatsapp), [WHATSAPP_CHANNEL, QR_CHANNEL]);
    assert_eq!(ids(&active_whatsapp), [WHATSAPP_CHANNEL]);
    gateway.stop().await;
}

#[tokio::test]
async fn an_unknown_channel_is_not_found_with_its_id() {
    let gateway = TestGateway::sandbox().await;

    let status = gateway
        .channels()
        .await
        .get_channel(pb::GetChannelRequest {
            channel_id: "nope".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason_of(&status).0, "CHANNEL_NOT_FOUND");
    assert_eq!(
        metadata_of(&status).get("channelId").map(String::as_str),
        Some("nope")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_channel_put_into_another_state_is_reported_and_enforced() {
    let gateway = TestGateway::sandbox().await;
    let set = pb::SetChannelStateRequest {
        channel_id: WHATSAPP_CHANNEL.to_owned(),
        state: pb::ChannelState::PhoneUnavailable.into(),
        ..Default::default()
    };

    let changed = gateway
        .sandbox_service()
        .await
        .set_channel_state(set)
        .await
        .unwrap()
        .into_inner()
        .channel
        .unwrap();
    let fetched = gateway
        .channels()
        .await
        .get_channel(pb::GetChannelRequest {
            channel_id: WHATSAPP_CHANNEL.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channel
        .unwrap();
    let refused = gateway
        .messages()
        .await
        .send_message(text_send(WHATSAPP_CHANNEL, "79991112233", "hi"))
        .await
        .unwrap_err();

    assert_eq!(
        (changed.state(), changed.state_raw.as_str()),
        (pb::ChannelState::PhoneUnavailable, "phoneUnavailable")
    );
    assert_eq!(fetched.state(), pb::ChannelState::PhoneUnavailable);
    assert_eq!(refused.code(), Code::FailedPrecondition);
    gateway.stop().await;
}

#[tokio::test]
async fn setting_an_unspecified_state_names_the_state_field() {
    let gateway = TestGateway::sandbox().await;

    let status = gateway
        .sandbox_service()
        .await
        .set_channel_state(pb::SetChannelStateRequest {
            channel_id: WHATSAPP_CHANNEL.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["state"]);
    gateway.stop().await;
}

#[tokio::test]
async fn templates_page_with_tokens_until_the_last_page() {
    let gateway = TestGateway::sandbox().await;
    let mut client = gateway.templates().await;
    let page = |token: String| pb::ListTemplatesRequest {
        page_size: 2,
        page_token: token,
        ..Default::default()
    };

    let first = client
        .list_templates(page(String::new()))
        .await
        .unwrap()
        .into_inner();
    let second = client
        .list_templates(page(first.next_page_token.clone()))
        .await
        .unwrap()
        .into_inner();

    let names = |templates: &[pb::Template]| {
        templates
            .iter()
            .map(|template| template.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first.templates), ["order_update", "spring_promo"]);
    assert!(!first.next_page_token.is_empty());
    assert_eq!(names(&second.templates), ["welcome"]);
    assert_eq!(second.next_page_token, "");
    assert_eq!(second.templates[0].status(), pb::TemplateStatus::Rejected);
    assert_eq!(second.templates[0].rejected_reason, "INVALID_FORMAT");
    gateway.stop().await;
}

#[tokio::test]
async fn a_template_is_read_by_id_and_an_unknown_one_is_not_found() {
    let gateway = TestGateway::sandbox().await;
    let mut client = gateway.templates().await;
    let get = |id: &str| pb::GetTemplateRequest {
        template_id: id.to_owned(),
        ..Default::default()
    };

    let template = client
        .get_template(get("aaaaaaaa-0000-4000-8000-000000000001"))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let missing = client.get_template(get("nope")).await.unwrap_err();

    assert_eq!(
        (template.name.as_str(), template.status()),
        ("order_update", pb::TemplateStatus::Approved)
    );
    assert_eq!(template.components.len(), 2);
    assert_eq!(template.channel_ids, [WABA_CHANNEL]);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason_of(&missing).0, "TEMPLATE_NOT_FOUND");
    gateway.stop().await;
}

#[tokio::test]
async fn only_approved_templates_can_be_sent() {
    let gateway = TestGateway::sandbox().await;
    let template_send = |template_id: &str| pb::SendMessageRequest {
        channel_id: WABA_CHANNEL.to_owned(),
        recipient: Some(pb::Recipient {
            chat_type: pb::ChatType::Whatsapp.into(),
            chat_id: "79991112233".to_owned(),
            ..Default::default()
        }),
        content: Some(pb::send_message_request::Content::Template(
            pb::TemplateMessage {
                template_id: template_id.to_owned(),
                values: vec!["A-1001".to_owned(), "on its way".to_owned()],
                buttons: vec![],
            },
        )),
        ..Default::default()
    };
    let mut client = gateway.messages().await;

    let approved = client
        .send_message(template_send("aaaaaaaa-0000-4000-8000-000000000001"))
        .await;
    let pending = client
        .send_message(template_send("aaaaaaaa-0000-4000-8000-000000000002"))
        .await
        .unwrap_err();

    assert!(approved.is_ok(), "{approved:?}");
    assert_eq!(pending.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&pending).0, "TEMPLATE_REJECTED");
    gateway.stop().await;
}
