"""A full disk under the built binary's data directory (a small tmpfs filled to the last byte): webhooks get
503 and readiness is 503 while the event log cannot write; after freeing space the next webhook is 200 and
readiness 200 again, without a restart. Mounting needs root; elsewhere the test is skipped with the reason."""

import subprocess
from pathlib import Path

import pytest

from harness import SANDBOX_WEBHOOK_ENV, http_get, inbound_message_webhook, post_webhook


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs; unmounted after the gateways using it stopped (request it before start_gateway)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip() or mounted.returncode}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Takes up every free byte of the file system with one file; returns it."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as file:
        for chunk in (64 * 1024, 4096, 1):
            block = bytes(chunk)
            try:
                while True:
                    file.write(block)
            except OSError:
                pass
    return filler


def test_a_full_disk_refuses_webhooks_and_readiness_until_space_is_freed(small_disk, start_gateway):
    gateway = start_gateway(args=["--sandbox"], env=SANDBOX_WEBHOOK_ENV, data_dir=small_disk / "data")
    assert post_webhook(gateway, inbound_message_webhook("before-full", "hello")) == 200

    filler = fill(small_disk)
    refused = post_webhook(gateway, inbound_message_webhook("while-full", "x" * 65536))
    ready_status, ready_body = http_get(gateway.admin_url("/readyz"))

    assert refused == 503
    assert ready_status == 503, ready_body
    assert "event log: cannot write" in ready_body

    filler.unlink()
    accepted = post_webhook(gateway, inbound_message_webhook("after-free", "x" * 65536))
    ready_again, ready_body = http_get(gateway.admin_url("/readyz"))

    assert accepted == 200
    assert ready_again == 200, ready_body
