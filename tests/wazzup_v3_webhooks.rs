//! Wazzup v3 webhook settings through `WebhookService`: `GET /v3/webhooks` with boolean or string
//! flags, `PATCH /v3/webhooks` with the exact body, and `RegisterWebhooks` building the gateway's
//! own URL from the configuration.

mod support;
#[path = "support/wazzup_v3.rs"]
mod wazzup_v3_support;

use serde_json::json;
use support::TestGateway;
use wazzup_gateway::proto::pb;
use wazzup_v3_support::*;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn mount_get(upstream: &MockServer, answer: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(upstream)
        .await;
}

async fn get_settings(gateway: &TestGateway) -> pb::WebhookSettings {
    webhooks(gateway)
        .await
        .get_webhook_settings(pb::GetWebhookSettingsRequest::default())
        .await
        .expect("get settings")
        .into_inner()
        .settings
        .expect("settings")
}

#[tokio::test]
async fn webhook_settings_read_boolean_flags_and_the_live_template_flag_name() {
    let upstream = MockServer::start().await;
    mount_get(
        &upstream,
        json!({"webhooksUri": "https://example.com/webhooks",
               "subscriptions": {"messagesAndStatuses": true, "contactsAndDealsCreation": false,
                                 "channelsUpdates": true, "wabaTemplatesStatus": true}}),
    )
    .await;
    let gateway = start_v3(&upstream).await;

    let settings = get_settings(&gateway).await;

    assert_eq!(
        settings,
        pb::WebhookSettings {
            uri: "https://example.com/webhooks".to_owned(),
            messages_and_statuses: true,
            contacts_and_deals_creation: false,
            channels_updates: true,
            template_status: true,
            events: Vec::new(),
        }
    );
    gateway.stop().await;
}

#[tokio::test]
async fn webhook_settings_read_string_flags_as_documented() {
    let upstream = MockServer::start().await;
    mount_get(
        &upstream,
        json!({"webhooksUri": "https://example.com/webhooks",
               "subscriptions": {"messagesAndStatuses": "true", "contactsAndDealsCreation": "true"}}),
    )
    .await;
    let gateway = start_v3(&upstream).await;

    let settings = get_settings(&gateway).await;

    assert!(settings.messages_and_statuses && settings.contacts_and_deals_creation);
    assert!(!settings.channels_updates && !settings.template_status);
    gateway.stop().await;
}

#[tokio::test]
async fn updating_webhook_settings_patches_every_flag_explicitly() {
    let upstream = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/v3/webhooks"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({
            "webhooksUri": "https://crm.example.com/wazzup/hook?k=abc",
            "subscriptions": {"messagesAndStatuses": true, "contactsAndDealsCreation": false,
                              "channelsUpdates": false, "templateStatus": true}
        })))
        // The documented answer is the literal `{ ok }`, which is not JSON.
        .respond_with(ResponseTemplate::new(200).set_body_string("{ ok }"))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;
    let wanted = pb::WebhookSettings {
        uri: "https://crm.example.com/wazzup/hook?k=abc".to_owned(),
        messages_and_statuses: true,
        template_status: true,
        ..Default::default()
    };

    let applied = webhooks(&gateway)
        .await
        .update_webhook_settings(pb::UpdateWebhookSettingsRequest {
            settings: Some(wanted.clone()),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .settings
        .expect("settings");

    assert_eq!(applied, wanted);
    gateway.stop().await;
}

#[tokio::test]
async fn register_webhooks_patches_the_gateway_url_and_configured_subscriptions_redacting_the_secret()
 {
    let upstream = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/v3/webhooks"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({
            "webhooksUri": format!("{PUBLIC_WEBHOOK_BASE_URL}/webhooks/{ACCOUNT}/{WEBHOOK_SECRET}"),
            "subscriptions": {"messagesAndStatuses": true, "contactsAndDealsCreation": false,
                              "channelsUpdates": false, "templateStatus": true}
        })))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_v3_with(
        &upstream.uri(),
        "[accounts.webhooks]\nchannels_updates = false\n",
    )
    .await;

    let applied = webhooks(&gateway)
        .await
        .register_webhooks(pb::RegisterWebhooksRequest::default())
        .await
        .expect("register")
        .into_inner()
        .settings
        .expect("settings");

    assert_eq!(
        applied.uri,
        format!("{PUBLIC_WEBHOOK_BASE_URL}/webhooks/{ACCOUNT}/[redacted]")
    );
    assert!(applied.messages_and_statuses && applied.template_status);
    assert!(!applied.channels_updates && !applied.contacts_and_deals_creation);
    gateway.stop().await;
}

#[tokio::test]
async fn register_webhooks_without_a_public_url_or_secret_is_a_failed_precondition() {
    let upstream = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&upstream)
        .await;
    let toml = v3_toml(&upstream.uri(), "").replace(
        &format!("public_webhook_base_url = \"{PUBLIC_WEBHOOK_BASE_URL}\""),
        "",
    );
    let mut env_without_secret = v3_env();
    env_without_secret.remove("WGW_ACCOUNT_MAIN_WEBHOOK_SECRET");

    for (toml, env, reason) in [
        (toml, v3_env(), "WEBHOOK_BASE_URL_NOT_CONFIGURED"),
        (
            v3_toml(&upstream.uri(), ""),
            env_without_secret,
            "WEBHOOK_SECRET_NOT_CONFIGURED",
        ),
    ] {
        let gateway = TestGateway::start_with(&toml, &env).await;
        let status = webhooks(&gateway)
            .await
            .register_webhooks(pb::RegisterWebhooksRequest::default())
            .await
            .expect_err("refused");
        let failure = failure(&status);
        assert_eq!(
            (failure.code, failure.reason.as_str()),
            (tonic::Code::FailedPrecondition, reason)
        );
        gateway.stop().await;
    }
}

#[tokio::test]
async fn a_webhook_uri_over_200_characters_is_refused_before_the_upstream() {
    let upstream = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;

    let status = webhooks(&gateway)
        .await
        .update_webhook_settings(pb::UpdateWebhookSettingsRequest {
            settings: Some(pb::WebhookSettings {
                uri: format!("https://example.com/{}", "a".repeat(200)),
                events: vec!["message.add".to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("refused");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (tonic::Code::InvalidArgument, "INVALID_REQUEST")
    );
    assert_eq!(failure.fields, ["settings.uri", "settings.events"]);
    gateway.stop().await;
}
