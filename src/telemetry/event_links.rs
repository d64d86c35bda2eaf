//! The span context each recently stored webhook event was appended under, kept in memory by
//! event id so that the span of its delivery to a subscriber can link to it.
//!
//! Bounded: the newest [`EventLinks::CAPACITY`] events are remembered, older ones are forgotten
//! first; events read back from the log after that (or after a restart) are delivered with their
//! event id only. Nothing is remembered while traces are not exported (the context is invalid).

use std::collections::{HashMap, VecDeque};

use opentelemetry::trace::SpanContext;
use parking_lot::Mutex;

/// Event ids and the span context their append ran under, oldest first.
#[derive(Debug, Default)]
pub(crate) struct EventLinks {
    /// The remembered contexts and their insertion order.
    remembered: Mutex<Remembered>,
}

/// The map and the order entries leave it.
#[derive(Debug, Default)]
struct Remembered {
    /// Span context by event id.
    by_id: HashMap<String, SpanContext>,
    /// Event ids, oldest first.
    order: VecDeque<String>,
}

impl EventLinks {
    /// How many events are remembered at most (about 100 bytes each).
    pub(crate) const CAPACITY: usize = 16_384;

    /// Remembers that the events `ids` were appended under `context`; does nothing when the
    /// context is invalid (traces are not exported or not sampled).
    pub(crate) fn remember<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
        context: &SpanContext,
    ) {
        if !context.is_valid() || !context.is_sampled() {
            return;
        }
        let mut remembered = self.remembered.lock();
        for id in ids {
            if remembered
                .by_id
                .insert(id.to_owned(), context.clone())
                .is_none()
            {
                remembered.order.push_back(id.to_owned());
            }
            while remembered.order.len() > Self::CAPACITY {
                if let Some(oldest) = remembered.order.pop_front() {
                    remembered.by_id.remove(&oldest);
                }
            }
        }
    }

    /// Returns the span context the event `id` was appended under, while it is remembered.
    pub(crate) fn context_of(&self, id: &str) -> Option<SpanContext> {
        self.remembered.lock().by_id.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn context(span: u64, flags: TraceFlags) -> SpanContext {
        SpanContext::new(
            TraceId::from(7_u128),
            SpanId::from(span),
            flags,
            false,
            TraceState::default(),
        )
    }

    #[test]
    fn a_remembered_event_gives_its_context_until_newer_ones_push_it_out() {
        let links = EventLinks::default();
        links.remember(["first", "second"], &context(1, TraceFlags::SAMPLED));

        assert_eq!(
            links.context_of("second"),
            Some(context(1, TraceFlags::SAMPLED))
        );
        assert_eq!(links.context_of("unknown"), None);

        let newer: Vec<String> = (0..EventLinks::CAPACITY).map(|n| format!("e{n}")).collect();
        links.remember(
            newer.iter().map(String::as_str),
            &context(2, TraceFlags::SAMPLED),
        );

        assert_eq!(links.context_of("first"), None);
        assert_eq!(
            links.context_of("e0"),
            Some(context(2, TraceFlags::SAMPLED))
        );
        assert_eq!(links.remembered.lock().order.len(), EventLinks::CAPACITY);
    }

    #[test]
    fn unsampled_or_invalid_contexts_are_not_remembered() {
        let links = EventLinks::default();
        links.remember(["a"], &context(1, TraceFlags::default()));
        links.remember(["b"], &SpanContext::empty_context());

        assert_eq!(links.context_of("a"), None);
        assert_eq!(links.context_of("b"), None);
    }
}
