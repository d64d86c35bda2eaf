"""Server reflection: grpcurl (which speaks grpc.reflection.v1alpha) and a raw grpcio v1 / v1alpha client."""

import pytest
from grpc_reflection.v1alpha import reflection_pb2

from harness import PACKAGE, RPC_TIMEOUT_S, SERVICES, grpcurl


def test_grpcurl_lists_every_service_without_proto_files(gateway):
    result = grpcurl(gateway.grpc_target, "list")

    assert result.returncode == 0, result.stderr
    listed = set(result.stdout.split())
    assert SERVICES <= listed, f"missing: {sorted(SERVICES - listed)}"


def test_grpcurl_describe_shows_doc_comments_of_send_message(gateway):
    result = grpcurl(gateway.grpc_target, "describe", f"{PACKAGE}.MessageService")

    assert result.returncode == 0, result.stderr
    assert "rpc SendMessage ( .wazzup_gateway.v1.SendMessageRequest )" in result.stdout
    assert "//" in result.stdout, f"no doc comments in:\n{result.stdout}"


def test_grpcurl_resolves_the_error_detail_types_through_reflection(gateway):
    result = grpcurl(gateway.grpc_target, "describe", "google.rpc.ErrorInfo")

    assert result.returncode == 0, result.stderr
    assert "google.rpc.ErrorInfo is a message" in result.stdout


# grpcio-reflection ships only v1alpha stubs. v1 has the same messages with the same field numbers, so
# the v1alpha classes serialize v1 requests byte for byte; only the method path differs.
@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_lists_every_service_to_a_grpcio_client(channel, version):
    reflection_info = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )

    responses = list(
        reflection_info(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=RPC_TIMEOUT_S)
    )

    assert len(responses) == 1
    listed = {service.name for service in responses[0].list_services_response.service}
    assert SERVICES <= listed, f"missing: {sorted(SERVICES - listed)}"


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_serves_the_file_declaring_send_message(channel, version):
    reflection_info = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=f"{PACKAGE}.MessageService")

    responses = list(reflection_info(iter([request]), timeout=RPC_TIMEOUT_S))

    assert len(responses) == 1
    assert not responses[0].HasField("error_response"), responses[0].error_response
    assert responses[0].file_descriptor_response.file_descriptor_proto, "no file descriptors returned"

