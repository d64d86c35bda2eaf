//! A real `nats-server` with JetStream for tests: `nats-server -js -a 127.0.0.1 -p -1 -sd <temp
//! dir>`, started under a small shell supervisor that stops the server when the test process
//! closes its end of the supervisor's stdin: on drop, and also when the process ends without
//! dropping (the shared server of a test binary lives in a `static`).
//!
//! The server picks a free port itself (`-p -1`) and logs it; starting waits for its "Server is
//! ready" line. Where `nats-server` is not installed, [`TestNatsServer::start`] prints why and
//! returns `None` so the test can return early, unless the environment variable `CI` is set: in
//! CI a missing `nats-server` fails the test (`scripts/test` installs it from apt).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use crate::config::{NatsAuth, NatsConfig};

/// Runs the server in the background and stops it once stdin reaches its end.
const SUPERVISOR: &str = r#""$0" "$@" & server=$!
trap 'kill $server 2>/dev/null' EXIT
cat >/dev/null
kill $server 2>/dev/null
wait $server"#;

/// Bounded patience for the server's "ready" line (it normally takes milliseconds).
const READY_PATIENCE: Duration = Duration::from_secs(30);

/// Where Debian's package puts the binary, for when `/usr/sbin` is not on `PATH`.
const DEBIAN_PATH: &str = "/usr/sbin/nats-server";

/// A running `nats-server`, stopped on drop.
#[derive(Debug)]
pub(crate) struct TestNatsServer {
    /// The shell supervising the server.
    supervisor: Child,
    /// Our end of the supervisor's stdin; closing it stops the server.
    stdin: Option<ChildStdin>,
    /// `nats://127.0.0.1:<port>`.
    url: String,
    /// The JetStream store directory, removed after the server stopped.
    store: Option<tempfile::TempDir>,
}

impl TestNatsServer {
    /// Starts a server with an empty JetStream store; `None` (after printing why) when
    /// `nats-server` is not installed and `CI` is unset.
    ///
    /// # Panics
    ///
    /// Panics when `nats-server` is missing in CI, or does not report ready.
    pub(crate) fn start() -> Option<Self> {
        let Some(binary) = find_binary() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "nats-server is not installed (scripts/test installs it from apt) and CI is set"
            );
            eprintln!("skipped: nats-server is not installed (apt-get install nats-server)");
            return None;
        };
        Some(Self::start_with(&binary))
    }

    /// Returns the server shared by every test of this test binary, started on first use.
    pub(crate) fn shared() -> Option<&'static Self> {
        static SHARED: OnceLock<Option<TestNatsServer>> = OnceLock::new();
        SHARED.get_or_init(Self::start).as_ref()
    }

    /// Returns the client URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Returns a configuration for this server whose stream and bucket names derive from `dir`,
    /// so each test has its own and reopening the same directory reopens them.
    pub(crate) fn config_for(&self, dir: &Path) -> NatsConfig {
        let hex = crate::nats::kv_key(&dir.display().to_string());
        let tag = &hex[hex.len().saturating_sub(20)..];
        NatsConfig {
            servers: vec![self.url.clone()],
            auth: NatsAuth::None,
            tls_ca_file: None,
            stream: format!("EV{tag}"),
            replicas: 1,
            event_ids_bucket: format!("ids{tag}"),
            consumers_bucket: format!("cons{tag}"),
            idempotency_bucket: format!("idem{tag}"),
            rate_budget_bucket: format!("rate{tag}"),
            dedupe_window: Duration::from_secs(120),
        }
    }

    /// Starts `binary` and waits for its ready line.
    fn start_with(binary: &Path) -> Self {
        let store = tempfile::tempdir().expect("a temporary directory");
        let mut supervisor = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(store.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh starts");
        let stdin = supervisor.stdin.take();
        let stderr = supervisor.stderr.take().expect("stderr is piped");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || watch_log(BufReader::new(stderr), &ready_tx));
        let port = ready_rx
            .recv_timeout(READY_PATIENCE)
            .expect("nats-server reports its port and that it is ready");
        Self {
            supervisor,
            stdin,
            url: format!("nats://127.0.0.1:{port}"),
            store: Some(store),
        }
    }
}

impl Drop for TestNatsServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.supervisor.wait();
        drop(self.store.take());
    }
}

/// Reads the server's log: sends the client port once the server is ready, then keeps reading
/// so the server never blocks on a full pipe.
fn watch_log(log: impl BufRead, ready_tx: &mpsc::Sender<u16>) {
    let mut port = None;
    for line in log.lines().map_while(Result::ok) {
        if let Some(address) = line.split("Listening for client connections on ").nth(1) {
            port = address
                .rsplit(':')
                .next()
                .and_then(|p| p.trim().parse().ok());
        }
        if line.contains("Server is ready")
            && let Some(port) = port
        {
            let _ = ready_tx.send(port);
        }
    }
}

/// Finds `nats-server` on `PATH` or where Debian installs it.
fn find_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from(DEBIAN_PATH)).filter(|path| path.is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_started_server_accepts_jetstream_calls_and_stops_on_drop() {
        let Some(server) = TestNatsServer::start() else {
            return;
        };
        let client = async_nats::connect(server.url()).await.unwrap();
        let jetstream = async_nats::jetstream::new(client);
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: "PROBE".to_owned(),
                subjects: vec!["probe.>".to_owned()],
                ..Default::default()
            })
            .await
            .unwrap();
        let ack = jetstream.publish("probe.one", "x".into()).await.unwrap();
        assert_eq!(ack.await.unwrap().sequence, 1);
        let address = server.url().trim_start_matches("nats://").to_owned();

        drop(server);

        let refused = tokio::net::TcpStream::connect(address).await;
        assert!(refused.is_err(), "the server still accepts connections");
    }
}
