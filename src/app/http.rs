//! The HTTP/1.1 servers of the webhook and admin listeners, hardened for the internet (issue 14,
//! defect 1): a connection must send each request's headers within `header_read_timeout`
//! (counted from when it connects or its previous answer was written, so this is also how long
//! an idle keep-alive connection stays open); at most `max_connections` are served at once, and
//! the ones beyond wait in the listen backlog instead of taking file descriptors the gRPC and
//! admin listeners need; on drain, connections without a request in progress close at once and
//! the others after their answer.
//!
//! HTTP/1.1 only: the upstreams post webhooks with it, and an HTTP/2 connection could be held
//! open without ever sending a request. With a certificate configured the webhook listener serves
//! HTTPS only, with the gRPC listener's TLS machinery ([`ReloadingTls`]: files re-read on change,
//! handshakes bounded in time, each on its connection's own task so a stalled one holds nothing
//! else).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use futures::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::api::drain_gate::drain_started;
use crate::api::tls::{ReloadingTls, TlsError, TlsListener};
use crate::config::{Config, WebhookConfig};

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

/// Loads the webhook listener's TLS configuration, when one is configured.
///
/// # Errors
///
/// Fails when a file cannot be read or rustls refuses its contents.
pub(crate) fn webhook_tls(config: &Config) -> Result<Option<Arc<ReloadingTls>>, TlsError> {
    let Some(files) = config.webhook_tls.clone() else {
        return Ok(None);
    };
    Ok(Some(Arc::new(ReloadingTls::load(
        files,
        TlsListener::Webhooks,
    )?)))
}

/// Serves `router` on `listener` within `limits` (over TLS when `tls` is given) until `draining`
/// turns true, then stops accepting, closes the connections without a request in progress, and
/// waits for the others to get their answers.
pub(crate) async fn serve_http(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    tls: Option<Arc<ReloadingTls>>,
    draining: watch::Receiver<bool>,
) {
    if let Some(tls) = &tls {
        tokio::spawn(Arc::clone(tls).watch_files(draining.clone()));
    }
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
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(error = &error as &dyn std::error::Error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let (router, draining) = (router.clone(), draining.clone());
        let connection = match tls.clone() {
            None => Either::Left(serve_connection(stream, router, limits, draining)),
            Some(tls) => Either::Right(async move {
                // The handshake counts against the connection cap, and ends with the drain.
                let handshake = tokio::select! {
                    handshake = tls.handshake(stream, peer) => handshake,
                    () = drain_started(draining.clone()) => None,
                };
                if let Some(stream) = handshake {
                    serve_connection(stream, router, limits, draining).await;
                }
            }),
        };
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
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
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
