//! Whether each embedded store can write, as its last write found: readiness (`/readyz`), the
//! `/healthz` detail and gRPC health follow it, so a replica whose disk is full is taken out of
//! service and put back once a write succeeds again.

use std::sync::Arc;

use futures::FutureExt as _;
use tokio::sync::watch;

/// What the last write of a store found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Writability {
    /// The last write succeeded (or nothing was written yet).
    Writable,
    /// The last write failed; the text says why (e.g. no space left on the device).
    Failing(String),
}

/// The write health of one store, shared by the store (which sets it) and health reporting.
#[derive(Clone, Debug)]
pub struct WriteHealth {
    /// The store's name in reports (`event log`, `idempotency store`).
    store: &'static str,
    /// The current state.
    state_tx: Arc<watch::Sender<Writability>>,
}

impl WriteHealth {
    /// Starts writable.
    pub fn new(store: &'static str) -> Self {
        let (state_tx, _) = watch::channel(Writability::Writable);
        Self {
            store,
            state_tx: Arc::new(state_tx),
        }
    }

    /// Returns the store's name.
    pub fn store(&self) -> &'static str {
        self.store
    }

    /// Returns the current state.
    pub fn current(&self) -> Writability {
        self.state_tx.borrow().clone()
    }

    /// Tells whether the last write succeeded.
    pub fn is_writable(&self) -> bool {
        *self.state_tx.borrow() == Writability::Writable
    }

    /// Returns a receiver that sees every change.
    pub fn subscribe(&self) -> watch::Receiver<Writability> {
        self.state_tx.subscribe()
    }

    /// Records a successful write.
    pub fn set_writable(&self) {
        self.set(Writability::Writable);
    }

    /// Records a failed write, with its cause chain as the reason.
    pub fn set_failing(&self, error: &(dyn std::error::Error + 'static)) {
        let mut reason = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        self.set(Writability::Failing(reason));
    }

    /// Replaces the state, waking receivers only on a change.
    fn set(&self, state: Writability) {
        self.state_tx.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }
}

/// The write health of every embedded store: ready only when all of them can write.
#[derive(Clone, Debug, Default)]
pub(crate) struct StorageHealth {
    /// One entry per store.
    stores: Vec<WriteHealth>,
}

impl StorageHealth {
    /// Follows `stores`.
    pub(crate) fn new(stores: Vec<WriteHealth>) -> Self {
        Self { stores }
    }

    /// Tells whether every store can write.
    pub(crate) fn is_writable(&self) -> bool {
        self.stores.iter().all(WriteHealth::is_writable)
    }

    /// Returns the stores that cannot write, each with the reason.
    pub(crate) fn failing(&self) -> Vec<(&'static str, String)> {
        self.stores
            .iter()
            .filter_map(|health| match health.current() {
                Writability::Writable => None,
                Writability::Failing(reason) => Some((health.store(), reason)),
            })
            .collect()
    }

    /// Returns receivers of every store's state, to wait for the next change with
    /// [`changed_any`].
    pub(crate) fn subscribe(&self) -> Vec<watch::Receiver<Writability>> {
        self.stores.iter().map(WriteHealth::subscribe).collect()
    }
}

/// Waits until any of `receivers` sees a change, then marks every state seen; returns false when
/// a store is gone (or there are none).
pub(crate) async fn changed_any(receivers: &mut [watch::Receiver<Writability>]) -> bool {
    if receivers.is_empty() {
        return false;
    }
    let changed = {
        let changes = receivers
            .iter_mut()
            .map(|receiver| receiver.changed().boxed());
        futures::future::select_all(changes).await.0.is_ok()
    };
    for receiver in receivers.iter_mut() {
        receiver.borrow_and_update();
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("commit failed")]
    struct CommitFailed(#[source] std::io::Error);

    #[tokio::test]
    async fn readiness_follows_the_last_write_of_every_store() {
        let log = WriteHealth::new("event log");
        let store = WriteHealth::new("idempotency store");
        let storage = StorageHealth::new(vec![log.clone(), store.clone()]);
        let mut receivers = storage.subscribe();

        let full = std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left");
        log.set_failing(&CommitFailed(full));

        assert!(changed_any(&mut receivers).await);
        assert!(!storage.is_writable());
        assert_eq!(
            storage.failing(),
            vec![("event log", "commit failed: no space left".to_owned())]
        );
        log.set_writable();
        assert!(storage.is_writable());
        assert!(storage.failing().is_empty());
    }
}
