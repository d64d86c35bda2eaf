//! Helpers for the Wazzup partner API v2 (`wazzup_tech`) integration tests: a gateway with one
//! `wazzup_tech` account whose base URL is a `wiremock::MockServer`, the account's channels as the
//! mock serves them (in the `{data, meta}` envelope), and the token-refresh settings.
//!
//! Test files include it next to the shared harness:
//! `mod support; #[path = "support/wazzup_tech.rs"] mod wazzup_tech_support;`.

#![allow(
    dead_code,
    reason = "every test binary compiles its own copy of the support modules and uses only part of them"
)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use wazzup_gateway::RetrySettings;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::TestGateway;

/// The account's configured `client_access_token`.
pub(crate) const ACCESS_TOKEN: &str = "tech-access-0123456789";
/// `Authorization` the upstream must receive with the configured token.
pub(crate) const BEARER: &str = "Bearer tech-access-0123456789";
/// The account's refresh token.
pub(crate) const REFRESH_TOKEN: &str = "tech-refresh-abcdef";
/// The partner's `email:password`.
pub(crate) const PARTNER_CREDENTIALS: &str = "partner@example.com:p4ss";
/// `Authorization` of the token refresh: Basic base64(`partner@example.com:p4ss`).
pub(crate) const PARTNER_BASIC: &str = "Basic cGFydG5lckBleGFtcGxlLmNvbTpwNHNz";
/// The test account.
pub(crate) const ACCOUNT: &str = "tech";
/// The account's webhook secret.
pub(crate) const WEBHOOK_SECRET: &str = "tech-hook-secret";
/// Public base URL of the webhook listener in the test configuration.
pub(crate) const PUBLIC_WEBHOOK_BASE_URL: &str = "https://gw.example.com";

/// Channel ids of [`channel_list`].
pub(crate) const WHATSAPP: &str = "020e3f61-e5df-447f-8ef9-ce8258e92c7a";
pub(crate) const WABA: &str = "385bf0c5-0000-4f9f-be85-9b84d797cf95";
pub(crate) const TELEGRAM_BOT: &str = "6a200e75-b1e6-4c92-950b-31801a31aa95";
pub(crate) const MAX_BOT: &str = "808e0654-d0f5-4926-a7fa-4783f1c05eeb";
pub(crate) const DRIFTED: &str = "9b9b9b9b-0000-4000-8000-000000000001";

/// The account's channels as `GET /v2/channels` answers them: snake_case, `status`, a phone as a
/// number, one unknown transport and state.
pub(crate) fn channel_list() -> Value {
    json!({
        "data": [
            {"channel_id": WHATSAPP, "transport": "whatsapp", "status": "active", "phone": 37190111122_u64},
            {"channel_id": WABA, "transport": "wapi", "status": "active", "phone": "79994621848"},
            {"channel_id": TELEGRAM_BOT, "transport": "telegram", "status": "active",
             "username": "acme_bot", "name": "Acme"},
            {"channel_id": MAX_BOT, "transport": "maxbot", "status": "active", "name": "acme"},
            {"channel_id": DRIFTED, "transport": "carrier_pigeon", "status": "molting",
             "reason": null, "future_field": {"x": 1}}
        ],
        "meta": {"timestamp": 1759495852}
    })
}

/// Mounts `GET /v2/channels` (matching the configured token), answered as often as asked.
pub(crate) async fn mount_channels(upstream: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v2/channels"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(channel_list()))
        .mount(upstream)
        .await;
}

/// Returns the TOML of a gateway with one `wazzup_tech` account pointing at `base_url`, the
/// millisecond retry delays of `RetrySettings::for_test()`, and `extra_account_toml` appended
/// to the account.
pub(crate) fn tech_toml(base_url: &str, extra_account_toml: &str) -> String {
    let retry = RetrySettings::for_test();
    let ms = |duration: Duration| format!("\"{}ms\"", duration.as_millis());
    format!(
        "[server]\npublic_webhook_base_url = \"{PUBLIC_WEBHOOK_BASE_URL}\"\n\n\
         [[accounts]]\nname = \"{ACCOUNT}\"\ndialect = \"wazzup_tech\"\nbase_url = \"{base_url}\"\n\
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

/// The environment of the tech test account: its token and webhook secret; with `refresh`, also
/// the refresh token and the partner credentials.
pub(crate) fn tech_env(refresh: bool) -> HashMap<String, String> {
    let mut env = HashMap::from([
        (
            "WGW_ACCOUNT_TECH_API_KEY".to_owned(),
            ACCESS_TOKEN.to_owned(),
        ),
        (
            "WGW_ACCOUNT_TECH_WEBHOOK_SECRET".to_owned(),
            WEBHOOK_SECRET.to_owned(),
        ),
    ]);
    if refresh {
        env.insert(
            "WGW_ACCOUNT_TECH_REFRESH_TOKEN".to_owned(),
            REFRESH_TOKEN.to_owned(),
        );
        env.insert(
            "WGW_ACCOUNT_TECH_PARTNER_CREDENTIALS".to_owned(),
            PARTNER_CREDENTIALS.to_owned(),
        );
    }
    env
}

/// Starts a gateway whose `wazzup_tech` account points at `upstream`, without token refresh.
pub(crate) async fn start_tech(upstream: &MockServer) -> TestGateway {
    TestGateway::start_with(&tech_toml(&upstream.uri(), ""), &tech_env(false)).await
}

/// Starts a gateway whose `wazzup_tech` account can refresh its token (client id `client-7`).
pub(crate) async fn start_tech_with_refresh(upstream: &MockServer) -> TestGateway {
    let toml = tech_toml(&upstream.uri(), "oauth_client_id = \"client-7\"\n");
    TestGateway::start_with(&toml, &tech_env(true)).await
}

/// Wraps `data` in the v2 envelope.
pub(crate) fn envelope(data: Value) -> Value {
    json!({"data": data, "meta": {"timestamp": 1759492896}})
}
