use std::collections::HashMap;

use secrecy::ExposeSecret;

use super::*;
use crate::config::{Config, EventsBackend, SETTINGS};

/// A file, an environment and what the error starts with.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn nats_of(file: &str, pairs: &[(&str, &str)]) -> Result<Option<NatsConfig>, ConfigError> {
    Config::from_toml_str(file, &env(pairs)).map(|config| config.nats)
}

#[test]
fn without_a_url_there_is_no_nats_and_the_embedded_backend_needs_none() {
    let config = Config::from_toml_str("", &HashMap::new()).unwrap();
    assert!(config.nats.is_none());
    assert_eq!(config.events.backend, EventsBackend::Embedded);
    assert!(config.summary().contains("\nnats: not configured\n"));
}

#[test]
fn a_url_alone_gives_the_documented_defaults() {
    let nats = nats_of("", &[(ENV_NATS_URL, "nats://10.0.0.1:4222, tls://nats-b")])
        .unwrap()
        .unwrap();

    assert_eq!(nats.servers, ["nats://10.0.0.1:4222", "tls://nats-b"]);
    assert!(matches!(nats.auth, NatsAuth::None));
    assert_eq!(nats.tls_ca_file, None);
    assert_eq!(nats.stream, "WGW_EVENTS");
    assert_eq!(nats.replicas, 1);
    assert_eq!(nats.event_ids_bucket, "wgw_event_ids");
    assert_eq!(nats.consumers_bucket, "wgw_consumers");
    assert_eq!(nats.idempotency_bucket, "wgw_idempotency");
    assert_eq!(nats.rate_budget_bucket, "wgw_rate_budget");
    assert_eq!(nats.dedupe_window, Duration::from_secs(120));
}

#[test]
fn the_file_sets_every_key_and_the_environment_wins() {
    let file = "[nats]\nurl = \"nats://file:4222\"\nstream = \"EV\"\nreplicas = 3\n\
                event_ids_bucket = \"ids\"\nconsumers_bucket = \"cons\"\n\
                idempotency_bucket = \"idem\"\nrate_budget_bucket = \"rate\"\n\
                dedupe_window = \"5m\"\n\
                tls_ca_file = \"/tls/ca.pem\"\n";
    let nats = nats_of(file, &[(ENV_NATS_STREAM, "FROM_ENV")])
        .unwrap()
        .unwrap();

    assert_eq!(nats.servers, ["nats://file:4222"]);
    assert_eq!(nats.stream, "FROM_ENV");
    assert_eq!(nats.replicas, 3);
    assert_eq!(
        [
            nats.event_ids_bucket.as_str(),
            &nats.consumers_bucket,
            &nats.idempotency_bucket,
            &nats.rate_budget_bucket
        ],
        ["ids", "cons", "idem", "rate"]
    );
    assert_eq!(nats.dedupe_window, Duration::from_secs(300));
    assert_eq!(nats.tls_ca_file, Some(PathBuf::from("/tls/ca.pem")));
}

#[test]
fn unusable_values_name_their_setting() {
    let url = (ENV_NATS_URL, "nats://127.0.0.1:4222");
    let table: [Case<'_>; 9] = [
        ("", &[(ENV_NATS_URL, "http://nats:4222")], ENV_NATS_URL),
        ("", &[(ENV_NATS_URL, "nats://u:p@nats:4222")], ENV_NATS_URL),
        ("", &[(ENV_NATS_URL, "nats://a:4222,")], ENV_NATS_URL),
        ("", &[url, (ENV_NATS_REPLICAS, "2")], ENV_NATS_REPLICAS),
        ("", &[url, (ENV_NATS_STREAM, "a.b")], ENV_NATS_STREAM),
        (
            "",
            &[url, (ENV_NATS_DEDUPE_WINDOW, "0s")],
            ENV_NATS_DEDUPE_WINDOW,
        ),
        (
            "[events]\nretention_max_age = \"1m\"\n",
            &[url],
            "nats.dedupe_window",
        ),
        (
            "[events]\nbackend = \"nats\"\n",
            &[],
            "nats.url (or WGW_NATS_URL) must be set because events.backend is nats",
        ),
        (
            "[nats]\nurl = \"nats://a\"\nidempotency_bucket = \"x y\"\n",
            &[],
            "nats.idempotency_bucket",
        ),
    ];
    for (file, pairs, key) in table {
        let error = nats_of(file, pairs).unwrap_err().to_string();
        assert!(error.starts_with(key), "{file} {pairs:?}: {error}");
    }
}

#[test]
fn each_authentication_method_is_read_from_its_variable_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "pw-from-file\n").unwrap();
    let creds_file = dir.path().join("gw.creds");
    std::fs::write(&creds_file, "-----BEGIN NATS USER JWT-----\njwt\n").unwrap();
    let url = (ENV_NATS_URL, "nats://127.0.0.1:4222");

    let file = format!(
        "[nats]\nuser = \"gw\"\npassword_file = \"{}\"\n",
        password_file.display()
    );
    let NatsAuth::UserPassword { user, password } = nats_of(&file, &[url]).unwrap().unwrap().auth
    else {
        panic!("user and password expected");
    };
    assert_eq!(
        (user.as_str(), password.expose_secret()),
        ("gw", "pw-from-file")
    );

    let from_env = nats_of("", &[url, (ENV_NATS_TOKEN, "tok-1")])
        .unwrap()
        .unwrap();
    assert!(matches!(&from_env.auth, NatsAuth::Token(token) if token.expose_secret() == "tok-1"));
    let named_env = "[nats]\ntoken_env = \"MY_TOKEN\"\n";
    let from_named = nats_of(named_env, &[url, ("MY_TOKEN", "tok-2")])
        .unwrap()
        .unwrap();
    assert!(matches!(&from_named.auth, NatsAuth::Token(token) if token.expose_secret() == "tok-2"));

    let creds = creds_file.display().to_string();
    let from_creds = nats_of("", &[url, (ENV_NATS_CREDENTIALS_FILE, &creds)])
        .unwrap()
        .unwrap();
    assert!(matches!(
        &from_creds.auth,
        NatsAuth::Credentials(content) if content.expose_secret().ends_with("\njwt")
    ));
}

#[test]
fn two_methods_or_half_a_user_password_are_refused() {
    let url = (ENV_NATS_URL, "nats://127.0.0.1:4222");
    let table: [(&[(&str, &str)], &str); 3] = [
        (
            &[
                url,
                (ENV_NATS_TOKEN, "t"),
                (ENV_NATS_USER, "u"),
                (ENV_NATS_PASSWORD, "p"),
            ],
            "nats.user / password, nats.token, nats.credentials_file: expected at most one",
        ),
        (
            &[url, (ENV_NATS_USER, "u")],
            "nats.password_file (or WGW_NATS_PASSWORD) must be set",
        ),
        (
            &[url, (ENV_NATS_PASSWORD, "p")],
            "nats.user (or WGW_NATS_USER) must be set",
        ),
    ];
    for (pairs, start) in table {
        let error = nats_of("", pairs).unwrap_err().to_string();
        assert!(error.starts_with(start), "{pairs:?}: {error}");
    }
}

#[test]
fn secrets_never_reach_debug_the_summary_or_errors() {
    let pairs = [
        (ENV_NATS_URL, "nats://127.0.0.1:4222"),
        (ENV_NATS_USER, "gw"),
        (ENV_NATS_PASSWORD, "hunter2-secret"),
        (ENV_EVENTS_BACKEND_NAME, "nats"),
    ];
    let config = Config::from_toml_str("", &env(&pairs)).unwrap();

    let summary = config.summary();
    for shown in [format!("{config:?}"), summary.clone()] {
        assert!(!shown.contains("hunter2-secret"), "{shown}");
    }
    assert!(
        summary.contains(
            "\nnats: nats://127.0.0.1:4222; stream WGW_EVENTS (R1, dedupe window 2m); buckets \
             wgw_event_ids, wgw_consumers, wgw_idempotency, wgw_rate_budget; auth user gw with \
             password (set); tls CA none\n"
        ),
        "{summary}"
    );
    let missing_file = "[nats]\nurl = \"nats://a\"\ntoken_file = \"/nonexistent/token\"\n";
    let error = nats_of(missing_file, &[]).unwrap_err().to_string();
    assert!(
        error.starts_with("nats.token_file: cannot read the secret file /nonexistent/token"),
        "{error}"
    );
}

#[test]
fn every_nats_setting_is_documented() {
    for setting in NATS_SETTINGS {
        assert!(SETTINGS.contains(&setting), "{}", setting.file_key);
    }
    for file_only in ["nats.password_env", "nats.token_env"] {
        assert!(
            SETTINGS.iter().any(|setting| setting.file_key == file_only),
            "{file_only}"
        );
    }
}

/// The backend variable, spelled out so this test reads on its own.
const ENV_EVENTS_BACKEND_NAME: &str = "WGW_EVENTS_BACKEND";
