//! `DevinoClient`: the [`Upstream`] operations of a Devino account. Channels are its sender names;
//! a send, and each chunk of a batch, is one `POST /whatsapp/messages` over the shared transport.
//!
//! Retries: a request may be repeated after a timeout or a 5xx only when every message in it
//! carries an idempotency key ([`Idempotency::Keyed`]); Devino has no key of its own, so without
//! one a repeat could deliver a message twice, and the request is sent once
//! ([`Idempotency::Unsafe`]). Connect errors and 429s are repeated either way: nothing was taken.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::Error as _;
use serde_json::Value;

use crate::config::{AccountConfig, Config, DevinoAuth};
use crate::model::webhook::webhook_uri;
use crate::model::{Channel, Content, Dialect, SendMessage, SentMessage};
use crate::upstream::retry::{Idempotency, RetryPolicy};
use crate::upstream::transport::{
    Credentials, Transport, TransportError, TransportShared, UpstreamRequest,
};
use crate::upstream::{CallContext, Upstream, UpstreamError};

use super::channels::Sender;
use super::reasons;
use super::wire::{MessageBody, MessageResult, ResultCode, SendMessagesBody, read_results};

/// The route of every send.
const MESSAGES_ROUTE: &str = "/whatsapp/messages";

/// A Devino notifications account.
#[derive(Debug)]
pub(crate) struct DevinoClient {
    /// The configured account name (set on every channel).
    account: String,
    /// The HTTP stack.
    transport: Transport,
    /// `Key <api key>` or HTTP Basic, on every request.
    credentials: Credentials,
    /// The sender names, in configured order.
    senders: Vec<Sender>,
    /// This gateway's webhook route of the account, sent as `callbackUrl`; it holds the webhook
    /// secret, so it is kept and redacted like one.
    callback_url: Option<SecretString>,
    /// Messages per request of a batch.
    chunk_size: usize,
}

impl DevinoClient {
    /// Builds the client of a configured `devino` account with its configured retry policy.
    ///
    /// # Errors
    ///
    /// Fails when the account's key or base URL cannot be used, or TLS cannot be set up.
    pub(crate) fn new(
        config: &Config,
        account: &AccountConfig,
        shared: &TransportShared,
    ) -> Result<Self, TransportError> {
        Self::with_policy(
            config,
            account,
            RetryPolicy::new(account.retry.clone()),
            shared,
        )
    }

    /// Builds the client with an explicit retry policy (tests use [`RetryPolicy::for_test`]).
    ///
    /// # Errors
    ///
    /// As [`DevinoClient::new`].
    pub(crate) fn with_policy(
        config: &Config,
        account: &AccountConfig,
        policy: RetryPolicy,
        shared: &TransportShared,
    ) -> Result<Self, TransportError> {
        let callback_url = config
            .server
            .public_webhook_base_url
            .as_deref()
            .zip(account.webhook_secret.as_ref())
            .and_then(|(base, secret)| webhook_uri(base, &account.name, secret.expose_secret()))
            .map(SecretString::from);
        Ok(Self {
            credentials: credentials(account)?,
            transport: Transport::new(account, policy, shared)?,
            account: account.name.clone(),
            senders: account
                .devino
                .senders
                .iter()
                .map(|name| Sender::new(name))
                .collect(),
            callback_url,
            chunk_size: account.devino.batch_chunk_size.max(1),
        })
    }

    /// Returns the sender name of a channel id.
    fn sender(&self, channel_id: &str) -> Result<&str, UpstreamError> {
        self.senders
            .iter()
            .find(|sender| sender.channel_id == channel_id)
            .map(|sender| sender.name.as_str())
            .ok_or_else(|| UpstreamError::ChannelNotFound {
                channel_id: channel_id.to_owned(),
            })
    }

    /// Sends up to one chunk of messages in one request; one result per send, in order.
    async fn send_chunk(
        &self,
        sends: &[SendMessage],
        operation: &'static str,
        call: CallContext,
    ) -> Result<Vec<Result<SentMessage, UpstreamError>>, UpstreamError> {
        let callback_url = self.callback_url.as_ref().map(|url| url.expose_secret());
        let messages = sends
            .iter()
            .map(|send| {
                Ok(message_body(
                    send,
                    self.sender(&send.channel_id)?,
                    callback_url,
                ))
            })
            .collect::<Result<Vec<_>, UpstreamError>>()?;
        let every_send_keyed = sends.iter().all(|send| send.idempotency_key.is_some());
        let idempotency = if every_send_keyed {
            Idempotency::Keyed
        } else {
            Idempotency::Unsafe
        };
        let mut request = UpstreamRequest::new(
            Method::POST,
            MESSAGES_ROUTE,
            &["whatsapp", "messages"],
            operation,
            idempotency,
        )
        .with_json(&SendMessagesBody { messages })
        .map_err(|source| contract_changed(operation, 0, source))?;
        request.credentials = self.credentials.clone();
        request.body_secrets.extend(self.callback_url.clone());
        let answer = self
            .transport
            .call(&request, call)
            .await
            .map_err(reasons::refine)?;
        let body: Value = answer.decode()?;
        let results = read_results(&body).ok_or_else(|| {
            contract_changed(
                operation,
                answer.status,
                serde_json::Error::custom("no result with a code"),
            )
        })?;
        Ok(outcomes(sends, results, operation, answer.status))
    }
}

/// Returns the credentials of every request: `Key <api key>` exactly as issued, or HTTP Basic
/// from the key's `login:password`.
fn credentials(account: &AccountConfig) -> Result<Credentials, TransportError> {
    let key = account
        .api_key
        .as_ref()
        .ok_or_else(|| TransportError::MissingApiKey {
            account: account.name.clone(),
        })?;
    let invalid = || TransportError::InvalidApiKey {
        account: account.name.clone(),
    };
    match account.devino.auth {
        DevinoAuth::Key => {
            let mut value = HeaderValue::from_str(&format!("Key {}", key.expose_secret()))
                .map_err(|_| invalid())?;
            value.set_sensitive(true);
            Ok(Credentials::Header(value))
        }
        DevinoAuth::Basic => {
            let (user, password) = key.expose_secret().split_once(':').ok_or_else(invalid)?;
            Ok(Credentials::Basic {
                user: user.to_owned(),
                password: SecretString::from(password.to_owned()),
            })
        }
    }
}

/// Maps a validated send onto one message of the request: every documented field it sets, the
/// rest left out.
fn message_body<'a>(
    send: &'a SendMessage,
    from: &'a str,
    callback_url: Option<&'a str>,
) -> MessageBody<'a> {
    let notify = send.notify.as_ref();
    let mut body = MessageBody {
        from,
        to: send.recipient.chat_id.as_deref().unwrap_or_default(),
        validity: notify
            .and_then(|notify| notify.validity)
            .map(|validity| validity.as_secs()),
        callback_url,
        callback_data: notify.and_then(|notify| notify.callback_data.as_deref()),
        language_code: notify.and_then(|notify| notify.language_code.as_deref()),
        ..MessageBody::default()
    };
    match &send.content {
        Some(Content::Text(text)) => body.text = Some(text),
        Some(Content::Attachment(attachment)) => {
            body.content_url = Some(&attachment.url);
            body.content_name = attachment.name.as_deref();
            body.content_type = attachment.mime_type.as_deref();
        }
        Some(Content::Template(template)) => {
            body.template_id = Some(&template.template_id);
            body.template_params = (!template.values.is_empty()).then(|| {
                template
                    .values
                    .iter()
                    .enumerate()
                    .map(|(index, value)| ((index + 1).to_string(), value.as_str()))
                    .collect::<BTreeMap<_, _>>()
            });
        }
        None => {}
    }
    body
}

/// Pairs each send with its result, in order; a send without a result, or with a code that is
/// neither `OK` nor `REJECTED`, is a broken contract.
fn outcomes(
    sends: &[SendMessage],
    results: Vec<MessageResult>,
    operation: &'static str,
    status: u16,
) -> Vec<Result<SentMessage, UpstreamError>> {
    let mut results = results.into_iter();
    sends
        .iter()
        .map(|send| {
            let result = results.next().ok_or_else(|| {
                contract_changed(
                    operation,
                    status,
                    serde_json::Error::custom("fewer results than messages"),
                )
            })?;
            outcome(send, result, operation, status)
        })
        .collect()
}

/// Reads one message's result.
fn outcome(
    send: &SendMessage,
    result: MessageResult,
    operation: &'static str,
    status: u16,
) -> Result<SentMessage, UpstreamError> {
    match (result.code, result.message_id) {
        (ResultCode::Ok, Some(message_id)) => Ok(SentMessage {
            message_id,
            chat_id: send.recipient.chat_id.clone().unwrap_or_default(),
            request_id: String::new(),
        }),
        (ResultCode::Rejected, _) => Err(UpstreamError::Rejected(Box::new(reasons::rejection(
            &result.reasons,
            result.description.as_deref(),
        )))),
        (ResultCode::Ok, None) => Err(contract_changed(
            operation,
            status,
            serde_json::Error::custom("an OK result without messageId"),
        )),
        (ResultCode::Other(_), _) => Err(contract_changed(
            operation,
            status,
            serde_json::Error::custom("a result code other than OK or REJECTED"),
        )),
    }
}

/// The error of an answer that does not say what happened to a message.
fn contract_changed(
    operation: &'static str,
    http_status: u16,
    source: serde_json::Error,
) -> UpstreamError {
    UpstreamError::ContractChanged {
        operation,
        http_status,
        source,
    }
}

#[async_trait]
impl Upstream for DevinoClient {
    fn dialect(&self) -> Dialect {
        Dialect::Devino
    }

    fn credentials_rejected(&self) -> bool {
        self.transport.credentials_rejected()
    }

    async fn list_channels(&self, _call: CallContext) -> Result<Vec<Channel>, UpstreamError> {
        Ok(self
            .senders
            .iter()
            .map(|sender| sender.to_channel(&self.account))
            .collect())
    }

    async fn send_message(
        &self,
        send: &SendMessage,
        call: CallContext,
    ) -> Result<SentMessage, UpstreamError> {
        let mut results = self
            .send_chunk(std::slice::from_ref(send), "SendMessage", call)
            .await?;
        results.pop().unwrap_or_else(|| {
            Err(contract_changed(
                "SendMessage",
                0,
                serde_json::Error::custom("no result"),
            ))
        })
    }

    fn sends_batches_natively(&self) -> bool {
        true
    }

    async fn send_batch(
        &self,
        sends: &[SendMessage],
        call: CallContext,
    ) -> Vec<Result<SentMessage, UpstreamError>> {
        let mut results = Vec::with_capacity(sends.len());
        for chunk in sends.chunks(self.chunk_size) {
            match self.send_chunk(chunk, "BatchSendMessages", call).await {
                Ok(chunk_results) => results.extend(chunk_results),
                Err(error) => {
                    let shared = Arc::new(error);
                    results.extend(
                        chunk
                            .iter()
                            .map(|_| Err(UpstreamError::Shared(shared.clone()))),
                    );
                }
            }
        }
        results
    }
}
