//! The Wazzup public API v3 dialect (`https://api.wazzup24.com/v3`, wazzup-api.md §1–§7):
//! channels, messages, WABA templates and the webhook subscription, behind the [`Upstream`]
//! trait.
//!
//! [`client`] maps the domain onto the v3 routes over the shared [`transport`]; [`wire`] holds the
//! exact JSON, tolerant of the upstream's drift on the way in through the shared
//! `model::lenient` readers; `expressible` refuses what that JSON has no field for, and [`spec`]
//! applies it to every send and edit before anything is sent.
//!
//! [`Upstream`]: super::Upstream
//! [`transport`]: super::transport

pub(crate) mod client;
mod expressible;
pub(crate) mod spec;
pub(crate) mod webhooks;
pub(crate) mod wire;

pub(crate) use client::WazzupV3Client;
pub(crate) use spec::SPEC;
