//! The hardened HTTP server on real 127.0.0.1 sockets, with tokio's paused clock: slow and silent
//! clients are closed after the header-read timeout, the connection cap holds, and a drain does
//! not wait for idle connections. Every wait is for an event (an answer, a close); the clock only
//! moves when nothing else can happen.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use super::{HttpLimits, serve_http};
use crate::api::tls::{ReloadingTls, TlsListener};
use crate::config::TlsFiles;

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Longer than any wait a test expects to end, so a connection that is never closed fails the
/// test instead of hanging it (the paused clock gets there at once).
const PATIENCE: Duration = Duration::from_secs(60);

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: gateway\r\n\r\n";

/// A server under test.
struct Server {
    address: std::net::SocketAddr,
    draining_tx: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(router: Router, max_connections: usize) -> Self {
        Self::start_with_tls(router, max_connections, None).await
    }

    async fn start_with_tls(
        router: Router,
        max_connections: usize,
        tls: Option<Arc<ReloadingTls>>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (draining_tx, draining_rx) = watch::channel(false);
        let limits = HttpLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections,
        };
        let task = tokio::spawn(serve_http(listener, router, limits, tls, draining_rx));
        Self {
            address,
            draining_tx,
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.address).await.unwrap()
    }
}

/// Answers `GET /` with `ok`.
fn ok_router() -> Router {
    Router::new().route("/", get(|| async { "ok" }))
}

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&received).into_owned(),
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Reads one answer whose body is `ok`, leaving the connection open.
async fn one_ok_answer(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 1024];
    while !received.ends_with(b"\r\n\r\nok") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert_ne!(read, 0, "closed before the answer");
        received.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(start_paused = true)]
async fn silent_slow_and_idle_connections_are_closed_after_the_header_read_timeout() {
    let server = Server::start(ok_router(), 8).await;
    let started = Instant::now();
    let mut silent = server.connect().await;
    let mut slow = server.connect().await;
    slow.write_all(b"POST /webhooks/main/secret HTTP/1.1\r\nHost: gate")
        .await
        .unwrap();
    let mut idle = server.connect().await;
    idle.write_all(GET).await.unwrap();
    assert!(one_ok_answer(&mut idle).await.starts_with("HTTP/1.1 200"));

    for stream in [&mut silent, &mut slow, &mut idle] {
        timeout(PATIENCE, until_closed(stream))
            .await
            .expect("the server closes the connection");
    }

    let elapsed = started.elapsed();
    assert!(
        (HEADER_READ_TIMEOUT..HEADER_READ_TIMEOUT + Duration::from_secs(1)).contains(&elapsed),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn connections_over_the_cap_wait_unaccepted_until_one_closes() {
    let server = Server::start(ok_router(), 2).await;
    let started = Instant::now();
    let _first = server.connect().await;
    let _second = server.connect().await;
    let mut third = server.connect().await;
    third
        .write_all(b"GET / HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();

    let early = timeout(Duration::from_secs(5), until_closed(&mut third)).await;
    assert!(early.is_err(), "answered while the cap was reached");

    let answer = timeout(PATIENCE, until_closed(&mut third)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    assert!(
        started.elapsed() >= HEADER_READ_TIMEOUT,
        "served once the silent ones closed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_drain_closes_idle_connections_at_once_and_finishes_requests_in_progress() {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let router = ok_router().route(
        "/slow",
        get({
            let (entered, release) = (entered.clone(), release.clone());
            move || async move {
                entered.notify_one();
                release.notified().await;
                "ok"
            }
        }),
    );
    let server = Server::start(router, 8).await;
    let mut silent = server.connect().await;
    let mut partial = server.connect().await;
    partial.write_all(b"POST / HTTP/1.1\r\nHo").await.unwrap();
    let mut idle = server.connect().await;
    idle.write_all(GET).await.unwrap();
    one_ok_answer(&mut idle).await;
    let mut busy = server.connect().await;
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .unwrap();
    entered.notified().await;
    let started = Instant::now();

    server.draining_tx.send(true).unwrap();

    for stream in [&mut silent, &mut partial, &mut idle] {
        timeout(Duration::from_secs(1), until_closed(stream))
            .await
            .expect("closed at once by the drain");
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        TcpStream::connect(server.address).await.is_err(),
        "no longer accepting"
    );
    release.notify_one();
    let answer = timeout(PATIENCE, until_closed(&mut busy)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    timeout(Duration::from_secs(1), server.task)
        .await
        .expect("the server stops once the request in progress is answered")
        .unwrap();
}

/// A self-signed certificate for 127.0.0.1 written as PEM files into `directory`; returns the
/// files and the certificate (for the client to trust).
fn server_certificate(
    directory: &std::path::Path,
) -> (TlsFiles, rustls::pki_types::CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let certificate = params.self_signed(&key).unwrap();
    let files = TlsFiles {
        cert_file: directory.join("hooks.pem"),
        key_file: directory.join("hooks-key.pem"),
        client_ca_file: None,
    };
    std::fs::write(&files.cert_file, certificate.pem()).unwrap();
    std::fs::write(&files.key_file, key.serialize_pem()).unwrap();
    (files, certificate.der().clone())
}

/// Opens a TLS connection to `address` trusting only `certificate`, offering HTTP/1.1.
async fn connect_tls(
    address: std::net::SocketAddr,
    certificate: rustls::pki_types::CertificateDer<'static>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = TcpStream::connect(address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector
        .connect(name, stream)
        .await
        .expect("TLS handshake")
}

// Not on a paused clock: the handshake's own time bound must not fire while real sockets work.
#[tokio::test]
async fn with_a_certificate_the_listener_answers_https_and_nothing_in_plain_http() {
    let directory = tempfile::tempdir().unwrap();
    let (files, certificate) = server_certificate(directory.path());
    let tls = ReloadingTls::load(files, TlsListener::Webhooks).unwrap();
    let server = Server::start_with_tls(ok_router(), 8, Some(Arc::new(tls))).await;

    let mut secure = connect_tls(server.address, certificate).await;
    assert_eq!(secure.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    secure.write_all(GET).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 1024];
    while !received.ends_with(b"\r\n\r\nok") {
        let read = secure.read(&mut buffer).await.unwrap();
        assert_ne!(read, 0, "closed before the answer");
        received.extend_from_slice(&buffer[..read]);
    }
    assert!(received.starts_with(b"HTTP/1.1 200"));

    let mut plain = server.connect().await;
    plain.write_all(GET).await.unwrap();
    let answer = until_closed(&mut plain).await;
    assert!(!answer.contains("HTTP/1.1"), "{answer}");

    drop(secure);
    server.draining_tx.send(true).unwrap();
    server.task.await.unwrap();
}
