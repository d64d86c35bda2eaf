//! Event helpers of the harness: a configuration with two sandbox accounts on a given data
//! directory (for restarts on the same log), and events built the way the ingress stores them.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wazzup_gateway::Config;
use wazzup_gateway::{EventType, NewEvent};

/// Longest wait for anything a test expects to happen.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// A configuration with two sandbox accounts (`main`, the default, and `other`), data in
/// `data_dir`, and `extra` TOML appended (e.g. an `[events]` section).
pub(crate) fn config(data_dir: &Path, extra: &str) -> Config {
    let text = format!(
        "[storage]\ndata_dir = {data_dir:?}\n\n\
         [[accounts]]\nname = \"main\"\ndialect = \"sandbox\"\ndefault = true\n\n\
         [[accounts]]\nname = \"other\"\ndialect = \"sandbox\"\n\n{extra}"
    );
    Config::from_toml_str(&text, &HashMap::new()).expect("valid test configuration")
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A message event of account `main` on channel `ch-1`, received now.
pub(crate) fn event(id: &str) -> NewEvent {
    event_of("main", EventType::MessageReceived, Some("ch-1"), id)
}

/// An event with the given account, type and channel, received now.
pub(crate) fn event_of(
    account: &str,
    event_type: EventType,
    channel: Option<&str>,
    id: &str,
) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        account: account.to_owned(),
        dialect: wazzup_gateway::Dialect::Sandbox.into(),
        event_type,
        channel_id: channel.map(str::to_owned),
        received_at_ms: now_ms(),
        occurred_at_ms: None,
        raw: serde_json::json!({ "messageId": id, "text": "hello" }),
        payload: None,
    }
}
