//! Types and service stubs generated from `proto/`, and the codec they use.

pub mod codec;

/// Generated protobuf types and gRPC stubs for `wazzup_gateway.v1`.
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]
pub mod pb {
    tonic::include_proto!("wazzup_gateway.v1");

    /// Encoded descriptors of every gateway proto (and the `google.rpc` and well-known types they
    /// import), served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("wazzup_gateway_descriptor");
}
