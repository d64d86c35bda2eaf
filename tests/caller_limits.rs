//! Limits per caller over the real gRPC server: a token's server streams are counted while they
//! are open and released when the client goes away; the refusal is RESOURCE_EXHAUSTED with its
//! reason, and the refusal metric moves. (The rate, which needs a clock, is tested on tokio's
//! paused clock in `src/api/caller_limits/tests.rs`.) Each connection is told how many HTTP/2
//! streams it may open.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::{TestGateway, metadata_of, reason_of, with_token};
use tonic::Code;
use wazzup_gateway::proto::pb;
use wazzup_gateway::proto::pb::subscribe_request::Start;

/// How long a released stream slot may take to be noticed by the server (bounded patience).
const RELEASE_PATIENCE: Duration = Duration::from_secs(10);

fn earliest() -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        start: Some(Start::Earliest(true)),
        ..Default::default()
    }
}

async fn subscribe(
    gateway: &TestGateway,
    token: &str,
) -> Result<tonic::Streaming<pb::SubscribeResponse>, tonic::Status> {
    gateway
        .events()
        .await
        .subscribe(with_token(earliest(), token))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_token_holds_at_most_its_streams_until_one_ends() {
    let env = HashMap::from([
        ("WGW_AUTH_TOKEN".to_owned(), "t-all".to_owned()),
        ("WGW_CALLER_MAX_STREAMS".to_owned(), "1".to_owned()),
    ]);
    let gateway = TestGateway::start_with("", &env).await;

    let first = subscribe(&gateway, "t-all").await.expect("first stream");
    let refused = subscribe(&gateway, "t-all")
        .await
        .expect_err("over the limit");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(reason_of(&refused).0, "CALLER_STREAMS_EXHAUSTED");
    assert_eq!(metadata_of(&refused)["maxStreams"], "1");
    assert_eq!(metadata_of(&refused)["caller"], "default");
    let sent = gateway
        .channels()
        .await
        .list_channels(with_token(pb::ListChannelsRequest::default(), "t-all"))
        .await;
    assert!(sent.is_ok(), "unary calls take no stream slot: {sent:?}");

    drop(first);
    let deadline = tokio::time::Instant::now() + RELEASE_PATIENCE;
    let second = loop {
        match subscribe(&gateway, "t-all").await {
            Ok(stream) => break stream,
            Err(status) => {
                assert_eq!(reason_of(&status).0, "CALLER_STREAMS_EXHAUSTED");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the ended stream's slot was not released"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let (_, metrics) = gateway.admin_get("/metrics").await;
    assert!(
        metrics.contains("caller_limit_refusals_total{caller=\"default\",limit=\"streams\"}"),
        "{metrics}"
    );
    drop(second);
    gateway.stop().await;
}

/// Opens a raw HTTP/2 connection, makes one request so the server's SETTINGS have been read,
/// and returns how many concurrent streams the server allows this client.
async fn max_streams_announced(gateway: &TestGateway) -> usize {
    let tcp = tokio::net::TcpStream::connect(gateway.grpc_addr)
        .await
        .unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!(
        "http://{}/grpc.health.v1.Health/Check",
        gateway.grpc_addr
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(())
    .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    response.await.expect("the server answers");
    let announced = client.current_max_send_streams();
    drop(client);
    connection.abort();
    announced
}

#[tokio::test]
async fn each_connection_is_told_its_stream_limit_in_the_http2_settings() {
    let default = TestGateway::sandbox().await;
    assert_eq!(max_streams_announced(&default).await, 256);
    default.stop().await;

    let env = HashMap::from([("WGW_GRPC_MAX_CONCURRENT_STREAMS".to_owned(), "3".to_owned())]);
    let configured = TestGateway::start_with("", &env).await;
    assert_eq!(max_streams_announced(&configured).await, 3);
    configured.stop().await;
}
