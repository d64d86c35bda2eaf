//! Upstream answers and checks for the secrets tests: an upstream that echoes what it was sent in
//! its error answers, and a search for any part of a secret in text.

use serde_json::{Map, Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers `status` with an error body that repeats the request's `Authorization` header and
/// body in every field: the code, a description long enough to be shortened mid-secret, the
/// request id, and `data` (values, a key and `fields`).
pub(crate) struct Echo(pub u16);

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorization = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let mut data = Map::new();
        data.insert("authorization".to_owned(), json!(authorization));
        data.insert("sent".to_owned(), json!(body));
        data.insert("fields".to_owned(), json!([authorization]));
        data.insert(authorization.replace(' ', ""), json!("key"));
        ResponseTemplate::new(self.0).set_body_json(json!({
            "error": authorization,
            "description": format!("{} {authorization} {body}", "x".repeat(190)),
            "requestId": authorization,
            "data": Value::Object(data),
        }))
    }
}

/// Mounts the partner API's token renewal on `upstream`: a send with `Bearer {expired}` is
/// refused 401, the token endpoint renews to `renewed` (rotating the refresh token to `rotated`),
/// and a send with the renewed token gets an [`Echo`] 503 that repeats it.
pub(crate) async fn mount_renewal_then_echo(
    upstream: &MockServer,
    expired: &str,
    renewed: &str,
    rotated: &str,
) {
    Mock::given(method("POST"))
        .and(path("/v2/messages"))
        .and(header("authorization", format!("Bearer {expired}")))
        .respond_with(ResponseTemplate::new(401))
        .mount(upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "access_token": renewed,
            "refresh_token": rotated,
            "expires_in": 3600
        }})))
        .mount(upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/messages"))
        .and(header("authorization", format!("Bearer {renewed}")))
        .respond_with(Echo(503))
        .mount(upstream)
        .await;
}

/// Asserts that no 12 consecutive characters of any secret (all of a shorter one) are in
/// `text`, ignoring case and which punctuation separates words (an upstream code is shown in
/// UPPER_SNAKE), naming `place`.
pub(crate) fn assert_no_secret(text: &str, secrets: &[&str], place: &str) {
    let normalized = |text: &str| -> Vec<char> {
        text.chars()
            .map(|ch| match ch.to_ascii_lowercase() {
                letter_or_digit if letter_or_digit.is_ascii_alphanumeric() => letter_or_digit,
                _ => '_',
            })
            .collect()
    };
    let haystack: String = normalized(text).into_iter().collect();
    for secret in secrets {
        let chars = normalized(secret);
        for part in chars.windows(chars.len().min(12)) {
            let part: String = part.iter().collect();
            assert!(
                !haystack.contains(&part),
                "{place} holds {part:?} of a secret:\n{text}"
            );
        }
    }
}
