"""EventService: the parts a client can already see from outside."""

import grpc
import pytest

from harness import RPC_TIMEOUT_S


def test_an_rpc_not_built_yet_is_unimplemented_and_says_what_is_missing(channel, pb):
    stub = pb.stub("EventService", channel)

    with pytest.raises(grpc.RpcError) as raised:
        stub.ListConsumers(pb.message("ListConsumersRequest"), timeout=RPC_TIMEOUT_S)

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "consumers" in (raised.value.details() or "").lower(), raised.value.details()
