"""The `check-config` subcommand."""

from harness import free_port, run_binary, write_acme_config

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


def test_a_missing_configuration_file_is_reported_with_the_reason(gateway_binary, tmp_path):
    missing = tmp_path / "absent.toml"

    result = run_binary(gateway_binary, "check-config", str(missing))

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"cannot read the configuration file {missing}: No such file or directory" in output, output


def test_a_duration_written_as_a_bare_number_is_refused_saying_what_a_duration_looks_like(gateway_binary, tmp_path):
    config_file = tmp_path / "gateway.toml"
    config_file.write_text("[server]\ndrain_timeout = 10\n")

    result = run_binary(gateway_binary, "check-config", str(config_file))

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "line 2" in output and "such as '10s'" in output, output


def test_a_listener_address_in_use_is_named_and_a_log_off_the_terminal_has_no_colour_codes(gateway, tmp_path):
    taken = gateway.grpc_target

    result = run_binary(
        gateway.binary,
        "--grpc-listen", taken,
        "--webhook-listen", f"127.0.0.1:{free_port()}",
        "--admin-listen", f"127.0.0.1:{free_port()}",
        "--data-dir", str(tmp_path / "data"),
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"cannot bind the gRPC listener to {taken}: Address already in use" in output, output
    assert "\x1b[" not in output, output
