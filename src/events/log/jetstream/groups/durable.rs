//! How a named consumer maps onto a JetStream durable pull consumer: its durable name, its
//! configuration (start, filter subject, ack wait, max ack pending) and the ack subject that
//! acknowledges one of its messages by stream sequence from any connection.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use sha2::{Digest, Sha256};

use crate::events::Cursor;
use crate::events::consumers::{ConsumerKey, ConsumerRecord, EventFilter};

/// Returns the durable name of `key`: `wgw-` and 32 hex digits of a SHA-256 of account and
/// name (names may hold `.`, which JetStream refuses, and accounts any text). The description
/// of the consumer names it in words.
pub(super) fn durable_name(key: &ConsumerKey) -> String {
    let digest = Sha256::new()
        .chain_update(key.account.as_bytes())
        .chain_update([0])
        .chain_update(key.name.as_bytes())
        .finalize();
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("wgw-{hex}")
}

/// How a member asked to be served; the member that creates the durable consumer sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DurableSettings {
    /// How long a delivered message may stay unacknowledged before JetStream redelivers it.
    pub(super) ack_wait: Duration,
    /// Most messages delivered and unacknowledged at once (JetStream's max ack pending).
    pub(super) max_ack_pending: u32,
}

/// The durable pull consumer of `record`: starts after the record's acked cursor, acks are
/// explicit (the gateway acks for members in auto mode), and its filter subject narrows
/// delivery as far as one subject can (`subject_prefix.<account>.<type>`); the gateway applies
/// the rest of the filter itself.
pub(super) fn consumer_config(
    record: &ConsumerRecord,
    settings: DurableSettings,
    subject_prefix: &str,
) -> pull::Config {
    pull::Config {
        durable_name: Some(durable_name(&record.key)),
        description: Some(format!(
            "wazzup-gateway consumer {:?} of account {:?}",
            record.key.name, record.key.account
        )),
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: record.acks.acked + 1,
        },
        ack_policy: AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        max_ack_pending: i64::from(settings.max_ack_pending.max(1)),
        filter_subject: filter_subject(&record.filter, subject_prefix).unwrap_or_default(),
        ..pull::Config::default()
    }
}

/// Returns the one subject that covers `filter` exactly in account and type, when there is one
/// (JetStream 2.9 takes a single filter subject per consumer).
fn filter_subject(filter: &EventFilter, subject_prefix: &str) -> Option<String> {
    let [account] = filter.accounts.as_slice() else {
        return None;
    };
    let event_type = match filter.types.as_slice() {
        [] => "*".to_owned(),
        [event_type] => super::super::type_token(*event_type),
        _ => return None,
    };
    Some(format!(
        "{subject_prefix}.{}.{event_type}",
        super::super::subject_token(account)
    ))
}

/// Returns the subject that acknowledges the message at stream sequence `cursor` of the durable
/// consumer `durable`: JetStream's ack reply subject
/// (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`).
/// The server finds the pending message by its stream sequence and takes the rest from its own
/// record, so any replica can ack what another one delivered.
pub(super) fn ack_subject(stream: &str, durable: &str, cursor: Cursor) -> String {
    format!("$JS.ACK.{stream}.{durable}.1.{cursor}.0.0.0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;
    use crate::events::consumers::AckState;

    fn record(accounts: &[&str], types: Vec<EventType>) -> ConsumerRecord {
        ConsumerRecord {
            key: ConsumerKey {
                account: "main".to_owned(),
                name: "billing.v2".to_owned(),
            },
            filter: EventFilter::new(
                accounts.iter().map(|a| (*a).to_owned()).collect(),
                types,
                Vec::new(),
            ),
            acks: AckState::starting_after(41),
        }
    }

    const SETTINGS: DurableSettings = DurableSettings {
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 64,
    };

    #[test]
    fn durable_names_are_subject_tokens_that_keep_consumers_apart() {
        let a = durable_name(&ConsumerKey {
            account: "main".into(),
            name: "a.b".into(),
        });
        let b = durable_name(&ConsumerKey {
            account: "main.a".into(),
            name: "b".into(),
        });
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 32);
        assert!(a.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'));
    }

    #[test]
    fn a_consumer_starts_after_its_acked_cursor_with_explicit_acks() {
        let config = consumer_config(&record(&["main"], vec![]), SETTINGS, "WGW.events");
        assert_eq!(
            config.deliver_policy,
            DeliverPolicy::ByStartSequence { start_sequence: 42 }
        );
        assert_eq!(config.ack_policy, AckPolicy::Explicit);
        assert_eq!(config.ack_wait, Duration::from_secs(30));
        assert_eq!(config.max_ack_pending, 64);
        assert_eq!(config.filter_subject, "WGW.events.main.*");
    }

    #[test]
    fn the_filter_subject_narrows_only_as_far_as_one_subject_can() {
        let one_type = consumer_config(
            &record(&["acme.corp"], vec![EventType::MessageStatus]),
            SETTINGS,
            "WGW.events",
        );
        assert_eq!(
            one_type.filter_subject,
            "WGW.events.acme_corp.message_status"
        );
        let two_types = consumer_config(
            &record(
                &["main"],
                vec![EventType::MessageStatus, EventType::MessageReceived],
            ),
            SETTINGS,
            "WGW.events",
        );
        assert_eq!(two_types.filter_subject, "");
        let two_accounts = consumer_config(&record(&["a", "b"], vec![]), SETTINGS, "WGW.events");
        assert_eq!(two_accounts.filter_subject, "");
    }

    #[test]
    fn the_ack_subject_names_the_stream_sequence() {
        assert_eq!(
            ack_subject("WGW", "wgw-00", 17),
            "$JS.ACK.WGW.wgw-00.1.17.0.0.0"
        );
    }
}
