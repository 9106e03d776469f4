//! TLS material for the mini Internet: a private CA and a leaf certificate it signs, made with rcgen
//! and handed out as rustls configs.
//!
//! Services that speak TLS (SMTP STARTTLS, IMAPS, FTPS, HTTPS) use [`TlsMaterial::server_config`];
//! our own clients trust the CA through [`TlsMaterial::client_config`]; other clients (curl, swaks,
//! python) are pointed at the CA file that [`TlsMaterial::load_or_generate`] keeps on disk.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS material could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("rustls rejected the material: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS material in {path}: {message}")]
    Stored { path: String, message: String },
    #[error("cannot read or write TLS material: {0}")]
    Io(#[from] std::io::Error),
}

/// Where appnet keeps its own TLS material (its local CA and the servers' certificate) unless
/// told otherwise: clients trust `default_dir()/ca.pem`.
pub fn default_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("appnet-tls")
}

const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";

/// A CA certificate and a leaf certificate chain with its private key.
pub struct TlsMaterial {
    ca_pem: String,
    chain_pem: String,
    key_pem: String,
}

impl TlsMaterial {
    /// Makes a fresh CA and a leaf certificate valid for `names` (DNS names or IP addresses).
    pub fn generate(names: &[&str]) -> Result<TlsMaterial, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.distinguished_name = named("appnet local CA");
        let ca_cert = ca_params.self_signed(&ca_key)?;

        let leaf_key = KeyPair::generate()?;
        let mut leaf_params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        leaf_params.distinguished_name = named(names.first().copied().unwrap_or("appnet"));
        let leaf_cert = leaf_params.signed_by(&leaf_key, &ca_cert, &ca_key)?;

        Ok(TlsMaterial {
            ca_pem: ca_cert.pem(),
            chain_pem: leaf_cert.pem() + &ca_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
        })
    }

    /// Loads the material kept in `dir`, or generates it for `names` and stores it there, so that
    /// external clients can be given a CA file that stays valid across runs.
    ///
    /// Several processes may start at once (`appnet up` twice, parallel tests): each writes its
    /// material into a directory of its own and renames it into place, so `dir` only ever holds
    /// one complete set, and a process that loses the race loads the winner's.
    pub fn load_or_generate(dir: &Path, names: &[&str]) -> Result<TlsMaterial, TlsError> {
        if let Some(material) = Self::load(dir)? {
            return Ok(material);
        }
        let material = TlsMaterial::generate(names)?;
        let staging = dir.with_extension(format!("new-{}", std::process::id()));
        std::fs::create_dir_all(&staging)?;
        std::fs::write(staging.join(CA_FILE), &material.ca_pem)?;
        std::fs::write(staging.join(CERT_FILE), &material.chain_pem)?;
        write_private(&staging.join(KEY_FILE), &material.key_pem)?;
        if std::fs::rename(&staging, dir).is_ok() {
            return Ok(material);
        }
        let _ = std::fs::remove_dir_all(&staging);
        Self::load(dir)?.ok_or_else(|| TlsError::Stored {
            path: dir.display().to_string(),
            message: "neither stored nor storable".into(),
        })
    }

    /// The material stored in `dir`, if a complete set is there.
    fn load(dir: &Path) -> Result<Option<TlsMaterial>, TlsError> {
        let paths = [CA_FILE, CERT_FILE, KEY_FILE].map(|file| dir.join(file));
        if !paths.iter().all(|p| p.exists()) {
            return Ok(None);
        }
        let [ca_pem, chain_pem, key_pem] = paths.map(std::fs::read_to_string);
        let material = TlsMaterial {
            ca_pem: ca_pem?,
            chain_pem: chain_pem?,
            key_pem: key_pem?,
        };
        material.server_config().map_err(|err| TlsError::Stored {
            path: dir.display().to_string(),
            message: err.to_string(),
        })?;
        Ok(Some(material))
    }

    /// The CA certificate in PEM, for clients that must trust the leaf.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A rustls server config presenting the leaf certificate.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        server_config_from_pem(&self.chain_pem, &self.key_pem)
    }

    /// A rustls client config that trusts exactly this CA.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        client_config_trusting(&self.ca_pem)
    }
}

/// A rustls client config that trusts exactly the CA certificates in `ca_pem`.
pub fn client_config_trusting(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(|err| stored_pem_error("CA certificate", err))?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn named(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "appnet");
    name
}

fn stored_pem_error(what: &str, err: impl std::fmt::Display) -> TlsError {
    TlsError::Stored {
        path: what.to_owned(),
        message: err.to_string(),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(contents.as_bytes())
    }
    #[cfg(not(unix))]
    std::fs::write(path, contents)
}

/// A rustls server config from a certificate chain and a private key given by the user, as
/// PEM files (`--cert`, `--key`).
pub fn server_config_from_files(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|err| TlsError::Stored {
            path: path.display().to_string(),
            message: err.to_string(),
        })
    };
    server_config_from_pem(&read(cert)?, &read(key)?)
}

fn server_config_from_pem(
    chain_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| stored_pem_error("certificate chain", err))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|err| stored_pem_error("private key", err))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// How long a server gives a client to finish a TLS handshake when nothing else bounds it.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The server side of a TLS handshake on `stream`, which must finish within `limit` (a
/// client that starts one and stalls must not hold a connection slot forever).
pub async fn accept_within(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    limit: std::time::Duration,
) -> std::io::Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    tokio::time::timeout(limit, acceptor.accept(stream))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use std::io::{Read, Write};

    /// Runs a full TLS handshake in memory and sends one message each way.
    fn handshake(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
        name: &str,
    ) -> Result<(), rustls::Error> {
        let mut client =
            rustls::ClientConnection::new(client, ServerName::try_from(name.to_owned()).unwrap())?;
        let mut server = rustls::ServerConnection::new(server)?;
        client.writer().write_all(b"ping").unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets()?;
            let mut wire = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets()?;
        }
        let mut got = [0u8; 4];
        server.reader().read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        Ok(())
    }

    #[test]
    fn our_client_trusts_our_server() {
        let material = TlsMaterial::generate(&["mail.alpha.example", "127.0.0.1"]).unwrap();
        handshake(
            material.server_config().unwrap(),
            material.client_config().unwrap(),
            "mail.alpha.example",
        )
        .unwrap();
    }

    #[test]
    fn the_certificate_names_are_checked() {
        let material = TlsMaterial::generate(&["mail.alpha.example"]).unwrap();
        let err = handshake(
            material.server_config().unwrap(),
            material.client_config().unwrap(),
            "mail.beta.example",
        );
        assert!(err.is_err());
    }

    #[test]
    fn stored_material_is_reused() {
        let dir = std::env::temp_dir().join(format!("appnet-tls-test-{}", std::process::id()));
        let first = TlsMaterial::load_or_generate(&dir, &["localhost"]).unwrap();
        let second = TlsMaterial::load_or_generate(&dir, &["localhost"]).unwrap();
        assert_eq!(first.ca_pem(), second.ca_pem());
        handshake(
            second.server_config().unwrap(),
            first.client_config().unwrap(),
            "localhost",
        )
        .unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
