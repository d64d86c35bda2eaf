//! Limits per caller: each caller token gets a request rate (a token bucket) and a number of
//! server streams it may hold open at once, from `[limits]` or its own `[[auth.tokens]]` entry.
//! With authentication off every call counts against one shared caller, `anonymous`. Health and
//! reflection are never limited, so probes and tooling keep working for a busy caller.
//!
//! Over the rate a call is refused with `RESOURCE_EXHAUSTED` (`CALLER_RATE_LIMITED`) and a
//! `RetryInfo` saying when the bucket next has a token; over the streams with
//! `RESOURCE_EXHAUSTED` (`CALLER_STREAMS_EXHAUSTED`). The stream slot is the gate's permit, held
//! by the response body, so it is released when the stream ends or the client goes away.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use prost::Message as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::Caller;
use super::gate::CallGate;
use crate::config::{AuthConfig, CallerLimits, LimitsConfig};
use crate::error::ApiError;
use crate::proto::pb;
use crate::telemetry::Metrics;

/// The caller name of every call when authentication is off.
pub(crate) const ANONYMOUS_CALLER: &str = "anonymous";

/// The path prefix of the gateway's own services, the only ones limited.
const GATEWAY_PATH_PREFIX: &str = "/wazzup_gateway.";

/// The clock of the rate limiters: tokio's, so tests can pause and advance it.
#[derive(Clone, Copy, Debug, Default)]
struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// One caller's token bucket.
type CallerRate =
    RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>;

/// What one caller may still take.
#[derive(Debug)]
struct Budget {
    /// The caller's calls per second and its bucket; `None` without a rate limit.
    rate: Option<(NonZeroU32, CallerRate)>,
    /// The caller's stream slots and how many there are; `None` without a stream limit.
    streams: Option<(NonZeroU32, Arc<Semaphore>)>,
}

impl Budget {
    /// Creates the budget `limits` allow.
    fn new(limits: CallerLimits) -> Self {
        let rate = limits.requests_per_second.map(|per_second| {
            let burst = limits.request_burst.unwrap_or(per_second);
            let quota = Quota::per_second(per_second).allow_burst(burst);
            (
                per_second,
                RateLimiter::direct_with_clock(quota, TokioClock),
            )
        });
        let streams = limits
            .max_streams
            .map(|max| (max, Arc::new(Semaphore::new(max.get() as usize))));
        Self { rate, streams }
    }

    /// Takes one call from the bucket, and a stream slot when `streaming`.
    fn take(&self, caller: &str, streaming: bool) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        if let Some((per_second, bucket)) = &self.rate {
            bucket.check().map_err(|not_until| Refusal {
                limit: "rate",
                error: ApiError::CallerRateLimited {
                    caller: caller.to_owned(),
                    requests_per_second: per_second.get(),
                    retry_after: not_until.wait_time_from(TokioClock.now()),
                },
            })?;
        }
        match &self.streams {
            Some((max, slots)) if streaming => Arc::clone(slots)
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| Refusal {
                    limit: "streams",
                    error: ApiError::CallerStreamsExhausted {
                        caller: caller.to_owned(),
                        max_streams: max.get(),
                    },
                }),
            _ => Ok(None),
        }
    }
}

/// A refused call: which limit (the metric's label) and the caller's answer.
#[derive(Debug)]
struct Refusal {
    /// `rate` or `streams`.
    limit: &'static str,
    /// What the caller gets.
    error: ApiError,
}

/// Enforces the limits per caller (a [`CallGate`] placed after authentication).
#[derive(Clone, Debug)]
pub(crate) struct CallerLimitGate {
    /// The budget of each token by name, and of [`ANONYMOUS_CALLER`].
    budgets: Arc<HashMap<String, Budget>>,
    /// Paths of the server-streaming methods (`/package.Service/Method`).
    streaming_paths: Arc<HashSet<String>>,
    /// Counts refused calls.
    metrics: Arc<Metrics>,
}

impl CallerLimitGate {
    /// Builds the budgets of every configured token (and of the anonymous caller) from `limits`
    /// and each token's overrides.
    pub(crate) fn new(limits: &LimitsConfig, auth: &AuthConfig, metrics: Arc<Metrics>) -> Self {
        let mut budgets: HashMap<String, Budget> = auth
            .tokens
            .iter()
            .map(|token| {
                let limits = limits.callers.overridden_by(&token.limits);
                (token.name.clone(), Budget::new(limits))
            })
            .collect();
        budgets.insert(ANONYMOUS_CALLER.to_owned(), Budget::new(limits.callers));
        // The callers that can appear: every token, or the anonymous one without authentication.
        if auth.tokens.is_empty() {
            metrics.register_caller(ANONYMOUS_CALLER);
        }
        for token in &auth.tokens {
            metrics.register_caller(&token.name);
        }
        Self {
            budgets: Arc::new(budgets),
            streaming_paths: Arc::new(server_streaming_paths()),
            metrics,
        }
    }
}

impl CallGate for CallerLimitGate {
    type Permit = Option<OwnedSemaphorePermit>;

    /// Admits a call within its caller's limits; a stream call holds one of the caller's stream
    /// slots as its permit.
    fn admit(
        &self,
        path: &str,
        _headers: &http::HeaderMap,
        extensions: &mut http::Extensions,
    ) -> Result<Self::Permit, ApiError> {
        if !path.starts_with(GATEWAY_PATH_PREFIX) {
            return Ok(None);
        }
        let caller = extensions
            .get::<Caller>()
            .map_or(ANONYMOUS_CALLER, |caller| caller.name.as_str());
        let Some(budget) = self.budgets.get(caller) else {
            return Ok(None);
        };
        budget
            .take(caller, self.streaming_paths.contains(path))
            .map_err(|refusal| {
                self.metrics
                    .record_caller_limit_refusal(caller, refusal.limit);
                refusal.error
            })
    }
}

/// Returns the paths of every server-streaming method the gateway serves, read from its
/// descriptor set so a new streaming RPC is limited without being listed anywhere.
fn server_streaming_paths() -> HashSet<String> {
    let Ok(descriptors) = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET) else {
        debug_assert!(false, "the embedded descriptor set decodes");
        return HashSet::new();
    };
    let mut paths = HashSet::new();
    for file in &descriptors.file {
        for service in &file.service {
            for method in &service.method {
                if method.server_streaming() {
                    paths.insert(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
    }
    paths
}

#[cfg(test)]
mod tests;
