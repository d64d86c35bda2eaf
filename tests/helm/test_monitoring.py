"""The chart's alerts and dashboard: valid for promtool, firing on the series the gateway really exports."""

from __future__ import annotations

import json
import re

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chart import NAMESPACE, RELEASE, VALUE_SETS, helm_template, readme_section, readme_table, run, tool
from harness import (
    RPC_TIMEOUT_S,
    SANDBOX_WEBHOOK_ENV,
    Gateway,
    grpcurl_ok_json,
    http_get,
    inbound_message_webhook,
    post_webhook,
)
from test_wazzup_v3_mock import WHATSAPP, answer_like_v3
from upstream_mock import RecordingUpstream

FULLNAME = f"{RELEASE}-wazzup-gateway"
# Metrics the rules read that come from elsewhere than the gateway's /metrics.
FOREIGN_METRICS = {
    "up": "Prometheus's own scrape health of the admin port",
    "kube_pod_status_ready": "kube-state-metrics (metrics.prometheusRule.kubeStateMetrics)",
}
SAMPLE_SUFFIXES = ("_total", "_bucket", "_sum", "_count")


def monitoring_objects():
    """The rules and dashboard with the chart's default thresholds (those the README states)."""
    rendered = helm_template(
        sets={"metrics.prometheusRule.enabled": "true", "metrics.grafanaDashboard.enabled": "true"}
    )
    return rendered.one("PrometheusRule"), rendered.one("ConfigMap", f"{FULLNAME}-dashboard")


@pytest.fixture(scope="module")
def rules() -> dict:
    rule, _ = monitoring_objects()
    return rule["spec"]


@pytest.fixture(scope="module")
def rules_file(rules, tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    return path


@pytest.fixture(scope="module")
def dashboard() -> dict:
    _, configmap = monitoring_objects()
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == NAMESPACE
    [text] = configmap["data"].values()
    return json.loads(text)


def alert_rules(rules: dict) -> dict[str, dict]:
    return {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}


def metric_names(expression: str) -> set[str]:
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expression))


def dashboard_expressions(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


@pytest.mark.parametrize("name", [n for n in VALUE_SETS if "prometheusRule" in (VALUE_SETS[n].read_text())])
def test_promtool_accepts_the_rules_of_every_value_set(name, tmp_path):
    rendered = helm_template([VALUE_SETS[name]])
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rendered.one("PrometheusRule")["spec"]))

    result = run([tool("promtool"), "check", "rules", str(rules)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"SUCCESS: \d+ rules found", result.stdout), result.stdout


def test_the_kube_state_metrics_alert_can_be_left_out():
    rendered = helm_template(
        sets={"metrics.prometheusRule.enabled": "true", "metrics.prometheusRule.kubeStateMetrics": "false"}
    )

    assert "WazzupGatewayPodNotReady" not in alert_rules(rendered.one("PrometheusRule")["spec"])


# ---------------------------------------------------------------- each alert fires on the gateway's series


def series(name: str, **labels: str) -> str:
    """A series as the ServiceMonitor scrapes it from pod 0 of the release."""
    labels = {"job": f"{FULLNAME}-admin", "namespace": NAMESPACE, "pod": f"{FULLNAME}-0", **labels}
    return name + "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def webhooks(outcome: str, values: str, account: str = "main") -> tuple[str, str]:
    return series("webhooks_received_total", account=account, kind="messages", outcome=outcome), values


def rpcs(method: str, code: str, values: str) -> tuple[str, str]:
    return series("grpc_server_handled_total", method=f"wazzup_gateway.v1.{method}", code=code), values


def upstream_requests(status: str, values: str) -> tuple[str, str]:
    labels = {"account": "main", "method": "POST", "route": "/v3/message", "status": status, "attempt": "1"}
    return series("upstream_requests_total", **labels), values


def append_buckets(upper_bound_hit: str) -> list[tuple[str, str]]:
    """event_log_append_seconds with every observation (10 a minute) in the bucket ending at `upper_bound_hit`."""
    bounds = [f"{0.0001 * 2**k:.4f}".rstrip("0") for k in range(19)] + ["+Inf"]
    hit = bounds.index(upper_bound_hit)
    return [
        (series("event_log_append_seconds_bucket", le=bound), "0+10x40" if index >= hit else "0x40")
        for index, bound in enumerate(bounds)
    ]


# (alert, input series, minutes after start, fires)
ALERT_CASES = [
    ("WazzupGatewayUpstreamCredentialsRejected", [(series("upstream_credentials_rejected", account="main"), "0 0 1x20")], 10, True),
    ("WazzupGatewayUpstreamCredentialsRejected", [(series("upstream_credentials_rejected", account="main"), "0x20")], 10, False),
    ("WazzupGatewayEventLogAppendFailing", [webhooks("unavailable", "0+5x30"), webhooks("stored", "0+50x30")], 20, True),
    ("WazzupGatewayEventLogAppendFailing", [webhooks("unavailable", "0x30"), webhooks("stored", "0+50x30")], 20, False),
    ("WazzupGatewayWebhooks5xx", [webhooks("crm_timeout", "0+1x30"), webhooks("stored", "0+10x30")], 20, True),
    ("WazzupGatewayWebhooks5xx", [webhooks("unavailable", "0x30"), webhooks("stored", "0+10x30")], 20, False),
    ("WazzupGatewayEventLogAppendSlow", append_buckets("1.6384"), 20, True),
    ("WazzupGatewayEventLogAppendSlow", append_buckets("0.0032"), 20, False),
    ("WazzupGatewayWebhooksUnauthorized", [webhooks("unauthorized", "0+2x40")], 30, True),
    # Unknown accounts (label "-") are scanners, not a rotated secret.
    ("WazzupGatewayWebhooksUnauthorized", [webhooks("unauthorized", "0+2x40", account="-")], 30, False),
    ("WazzupGatewayConsumerLagGrowing", [(series("event_consumer_lag", account="main", consumer="billing"), "0+100x60")], 40, True),
    ("WazzupGatewayConsumerLagGrowing", [(series("event_consumer_lag", account="main", consumer="billing"), "5000x60")], 40, False),
    ("WazzupGatewayEventStreamsAtLimit", [rpcs("EventService/Subscribe", "RESOURCE_EXHAUSTED", "0+1x30")], 20, True),
    ("WazzupGatewayRateLimited", [rpcs("EventService/Subscribe", "RESOURCE_EXHAUSTED", "0+1x30")], 20, False),
    ("WazzupGatewayRateLimited", [upstream_requests("429", "0+3x30")], 20, True),
    ("WazzupGatewayRateLimited", [upstream_requests("200", "0+30x30")], 20, False),
    ("WazzupGatewayRateLimited", [(series("upstream_rate_limiter_refusals_total", account="main"), "0+2x30")], 20, True),
    ("WazzupGatewayInternalErrors", [rpcs("MessageService/SendMessage", "INTERNAL", "0+1x30")], 20, True),
    ("WazzupGatewayInternalErrors", [rpcs("MessageService/SendMessage", "INVALID_ARGUMENT", "0+9x30")], 20, False),
    ("WazzupGatewayDown", [(series("up"), "1 1 0x20")], 10, True),
    ("WazzupGatewayDown", [(series("up"), "1x20")], 10, False),
    (
        "WazzupGatewayPodNotReady",
        [(f'kube_pod_status_ready{{namespace="{NAMESPACE}", pod="{FULLNAME}-0", condition="true"}}', "0x30")],
        20,
        True,
    ),
]


def test_every_alert_has_a_case_that_fires(rules):
    assert {case[0] for case in ALERT_CASES if case[3]} == set(alert_rules(rules))


@pytest.mark.parametrize(
    ("alert", "inputs", "minutes", "fires"),
    ALERT_CASES,
    ids=[f"{case[0]}-{'fires' if case[3] else 'silent'}-{index}" for index, case in enumerate(ALERT_CASES)],
)
def test_the_alert_expression_fires_on_the_gateway_series(alert, inputs, minutes, fires, rules, rules_file, tmp_path):
    expression = alert_rules(rules)[alert]["expr"]
    unit_test = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": name, "values": values} for name, values in inputs],
                "promql_expr_test": [
                    {
                        "expr": f"count({expression})",
                        "eval_time": f"{minutes}m",
                        "exp_samples": [{"labels": "{}", "value": 1}] if fires else [],
                    }
                ],
            }
        ],
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(unit_test))

    result = run([tool("promtool"), "test", "rules", str(test_file)])

    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------- the metrics exist in the gateway and README


@pytest.fixture(scope="module")
def exported_families(gateway_binary, tmp_path_factory) -> set[str]:
    """Metric families (# TYPE lines) of /metrics after one gRPC call, one webhook and one keyed send
    through a Wazzup v3 account to a mock upstream (a family without any sample yet is not rendered)."""
    workdir = tmp_path_factory.mktemp("metrics-gateway")
    with RecordingUpstream(answer_like_v3) as upstream:
        config = workdir / "gateway.toml"
        config.write_text(f'[[accounts]]\nname = "acme"\ndialect = "wazzup_v3"\nbase_url = "{upstream.base_url}"\n')
        env = {**SANDBOX_WEBHOOK_ENV, "WGW_ACCOUNT_ACME_API_KEY": "metrics-probe-key"}
        gateway = Gateway(gateway_binary, workdir, ["--sandbox", "--config", str(config)], env)
        try:
            gateway.wait_ready()
            with grpc.insecure_channel(gateway.grpc_target) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT_S
                )
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            assert post_webhook(gateway, inbound_message_webhook("metrics-probe-1", "hello")) == 200
            send = {
                "account": "acme",
                "channel_id": WHATSAPP,
                "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": "79011112233"},
                "text": "metrics probe",
                "idempotency_key": "metrics-probe-1",
            }
            grpcurl_ok_json(gateway.grpc_target, "wazzup_gateway.v1.MessageService/SendMessage", send)
            status, text = http_get(gateway.admin_url("/metrics"))
            assert status == 200
        finally:
            assert gateway.stop() == 0, gateway.log_text()
    return set(re.findall(r"^# TYPE (\S+) \S+$", text, flags=re.MULTILINE))


def family_of(name: str, families: set[str]) -> str | None:
    if name in families:
        return name
    for suffix in SAMPLE_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in families:
            return name.removesuffix(suffix)
    return None


def test_alerts_and_dashboard_use_only_metrics_the_gateway_exports(rules, dashboard, exported_families):
    used = set()
    for rule in alert_rules(rules).values():
        used |= metric_names(rule["expr"])
    for expression in dashboard_expressions(dashboard):
        used |= metric_names(expression)
    used -= set(FOREIGN_METRICS)

    unknown = sorted(name for name in used if family_of(name, exported_families) is None)
    assert unknown == [], f"not exported by the gateway: {unknown}; exported: {sorted(exported_families)}"
    assert {family_of(name, exported_families) for name in used} == exported_families, "the dashboard shows them all"


def test_the_readme_lists_every_exported_metric(exported_families):
    listed = set()
    for row in readme_table("| Metric |"):
        listed |= {family_of(name, exported_families) or name for name in re.findall(r"`([a-z_]+)`", row[0])}

    assert listed == exported_families


def test_the_readme_names_every_alert(rules):
    text = readme_section()
    for alert in alert_rules(rules):
        assert f"**{alert}**" in text, alert


def test_the_dashboard_is_a_grafana_dashboard_on_a_datasource_variable(dashboard):
    assert dashboard["uid"] == "wazzup-gateway"
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"]
        for target in panel["targets"]:
            assert 'namespace="$namespace", job="$job"' in target["expr"], target["expr"]
