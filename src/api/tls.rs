//! TLS, and optionally mutual TLS, on the gRPC listener, and TLS on the webhook listener (served
//! by `app`, which uses the same configuration, reload and handshake bound), with certificates
//! re-read from disk when they change (a renewed certificate, a rotated CA) without a restart.
//!
//! Handshakes run on their own tasks, bounded in time, so a client that opens a connection and
//! never finishes its handshake holds neither the accept loop nor other clients. A connection whose
//! handshake fails is closed and logged at debug level; it never stops the server.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

use crate::config::TlsFiles;

use super::coalesced_writes::CoalescedWrites;

/// Longest a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the certificate files are checked for changes.
pub(crate) const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Connections whose handshake finished, waiting for the server to take them.
const ACCEPTED_BACKLOG: usize = 64;

/// A connection of the gRPC listener once TLS is established.
pub(crate) type TlsConnection = TlsStream<CoalescedWrites<TcpStream>>;

/// Why the TLS configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// rustls refused the certificates or the key (e.g. a key that does not match).
    #[error("the TLS certificates cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA bundle cannot verify client certificates.
    #[error("the client CA bundle cannot be used: {0}")]
    ClientCa(#[from] rustls::server::VerifierBuilderError),
}

/// The listener a TLS configuration serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsListener {
    /// gRPC: HTTP/2 only.
    Grpc,
    /// Webhooks: HTTP/1.1 only, like the listener behind it.
    Webhooks,
}

impl TlsListener {
    /// The ALPN protocols offered.
    fn alpn(self) -> Vec<Vec<u8>> {
        match self {
            Self::Grpc => vec![b"h2".to_vec()],
            Self::Webhooks => vec![b"http/1.1".to_vec()],
        }
    }

    /// The listener's name in logs.
    fn name(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Webhooks => "webhooks",
        }
    }
}

/// The TLS server configuration, rebuilt when its files change.
#[derive(Debug)]
pub(crate) struct ReloadingTls {
    /// The listener served, for its protocols and logs.
    listener: TlsListener,
    /// Where the certificate, key and client CA come from.
    files: TlsFiles,
    /// The configuration new handshakes use.
    current: RwLock<Arc<ServerConfig>>,
    /// When the files were last seen changed, to notice the next change.
    seen: RwLock<Vec<Option<SystemTime>>>,
}

impl ReloadingTls {
    /// Loads the configuration of `listener` from `files`.
    ///
    /// # Errors
    ///
    /// Fails when a file cannot be read or rustls refuses its contents.
    pub(crate) fn load(files: TlsFiles, listener: TlsListener) -> Result<Self, TlsError> {
        let seen = modification_times(&files);
        let current = server_config(&files, listener)?;
        Ok(Self {
            listener,
            files,
            current: RwLock::new(Arc::new(current)),
            seen: RwLock::new(seen),
        })
    }

    /// Re-reads the files when one of them changed since the last look. A configuration that
    /// cannot be loaded is logged and the previous one kept.
    pub(crate) fn reload_if_changed(&self) {
        let now_seen = modification_times(&self.files);
        if *self.seen.read() == now_seen {
            return;
        }
        let listener = self.listener.name();
        match server_config(&self.files, self.listener) {
            Ok(config) => {
                *self.current.write() = Arc::new(config);
                *self.seen.write() = now_seen;
                tracing::info!(listener, "TLS certificates reloaded");
            }
            Err(error) => tracing::warn!(
                listener,
                error = &error as &dyn std::error::Error,
                "TLS certificates changed but cannot be used; still serving the previous ones"
            ),
        }
    }

    /// Accepts connections on `listener` and completes their handshakes until `draining` turns
    /// true; the stream ends then. Also checks the files for changes while it runs.
    pub(crate) fn incoming(
        self: Arc<Self>,
        listener: TcpListener,
        draining: watch::Receiver<bool>,
    ) -> ReceiverStream<io::Result<TlsConnection>> {
        let (accepted_tx, accepted_rx) = mpsc::channel(ACCEPTED_BACKLOG);
        tokio::spawn(self.clone().watch_files(draining.clone()));
        tokio::spawn(accept_loop(self, listener, accepted_tx, draining));
        ReceiverStream::new(accepted_rx)
    }

    /// Completes the server side of a handshake on `stream` from `peer` within the handshake
    /// bound; `None` (logged at debug level) when it fails or takes too long.
    pub(crate) async fn handshake<S>(&self, stream: S, peer: SocketAddr) -> Option<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let listener = self.listener.name();
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor().accept(stream)).await {
            Ok(Ok(connection)) => Some(connection),
            Ok(Err(error)) => {
                tracing::debug!(listener, %peer, "TLS handshake failed: {error}");
                None
            }
            Err(_) => {
                tracing::debug!(listener, %peer, "TLS handshake timed out");
                None
            }
        }
    }

    /// Checks the files every [`RELOAD_CHECK_INTERVAL`] until draining starts.
    pub(crate) async fn watch_files(self: Arc<Self>, mut draining: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(RELOAD_CHECK_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.reload_if_changed(),
                _ = draining.wait_for(|draining| *draining) => return,
            }
        }
    }

    /// The acceptor for the next handshake.
    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.read().clone())
    }
}

/// Takes connections until draining starts, each handshake on its own task.
async fn accept_loop(
    tls: Arc<ReloadingTls>,
    listener: TcpListener,
    accepted_tx: mpsc::Sender<io::Result<TlsConnection>>,
    mut draining: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = draining.wait_for(|draining| *draining) => return,
            () = accepted_tx.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a moment instead of spinning.
                tracing::warn!("gRPC listener cannot accept: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let tls = Arc::clone(&tls);
        let accepted_tx = accepted_tx.clone();
        tokio::spawn(async move {
            if let Some(connection) = tls.handshake(CoalescedWrites::new(stream), peer).await {
                let _ = accepted_tx.send(Ok(connection)).await;
            }
        });
    }
}

/// Builds the rustls configuration of `listener` from the files: its protocol only, client
/// certificates required when a client CA is configured.
fn server_config(files: &TlsFiles, listener: TlsListener) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certificates = read_certificates(&files.cert_file, "a PEM certificate chain")?;
    let key = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|error| TlsError::Pem {
        what: "a PEM private key",
        path: files.key_file.clone(),
        reason: error.to_string(),
    })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match &files.client_ca_file {
        Some(client_ca_file) => {
            let mut roots = RootCertStore::empty();
            for certificate in read_certificates(client_ca_file, "PEM CA certificates")? {
                roots.add(certificate)?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certificates, key)?;
    config.alpn_protocols = listener.alpn();
    Ok(config)
}

/// Reads every certificate of a PEM file; at least one.
fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |reason: String| TlsError::Pem {
        what,
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| pem_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(pem_error("no CERTIFICATE block".to_owned()));
    }
    Ok(certificates)
}

/// The modification times of the configured files; a file that cannot be read counts as `None`.
fn modification_times(files: &TlsFiles) -> Vec<Option<SystemTime>> {
    [
        Some(&files.cert_file),
        Some(&files.key_file),
        files.client_ca_file.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        std::fs::metadata(path)
            .and_then(|metadata| metadata.modified())
            .ok()
    })
    .collect()
}
