//! The HTTP/1.1 servers of the webhook and admin listeners, hardened for the internet (issue 14,
//! defect 1): a connection must send each request's headers within `header_read_timeout`
//! (counted from when it connects or its previous answer was written, so this is also how long
//! an idle keep-alive connection stays open); at most `max_connections` are served at once, and
//! the ones beyond wait in the listen backlog instead of taking file descriptors the gRPC and
//! admin listeners need; on drain, connections without a request in progress close at once and
//! the others after their answer.
//!
//! HTTP/1.1 only: the upstreams post webhooks with it, and an HTTP/2 connection could be held
//! open without ever sending a request.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::api::drain_gate::drain_started;
use crate::config::WebhookConfig;

/// How long accepting pauses after an error such as "too many open files", so a full descriptor
/// table is not retried in a busy loop.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What one HTTP listener allows its clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HttpLimits {
    /// Time a connection has to send a request's headers, from when it connects or its previous
    /// answer was written; the connection is closed after it.
    pub(crate) header_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub(crate) max_connections: usize,
}

impl From<&WebhookConfig> for HttpLimits {
    fn from(webhooks: &WebhookConfig) -> Self {
        Self {
            header_read_timeout: webhooks.header_read_timeout,
            max_connections: webhooks.max_connections,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `draining` turns true, then stops
/// accepting, closes the connections without a request in progress, and waits for the others
/// to get their answers.
pub(crate) async fn serve_http(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    draining: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let stop = drain_started(draining.clone());
    tokio::pin!(stop);
    loop {
        // The permit comes first: over the cap, connections stay in the backlog, unaccepted.
        let permit = tokio::select! {
            () = &mut stop => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(error = &error as &dyn std::error::Error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let connection = serve_connection(stream, router.clone(), limits, draining.clone());
        connections.spawn(hold_while(permit, connection));
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Runs `work`, holding `permit` until it ends.
async fn hold_while(permit: OwnedSemaphorePermit, work: impl Future<Output = ()>) {
    work.await;
    drop(permit);
}

/// Serves one connection until the client closes it, a limit closes it, or the drain does.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: HttpLimits,
    draining: watch::Receiver<bool>,
) {
    let in_progress = Arc::new(AtomicUsize::new(0));
    let service = {
        let in_progress = Arc::clone(&in_progress);
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let router = router.clone();
            let guard = InProgress::enter(&in_progress);
            async move {
                let response: Result<Response, Infallible> = router.oneshot(request).await;
                drop(guard);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        // Errors are the client's (a reset, a timeout, a malformed request): nothing to report.
        _ = connection.as_mut() => return,
        () = drain_started(draining) => {}
    }
    if in_progress.load(Ordering::Acquire) == 0 {
        // Idle, or still sending headers: dropping the connection closes it.
        return;
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Counts a request as in progress on its connection while it lives.
struct InProgress(Arc<AtomicUsize>);

impl InProgress {
    /// Counts one more request on `counter`.
    fn enter(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(counter))
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
