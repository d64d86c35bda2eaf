//! The account's `client_access_token` and its renewal: the configured token is used until it
//! expires (known once a refresh said so) or the upstream answers 401; then, when a refresh
//! token and the partner credentials are configured, `POST /v2/oauth/token` (HTTP Basic with the
//! partner's `email:password`) gives a new one. Tokens live in sensitive header values and
//! `SecretString`s only; logs say that a refresh happened, never what it returned.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::client::http_status;
use super::wire::{RefreshBody, RefreshTokenData, TokenReply, unwrap_data};
use crate::config::{AccountConfig, TokenRefresh};
use crate::failure::ErrorClass;
use crate::upstream::error::{ErrorBody, Rejection, TECH_UPSTREAM_DOMAIN};
use crate::upstream::retry::Idempotency;
use crate::upstream::transport::{Credentials, Transport, TransportError, UpstreamRequest};
use crate::upstream::{CallContext, UpstreamError};

/// How long before its expiry a token is renewed, at most.
const RENEW_AHEAD: Duration = Duration::from_secs(60);

/// The operation name of the refresh, for errors and spans.
const REFRESH_OPERATION: &str = "RefreshAccessToken";

/// The current token of one account and what renews it.
#[derive(Debug)]
pub(crate) struct TokenKeeper {
    /// The account's name, for logs and errors.
    account: String,
    /// The current token; held across a refresh so that concurrent callers share one.
    state: Mutex<TokenState>,
    /// The partner's login, password and client id; `None` when the token cannot be renewed.
    partner: Option<Partner>,
}

/// The current token.
#[derive(Debug)]
struct TokenState {
    /// `Bearer <client_access_token>`, marked sensitive.
    authorization: HeaderValue,
    /// The refresh token (rotated when the upstream returns a new one).
    refresh_token: Option<SecretString>,
    /// When the token should be renewed; `None` while its lifetime is unknown.
    renew_at: Option<Instant>,
    /// Counts renewals, so a caller refused with an older token does not renew twice.
    generation: u64,
}

/// The partner credentials of the OAuth route.
#[derive(Debug)]
struct Partner {
    /// The partner's e-mail.
    user: String,
    /// The partner's password.
    password: SecretString,
    /// The OAuth client id, when configured.
    client_id: Option<String>,
}

/// The token a request was sent with.
#[derive(Clone, Debug)]
pub(crate) struct Issued {
    /// `Authorization` of the request.
    pub credentials: Credentials,
    /// Which renewal it came from.
    generation: u64,
}

impl TokenKeeper {
    /// Starts from the account's configured token.
    ///
    /// # Errors
    ///
    /// Fails when the account has no token or it cannot be a header value.
    pub(crate) fn new(account: &AccountConfig) -> Result<Self, TransportError> {
        let name = account.name.clone();
        let token = account
            .api_key
            .as_ref()
            .ok_or_else(|| TransportError::MissingApiKey {
                account: name.clone(),
            })?;
        let authorization =
            bearer(token.expose_secret()).ok_or_else(|| TransportError::InvalidApiKey {
                account: name.clone(),
            })?;
        let TokenRefresh {
            refresh_token,
            partner_credentials,
            client_id,
        } = account.token_refresh.clone();
        let partner = partner_credentials.map(|credentials| {
            let (user, password) = credentials
                .expose_secret()
                .split_once(':')
                .map(|(user, password)| (user.to_owned(), password.to_owned()))
                .unwrap_or_else(|| (credentials.expose_secret().to_owned(), String::new()));
            Partner {
                user,
                password: SecretString::from(password),
                client_id,
            }
        });
        Ok(Self {
            account: name,
            state: Mutex::new(TokenState {
                authorization,
                refresh_token,
                renew_at: None,
                generation: 0,
            }),
            partner,
        })
    }

    /// Returns the token to send with, renewing it first when it is about to expire.
    ///
    /// # Errors
    ///
    /// Fails when a due renewal fails.
    pub(crate) async fn current(
        &self,
        transport: &Transport,
        call: CallContext,
    ) -> Result<Issued, UpstreamError> {
        let mut state = self.state.lock().await;
        let due = state
            .renew_at
            .is_some_and(|renew_at| Instant::now() >= renew_at);
        if due && let Some(partner) = &self.partner {
            self.renew(&mut state, partner, transport, call).await?;
        }
        Ok(issued(&state))
    }

    /// Returns a token to repeat a request refused with `refused` (401), renewing it unless
    /// another caller already did; `None` when the token cannot be renewed.
    ///
    /// # Errors
    ///
    /// Fails when the renewal fails.
    pub(crate) async fn after_refusal(
        &self,
        refused: &Issued,
        transport: &Transport,
        call: CallContext,
    ) -> Result<Option<Issued>, UpstreamError> {
        let Some(partner) = &self.partner else {
            return Ok(None);
        };
        let mut state = self.state.lock().await;
        if state.generation == refused.generation {
            self.renew(&mut state, partner, transport, call).await?;
        }
        Ok(Some(issued(&state)))
    }

    /// Calls `POST /v2/oauth/token` and keeps what it returns.
    async fn renew(
        &self,
        state: &mut TokenState,
        partner: &Partner,
        transport: &Transport,
        call: CallContext,
    ) -> Result<(), UpstreamError> {
        let Some(refresh_token) = &state.refresh_token else {
            return Ok(());
        };
        let body = RefreshBody {
            grant_type: "refresh_token",
            refresh_token_data: RefreshTokenData {
                refresh_token: refresh_token.expose_secret(),
                client_id: partner.client_id.as_deref(),
            },
        };
        let mut request = UpstreamRequest::new(
            Method::POST,
            "/v2/oauth/token",
            &["v2", "oauth", "token"],
            REFRESH_OPERATION,
            // A lost answer may have rotated the refresh token: never repeat blindly.
            Idempotency::Unsafe,
        )
        .with_json(&body)
        .map_err(|source| UpstreamError::ContractChanged {
            operation: REFRESH_OPERATION,
            http_status: 0,
            source,
        })?;
        request.credentials = Credentials::Basic {
            user: partner.user.clone(),
            password: partner.password.clone(),
        };
        request.body_secrets = vec![refresh_token.clone()];
        let answer = transport
            .call(&request, call)
            .await
            .map_err(|failure| self.refresh_failed(failure))?;
        let reply: TokenReply =
            unwrap_data(&answer.body).map_err(|source| UpstreamError::ContractChanged {
                operation: REFRESH_OPERATION,
                http_status: answer.status,
                source,
            })?;
        let authorization = bearer(&reply.access_token)
            .filter(|_| !reply.access_token.is_empty())
            .ok_or_else(|| self.refresh_failed_with(answer.status))?;
        state.authorization = authorization;
        if !reply.refresh_token.is_empty() {
            state.refresh_token = Some(SecretString::from(reply.refresh_token));
        }
        state.renew_at = reply.expires_in.map(|seconds| {
            let lifetime = Duration::from_secs(seconds);
            Instant::now() + lifetime.saturating_sub(RENEW_AHEAD.min(lifetime / 2))
        });
        state.generation += 1;
        tracing::info!(account = %self.account, "renewed the upstream access token");
        Ok(())
    }

    /// A refused refresh is the operator's problem, whatever the upstream said: the reason is
    /// `UPSTREAM_CREDENTIALS_REJECTED`, as for a refused token without refresh.
    fn refresh_failed(&self, failure: UpstreamError) -> UpstreamError {
        match &failure {
            UpstreamError::Rejected(_) => {
                self.refresh_failed_with(http_status(&failure).unwrap_or(401))
            }
            _ => failure,
        }
    }

    /// The error of a refresh refused (or answered without a token) with `status`.
    fn refresh_failed_with(&self, status: u16) -> UpstreamError {
        let mut rejection =
            Rejection::from_answer(401, &ErrorBody::default(), None, TECH_UPSTREAM_DOMAIN);
        rejection.class = ErrorClass::Internal;
        rejection.description = "the upstream refused to renew the access token configured for \
                                 this account; an operator must fix it"
            .to_owned();
        rejection.metadata = vec![
            ("httpStatus".to_owned(), status.to_string()),
            ("operation".to_owned(), REFRESH_OPERATION.to_owned()),
            ("account".to_owned(), self.account.clone()),
        ];
        UpstreamError::Rejected(Box::new(rejection))
    }
}

/// Returns the token of `state` as sent.
fn issued(state: &TokenState) -> Issued {
    Issued {
        credentials: Credentials::Header(state.authorization.clone()),
        generation: state.generation,
    }
}

/// Returns `Bearer <token>` marked sensitive, when the token can be a header value.
fn bearer(token: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}
