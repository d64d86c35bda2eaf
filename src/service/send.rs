//! The send flow: validation → idempotency → dialect → outcome wait. A send is validated (first
//! the rules that need no channel, then those of its channel), run at most once per idempotency
//! key, sent by the dialect and, when the caller asks, held until an asynchronous send's outcome
//! arrives in the event log.

use std::time::Duration;

use tokio::time::Instant;

use crate::events::StoredEvent;
use crate::events::outcomes::SendOutcomes;
use crate::idempotency::{Fingerprint, RecordKey};
use crate::model::validate::{check_send, check_send_for_channel};
use crate::model::{SendMessage, SendReply, SentMessage, Violations};
use crate::upstream::registry;
use crate::upstream::{CallContext, Upstream, UpstreamError};

use super::SendError;
use super::account::{Account, find_channel};
use super::channel_cache::ChannelCache;

/// How long `wait_for_outcome` holds a call whose deadline is unknown.
const OUTCOME_WAIT_WITHOUT_DEADLINE: Duration = Duration::from_secs(30);
/// How long before the call's deadline `wait_for_outcome` answers without the outcome.
const OUTCOME_WAIT_MARGIN: Duration = Duration::from_millis(100);

/// The answer to a send, and the outcome of an asynchronous send when the caller waited for it.
#[derive(Debug)]
pub(crate) struct SendAnswer {
    /// What the send returned (or the replayed record).
    pub reply: SendReply,
    /// The stored event carrying the send's outcome, when it arrived while the call waited.
    pub outcome: Option<StoredEvent>,
}

impl Account {
    /// Validates a send (first the rules that need no channel, then those of its channel), checks
    /// that the channel can send, then sends. A send with an idempotency key goes through
    /// [`IdempotentSends`](super::IdempotentSends) after the first validation step: a repeat is
    /// answered from the record (`replayed`), concurrent duplicates share one upstream call, and
    /// the channel checks run only when a send is actually made.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, [`UpstreamError::ChannelNotFound`],
    /// [`UpstreamError::ChannelNotActive`], the upstream's error, or an
    /// [`IdempotencyError`](crate::idempotency::IdempotencyError).
    pub(crate) async fn send_message(
        &self,
        send: &SendMessage,
        call: CallContext,
    ) -> Result<SendReply, SendError> {
        self.check_send_rules(send)?;
        let Some(idempotency_key) = send.idempotency_key.clone() else {
            let sent =
                send_to_channel(self.upstream.as_ref(), self.channels.as_deref(), send, call)
                    .await?;
            return Ok(SendReply::fresh(sent));
        };
        let key = RecordKey {
            account: self.name.clone(),
            idempotency_key,
        };
        let upstream = self.upstream.clone();
        let channels = self.channels.clone();
        let owned_send = send.clone();
        let send_once = async move {
            send_to_channel(upstream.as_ref(), channels.as_deref(), &owned_send, call).await
        };
        self.sends
            .send(key, Fingerprint::of_send(send), call.deadline, send_once)
            .await
    }

    /// Checks a send against every rule that needs no channel: the shared ones, the dialect's
    /// own, and whether the dialect takes notification options.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once.
    pub(super) fn check_send_rules(&self, send: &SendMessage) -> Result<(), UpstreamError> {
        let mut violations = Violations::new();
        check_send(send, &mut violations);
        let spec = registry::spec(self.dialect());
        spec.check_send(send, &mut violations);
        if send.notify.is_some() && !spec.accepts_notify() {
            violations.add(
                "notify",
                format!("is only for devino accounts, not {}", self.dialect()),
            );
        }
        Ok(violations.finish()?)
    }

    /// Sends like [`send_message`](Self::send_message); with `outcomes`, an asynchronous send
    /// (answered with a request id but no message id, and not replayed) is held until its
    /// outcome is in the event log or shortly before the call's deadline, whichever comes first.
    ///
    /// # Errors
    ///
    /// Fails as [`send_message`](Self::send_message), or with [`SendError::EventLog`] when the
    /// log cannot be read while waiting.
    pub(crate) async fn send_and_wait(
        &self,
        send: &SendMessage,
        outcomes: Option<&SendOutcomes>,
        call: CallContext,
    ) -> Result<SendAnswer, SendError> {
        // The outcome can only be stored after this position, and may arrive before the answer.
        let before = outcomes.map(|outcomes| (outcomes, outcomes.position()));
        let reply = self.send_message(send, call).await?;
        let pending = reply.sent.message_id.is_empty() && !reply.sent.request_id.is_empty();
        let mut outcome = None;
        if let Some((outcomes, before)) = before
            && pending
            && !reply.replayed
        {
            let deadline = outcome_wait_deadline(call, Instant::now());
            outcome = outcomes
                .wait(self.name(), &reply.sent.request_id, before, deadline)
                .await?;
        }
        Ok(SendAnswer { reply, outcome })
    }
}

/// Looks the send's channel up, applies the rules of its transport, checks that it can send, then
/// sends.
async fn send_to_channel(
    upstream: &dyn Upstream,
    channels: Option<&ChannelCache>,
    send: &SendMessage,
    call: CallContext,
) -> Result<SentMessage, UpstreamError> {
    check_channel(upstream, channels, send, call).await?;
    upstream.send_message(send, call).await
}

/// Looks the send's channel up, applies the rules of its transport and checks that it can send.
pub(super) async fn check_channel(
    upstream: &dyn Upstream,
    channels: Option<&ChannelCache>,
    send: &SendMessage,
    call: CallContext,
) -> Result<(), UpstreamError> {
    let channel = find_channel(upstream, channels, &send.channel_id, call).await?;
    let mut channel_violations = Violations::new();
    check_send_for_channel(send, &channel, &mut channel_violations);
    channel_violations.finish().map_err(|invalid| {
        UpstreamError::for_channel(invalid, &channel, send.recipient.chat_type)
    })?;
    if !channel.state.allows_sending() {
        return Err(UpstreamError::ChannelNotActive {
            channel_id: channel.channel_id,
            state_raw: channel.state_raw,
        });
    }
    Ok(())
}

/// When a `wait_for_outcome` send, whose upstream call ended at `now`, stops waiting and answers
/// without its outcome: [`OUTCOME_WAIT_MARGIN`] before the call's deadline, so that the answer
/// reaches the caller in time.
fn outcome_wait_deadline(call: CallContext, now: Instant) -> Instant {
    call.deadline
        .map_or(now + OUTCOME_WAIT_WITHOUT_DEADLINE, |deadline| {
            deadline
                .checked_sub(OUTCOME_WAIT_MARGIN)
                .map_or(now, |before_deadline| before_deadline.max(now))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_outcome_wait_ends_before_the_deadline_fixed_at_arrival() {
        let arrival = Instant::now();
        let call = CallContext {
            deadline: Some(arrival + Duration::from_millis(800)),
        };
        let ms = Duration::from_millis;
        // (upstream call ended after, the wait ends at) — time already spent is not given back.
        let table = [
            (ms(5), ms(700)),
            (ms(150), ms(700)),
            (ms(699), ms(700)),
            (ms(750), ms(750)),
            (ms(900), ms(900)),
        ];
        for (upstream_done_after, wait_ends_after) in table {
            assert_eq!(
                outcome_wait_deadline(call, arrival + upstream_done_after),
                arrival + wait_ends_after,
                "{upstream_done_after:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_known_deadline_the_outcome_wait_is_bounded() {
        let now = Instant::now();
        assert_eq!(
            outcome_wait_deadline(CallContext::default(), now),
            now + OUTCOME_WAIT_WITHOUT_DEADLINE
        );
    }
}
