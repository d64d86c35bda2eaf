//! `BatchSendMessages`: each item goes to its own account (the batch's when it names none). The
//! items of an account whose dialect batches natively (Devino) go upstream together, in request
//! order; every other item is sent as by `SendMessage`, several at once. One result per item, in
//! request order; an item's `BadRequest` field paths name it (`requests[3].recipient.chat_id`).

use std::sync::Arc;

use futures::StreamExt as _;
use futures::future::join_all;
use tonic::Request;

use crate::error::{ApiError, rpc_status};
use crate::model::SendMessage;
use crate::proto::pb;
use crate::service::{Account, CallContext};

use super::MessagesApi;

/// Sends of one batch in flight at once, for dialects without native batching.
const BATCH_PARALLELISM: usize = 8;

/// The outcome of one item.
type ItemOutcome = (usize, Result<pb::SendMessageResponse, ApiError>);

/// The items of one natively batching account, with their positions in the request.
struct NativeGroup {
    /// The account.
    account: Arc<Account>,
    /// Positions and sends, in request order.
    items: Vec<(usize, SendMessage)>,
}

/// Sends every item of `request`; one result per item, in request order.
pub(super) async fn send_batch(
    api: &MessagesApi,
    request: &Request<pb::BatchSendMessagesRequest>,
    call: CallContext,
) -> Vec<pb::BatchSendResult> {
    let batch_account = &request.get_ref().account;
    let mut outcomes: Vec<ItemOutcome> = Vec::new();
    let mut groups: Vec<NativeGroup> = Vec::new();
    let mut singles = Vec::new();
    for (index, item) in request.get_ref().requests.iter().enumerate() {
        let mut item = item.clone();
        if item.account.is_empty() {
            item.account.clone_from(batch_account);
        }
        match api.context.account(request, &item.account) {
            Ok(account) if account.sends_batches_natively() => match SendMessage::try_from(item) {
                Ok(send) => add_to_group(&mut groups, account, index, send),
                Err(error) => outcomes.push((index, Err(error.into()))),
            },
            Ok(_) => singles.push((index, item)),
            Err(error) => outcomes.push((index, Err(error))),
        }
    }
    let singles = futures::stream::iter(singles)
        .map(|(index, item)| async move { (index, api.send(request, item, call).await) })
        .buffered(BATCH_PARALLELISM)
        .collect::<Vec<_>>();
    let natives = join_all(groups.into_iter().map(|group| send_group(group, call)));
    let (singles, natives) = futures::join!(singles, natives);
    outcomes.extend(singles);
    outcomes.extend(natives.into_iter().flatten());
    outcomes.sort_by_key(|(index, _)| *index);
    outcomes.into_iter().map(batch_result).collect()
}

/// Adds an item to its account's group, starting the group at the account's first item.
fn add_to_group(
    groups: &mut Vec<NativeGroup>,
    account: Arc<Account>,
    index: usize,
    send: SendMessage,
) {
    match groups
        .iter_mut()
        .find(|group| group.account.name() == account.name())
    {
        Some(group) => group.items.push((index, send)),
        None => groups.push(NativeGroup {
            account,
            items: vec![(index, send)],
        }),
    }
}

/// Sends one account's items as a native batch.
async fn send_group(group: NativeGroup, call: CallContext) -> Vec<ItemOutcome> {
    let (indexes, sends): (Vec<usize>, Vec<SendMessage>) = group.items.into_iter().unzip();
    let answers = group.account.send_batch(&sends, call).await;
    indexes
        .into_iter()
        .zip(answers)
        .map(|(index, answer)| {
            let response = answer
                .map(pb::SendMessageResponse::from)
                .map_err(ApiError::from);
            (index, response)
        })
        .collect()
}

/// Turns one item's outcome into its result; its field paths name the item.
fn batch_result((index, outcome): ItemOutcome) -> pb::BatchSendResult {
    let result = match outcome {
        Ok(response) => pb::batch_send_result::Result::Response(response),
        Err(error) => {
            pb::batch_send_result::Result::Error(rpc_status(error, &format!("requests[{index}].")))
        }
    };
    pb::BatchSendResult {
        result: Some(result),
    }
}
