//! The human-readable, secret-free summary printed by `wazzup-gateway check-config`.

use secrecy::SecretString;

use super::{AccountConfig, CallerLimits, CallerToken, Config, DevinoAuth};
use crate::model::Dialect;

impl Config {
    /// Returns a multi-line summary for operators: listeners, data directory, timeouts, logs,
    /// each account (name, dialect, base URL, whether each secret is set) and the caller token
    /// names with their scope. Secrets appear only as "set" or "not set".
    pub fn summary(&self) -> String {
        let mut lines = process_lines(self);
        lines.push("accounts:".to_owned());
        lines.extend(self.accounts.iter().map(account_line));
        let no_tokens = if self.auth.tokens.is_empty() {
            " none"
        } else {
            ""
        };
        lines.push(format!("caller tokens:{no_tokens}"));
        lines.extend(
            self.auth
                .tokens
                .iter()
                .map(|token| token_line(token, &self.limits.callers)),
        );
        let open = if self.auth.open_health_and_reflection {
            "yes"
        } else {
            "no"
        };
        lines.push(format!("health and reflection without token: {open}"));
        lines.join("\n")
    }
}

/// How the gRPC listener is secured, after its address.
fn grpc_tls_note(config: &Config) -> String {
    match &config.grpc_tls {
        None => " (plain text)".to_owned(),
        Some(tls) => match &tls.client_ca_file {
            None => format!(" (TLS, certificate {})", tls.cert_file.display()),
            Some(client_ca_file) => format!(
                " (mutual TLS, certificate {}, client CA {})",
                tls.cert_file.display(),
                client_ca_file.display()
            ),
        },
    }
}

/// How the webhook listener is secured, after its address.
fn webhook_tls_note(config: &Config) -> String {
    match &config.webhook_tls {
        None => " (plain HTTP)".to_owned(),
        Some(tls) => format!(" (HTTPS, certificate {})", tls.cert_file.display()),
    }
}

/// One caller's limits, e.g. `50/s (burst 100), 8 streams`.
fn caller_limits_note(limits: &CallerLimits) -> String {
    let rate = match (limits.requests_per_second, limits.request_burst) {
        (None, _) => "no rate limit".to_owned(),
        (Some(rate), None) => format!("{rate}/s"),
        (Some(rate), Some(burst)) => format!("{rate}/s (burst {burst})"),
    };
    let streams = match limits.max_streams {
        None => "no stream limit".to_owned(),
        Some(max) => format!("{max} streams"),
    };
    format!("{rate}, {streams}")
}

/// The NATS servers, stream, replicas and authentication method, or that none is configured.
fn nats_line(config: &Config) -> String {
    let Some(nats) = &config.nats else {
        return "nats: not configured".to_owned();
    };
    format!(
        "nats: {}; stream {} (R{}, dedupe window {}); buckets {}, {}, {}, {}; auth {}; tls CA {}",
        nats.servers.join(","),
        nats.stream,
        nats.replicas,
        humantime::format_duration(nats.dedupe_window),
        nats.event_ids_bucket,
        nats.consumers_bucket,
        nats.idempotency_bucket,
        nats.rate_budget_bucket,
        nats.auth.describe(),
        nats.tls_ca_file
            .as_ref()
            .map_or_else(|| "none".to_owned(), |path| path.display().to_string()),
    )
}

/// Listeners, data directory, server limits, logs and sandbox state.
fn process_lines(config: &Config) -> Vec<String> {
    let listeners = &config.listeners;
    let server = &config.server;
    let telemetry = &config.telemetry;
    vec![
        "listeners:".to_owned(),
        format!("  grpc     {}{}", listeners.grpc, grpc_tls_note(config)),
        format!(
            "  webhook  {}{}",
            listeners.webhook,
            webhook_tls_note(config)
        ),
        format!("  admin    {}", listeners.admin),
        format!("data dir: {}", config.storage.data_dir.display()),
        format!(
            "idempotency retention: {}",
            humantime::format_duration(config.storage.idempotency_retention)
        ),
        format!("events backend: {}", config.events.backend.name()),
        nats_line(config),
        format!(
            "event log retention: {} or {} bytes; at most {} streams",
            humantime::format_duration(config.events.retention_max_age),
            config.events.retention_max_bytes,
            config.events.max_streams
        ),
        format!(
            "timeouts: drain {}, handler {}",
            humantime::format_duration(server.drain_timeout),
            humantime::format_duration(server.handler_timeout)
        ),
        format!(
            "per connection: {} in flight, {} HTTP/2 streams",
            server.max_in_flight_per_connection, config.limits.grpc_max_concurrent_streams
        ),
        format!(
            "per caller token: {}",
            caller_limits_note(&config.limits.callers)
        ),
        format!(
            "public webhook base URL: {}",
            server
                .public_webhook_base_url
                .as_deref()
                .unwrap_or("not set")
        ),
        format!("log: {} ({})", telemetry.log_filter, telemetry.log_format),
        format!("sandbox: {}", sandbox_line(config)),
    ]
}

fn sandbox_line(config: &Config) -> String {
    if !config.sandbox {
        return "off".to_owned();
    }
    let latency = humantime::format_duration(config.server.sandbox_latency);
    format!("on (simulated latency {latency})")
}

fn account_line(account: &AccountConfig) -> String {
    let limits = &account.limits;
    let refresh = if account.token_refresh.is_configured() {
        ", token refresh set"
    } else {
        ""
    };
    let devino = devino_note(account);
    format!(
        "  {}{}: dialect {}, base URL {}, api key {}, webhook secret {}, crm key {}, \
         limits {} requests / {}, concurrency {}, timeouts request {} connect {}{refresh}{devino}",
        account.name,
        if account.default { " (default)" } else { "" },
        account.dialect,
        account.base_url,
        presence(account.api_key.as_ref()),
        presence(account.webhook_secret.as_ref()),
        presence(account.crm_key.as_ref()),
        limits.requests_per_window,
        humantime::format_duration(limits.rate_window),
        limits.max_concurrency,
        humantime::format_duration(limits.request_timeout),
        humantime::format_duration(limits.connect_timeout),
    )
}

/// Returns the senders, authorization and chunk size of a `devino` account; empty for others.
fn devino_note(account: &AccountConfig) -> String {
    if account.dialect != Dialect::Devino {
        return String::new();
    }
    let settings = &account.devino;
    let auth = match settings.auth {
        DevinoAuth::Key => "key",
        DevinoAuth::Basic => "basic",
    };
    format!(
        ", senders {}, authorization {auth}, batch chunks of {}",
        settings.senders.join(" | "),
        settings.batch_chunk_size
    )
}

fn token_line(token: &CallerToken, defaults: &CallerLimits) -> String {
    let scope = |names: &[String]| {
        if names.is_empty() {
            "all".to_owned()
        } else {
            names.join(", ")
        }
    };
    let bound = if token.client_cert_names.is_empty() {
        String::new()
    } else {
        format!(
            "; client certificate {}",
            token.client_cert_names.join(" or ")
        )
    };
    format!(
        "  {}: accounts {}; services {}; {}{bound}",
        token.name,
        scope(&token.accounts),
        scope(&token.services),
        caller_limits_note(&defaults.overridden_by(&token.limits)),
    )
}

/// Says whether a secret is configured, never what it is.
fn presence(secret: Option<&SecretString>) -> &'static str {
    if secret.is_some() { "set" } else { "not set" }
}
