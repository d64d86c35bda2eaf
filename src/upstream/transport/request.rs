//! What the transport is asked to send and what it hands back, and why an account's transport
//! may fail to build.

use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::upstream::UpstreamError;
use crate::upstream::retry::Idempotency;

/// The upstream client of an account could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The account has no API key.
    #[error("account {account} has no upstream API key")]
    MissingApiKey {
        /// The account.
        account: String,
    },
    /// The key holds characters an HTTP header cannot carry (the key itself is never shown).
    #[error(
        "the upstream API key of account {account} contains characters an HTTP header cannot carry"
    )]
    InvalidApiKey {
        /// The account.
        account: String,
    },
    /// The base URL cannot be used.
    #[error("the upstream base URL of account {account} is not a usable http(s) URL")]
    InvalidBaseUrl {
        /// The account.
        account: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("the HTTP client of account {account} could not be built")]
    Client {
        /// The account.
        account: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP client that downloads export files could not be built (TLS setup).
    #[error("the HTTP client for export downloads could not be built")]
    Downloads(#[source] reqwest::Error),
}

/// One upstream request, as the dialect describes it.
#[derive(Clone, Debug)]
pub(crate) struct UpstreamRequest {
    /// The HTTP method.
    pub method: Method,
    /// Path segments after the base URL, each percent-encoded on the wire.
    pub segments: Vec<String>,
    /// The route template for spans and logs, e.g. `/v3/message/:messageId`.
    pub route: &'static str,
    /// Query parameters.
    pub query: Vec<(&'static str, String)>,
    /// The JSON body, serialized once for every attempt.
    pub body: Option<Vec<u8>>,
    /// What repeating the request may cause.
    pub idempotency: Idempotency,
    /// The operation, for errors and spans (e.g. `SendMessage`).
    pub operation: &'static str,
    /// The send's `crmMessageId`, so a retry refused as repeated can say the send went through.
    pub crm_message_id: Option<String>,
    /// How the request authenticates.
    pub credentials: Credentials,
    /// Secrets the body carries (e.g. a refresh token): like the credentials, they are cut out of
    /// whatever the upstream answers before it becomes an error.
    pub body_secrets: Vec<SecretString>,
}

/// How one request authenticates.
#[derive(Clone, Debug, Default)]
pub(crate) enum Credentials {
    /// `Authorization: Bearer <key>` with the account's configured key.
    #[default]
    AccountKey,
    /// This `Authorization` value (marked sensitive), e.g. a refreshed access token.
    Header(HeaderValue),
    /// HTTP Basic, e.g. the tech partner's login and password on the OAuth routes.
    Basic {
        /// The user name (the partner's e-mail).
        user: String,
        /// The password.
        password: SecretString,
    },
}

impl UpstreamRequest {
    /// Describes a request without body or query.
    pub(crate) fn new(
        method: Method,
        route: &'static str,
        segments: &[&str],
        operation: &'static str,
        idempotency: Idempotency,
    ) -> Self {
        Self {
            method,
            segments: segments
                .iter()
                .map(|segment| (*segment).to_owned())
                .collect(),
            route,
            query: Vec::new(),
            body: None,
            idempotency,
            operation,
            crm_message_id: None,
            credentials: Credentials::AccountKey,
            body_secrets: Vec::new(),
        }
    }

    /// Sets the JSON body.
    ///
    /// # Errors
    ///
    /// Fails when `body` cannot be serialized (never for the dialects' plain structs).
    pub(crate) fn with_json(
        mut self,
        body: &impl serde::Serialize,
    ) -> Result<Self, serde_json::Error> {
        self.body = Some(serde_json::to_vec(body)?);
        Ok(self)
    }
}

/// A success answer.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    /// The HTTP status (2xx).
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// The operation it answers.
    pub(super) operation: &'static str,
}

impl Answer {
    /// Returns the operation the answer belongs to (e.g. `SendMessage`).
    pub(crate) fn operation(&self) -> &'static str {
        self.operation
    }

    /// Decodes the body.
    ///
    /// # Errors
    ///
    /// Fails with [`UpstreamError::ContractChanged`] when the body does not decode.
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T, UpstreamError> {
        // Logged once, where the edge classifies it (as Internal, with the decode position).
        serde_json::from_slice(&self.body).map_err(|source| UpstreamError::ContractChanged {
            operation: self.operation,
            http_status: self.status,
            source,
        })
    }
}
