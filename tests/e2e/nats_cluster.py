"""A three-node NATS JetStream cluster on 127.0.0.1 for the end-to-end tests.

Each node is a `nats-server -js` (Debian's package; scripts/test installs it) with its own free client, route
and monitoring ports and its own temporary store. `NatsCluster.start` returns once every node reports the same
JetStream meta leader and a healthy JetStream; the monitoring endpoints also tell which node leads a stream and
which node holds a client's connection, so a test can kill the one that hurts most.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import free_port

CLUSTER_NAME = "wgw-e2e"
READY_PATIENCE_S = 60.0
POLL_INTERVAL_S = 0.1
MONITOR_TIMEOUT_S = 2.0


class NatsNode:
    """One server of the cluster: its ports, store and process."""

    def __init__(self, binary: str, name: str, directory: Path):
        self.binary = binary
        self.name = name
        self.store = directory / "store"
        self.store.mkdir(parents=True)
        self.log_path = directory / "nats-server.log"
        self.client_port = free_port()
        self.route_port = free_port()
        self.monitor_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def route_url(self) -> str:
        return f"nats://127.0.0.1:{self.route_port}"

    def start(self, routes: list[str]) -> None:
        command = [
            self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.client_port),
            "-m", str(self.monitor_port), "-sd", str(self.store),
            "--server_name", self.name, "--cluster_name", CLUSTER_NAME,
            "--cluster", self.route_url, "--routes", ",".join(routes),
            "-l", str(self.log_path),
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash: the server gets no chance to hand over leadership."""
        if self.running():
            self.process.kill()
            self.process.wait()

    def monitor(self, path: str) -> dict | None:
        """The JSON a monitoring endpoint answers, or None when the node does not answer (yet)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}{path}", timeout=MONITOR_TIMEOUT_S) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read() or b"{}")
        except (OSError, ValueError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class NatsCluster:
    """Three nodes routed to each other as one JetStream cluster."""

    def __init__(self, binary: str, directory: Path, size: int = 3):
        self.nodes = [NatsNode(binary, f"n{index}", directory / f"n{index}") for index in range(size)]

    @property
    def urls(self) -> str:
        """The client URLs of every node, comma-separated as `nats.url` takes them."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> None:
        routes = [node.route_url for node in self.nodes]
        for node in self.nodes:
            node.start([route for route in routes if route != node.route_url])
        self.wait_until(self.ready, "JetStream meta leader elected on every node")

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()

    def running_nodes(self) -> list[NatsNode]:
        return [node for node in self.nodes if node.running()]

    def ready(self) -> bool:
        """Every running node sees the same meta leader, all peers, and answers /healthz ok."""
        leaders = set()
        for node in self.running_nodes():
            jsz = node.monitor("/jsz")
            health = node.monitor("/healthz")
            if not jsz or not health or health.get("status") != "ok":
                return False
            meta = jsz.get("meta_cluster") or {}
            if not meta.get("leader") or meta.get("cluster_size") != len(self.nodes):
                return False
            leaders.add(meta["leader"])
        return len(leaders) == 1

    def stream_leader(self, stream: str) -> NatsNode | None:
        """The node leading `stream`'s replicas, as the nodes' /jsz reports it."""
        for node in self.running_nodes():
            jsz = node.monitor("/jsz?accounts=true&streams=true") or {}
            for account in jsz.get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    leader = (detail.get("cluster") or {}).get("leader")
                    if detail.get("name") == stream and leader:
                        return self.node_named(leader)
        return None

    def connection_holder(self, client_name: str) -> NatsNode | None:
        """The node a client named `client_name` is connected to, as the nodes' /connz reports it."""
        for node in self.running_nodes():
            connz = node.monitor("/connz") or {}
            if any(connection.get("name") == client_name for connection in connz.get("connections") or []):
                return node
        return None

    def node_named(self, name: str) -> NatsNode | None:
        return next((node for node in self.nodes if node.name == name), None)

    def wait_until(self, condition, what: str):
        """Polls `condition` until it returns something truthy (returned); fails after READY_PATIENCE_S."""
        deadline = time.monotonic() + READY_PATIENCE_S
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {node.name}:\n{node.log_tail()}" for node in self.nodes)
                raise AssertionError(f"NATS cluster: not {what} within {READY_PATIENCE_S} s\n{tails}")
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None and node.process.returncode not in (0, -9):
                    raise AssertionError(f"nats-server {node.name} exited: {node.log_tail()}")
            time.sleep(POLL_INTERVAL_S)
