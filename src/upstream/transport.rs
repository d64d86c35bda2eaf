//! The one place that speaks HTTP to an upstream (the only reqwest code in the gateway): one
//! client per account with its base URL, `Authorization: Bearer <key>` (marked sensitive),
//! connect and request timeouts capped by the caller's deadline, the account's rate budget (a
//! [`RateBudget`] from the [`RateBudgets`] the application picks: this process's own, or shared
//! by the replicas through NATS) and a bound on in-flight requests shared by every caller of the
//! account, a span per attempt, and the retry loop that [`RetryPolicy`] drives.
//!
//! Spans and logs carry the method, the route template, the status and the attempt number; never
//! the key, the query values or a body.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, DATE, HeaderValue, RETRY_AFTER};
use secrecy::ExposeSecret as _;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::config::{AccountConfig, UpstreamLimits};
use crate::telemetry::metrics::{
    AttemptObservation, STATUS_TIMEOUT, STATUS_UNREACHABLE, UpstreamMetrics,
};
use crate::telemetry::trace_context;

mod address;
mod budget;
mod download;
mod pacing;
mod request;
mod retry_after;

pub(crate) use budget::{JetStreamBudgets, LocalBudgets, RateBudget, RateBudgets};
pub(crate) use download::{Downloads, describe as describe_download_error};
pub(crate) use request::{Answer, Credentials, TransportError, UpstreamRequest};

use super::CallContext;
use super::dialect::DialectSpec;
use super::error::redact::Redactor;
use super::error::{Rejection, UPSTREAM_RATE_LIMITED, UpstreamError, upstream_domain};
use super::registry;
use super::retry::{Progress, RetryPolicy, Step};

/// Largest success body read, in bytes.
const MAX_SUCCESS_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest error body read, in bytes (only its code and short fields are kept).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// What every account's transport is built with: where it records its attempts and rate
/// limiter waits, and where its rate budget is kept.
#[derive(Clone, Debug)]
pub struct TransportShared {
    /// Where attempts, waits and fallbacks are counted.
    pub metrics: UpstreamMetrics,
    /// Each account's rate budget: this process's own, or shared by the replicas.
    pub budgets: Arc<dyn RateBudgets>,
}

impl TransportShared {
    /// Records into `metrics`; each account's budget is this process's own.
    pub fn local(metrics: UpstreamMetrics) -> Self {
        Self {
            metrics,
            budgets: Arc::new(LocalBudgets),
        }
    }
}

/// The HTTP stack of one account.
#[derive(Debug)]
pub(crate) struct Transport {
    /// The account's name, for spans and error metadata.
    account: String,
    /// The pooled HTTP client.
    client: reqwest::Client,
    /// The base URL, e.g. `https://api.wazzup24.com`.
    base_url: Url,
    /// `Bearer <key>`, marked sensitive so no debug output shows it.
    authorization: HeaderValue,
    /// Client-side pacing to the upstream's documented rate.
    budget: Arc<dyn RateBudget>,
    /// Bound on upstream requests in flight; the rest wait in the gateway.
    in_flight: Semaphore,
    /// Upper bound for one attempt.
    request_timeout: Duration,
    /// When failed attempts are tried again.
    policy: RetryPolicy,
    /// The ErrorInfo domain of the upstream's own error codes.
    domain: &'static str,
    /// The account's dialect, which reads its own error bodies.
    spec: &'static dyn DialectSpec,
    /// Set by a 401 answer, cleared by any success: the upstream refuses the account's key.
    credentials_rejected: AtomicBool,
    /// The account's secrets, cut out of upstream error texts.
    redactor: Redactor,
    /// Where attempts and rate limiter waits are counted.
    metrics: UpstreamMetrics,
}

impl Transport {
    /// Builds the HTTP stack of `account`, recording its attempts and rate limiter waits into
    /// `shared`'s metrics and taking its rate budget from `shared`'s budgets.
    ///
    /// # Errors
    ///
    /// Fails when the account has no usable key or base URL, or TLS cannot be set up.
    pub(crate) fn new(
        account: &AccountConfig,
        policy: RetryPolicy,
        shared: &TransportShared,
    ) -> Result<Self, TransportError> {
        let name = account.name.clone();
        let key = account
            .api_key
            .as_ref()
            .ok_or_else(|| TransportError::MissingApiKey {
                account: name.clone(),
            })?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
            .map_err(|_| TransportError::InvalidApiKey {
            account: name.clone(),
        })?;
        authorization.set_sensitive(true);
        let base_url = Url::parse(&account.base_url)
            .ok()
            .filter(|url| !url.cannot_be_a_base())
            .ok_or_else(|| TransportError::InvalidBaseUrl {
                account: name.clone(),
            })?;
        let client = build_client(&account.limits).map_err(|source| TransportError::Client {
            account: name.clone(),
            source,
        })?;
        let metrics = shared.metrics.clone();
        let budget = shared.budgets.budget(&name, &account.limits, &metrics);
        metrics.include_account(&name);
        Ok(Self {
            budget,
            in_flight: Semaphore::new(account.limits.max_concurrency.max(1)),
            request_timeout: account.limits.request_timeout,
            account: name,
            client,
            base_url,
            authorization,
            policy,
            domain: upstream_domain(account.dialect),
            spec: registry::spec(account.dialect),
            credentials_rejected: AtomicBool::new(false),
            redactor: Redactor::for_account(account),
            metrics,
        })
    }

    /// Tells whether the upstream's latest answer was a 401 (no success since): the account's
    /// key or token is refused, which only an operator can mend.
    pub(crate) fn credentials_rejected(&self) -> bool {
        self.credentials_rejected.load(Ordering::Relaxed)
    }

    /// Remembers whether the upstream accepted the credentials of the latest answer, and tells
    /// operators once when that changes to refused.
    fn note_credentials(&self, status: u16) {
        let rejected = status == 401;
        let decisive = rejected || (200..300).contains(&status);
        // Read first: the flag rarely changes, and a write on every answer would bounce its cache
        // line between the workers.
        if !decisive || self.credentials_rejected.load(Ordering::Relaxed) == rejected {
            return;
        }
        let was_rejected = self.credentials_rejected.swap(rejected, Ordering::Relaxed);
        if rejected && !was_rejected {
            tracing::error!(
                account = %self.account,
                "the upstream refuses this account's credentials (HTTP 401); check its API key or token"
            );
        }
    }

    /// Sends `request`, retrying as the policy allows, and returns the success answer.
    ///
    /// # Errors
    ///
    /// Fails with the last attempt's failure: a [`UpstreamError::Rejected`] answer, a timeout, an
    /// unreachable upstream, a rate limit, or [`UpstreamError::AlreadySent`] when a retried send
    /// was refused as already sent; with [`UpstreamError::InvalidRequest`], before anything is
    /// sent, when a path segment is not exactly one (`address::request_url`).
    pub(crate) async fn call(
        &self,
        request: &UpstreamRequest,
        call: CallContext,
    ) -> Result<Answer, UpstreamError> {
        let started = Instant::now();
        let url = address::request_url(&self.base_url, request)?;
        let deadline_opt = call.deadline;
        let mut attempts_made = 0;
        loop {
            let outcome = self
                .attempt(request, &url, attempts_made + 1, deadline_opt)
                .await;
            attempts_made += 1;
            let failure = match outcome {
                Ok(answer) => return Ok(answer),
                Err(failure) => self.after_attempt(failure, request, attempts_made),
            };
            let progress = Progress {
                attempts_made,
                elapsed: started.elapsed(),
                remaining: deadline_opt
                    .map(|deadline| deadline.saturating_duration_since(Instant::now())),
            };
            let jitter_unit: f64 = rand::random();
            let step = self
                .policy
                .next_step(request.idempotency, progress, &failure, jitter_unit);
            let Step::RetryAfter(delay) = step else {
                return Err(failure);
            };
            tracing::info!(
                account = %self.account,
                operation = request.operation,
                attempt = attempts_made,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = failure.reason(),
                "retrying upstream request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Makes one attempt within the caller's deadline and the request timeout.
    async fn attempt(
        &self,
        request: &UpstreamRequest,
        url: &Url,
        attempt: u32,
        deadline_opt: Option<Instant>,
    ) -> Result<Answer, UpstreamError> {
        let mut attempt_deadline = Instant::now() + self.request_timeout;
        if let Some(deadline) = deadline_opt {
            attempt_deadline = attempt_deadline.min(deadline);
        }
        let timeout = attempt_deadline.saturating_duration_since(Instant::now());
        let _permit = tokio::time::timeout_at(attempt_deadline, self.in_flight.acquire())
            .await
            .map_err(|_| UpstreamError::Timeout { timeout })?
            .map_err(|_| UpstreamError::Timeout { timeout })?;
        self.wait_for_rate(attempt_deadline).await?;
        let span = tracing::info_span!(
            "upstream.request",
            otel.name = format!("{} {}", request.method, request.route),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = %request.method,
            url.template = request.route,
            server.address = self.base_url.host_str().unwrap_or_default(),
            upstream.operation = request.operation,
            account = %self.account,
            // Signed: OpenTelemetry attributes carry integers as i64.
            attempt = i64::from(attempt),
            http.request.resend_count = i64::from(attempt.saturating_sub(1)),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let mut observation = self.metrics.start_attempt(
            &self.account,
            request.method.as_str(),
            request.route,
            attempt,
        );
        let outcome = self
            .send(request, url, attempt_deadline, &mut observation)
            .instrument(span)
            .await;
        match &outcome {
            Err(UpstreamError::Timeout { .. }) => observation.failed(STATUS_TIMEOUT),
            Err(UpstreamError::Unreachable { .. }) => observation.failed(STATUS_UNREACHABLE),
            Ok(_) | Err(_) => {}
        }
        outcome
    }

    /// Sends the request to `url` once and reads the answer before `deadline`, telling
    /// `observation` the status the upstream answered.
    async fn send(
        &self,
        request: &UpstreamRequest,
        url: &Url,
        deadline: Instant,
        observation: &mut AttemptObservation,
    ) -> Result<Answer, UpstreamError> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        if timeout.is_zero() {
            return Err(UpstreamError::Timeout { timeout });
        }
        let mut builder = self
            .client
            .request(request.method.clone(), url.clone())
            .timeout(timeout);
        builder = match &request.credentials {
            Credentials::AccountKey => builder.header(AUTHORIZATION, self.authorization.clone()),
            Credentials::Header(value) => builder.header(AUTHORIZATION, value.clone()),
            Credentials::Basic { user, password } => {
                builder.basic_auth(user, Some(password.expose_secret()))
            }
        };
        if let Some(body) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let mut trace_headers = http::HeaderMap::new();
        trace_context::inject_into(&mut trace_headers, &tracing::Span::current());
        let built = builder
            .headers(trace_headers)
            .build()
            .map_err(|error| failed(error, timeout))?;
        let sent_authorization = built.headers().get(AUTHORIZATION).cloned();
        let mut response = self.client.execute(built).await.map_err(|error| {
            tracing::Span::current()
                .record("otel.status_code", "ERROR")
                .record(
                    "error.type",
                    if error.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    },
                );
            failed(error, timeout)
        })?;
        let status = response.status().as_u16();
        observation.answered(status);
        let span = tracing::Span::current();
        span.record("http.response.status_code", i64::from(status));
        if response.status().is_server_error() {
            span.record("otel.status_code", "ERROR")
                .record("error.type", tracing::field::display(status));
        }
        self.note_credentials(status);
        let retry_after_opt = retry_after::retry_after(
            response.headers().get(RETRY_AFTER),
            response.headers().get(DATE),
            SystemTime::now(),
        );
        let body = read_body(&mut response, timeout).await?;
        if response.status().is_success() {
            return Ok(Answer {
                status,
                body,
                operation: request.operation,
            });
        }
        let redactor = self.request_redactor(request, sent_authorization.as_ref());
        Err(self.rejection(status, &body, retry_after_opt, &redactor))
    }

    /// Returns the redactor of one request: the account's secrets, the `Authorization` value it
    /// was sent with (whole and without its scheme), its Basic password and its body's secrets.
    fn request_redactor(
        &self,
        request: &UpstreamRequest,
        sent_authorization: Option<&HeaderValue>,
    ) -> Redactor {
        let mut secrets: Vec<String> = request
            .body_secrets
            .iter()
            .map(|secret| secret.expose_secret().to_owned())
            .collect();
        if let Credentials::Basic { password, .. } = &request.credentials {
            secrets.push(password.expose_secret().to_owned());
        }
        if let Some(value) = sent_authorization.and_then(|value| value.to_str().ok()) {
            secrets.push(value.to_owned());
            if let Some((_, credential)) = value.split_once(' ') {
                secrets.push(credential.trim().to_owned());
            }
        }
        self.redactor.with(secrets)
    }

    /// Classifies an error answer with `redactor`'s secrets cut out of it, adding the account and
    /// the rate-limit fallback.
    fn rejection(
        &self,
        status: u16,
        body: &[u8],
        retry_after_opt: Option<Duration>,
        redactor: &Redactor,
    ) -> UpstreamError {
        let retry_after_opt =
            retry_after_opt.or((status == 429).then_some(self.policy.rate_limit_fallback()));
        let mut rejection = Rejection::from_answer(
            status,
            &self.spec.error_body(body).redacted(redactor),
            retry_after_opt,
            self.domain,
        );
        rejection
            .metadata
            .push(("account".to_owned(), self.account.clone()));
        if rejection.code == UPSTREAM_RATE_LIMITED
            && let Some(delay) = rejection.retry_after
        {
            rejection
                .metadata
                .push(("retryAfterMs".to_owned(), delay.as_millis().to_string()));
        }
        UpstreamError::Rejected(Box::new(rejection))
    }

    /// Turns a retried send refused as repeated into [`UpstreamError::AlreadySent`].
    fn after_attempt(
        &self,
        failure: UpstreamError,
        request: &UpstreamRequest,
        attempts_made: u32,
    ) -> UpstreamError {
        let repeated = matches!(&failure, UpstreamError::Rejected(rejection) if rejection.code == "REPEATED_CRM_MESSAGE_ID");
        match (&request.crm_message_id, repeated && attempts_made > 1) {
            (Some(crm_message_id), true) => UpstreamError::AlreadySent {
                crm_message_id: crm_message_id.clone(),
                upstream_request_id: failure
                    .metadata()
                    .into_iter()
                    .find(|(key, _)| key == "upstreamRequestId")
                    .map(|(_, value)| value),
            },
            _ => failure,
        }
    }

    /// Waits until the account's rate limit allows one more request, unless that would pass
    /// `deadline`.
    /// Counts the requests that waited, the time they waited, and the requests refused.
    async fn wait_for_rate(&self, deadline: Instant) -> Result<(), UpstreamError> {
        let started = Instant::now();
        let mut waited = false;
        loop {
            let Err(wait) = self.budget.take().await else {
                if waited {
                    self.metrics
                        .record_limiter_wait(&self.account, started.elapsed());
                }
                return Ok(());
            };
            if Instant::now() + wait >= deadline {
                self.metrics.record_limiter_refusal(&self.account);
                return Err(UpstreamError::RateLimitedLocally { retry_after: wait });
            }
            waited = true;
            tokio::time::sleep(wait).await;
        }
    }
}

/// Reads the answer's body, keeping at most 4 MiB of a success and 64 KiB of an error.
async fn read_body(
    response: &mut reqwest::Response,
    timeout: Duration,
) -> Result<Vec<u8>, UpstreamError> {
    let limit = if response.status().is_success() {
        MAX_SUCCESS_BODY_BYTES
    } else {
        MAX_ERROR_BODY_BYTES
    };
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| failed(error, timeout))?
    {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(body)
}

/// Builds the pooled client: connect timeout, keep-alive pool sized to the concurrency bound.
fn build_client(limits: &UpstreamLimits) -> Result<reqwest::Client, reqwest::Error> {
    // rustls needs a process-wide crypto provider; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(limits.connect_timeout)
        .pool_max_idle_per_host(limits.max_concurrency)
        .user_agent(concat!("wazzup-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Maps an HTTP client failure: timeouts, connect failures, and broken connections.
fn failed(error: reqwest::Error, timeout: Duration) -> UpstreamError {
    if error.is_timeout() {
        return UpstreamError::Timeout { timeout };
    }
    UpstreamError::Unreachable {
        connect: error.is_connect(),
        source: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transport of an account allowing one request per 10 s, built with `shared`.
    fn transport_with(shared: &TransportShared) -> Transport {
        let toml = "[[accounts]]\nname = \"main\"\nbase_url = \"http://127.0.0.1:9\"\n\
                    [accounts.limits]\nrequests_per_window = 1\nrate_window = \"10s\"\n";
        let env = std::collections::HashMap::from([(
            "WGW_ACCOUNT_MAIN_API_KEY".to_owned(),
            "k".to_owned(),
        )]);
        let config = crate::config::Config::from_toml_str(toml, &env).expect("valid");
        Transport::new(&config.accounts[0], RetryPolicy::for_test(), shared).expect("builds")
    }

    /// The transport of an account allowing one request per 10 s, recording into `metrics`.
    fn paced_transport(metrics: UpstreamMetrics) -> Transport {
        transport_with(&TransportShared::local(metrics))
    }

    /// Budgets that are always spent for another `wait`, naming the accounts asked for.
    #[derive(Debug, Default)]
    struct SpentBudgets {
        /// The accounts whose budget was built, with their requests per window.
        built: parking_lot::Mutex<Vec<(String, u32)>>,
    }

    /// A budget that is always spent for another minute.
    #[derive(Debug)]
    struct SpentBudget;

    #[async_trait::async_trait]
    impl RateBudget for SpentBudget {
        async fn take(&self) -> Result<(), Duration> {
            Err(Duration::from_secs(60))
        }
    }

    impl RateBudgets for SpentBudgets {
        fn budget(
            &self,
            account: &str,
            limits: &UpstreamLimits,
            _metrics: &UpstreamMetrics,
        ) -> Arc<dyn RateBudget> {
            self.built
                .lock()
                .push((account.to_owned(), limits.requests_per_window));
            Arc::new(SpentBudget)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_transport_paces_with_the_budget_it_is_given() {
        let budgets = Arc::new(SpentBudgets::default());
        let shared = TransportShared {
            metrics: UpstreamMetrics::default(),
            budgets: budgets.clone(),
        };
        let transport = transport_with(&shared);

        let refused = transport
            .wait_for_rate(Instant::now() + Duration::from_secs(30))
            .await;

        assert_eq!(*budgets.built.lock(), [("main".to_owned(), 1)]);
        assert!(matches!(
            refused,
            Err(UpstreamError::RateLimitedLocally { retry_after }) if retry_after == Duration::from_secs(60)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_waits_and_refusals_are_counted() {
        let metrics = UpstreamMetrics::default();
        let transport = paced_transport(metrics.clone());
        let far = Instant::now() + Duration::from_secs(60);

        transport.wait_for_rate(far).await.expect("the burst");
        let started = Instant::now();
        transport.wait_for_rate(far).await.expect("after a wait");
        let waited = started.elapsed();
        let near = Instant::now() + Duration::from_secs(1);
        let refused = transport.wait_for_rate(near).await;

        assert_eq!(waited, Duration::from_secs(10));
        assert!(matches!(
            refused,
            Err(UpstreamError::RateLimitedLocally { retry_after }) if retry_after == Duration::from_secs(10)
        ));
        let text = metrics.render();
        for line in [
            "upstream_rate_limiter_waits_total{account=\"main\"} 1",
            "upstream_rate_limiter_wait_seconds_total{account=\"main\"} 10.0",
            "upstream_rate_limiter_refusals_total{account=\"main\"} 1",
        ] {
            assert!(
                text.lines().any(|rendered| rendered == line),
                "{line}\n{text}"
            );
        }
    }
}
