//! Named consumers: their identity, their filters, and their progress through the log as it is
//! stored durably (see [`super::log::ConsumerStore`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Cursor, EventType, NewEvent};

/// Identifies a named consumer: names are unique per owning account.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConsumerKey {
    /// The account that owns the consumer.
    pub account: String,
    /// The consumer's name.
    pub name: String,
}

/// Longest consumer name.
pub(crate) const MAX_CONSUMER_NAME_LEN: usize = 64;

/// Tells whether `name` is a usable consumer name: 1 to 64 letters, digits, `-`, `_` and `.`.
pub(crate) fn is_valid_consumer_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CONSUMER_NAME_LEN
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
}

/// Which events a subscription or consumer wants. Lists are kept sorted and without repeats so
/// that two equal filter sets compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Accounts whose events pass; never empty once resolved against the owning account.
    pub accounts: Vec<String>,
    /// Event types that pass; empty means all.
    pub types: Vec<EventType>,
    /// Channels whose events pass; empty means all. Events without a channel always pass.
    pub channel_ids: Vec<String>,
}

impl EventFilter {
    /// Builds a filter with sorted, deduplicated lists.
    pub fn new(accounts: Vec<String>, types: Vec<EventType>, channel_ids: Vec<String>) -> Self {
        Self {
            accounts: sorted(accounts),
            types: sorted(types),
            channel_ids: sorted(channel_ids),
        }
    }

    /// Returns this filter with `owner` as the only account when no account was named.
    pub fn resolved_for(mut self, owner: &str) -> Self {
        if self.accounts.is_empty() {
            self.accounts.push(owner.to_owned());
        }
        self
    }

    /// Tells whether `event` passes.
    pub fn matches(&self, event: &NewEvent) -> bool {
        let account_ok = self.accounts.contains(&event.account);
        let type_ok = self.types.is_empty() || self.types.contains(&event.event_type);
        let channel_ok = match &event.channel_id {
            Some(channel_id) => {
                self.channel_ids.is_empty() || self.channel_ids.contains(channel_id)
            }
            None => true,
        };
        account_ok && type_ok && channel_ok
    }

    /// Tells whether a subscription asking for `requested` may join a consumer with this filter:
    /// each requested list must be empty or equal to the consumer's.
    pub fn admits(&self, requested: &EventFilter) -> bool {
        let accounts_ok = requested.accounts.is_empty() || requested.accounts == self.accounts;
        let types_ok = requested.types.is_empty() || requested.types == self.types;
        let channels_ok =
            requested.channel_ids.is_empty() || requested.channel_ids == self.channel_ids;
        accounts_ok && types_ok && channels_ok
    }
}

/// The accounts whose events a caller may read and whose consumers it may use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum AccountScope {
    /// Every account (authentication off, or a token without an account list).
    #[default]
    All,
    /// Only these accounts.
    Only(Vec<String>),
}

impl AccountScope {
    /// Returns the first account `filter` covers that this scope does not, if any: a consumer
    /// may be used only when every account it reads is in scope.
    pub(crate) fn first_outside<'a>(&self, filter: &'a EventFilter) -> Option<&'a str> {
        let Self::Only(allowed) = self else {
            return None;
        };
        filter
            .accounts
            .iter()
            .find(|account| !allowed.contains(account))
            .map(String::as_str)
    }
}

/// Sorts and deduplicates.
fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}

/// A consumer's durable progress.
///
/// Every event up to `acked` is acknowledged (or did not pass the filter). Events after it and
/// up to `delivered` were handed out; those in `unacked` still wait for an ack (with how often
/// they were delivered), the others are acked. Events after `delivered` were never handed out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckState {
    /// The ack floor.
    pub acked: Cursor,
    /// The newest cursor handed out or skipped by the filter; never below `acked`.
    pub delivered: Cursor,
    /// Delivered but unacknowledged events, by cursor, with their delivery count.
    pub unacked: BTreeMap<Cursor, u32>,
}

impl AckState {
    /// Returns the state of a consumer that starts after `cursor`.
    pub fn starting_after(cursor: Cursor) -> Self {
        Self {
            acked: cursor,
            delivered: cursor,
            unacked: BTreeMap::new(),
        }
    }
}

/// A named consumer as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRecord {
    /// Who it is.
    pub key: ConsumerKey,
    /// What it consumes (accounts resolved against the owner).
    pub filter: EventFilter,
    /// How far it got.
    pub acks: AckState,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(account: &str, event_type: EventType, channel: Option<&str>) -> NewEvent {
        NewEvent {
            id: "e".to_owned(),
            account: account.to_owned(),
            dialect: crate::model::Dialect::Sandbox.into(),
            event_type,
            channel_id: channel.map(str::to_owned),
            received_at_ms: 0,
            occurred_at_ms: None,
            raw: serde_json::Value::Null,
            payload: None,
        }
    }

    #[test]
    fn filters_pass_events_by_account_type_and_channel() {
        let filter = EventFilter::new(
            vec!["main".to_owned()],
            vec![EventType::MessageReceived],
            vec!["ch-1".to_owned()],
        );
        let table = [
            (
                event("main", EventType::MessageReceived, Some("ch-1")),
                true,
            ),
            (
                event("other", EventType::MessageReceived, Some("ch-1")),
                false,
            ),
            (event("main", EventType::MessageStatus, Some("ch-1")), false),
            (
                event("main", EventType::MessageReceived, Some("ch-2")),
                false,
            ),
            (event("main", EventType::MessageReceived, None), true),
        ];
        for (candidate, expected) in table {
            assert_eq!(filter.matches(&candidate), expected, "{candidate:?}");
        }
    }

    #[test]
    fn empty_type_and_channel_lists_pass_everything_of_the_accounts() {
        let filter = EventFilter::default().resolved_for("main");
        assert!(filter.matches(&event("main", EventType::Unknown, Some("any"))));
        assert!(!filter.matches(&event("else", EventType::Unknown, None)));
    }

    #[test]
    fn joining_requires_each_requested_list_to_be_empty_or_equal() {
        let consumer = EventFilter::new(
            vec!["main".to_owned()],
            vec![EventType::MessageStatus, EventType::MessageReceived],
            vec![],
        );
        let same_types_other_order = EventFilter::new(
            vec![],
            vec![EventType::MessageReceived, EventType::MessageStatus],
            vec![],
        );
        let table = [
            (EventFilter::default(), true),
            (same_types_other_order, true),
            (
                EventFilter::new(vec!["main".to_owned()], vec![], vec![]),
                true,
            ),
            (
                EventFilter::new(vec!["other".to_owned()], vec![], vec![]),
                false,
            ),
            (
                EventFilter::new(vec![], vec![EventType::MessageStatus], vec![]),
                false,
            ),
            (
                EventFilter::new(vec![], vec![], vec!["ch".to_owned()]),
                false,
            ),
        ];
        for (requested, expected) in table {
            assert_eq!(consumer.admits(&requested), expected, "{requested:?}");
        }
    }

    #[test]
    fn a_scope_covers_a_filter_only_when_it_holds_every_account_of_it() {
        let filter = EventFilter::new(vec!["main".to_owned(), "other".to_owned()], vec![], vec![]);
        let only = |accounts: &[&str]| {
            AccountScope::Only(
                accounts
                    .iter()
                    .map(|account| (*account).to_owned())
                    .collect(),
            )
        };
        let table = [
            (AccountScope::All, None),
            (only(&["main", "other"]), None),
            (only(&["other", "main", "third"]), None),
            (only(&["main"]), Some("other")),
            (only(&["other"]), Some("main")),
            (only(&[]), Some("main")),
        ];
        for (scope, expected) in table {
            assert_eq!(scope.first_outside(&filter), expected, "{scope:?}");
        }
    }

    #[test]
    fn consumer_names_allow_letters_digits_dash_underscore_and_dot() {
        let table = [
            ("crm-sync_v2.a", true),
            ("", false),
            ("has space", false),
            ("slash/no", false),
            (&"x".repeat(64), true),
            (&"x".repeat(65), false),
        ];
        for (name, expected) in table {
            assert_eq!(is_valid_consumer_name(name), expected, "{name}");
        }
    }
}
