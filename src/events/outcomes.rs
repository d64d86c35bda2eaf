//! The outcome of an asynchronous send (tech v2): the first `MESSAGE_STATUS` event of the account
//! that carries the send's `request_id`, read from the event log as the webhook stores it.

use std::sync::Arc;

use tokio::time::Instant;

use super::decode::WebhookDecoders;
use super::log::{EventLog, EventLogError};
use super::payload::EventPayload;
use super::{Cursor, EventType, StoredEvent};

/// Events read from the log at once while looking for an outcome.
const READ_BATCH: usize = 256;

/// Finds send outcomes in the event log.
#[derive(Clone, Debug)]
pub(crate) struct SendOutcomes {
    /// Where statuses are stored.
    log: Arc<dyn EventLog>,
    /// Reads the statuses' payloads.
    decoders: WebhookDecoders,
}

impl SendOutcomes {
    /// Looks in `log`, reading statuses with `decoders`.
    pub(crate) fn new(log: Arc<dyn EventLog>, decoders: WebhookDecoders) -> Self {
        Self { log, decoders }
    }

    /// The position to look after for a send about to be made: its outcome is stored later.
    pub(crate) fn position(&self) -> Cursor {
        self.log.bounds().latest
    }

    /// Waits until `deadline` for the outcome of `account`'s send `request_id`, looking at the
    /// events stored after `after`; `None` when it has not arrived by then.
    ///
    /// # Errors
    ///
    /// Fails when the log cannot be read.
    pub(crate) async fn wait(
        &self,
        account: &str,
        request_id: &str,
        after: Cursor,
        deadline: Instant,
    ) -> Result<Option<StoredEvent>, EventLogError> {
        let mut latest_rx = self.log.watch_latest();
        let mut position = after;
        loop {
            let latest = *latest_rx.borrow_and_update();
            while position < latest {
                let read = self.log.read_after(position, READ_BATCH).await?;
                let Some(last) = read.last() else {
                    break;
                };
                position = last.cursor;
                let found = read
                    .into_iter()
                    .find(|stored| self.is_outcome(stored, account, request_id));
                if found.is_some() {
                    return Ok(found);
                }
            }
            match tokio::time::timeout_at(deadline, latest_rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Ok(None),
            }
        }
    }

    /// Tells whether `stored` is a status of `account`'s send `request_id`.
    fn is_outcome(&self, stored: &StoredEvent, account: &str, request_id: &str) -> bool {
        let event = &stored.event;
        event.account == account
            && event.event_type == EventType::MessageStatus
            && matches!(&*self.decoders.payload(event), EventPayload::Status(status) if status.request_id == request_id)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::events::NewEvent;
    use crate::events::testing::RecordingLog;
    use crate::upstream::registry::WEBHOOK_DECODERS;

    fn status(account: &str, id: &str, request_id: &str) -> NewEvent {
        NewEvent {
            id: id.to_owned(),
            account: account.to_owned(),
            dialect: crate::model::Dialect::WazzupTech.into(),
            event_type: EventType::MessageStatus,
            channel_id: None,
            received_at_ms: 1000,
            occurred_at_ms: None,
            raw: serde_json::json!({
                "event": "message.status_update",
                "data": { "request_id": request_id, "message_id": format!("msg-{request_id}"), "status": "sent" },
                "meta": { "idempotency_key": id }
            }),
            payload: None,
        }
    }

    #[tokio::test]
    async fn the_outcome_stored_after_the_send_is_found_even_when_it_arrives_later() {
        let log = Arc::new(RecordingLog::new());
        log.append(vec![status("acme", "old", "req-1")])
            .await
            .unwrap();
        let outcomes = SendOutcomes::new(log.clone(), WEBHOOK_DECODERS);
        let after = outcomes.position();
        let appender = {
            let log = log.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let events = vec![
                    status("other", "a", "req-1"),
                    status("acme", "b", "req-2"),
                    status("acme", "c", "req-1"),
                ];
                log.append(events).await.unwrap();
            })
        };

        let deadline = Instant::now() + Duration::from_secs(10);
        let found = outcomes
            .wait("acme", "req-1", after, deadline)
            .await
            .unwrap();
        appender.await.unwrap();

        assert_eq!(found.map(|stored| stored.event.id), Some("c".to_owned()));
    }

    #[tokio::test]
    async fn without_an_outcome_the_wait_ends_at_the_deadline() {
        let log = Arc::new(RecordingLog::new());
        let outcomes = SendOutcomes::new(log.clone(), WEBHOOK_DECODERS);
        log.append(vec![status("acme", "b", "req-2")])
            .await
            .unwrap();

        let deadline = Instant::now() + Duration::from_millis(100);
        let found = outcomes.wait("acme", "req-1", 0, deadline).await.unwrap();

        assert!(found.is_none());
    }
}
