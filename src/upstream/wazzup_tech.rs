//! The Wazzup partner ("tech") API v2 dialect (`https://tech.wazzup24.com/v2`, wazzup-api.md §16
//! and the seed page "Messages"): asynchronous sends, edits and deletes, channels, the per-event
//! webhook subscription and message exports, behind the [`Upstream`] trait, for one end customer
//! of a partner (its `client_access_token`).
//!
//! [`client`] maps the domain onto the v2 routes over the shared [`transport`]; [`token`] keeps
//! the access token and renews it; [`wire`] holds the exact JSON and the tolerant decoding of the
//! `{data, meta}` envelope; [`subscriptions`] maps the gateway's webhook switches to v2 event
//! names; [`spec`] is the dialect's entry in the registry. WABA templates are read from `GET /v2/templates/waba[/{id}]`, routes the docs do not
//! confirm (§16.10 \[U\]).
//!
//! [`Upstream`]: super::Upstream
//! [`transport`]: super::transport

pub(crate) mod client;
mod send_rules;
pub(crate) mod spec;
pub(crate) mod subscriptions;
pub(crate) mod token;
pub(crate) mod webhooks;
pub(crate) mod wire;

pub use client::WazzupTechClient;
pub(crate) use spec::SPEC;
