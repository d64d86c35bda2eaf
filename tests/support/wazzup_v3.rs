//! Helpers for the Wazzup v3 integration tests: a gateway with one `wazzup_v3` account whose base
//! URL is a `wiremock::MockServer`, the account's channels as the mock serves them, and a decoder
//! for the `google.rpc` details of failed calls.
//!
//! Test files include it next to the shared harness:
//! `mod support; #[path = "support/wazzup_v3.rs"] mod wazzup_v3_support;`.

#![allow(
    dead_code,
    reason = "every test binary compiles its own copy of the support modules and uses only part of them"
)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic_types::StatusExt as _;
use wazzup_gateway::RetrySettings;
use wazzup_gateway::proto::pb;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::TestGateway;

/// The API key the test account sends upstream.
pub(crate) const API_KEY: &str = "test-key-0123456789abcdef";
/// `Authorization` the upstream must receive.
pub(crate) const BEARER: &str = "Bearer test-key-0123456789abcdef";
/// The test account.
pub(crate) const ACCOUNT: &str = "main";
/// The account's webhook secret.
pub(crate) const WEBHOOK_SECRET: &str = "hook-secret-42";
/// Public base URL of the webhook listener in the test configuration.
pub(crate) const PUBLIC_WEBHOOK_BASE_URL: &str = "https://gw.example.com";

/// Channel ids of [`channel_list`].
pub(crate) const WHATSAPP: &str = "e0629e11-0f67-4567-92a9-2237e91ec1b9";
pub(crate) const WABA: &str = "24197d5f-06de-421f-8576-9f6e6cb67f28";
pub(crate) const TELEGRAM_BOT: &str = "d9e5721c-ce2b-444f-9627-60a8129d7e1f";
pub(crate) const MAX_BOT: &str = "b96a353b-9999-4cac-8413-ba99999f9810";
pub(crate) const WHATSAPP_QR: &str = "dffa1c7b-6db8-4b8f-b559-91166aba879e";

/// The account's channels as `GET /v3/channels` answers them.
pub(crate) fn channel_list() -> Value {
    json!([
        {"channelId": WHATSAPP, "transport": "whatsapp", "plainId": "79865784457", "state": "active"},
        {"channelId": WABA, "transport": "wapi", "plainId": "79994621848", "state": "active"},
        {"channelId": TELEGRAM_BOT, "transport": "telegram", "plainId": "acme_bot", "state": "active"},
        {"channelId": MAX_BOT, "transport": "maxbot", "plainId": "acme", "state": "active"},
        {"channelId": WHATSAPP_QR, "transport": "whatsapp", "plainId": "79865784458", "state": "qr"}
    ])
}

/// Mounts `GET /v3/channels` (matching the auth header), answered as often as asked.
pub(crate) async fn mount_channels(upstream: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v3/channels"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(channel_list()))
        .mount(upstream)
        .await;
}

/// Returns the TOML of a gateway with one `wazzup_v3` account pointing at `base_url`, the
/// millisecond retry delays of `RetryPolicy::for_test()`, and `extra_account_toml` (tables of the
/// account such as `[accounts.limits]`) appended to the account.
pub(crate) fn v3_toml(base_url: &str, extra_account_toml: &str) -> String {
    let retry = RetrySettings::for_test();
    let ms = |duration: Duration| format!("\"{}ms\"", duration.as_millis());
    format!(
        "[server]\npublic_webhook_base_url = \"{PUBLIC_WEBHOOK_BASE_URL}\"\n\n\
         [[accounts]]\nname = \"{ACCOUNT}\"\ndialect = \"wazzup_v3\"\nbase_url = \"{base_url}\"\n\
         {extra_account_toml}\n\
         [accounts.retry]\nmax_attempts = {}\nbase_delay = {}\nmax_delay = {}\n\
         rate_limit_fallback = {}\nmax_retry_after = {}\ntotal_budget = {}\n",
        retry.max_attempts,
        ms(retry.base_delay),
        ms(retry.max_delay),
        ms(retry.rate_limit_fallback),
        ms(retry.max_retry_after),
        ms(retry.total_budget),
    )
}

/// The environment of the v3 test account: its API key and webhook secret.
pub(crate) fn v3_env() -> HashMap<String, String> {
    HashMap::from([
        ("WGW_ACCOUNT_MAIN_API_KEY".to_owned(), API_KEY.to_owned()),
        (
            "WGW_ACCOUNT_MAIN_WEBHOOK_SECRET".to_owned(),
            WEBHOOK_SECRET.to_owned(),
        ),
    ])
}

/// Starts a gateway whose `wazzup_v3` account points at `upstream`.
pub(crate) async fn start_v3(upstream: &MockServer) -> TestGateway {
    start_v3_with(&upstream.uri(), "").await
}

/// Starts a gateway whose `wazzup_v3` account points at `base_url`, with extra account TOML.
pub(crate) async fn start_v3_with(base_url: &str, extra_account_toml: &str) -> TestGateway {
    TestGateway::start_with(&v3_toml(base_url, extra_account_toml), &v3_env()).await
}

/// A `WebhookService` client.
pub(crate) async fn webhooks(
    gateway: &TestGateway,
) -> pb::webhook_service_client::WebhookServiceClient<Channel> {
    pb::webhook_service_client::WebhookServiceClient::new(gateway.channel().await)
}

/// A send of `text` to a WhatsApp chat from the WhatsApp channel.
pub(crate) fn whatsapp_text(chat_id: &str, text: &str) -> pb::SendMessageRequest {
    crate::support::text_send(WHATSAPP, chat_id, text)
}

/// `request` carrying the idempotency key `key`.
pub(crate) fn keyed(mut request: pb::SendMessageRequest, key: &str) -> pb::SendMessageRequest {
    request.idempotency_key = key.to_owned();
    request
}

/// The parts of a failed call tests assert on.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: tonic::Code,
    pub reason: String,
    pub domain: String,
    pub metadata: HashMap<String, String>,
    pub fields: Vec<String>,
    pub retry_after: Option<Duration>,
    pub message: String,
}

/// Decodes the status of a failed call; every error must carry exactly one `ErrorInfo`.
pub(crate) fn failure(status: &tonic::Status) -> Failure {
    let details = status.get_error_details();
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {status:?}"));
    Failure {
        code: status.code(),
        reason: info.reason.clone(),
        domain: info.domain.clone(),
        metadata: info.metadata.clone(),
        fields: details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|violation| violation.field.clone())
                    .collect()
            })
            .unwrap_or_default(),
        retry_after: details.retry_info().and_then(|info| info.retry_delay),
        message: status.message().to_owned(),
    }
}
