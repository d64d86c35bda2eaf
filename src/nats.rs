//! The connection to NATS JetStream that the nats backend's stores share: connect options built
//! from [`NatsConfig`] (servers, one authentication method, TLS), and whether the connection is
//! up, for readiness.
//!
//! The client reconnects on its own, without limit, after the first connection; while it is
//! disconnected JetStream calls fail, the stores report their errors as unavailable, and the
//! connection's [`WriteHealth`] (named [`HEALTH_NAME`]) makes `/readyz` answer 503 naming NATS.

#[cfg(test)]
pub(crate) mod test_server;

use std::time::Duration;

use async_nats::jetstream;
use secrecy::ExposeSecret;

use crate::config::{NatsAuth, NatsConfig};
use crate::storage::WriteHealth;

/// How readiness names the connection.
pub(crate) const HEALTH_NAME: &str = "NATS JetStream";

/// Upper bound for one JetStream API call or publish acknowledgement.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound for the first connection to a server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A JetStream context over one client connection.
#[derive(Clone, Debug)]
pub(crate) struct NatsConnection {
    /// The core client: connection state, and what the context is built on.
    client: async_nats::Client,
    /// JetStream API calls and publishes.
    jetstream: jetstream::Context,
    /// Writable while connected.
    health: WriteHealth,
}

/// The client lost its connection and is reconnecting.
#[derive(Debug, thiserror::Error)]
#[error("disconnected from the NATS servers, reconnecting")]
struct Disconnected;

/// The connection to NATS could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NatsConnectError {
    /// The `.creds` content is not a JWT and an NKey seed.
    #[error("nats.credentials_file does not hold a JWT and an NKey seed")]
    Credentials(#[source] std::io::Error),
    /// No server of `nats.url` accepted the connection.
    #[error("cannot connect to the NATS servers {servers}")]
    Connect {
        /// The configured servers.
        servers: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
}

impl NatsConnection {
    /// Connects to the servers of `config`.
    ///
    /// # Errors
    ///
    /// Fails when the credentials cannot be parsed or no server accepts the connection.
    pub(crate) async fn connect(config: &NatsConfig) -> Result<Self, NatsConnectError> {
        let health = WriteHealth::new(HEALTH_NAME);
        let follower = health.clone();
        let options = connect_options(config)?.event_callback(move |event| {
            match event {
                async_nats::Event::Connected => follower.set_writable(),
                async_nats::Event::Disconnected | async_nats::Event::Closed => {
                    follower.set_failing(&Disconnected);
                }
                _ => {}
            }
            async {}
        });
        // Each URL on its own: the client takes a string as one URL, so a comma-joined list
        // would not parse; given the list, it connects to any server of it and fails over.
        let client = options
            .connect(config.servers.as_slice())
            .await
            .map_err(|source| NatsConnectError::Connect {
                servers: config.servers.join(","),
                source,
            })?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .build(client.clone());
        Ok(Self {
            client,
            jetstream,
            health,
        })
    }

    /// Returns the connection's health: failing while disconnected.
    pub(crate) fn health(&self) -> WriteHealth {
        self.health.clone()
    }

    /// Returns the core client.
    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Returns the JetStream context.
    pub(crate) fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }
}

/// Builds the client options: a name, timeouts, the authentication method and TLS.
fn connect_options(config: &NatsConfig) -> Result<async_nats::ConnectOptions, NatsConnectError> {
    let mut options = async_nats::ConnectOptions::new()
        .name("wazzup-gateway")
        .connection_timeout(CONNECT_TIMEOUT)
        .request_timeout(Some(REQUEST_TIMEOUT));
    options = match &config.auth {
        NatsAuth::None => options,
        NatsAuth::UserPassword { user, password } => {
            options.user_and_password(user.clone(), password.expose_secret().to_owned())
        }
        NatsAuth::Token(token) => options.token(token.expose_secret().to_owned()),
        NatsAuth::Credentials(content) => options
            .credentials(content.expose_secret())
            .map_err(NatsConnectError::Credentials)?,
    };
    if let Some(ca_file) = &config.tls_ca_file {
        options = options
            .add_root_certificates(ca_file.clone())
            .require_tls(true);
    }
    Ok(options)
}

/// Returns `text` as a key-value key: its UTF-8 bytes in lowercase hex, so any text (an event
/// id, a caller's idempotency key) becomes a valid key token and distinct texts stay distinct.
pub(crate) fn kv_key(text: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Two digits per byte into one allocation (formatting each byte allocated a string apiece:
    // two keys per appended event).
    let mut key = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        key.push(char::from(DIGITS[usize::from(byte >> 4)]));
        key.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    key
}

/// Opens the key-value bucket `name`, creating it when absent with one value per key, entries
/// expiring after `max_age` (zero keeps them), and `replicas` replicas.
///
/// The bucket's stream is created here with the layout of the key-value convention (ADR-8)
/// rather than through the client's `create_key_value`, which first reads account details
/// that servers before 2.10 (Debian's 2.9) do not send.
///
/// # Errors
///
/// Fails when JetStream refuses or cannot be reached.
pub(crate) async fn open_bucket(
    jetstream: &jetstream::Context,
    name: &str,
    max_age: Duration,
    replicas: usize,
) -> Result<jetstream::kv::Store, async_nats::Error> {
    if let Ok(store) = jetstream.get_key_value(name).await {
        return Ok(store);
    }
    let config = bucket_stream_config(name, max_age, replicas);
    if let Err(error) = jetstream.create_stream(config).await {
        // Created meanwhile by another replica is fine: it has the same layout.
        return jetstream
            .get_key_value(name)
            .await
            .map_err(|_| error.into());
    }
    Ok(jetstream.get_key_value(name).await?)
}

/// The stream behind a key-value bucket, as the key-value convention lays it out.
fn bucket_stream_config(
    name: &str,
    max_age: Duration,
    replicas: usize,
) -> jetstream::stream::Config {
    /// JetStream's default duplicate window, shortened for buckets whose entries live shorter.
    const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
    let duplicate_window = if max_age.is_zero() {
        DUPLICATE_WINDOW
    } else {
        DUPLICATE_WINDOW.min(max_age)
    };
    jetstream::stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        max_bytes: -1,
        max_messages: -1,
        max_message_size: -1,
        discard: jetstream::stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: replicas,
        storage: jetstream::stream::StorageType::File,
        duplicate_window,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nats::test_server::TestNatsServer;

    /// A `nats://` URL on 127.0.0.1 where nothing listens.
    fn refusing_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("nats://127.0.0.1:{port}")
    }

    #[tokio::test]
    async fn connects_to_a_live_server_of_several_in_nats_url() {
        let Some(server) = TestNatsServer::shared() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut config = server.config_for(dir.path());
        config.servers = vec![refusing_url(), server.url().to_owned(), refusing_url()];

        let connection = NatsConnection::connect(&config).await.unwrap();

        let live_port = server.url().rsplit(':').next().unwrap();
        assert_eq!(
            connection.client().server_info().port.to_string(),
            live_port
        );
    }

    #[tokio::test]
    async fn names_every_server_when_none_accepts_the_connection() {
        let servers = vec![refusing_url(), refusing_url()];
        let config = NatsConfig {
            servers: servers.clone(),
            auth: NatsAuth::None,
            tls_ca_file: None,
            stream: "UNUSED".to_owned(),
            replicas: 1,
            event_ids_bucket: "unused_ids".to_owned(),
            consumers_bucket: "unused_consumers".to_owned(),
            idempotency_bucket: "unused_idempotency".to_owned(),
            rate_budget_bucket: "unused_rate".to_owned(),
            dedupe_window: Duration::from_secs(120),
        };

        let error = NatsConnection::connect(&config).await.unwrap_err();

        assert_eq!(
            error.to_string(),
            format!("cannot connect to the NATS servers {}", servers.join(","))
        );
    }

    #[test]
    fn kv_keys_are_hex_and_keep_texts_apart() {
        assert_eq!(kv_key("a.b"), "612e62");
        assert_eq!(kv_key("é"), "c3a9");
        assert_eq!(kv_key("\u{0}\u{7f}\u{10ffff}"), "007ff48fbfbf");
        assert_ne!(kv_key("ab"), kv_key("a.b"));
        assert_eq!(kv_key(""), "");
    }
}
