//! CRM entity requests held open: the ingress waits here for a subscriber's answer given through
//! `EventService.Respond`, then returns it to the upstream as the webhook's response body.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// The CRM entity requests currently held open, by event id.
#[derive(Debug, Default)]
pub struct PendingResponses {
    /// One answer channel per waiting request.
    waiting: Mutex<HashMap<String, oneshot::Sender<serde_json::Value>>>,
}

impl PendingResponses {
    /// Creates an empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits at most `patience` for an answer to event `event_id`; `None` when none came.
    pub async fn wait_for(&self, event_id: &str, patience: Duration) -> Option<serde_json::Value> {
        let (answer_tx, answer_rx) = oneshot::channel();
        self.waiting.lock().insert(event_id.to_owned(), answer_tx);
        let answer = tokio::time::timeout(patience, answer_rx).await;
        self.waiting.lock().remove(event_id);
        answer.ok().and_then(Result::ok)
    }

    /// Hands `body` to the request waiting for event `event_id`; false when none is waiting (it
    /// timed out, or the id is unknown).
    pub fn respond(&self, event_id: &str, body: serde_json::Value) -> bool {
        match self.waiting.lock().remove(event_id) {
            Some(answer_tx) => answer_tx.send(body).is_ok(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn an_answer_reaches_the_waiting_request() {
        let pending = Arc::new(PendingResponses::new());
        let waiter = tokio::spawn({
            let pending = pending.clone();
            async move { pending.wait_for("evt-1", Duration::from_secs(5)).await }
        });
        while !pending.respond("evt-1", serde_json::json!({"id": "c-1"})) {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            waiter.await.unwrap(),
            Some(serde_json::json!({"id": "c-1"}))
        );
    }

    #[tokio::test]
    async fn nobody_answering_ends_the_wait_empty_and_late_answers_are_refused() {
        let pending = PendingResponses::new();
        assert_eq!(
            pending.wait_for("evt-2", Duration::from_millis(10)).await,
            None
        );
        assert!(!pending.respond("evt-2", serde_json::json!({})));
    }
}
