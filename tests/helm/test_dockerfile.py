"""The Dockerfile: hadolint-clean, and consistent with the chart (user, ports, data volume) and .dockerignore."""

from __future__ import annotations

import json
import re

from chart import CHART_DIR, DOCKERFILE, REPO_ROOT, load_values, run, tool


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    pairs = instructions()
    last_from = max(index for index, (keyword, _) in enumerate(pairs) if keyword == "FROM")
    return pairs[last_from:]


def test_hadolint_finds_nothing():
    result = run([tool("hadolint"), "--failure-threshold", "style", str(DOCKERFILE)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_the_build_is_multi_stage_and_the_runtime_stage_holds_only_the_binary_and_ca_certificates():
    froms = [arguments for keyword, arguments in instructions() if keyword == "FROM"]
    stage = final_stage()
    copies = [arguments for keyword, arguments in stage if keyword == "COPY"]

    assert len(froms) == 2 and froms[0].endswith(" AS build")
    assert all(":" in image and not image.split()[0].endswith(":latest") for image in froms)
    assert stage[0][1].startswith("gcr.io/distroless/")
    destinations = sorted(copy.split()[-1] for copy in copies)
    assert destinations == [
        "/etc/ssl/certs/ca-certificates.crt",
        "/usr/local/bin/wazzup-gateway",
        "/var/lib/wazzup-gateway",
    ]
    assert all(copy.startswith("--from=build ") for copy in copies)
    assert not any(keyword == "RUN" for keyword, _ in stage), "the runtime stage has no shell to run anything"


def test_the_image_agrees_with_the_chart():
    values = load_values(CHART_DIR / "values.yaml")
    stage = dict(final_stage())
    user, group = stage["USER"].split(":")
    command = json.loads(stage["CMD"])
    listen = {flag: command[command.index(flag) + 1] for flag in ("--grpc-listen", "--webhook-listen", "--admin-listen")}

    assert (int(user), int(group)) == (values["podSecurityContext"]["runAsUser"], values["podSecurityContext"]["runAsGroup"])
    assert int(user) != 0
    ports = values["containerPorts"]
    assert sorted(int(port) for port in stage["EXPOSE"].split()) == sorted(ports.values())
    assert listen == {f"--{name}-listen": f"0.0.0.0:{port}" for name, port in ports.items()}
    assert json.loads(stage["VOLUME"]) == [values["persistence"]["mountPath"]]
    assert command[command.index("--data-dir") + 1] == values["persistence"]["mountPath"]
    assert json.loads(stage["ENTRYPOINT"]) == ["/usr/local/bin/wazzup-gateway"]
    assert "HEALTHCHECK" not in stage


def test_the_build_context_holds_only_what_the_build_stage_copies():
    ignore = [line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in ignore if line and not line.startswith("#")]
    copied = []
    for keyword, arguments in instructions():
        if keyword == "COPY" and not arguments.startswith("--from"):
            copied += arguments.split()[:-1]

    assert patterns[0] == "*"
    assert sorted(pattern.removeprefix("!") for pattern in patterns[1:]) == sorted(copied)
    for path in copied:
        assert (REPO_ROOT / path).exists(), path


def test_the_chart_deploys_the_crate_version_by_default():
    chart = load_values(CHART_DIR / "Chart.yaml")
    crate_version = re.search(r'^version = "([^"]+)"$', (REPO_ROOT / "Cargo.toml").read_text(), flags=re.MULTILINE)

    assert chart["appVersion"] == crate_version.group(1)
    assert load_values(CHART_DIR / "values.yaml")["image"]["tag"] == "", "the tag defaults to appVersion"
