//! `EventService`: webhooks as durable gRPC streams, named consumers and their acks, and answers
//! to CRM entity requests. Thin: requests are checked and converted in
//! `convert/subscriptions.rs`, the work happens behind [`ConsumerGroups`]. `Subscribe` is
//! served through [`EventServiceRoute`], which encodes each event once for every stream.

mod delivery_span;
mod encoded;

pub(crate) use encoded::EventServiceRoute;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::auth::{Caller, scope_of};
use super::convert::shared_events::SharedEvents;
use super::convert::subscriptions::{self, required_consumer_name, struct_to_json};
use crate::config::StreamDefaults;
use crate::error::{ApiError, bounded};
use crate::events::EventType;
use crate::events::consumers::ConsumerKey;
use crate::events::fanout::{StreamItem, Subscription};
use crate::events::groups::ConsumerGroups;
use crate::events::log::EventLog;
use crate::events::responses::PendingResponses;
use crate::model::Violations;
use crate::proto::pb;
use crate::telemetry::event_links::EventLinks;

/// What the event service works with.
#[derive(Clone, Debug)]
pub(crate) struct EventServices {
    /// The log events are stored in.
    pub log: Arc<dyn EventLog>,
    /// Subscriptions and named consumer groups over the log, served by the backend.
    pub groups: Arc<dyn ConsumerGroups>,
    /// CRM entity requests the webhook ingress holds open.
    pub pending: Arc<PendingResponses>,
    /// Defaults for subscription settings left unset.
    pub defaults: StreamDefaults,
    /// The append spans of recently stored events, which delivery spans link to.
    pub links: Arc<EventLinks>,
}

/// Serves `wazzup_gateway.v1.EventService`.
#[derive(Debug)]
pub(crate) struct EventsApi {
    /// Shared adapter state.
    context: ApiContext,
    /// The log, fan-out and pending CRM requests.
    services: EventServices,
    /// Delivered events in protobuf, shared by the streams.
    shared: Arc<SharedEvents>,
}

impl EventsApi {
    /// Creates the service.
    pub(crate) fn new(context: ApiContext, services: EventServices) -> Self {
        let shared = Arc::new(SharedEvents::new(context.crm_response_timeout));
        Self {
            context,
            services,
            shared,
        }
    }

    /// Checks `request` and resolves its accounts into a fan-out request.
    fn subscription(
        &self,
        request: &Request<pb::SubscribeRequest>,
    ) -> Result<Subscription, ApiError> {
        let body = request.get_ref();
        let owner = self
            .context
            .account(request, &body.account)?
            .name()
            .to_owned();
        let mut violations = Violations::new();
        let mut accounts = Vec::with_capacity(body.accounts.len());
        for (index, name) in body.accounts.iter().enumerate() {
            match self.context.accounts.resolve(name) {
                Ok(account) => accounts.push(account.name().to_owned()),
                Err(_) => {
                    violations.add(format!("accounts[{index}]"), "is not a configured account")
                }
            }
        }
        if let Some(caller) = request.extensions().get::<Caller>() {
            accounts
                .iter()
                .try_for_each(|account| caller.check_account(account))?;
        }
        let defaults = &self.services.defaults;
        let scope = scope_of(request);
        Ok(subscriptions::subscription(
            body, owner, accounts, scope, defaults, violations,
        )?)
    }

    /// Opens the subscription `request` asks for: its items, failures as statuses; each event
    /// handed over is traced ([`delivery_span`]).
    async fn open(
        &self,
        request: &Request<pb::SubscribeRequest>,
    ) -> Result<BoxStream<'static, Result<StreamItem, Status>>, Status> {
        let subscription = self.subscription(request)?;
        let stream = self
            .services
            .groups
            .subscribe(subscription)
            .await
            .map_err(ApiError::from)?;
        let links = Arc::clone(&self.services.links);
        let consumer = request.get_ref().consumer.clone();
        Ok(stream
            .map(move |item| {
                if let Ok(StreamItem::Event(delivery)) = &item {
                    delivery_span::trace_delivery(&links, delivery, &consumer);
                }
                item.map_err(|error| Status::from(ApiError::from(error)))
            })
            .boxed())
    }

    /// The encoded events shared by the streams.
    fn shared_events(&self) -> Arc<SharedEvents> {
        Arc::clone(&self.shared)
    }

    /// Resolves the owner account and the consumer name of a consumer request.
    fn consumer_key<T>(
        &self,
        request: &Request<T>,
        account: &str,
        name: &str,
        field: &str,
    ) -> Result<ConsumerKey, ApiError> {
        let owner = self.context.account(request, account)?.name().to_owned();
        let mut violations = Violations::new();
        let name = required_consumer_name(name, field, &mut violations);
        violations.finish()?;
        Ok(ConsumerKey {
            account: owner,
            name,
        })
    }

    /// Hands the body of `Respond` to the held webhook request.
    async fn respond_to(&self, request: &Request<pb::RespondRequest>) -> Result<bool, ApiError> {
        let body = request.get_ref();
        let account = self.context.account(request, &body.account)?;
        let mut violations = Violations::new();
        if body.event_id.is_empty() {
            violations.add(
                "event_id",
                "is required: the id of the CRM entity request event",
            );
        }
        let answer = body.body.as_ref().map(struct_to_json);
        match &answer {
            None => violations.add("body", "is required: the created entity"),
            Some(answer) => {
                let size = serde_json::to_vec(answer).map_or(0, |json| json.len());
                if size > MAX_RESPOND_BODY_BYTES {
                    violations.add(
                        "body",
                        format!(
                            "is {size} bytes as JSON, over {MAX_RESPOND_BODY_BYTES}: one CRM entity is expected"
                        ),
                    );
                }
            }
        }
        violations.finish()?;
        let not_found = || ApiError::EventNotFound {
            event_id: body.event_id.clone(),
        };
        let stored = self
            .services
            .log
            .get(&body.event_id)
            .await?
            .ok_or_else(not_found)?;
        let is_crm_request = matches!(
            stored.event.event_type,
            EventType::ContactRequested | EventType::DealRequested
        );
        if !is_crm_request || stored.event.account != account.name() {
            return Err(not_found());
        }
        Ok(self
            .services
            .pending
            .respond(account.name(), &body.event_id, answer.unwrap_or_default())
            .await?)
    }
}

/// The largest `Respond` body, as JSON. The answer is one CRM entity (a contact or a deal, a few
/// hundred bytes); on the NATS backend it travels to the replica holding the request in one
/// message, and NATS refuses messages over its max payload (1 MiB by default), so a larger body
/// is refused here, alike on every backend, rather than failing there.
const MAX_RESPOND_BODY_BYTES: usize = 256 * 1024;

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

#[tonic::async_trait]
impl pb::event_service_server::EventService for EventsApi {
    type SubscribeStream = BoxStream<'static, Result<pb::SubscribeResponse, Status>>;

    /// The typed form of `Subscribe`, for the generated server; the gateway serves `Subscribe`
    /// through [`EventServiceRoute`], whose bytes on the wire are the same.
    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), consumer = %bounded(&request.get_ref().consumer)))]
    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let stream = self.open(&request).await?;
        let crm_response_timeout = self.context.crm_response_timeout;
        let responses = stream.map(move |item| {
            Ok(subscriptions::response(
                item?,
                now_ms(),
                crm_response_timeout,
            ))
        });
        Ok(Response::new(responses.boxed()))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), consumer = %bounded(&request.get_ref().consumer)))]
    async fn ack(
        &self,
        request: Request<pb::AckRequest>,
    ) -> Result<Response<pb::AckResponse>, Status> {
        let body = request.get_ref();
        let key = self.consumer_key(&request, &body.account, &body.consumer, "consumer")?;
        let cursors = body.cursors.clone();
        let acked_cursor = self
            .services
            .groups
            .ack(&key, &scope_of(&request), cursors)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::AckResponse { acked_cursor }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), event_id = %bounded(&request.get_ref().event_id)))]
    async fn respond(
        &self,
        request: Request<pb::RespondRequest>,
    ) -> Result<Response<pb::RespondResponse>, Status> {
        let delivered = self.respond_to(&request).await?;
        Ok(Response::new(pb::RespondResponse { delivered }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), name = %bounded(&request.get_ref().name)))]
    async fn get_consumer(
        &self,
        request: Request<pb::GetConsumerRequest>,
    ) -> Result<Response<pb::GetConsumerResponse>, Status> {
        let body = request.get_ref();
        let key = self.consumer_key(&request, &body.account, &body.name, "name")?;
        let consumer = self
            .services
            .groups
            .consumer(&key, &scope_of(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetConsumerResponse {
            consumer: Some(consumer.into()),
        }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account)))]
    async fn list_consumers(
        &self,
        request: Request<pb::ListConsumersRequest>,
    ) -> Result<Response<pb::ListConsumersResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let consumers = self
            .services
            .groups
            .consumers(account.name(), &scope_of(&request))
            .await
            .map_err(ApiError::from)?;
        let consumers = consumers.into_iter().map(pb::Consumer::from).collect();
        Ok(Response::new(pb::ListConsumersResponse { consumers }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), name = %bounded(&request.get_ref().name)))]
    async fn delete_consumer(
        &self,
        request: Request<pb::DeleteConsumerRequest>,
    ) -> Result<Response<pb::DeleteConsumerResponse>, Status> {
        let body = request.get_ref();
        let key = self.consumer_key(&request, &body.account, &body.name, "name")?;
        let consumer = self
            .services
            .groups
            .delete(&key, &scope_of(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::DeleteConsumerResponse {
            consumer: Some(consumer.into()),
        }))
    }
}
