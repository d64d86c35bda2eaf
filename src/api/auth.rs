//! Caller authentication: `authorization: Bearer <token>` metadata checked against the configured
//! tokens in constant time, each optionally limited to some services and accounts, and optionally
//! bound to a client certificate (mutual TLS): a bound token is accepted only on a connection whose
//! client certificate carries one of its names, and refused like a wrong token otherwise. With no
//! token configured, authentication is off. Health and reflection stay open unless configured
//! otherwise.

use std::sync::Arc;

use secrecy::ExposeSecret as _;
use subtle::ConstantTimeEq as _;

use super::client_cert;
use super::gate::CallGate;
use crate::bearer::bearer_token;
use crate::config::AuthConfig;
use crate::error::ApiError;
use crate::events::consumers::AccountScope;

/// Services that stay open when `open_health_and_reflection` is set.
const OPEN_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// The authenticated caller, put into the request's extensions for the adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The name of the caller's token (never the token itself).
    pub name: String,
    /// Accounts the caller may use; empty means all.
    pub accounts: Vec<String>,
}

impl Caller {
    /// Checks that the caller may use `account`.
    ///
    /// # Errors
    ///
    /// Fails with [`ApiError::PermissionDenied`] naming the account.
    pub(crate) fn check_account(&self, account: &str) -> Result<(), ApiError> {
        if self.accounts.is_empty() || self.accounts.iter().any(|allowed| allowed == account) {
            return Ok(());
        }
        Err(ApiError::PermissionDenied {
            caller: self.name.clone(),
            target: format!("account {account}"),
        })
    }

    /// Returns the accounts the caller may read, for checks against a named consumer's filters.
    pub(crate) fn scope(&self) -> AccountScope {
        if self.accounts.is_empty() {
            AccountScope::All
        } else {
            AccountScope::Only(self.accounts.clone())
        }
    }
}

/// Returns the account scope of the caller of `request`: everything when authentication is off.
pub(crate) fn scope_of<T>(request: &tonic::Request<T>) -> AccountScope {
    request
        .extensions()
        .get::<Caller>()
        .map_or(AccountScope::All, Caller::scope)
}

/// One accepted token.
#[derive(Debug)]
struct AcceptedToken {
    /// The token's name, reported in errors and logs.
    name: String,
    /// The secret bytes.
    token: secrecy::SecretString,
    /// Services the token may call (full names); empty means all.
    services: Vec<String>,
    /// Accounts the token may use; empty means all.
    accounts: Vec<String>,
    /// Names one of which the client certificate must carry; empty: any connection.
    client_cert_names: Vec<String>,
}

impl AcceptedToken {
    /// Returns whether a call presenting this token may come from a client with `peer_names`
    /// (the names of its certificate, read only for a bound token).
    fn allows_peer(&self, peer_names: impl FnOnce() -> Vec<String>) -> bool {
        if self.client_cert_names.is_empty() {
            return true;
        }
        peer_names().iter().any(|presented| {
            self.client_cert_names
                .iter()
                .any(|bound| bound.eq_ignore_ascii_case(presented))
        })
    }
}

/// Authenticates every gRPC call (a [`CallGate`]).
#[derive(Clone, Debug)]
pub(crate) struct CallerAuth {
    /// Accepted tokens; empty turns authentication off.
    tokens: Arc<[AcceptedToken]>,
    /// Whether health and reflection need no token.
    open_health_and_reflection: bool,
}

impl CallerAuth {
    /// Builds the layer from the configuration.
    pub(crate) fn from_config(config: &AuthConfig) -> Self {
        let tokens = config
            .tokens
            .iter()
            .map(|token| AcceptedToken {
                name: token.name.clone(),
                token: token.token.clone(),
                services: token.services.clone(),
                accounts: token.accounts.clone(),
                client_cert_names: token.client_cert_names.clone(),
            })
            .collect();
        Self {
            tokens,
            open_health_and_reflection: config.open_health_and_reflection,
        }
    }

    /// Decides whether a call to `path` with `authorization`, from a client whose certificate
    /// carries `peer_names`, may proceed, and as whom.
    fn authenticate(
        &self,
        path: &str,
        authorization: Option<&[u8]>,
        peer_names: impl FnOnce() -> Vec<String>,
    ) -> Result<Option<Caller>, ApiError> {
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        if self.tokens.is_empty()
            || (self.open_health_and_reflection && OPEN_SERVICES.contains(&service))
        {
            return Ok(None);
        }
        let presented = authorization
            .and_then(bearer_token)
            .ok_or(ApiError::Unauthenticated)?;
        // Compare against every token so the time taken does not reveal which one nearly matched.
        let mut matched = None;
        for accepted in self.tokens.iter() {
            if bool::from(accepted.token.expose_secret().as_bytes().ct_eq(presented)) {
                matched = Some(accepted);
            }
        }
        let accepted = matched.ok_or(ApiError::Unauthenticated)?;
        // A bound token on another connection is a stolen token: the same answer as a wrong one.
        if !accepted.allows_peer(peer_names) {
            return Err(ApiError::Unauthenticated);
        }
        if !accepted.services.is_empty()
            && !accepted.services.iter().any(|allowed| allowed == service)
        {
            return Err(ApiError::PermissionDenied {
                caller: accepted.name.clone(),
                target: format!("service {service}"),
            });
        }
        Ok(Some(Caller {
            name: accepted.name.clone(),
            accounts: accepted.accounts.clone(),
        }))
    }
}

impl CallGate for CallerAuth {
    type Permit = ();

    /// Admits a known caller, recorded in the extensions as a [`Caller`] for the adapters.
    fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        extensions: &mut http::Extensions,
    ) -> Result<(), ApiError> {
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .map(|value| value.as_bytes());
        let peer_names = || client_cert::peer_names(extensions);
        if let Some(caller) = self.authenticate(path, authorization, peer_names)? {
            extensions.insert(caller);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CallerToken;

    impl CallerAuth {
        /// Authenticates a call from a connection without a client certificate.
        fn check(
            &self,
            path: &str,
            authorization: Option<&[u8]>,
        ) -> Result<Option<Caller>, ApiError> {
            self.authenticate(path, authorization, Vec::new)
        }
    }

    fn layer(tokens: &[(&str, &str, &[&str])]) -> CallerAuth {
        let tokens = tokens
            .iter()
            .map(|(name, token, services)| CallerToken {
                name: (*name).to_owned(),
                token: (*token).into(),
                accounts: vec!["main".to_owned()],
                services: services
                    .iter()
                    .map(|service| (*service).to_owned())
                    .collect(),
                limits: crate::config::CallerLimitOverrides::default(),
                client_cert_names: Vec::new(),
            })
            .collect();
        CallerAuth::from_config(&AuthConfig {
            tokens,
            open_health_and_reflection: true,
        })
    }

    #[test]
    fn calls_pass_without_a_token_when_none_is_configured() {
        let open = layer(&[]);
        assert_eq!(
            open.check("/wazzup_gateway.v1.MessageService/SendMessage", None)
                .ok(),
            Some(None)
        );
    }

    #[test]
    fn tokens_are_required_except_for_health_and_reflection() {
        let guarded = layer(&[("billing", "s3cret", &[])]);
        let send = "/wazzup_gateway.v1.MessageService/SendMessage";
        assert!(matches!(
            guarded.check(send, None),
            Err(ApiError::Unauthenticated)
        ));
        assert!(matches!(
            guarded.check(send, Some(b"Bearer wrong")),
            Err(ApiError::Unauthenticated)
        ));
        assert!(matches!(
            guarded.check(send, Some(b"s3cret")),
            Err(ApiError::Unauthenticated)
        ));
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let authorization = format!("{scheme} s3cret");
            let caller = guarded
                .check(send, Some(authorization.as_bytes()))
                .unwrap()
                .unwrap();
            assert_eq!(caller.name, "billing", "{scheme}");
        }
        assert_eq!(
            guarded.check("/grpc.health.v1.Health/Check", None).ok(),
            Some(None)
        );
        assert_eq!(
            guarded
                .check(
                    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                    None
                )
                .ok(),
            Some(None)
        );
    }

    #[test]
    fn tokens_limited_to_services_are_refused_elsewhere() {
        let guarded = layer(&[("reader", "r", &["wazzup_gateway.v1.ChannelService"])]);
        assert!(
            guarded
                .check(
                    "/wazzup_gateway.v1.ChannelService/ListChannels",
                    Some(b"Bearer r")
                )
                .is_ok()
        );
        let refused = guarded.check(
            "/wazzup_gateway.v1.MessageService/SendMessage",
            Some(b"Bearer r"),
        );
        assert!(matches!(refused, Err(ApiError::PermissionDenied { .. })));
    }

    #[test]
    fn callers_limited_to_accounts_are_refused_others() {
        let caller = Caller {
            name: "billing".to_owned(),
            accounts: vec!["main".to_owned()],
        };
        assert!(caller.check_account("main").is_ok());
        assert!(matches!(
            caller.check_account("other"),
            Err(ApiError::PermissionDenied { .. })
        ));
    }

    fn bound(names: &[&str]) -> CallerAuth {
        CallerAuth::from_config(&AuthConfig {
            tokens: vec![CallerToken {
                name: "billing".to_owned(),
                token: "s3cret".into(),
                accounts: Vec::new(),
                services: Vec::new(),
                limits: crate::config::CallerLimitOverrides::default(),
                client_cert_names: names.iter().map(|name| (*name).to_owned()).collect(),
            }],
            open_health_and_reflection: true,
        })
    }

    #[test]
    fn a_token_bound_to_a_certificate_is_accepted_only_from_a_client_naming_it() {
        let guarded = bound(&["billing.internal", "spiffe://acme/billing"]);
        let send = "/wazzup_gateway.v1.MessageService/SendMessage";
        let presenting = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
            guarded.authenticate(send, Some(b"Bearer s3cret"), move || names)
        };

        let caller = presenting(&["billing", "Billing.Internal"])
            .unwrap()
            .unwrap();
        assert_eq!(caller.name, "billing");
        assert!(presenting(&["spiffe://acme/billing"]).is_ok());
        for names in [&["reports", "reports.internal"][..], &[]] {
            assert!(
                matches!(presenting(names), Err(ApiError::Unauthenticated)),
                "{names:?}"
            );
        }
    }

    #[test]
    fn an_unbound_token_never_reads_the_certificate() {
        let open = bound(&[]);
        let caller = open
            .authenticate(
                "/wazzup_gateway.v1.MessageService/SendMessage",
                Some(b"Bearer s3cret"),
                || unreachable!("an unbound token reads no certificate"),
            )
            .unwrap();
        assert_eq!(caller.unwrap().name, "billing");
    }
}
