//! The keyed send metric: how each send with an idempotency key was answered, by account.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// How a keyed send was answered: the closed set of `outcome` labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyedSendOutcome {
    /// No outcome was recorded for the key: the send went to the upstream (a miss).
    Sent,
    /// The recorded outcome of an earlier send with the key was answered (a hit).
    Replayed,
    /// A send with the key was in flight: the call waited for its outcome (a hit).
    Coalesced,
    /// The key belongs to a different request: refused.
    KeyReused,
    /// An earlier send with the key was interrupted before its outcome was recorded: refused.
    OutcomeUnknown,
    /// The store could not be read or the key reserved: nothing was sent.
    StoreUnavailable,
}

impl KeyedSendOutcome {
    /// Returns the metrics label.
    fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Replayed => "replayed",
            Self::Coalesced => "coalesced",
            Self::KeyReused => "key_reused",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::StoreUnavailable => "store_unavailable",
        }
    }
}

/// Labels of one keyed send.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyedSendLabels {
    /// The configured account the key belongs to.
    account: String,
    /// The [`KeyedSendOutcome`] label.
    outcome: &'static str,
}

/// Records keyed sends by account and outcome; cheap to clone, every clone records into the
/// same family. A default one records into a family no registry renders (for tests).
#[derive(Clone, Debug, Default)]
pub(crate) struct IdempotencyMetrics {
    /// Keyed sends, by account and outcome.
    keyed_sends: Family<KeyedSendLabels, Counter>,
}

impl IdempotencyMetrics {
    /// Registers the family in `registry`.
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "idempotent_sends",
            "Sends with an idempotency key, by account and outcome (sent, replayed, coalesced, key_reused, outcome_unknown, store_unavailable)",
            self.keyed_sends.clone(),
        );
    }

    /// Records how one keyed send of `account` was answered.
    pub(crate) fn record(&self, account: &str, outcome: KeyedSendOutcome) {
        let labels = KeyedSendLabels {
            account: account.to_owned(),
            outcome: outcome.label(),
        };
        self.keyed_sends.get_or_create(&labels).inc();
    }

    /// Returns how many keyed sends of `account` ended with `outcome`.
    #[cfg(test)]
    pub(crate) fn count(&self, account: &str, outcome: KeyedSendOutcome) -> u64 {
        let labels = KeyedSendLabels {
            account: account.to_owned(),
            outcome: outcome.label(),
        };
        self.keyed_sends
            .get(&labels)
            .map_or(0, |counter| counter.get())
    }
}
