//! The webhook ingress: upstream webhooks in, durable events out. Every request goes
//! authenticate → read the body (bounded in size and time) → split it into events
//! ([`super::decode`]) → [`EventLog::append`] → answer. The answer is 200 only once `append`
//! returned, i.e. once the events are durable.
//!
//! Routes (the webhook listener, the only port meant for the internet):
//! - `POST /webhooks/{account}/{secret}`: the URL carries the account's webhook secret (what
//!   `WebhookService.RegisterWebhooks` registers; v3 webhooks carry no signature).
//! - `POST /webhooks/{account}`: for accounts authenticated only by `Authorization: Bearer
//!   <crmKey>`, which the upstream adds when it holds a crmKey for the integration.
//!
//! Every credential the account configures must be presented (the URL secret and/or the crmKey),
//! compared in constant time. Answers (the sender is the upstream, see STYLE.md §8.5):
//!
//! | status | when | stored |
//! |---|---|---|
//! | 200 | events stored; also `{"test": true}` and bodies with no item | yes / nothing to store |
//! | 200 + JSON | CRM entity request answered through `EventService.Respond` | yes |
//! | 401 | unknown account, wrong or missing credentials, account with no credential | no |
//! | 408 | the body did not arrive within `webhooks.request_timeout` | no |
//! | 413 | body larger than `webhooks.max_body_bytes`, or an event larger than `webhooks.max_event_bytes` as delivered | no |
//! | 422 | body nested deeper than [`MAX_JSON_DEPTH`] | no |
//! | 415 | content type other than `application/json` (any parameters) | no |
//! | 503 | the log failed or did not store in time: the sender should retry | no (atomic) |
//! | 504 | CRM entity request not answered within `webhooks.crm_response_timeout` | yes |
//!
//! A body of unknown shape is stored (as unknown events) and answered 200, never 400. What is
//! refused is what could be stored but not read back or delivered ([`super::bounds`]). Logs name
//! the account only: never the URL path (it holds the secret), the secret or the crmKey.

mod auth;
mod spans;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use futures::StreamExt as _;
use serde_json::json;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument as _;

use crate::config::{AccountConfig, WebhookConfig};
use crate::telemetry::Metrics;
use crate::telemetry::event_links::EventLinks;
use crate::telemetry::trace_context;

use super::bounds::{self, MAX_JSON_DEPTH};
use super::decode::{self, DecodedWebhook, WebhookDecoders, WebhookSource};
use super::log::EventLog;
use super::responses::PendingResponses;
use super::{EventType, NewEvent};

use self::auth::WebhookAccount;

/// Metrics label of a request whose body was never read.
const KIND_NOT_READ: &str = "-";
/// Metrics label of a path naming no configured account.
const ACCOUNT_NOT_CONFIGURED: &str = "-";

/// What the webhook handlers share; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct IngressState {
    /// The shared part.
    inner: Arc<Ingress>,
}

/// The ingress's accounts, log and limits.
#[derive(Debug)]
struct Ingress {
    /// Configured accounts by name, with their webhook credentials.
    accounts: HashMap<String, WebhookAccount>,
    /// Where events are stored before the upstream gets its 200.
    log: Arc<dyn EventLog>,
    /// CRM entity requests waiting for `EventService.Respond`.
    responses: Arc<PendingResponses>,
    /// Counts webhooks by account, kind and outcome.
    metrics: Arc<Metrics>,
    /// Where each stored event's append span is remembered, for the delivery spans to link to.
    links: Arc<EventLinks>,
    /// Body size and time limits.
    limits: WebhookConfig,
    /// Reads each account's bodies in its dialect.
    decoders: WebhookDecoders,
}

impl IngressState {
    /// Builds the ingress for `accounts` with `limits`, reading bodies with `decoders` and
    /// storing into `log`. `responses` must be the registry `EventService.Respond` answers
    /// through; `links` the one the event streams read.
    pub(crate) fn new(
        accounts: &[AccountConfig],
        limits: WebhookConfig,
        decoders: WebhookDecoders,
        log: Arc<dyn EventLog>,
        responses: Arc<PendingResponses>,
        metrics: Arc<Metrics>,
        links: Arc<EventLinks>,
    ) -> Self {
        let accounts = accounts
            .iter()
            .map(|account| (account.name.clone(), WebhookAccount::from_config(account)))
            .collect();
        let inner = Ingress {
            accounts,
            log,
            responses,
            metrics,
            links,
            limits,
            decoders,
        };
        Self {
            inner: Arc::new(inner),
        }
    }
}

/// Builds the webhook router.
pub(crate) fn router(state: IngressState) -> Router {
    Router::new()
        .route(spans::ROUTE_WITH_SECRET, post(receive_with_secret))
        .route(spans::ROUTE_WITHOUT_SECRET, post(receive_without_secret))
        .with_state(state)
}

/// `POST /webhooks/{account}/{secret}`.
async fn receive_with_secret(
    State(state): State<IngressState>,
    Path((account, secret)): Path<(String, String)>,
    request: Request,
) -> Response {
    let span = spans::receipt_span(spans::ROUTE_WITH_SECRET, request.headers());
    let response = state
        .inner
        .receive(&account, Some(&secret), request)
        .instrument(span.clone())
        .await;
    spans::record_status(&span, response.status());
    response
}

/// `POST /webhooks/{account}`.
async fn receive_without_secret(
    State(state): State<IngressState>,
    Path(account): Path<String>,
    request: Request,
) -> Response {
    let span = spans::receipt_span(spans::ROUTE_WITHOUT_SECRET, request.headers());
    let response = state
        .inner
        .receive(&account, None, request)
        .instrument(span.clone())
        .await;
    spans::record_status(&span, response.status());
    response
}

/// How one request ended, for the answer and the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Stored,
    TestProbe,
    NothingToStore,
    Unauthorized,
    UnsupportedMediaType,
    TooLarge,
    TooDeep,
    EventTooLarge,
    BodyTimeout,
    BrokenBody,
    Unavailable,
    CrmAnswered,
    CrmTimeout,
}

impl Outcome {
    /// Returns the metrics label.
    fn label(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::TestProbe => "test",
            Self::NothingToStore => "nothing_to_store",
            Self::Unauthorized => "unauthorized",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "too_large",
            Self::TooDeep => "too_deep",
            Self::EventTooLarge => "event_too_large",
            Self::BodyTimeout => "body_timeout",
            Self::BrokenBody => "broken_body",
            Self::Unavailable => "unavailable",
            Self::CrmAnswered => "crm_answered",
            Self::CrmTimeout => "crm_timeout",
        }
    }

    /// Returns the plain answer of outcomes that carry no JSON.
    fn response(self) -> Response {
        let (status, text) = match self {
            Self::Stored | Self::TestProbe | Self::NothingToStore | Self::CrmAnswered => {
                (StatusCode::OK, "ok\n")
            }
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized\n"),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "webhooks must be application/json\n",
            ),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body too large\n"),
            Self::TooDeep => {
                let text = format!("JSON nested deeper than {MAX_JSON_DEPTH} levels, not stored\n");
                return (StatusCode::UNPROCESSABLE_ENTITY, text).into_response();
            }
            Self::EventTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "an event of this body is larger than webhooks.max_event_bytes, not stored\n",
            ),
            Self::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body not received in time\n"),
            Self::BrokenBody => (StatusCode::BAD_REQUEST, "body could not be read\n"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "not stored, retry later\n"),
            Self::CrmTimeout => return crm_fallback(),
        };
        (status, text).into_response()
    }
}

/// The answer to a CRM entity request nobody answered in time: 504 with a JSON error body.
///
/// Not 200: the upstream reads a 200 body as the created entity (wazzup-api.md §6.3), and an
/// empty one would leave it linked to nothing. A non-2xx tells it that no entity was created; if
/// it retries, the retry maps to the same event id (stored once) and is held open again.
fn crm_fallback() -> Response {
    let body = json!({
        "error": "CRM_RESPONSE_TIMEOUT",
        "description": "no subscriber answered the request in time",
    });
    (StatusCode::GATEWAY_TIMEOUT, Json(body)).into_response()
}

impl Ingress {
    /// Handles one webhook request addressed to `account_name`.
    async fn receive(
        &self,
        account_name: &str,
        url_secret: Option<&str>,
        request: Request,
    ) -> Response {
        let received_at_ms = decode::now_ms();
        let Some(account) = self.accounts.get(account_name) else {
            spans::record_account(ACCOUNT_NOT_CONFIGURED);
            tracing::debug!("webhook for an account that is not configured refused");
            return self.finish(ACCOUNT_NOT_CONFIGURED, KIND_NOT_READ, Outcome::Unauthorized);
        };
        spans::record_account(&account.name);
        let (parts, body) = request.into_parts();
        if let Err(refusal) = account.authenticate(url_secret, &parts.headers) {
            tracing::debug!(account = %account.name, reason = refusal.as_str(), "webhook refused");
            return self.finish(&account.name, KIND_NOT_READ, Outcome::Unauthorized);
        }
        if !is_json(&parts.headers) {
            return self.finish(&account.name, KIND_NOT_READ, Outcome::UnsupportedMediaType);
        }
        let deadline = Instant::now() + self.limits.request_timeout;
        let bytes = match self.read_body(&parts.headers, body, deadline).await {
            Ok(bytes) => bytes,
            Err(outcome) => return self.finish(&account.name, KIND_NOT_READ, outcome),
        };
        if bounds::nests_deeper_than(&bytes, MAX_JSON_DEPTH) {
            return self.finish(&account.name, KIND_NOT_READ, Outcome::TooDeep);
        }
        let source = WebhookSource {
            account: &account.name,
            dialect: account.dialect,
            received_at_ms,
        };
        let decoded = self.decoders.decode_webhook(source, &bytes);
        drop(bytes);
        if self.has_oversized_event(&decoded) {
            return self.finish(&account.name, decoded.kind, Outcome::EventTooLarge);
        }
        self.store(&account.name, decoded, deadline).await
    }

    /// Tells whether an event of `decoded` would be larger than `webhooks.max_event_bytes` as
    /// delivered; then none of them is stored, as for any other refusal.
    fn has_oversized_event(&self, decoded: &DecodedWebhook) -> bool {
        decoded
            .events
            .iter()
            .any(|event| bounds::delivered_raw_len(&event.raw) > self.limits.max_event_bytes)
    }

    /// Reads the whole body into memory of its own (hyper's buffers are not kept), refusing
    /// more than the limit and giving up at `deadline`.
    async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
        deadline: Instant,
    ) -> Result<Vec<u8>, Outcome> {
        let limit = self.limits.max_body_bytes;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(Outcome::TooLarge);
        }
        let mut chunks = body.into_data_stream();
        let mut collected = Vec::with_capacity(declared.unwrap_or(0));
        let reading = async {
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|_| Outcome::BrokenBody)?;
                if collected.len() + chunk.len() > limit {
                    return Err(Outcome::TooLarge);
                }
                collected.extend_from_slice(&chunk);
            }
            Ok(())
        };
        match timeout_at(deadline, reading).await {
            Ok(Ok(())) => Ok(collected),
            Ok(Err(outcome)) => Err(outcome),
            Err(_) => Err(Outcome::BodyTimeout),
        }
    }

    /// Appends the events and answers; CRM entity requests are then held for their answer.
    async fn store(&self, account: &str, decoded: DecodedWebhook, deadline: Instant) -> Response {
        let kind = decoded.kind;
        if decoded.events.is_empty() {
            let outcome = if decoded.is_test_probe() {
                Outcome::TestProbe
            } else {
                Outcome::NothingToStore
            };
            return self.finish(account, kind, outcome);
        }
        let crm_request_opt = decoded.events.iter().find(|event| is_crm_request(event));
        let Some(crm_request) = crm_request_opt.cloned() else {
            let outcome = self.append(account, decoded.events, deadline).await;
            return self.finish(account, kind, outcome);
        };
        // Held before the event is visible to subscribers, so an answer cannot arrive before
        // anyone waits for it.
        let patience = crm_patience(&crm_request, self.limits.crm_response_timeout);
        let held = match self.responses.hold(account, &crm_request.id).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(
                    account,
                    error = &error as &dyn std::error::Error,
                    "CRM request cannot be held for its answer"
                );
                return self.finish(account, kind, Outcome::Unavailable);
            }
        };
        let outcome = self.append(account, decoded.events, deadline).await;
        if outcome != Outcome::Stored {
            return self.finish(account, kind, outcome);
        }
        match held.answer(patience).await {
            Some(body) => {
                self.record(account, kind, Outcome::CrmAnswered);
                (StatusCode::OK, Json(body)).into_response()
            }
            None => {
                tracing::info!(account, event_id = %crm_request.id, "CRM request not answered in time");
                self.finish(account, kind, Outcome::CrmTimeout)
            }
        }
    }

    /// Appends `events` durably, giving up at `deadline`.
    ///
    /// Runs under its own span, whose context each event's id is remembered with.
    async fn append(&self, account: &str, events: Vec<NewEvent>, deadline: Instant) -> Outcome {
        let count = events.len();
        let bytes = events
            .iter()
            .map(|event| bounds::delivered_raw_len(&event.raw))
            .sum();
        let span = spans::append_span(account, count, bytes);
        // Before the append: a live subscriber may be handed an event as soon as it commits.
        self.links.remember(
            events.iter().map(|event| event.id.as_str()),
            &trace_context::span_context_of(&span),
        );
        let started = Instant::now();
        let appended = timeout_at(deadline, self.log.append(events))
            .instrument(span.clone())
            .await;
        if !matches!(appended, Ok(Ok(_))) {
            span.record("otel.status_code", "ERROR");
        }
        match appended {
            Ok(Ok(cursors)) => {
                self.metrics.record_append(started.elapsed());
                tracing::debug!(account, events = count, last_cursor = ?cursors.last(), "webhook stored");
                Outcome::Stored
            }
            Ok(Err(error)) => {
                tracing::warn!(
                    account,
                    error = &error as &dyn std::error::Error,
                    "webhook not stored, the sender will retry"
                );
                Outcome::Unavailable
            }
            Err(_) => {
                tracing::warn!(account, "webhook not stored in time, the sender will retry");
                Outcome::Unavailable
            }
        }
    }

    /// Counts the request and returns its plain answer.
    fn finish(&self, account: &str, kind: &'static str, outcome: Outcome) -> Response {
        self.record(account, kind, outcome);
        outcome.response()
    }

    /// Counts the request.
    fn record(&self, account: &str, kind: &'static str, outcome: Outcome) {
        self.metrics.record_webhook(account, kind, outcome.label());
    }
}

/// Tells whether the event is a CRM entity request the upstream waits on.
fn is_crm_request(event: &NewEvent) -> bool {
    matches!(
        event.event_type,
        EventType::ContactRequested | EventType::DealRequested
    )
}

/// Returns how long to hold a CRM request so that the hold ends at `received_at` + `timeout`,
/// the deadline subscribers see.
fn crm_patience(event: &NewEvent, timeout: Duration) -> Duration {
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    let deadline_ms = event.received_at_ms.saturating_add(timeout_ms);
    let left_ms = deadline_ms.saturating_sub(decode::now_ms()).max(0);
    Duration::from_millis(left_ms.unsigned_abs())
}

/// Accepts `application/json` with any parameters, including the upstream's literal
/// `application/json; charset-utf-8` (wazzup-api.md §5).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests;
