"""The `check-config` subcommand."""

from harness import run_binary, write_acme_config

API_KEY = "e2e-check-config-key-41c8d2"


def test_check_config_accepts_a_valid_file_and_prints_a_summary_without_secrets(gateway_binary, tmp_path):
    config_file = write_acme_config(tmp_path, API_KEY)

    result = run_binary(gateway_binary, "check-config", str(config_file))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "acme" in output, output
    assert API_KEY not in output


def test_check_config_rejects_an_invalid_listener_address_naming_the_key(gateway_binary, tmp_path):
    config_file = tmp_path / "gateway.toml"
    config_file.write_text('[listeners]\ngrpc = "nope"\n')

    result = run_binary(gateway_binary, "check-config", str(config_file))

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "grpc" in output, output
