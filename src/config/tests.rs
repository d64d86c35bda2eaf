use std::{io::Write as _, num::NonZeroUsize, time::Duration};

use secrecy::ExposeSecret as _;

use super::*;
use super::{
    auth::{DEFAULT_OPEN_HEALTH_AND_REFLECTION, ENV_AUTH_TOKEN},
    process::{
        DEFAULT_ADMIN_LISTEN_ADDR, DEFAULT_GRPC_LISTEN_ADDR, DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
        DEFAULT_WEBHOOK_LISTEN_ADDR, ENV_DATA_DIR, ENV_GRPC_LISTEN_ADDR, ENV_IDEMPOTENCY_RETENTION,
        ENV_LOG, ENV_LOG_FORMAT, ENV_WEBHOOK_LISTEN_ADDR, ENV_WORKER_THREADS,
    },
    roster::{ENV_SANDBOX, ENV_WAZZUP_API_KEY, ENV_WAZZUP_BASE_URL},
};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn secret_file(content: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(content.as_bytes()).unwrap();
    file
}

fn load_err(text: &str, pairs: &[(&str, &str)]) -> String {
    Config::from_toml_str(text, &env(pairs))
        .unwrap_err()
        .to_string()
}

const MAIN_ACCOUNT: &str = "[[accounts]]\nname = \"main\"\n";

#[test]
fn empty_environment_gives_defaults_and_one_default_sandbox_account() {
    let config = Config::from_toml_str("", &HashMap::new()).unwrap();

    assert_eq!(config.listeners.grpc.to_string(), DEFAULT_GRPC_LISTEN_ADDR);
    assert_eq!(
        config.listeners.webhook.to_string(),
        DEFAULT_WEBHOOK_LISTEN_ADDR
    );
    assert_eq!(
        config.listeners.admin.to_string(),
        DEFAULT_ADMIN_LISTEN_ADDR
    );
    assert_eq!(config.server.drain_timeout, Duration::from_secs(10));
    assert_eq!(config.server.handler_timeout, Duration::from_secs(60));
    assert_eq!(config.server.max_in_flight_per_connection, 256);
    assert_eq!(config.server.sandbox_latency, Duration::ZERO);
    assert_eq!(config.server.worker_threads, None);
    assert_eq!(config.server.public_webhook_base_url, None);
    assert_eq!(config.storage.data_dir, PathBuf::from("./data"));
    assert_eq!(
        config.storage.idempotency_retention,
        Duration::from_secs(24 * 3600)
    );
    assert_eq!(config.telemetry.log_filter, "info");
    assert_eq!(config.telemetry.log_format, LogFormat::Text);
    assert!(config.auth.tokens.is_empty());
    assert!(config.auth.open_health_and_reflection);
    assert!(config.sandbox);
    assert_eq!(config.accounts.len(), 1);
    let sandbox = config.default_account().unwrap();
    assert_eq!(
        (sandbox.name.as_str(), sandbox.dialect),
        ("sandbox", Dialect::Sandbox)
    );
    assert!(sandbox.default);
    assert_eq!(sandbox.base_url, "sandbox://local");
    assert_eq!(sandbox.limits, UpstreamLimits::default());
}

#[test]
fn environment_beats_file_and_command_line_beats_environment() {
    let file = secret_file(
        r#"
        [listeners]
        grpc = "127.0.0.1:1001"
        webhook = "127.0.0.1:1002"
        admin = "127.0.0.1:1003"
        [server]
        drain_timeout = "3s"
        [storage]
        data_dir = "/file"
        [telemetry]
        log = "debug"
        "#,
    );
    let sources = ConfigSources {
        file: None,
        env: env(&[
            (ENV_CONFIG_FILE, file.path().to_str().unwrap()),
            (ENV_GRPC_LISTEN_ADDR, "127.0.0.1:2001"),
            (ENV_WEBHOOK_LISTEN_ADDR, "127.0.0.1:2002"),
            (ENV_DATA_DIR, "/env"),
            (ENV_LOG_FORMAT, "json"),
        ]),
        overrides: CliOverrides {
            grpc_listen: Some("127.0.0.1:3001".parse().unwrap()),
            data_dir: Some(PathBuf::from("/cli")),
            ..CliOverrides::default()
        },
    };

    let config = Config::load(&sources).unwrap();

    assert_eq!(config.listeners.grpc.port(), 3001, "CLI beats env");
    assert_eq!(config.listeners.webhook.port(), 2002, "env beats file");
    assert_eq!(config.listeners.admin.port(), 1003, "file beats default");
    assert_eq!(config.storage.data_dir, PathBuf::from("/cli"));
    assert_eq!(config.server.drain_timeout, Duration::from_secs(3));
    assert_eq!(config.server.handler_timeout, Duration::from_secs(60));
    assert_eq!(config.telemetry.log_filter, "debug");
    assert_eq!(config.telemetry.log_format, LogFormat::Json);
}

#[test]
fn idempotency_retention_comes_from_the_environment_then_the_file() {
    let file = "[storage]\nidempotency_retention = \"2h\"\n";

    let from_file = Config::from_toml_str(file, &HashMap::new()).unwrap();
    let from_env =
        Config::from_toml_str(file, &env(&[(ENV_IDEMPOTENCY_RETENTION, "90m")])).unwrap();
    let zero = Config::from_toml_str(
        "[storage]\nidempotency_retention = \"0s\"\n",
        &HashMap::new(),
    );

    assert_eq!(
        from_file.storage.idempotency_retention,
        Duration::from_secs(2 * 3600)
    );
    assert_eq!(
        from_env.storage.idempotency_retention,
        Duration::from_secs(90 * 60)
    );
    let error = zero.unwrap_err().to_string();
    assert!(error.contains("storage.idempotency_retention"), "{error}");
}

#[test]
fn explicit_file_path_wins_over_the_config_file_variable() {
    let chosen = secret_file("[telemetry]\nlog = \"warn\"\n");
    let sources = ConfigSources {
        file: Some(chosen.path().to_owned()),
        env: env(&[(ENV_CONFIG_FILE, "/does/not/exist.toml")]),
        overrides: CliOverrides::default(),
    };

    assert_eq!(Config::load(&sources).unwrap().telemetry.log_filter, "warn");
}

#[test]
fn missing_config_file_is_an_error_naming_its_path() {
    let sources = ConfigSources {
        env: env(&[(ENV_CONFIG_FILE, "/does/not/exist.toml")]),
        ..ConfigSources::default()
    };

    let error = Config::load(&sources).unwrap_err();

    assert!(matches!(error, ConfigError::File { .. }));
    assert!(
        error.to_string().contains("/does/not/exist.toml"),
        "{error}"
    );
}

#[test]
fn api_key_comes_from_the_variable_the_file_names() {
    let text = format!("{MAIN_ACCOUNT}api_key_env = \"MY_KEY\"\n");

    let config = Config::from_toml_str(&text, &env(&[("MY_KEY", "k-from-env")])).unwrap();

    let main = config.account("main").unwrap();
    assert_eq!(main.api_key.as_ref().unwrap().expose_secret(), "k-from-env");
    assert_eq!(main.dialect, Dialect::WazzupV3);
    assert_eq!(main.base_url, "https://api.wazzup24.com");
    assert!(!config.sandbox);
    assert_eq!(config.default_account().unwrap().name, "main");
}

#[test]
fn secrets_from_files_are_trimmed() {
    let key = secret_file("k-from-file\n\n");
    let crm = secret_file("crm-from-file \r\n");
    let text = format!(
        "{MAIN_ACCOUNT}api_key_file = {:?}\ncrm_key_file = {:?}\n",
        key.path(),
        crm.path()
    );

    let config = Config::from_toml_str(&text, &HashMap::new()).unwrap();

    let main = config.account("main").unwrap();
    assert_eq!(
        main.api_key.as_ref().unwrap().expose_secret(),
        "k-from-file"
    );
    assert_eq!(
        main.crm_key.as_ref().unwrap().expose_secret(),
        "crm-from-file"
    );
}

#[test]
fn an_api_key_given_both_as_a_value_and_as_a_file_is_refused_naming_both() {
    let vars = env(&[
        ("WGW_ACCOUNT_MAIN_API_KEY", "k-value"),
        ("WGW_ACCOUNT_MAIN_API_KEY_FILE", "/nonexistent/key"),
    ]);

    let error = Config::from_toml_str("[[accounts]]\nname = \"main\"\n", &vars)
        .unwrap_err()
        .to_string();

    assert_eq!(
        error,
        "WGW_ACCOUNT_MAIN_API_KEY / WGW_ACCOUNT_MAIN_API_KEY_FILE: expected at most one of the two"
    );
}

#[test]
fn secrets_default_to_the_per_account_variables() {
    let key = secret_file("k-file\n");
    let vars = env(&[
        (
            "WGW_ACCOUNT_MAIN_RU_API_KEY_FILE",
            key.path().to_str().unwrap(),
        ),
        ("WGW_ACCOUNT_MAIN_RU_WEBHOOK_SECRET", "hook-secret"),
        ("WGW_ACCOUNT_MAIN_RU_BASE_URL", "http://127.0.0.1:9999/"),
    ]);

    let config = Config::from_toml_str("[[accounts]]\nname = \"main-ru\"\n", &vars).unwrap();

    let account = config.account("main-ru").unwrap();
    assert_eq!(account.api_key.as_ref().unwrap().expose_secret(), "k-file");
    assert_eq!(
        account.webhook_secret.as_ref().unwrap().expose_secret(),
        "hook-secret"
    );
    assert!(account.crm_key.is_none());
    assert_eq!(account.base_url, "http://127.0.0.1:9999");
}

#[test]
fn per_account_variable_beats_the_file_entry() {
    let text = format!("{MAIN_ACCOUNT}api_key_env = \"MY_KEY\"\n");
    let vars = env(&[
        ("MY_KEY", "from-file-entry"),
        ("WGW_ACCOUNT_MAIN_API_KEY", "from-override"),
    ]);

    let config = Config::from_toml_str(&text, &vars).unwrap();

    let key = config.accounts[0].api_key.as_ref().unwrap();
    assert_eq!(key.expose_secret(), "from-override");
}

#[test]
fn missing_api_key_error_names_the_setting() {
    let error = load_err(MAIN_ACCOUNT, &[]);

    assert_eq!(
        error,
        "accounts[0].api_key (or WGW_ACCOUNT_MAIN_API_KEY) must be set because \
         dialect wazzup_v3 calls an upstream API that needs a key"
    );
}

#[test]
fn unreadable_secret_file_error_names_the_key_the_path_and_the_reason() {
    let text = format!("{MAIN_ACCOUNT}api_key_file = \"/no/such/key\"\n");

    let error = load_err(&text, &[]);

    assert_eq!(
        error,
        "accounts[0].api_key_file: cannot read the secret file /no/such/key: \
         No such file or directory (os error 2)"
    );
}

#[test]
fn invalid_grpc_listen_addr_error_names_the_variable() {
    let error = load_err("", &[(ENV_GRPC_LISTEN_ADDR, "localhost")]);

    assert_eq!(
        error,
        "WGW_GRPC_LISTEN_ADDR: expected a socket address such as 127.0.0.1:50051"
    );
}

#[test]
fn worker_threads_come_from_the_environment_or_the_file_and_zero_means_one_per_cpu() {
    let from_file = Config::from_toml_str("[server]\nworker_threads = 1\n", &env(&[])).unwrap();
    let from_env = Config::from_toml_str(
        "[server]\nworker_threads = 1\n",
        &env(&[(ENV_WORKER_THREADS, "3")]),
    )
    .unwrap();
    let zero = Config::from_toml_str("", &env(&[(ENV_WORKER_THREADS, "0")])).unwrap();
    let error = load_err("", &[(ENV_WORKER_THREADS, "many")]);

    assert_eq!(from_file.server.worker_threads, NonZeroUsize::new(1));
    assert_eq!(from_env.server.worker_threads, NonZeroUsize::new(3));
    assert_eq!(zero.server.worker_threads, None);
    assert_eq!(
        error,
        "WGW_WORKER_THREADS: expected a whole number such as 0, 1 or 4"
    );
}

#[test]
fn invalid_file_values_name_the_file_key() {
    let error = load_err("[server]\ndrain_timeout = \"0s\"\n", &[]);

    assert_eq!(
        error,
        "server.drain_timeout: expected a duration greater than zero such as 250ms or 10s"
    );
    let error = load_err(
        &format!("{MAIN_ACCOUNT}[accounts.limits]\nmax_concurrency = 0\n"),
        &[("WGW_ACCOUNT_MAIN_API_KEY", "k")],
    );
    assert_eq!(
        error,
        "accounts[0].limits.max_concurrency: expected a number greater than zero"
    );
}

#[test]
fn unknown_toml_key_is_rejected_by_name() {
    let error = load_err("[server]\ndrain_timout = \"5s\"\n", &[]);

    assert!(
        error.starts_with("<inline>: line 2, column 1: unknown field `drain_timout`"),
        "{error}"
    );
}

#[test]
fn duplicate_account_names_are_rejected() {
    let text = format!("{MAIN_ACCOUNT}{MAIN_ACCOUNT}");

    let error = load_err(&text, &[("WGW_ACCOUNT_MAIN_API_KEY", "k")]);

    assert_eq!(error, "accounts[1].name: duplicate value `main`");
}

#[test]
fn names_that_share_a_variable_name_are_rejected() {
    let text = "[[accounts]]\nname = \"a-b\"\n[[accounts]]\nname = \"a_b\"\n";

    let error = load_err(text, &[("WGW_ACCOUNT_A_B_API_KEY", "k")]);

    assert!(
        error.starts_with("accounts[1].name (as the <NAME>"),
        "{error}"
    );
}

#[test]
fn two_default_accounts_are_rejected() {
    let text =
        "[[accounts]]\nname = \"a\"\ndefault = true\n[[accounts]]\nname = \"b\"\ndefault = true\n";

    let error = load_err(
        text,
        &[
            ("WGW_ACCOUNT_A_API_KEY", "k"),
            ("WGW_ACCOUNT_B_API_KEY", "k"),
        ],
    );

    assert_eq!(
        error,
        "accounts[1].default: expected at most one account with default = true \
         (`a` and `b` both are)"
    );
}

#[test]
fn base_url_must_be_http_or_https() {
    let text = format!("{MAIN_ACCOUNT}base_url = \"ftp://files.example.com\"\n");

    let error = load_err(&text, &[("WGW_ACCOUNT_MAIN_API_KEY", "k")]);

    assert!(
        error.starts_with("accounts[0].base_url: expected an http or https URL"),
        "{error}"
    );
}

#[test]
fn invalid_account_name_is_rejected() {
    let error = load_err("[[accounts]]\nname = \"Main\"\n", &[]);

    assert!(
        error.starts_with("accounts[0].name: expected 1 to 63 characters"),
        "{error}"
    );
}

#[test]
fn wazzup_api_key_shortcut_defines_a_default_account() {
    let vars = env(&[
        (ENV_WAZZUP_API_KEY, "k-shortcut"),
        (ENV_WAZZUP_BASE_URL, "https://wazzup.test/"),
    ]);

    let config = Config::from_toml_str("", &vars).unwrap();

    assert_eq!(config.accounts.len(), 1);
    assert!(!config.sandbox);
    let account = config.default_account().unwrap();
    assert_eq!(
        (account.name.as_str(), account.dialect),
        ("wazzup", Dialect::WazzupV3)
    );
    assert!(account.default);
    assert_eq!(account.base_url, "https://wazzup.test");
    assert_eq!(
        account.api_key.as_ref().unwrap().expose_secret(),
        "k-shortcut"
    );
}

#[test]
fn wazzup_api_key_shortcut_conflicts_with_file_accounts() {
    let vars = [(ENV_WAZZUP_API_KEY, "k"), ("WGW_ACCOUNT_MAIN_API_KEY", "k")];

    let error = load_err(MAIN_ACCOUNT, &vars);

    assert!(
        error.starts_with("WGW_WAZZUP_API_KEY: expected to be unset"),
        "{error}"
    );
}

#[test]
fn sandbox_flag_adds_a_non_default_sandbox_next_to_a_default_account() {
    let text = format!("{MAIN_ACCOUNT}default = true\n");
    let vars = env(&[("WGW_ACCOUNT_MAIN_API_KEY", "k"), (ENV_SANDBOX, "1")]);

    let config = Config::from_toml_str(&text, &vars).unwrap();

    assert!(config.sandbox);
    let names: Vec<_> = config
        .accounts
        .iter()
        .map(|a| (a.name.as_str(), a.default))
        .collect();
    assert_eq!(names, [("main", true), ("sandbox", false)]);
}

#[test]
fn command_line_sandbox_becomes_default_when_no_account_is() {
    let file = secret_file(MAIN_ACCOUNT);
    let sources = ConfigSources {
        env: env(&[("WGW_ACCOUNT_MAIN_API_KEY", "k")]),
        file: Some(file.path().to_owned()),
        overrides: CliOverrides {
            sandbox: true,
            ..CliOverrides::default()
        },
    };

    let config = Config::load(&sources).unwrap();

    assert_eq!(config.default_account().unwrap().name, "sandbox");
}

#[test]
fn account_named_sandbox_must_use_the_sandbox_dialect() {
    let error = load_err(
        "[[accounts]]\nname = \"sandbox\"\ndialect = \"devino\"\n",
        &[],
    );

    assert!(
        error.starts_with("accounts[0].dialect: expected sandbox"),
        "{error}"
    );
}

#[test]
fn stray_per_account_variable_is_rejected() {
    let error = load_err("", &[("WGW_ACCOUNT_MIAN_API_KEY", "k")]);

    assert!(
        error.starts_with("WGW_ACCOUNT_MIAN_API_KEY: expected the <NAME>"),
        "{error}"
    );
}

#[test]
fn blank_variables_count_as_unset() {
    let config =
        Config::from_toml_str("", &env(&[(ENV_WAZZUP_API_KEY, ""), (ENV_LOG, " ")])).unwrap();

    assert_eq!(config.accounts[0].name, "sandbox");
    assert_eq!(config.telemetry.log_filter, "info");
}

#[test]
fn caller_tokens_come_from_the_file_and_the_shortcut_variable() {
    let token = secret_file("t-billing\n");
    let text = format!(
        r#"{MAIN_ACCOUNT}
        [[auth.tokens]]
        name = "billing"
        token_file = {:?}
        accounts = ["main"]
        services = ["wazzup_gateway.v1.MessageService"]
        requests_per_second = 50
        max_streams = 0
        "#,
        token.path()
    );
    let vars = env(&[("WGW_ACCOUNT_MAIN_API_KEY", "k"), (ENV_AUTH_TOKEN, "t-all")]);

    let config = Config::from_toml_str(&text, &vars).unwrap();

    let [billing, all] = config.auth.tokens.as_slice() else {
        panic!("two tokens expected: {:?}", config.auth.tokens);
    };
    assert_eq!(
        (billing.name.as_str(), billing.token.expose_secret()),
        ("billing", "t-billing")
    );
    assert!(billing.allows_account("main") && !billing.allows_account("other"));
    assert!(!billing.allows_service("wazzup_gateway.v1.ChannelService"));
    assert_eq!(
        (all.name.as_str(), all.token.expose_secret()),
        ("default", "t-all")
    );
    assert!(all.allows_account("anything") && all.allows_service("anything"));
    assert_eq!(
        billing.limits,
        crate::config::CallerLimitOverrides {
            requests_per_second: Some(50),
            request_burst: None,
            max_streams: Some(0),
        }
    );
    assert_eq!(all.limits, crate::config::CallerLimitOverrides::default());
}

#[test]
fn caller_token_for_an_unknown_account_is_rejected() {
    let text = "[[auth.tokens]]\nname = \"ops\"\ntoken_env = \"OPS\"\naccounts = [\"nope\"]\n";

    let error = load_err(text, &[("OPS", "t")]);

    assert_eq!(
        error,
        "auth.tokens[0].accounts: expected names of configured accounts (`nope` is not one)"
    );
}

#[test]
fn caller_token_bound_to_a_client_certificate_needs_mutual_tls() {
    let text = "[[auth.tokens]]\nname = \"ops\"\ntoken_env = \"OPS\"\n\
                client_cert_names = [\"ops.internal\"]\n";
    let tls = [
        ("OPS", "t"),
        ("WGW_GRPC_TLS_CERT_FILE", "/tls/cert.pem"),
        ("WGW_GRPC_TLS_KEY_FILE", "/tls/key.pem"),
    ];

    assert_eq!(
        load_err(text, &tls),
        "auth.tokens[0].client_cert_names: expected empty unless WGW_GRPC_TLS_CLIENT_CA_FILE \
         turns on mutual TLS"
    );
    let mutual = [
        tls.as_slice(),
        &[("WGW_GRPC_TLS_CLIENT_CA_FILE", "/tls/ca.pem")],
    ]
    .concat();
    let config = Config::from_toml_str(text, &env(&mutual)).unwrap();
    assert_eq!(config.auth.tokens[0].client_cert_names, ["ops.internal"]);
}

#[test]
fn caller_token_needs_exactly_one_source() {
    let both = "[[auth.tokens]]\nname = \"a\"\ntoken_env = \"A\"\ntoken_file = \"/a\"\n";
    let neither = "[[auth.tokens]]\nname = \"a\"\n";

    assert!(
        load_err(both, &[]).starts_with("auth.tokens[0].token_env / auth.tokens[0].token_file")
    );
    assert!(
        load_err(neither, &[])
            .starts_with("auth.tokens[0].token_env or auth.tokens[0].token_file must be set")
    );
}

#[test]
fn debug_summary_and_errors_never_show_secrets() {
    let key_file = secret_file("SECRET-FILE-KEY-5e1f\n");
    let text = format!(
        r#"{MAIN_ACCOUNT}
        default = true
        api_key_file = {:?}
        [[accounts]]
        name = "tech"
        dialect = "wazzup_tech"
        [[auth.tokens]]
        name = "billing"
        token_env = "TOKEN_BILLING"
        "#,
        key_file.path()
    );
    let vars = env(&[
        ("WGW_ACCOUNT_MAIN_WEBHOOK_SECRET", "SECRET-HOOK-77aa"),
        ("WGW_ACCOUNT_MAIN_CRM_KEY", "SECRET-CRM-0b0b"),
        ("WGW_ACCOUNT_TECH_API_KEY", "SECRET-TECH-9c9c"),
        ("TOKEN_BILLING", "SECRET-TOKEN-3d3d"),
        (ENV_AUTH_TOKEN, "SECRET-DEFAULT-4e4e"),
    ]);
    let secrets = [
        "SECRET-FILE-KEY-5e1f",
        "SECRET-HOOK-77aa",
        "SECRET-CRM-0b0b",
        "SECRET-TECH-9c9c",
        "SECRET-TOKEN-3d3d",
        "SECRET-DEFAULT-4e4e",
    ];

    let config = Config::from_toml_str(&text, &vars).unwrap();
    let sources = ConfigSources {
        env: vars.clone(),
        ..ConfigSources::default()
    };

    let debug = format!("{config:?}");
    let summary = config.summary();
    let sources_debug = format!("{sources:?}");
    for shown in [&debug, &summary, &sources_debug] {
        for secret in &secrets {
            assert!(!shown.contains(secret), "{secret} leaked in:\n{shown}");
        }
    }
    let main_line = "  main (default): dialect wazzup_v3, base URL https://api.wazzup24.com, \
                     api key set, webhook secret set, crm key set, ";
    let tech_line = "  tech: dialect wazzup_tech, base URL https://tech.wazzup24.com, \
                     api key set, webhook secret not set, crm key not set, ";
    assert!(summary.contains(main_line), "{summary}");
    assert!(summary.contains(tech_line), "{summary}");
    assert!(
        summary.contains(
            "  billing: accounts all; services all; no rate limit, no stream limit\n  \
             default: accounts all"
        ),
        "{summary}"
    );
}

#[test]
fn the_summary_shows_tls_limits_and_certificate_bound_tokens() {
    let text = "[limits]\ncaller_requests_per_second = 5\ncaller_request_burst = 10\n\
                caller_max_streams = 2\ngrpc_max_concurrent_streams = 8\n\
                [[auth.tokens]]\nname = \"ops\"\ntoken_env = \"OPS\"\n\
                client_cert_names = [\"ops.internal\", \"ops-2\"]\nmax_streams = 0\n";
    let vars = [
        ("OPS", "SECRET-OPS-5a5a"),
        ("WGW_GRPC_TLS_CERT_FILE", "/tls/grpc.pem"),
        ("WGW_GRPC_TLS_KEY_FILE", "/tls/grpc-key.pem"),
        ("WGW_GRPC_TLS_CLIENT_CA_FILE", "/tls/ca.pem"),
        ("WGW_WEBHOOK_TLS_CERT_FILE", "/tls/hooks.pem"),
        ("WGW_WEBHOOK_TLS_KEY_FILE", "/tls/hooks-key.pem"),
    ];

    let summary = Config::from_toml_str(text, &env(&vars)).unwrap().summary();

    for line in [
        "(mutual TLS, certificate /tls/grpc.pem, client CA /tls/ca.pem)",
        "(HTTPS, certificate /tls/hooks.pem)",
        "per connection: 256 in flight, 8 HTTP/2 streams",
        "per caller token: 5/s (burst 10), 2 streams",
        "  ops: accounts all; services all; 5/s (burst 10), no stream limit; \
         client certificate ops.internal or ops-2",
    ] {
        assert!(summary.contains(line), "{line} in:\n{summary}");
    }
    assert!(!summary.contains("SECRET-OPS-5a5a"), "{summary}");
}

#[test]
fn errors_never_echo_secret_values() {
    let text = "[[auth.tokens]]\nname = \"a\"\ntoken_env = \"PASTED-TOKEN-8f8f\"\n";
    assert!(!load_err(text, &[]).contains("PASTED-TOKEN-8f8f"));

    let text = "[telemetry]\nlog_format = \"PASTED-TOKEN-8f8f\"\n";
    assert!(!load_err(text, &[]).contains("PASTED-TOKEN-8f8f"));

    let text = "[[accounts]]\nname = \"main\"\napi_key = \"PASTED-TOKEN-8f8f\"\n";
    let error = load_err(text, &[]);
    assert!(
        !error.contains("PASTED-TOKEN-8f8f") && error.contains("unknown field `api_key`"),
        "{error}"
    );

    let text = "[server]\nmax_in_flight_per_connection = \"PASTED-TOKEN-8f8f\"\n";
    assert!(!load_err(text, &[]).contains("PASTED-TOKEN-8f8f"));
}

#[test]
fn settings_list_every_env_constant_in_order() {
    let sources = [
        include_str!("../config.rs"),
        include_str!("account.rs"),
        include_str!("auth.rs"),
        include_str!("process.rs"),
        include_str!("roster.rs"),
        include_str!("settings.rs"),
    ];
    let declared: Vec<&str> = sources
        .iter()
        .flat_map(|source| source.lines())
        .filter_map(|line| line.strip_prefix("pub(crate) const ENV_"))
        .filter_map(|rest| rest.split('"').nth(1))
        .collect();
    assert_eq!(declared.len(), 24, "{declared:?}");
    for env_name in declared {
        assert!(
            SETTINGS.iter().any(|setting| setting.env == env_name),
            "{env_name} missing from SETTINGS"
        );
    }
    let env_order: Vec<&str> = SETTINGS
        .iter()
        .map(|s| s.env)
        .filter(|e| !e.is_empty())
        .collect();
    assert_eq!(env_order.first(), Some(&ENV_CONFIG_FILE));
    assert_eq!(env_order.last(), Some(&ENV_WAZZUP_BASE_URL));
    let help = settings_help();
    assert!(
        SETTINGS
            .iter()
            .all(|setting| help.contains(setting.env) && help.contains(setting.file_key))
    );
}

#[test]
fn documented_defaults_match_the_typed_defaults() {
    let default_of = |file_key: &str| {
        SETTINGS
            .iter()
            .find(|setting| setting.file_key == file_key)
            .unwrap()
            .default
    };
    let limits = UpstreamLimits::default();
    let duration = |text: &str| humantime::parse_duration(text).unwrap();
    assert_eq!(
        default_of("accounts[].limits.requests_per_window"),
        limits.requests_per_window.to_string()
    );
    assert_eq!(
        duration(default_of("accounts[].limits.rate_window")),
        limits.rate_window
    );
    assert_eq!(
        default_of("accounts[].limits.max_concurrency"),
        limits.max_concurrency.to_string()
    );
    assert_eq!(
        duration(default_of("accounts[].limits.request_timeout")),
        limits.request_timeout
    );
    assert_eq!(
        duration(default_of("accounts[].limits.connect_timeout")),
        limits.connect_timeout
    );
    assert_eq!(
        default_of("server.max_in_flight_per_connection"),
        DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION.to_string()
    );
    assert_eq!(
        default_of("auth.open_health_and_reflection"),
        DEFAULT_OPEN_HEALTH_AND_REFLECTION.to_string()
    );
}

#[test]
fn dialect_names_round_trip() {
    for dialect in Dialect::ALL {
        assert_eq!(Dialect::parse(&dialect.to_string()), Some(dialect));
        let json = serde_json::to_string(&dialect).unwrap();
        assert_eq!(json, format!("\"{dialect}\""));
    }
    assert_eq!(
        Dialect::Devino.default_base_url(),
        "https://api.devino.online"
    );
}
