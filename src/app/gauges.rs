//! The scrape-time gauge sources telemetry reads, built over the concrete event log, fan-out and
//! accounts (telemetry itself knows none of them).

use std::sync::Arc;

use crate::events::groups::ConsumerGroups;
use crate::events::log::EventLog;
use crate::service::Accounts;
use crate::telemetry::metrics::{
    ConsumerLag, CredentialGauges, CredentialsReading, EventGauges, EventReadings,
};

/// Reads the event gauges from the log (bounds, size, appends) and the fan-out (consumers, open
/// streams).
#[derive(Debug)]
pub(crate) struct EventSources {
    /// The event log.
    pub(crate) log: Arc<dyn EventLog>,
    /// The subscriptions and named consumers.
    pub(crate) groups: Arc<dyn ConsumerGroups>,
}

impl EventGauges for EventSources {
    fn read(&self) -> EventReadings {
        let stats = self.log.stats();
        EventReadings {
            appended: stats.appended,
            stored_bytes: stats.stored_bytes,
            disk_bytes: stats.disk_bytes,
            oldest_cursor: stats.bounds.oldest,
            latest_cursor: stats.bounds.latest,
            open_streams: self.groups.open_streams() as u64,
            consumer_lags: self
                .groups
                .consumer_lags()
                .into_iter()
                .map(|(key, lag)| ConsumerLag {
                    account: key.account,
                    consumer: key.name,
                    lag,
                })
                .collect(),
        }
    }
}

/// Reads whether each account's upstream refuses its credentials.
#[derive(Debug)]
pub(crate) struct AccountSources(pub(crate) Arc<Accounts>);

impl CredentialGauges for AccountSources {
    fn read(&self) -> Vec<CredentialsReading> {
        self.0
            .iter()
            .map(|account| CredentialsReading {
                account: account.name().to_owned(),
                rejected: account.credentials_rejected(),
            })
            .collect()
    }
}
