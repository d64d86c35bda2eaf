//! The caller's deadline: read from the `grpc-timeout` metadata and fixed the moment a call
//! arrives, so that time already spent (queueing, authentication, upstream calls) is never counted
//! twice and nothing the gateway does for a call outlives the caller's patience.

use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

/// The instant a call must be answered by: the earlier of the caller's `grpc-timeout` and the
/// server's handler timeout, counted from the call's arrival. Stamped on every request by
/// [`stamp`] and read back with [`of_request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallDeadline(pub Instant);

/// Stamps `request`, arriving now, with its [`CallDeadline`]: `grpc-timeout` from now, at most
/// `handler_timeout` from now.
pub(crate) fn stamp<B>(
    mut request: http::Request<B>,
    handler_timeout: Duration,
) -> http::Request<B> {
    let arrived = Instant::now();
    let allowed = grpc_timeout(request.headers())
        .map_or(handler_timeout, |timeout| timeout.min(handler_timeout));
    request
        .extensions_mut()
        .insert(CallDeadline(arrived + allowed));
    request
}

/// Returns the deadline stamped on `request` when it arrived; for a request that did not pass
/// through the server (an adapter called directly), the caller's `grpc-timeout` from now.
pub(crate) fn of_request<T>(request: &tonic::Request<T>) -> Option<Instant> {
    request
        .extensions()
        .get::<CallDeadline>()
        .map(|deadline| deadline.0)
        .or_else(|| remaining(request.metadata()).map(|timeout| Instant::now() + timeout))
}

/// Returns the time the caller allows for the call, from `grpc-timeout`, when it is set and valid.
fn remaining(metadata: &MetadataMap) -> Option<Duration> {
    parse_grpc_timeout(metadata.get("grpc-timeout")?.to_str().ok()?)
}

/// Returns the `grpc-timeout` header of an HTTP request, when it is set and valid.
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    parse_grpc_timeout(headers.get("grpc-timeout")?.to_str().ok()?)
}

/// Parses a `grpc-timeout` value: up to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    match unit {
        "H" => Some(Duration::from_secs(amount * 3600)),
        "M" => Some(Duration::from_secs(amount * 60)),
        "S" => Some(Duration::from_secs(amount)),
        "m" => Some(Duration::from_millis(amount)),
        "u" => Some(Duration::from_micros(amount)),
        "n" => Some(Duration::from_nanos(amount)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit_and_reject_garbage() {
        let table = [
            ("2H", Some(Duration::from_secs(7200))),
            ("3M", Some(Duration::from_secs(180))),
            ("10S", Some(Duration::from_secs(10))),
            ("250m", Some(Duration::from_millis(250))),
            ("7u", Some(Duration::from_micros(7))),
            ("9n", Some(Duration::from_nanos(9))),
            ("S", None),
            ("10", None),
            ("10x", None),
            ("123456789S", None),
            ("-5S", None),
        ];
        for (value, expected) in table {
            assert_eq!(parse_grpc_timeout(value), expected, "{value}");
        }
    }

    fn arriving(grpc_timeout: Option<&str>) -> http::Request<()> {
        let mut request = http::Request::new(());
        if let Some(value) = grpc_timeout {
            request
                .headers_mut()
                .insert("grpc-timeout", value.parse().unwrap());
        }
        request
    }

    fn stamped_deadline(request: http::Request<()>, handler_timeout: Duration) -> Instant {
        stamp(request, handler_timeout)
            .extensions()
            .get::<CallDeadline>()
            .expect("stamped")
            .0
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_counts_from_arrival_and_the_handler_timeout_caps_it() {
        let arrival = Instant::now();
        let table = [
            (
                Some("800m"),
                Duration::from_secs(60),
                Duration::from_millis(800),
            ),
            (Some("2M"), Duration::from_secs(60), Duration::from_secs(60)),
            (None, Duration::from_secs(60), Duration::from_secs(60)),
            (
                Some("garbage"),
                Duration::from_secs(5),
                Duration::from_secs(5),
            ),
        ];
        for (header, handler_timeout, allowed) in table {
            let deadline = stamped_deadline(arriving(header), handler_timeout);
            assert_eq!(deadline, arrival + allowed, "{header:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn time_spent_after_arrival_is_not_given_back() {
        let request =
            tonic::Request::from_http(stamp(arriving(Some("800m")), Duration::from_secs(60)));
        let arrival = Instant::now();

        tokio::time::sleep(Duration::from_millis(300)).await;

        assert_eq!(
            of_request(&request),
            Some(arrival + Duration::from_millis(800))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unstamped_request_counts_its_grpc_timeout_from_now() {
        let mut request = tonic::Request::new(());
        request.set_timeout(Duration::from_millis(250));
        assert_eq!(
            of_request(&request),
            Some(Instant::now() + Duration::from_millis(250))
        );
        assert_eq!(of_request(&tonic::Request::new(())), None);
    }
}
