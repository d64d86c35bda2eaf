//! The newest committed events, kept in memory as the writer commits them, so that subscriptions
//! following the head of the log read new events without a storage read and a JSON decode.
//!
//! What is kept is always a contiguous run of the log ending at its latest cursor: the writer adds
//! every event it commits, in cursor order, before it publishes the new latest cursor, and drops
//! what retention dropped. Empty after a restart; reads it cannot answer go to storage.

use std::collections::VecDeque;

use crate::events::{Cursor, StoredEvent};

/// The newest events of the log.
#[derive(Debug)]
pub(super) struct RecentEvents {
    events: VecDeque<StoredEvent>,
    capacity: usize,
}

impl RecentEvents {
    /// Keeps at most `capacity` events.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            events: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// The cursor of the newest kept event.
    pub(super) fn newest(&self) -> Option<Cursor> {
        self.events.back().map(|stored| stored.cursor)
    }

    /// Adds an event just committed; its cursor is above every kept one. Drops the oldest beyond
    /// the capacity.
    pub(super) fn push(&mut self, stored: StoredEvent) {
        debug_assert!(self.newest().is_none_or(|newest| newest < stored.cursor));
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(stored);
    }

    /// Forgets every kept event.
    pub(super) fn clear(&mut self) {
        self.events.clear();
    }

    /// Forgets the events retention dropped: those below `oldest`, or all when the log is empty
    /// (`oldest` 0).
    pub(super) fn forget_before(&mut self, oldest: Cursor) {
        if oldest == 0 {
            self.events.clear();
        }
        while self
            .events
            .front()
            .is_some_and(|stored| stored.cursor < oldest)
        {
            self.events.pop_front();
        }
    }

    /// The events after `after`, at most `limit`, when every one of them is kept; `None` when
    /// older events than those kept are asked for (storage has them).
    pub(super) fn after(&self, after: Cursor, limit: usize) -> Option<Vec<StoredEvent>> {
        let oldest = self.events.front()?.cursor;
        if oldest > after.saturating_add(1) {
            return None;
        }
        let skip = usize::try_from(after.saturating_sub(oldest - 1)).unwrap_or(usize::MAX);
        Some(self.events.iter().skip(skip).take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::log::conformance::event;

    fn recent(cursors: impl IntoIterator<Item = Cursor>, capacity: usize) -> RecentEvents {
        let mut recent = RecentEvents::new(capacity);
        for cursor in cursors {
            recent.push(StoredEvent {
                cursor,
                event: event(&format!("event-{cursor}"), 1000),
            });
        }
        recent
    }

    fn cursors(read: Option<Vec<StoredEvent>>) -> Option<Vec<Cursor>> {
        read.map(|events| events.iter().map(|stored| stored.cursor).collect())
    }

    #[test]
    fn reads_within_the_kept_run_are_answered_and_older_ones_are_not() {
        let kept = recent(5..=9, 10);

        assert_eq!(cursors(kept.after(4, 10)), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(cursors(kept.after(6, 2)), Some(vec![7, 8]));
        assert_eq!(cursors(kept.after(9, 10)), Some(vec![]));
        assert_eq!(cursors(kept.after(3, 10)), None, "cursor 4 is not kept");
        assert_eq!(cursors(RecentEvents::new(4).after(0, 10)), None);
    }

    #[test]
    fn only_the_newest_are_kept_and_retention_drops_the_rest() {
        let mut kept = recent(1..=6, 4);
        assert_eq!(cursors(kept.after(2, 10)), Some(vec![3, 4, 5, 6]));
        assert_eq!(cursors(kept.after(1, 10)), None);

        kept.forget_before(5);
        assert_eq!(cursors(kept.after(4, 10)), Some(vec![5, 6]));
        assert_eq!(cursors(kept.after(3, 10)), None);

        kept.forget_before(0);
        assert_eq!(kept.newest(), None);
    }
}
