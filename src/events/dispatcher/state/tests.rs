use super::*;
use crate::events::log::conformance::event;
use crate::events::{EventType, NewEvent};

const EXPLICIT: Option<Duration> = Some(Duration::from_secs(30));
const AUTO: Option<Duration> = None;

fn stored(cursor: Cursor) -> StoredEvent {
    StoredEvent {
        cursor,
        event: event(&format!("e{cursor}"), 1000 + cursor as i64),
    }
}

fn stored_of_type(cursor: Cursor, event_type: EventType) -> StoredEvent {
    let mut stored = stored(cursor);
    stored.event = NewEvent {
        event_type,
        ..stored.event
    };
    stored
}

fn state_with(events: impl IntoIterator<Item = Cursor>) -> DispatchState {
    let mut state = DispatchState::new(
        EventFilter::default().resolved_for("main"),
        &AckState::starting_after(0),
        Vec::new(),
    );
    state.take_fetched(events.into_iter().map(stored).collect());
    state
}

/// Assigns until nothing more can be assigned; returns (member, cursor, delivery count).
fn drain(state: &mut DispatchState, now: Instant) -> Vec<(MemberId, Cursor, u32)> {
    std::iter::from_fn(|| state.next_assignment(now, |_| true))
        .map(|a| (a.member, a.event.cursor, a.delivery_count))
        .collect()
}

#[test]
fn each_event_goes_to_exactly_one_member_alternating_between_equally_loaded_ones() {
    let mut state = state_with(1..=4);
    state.add_member(1, 10, AUTO);
    state.add_member(2, 10, AUTO);

    let assigned = drain(&mut state, Instant::now());

    assert_eq!(assigned, [(1, 1, 1), (2, 2, 1), (1, 3, 1), (2, 4, 1)]);
}

#[test]
fn a_member_never_holds_more_than_its_max_in_flight() {
    let mut state = state_with(1..=5);
    state.add_member(1, 2, EXPLICIT);
    let now = Instant::now();

    assert_eq!(drain(&mut state, now), [(1, 1, 1), (1, 2, 1)]);
    assert!(!state.wants_events());
    assert!(state.ack(&[1]));
    assert_eq!(drain(&mut state, now), [(1, 3, 1)]);
}

#[test]
fn the_ack_floor_moves_only_over_contiguous_acked_events() {
    let mut state = state_with(1..=4);
    state.add_member(1, 10, EXPLICIT);
    drain(&mut state, Instant::now());

    let table: [(&[Cursor], Cursor, &[Cursor]); 4] = [
        (&[2], 0, &[1, 3, 4]),
        (&[4, 4], 0, &[1, 3]),
        (&[1], 2, &[3]),
        (&[3, 99], 4, &[]),
    ];
    for (acked, floor, unacked) in table {
        state.ack(acked);
        let acks = state.acks();
        assert_eq!(acks.acked, floor, "after acking {acked:?}");
        assert_eq!(acks.unacked.keys().copied().collect::<Vec<_>>(), unacked);
        assert_eq!(acks.delivered, 4);
    }
    assert!(!state.ack(&[1]), "acking twice changes nothing");
}

#[test]
fn overdue_explicit_events_are_redelivered_with_a_higher_count() {
    let mut state = state_with(1..=2);
    state.add_member(1, 10, EXPLICIT);
    state.add_member(2, 10, EXPLICIT);
    let start = Instant::now();
    drain(&mut state, start);
    state.ack(&[2]);
    assert_eq!(state.next_deadline(), Some(start + Duration::from_secs(30)));

    assert_eq!(state.expire(start + Duration::from_secs(29)), 0);
    assert_eq!(state.expire(start + Duration::from_secs(30)), 1);

    let later = start + Duration::from_secs(31);
    assert_eq!(
        drain(&mut state, later),
        [(1, 1, 2)],
        "the least recently served member"
    );
    assert_eq!(state.acks().unacked.get(&1), Some(&2));
}

#[test]
fn automatic_acks_have_no_deadline() {
    let mut state = state_with(1..=1);
    state.add_member(1, 10, AUTO);
    drain(&mut state, Instant::now());

    assert_eq!(state.next_deadline(), None);
    assert_eq!(state.expire(Instant::now() + Duration::from_secs(3600)), 0);
}

#[test]
fn a_leaving_members_unacked_events_go_to_the_others() {
    let mut state = state_with(1..=3);
    state.add_member(1, 10, EXPLICIT);
    state.add_member(2, 10, EXPLICIT);
    let now = Instant::now();
    drain(&mut state, now); // 1 → m1, 2 → m2, 3 → m1
    state.ack(&[1]);

    state.remove_member(1);

    assert_eq!(drain(&mut state, now), [(2, 3, 2)]);
    assert_eq!(state.member_count(), 1);
}

#[test]
fn an_assignment_the_member_could_not_take_is_put_back() {
    let mut state = state_with(1..=1);
    state.add_member(1, 10, AUTO);
    state.add_member(2, 10, AUTO);
    let assignment = state.next_assignment(Instant::now(), |_| true).unwrap();

    state.undo(&assignment);

    assert_eq!(drain(&mut state, Instant::now()), [(2, 1, 1)]);
}

#[test]
fn events_outside_the_filter_count_as_acked() {
    let filter = EventFilter::new(
        vec!["main".to_owned()],
        vec![EventType::MessageStatus],
        vec![],
    );
    let mut state = DispatchState::new(filter, &AckState::starting_after(0), Vec::new());
    state.add_member(1, 10, EXPLICIT);
    state.take_fetched(vec![
        stored(1),
        stored_of_type(2, EventType::MessageStatus),
        stored(3),
    ]);
    assert_eq!(
        state.acks().delivered,
        1,
        "event 2 is read but not handed out"
    );

    assert_eq!(drain(&mut state, Instant::now()), [(1, 2, 1)]);
    state.ack(&[2]);

    assert_eq!(state.acks(), AckState::starting_after(3));
}

#[test]
fn restored_progress_redelivers_the_unacked_events_first() {
    let acks = AckState {
        acked: 1,
        delivered: 4,
        unacked: BTreeMap::from([(2, 1), (4, 3)]),
    };
    let unacked = vec![Arc::new(stored(2)), Arc::new(stored(4))];
    let mut state = DispatchState::new(EventFilter::default().resolved_for("main"), &acks, unacked);
    state.add_member(1, 10, EXPLICIT);
    assert!(!state.wants_events());
    assert_eq!(state.acks(), acks);

    assert_eq!(drain(&mut state, Instant::now()), [(1, 2, 2), (1, 4, 4)]);
    assert_eq!(state.fetched(), 4);
    assert!(state.wants_events());
}
