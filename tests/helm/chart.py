"""Rendering the Helm chart and reading what it renders.

Every tool is the real one, found on PATH (scripts/test puts target/test-tools/venv/bin and the helm
binary there): helm, kubernetes-validate, hadolint, promtool. Every subprocess call is bounded.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "wazzup-gateway"
CI_VALUES_DIR = CHART_DIR / "ci"
README = REPO_ROOT / "README.md"
DOCKERFILE = REPO_ROOT / "Dockerfile"
RELEASE = "gw"
NAMESPACE = "messaging"
TOOL_TIMEOUT_S = 120.0

# The Kubernetes versions rendered manifests are validated against: the chart's kubeVersion floor
# and the newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

# Value sets kept in the chart's ci/ directory: name -> file.
VALUE_SETS = {path.name.removesuffix("-values.yaml"): path for path in sorted(CI_VALUES_DIR.glob("*-values.yaml"))}

# The README's section on Helm, and the values examples it shows.
README_SECTION = "## Deploying on Kubernetes with Helm"


def tool(name: str) -> str:
    """Absolute path of a tool on PATH; fails the test with the way to get it when it is missing."""
    found = shutil.which(name)
    if found is None:
        raise AssertionError(f"`{name}` is not on PATH; ./scripts/test installs it into target/test-tools/")
    return found


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, **kwargs)


@dataclass
class Rendered:
    """The manifests of one `helm template` run."""

    text: str
    objects: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict:
        found = [obj for obj in self.of_kind(kind) if name is None or obj["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
        return found[0]

    @property
    def workload(self) -> dict:
        workloads = self.of_kind("StatefulSet") + self.of_kind("Deployment")
        assert len(workloads) == 1, f"expected one workload, found {len(workloads)}"
        return workloads[0]

    @property
    def pod_spec(self) -> dict:
        return self.workload["spec"]["template"]["spec"]

    @property
    def container(self) -> dict:
        containers = self.pod_spec["containers"]
        assert [c["name"] for c in containers] == ["gateway"]
        return containers[0]

    @property
    def gateway_toml(self) -> str:
        configmaps = [cm for cm in self.of_kind("ConfigMap") if "gateway.toml" in cm.get("data", {})]
        assert len(configmaps) == 1
        return configmaps[0]["data"]["gateway.toml"]


def helm_template(
    values_files: list[Path] = (), sets: dict[str, str] | None = None, check: bool = True, chart: Path = CHART_DIR
) -> subprocess.CompletedProcess | Rendered:
    """`helm template` of the chart; with check, the parsed objects (else the raw result, to read errors)."""
    command = [tool("helm"), "template", RELEASE, str(chart), "--namespace", NAMESPACE]
    for path in values_files:
        command += ["--values", str(path)]
    for key, value in (sets or {}).items():
        command += ["--set", f"{key}={value}"]
    result = run(command)
    if not check:
        return result
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    objects = [obj for obj in yaml.safe_load_all(result.stdout) if obj]
    return Rendered(text=result.stdout, objects=objects)


def helm_lint(values_files: list[Path] = (), sets: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [tool("helm"), "lint", "--strict", str(CHART_DIR)]
    for path in values_files:
        command += ["--values", str(path)]
    for key, value in (sets or {}).items():
        command += ["--set", f"{key}={value}"]
    return run(command)


def load_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def readme_section() -> str:
    text = README.read_text()
    start = text.index(README_SECTION)
    end = text.index("\n## ", start + len(README_SECTION))
    return text[start:end]


def readme_table(header_start: str) -> list[list[str]]:
    """The rows (cells stripped) of the table of the README's Helm section whose header starts so."""
    lines = readme_section().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def readme_values_examples() -> dict[str, str]:
    """The values files the README's Helm section shows: ```yaml blocks whose first line is
    `# values-<name>.yaml`, by name."""
    examples = {}
    for block in re.findall(r"```yaml\n(.*?)```", readme_section(), flags=re.DOTALL):
        first_line = block.splitlines()[0]
        match = re.fullmatch(r"# (values-[a-z0-9-]+\.yaml)", first_line.strip())
        if match:
            examples[match.group(1)] = block
    return examples


# Every secret-bearing value of the chart, as paths into the values tree ('*' = every list item).
SECRET_VALUE_PATHS = (
    ("config", "accounts", "*", "secrets", "apiKey"),
    ("config", "accounts", "*", "secrets", "webhookSecret"),
    ("config", "accounts", "*", "secrets", "crmKey"),
    ("config", "accounts", "*", "secrets", "refreshToken"),
    ("config", "accounts", "*", "secrets", "partnerCredentials"),
    ("config", "auth", "tokens", "*", "token"),
    ("nats", "password"),
    ("nats", "token"),
    ("nats", "credentials"),
)


def secret_values(values: dict) -> list[str]:
    """Every non-empty secret given in a values tree."""
    found = []

    def walk(node, path):
        if not path:
            if isinstance(node, str) and node:
                found.append(node)
            return
        head, rest = path[0], path[1:]
        if head == "*":
            for item in node if isinstance(node, list) else []:
                walk(item, rest)
        elif isinstance(node, dict) and head in node:
            walk(node[head], rest)

    for path in SECRET_VALUE_PATHS:
        walk(values, path)
    return found

