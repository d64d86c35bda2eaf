"""Fixtures of the chart and image tests: the built gateway binary, and the e2e harness on the path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The e2e harness starts and stops the binary; these tests reuse it rather than copy it.
sys.path.insert(1, str(HERE.parent / "e2e"))

from chart import REPO_ROOT  # noqa: E402

# urllib honours *_proxy variables; everything here is local.
for _variable in ("no_proxy", "NO_PROXY"):
    os.environ[_variable] = ",".join(filter(None, [os.environ.get(_variable), "127.0.0.1", "localhost"]))


@pytest.fixture(scope="session")
def gateway_binary() -> Path:
    binary = Path(os.environ.get("WGW_E2E_BINARY", REPO_ROOT / "target/debug/wazzup-gateway"))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    if not os.access(binary, os.X_OK):
        pytest.fail(f"gateway binary {binary} is missing; build it with `cargo build --bin wazzup-gateway`")
    return binary
