//! The scrape-time gauge sources telemetry reads, built over the concrete event log, fan-out and
//! accounts (telemetry itself knows none of them).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::events::groups::ConsumerGroups;
use crate::events::log::EventLog;
use crate::service::Accounts;
use crate::telemetry::metrics::{
    ConsumerReading, CredentialGauges, CredentialsReading, EventGauges, EventReadings,
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
            oldest_event_age: stats
                .oldest_received_at_ms
                .map_or(Duration::ZERO, |received_at_ms| {
                    age_of(received_at_ms, SystemTime::now())
                }),
            open_streams: self.groups.open_streams() as u64,
            consumers: self
                .groups
                .consumer_gauges()
                .into_iter()
                .map(|gauge| ConsumerReading {
                    account: gauge.key.account,
                    consumer: gauge.key.name,
                    lag: gauge.lag,
                    pending: gauge.pending,
                    streams: gauge.streams,
                })
                .collect(),
        }
    }
}

/// Returns how long before `now` an event received at `received_at_ms` (ms since the epoch)
/// arrived; zero for a time in the future (a clock set back).
fn age_of(received_at_ms: i64, now: SystemTime) -> Duration {
    let now_ms = now.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    });
    Duration::from_millis(now_ms.saturating_sub(received_at_ms).max(0).unsigned_abs())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_of_an_event_counts_from_its_receipt_and_is_never_negative() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(age_of(940_000, now), Duration::from_secs(60));
        assert_eq!(age_of(1_000_000, now), Duration::ZERO);
        assert_eq!(age_of(1_005_000, now), Duration::ZERO);
    }
}
