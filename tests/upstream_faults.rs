//! Upstream faults below HTTP that a mock framework cannot produce: a connection reset in the
//! middle of an answer's body, and a body that stops arriving. The upstream here is a raw
//! HTTP/1.1 responder on the test's own runtime, so that a paused clock only moves while the
//! whole exchange waits for a timer. Keyed sends run on the real clock instead: their outcome is
//! recorded by the idempotency store's own thread, which a paused clock would not wait for. What
//! is asserted: the caller gets a typed error in time, an
//! unkeyed send is never repeated once it may have reached Wazzup, and a keyed send is retried
//! with the same `crmMessageId` until it succeeds. A storm of 429s: each `Retry-After` is waited
//! for, and the attempts stop at the configured bound, keyed or not (a 429 means the upstream
//! did nothing, so even an unkeyed send may be repeated).

mod support;
#[path = "support/wazzup_v3.rs"]
mod wazzup_v3_support;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tonic::Code;
use wazzup_v3_support::*;

/// How the raw upstream answers one `POST /v3/message`.
#[derive(Clone, Copy, Debug)]
enum SendAnswer {
    /// Headers and half of the body, then a TCP reset.
    ResetMidBody,
    /// Headers and half of the body, then nothing (the connection stays open).
    StallMidBody,
    /// `201` with a message id.
    Accept,
    /// `429` with `Retry-After` in seconds.
    RateLimited {
        /// The `Retry-After` value.
        retry_after_secs: u64,
    },
}

/// A raw HTTP/1.1 upstream: `GET /v3/channels` answers the account's channels, each
/// `POST /v3/message` is answered by the next [`SendAnswer`] of its script (the last one repeats),
/// and every send body is recorded.
#[derive(Clone)]
struct RawUpstream {
    script: Arc<Vec<SendAnswer>>,
    sends: Arc<Mutex<Vec<Value>>>,
}

impl RawUpstream {
    /// Serves on a fresh 127.0.0.1 port of the current runtime; returns the upstream and its URL.
    async fn start(script: Vec<SendAnswer>) -> (Self, String) {
        let upstream = Self {
            script: Arc::new(script),
            sends: Arc::default(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let serving = upstream.clone();
        tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(connection));
            }
        });
        (upstream, format!("http://{address}"))
    }

    /// The bodies of the sends received so far.
    fn sends(&self) -> Vec<Value> {
        self.sends.lock().clone()
    }

    /// Answers the requests of one connection until it closes or an answer breaks it.
    async fn serve(self, connection: TcpStream) {
        let mut reader = BufReader::new(connection);
        loop {
            let Some((request_line, body)) = read_request(&mut reader).await else {
                return;
            };
            if request_line.starts_with("GET /v3/channels ") {
                let channels = channel_list().to_string();
                write_answer(reader.get_mut(), "200 OK", &channels).await;
                continue;
            }
            assert!(
                request_line.starts_with("POST /v3/message "),
                "{request_line}"
            );
            let answer = {
                let mut sends = self.sends.lock();
                sends.push(serde_json::from_slice(&body).expect("a JSON send"));
                let index = (sends.len() - 1).min(self.script.len() - 1);
                self.script[index]
            };
            let accepted = json!({"messageId": "f3b2d5a1-5d3c-4b8e-9a71-0c2e4f6a8b10",
                                  "chatId": "79011112233"})
            .to_string();
            match answer {
                SendAnswer::Accept => {
                    write_answer(reader.get_mut(), "201 Created", &accepted).await
                }
                SendAnswer::RateLimited { retry_after_secs } => {
                    let answer = format!(
                        "HTTP/1.1 429 Too Many Requests\r\nretry-after: {retry_after_secs}\r\n\
                         content-length: 0\r\n\r\n"
                    );
                    reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
                }
                SendAnswer::ResetMidBody => {
                    write_half_answer(reader.get_mut(), &accepted).await;
                    // Linger zero: closing sends a reset instead of an orderly end of stream.
                    let connection = reader.into_inner();
                    socket2::SockRef::from(&connection)
                        .set_linger(Some(Duration::ZERO))
                        .unwrap();
                    drop(connection);
                    return;
                }
                SendAnswer::StallMidBody => {
                    write_half_answer(reader.get_mut(), &accepted).await;
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// Reads one request: its request line and its body (by `content-length`); `None` at the end.
async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.ok()? == 0 {
        return None;
    }
    let mut content_length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().expect("a length");
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).await.ok()?;
    Some((request_line, body))
}

/// Writes a complete JSON answer.
async fn write_answer(connection: &mut TcpStream, status: &str, body: &str) {
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    connection.write_all(answer.as_bytes()).await.unwrap();
}

/// Writes the headers of a `201` announcing all of `body`, and only its first half.
async fn write_half_answer(connection: &mut TcpStream, body: &str) {
    let answer = format!(
        "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
        body.len(),
        &body[..body.len() / 2]
    );
    connection.write_all(answer.as_bytes()).await.unwrap();
    connection.flush().await.unwrap();
}

/// Resumes the paused clock and stops the gateway: the drain waits for the event log's writer
/// thread, which a paused clock would not wait for.
async fn resume_and_stop(gateway: support::TestGateway) {
    tokio::time::resume();
    gateway.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_unkeyed_send_whose_answer_is_cut_by_a_reset_is_not_repeated() {
    let (upstream, url) = RawUpstream::start(vec![SendAnswer::ResetMidBody]).await;
    let gateway = start_v3_with(&url, "").await;

    let status = gateway
        .messages()
        .await
        .send_message(whatsapp_text("79011112233", "hi"))
        .await
        .expect_err("the answer never arrived whole");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::Unavailable, "UPSTREAM_UNAVAILABLE"),
        "{failure:?}"
    );
    assert!(
        failure.message.contains("outcome is unknown"),
        "{}",
        failure.message
    );
    assert_eq!(upstream.sends().len(), 1, "sent once, never repeated");
    resume_and_stop(gateway).await;
}

#[tokio::test]
async fn a_keyed_send_whose_answer_is_cut_by_a_reset_is_retried_with_the_same_crm_message_id() {
    let script = vec![SendAnswer::ResetMidBody, SendAnswer::Accept];
    let (upstream, url) = RawUpstream::start(script).await;
    let gateway = start_v3_with(&url, "").await;

    let sent = gateway
        .messages()
        .await
        .send_message(keyed(whatsapp_text("79011112233", "hi"), "order-7"))
        .await
        .expect("the retry is answered")
        .into_inner();

    assert_eq!(sent.message_id, "f3b2d5a1-5d3c-4b8e-9a71-0c2e4f6a8b10");
    let sends = upstream.sends();
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert!(
        sends.iter().all(|send| send["crmMessageId"] == "order-7"),
        "{sends:?}"
    );
    gateway.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_body_that_stops_arriving_ends_at_the_request_timeout_and_an_unkeyed_send_is_not_repeated()
 {
    let (upstream, url) = RawUpstream::start(vec![SendAnswer::StallMidBody]).await;
    let gateway = start_v3_with(&url, "[accounts.limits]\nrequest_timeout = \"2s\"\n").await;

    let status = gateway
        .messages()
        .await
        .send_message(whatsapp_text("79011112233", "hi"))
        .await
        .expect_err("the body never ends");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::DeadlineExceeded, "UPSTREAM_TIMEOUT"),
        "{failure:?}"
    );
    assert!(
        failure.message.contains("outcome is unknown"),
        "{}",
        failure.message
    );
    assert_eq!(upstream.sends().len(), 1, "sent once, never repeated");
    resume_and_stop(gateway).await;
}

#[tokio::test]
async fn a_keyed_send_whose_bodies_keep_stalling_stops_after_its_attempts() {
    let (upstream, url) = RawUpstream::start(vec![SendAnswer::StallMidBody]).await;
    let gateway = start_v3_with(&url, "[accounts.limits]\nrequest_timeout = \"300ms\"\n").await;

    let status = gateway
        .messages()
        .await
        .send_message(keyed(whatsapp_text("79011112233", "hi"), "order-8"))
        .await
        .expect_err("every attempt stalls");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::DeadlineExceeded, "UPSTREAM_TIMEOUT"),
        "{failure:?}"
    );
    let sends = upstream.sends();
    let attempts = wazzup_gateway::RetrySettings::for_test().max_attempts as usize;
    assert_eq!(sends.len(), attempts, "{sends:?}");
    assert!(
        sends.iter().all(|send| send["crmMessageId"] == "order-8"),
        "{sends:?}"
    );
    gateway.stop().await;
}

/// The test account's configuration with `max_retry_after` raised to `10s`, so that a
/// `Retry-After` of a few seconds is waited for instead of passed to the caller.
fn patient_with_rate_limits(url: &str) -> String {
    let toml = v3_toml(url, "");
    let patient: Vec<String> = toml
        .lines()
        .map(|line| {
            if line.starts_with("max_retry_after") {
                "max_retry_after = \"10s\"".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect();
    patient.join("\n")
}

#[tokio::test(start_paused = true)]
async fn a_429_storm_waits_each_retry_after_and_stops_after_the_attempts() {
    let storm = SendAnswer::RateLimited {
        retry_after_secs: 2,
    };
    let (upstream, url) = RawUpstream::start(vec![storm]).await;
    let toml = patient_with_rate_limits(&url);
    let gateway = support::TestGateway::start_with(&toml, &v3_env()).await;
    let started = tokio::time::Instant::now();

    let status = gateway
        .messages()
        .await
        .send_message(whatsapp_text("79011112233", "hi"))
        .await
        .expect_err("every attempt is rate limited");
    let waited = started.elapsed();

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::ResourceExhausted, "UPSTREAM_RATE_LIMITED"),
        "{failure:?}"
    );
    assert_eq!(failure.retry_after, Some(Duration::from_secs(2)));
    let attempts = wazzup_gateway::RetrySettings::for_test().max_attempts;
    assert_eq!(upstream.sends().len(), attempts as usize);
    // Each retry waited the Retry-After (plus at most a quarter of jitter).
    let retries = attempts - 1;
    assert!(waited >= Duration::from_secs(2) * retries, "{waited:?}");
    assert!(
        waited < Duration::from_millis(2500) * retries + Duration::from_secs(1),
        "{waited:?}"
    );
    resume_and_stop(gateway).await;
}

#[tokio::test]
async fn a_keyed_send_in_a_429_storm_keeps_its_crm_message_id_and_stops_after_the_attempts() {
    let storm = SendAnswer::RateLimited {
        retry_after_secs: 1,
    };
    let (upstream, url) = RawUpstream::start(vec![storm]).await;
    let toml = patient_with_rate_limits(&url);
    let gateway = support::TestGateway::start_with(&toml, &v3_env()).await;

    let status = gateway
        .messages()
        .await
        .send_message(keyed(whatsapp_text("79011112233", "hi"), "order-9"))
        .await
        .expect_err("every attempt is rate limited");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::ResourceExhausted, "UPSTREAM_RATE_LIMITED"),
        "{failure:?}"
    );
    let sends = upstream.sends();
    let attempts = wazzup_gateway::RetrySettings::for_test().max_attempts;
    assert_eq!(sends.len(), attempts as usize, "{sends:?}");
    assert!(
        sends.iter().all(|send| send["crmMessageId"] == "order-9"),
        "{sends:?}"
    );
    gateway.stop().await;
}
