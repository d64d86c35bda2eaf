"""The README, run the way a newcomer runs it.

Every `cargo run` line it gives starts a gateway that becomes ready, and its walk-throughs run top to bottom
on one gateway started with its opening command: each command answers as its comment says (a comment saying
"answers CODE" expects that gRPC error; every other command must succeed), `Subscribe` streams run in the
background like a second terminal and receive the events the comments announce ("→ one MESSAGE_RECEIVED
event"), and the restart with a webhook secret is carried out as written.

What the test changes in the commands, and only that: the listener addresses (free ports instead of
50051/8080/9090, set through the environment for `cargo run` and rewritten in grpcurl and curl lines) and
the data directory (a temporary one instead of `./data`).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import REPO_ROOT, SUBPROCESS_TIMEOUT_S, Gateway, environment_without_gateway_settings

README = (REPO_ROOT / "README.md").read_text()

# The sections whose shell blocks make up the walk-throughs, in README order.
WALK_THROUGHS = ("Try it with grpcurl", "Message exports", "Trying it with grpcurl (sandbox)")

STREAM_START_TIMEOUT_S = 30.0
STREAM_EVENTS_TIMEOUT_S = 30.0

_EXPECTED_ERROR = re.compile(r"\banswers ([A-Z][A-Z_]+[A-Z])\b")
_ANNOUNCED_EVENT = re.compile(r"→ (?:one )?([A-Z][A-Z_]+[A-Z]) events?\b")
_ASSIGNMENT = re.compile(r"^([A-Z_][A-Z0-9_]*)=(\$\(.*\))$", re.DOTALL)


@dataclass
class Step:
    """One command of a shell block, with the comment lines just above it."""

    section: str
    comment: str
    command: str


def sections() -> list[tuple[str, str]]:
    """(heading, text) of every `##`/`###` section, in order."""
    parts = re.split(r"^#{2,3} (.+)$", README, flags=re.MULTILINE)
    return list(zip(parts[1::2], parts[2::2]))


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def is_complete(command: str) -> bool:
    """A command is complete when it does not end in a line continuation and its quotes are closed."""
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def steps_of(section: str, block: str) -> list[Step]:
    steps: list[Step] = []
    comment: list[str] = []
    pending: list[str] = []
    for line in block.splitlines():
        if not pending:
            if not line.strip():
                comment = []
                continue
            if line.lstrip().startswith("#"):
                comment.append(line.lstrip("# ").strip())
                continue
        pending.append(line)
        text = "\n".join(pending)
        if is_complete(text):
            steps.append(Step(section, " ".join(comment), text))
            pending = []
    assert not pending, f"unfinished command in the README's {section!r} block:\n" + "\n".join(pending)
    return steps


def walk_through_steps() -> list[Step]:
    found = [
        step
        for heading, text in sections()
        if heading in WALK_THROUGHS
        for block in shell_blocks(text)
        for step in steps_of(heading, block)
    ]
    assert {step.section for step in found} == set(WALK_THROUGHS), "a walk-through section lost its commands"
    return found


def cargo_run_lines() -> list[str]:
    """Every distinct `cargo run` command line of the README (in code blocks and inline code), comments cut."""
    lines = re.findall(r"^((?:[A-Z_]+=\S+ )*cargo run\b[^#`\n]*)", README, flags=re.MULTILINE)
    lines += re.findall(r"`((?:[A-Z_]+=\S+ )*cargo run\b[^`]*)`", README)
    return list(dict.fromkeys(line.strip() for line in lines))


def grpc_code_name(code: str) -> str:
    """FAILED_PRECONDITION → FailedPrecondition, as grpcurl prints it."""
    return "".join(part.capitalize() for part in code.split("_"))


class Walk:
    """Runs steps in one shell environment against the current gateway, as a user with a few terminals."""

    def __init__(self, start_gateway, tmp_path: Path):
        self.start_gateway = start_gateway
        self.data_dir = tmp_path / "data"
        self.variables: dict[str, str] = {}
        self.gateway: Gateway | None = None
        self.streams: list[tuple[subprocess.Popen, Path]] = []
        self.announced: list[str] = []
        self.tmp_path = tmp_path

    def start(self, command_line: str) -> None:
        """Starts the gateway with `command_line`; a running one is stopped first, as with Ctrl-C."""
        if self.gateway is not None:
            self.check_announced_events()
            self.close_streams()
            assert self.gateway.stop() == 0, "the gateway did not drain cleanly"
        self.gateway = self.start_gateway(command_line=command_line, data_dir=self.data_dir)

    def localized(self, command: str) -> str:
        gateway = self.gateway
        assert gateway is not None, "a walk-through command ran before any gateway was started"
        for host in ("127.0.0.1", "localhost"):
            command = command.replace(f"{host}:50051", gateway.grpc_target)
            command = command.replace(f"{host}:8080", f"127.0.0.1:{gateway.webhook_port}")
            command = command.replace(f"{host}:9090", f"127.0.0.1:{gateway.admin_port}")
        return command

    def environment(self) -> dict[str, str]:
        return {**environment_without_gateway_settings(), **self.variables}

    def run(self, step: Step) -> None:
        self.announced += _ANNOUNCED_EVENT.findall(step.comment)
        if re.match(r"^(?:[A-Z_]+=\S+ )*cargo run\b", step.command):
            self.start(step.command)
            return
        command = self.localized(step.command)
        if "EventService/Subscribe" in command:
            self.open_stream(step, command)
            return
        assignment = _ASSIGNMENT.match(command)
        if assignment:
            name, value = assignment.groups()
            script = f'{name}={value}; printf %s "${name}"'
            result = self.shell(script)
            assert result.returncode == 0 and result.stdout, f"{step.command}\n{result.stderr}"
            self.variables[name] = result.stdout
            return
        result = self.shell(command)
        output = result.stdout + result.stderr
        expected_error = _EXPECTED_ERROR.search(step.comment)
        if expected_error:
            assert result.returncode != 0, f"expected {expected_error.group(1)}:\n{step.command}\n{output}"
            assert f"Code: {grpc_code_name(expected_error.group(1))}" in output, f"{step.command}\n{output}"
            return
        assert result.returncode == 0, f"README command failed ({step.section}):\n{step.command}\n{output}"
        if command.startswith("curl -i"):
            assert re.match(r"HTTP/1\.1 200 ", result.stdout), f"{step.command}\n{output}"

    def shell(self, script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.tmp_path,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )

    def open_stream(self, step: Step, command: str) -> None:
        """A second terminal: the stream runs in the background; it is open once its first heartbeat shows."""
        output_path = self.tmp_path / f"stream-{len(self.streams)}.out"
        with open(output_path, "wb") as output:
            process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.tmp_path,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.streams.append((process, output_path))
        wait_for(lambda: '"heartbeat"' in output_path.read_text(), STREAM_START_TIMEOUT_S, output_path, process)

    def check_announced_events(self) -> None:
        """The first stream (terminal 1, subscribed before anything happened) shows every announced event."""
        if not self.announced:
            return
        assert self.streams, f"events {self.announced} are announced, but nothing subscribed"
        process, output_path = self.streams[0]
        for event_type in self.announced:
            wait_for(
                lambda: f'"EVENT_TYPE_{event_type}"' in output_path.read_text(),
                STREAM_EVENTS_TIMEOUT_S,
                output_path,
                process,
            )
        self.announced = []

    def close_streams(self) -> None:
        for process, _ in self.streams:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=SUBPROCESS_TIMEOUT_S)
        self.streams = []


def wait_for(condition, timeout_s: float, output_path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        assert process.poll() is None, f"stream ended early:\n{output_path.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"not seen within {timeout_s} s:\n{output_path.read_text()}")


def test_the_readme_opens_with_a_cargo_run_that_starts_the_gateway():
    opening = shell_blocks(README)[0]
    assert re.match(r"^cargo run --release\s", opening), opening


@pytest.mark.parametrize("command_line", cargo_run_lines())
def test_every_cargo_run_line_of_the_readme_starts_a_gateway(start_gateway, command_line):
    gateway = start_gateway(command_line=command_line)
    status = gateway.stop()
    assert status == 0, f"{command_line} did not drain cleanly:\n{gateway.log_text()}"


def test_the_walk_throughs_run_top_to_bottom_on_one_gateway(start_gateway, tmp_path):
    opening_command = shell_blocks(README)[0].splitlines()[0].split("#")[0].strip()
    steps = walk_through_steps()
    assert any(_ANNOUNCED_EVENT.search(step.comment) for step in steps), "no walk-through announces an event"
    walk = Walk(start_gateway, tmp_path)
    walk.start(opening_command)
    try:
        for step in steps:
            walk.run(step)
        walk.check_announced_events()
    finally:
        walk.close_streams()
