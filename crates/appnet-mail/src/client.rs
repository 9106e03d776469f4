//! The tokio driver of an SMTP client session ([`crate::smtp::ClientSession`]): connects,
//! moves bytes between the socket and the session, upgrades to TLS when the session asks, and
//! returns what happened to each recipient. The relay and the user agent both use it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use appnet_core::trace::{Role, TraceScope, Tracer};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

use crate::smtp::{ClientOutput, ClientSession, Delivery};

/// How to reach one server.
pub struct Connect<'a> {
    pub address: SocketAddr,
    /// The local address to connect from (a server relays from its own address); `None` lets
    /// the kernel choose.
    pub source: Option<IpAddr>,
    /// The name the server's certificate is checked against.
    pub server_name: &'a str,
    pub tls: Arc<rustls::ClientConfig>,
    /// For connecting and for each reply (RFC 5321 §4.5.3.2 asks for minutes; callers choose).
    pub timeout: Duration,
}

/// Runs `session` against the server at `connect.address` to its end.
pub async fn run_session(
    connect: Connect<'_>,
    mut session: ClientSession,
    tracer: &Tracer,
) -> io::Result<Delivery> {
    let stream = tokio::time::timeout(connect.timeout, open(connect.address, connect.source))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    let trace = tracer.scope("smtp", Role::Client, stream.local_addr()?, connect.address);
    match converse(stream, &mut session, &trace, connect.timeout).await? {
        Step::Done(delivery) => Ok(delivery),
        Step::StartTls(stream) => {
            let name = ServerName::try_from(connect.server_name.to_string())
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
            let tls = TlsConnector::from(connect.tls.clone());
            let stream = tokio::time::timeout(connect.timeout, tls.connect(name, stream))
                .await
                .map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                })??;
            session.tls_established();
            match converse(stream, &mut session, &trace, connect.timeout).await? {
                Step::Done(delivery) => Ok(delivery),
                Step::StartTls(_) => Err(io::Error::other("STARTTLS asked twice")),
            }
        }
    }
}

async fn open(address: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    socket.connect(address).await
}

enum Step<S> {
    Done(Delivery),
    /// The session wants TLS: here is the plain stream back to upgrade.
    StartTls(S),
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    session: &mut ClientSession,
    trace: &TraceScope,
    timeout: Duration,
) -> io::Result<Step<S>> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(output) = session.poll_output() {
            match output {
                ClientOutput::Send(bytes) => {
                    trace.sent(&bytes, || summarize(&bytes));
                    stream.write_all(&bytes).await?;
                }
                ClientOutput::StartTls => return Ok(Step::StartTls(stream)),
                ClientOutput::Done(delivery) => {
                    let _ = stream.shutdown().await;
                    return Ok(Step::Done(delivery));
                }
            }
        }
        let read = match tokio::time::timeout(timeout, stream.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_) => 0,
        };
        if read == 0 {
            session.feed_eof();
        } else {
            trace.received(&buf[..read], || summarize(&buf[..read]));
            session.feed(&buf[..read]);
        }
    }
}

/// A transcript line for bytes on the wire: the text, or for a message body its first line and
/// size.
pub fn summarize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_end_matches(['\r', '\n']);
    if trimmed.lines().count() > 8 {
        let first = trimmed.lines().next().unwrap_or_default();
        return format!("{first} … ({} bytes)", bytes.len());
    }
    trimmed.replace("\r\n", "\n")
}

/// TLS for relaying between MX hosts: encrypt, but accept any certificate, as RFC 7435's
/// opportunistic security and Postfix's `smtp_tls_security_level = may` do. A server's
/// certificate on port 25 is rarely one its name can be checked against; refusing would only
/// push the mail back to plaintext.
pub fn opportunistic_tls() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
        .with_no_client_auth();
    Arc::new(config)
}

/// Checks the handshake's signatures but not who signed the certificate.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
