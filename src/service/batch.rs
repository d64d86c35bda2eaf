//! Native batches: the sends of one account that go upstream together, in as few requests as the
//! dialect allows ([`Upstream::send_batch`](crate::upstream::Upstream::send_batch)), with every
//! guarantee of a single send kept per item.
//!
//! Each item is validated on its own (the rules that need no channel first). An item with an
//! idempotency key goes through [`IdempotentSends`](super::IdempotentSends) like a single send: a
//! recorded outcome is replayed and nothing is sent for it; otherwise its key is reserved, and
//! the "send" the store runs is a slot filled from the batch's answer, so the outcome is recorded
//! per item. The batch waits until every keyed item has either claimed its slot or been answered
//! from the store, then checks the channels of the items to send and sends them together.
//!
//! Two items of one batch with the same key are one send: the later one is answered with the
//! earlier one's outcome (marked replayed), or refused when it is a different request.

use std::collections::HashMap;

use futures::future::join_all;
use tokio::sync::oneshot;

use crate::idempotency::{Fingerprint, IdempotencyError, RecordKey, RecordedFailure};
use crate::model::{SendMessage, SendReply, SentMessage};
use crate::upstream::{CallContext, UpstreamError};

use super::SendError;
use super::account::Account;
use super::send::check_channel;

/// Where a claimed item's result goes.
type ResultSlot = oneshot::Sender<Result<SentMessage, UpstreamError>>;

/// What happened to an item before the upstream call.
enum Plan {
    /// Answered already (refused by validation, or to be copied from an earlier item).
    Done(Result<SendReply, SendError>),
    /// Answered like the earlier item of the batch at this position, with the same key.
    SameAs(usize),
    /// Sent in the batch without a key.
    Unkeyed,
    /// Sent in the batch if its key's store says so.
    Keyed(RecordKey),
}

impl Account {
    /// Tells whether the account's dialect sends batches natively.
    pub(crate) fn sends_batches_natively(&self) -> bool {
        self.upstream.sends_batches_natively()
    }

    /// Sends `sends` of this account as one native batch; one result per send, in order, each
    /// as [`send_message`](Self::send_message) would have answered it.
    pub(crate) async fn send_batch(
        &self,
        sends: &[SendMessage],
        call: CallContext,
    ) -> Vec<Result<SendReply, SendError>> {
        let mut plans = self.plan(sends);
        let mut claims: Vec<(usize, oneshot::Receiver<ResultSlot>)> = Vec::new();
        let mut dones = HashMap::new();
        let mut keyed_futures = Vec::new();
        for (position, plan) in plans.iter().enumerate() {
            let Plan::Keyed(key) = plan else { continue };
            let (claim_tx, claim_rx) = oneshot::channel::<ResultSlot>();
            let (done_tx, done_rx) = oneshot::channel::<()>();
            claims.push((position, claim_rx));
            dones.insert(position, done_rx);
            let slot = async move {
                let (result_tx, result_rx) = oneshot::channel();
                claim_tx.send(result_tx).map_err(|_| batch_abandoned())?;
                result_rx.await.unwrap_or_else(|_| Err(batch_abandoned()))
            };
            let fingerprint = Fingerprint::of_send(&sends[position]);
            let store = &self.sends;
            let key = key.clone();
            keyed_futures.push(async move {
                let answer = store.send(key, fingerprint, call.deadline, slot).await;
                let _ = done_tx.send(());
                (position, answer)
            });
        }
        let unkeyed: Vec<usize> = (0..plans.len())
            .filter(|position| matches!(plans[*position], Plan::Unkeyed))
            .collect();
        let collect = self.collect_and_send(sends, unkeyed, claims, dones, call);
        let (keyed_answers, unkeyed_answers) = futures::join!(join_all(keyed_futures), collect);
        for (position, answer) in keyed_answers.into_iter().chain(unkeyed_answers) {
            plans[position] = Plan::Done(answer);
        }
        resolve_duplicates(plans)
    }

    /// Validates each item and sorts it: refused, a repeat of an earlier item's key, unkeyed, or
    /// keyed.
    fn plan(&self, sends: &[SendMessage]) -> Vec<Plan> {
        let mut first_of_key: HashMap<&str, usize> = HashMap::new();
        sends
            .iter()
            .enumerate()
            .map(|(position, send)| {
                if let Err(error) = self.check_send_rules(send) {
                    return Plan::Done(Err(error.into()));
                }
                let Some(idempotency_key) = send.idempotency_key.as_deref() else {
                    return Plan::Unkeyed;
                };
                if let Some(&first) = first_of_key.get(idempotency_key) {
                    if Fingerprint::of_send(&sends[first]) != Fingerprint::of_send(send) {
                        return Plan::Done(Err(SendError::Idempotency(
                            IdempotencyError::KeyReused {
                                idempotency_key: idempotency_key.to_owned(),
                            },
                        )));
                    }
                    return Plan::SameAs(first);
                }
                first_of_key.insert(idempotency_key, position);
                Plan::Keyed(RecordKey {
                    account: self.name.clone(),
                    idempotency_key: idempotency_key.to_owned(),
                })
            })
            .collect()
    }

    /// Waits for each keyed item to claim its slot or be answered from the store, checks the
    /// channels of the items to send, sends them in one native batch and fills the slots; returns
    /// the answers of the unkeyed items.
    async fn collect_and_send(
        &self,
        sends: &[SendMessage],
        unkeyed: Vec<usize>,
        claims: Vec<(usize, oneshot::Receiver<ResultSlot>)>,
        dones: HashMap<usize, oneshot::Receiver<()>>,
        call: CallContext,
    ) -> Vec<(usize, Result<SendReply, SendError>)> {
        let slots = await_claims(unkeyed, claims, dones).await;
        let mut ready = Vec::new();
        let mut answers = Vec::new();
        for (position, slot) in slots {
            let send = &sends[position];
            match check_channel(self.upstream.as_ref(), self.channels.as_deref(), send, call).await
            {
                Ok(()) => ready.push((position, slot)),
                Err(error) => answers.extend(deliver(position, slot, Err(error))),
            }
        }
        if ready.is_empty() {
            return answers;
        }
        let batch: Vec<SendMessage> = ready
            .iter()
            .map(|(position, _)| sends[*position].clone())
            .collect();
        let results = self.upstream.send_batch(&batch, call).await;
        let mut results = results.into_iter();
        for (position, slot) in ready {
            let result = results.next().unwrap_or_else(|| Err(batch_abandoned()));
            answers.extend(deliver(position, slot, result));
        }
        answers
    }
}

/// Returns the items to send, in request order: the unkeyed ones (no slot), and the keyed ones
/// whose store claimed a slot; a keyed item answered from the store instead is left out.
async fn await_claims(
    unkeyed: Vec<usize>,
    claims: Vec<(usize, oneshot::Receiver<ResultSlot>)>,
    mut dones: HashMap<usize, oneshot::Receiver<()>>,
) -> Vec<(usize, Option<ResultSlot>)> {
    let mut slots: Vec<(usize, Option<ResultSlot>)> = unkeyed
        .into_iter()
        .map(|position| (position, None))
        .collect();
    for (position, mut claim_rx) in claims {
        let Some(mut done_rx) = dones.remove(&position) else {
            continue;
        };
        tokio::select! {
            biased;
            claim = &mut claim_rx => {
                if let Ok(result_tx) = claim {
                    slots.push((position, Some(result_tx)));
                }
            }
            _ = &mut done_rx => {}
        }
    }
    slots.sort_by_key(|(position, _)| *position);
    slots
}

/// Hands a result to a keyed item's slot (its answer then comes through the store), or returns
/// an unkeyed item's answer.
fn deliver(
    position: usize,
    slot: Option<ResultSlot>,
    result: Result<SentMessage, UpstreamError>,
) -> Option<(usize, Result<SendReply, SendError>)> {
    match slot {
        Some(result_tx) => {
            let _ = result_tx.send(result);
            None
        }
        None => Some((
            position,
            result.map(SendReply::fresh).map_err(SendError::from),
        )),
    }
}

/// Answers the later items that repeat an earlier item's key with that item's outcome.
fn resolve_duplicates(plans: Vec<Plan>) -> Vec<Result<SendReply, SendError>> {
    let mut answers: Vec<Option<Result<SendReply, SendError>>> = Vec::with_capacity(plans.len());
    let mut repeats = Vec::new();
    for (position, plan) in plans.into_iter().enumerate() {
        match plan {
            Plan::Done(answer) => answers.push(Some(answer)),
            Plan::SameAs(first) => {
                repeats.push((position, first));
                answers.push(None);
            }
            Plan::Unkeyed | Plan::Keyed(_) => answers.push(Some(Err(batch_abandoned().into()))),
        }
    }
    for (position, first) in repeats {
        let repeated = match &answers[first] {
            Some(Ok(reply)) => Ok(SendReply::replayed(reply.sent.clone())),
            Some(Err(SendError::Upstream(error))) => Err(SendError::Idempotency(
                IdempotencyError::Repeated(Box::new(RecordedFailure::from(error))),
            )),
            Some(Err(SendError::Idempotency(error))) => Err(SendError::Idempotency(error.clone())),
            Some(Err(SendError::EventLog(_))) | None => Err(batch_abandoned().into()),
        };
        answers[position] = Some(repeated);
    }
    answers
        .into_iter()
        .map(|answer| answer.unwrap_or_else(|| Err(batch_abandoned().into())))
        .collect()
}

/// The failure of an item whose batch ended without its result (a broken dialect answer): the
/// outcome is unknown.
fn batch_abandoned() -> UpstreamError {
    UpstreamError::Unreachable {
        connect: false,
        source: None,
    }
}
