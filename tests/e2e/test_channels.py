"""ChannelService against the sandbox account's fixed channels."""

from harness import (
    INSTAGRAM_CHANNEL,
    PACKAGE,
    QR_CHANNEL,
    RPC_TIMEOUT_S,
    TELEGRAM_BOT_CHANNEL,
    WABA_CHANNEL,
    WHATSAPP_CHANNEL,
    grpcurl_ok_json,
    to_dict,
)

SANDBOX_CHANNELS = {
    WHATSAPP_CHANNEL: {"transport": "TRANSPORT_WHATSAPP", "plain_id": "79990000001", "state": "CHANNEL_STATE_ACTIVE"},
    WABA_CHANNEL: {"transport": "TRANSPORT_WABA", "state": "CHANNEL_STATE_ACTIVE"},
    TELEGRAM_BOT_CHANNEL: {
        "transport": "TRANSPORT_TELEGRAM_BOT",
        "plain_id": "wazzup_sandbox_bot",
        "state": "CHANNEL_STATE_ACTIVE",
    },
    INSTAGRAM_CHANNEL: {"transport": "TRANSPORT_INSTAGRAM", "state": "CHANNEL_STATE_ACTIVE"},
    QR_CHANNEL: {"transport": "TRANSPORT_WHATSAPP", "state": "CHANNEL_STATE_QR"},
}


def test_grpcurl_lists_the_sandbox_channels_of_the_default_account(gateway):
    answer = grpcurl_ok_json(gateway.grpc_target, f"{PACKAGE}.ChannelService/ListChannels", {})

    channels = {channel["channel_id"]: channel for channel in answer.get("channels", [])}
    assert set(SANDBOX_CHANNELS) <= set(channels), f"listed: {sorted(channels)}"
    for channel_id, expected in SANDBOX_CHANNELS.items():
        channel = channels[channel_id]
        assert channel.get("account") == "sandbox", channel
        for field, value in expected.items():
            assert channel.get(field) == value, f"{channel_id}.{field}: {channel}"


def test_list_channels_with_active_only_leaves_out_the_qr_channel(channel, pb):
    stub = pb.stub("ChannelService", channel)

    answer = stub.ListChannels(pb.message("ListChannelsRequest", {"active_only": True}), timeout=RPC_TIMEOUT_S)

    listed = {listed_channel.channel_id for listed_channel in answer.channels}
    assert QR_CHANNEL not in listed
    assert {WHATSAPP_CHANNEL, WABA_CHANNEL, TELEGRAM_BOT_CHANNEL, INSTAGRAM_CHANNEL} <= listed


def test_get_channel_reports_the_qr_state_to_a_grpcio_client(channel, pb):
    stub = pb.stub("ChannelService", channel)

    answer = stub.GetChannel(pb.message("GetChannelRequest", {"channel_id": QR_CHANNEL}), timeout=RPC_TIMEOUT_S)

    got = to_dict(answer.channel)
    assert got["channel_id"] == QR_CHANNEL
    assert got["transport"] == "TRANSPORT_WHATSAPP"
    assert got["state"] == "CHANNEL_STATE_QR"
