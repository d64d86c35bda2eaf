//! Requests that are not valid protobuf, sent as raw frames over a real HTTP/2 connection: every
//! RPC answers `INVALID_ARGUMENT` (never `INTERNAL`), naming the field where prost knows it.

mod support;

use bytes::{Buf as _, BufMut as _, Bytes};
use prost::Message as _;
use support::*;
use tonic::Code;
use tonic::client::Grpc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use wazzup_gateway::proto::pb;

/// Sends and receives message bytes as they are.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// One RPC of the gateway's own services.
struct Rpc {
    /// `/package.Service/Method`.
    path: String,
    /// Whether the server answers with a stream.
    server_streaming: bool,
}

/// Every RPC of package `wazzup_gateway.v1`, from the descriptor set reflection serves.
fn gateway_rpcs() -> Vec<Rpc> {
    let descriptors = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut rpcs = Vec::new();
    for file in descriptors
        .file
        .iter()
        .filter(|file| file.package() == "wazzup_gateway.v1")
    {
        for service in &file.service {
            for method in &service.method {
                assert!(!method.client_streaming(), "{}", method.name());
                rpcs.push(Rpc {
                    path: format!("/wazzup_gateway.v1.{}/{}", service.name(), method.name()),
                    server_streaming: method.server_streaming(),
                });
            }
        }
    }
    rpcs
}

/// Sends `body` to `rpc` and returns the status it is refused with.
async fn refusal(channel: &Channel, rpc: &Rpc, body: &[u8]) -> tonic::Status {
    let mut grpc = Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = rpc.path.parse().unwrap();
    let request = tonic::Request::new(Bytes::copy_from_slice(body));
    let outcome = if rpc.server_streaming {
        match grpc.server_streaming(request, path, RawCodec).await {
            Ok(response) => response.into_inner().message().await.map(|_| ()),
            Err(status) => Err(status),
        }
    } else {
        grpc.unary(request, path, RawCodec).await.map(|_| ())
    };
    outcome.expect_err("a malformed request is refused")
}

#[tokio::test]
async fn every_rpc_answers_undecodable_bytes_with_invalid_argument() {
    let gateway = TestGateway::sandbox().await;
    let channel = gateway.channel().await;
    let rpcs = gateway_rpcs();
    assert!(rpcs.len() > 20, "found only {} RPCs", rpcs.len());
    // A key whose varint never ends, and a key with wire type 7: malformed for every message.
    let bodies: [&[u8]; 2] = [&[0xff; 11], &[0x0f, 0x00]];

    for rpc in &rpcs {
        for body in bodies {
            let status = refusal(&channel, rpc, body).await;
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{} {body:?}: {status:?}",
                rpc.path
            );
            assert_eq!(reason_of(&status).0, "INVALID_REQUEST", "{}", rpc.path);
        }
    }
    gateway.stop().await;
}

#[tokio::test]
async fn each_kind_of_malformed_field_is_named() {
    let gateway = TestGateway::sandbox().await;
    let channel = gateway.channel().await;
    let send = Rpc {
        path: "/wazzup_gateway.v1.MessageService/SendMessage".to_owned(),
        server_streaming: false,
    };
    let subscribe = Rpc {
        path: "/wazzup_gateway.v1.EventService/Subscribe".to_owned(),
        server_streaming: true,
    };
    let respond = Rpc {
        path: "/wazzup_gateway.v1.EventService/Respond".to_owned(),
        server_streaming: false,
    };
    let mut bad_varint = vec![(13 << 3) as u8];
    bad_varint.extend_from_slice(&[0xff; 11]);
    let table: [(&str, &Rpc, Vec<u8>, &str); 7] = [
        (
            "invalid UTF-8",
            &send,
            vec![0x12, 0x02, 0xff, 0xfe],
            "channel_id",
        ),
        (
            "invalid UTF-8, nested",
            &send,
            vec![0x1a, 0x03, 0x12, 0x01, 0xff],
            "recipient.chat_id",
        ),
        (
            "truncated length",
            &send,
            vec![0x12, 0x0a, b'a'],
            "channel_id",
        ),
        ("bad varint", &send, bad_varint, "wait_for_outcome"),
        ("wrong wire type", &send, vec![0x10, 0x01], "channel_id"),
        (
            "Subscribe's own decoder",
            &subscribe,
            vec![0x0a, 0x02, 0xc3, 0x28],
            "account",
        ),
        (
            "a Struct nested too deep",
            &respond,
            deep_respond(),
            "body.fields.",
        ),
    ];

    for (case, rpc, body, field) in table {
        let status = refusal(&channel, rpc, &body).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{case}: {status:?}");
        let fields = violated_fields(&status);
        assert_eq!(fields.len(), 1, "{case}: {fields:?}");
        assert!(fields[0].starts_with(field), "{case}: {fields:?}");
    }
    gateway.stop().await;
}

/// A `RespondRequest` whose body nests structs past prost's recursion limit.
fn deep_respond() -> Vec<u8> {
    let mut body = prost_types::Struct::default();
    for _ in 0..101 {
        let value = prost_types::Value {
            kind: Some(prost_types::value::Kind::StructValue(body)),
        };
        body = prost_types::Struct {
            fields: [("a".to_owned(), value)].into(),
        };
    }
    pb::RespondRequest {
        body: Some(body),
        ..pb::RespondRequest::default()
    }
    .encode_to_vec()
}
