//! The catalogue of settings, from which `--help` and the README table are generated.

use super::{
    account, auth,
    doc::{SettingDoc, file_only},
    events, limits, nats, process, roster, tls, upstream_tuning, webhooks,
};

/// Every setting: first those with an environment variable, then the file-only ones.
///
/// Precedence is command line, then environment, then file, then default.
pub const SETTINGS: &[SettingDoc] = &[
    super::CONFIG_FILE,
    process::GRPC_LISTEN_ADDR,
    process::WEBHOOK_LISTEN_ADDR,
    process::ADMIN_LISTEN_ADDR,
    tls::GRPC_TLS_CERT_FILE,
    tls::GRPC_TLS_KEY_FILE,
    tls::GRPC_TLS_CLIENT_CA_FILE,
    tls::WEBHOOK_TLS_CERT_FILE,
    tls::WEBHOOK_TLS_KEY_FILE,
    limits::GRPC_MAX_CONCURRENT_STREAMS,
    limits::CALLER_REQUESTS_PER_SECOND,
    limits::CALLER_REQUEST_BURST,
    limits::CALLER_MAX_STREAMS,
    process::DATA_DIR,
    process::IDEMPOTENCY_RETENTION,
    process::DRAIN_TIMEOUT,
    process::HANDLER_TIMEOUT,
    process::PUBLIC_WEBHOOK_BASE_URL,
    roster::SANDBOX,
    process::SANDBOX_LATENCY,
    process::WORKER_THREADS,
    process::LOG,
    process::LOG_FORMAT,
    events::EVENTS_SETTINGS[0],
    events::EVENTS_SETTINGS[1],
    events::EVENTS_SETTINGS[2],
    nats::NATS_SETTINGS[0],
    nats::NATS_SETTINGS[1],
    nats::NATS_SETTINGS[2],
    nats::NATS_SETTINGS[3],
    nats::NATS_SETTINGS[4],
    nats::NATS_SETTINGS[5],
    nats::NATS_SETTINGS[6],
    nats::NATS_SETTINGS[7],
    nats::NATS_SETTINGS[8],
    nats::NATS_SETTINGS[9],
    nats::NATS_SETTINGS[10],
    nats::NATS_SETTINGS[11],
    nats::NATS_SETTINGS[12],
    webhooks::WEBHOOK_MAX_BODY_BYTES,
    webhooks::WEBHOOK_MAX_EVENT_BYTES,
    webhooks::WEBHOOK_REQUEST_TIMEOUT,
    webhooks::CRM_RESPONSE_TIMEOUT,
    webhooks::WEBHOOK_HEADER_READ_TIMEOUT,
    webhooks::WEBHOOK_MAX_CONNECTIONS,
    auth::AUTH_TOKEN,
    account::ACCOUNT_SETTINGS[0],
    account::ACCOUNT_SETTINGS[1],
    account::ACCOUNT_SETTINGS[2],
    account::ACCOUNT_SETTINGS[3],
    account::ACCOUNT_SETTINGS[4],
    account::ACCOUNT_SETTINGS[5],
    account::ACCOUNT_SETTINGS[6],
    account::ACCOUNT_SETTINGS[7],
    account::ACCOUNT_SETTINGS[8],
    account::ACCOUNT_SETTINGS[9],
    account::ACCOUNT_SETTINGS[10],
    account::ACCOUNT_SETTINGS[11],
    account::DEVINO_SETTINGS[0],
    account::DEVINO_SETTINGS[1],
    account::DEVINO_SETTINGS[2],
    roster::WAZZUP_API_KEY,
    roster::WAZZUP_BASE_URL,
    file_only(
        "server.max_in_flight_per_connection",
        "256",
        "Requests one connection may have in flight (> 0).",
    ),
    file_only(
        "server.sandbox_export_rows",
        "0",
        "Synthetic rows the sandbox appends to every export CSV, for load tests of ReadMessageExport.",
    ),
    file_only(
        "auth.open_health_and_reflection",
        "true",
        "Let the gRPC health and reflection services answer without a token.",
    ),
    file_only(
        "auth.tokens[].name",
        "",
        "Caller name used in logs and metrics.",
    ),
    file_only(
        "auth.tokens[].token_env",
        "",
        "Variable holding the caller token (exactly one of token_env, token_file).",
    ),
    file_only(
        "auth.tokens[].token_file",
        "",
        "File holding the caller token (trailing whitespace trimmed).",
    ),
    file_only(
        "auth.tokens[].accounts",
        "all",
        "Accounts the token may use; a named consumer only when every account it reads is among them (else PERMISSION_DENIED; ListConsumers leaves it out).",
    ),
    file_only(
        "auth.tokens[].services",
        "all",
        "Full gRPC service names the token may call, e.g. wazzup_gateway.v1.MessageService.",
    ),
    file_only(
        "auth.tokens[].client_cert_names",
        "any client",
        "Bind the token to client certificates (needs mutual TLS): a call presenting it must come with a certificate whose subject CN or DNS/URI/email SAN is one of these; else UNAUTHENTICATED, as for a wrong token.",
    ),
    file_only(
        "auth.tokens[].requests_per_second",
        "limits.caller_requests_per_second",
        "This token's calls per second (0: no limit).",
    ),
    file_only(
        "auth.tokens[].request_burst",
        "limits.caller_request_burst",
        "This token's burst (0: its per-second rate).",
    ),
    file_only(
        "auth.tokens[].max_streams",
        "limits.caller_max_streams",
        "Server streams this token may hold open (0: no limit).",
    ),
    file_only(
        "accounts[].name",
        "",
        "Account name: [a-z0-9][a-z0-9_-]{0,62}; \"sandbox\" is reserved for the sandbox dialect.",
    ),
    file_only(
        "accounts[].dialect",
        "wazzup_v3",
        "wazzup_v3, wazzup_tech, devino or sandbox.",
    ),
    file_only(
        "accounts[].default",
        "false",
        "Use this account when a request names none (at most one).",
    ),
    file_only(
        "accounts[].webhook_secret_file",
        "",
        "File holding the account's webhook secret.",
    ),
    file_only(
        "accounts[].crm_key_file",
        "",
        "File holding the account's CRM key.",
    ),
    file_only(
        "accounts[].refresh_token_file",
        "",
        "File holding the wazzup_tech account's refresh token.",
    ),
    file_only(
        "accounts[].partner_credentials_file",
        "",
        "File holding the wazzup_tech partner's email:password.",
    ),
    file_only(
        "accounts[].oauth_client_id",
        "",
        "wazzup_tech: partner OAuth client_id sent with the refresh token.",
    ),
    file_only(
        "accounts[].limits.requests_per_window",
        "500",
        "Upstream requests allowed per rate window (> 0).",
    ),
    file_only(
        "accounts[].limits.rate_window",
        "5s",
        "Length of the upstream rate-limit window (> 0).",
    ),
    file_only(
        "accounts[].limits.max_concurrency",
        "50",
        "Upstream requests in flight at once (> 0).",
    ),
    file_only(
        "accounts[].limits.request_timeout",
        "30s",
        "Upper bound for one upstream HTTP request (> 0).",
    ),
    file_only(
        "accounts[].limits.connect_timeout",
        "5s",
        "Upper bound for connecting to the upstream (> 0).",
    ),
    upstream_tuning::TUNING_SETTINGS[0],
    upstream_tuning::TUNING_SETTINGS[1],
    upstream_tuning::TUNING_SETTINGS[2],
    upstream_tuning::TUNING_SETTINGS[3],
    upstream_tuning::TUNING_SETTINGS[4],
    upstream_tuning::TUNING_SETTINGS[5],
    upstream_tuning::TUNING_SETTINGS[6],
    upstream_tuning::TUNING_SETTINGS[7],
    upstream_tuning::TUNING_SETTINGS[8],
    upstream_tuning::TUNING_SETTINGS[9],
    upstream_tuning::TUNING_SETTINGS[10],
    events::EVENTS_SETTINGS[3],
    events::EVENTS_SETTINGS[4],
    events::EVENTS_SETTINGS[5],
    events::EVENTS_SETTINGS[6],
    events::EVENTS_SETTINGS[7],
    file_only(
        "nats.password_env",
        "",
        "Variable holding the NATS password (instead of WGW_NATS_PASSWORD or nats.password_file).",
    ),
    file_only(
        "nats.token_env",
        "",
        "Variable holding the NATS token (instead of WGW_NATS_TOKEN or nats.token_file).",
    ),
];

/// Renders [`SETTINGS`] as plain text for `--help`.
pub(crate) fn settings_help() -> String {
    let mut help = String::from(
        "Settings (command line > environment > configuration file > default).\n\
         <NAME> is the account name upper-cased with '-' replaced by '_'.\n",
    );
    for setting in SETTINGS {
        let default = if setting.default.is_empty() {
            "none"
        } else {
            setting.default
        };
        let (title, origin) = match (setting.env.is_empty(), setting.file_key.is_empty()) {
            (true, _) => (setting.file_key, "file only".to_owned()),
            (false, true) => (setting.env, "environment only".to_owned()),
            (false, false) => (setting.env, format!("file: {}", setting.file_key)),
        };
        help.push_str(&format!(
            "\n  {title}\n      {}\n      {origin}; default: {default}\n",
            setting.description
        ));
    }
    help
}
