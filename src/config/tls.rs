//! `[tls]`: TLS, and optionally mutual TLS, on the gRPC listener, and TLS on the webhook listener.
//! Certificates and keys are PEM files, read at start and re-read when they change on disk (see
//! [`crate::api::tls`]).

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

/// PEM certificate chain the webhook listener presents; setting it (with the key) turns HTTPS on.
pub(crate) const ENV_WEBHOOK_TLS_CERT_FILE: &str = "WGW_WEBHOOK_TLS_CERT_FILE";
pub(super) const WEBHOOK_TLS_CERT_FILE: SettingDoc = SettingDoc {
    env: ENV_WEBHOOK_TLS_CERT_FILE,
    file_key: "tls.webhook_cert_file",
    default: "",
    description: "PEM certificate chain of the webhook listener; with the key, it serves HTTPS only (re-read on change).",
};

/// PEM private key of [`ENV_WEBHOOK_TLS_CERT_FILE`].
pub(crate) const ENV_WEBHOOK_TLS_KEY_FILE: &str = "WGW_WEBHOOK_TLS_KEY_FILE";
pub(super) const WEBHOOK_TLS_KEY_FILE: SettingDoc = SettingDoc {
    env: ENV_WEBHOOK_TLS_KEY_FILE,
    file_key: "tls.webhook_key_file",
    default: "",
    description: "PEM private key (PKCS#8, PKCS#1 or SEC1) of the webhook certificate (re-read on change).",
};

/// `[tls]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTls {
    pub(super) grpc_cert_file: Option<String>,
    pub(super) grpc_key_file: Option<String>,
    pub(super) grpc_client_ca_file: Option<String>,
    pub(super) webhook_cert_file: Option<String>,
    pub(super) webhook_key_file: Option<String>,
}

/// TLS on one listener: where its certificate, key and client CA are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain presented to clients.
    pub cert_file: PathBuf,
    /// Its private key.
    pub key_file: PathBuf,
    /// CA certificates client certificates must chain to; `None` asks for no client certificate.
    pub client_ca_file: Option<PathBuf>,
}

impl TlsFiles {
    /// Resolves the gRPC listener's TLS settings: environment, then file. `None` is plain-text
    /// gRPC.
    ///
    /// # Errors
    ///
    /// Fails when only one of the certificate and the key is given, or a client CA without them.
    pub(super) fn resolve_grpc(file: &FileTls, env: &Env) -> Result<Option<Self>, ConfigError> {
        let path = |setting: &SettingDoc, file_value: &Option<String>| {
            layered_opt(env, setting, file_value.as_deref(), &value::PATH)
        };
        let client_ca_file = path(&GRPC_TLS_CLIENT_CA_FILE, &file.grpc_client_ca_file)?;
        let pair = Self::resolve_pair(
            path(&GRPC_TLS_CERT_FILE, &file.grpc_cert_file)?,
            path(&GRPC_TLS_KEY_FILE, &file.grpc_key_file)?,
            (&GRPC_TLS_CERT_FILE, &GRPC_TLS_KEY_FILE),
        )?;
        match pair {
            Some((cert_file, key_file)) => Ok(Some(Self {
                cert_file,
                key_file,
                client_ca_file,
            })),
            None if client_ca_file.is_none() => Ok(None),
            None => Err(ConfigError::invalid(
                GRPC_TLS_CLIENT_CA_FILE.env,
                "unset, or set together with a certificate and key (mutual TLS needs TLS)",
            )),
        }
    }

    /// Resolves the webhook listener's TLS settings: environment, then file. `None` is plain
    /// HTTP. No client certificate is asked for: the upstreams present none.
    ///
    /// # Errors
    ///
    /// Fails when only one of the certificate and the key is given.
    pub(super) fn resolve_webhook(file: &FileTls, env: &Env) -> Result<Option<Self>, ConfigError> {
        let path = |setting: &SettingDoc, file_value: &Option<String>| {
            layered_opt(env, setting, file_value.as_deref(), &value::PATH)
        };
        let pair = Self::resolve_pair(
            path(&WEBHOOK_TLS_CERT_FILE, &file.webhook_cert_file)?,
            path(&WEBHOOK_TLS_KEY_FILE, &file.webhook_key_file)?,
            (&WEBHOOK_TLS_CERT_FILE, &WEBHOOK_TLS_KEY_FILE),
        )?;
        Ok(pair.map(|(cert_file, key_file)| Self {
            cert_file,
            key_file,
            client_ca_file: None,
        }))
    }

    /// Accepts a certificate and key given together, or neither; errors name the missing one.
    fn resolve_pair(
        cert_file: Option<PathBuf>,
        key_file: Option<PathBuf>,
        (cert_setting, key_setting): (&SettingDoc, &SettingDoc),
    ) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
        match (cert_file, key_file) {
            (Some(cert_file), Some(key_file)) => Ok(Some((cert_file, key_file))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::invalid(
                key_setting.env,
                "set, since a TLS certificate is configured",
            )),
            (None, Some(_)) => Err(ConfigError::invalid(
                cert_setting.env,
                "set, since a TLS key is configured",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn resolve(pairs: &[(&str, &str)]) -> Result<Option<TlsFiles>, ConfigError> {
        TlsFiles::resolve_grpc(&FileTls::default(), &env(pairs))
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

    #[test]
    fn the_webhook_listener_has_its_own_certificate_and_no_client_ca() {
        let none = TlsFiles::resolve_webhook(&FileTls::default(), &env(&[])).unwrap();
        assert_eq!(none, None);
        let file = FileTls {
            webhook_cert_file: Some("/tls/hooks.pem".to_owned()),
            webhook_key_file: Some("/tls/hooks-key.pem".to_owned()),
            ..FileTls::default()
        };
        let from_file = TlsFiles::resolve_webhook(&file, &env(&[]))
            .unwrap()
            .unwrap();
        assert_eq!(from_file.cert_file, PathBuf::from("/tls/hooks.pem"));
        assert_eq!(from_file.client_ca_file, None);
        let overridden =
            TlsFiles::resolve_webhook(&file, &env(&[(ENV_WEBHOOK_TLS_KEY_FILE, "/other/key.pem")]))
                .unwrap()
                .unwrap();
        assert_eq!(overridden.key_file, PathBuf::from("/other/key.pem"));
        let only_cert = TlsFiles::resolve_webhook(
            &FileTls::default(),
            &env(&[(ENV_WEBHOOK_TLS_CERT_FILE, "/c")]),
        )
        .unwrap_err();
        assert!(
            only_cert.to_string().contains(ENV_WEBHOOK_TLS_KEY_FILE),
            "{only_cert}"
        );
    }
}
