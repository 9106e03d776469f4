//! Trust for `https` URLs (RFC 9110 §4.2.2, RFC 8446): a rustls client config whose only
//! anchors are the CA certificates of a PEM file, by default appnet's own local CA (the one
//! `appnet_core::tls::TlsMaterial` keeps on disk). No public roots: the mini Internet's traffic
//! never leaves this machine. ALPN offers `http/1.1` only (RFC 7301).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::error::ClientError;

/// The CA file of appnet's local TLS material: `<temp dir>/appnet-tls/ca.pem`, where
/// `appnet http serve --tls-listen` keeps it (`TlsMaterial::load_or_generate` names it `ca.pem`).
pub fn default_ca_file() -> PathBuf {
    appnet_core::tls::default_dir().join("ca.pem")
}

/// A client config trusting exactly the certificates in `ca_pem`.
pub(crate) fn client_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let bad = |reason: String| ClientError::TlsConfig(reason);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|err| bad(format!("bad PEM: {err}")))?;
        roots
            .add(cert)
            .map_err(|err| bad(format!("unusable CA certificate: {err}")))?;
    }
    if roots.is_empty() {
        return Err(bad("no CERTIFICATE in the CA file".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| bad(err.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The config for appnet's local CA, read from [`default_ca_file`].
pub(crate) fn default_client_config() -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let path = default_ca_file();
    let pem = std::fs::read(&path).map_err(|err| {
        ClientError::TlsConfig(format!(
            "cannot read appnet's local CA {} ({err}); give a CA file (--cacert)",
            path.display()
        ))
    })?;
    client_config(&pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusts_a_generated_ca_and_refuses_junk() {
        let material = appnet_core::tls::TlsMaterial::generate(&["localhost"]).unwrap();
        assert!(client_config(material.ca_pem().as_bytes()).is_ok());
        assert!(matches!(
            client_config(b"not a certificate"),
            Err(ClientError::TlsConfig(_))
        ));
        assert!(matches!(
            client_config(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(ClientError::TlsConfig(_))
        ));
    }
}
