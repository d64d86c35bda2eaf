//! The names a client certificate carries, for caller tokens bound to a certificate: its subject
//! common names and its DNS, URI and email subject alternative names.
//!
//! The certificate has already been verified against the client CA by the TLS handshake; this only
//! reads who it names. x509-parser reads the DER, since rustls exposes the chain but not its names.

use http::Extensions;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// Returns the names of the leaf certificate the client of this call presented; empty when it
/// presented none (plain TCP, or TLS without a client certificate).
pub(crate) fn peer_names(extensions: &Extensions) -> Vec<String> {
    extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(TlsConnectInfo::peer_certs)
        .and_then(|chain| chain.first().map(|leaf| names(leaf.as_ref())))
        .unwrap_or_default()
}

/// Returns the subject common names and the DNS, URI and email subject alternative names of the
/// DER certificate `der`; empty when it cannot be read.
pub(crate) fn names(der: &[u8]) -> Vec<String> {
    let Ok((_, certificate)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|common_name| common_name.as_str().ok())
        .map(str::to_owned)
        .collect();
    if let Ok(Some(alternative)) = certificate.subject_alternative_name() {
        names.extend(
            alternative
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(name)
                    | GeneralName::URI(name)
                    | GeneralName::RFC822Name(name) => Some((*name).to_owned()),
                    _ => None,
                }),
        );
    }
    names
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    use super::*;

    /// A self-signed certificate with `common_name` and `alternative_names`, as DER.
    fn certificate(common_name: &str, alternative_names: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        let mut subject = DistinguishedName::new();
        subject.push(DnType::CommonName, common_name);
        subject.push(DnType::OrganizationName, "Acme");
        params.distinguished_name = subject;
        params.subject_alt_names = alternative_names;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_the_common_name_and_the_dns_uri_and_email_alternative_names() {
        let der = certificate(
            "billing",
            vec![
                SanType::DnsName("billing.internal".try_into().unwrap()),
                SanType::URI("spiffe://acme/billing".try_into().unwrap()),
                SanType::Rfc822Name("billing@acme.example".try_into().unwrap()),
                SanType::IpAddress("10.0.0.1".parse().unwrap()),
            ],
        );

        assert_eq!(
            names(&der),
            [
                "billing",
                "billing.internal",
                "spiffe://acme/billing",
                "billing@acme.example"
            ]
        );
    }

    #[test]
    fn a_call_without_a_certificate_or_with_garbage_has_no_names() {
        assert!(peer_names(&Extensions::new()).is_empty());
        assert!(names(b"not a certificate").is_empty());
    }
}
