//! `[tls]`: TLS, and optionally mutual TLS, on the gRPC listener. Certificates and keys are PEM
//! files, read at start and re-read when they change on disk (see [`crate::api::tls`]).

use std::path::PathBuf;

use serde::Deserialize;

use super::{
    ConfigError,
    doc::SettingDoc,
    value::{self, Env, layered_opt},
};

/// PEM certificate chain the gRPC listener presents; setting it (with the key) turns TLS on.
pub(crate) const ENV_GRPC_TLS_CERT_FILE: &str = "WGW_GRPC_TLS_CERT_FILE";
pub(super) const GRPC_TLS_CERT_FILE: SettingDoc = SettingDoc {
    env: ENV_GRPC_TLS_CERT_FILE,
    file_key: "tls.grpc_cert_file",
    default: "",
    description: "PEM certificate chain of the gRPC listener; with the key, turns TLS on (re-read on change).",
};

/// PEM private key of [`ENV_GRPC_TLS_CERT_FILE`].
pub(crate) const ENV_GRPC_TLS_KEY_FILE: &str = "WGW_GRPC_TLS_KEY_FILE";
pub(super) const GRPC_TLS_KEY_FILE: SettingDoc = SettingDoc {
    env: ENV_GRPC_TLS_KEY_FILE,
    file_key: "tls.grpc_key_file",
    default: "",
    description: "PEM private key (PKCS#8, PKCS#1 or SEC1) of the gRPC certificate (re-read on change).",
};

/// PEM CA certificates that sign client certificates; setting it makes client certificates
/// mandatory (mutual TLS).
pub(crate) const ENV_GRPC_TLS_CLIENT_CA_FILE: &str = "WGW_GRPC_TLS_CLIENT_CA_FILE";
pub(super) const GRPC_TLS_CLIENT_CA_FILE: SettingDoc = SettingDoc {
    env: ENV_GRPC_TLS_CLIENT_CA_FILE,
    file_key: "tls.grpc_client_ca_file",
    default: "",
    description: "PEM CA bundle for client certificates; set, every gRPC client must present one (mutual TLS).",
};

/// `[tls]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTls {
    pub(super) grpc_cert_file: Option<String>,
    pub(super) grpc_key_file: Option<String>,
    pub(super) grpc_client_ca_file: Option<String>,
}

/// TLS on the gRPC listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcTlsConfig {
    /// The certificate chain presented to clients.
    pub cert_file: PathBuf,
    /// Its private key.
    pub key_file: PathBuf,
    /// CA certificates client certificates must chain to; `None` asks for no client certificate.
    pub client_ca_file: Option<PathBuf>,
}

impl GrpcTlsConfig {
    /// Resolves the TLS settings: environment, then file. `None` is plain-text gRPC.
    ///
    /// # Errors
    ///
    /// Fails when only one of the certificate and the key is given, or a client CA without them.
    pub(super) fn resolve(file: &FileTls, env: &Env) -> Result<Option<Self>, ConfigError> {
        let path = |setting: &SettingDoc, file_value: &Option<String>| {
            layered_opt(env, setting, file_value.as_deref(), &value::PATH)
        };
        let cert_file = path(&GRPC_TLS_CERT_FILE, &file.grpc_cert_file)?;
        let key_file = path(&GRPC_TLS_KEY_FILE, &file.grpc_key_file)?;
        let client_ca_file = path(&GRPC_TLS_CLIENT_CA_FILE, &file.grpc_client_ca_file)?;
        match (cert_file, key_file) {
            (Some(cert_file), Some(key_file)) => Ok(Some(Self {
                cert_file,
                key_file,
                client_ca_file,
            })),
            (None, None) if client_ca_file.is_none() => Ok(None),
            (None, None) => Err(ConfigError::invalid(
                GRPC_TLS_CLIENT_CA_FILE.env,
                "unset, or set together with a certificate and key (mutual TLS needs TLS)",
            )),
            (Some(_), None) => Err(ConfigError::invalid(
                GRPC_TLS_KEY_FILE.env,
                "set, since a TLS certificate is configured",
            )),
            (None, Some(_)) => Err(ConfigError::invalid(
                GRPC_TLS_CERT_FILE.env,
                "set, since a TLS key is configured",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<Option<GrpcTlsConfig>, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        GrpcTlsConfig::resolve(&FileTls::default(), &env)
    }

    #[test]
    fn tls_is_off_until_a_certificate_and_key_are_given() {
        assert_eq!(resolve(&[]).unwrap(), None);
        let tls = resolve(&[
            (ENV_GRPC_TLS_CERT_FILE, "/tls/cert.pem"),
            (ENV_GRPC_TLS_KEY_FILE, "/tls/key.pem"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(tls.cert_file, PathBuf::from("/tls/cert.pem"));
        assert_eq!(tls.client_ca_file, None);
    }

    #[test]
    fn half_a_tls_setting_is_an_error_naming_what_is_missing() {
        let only_cert = resolve(&[(ENV_GRPC_TLS_CERT_FILE, "/c")]).unwrap_err();
        assert!(
            only_cert.to_string().contains(ENV_GRPC_TLS_KEY_FILE),
            "{only_cert}"
        );
        let only_key = resolve(&[(ENV_GRPC_TLS_KEY_FILE, "/k")]).unwrap_err();
        assert!(
            only_key.to_string().contains(ENV_GRPC_TLS_CERT_FILE),
            "{only_key}"
        );
        let only_ca = resolve(&[(ENV_GRPC_TLS_CLIENT_CA_FILE, "/ca")]).unwrap_err();
        assert!(
            only_ca.to_string().contains(ENV_GRPC_TLS_CLIENT_CA_FILE),
            "{only_ca}"
        );
    }
}
