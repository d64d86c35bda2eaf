//! The pure bookkeeping of one named consumer: which events were handed to which member, which
//! wait for an ack or a redelivery, and how far the consumer is acked. No I/O and no clock of its
//! own (time is passed in), so the rules are table-tested.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::events::consumers::{AckState, EventFilter};
use crate::events::{Cursor, StoredEvent};

/// Identifies one subscription (group member) of a consumer.
pub(crate) type MemberId = u64;

/// An event handed out but not acknowledged.
#[derive(Debug)]
struct Outstanding {
    /// The event, kept for redelivery.
    event: Arc<StoredEvent>,
    /// Deliveries so far.
    deliveries: u32,
    /// The member holding it and when its ack is due; `None` while it waits for redelivery.
    holder: Option<(MemberId, Option<Instant>)>,
}

/// A member's limits and load.
#[derive(Debug)]
struct MemberLoad {
    /// Most events it may hold unacknowledged.
    max_in_flight: u32,
    /// Events it holds unacknowledged.
    in_flight: u32,
    /// How long it has to ack; `None` for automatic acks (acked when written to its stream).
    ack_wait: Option<Duration>,
    /// When it last got an event (an ordinal), to rotate among equally loaded members.
    last_served: u64,
}

/// One event to hand to one member.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Assignment {
    /// Who gets it.
    pub(crate) member: MemberId,
    /// The event.
    pub(crate) event: Arc<StoredEvent>,
    /// Deliveries including this one.
    pub(crate) delivery_count: u32,
}

/// The dispatch state of one consumer.
#[derive(Debug)]
pub(crate) struct DispatchState {
    /// Which events the consumer wants.
    filter: EventFilter,
    /// Newest cursor read from the log (passing the filter or not).
    fetched: Cursor,
    /// Read events that pass the filter and were never handed out, oldest first.
    fresh: VecDeque<Arc<StoredEvent>>,
    /// Handed out, not acknowledged.
    outstanding: BTreeMap<Cursor, Outstanding>,
    /// Outstanding events that wait for a member, oldest first.
    redeliver: BTreeSet<Cursor>,
    /// The members.
    members: BTreeMap<MemberId, MemberLoad>,
    /// Assignments made, for rotation.
    served: u64,
}

impl DispatchState {
    /// Starts from stored progress; `unacked` are the still-retained events of `acks.unacked`,
    /// queued for redelivery.
    pub(crate) fn new(
        filter: EventFilter,
        acks: &AckState,
        unacked: Vec<Arc<StoredEvent>>,
    ) -> Self {
        let mut outstanding = BTreeMap::new();
        for event in unacked {
            let deliveries = acks.unacked.get(&event.cursor).copied().unwrap_or(1);
            let entry = Outstanding {
                event,
                deliveries,
                holder: None,
            };
            outstanding.insert(entry.event.cursor, entry);
        }
        Self {
            filter,
            fetched: acks.delivered,
            fresh: VecDeque::new(),
            redeliver: outstanding.keys().copied().collect(),
            outstanding,
            members: BTreeMap::new(),
            served: 0,
        }
    }

    /// Adds a member.
    pub(crate) fn add_member(
        &mut self,
        id: MemberId,
        max_in_flight: u32,
        ack_wait: Option<Duration>,
    ) {
        let load = MemberLoad {
            max_in_flight: max_in_flight.max(1),
            in_flight: 0,
            ack_wait,
            last_served: 0,
        };
        self.members.insert(id, load);
    }

    /// Removes a member; what it held unacknowledged waits for redelivery to the others.
    pub(crate) fn remove_member(&mut self, id: MemberId) {
        self.members.remove(&id);
        for (cursor, entry) in &mut self.outstanding {
            if matches!(entry.holder, Some((holder, _)) if holder == id) {
                entry.holder = None;
                self.redeliver.insert(*cursor);
            }
        }
    }

    /// Returns how many members there are.
    pub(crate) fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Returns the newest cursor read from the log.
    pub(crate) fn fetched(&self) -> Cursor {
        self.fetched
    }

    /// Takes events read from the log after [`Self::fetched`], oldest first.
    pub(crate) fn take_fetched(&mut self, events: Vec<StoredEvent>) {
        for event in events {
            debug_assert!(event.cursor > self.fetched, "events arrive in cursor order");
            self.fetched = event.cursor;
            if self.filter.matches(&event.event) {
                self.fresh.push_back(Arc::new(event));
            }
        }
    }

    /// Tells whether reading the log would let a member get something: nothing is waiting and a
    /// member has room.
    pub(crate) fn wants_events(&self) -> bool {
        self.fresh.is_empty() && self.redeliver.is_empty() && self.has_room()
    }

    /// Tells whether some member may take another event.
    fn has_room(&self) -> bool {
        self.members
            .values()
            .any(|load| load.in_flight < load.max_in_flight)
    }

    /// Hands the next waiting event (redeliveries first) to the least loaded member with room
    /// that `can_take` accepts (the dispatcher refuses members whose channel is full: an event
    /// taken back after `ack_wait` may still sit there).
    pub(crate) fn next_assignment(
        &mut self,
        now: Instant,
        can_take: impl Fn(MemberId) -> bool,
    ) -> Option<Assignment> {
        let (&member, _) = self
            .members
            .iter()
            .filter(|(id, load)| load.in_flight < load.max_in_flight && can_take(**id))
            .min_by_key(|(_, load)| (load.in_flight, load.last_served))?;
        let cursor = match self.redeliver.pop_first() {
            Some(cursor) => cursor,
            None => {
                let event = self.fresh.pop_front()?;
                let cursor = event.cursor;
                self.outstanding.insert(
                    cursor,
                    Outstanding {
                        event,
                        deliveries: 0,
                        holder: None,
                    },
                );
                cursor
            }
        };
        self.served += 1;
        let load = self.members.get_mut(&member)?;
        load.in_flight += 1;
        load.last_served = self.served;
        let deadline = load.ack_wait.map(|wait| now + wait);
        let entry = self.outstanding.get_mut(&cursor)?;
        entry.deliveries += 1;
        entry.holder = Some((member, deadline));
        Some(Assignment {
            member,
            event: entry.event.clone(),
            delivery_count: entry.deliveries,
        })
    }

    /// Puts back an assignment whose member could not take it (it just left).
    pub(crate) fn undo(&mut self, assignment: &Assignment) {
        let cursor = assignment.event.cursor;
        if let Some(entry) = self.outstanding.get_mut(&cursor) {
            entry.deliveries -= 1;
            entry.holder = None;
            self.redeliver.insert(cursor);
        }
        self.remove_member(assignment.member);
    }

    /// Records acks; cursors not outstanding (already acked, never delivered) are ignored.
    /// Returns whether anything changed.
    pub(crate) fn ack(&mut self, cursors: &[Cursor]) -> bool {
        let mut changed = false;
        for cursor in cursors {
            let Some(entry) = self.outstanding.remove(cursor) else {
                continue;
            };
            changed = true;
            self.redeliver.remove(cursor);
            if let Some((member, _)) = entry.holder
                && let Some(load) = self.members.get_mut(&member)
            {
                load.in_flight -= 1;
            }
        }
        changed
    }

    /// Returns the earliest ack deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.outstanding
            .values()
            .filter_map(|entry| entry.holder.and_then(|(_, deadline)| deadline))
            .min()
    }

    /// Takes back every event whose ack is overdue at `now`, for redelivery. Returns how many.
    pub(crate) fn expire(&mut self, now: Instant) -> usize {
        let mut expired = 0;
        for (cursor, entry) in &mut self.outstanding {
            let Some((member, Some(deadline))) = entry.holder else {
                continue;
            };
            if deadline > now {
                continue;
            }
            entry.holder = None;
            self.redeliver.insert(*cursor);
            if let Some(load) = self.members.get_mut(&member) {
                load.in_flight -= 1;
            }
            expired += 1;
        }
        expired
    }

    /// Returns the progress to store.
    pub(crate) fn acks(&self) -> AckState {
        let delivered = self
            .fresh
            .front()
            .map_or(self.fetched, |event| event.cursor - 1);
        let unacked: BTreeMap<Cursor, u32> = self
            .outstanding
            .iter()
            .map(|(cursor, entry)| (*cursor, entry.deliveries.max(1)))
            .collect();
        let acked = unacked
            .keys()
            .next()
            .map_or(delivered, |first| (first - 1).min(delivered));
        AckState {
            acked,
            delivered,
            unacked,
        }
    }
}

#[cfg(test)]
mod tests;
