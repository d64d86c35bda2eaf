//! The newest committed events, kept in memory as the writer commits them, so that subscriptions
//! following the head of the log read new events without a storage read and a JSON decode.
//!
//! What is kept is always a contiguous run of the log ending at its latest cursor: the writer adds
//! every event it commits, in cursor order, before it publishes the new latest cursor, and drops
//! what retention dropped. Empty after a restart; reads it cannot answer go to storage.
//!
//! Bounded in count and in bytes (issue 14, defect 6): a webhook of a million small numbers takes
//! some 30 MB as parsed JSON, so a count alone does not bound the memory. The newest event is
//! always kept, whatever its size.

use std::collections::VecDeque;
use std::mem::size_of;

use serde_json::Value;

use crate::events::{Cursor, NewEvent, StoredEvent};

/// The newest events of the log.
#[derive(Debug)]
pub(super) struct RecentEvents {
    /// The events, oldest first, each with its [`memory_size`].
    events: VecDeque<(StoredEvent, usize)>,
    /// Most events kept.
    capacity: usize,
    /// Most bytes kept (by [`memory_size`]).
    max_bytes: usize,
    /// Bytes kept now.
    bytes: usize,
}

impl RecentEvents {
    /// Keeps at most `capacity` events taking at most `max_bytes` (the newest one always).
    pub(super) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            events: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
        }
    }

    /// The cursor of the newest kept event.
    pub(super) fn newest(&self) -> Option<Cursor> {
        self.events.back().map(|(stored, _)| stored.cursor)
    }

    /// Adds an event just committed; its cursor is above every kept one. Drops the oldest beyond
    /// the capacity or the byte bound.
    pub(super) fn push(&mut self, stored: StoredEvent) {
        debug_assert!(self.newest().is_none_or(|newest| newest < stored.cursor));
        let size = memory_size(&stored.event);
        while !self.events.is_empty()
            && (self.events.len() == self.capacity || self.bytes + size > self.max_bytes)
        {
            self.pop_oldest();
        }
        self.bytes += size;
        self.events.push_back((stored, size));
    }

    /// Drops the oldest kept event.
    fn pop_oldest(&mut self) {
        if let Some((_, size)) = self.events.pop_front() {
            self.bytes -= size;
        }
    }

    /// Forgets every kept event.
    pub(super) fn clear(&mut self) {
        self.events.clear();
    }

    /// Forgets the events retention dropped: those below `oldest`, or all when the log is empty
    /// (`oldest` 0).
    pub(super) fn forget_before(&mut self, oldest: Cursor) {
        while self
            .events
            .front()
            .is_some_and(|(stored, _)| oldest == 0 || stored.cursor < oldest)
        {
            self.pop_oldest();
        }
    }

    /// The events after `after`, at most `limit`, when every one of them is kept; `None` when
    /// older events than those kept are asked for (storage has them).
    pub(super) fn after(&self, after: Cursor, limit: usize) -> Option<Vec<StoredEvent>> {
        let oldest = self.events.front()?.0.cursor;
        if oldest > after.saturating_add(1) {
            return None;
        }
        let skip = usize::try_from(after.saturating_sub(oldest - 1)).unwrap_or(usize::MAX);
        let kept = self.events.iter().skip(skip).take(limit);
        Some(kept.map(|(stored, _)| stored.clone()).collect())
    }
}

/// Estimates the bytes an event takes in memory: its strings, and every JSON value of `raw` as a
/// `serde_json::Value` (32 bytes, plus a key per object field) with its text; its typed payload,
/// which copies what it needs of `raw`, is counted as `raw` once more.
fn memory_size(event: &NewEvent) -> usize {
    let texts = [
        event.id.as_str(),
        event.account.as_str(),
        event.dialect.as_str(),
    ];
    let text_bytes: usize = texts.iter().map(|text| text.len()).sum();
    let channel_bytes = event.channel_id.as_ref().map_or(0, String::len);
    let raw_bytes = json_size(&event.raw);
    let payload_bytes = event.payload.as_ref().map_or(0, |_| raw_bytes);
    size_of::<StoredEvent>() + text_bytes + channel_bytes + raw_bytes + payload_bytes
}

/// Estimates the bytes of a parsed JSON value.
fn json_size(value: &Value) -> usize {
    let contents = match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items.iter().map(json_size).sum(),
        Value::Object(fields) => fields
            .iter()
            .map(|(key, field)| size_of::<String>() + key.len() + json_size(field))
            .sum(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    };
    size_of::<Value>() + contents
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::log::conformance::event;

    fn recent(cursors: impl IntoIterator<Item = Cursor>, capacity: usize) -> RecentEvents {
        let mut recent = RecentEvents::new(capacity, usize::MAX);
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
        assert_eq!(cursors(RecentEvents::new(4, usize::MAX).after(0, 10)), None);
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

    #[test]
    fn large_events_are_evicted_by_bytes_before_the_count_is_reached() {
        let large = |cursor: Cursor| {
            let mut event = event(&format!("event-{cursor}"), 1000);
            // 100,000 small numbers: 200 kB of JSON, 3.2 MB parsed.
            event.raw = serde_json::json!({ "numbers": vec![1; 100_000] });
            StoredEvent { cursor, event }
        };
        let one = memory_size(&large(1).event);
        assert!(one > 3_200_000, "{one}");
        let mut kept = RecentEvents::new(1024, 3 * one);

        for cursor in 1..=5 {
            kept.push(large(cursor));
        }

        assert_eq!(cursors(kept.after(2, 10)), Some(vec![3, 4, 5]));
        assert_eq!(cursors(kept.after(1, 10)), None, "evicted by bytes");
        assert_eq!(kept.bytes, 3 * one);
        kept.forget_before(5);
        assert_eq!(kept.bytes, one);
        let mut tiny = RecentEvents::new(1024, 10);
        tiny.push(large(9));
        assert_eq!(
            tiny.newest(),
            Some(9),
            "the newest is kept whatever its size"
        );
    }
}
