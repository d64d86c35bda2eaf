//! The Devino WhatsApp notifications dialect (`https://api.devino.online`,
//! whatsapp-notify-api.md): the account's sender names as its channels, sends and native batches
//! through `POST /whatsapp/messages`, and its callbacks (statuses, incoming messages) as events.
//!
//! [`client`] maps the domain onto the one route over the shared [`transport`]; `wire` holds the
//! exact JSON, read tolerantly where the notes mark it unconfirmed; `rules` checks what Devino
//! accepts before anything is sent; `reasons` is its error table; `webhooks` decodes its
//! callbacks; `channels` turns the sender names into channels.
//!
//! [`transport`]: super::transport

pub(crate) mod channels;
pub(crate) mod client;
mod reasons;
mod rules;
pub(crate) mod spec;
mod webhooks;
mod wire;

pub(crate) use client::DevinoClient;
pub(crate) use spec::SPEC;

/// The ErrorInfo domain of Devino's own error codes (`error_reason.proto`).
pub(crate) const DEVINO_UPSTREAM_DOMAIN: &str = "api.devino.online";
