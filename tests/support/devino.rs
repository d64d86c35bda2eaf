//! Helpers for the Devino integration tests: a gateway with one `devino` account whose base URL is
//! a `wiremock::MockServer`, its sender names and their channel ids, and the mocks of
//! `POST /whatsapp/messages`.
//!
//! Test files include it next to the shared harness:
//! `mod support; #[path = "support/devino.rs"] mod devino_support;`.

#![allow(
    dead_code,
    reason = "every test binary compiles its own copy of the support modules and uses only part of them"
)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use wazzup_gateway::RetrySettings;
use wazzup_gateway::proto::pb;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::TestGateway;

/// The test account.
pub(crate) const ACCOUNT: &str = "notify";
/// The API key the test account sends upstream, exactly as issued.
pub(crate) const API_KEY: &str = "QWxhZGRpbjpvcGVuIHNlc2FtZQ==";
/// `Authorization` Devino must receive.
pub(crate) const AUTHORIZATION: &str = "Key QWxhZGRpbjpvcGVuIHNlc2FtZQ==";
/// The account's webhook secret.
pub(crate) const WEBHOOK_SECRET: &str = "hook-secret-42";
/// Public base URL of the webhook listener in the test configuration.
pub(crate) const PUBLIC_WEBHOOK_BASE_URL: &str = "https://gw.example.com";
/// `callbackUrl` of every send: the account's webhook route.
pub(crate) const CALLBACK_URL: &str = "https://gw.example.com/webhooks/notify/hook-secret-42";
/// The account's sender names.
pub(crate) const SENDER: &str = "MyCompany";
pub(crate) const OTHER_SENDER: &str = "Alerts";
/// Channel id of [`SENDER`] (derived from the name).
pub(crate) const SENDER_CHANNEL: &str = "2316f9b8-0ed2-8035-8395-f81f53291f43";

/// Returns the TOML of a gateway with one `devino` account pointing at `base_url`, the test retry
/// delays, and `extra_devino_toml` appended to its `[accounts.devino]` table.
pub(crate) fn devino_toml(
    base_url: &str,
    public_base_url: bool,
    extra_devino_toml: &str,
) -> String {
    let retry = RetrySettings::for_test();
    let ms = |duration: Duration| format!("\"{}ms\"", duration.as_millis());
    let server = if public_base_url {
        format!("[server]\npublic_webhook_base_url = \"{PUBLIC_WEBHOOK_BASE_URL}\"\n\n")
    } else {
        String::new()
    };
    format!(
        "{server}[[accounts]]\nname = \"{ACCOUNT}\"\ndialect = \"devino\"\nbase_url = \"{base_url}\"\n\
         [accounts.devino]\nsenders = [\"{SENDER}\", \"{OTHER_SENDER}\"]\n{extra_devino_toml}\n\
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

/// The environment of the test account: its API key and webhook secret.
pub(crate) fn devino_env(api_key: &str) -> HashMap<String, String> {
    HashMap::from([
        ("WGW_ACCOUNT_NOTIFY_API_KEY".to_owned(), api_key.to_owned()),
        (
            "WGW_ACCOUNT_NOTIFY_WEBHOOK_SECRET".to_owned(),
            WEBHOOK_SECRET.to_owned(),
        ),
    ])
}

/// Starts a gateway whose `devino` account points at `upstream`, with a public webhook URL.
pub(crate) async fn start_devino(upstream: &MockServer, extra_devino_toml: &str) -> TestGateway {
    TestGateway::start_with(
        &devino_toml(&upstream.uri(), true, extra_devino_toml),
        &devino_env(API_KEY),
    )
    .await
}

/// Expects `POST /whatsapp/messages` with exactly `body` and the key, `times` times, answered
/// 200 with `answer`.
pub(crate) async fn expect_messages(upstream: &MockServer, body: Value, answer: Value, times: u64) {
    Mock::given(method("POST"))
        .and(path("/whatsapp/messages"))
        .and(header("authorization", AUTHORIZATION))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(times)
        .mount(upstream)
        .await;
}

/// A text send to `to` from [`SENDER`].
pub(crate) fn text_to(to: &str, text: &str) -> pb::SendMessageRequest {
    crate::support::text_send(SENDER_CHANNEL, to, text)
}
