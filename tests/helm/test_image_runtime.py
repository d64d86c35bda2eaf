"""The image's runtime constraints, proven with the built binary itself (images cannot be built here).

The gateway runs as the image's numeric user (the Dockerfile's USER), without capabilities, in a mount
namespace where every filesystem is read-only except its data directory and /tmp, as in the chart's pod
(readOnlyRootFilesystem, a volume for the data, an emptyDir for /tmp). It must serve, and on SIGTERM
turn /readyz to 503 while an in-flight webhook still completes, then exit 0.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from chart import DOCKERFILE
from harness import SANDBOX_WEBHOOK_ENV, SANDBOX_WEBHOOK_SECRET, Gateway, http_get, inbound_message_webhook, post_webhook

DEADLINE_S = 30.0
POLL_S = 0.05

# Runs "$5 $6 …" as uid $1 / gid $2 with only $3 (the data directory) and $4 (mounted on /tmp) writable.
# The kernel's own filesystems (/proc, /sys, /dev and its ptys) stay as they are, as in a pod; every other
# mount, /dev/shm included, is remounted read-only. The self-check proves the remount took effect: /var/tmp,
# writable by everyone on the host, must refuse the user.
CONFINE = r"""
set -eu
uid=$1 gid=$2 data=$3 scratch=$4
shift 4
while read -r _ _ _ _ point _; do
  case "$point" in
    /proc|/proc/*|/sys|/sys/*|/dev|/dev/pts|/dev/pts/*) continue ;;
  esac
  mount -o remount,bind,ro "$point"
done < /proc/self/mountinfo
mount --bind "$data" "$data"
mount -o remount,bind,rw "$data"
mount --bind "$scratch" /tmp
mount -o remount,bind,rw /tmp
as_user() {
  setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
}
if as_user /bin/sh -c 'echo > /var/tmp/wgw-confinement-probe' 2>/dev/null; then
  echo "confinement failed: the root filesystem is still writable" >&2
  exit 97
fi
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
"""


def image_user() -> tuple[int, int]:
    match = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert match, "the Dockerfile names a numeric USER uid:gid"
    return int(match.group(1)), int(match.group(2))


def confinement_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root to switch to the image's user and make the mounts read-only (CI runs as root)"
    for command in ("unshare", "setpriv", "mount"):
        if shutil.which(command) is None:
            return f"`{command}` (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "mount", "-o", "remount,bind,ro", "/"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"this machine does not allow private read-only mounts: {probe.stderr.strip()}"
    return None


@pytest.fixture
def confined_dirs():
    """The binary's copy, its data directory and its /tmp, outside pytest's root-only temp tree."""
    uid, gid = image_user()
    made = [Path(tempfile.mkdtemp(prefix=f"wgw-image-{part}-", dir="/var/tmp")) for part in ("bin", "data", "tmp")]
    bin_dir, data_dir, tmp_dir = made
    os.chmod(bin_dir, 0o755)
    os.chown(data_dir, uid, gid)
    os.chmod(data_dir, 0o700)
    os.chmod(tmp_dir, 0o1777)
    yield bin_dir, data_dir, tmp_dir
    for directory in made:
        shutil.rmtree(directory, ignore_errors=True)


def wait_for(condition, what: str):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"{what} not seen within {DEADLINE_S} s")


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def writable_mounts(pid: int) -> set[str]:
    """Mount points the process sees read-write, apart from the kernel's own filesystems."""
    writable = set()
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields = line.split()
        point, options = fields[4], fields[5].split(",")
        if "rw" in options and not re.match(r"^/(proc|sys|dev)(/|$)", point):
            writable.add(point)
    return writable


def start_held_webhook(gateway: Gateway, body: bytes) -> socket.socket:
    """Sends a webhook's headers with `Expect: 100-continue` and waits for 100 Continue: the request is then
    in the gateway's hands (authenticated, its body awaited), so it is in flight when the drain starts."""
    connection = socket.create_connection(("127.0.0.1", gateway.webhook_port), timeout=DEADLINE_S)
    connection.sendall(
        (
            f"POST /webhooks/sandbox/{SANDBOX_WEBHOOK_SECRET} HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n"
            "Expect: 100-continue\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
    )
    interim = connection.recv(1024)
    assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
    return connection


def read_response(connection: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = connection.recv(4096)
        if not chunk:
            break
        chunks.append(chunk)
        if b"\r\n\r\n" in b"".join(chunks):
            head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: (\d+)", head)
            if length and len(body) >= int(length.group(1)):
                break
    return b"".join(chunks)


def test_the_binary_serves_and_drains_as_the_image_user_with_only_data_and_tmp_writable(
    gateway_binary, confined_dirs, tmp_path
):
    reason = confinement_unavailable()
    if reason:
        pytest.skip(reason)
    uid, gid = image_user()
    bin_dir, data_dir, tmp_dir = confined_dirs
    binary = bin_dir / "wazzup-gateway"
    shutil.copy2(gateway_binary, binary)
    os.chmod(binary, 0o755)
    confine = tmp_path / "confine.sh"
    confine.write_text(CONFINE)
    launcher = tmp_path / "run-as-image"
    launcher.write_text(
        "#!/bin/sh\n"
        f"exec unshare --mount --propagation private /bin/sh '{confine}'"
        f" {uid} {gid} '{data_dir}' '{tmp_dir}' '{binary}' \"$@\"\n"
    )
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    workdir = tmp_path / "gateway"
    workdir.mkdir()

    gateway = Gateway(
        launcher,
        workdir,
        ["--sandbox"],
        {**SANDBOX_WEBHOOK_ENV, "WGW_DRAIN_TIMEOUT": "60s", "WGW_WEBHOOK_REQUEST_TIMEOUT": "60s"},
        data_dir=data_dir,
    )
    held = None
    try:
        gateway.wait_ready()
        pid = gateway.process.pid

        # It is the gateway itself, as the image's user, without capabilities or a way to regain them.
        assert Path(f"/proc/{pid}/exe").resolve() == binary.resolve()
        status = proc_status(pid)
        assert status["Uid"].split() == [str(uid)] * 4 and status["Gid"].split() == [str(gid)] * 4
        assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
        assert status["NoNewPrivs"] == "1"
        # Nothing but its data directory and /tmp is writable in its view of the filesystems.
        assert writable_mounts(pid) == {str(data_dir), "/tmp"}

        # It serves: health, readiness, a webhook stored durably in the data directory.
        assert http_get(gateway.admin_url("/healthz")) == (200, "ok\n")
        assert http_get(gateway.admin_url("/readyz"))[0] == 200
        assert post_webhook(gateway, inbound_message_webhook("image-runtime-1", "stored before the drain")) == 200
        stored = sorted(path.name for path in data_dir.iterdir())
        assert stored and all(path.stat().st_uid == uid for path in data_dir.iterdir()), stored

        # SIGTERM with a webhook in flight: readiness goes 503 at once, liveness stays 200, and the
        # webhook still completes before the process exits 0.
        body = json.dumps(inbound_message_webhook("image-runtime-2", "in flight during the drain")).encode()
        held = start_held_webhook(gateway, body)
        gateway.send_sigterm()
        wait_for(lambda: http_get(gateway.admin_url("/readyz"))[0] == 503, "/readyz answering 503 after SIGTERM")
        assert http_get(gateway.admin_url("/healthz")) == (200, "ok\n")
        assert gateway.process.poll() is None, "the gateway must wait for the in-flight webhook"
        held.sendall(body)
        response = read_response(held)
        assert response.startswith(b"HTTP/1.1 200"), response
        assert gateway.wait_exit(timeout_s=DEADLINE_S) == 0
    finally:
        if held is not None:
            held.close()
        gateway.stop()

    log = gateway.log_text()
    assert "drained, exiting" in log
    for complaint in ("Read-only file system", "Permission denied", "os error 30", "os error 13"):
        assert complaint not in log, log
