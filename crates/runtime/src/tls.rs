//! Native TLS and mTLS with rustls (docs/adr/0017-native-tls.md): the one crypto provider
//! (ring), the server's TLS acceptor over a swappable `ServerConfig` that is reloaded when its
//! PEM files change, and the process's service-to-service client TLS (`https://` upstreams).
//!
//! tonic's own `ServerTlsConfig` is fixed at start, so the server accepts TCP itself, runs the
//! rustls handshake with the *current* config and hands finished TLS streams to tonic; a
//! reload swaps the config for new connections while open ones keep theirs. Client certificates
//! reach services as tonic's `TlsConnectInfo` (`Request::peer_certs`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming, TlsConnectInfo};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::shutdown::Shutdown;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS files that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or holds no usable PEM object.
    #[error("{key} {}: {message}", path.display())]
    File {
        /// The configuration key that names the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refused the certificates or key (e.g. the key does not match the certificate).
    #[error("{what}: {source}")]
    Rustls {
        /// Which settings were combined.
        what: &'static str,
        /// rustls's reason.
        source: rustls::Error,
    },
    /// The client CA could not be turned into a client-certificate verifier.
    #[error("tls.client_ca_file: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
}

/// Installs ring as the process's rustls crypto provider. Call it first in `main` and in test
/// harnesses: with no provider installed, rustls panics once two are linked (vaultrs, reqwest
/// and tonic can each bring one). Idempotent; a provider installed earlier is kept.
pub fn install_crypto_provider() {
    // Err only means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's TLS files: `cert_file`, `key_file` and, for mTLS, `client_ca_file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key of the leaf.
    pub key_file: PathBuf,
    /// PEM CA certificates client certificates must chain to; `None`: no client certificates.
    pub client_ca_file: Option<PathBuf>,
}

impl ServerTlsFiles {
    /// The server files of `config`, if it serves TLS.
    pub fn from_config(config: &pake_core::config::TlsConfig) -> Option<Self> {
        Some(ServerTlsFiles {
            cert_file: config.cert_file.clone()?,
            key_file: config.key_file.clone()?,
            client_ca_file: config.client_ca_file.clone(),
        })
    }

    fn paths(&self) -> impl Iterator<Item = &Path> {
        [
            Some(&self.cert_file),
            Some(&self.key_file),
            self.client_ca_file.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
    }

    /// Modification time and length of every file, to notice replacements.
    fn stamp(&self) -> Vec<Option<(SystemTime, u64)>> {
        self.paths()
            .map(|path| {
                std::fs::metadata(path)
                    .ok()
                    .and_then(|meta| Some((meta.modified().ok()?, meta.len())))
            })
            .collect()
    }

    /// Reads the files into a rustls server config that offers HTTP/2.
    pub fn load(&self) -> Result<rustls::ServerConfig, Error> {
        let certs = read_certificates("tls.cert_file", &self.cert_file)?;
        let key = PrivateKeyDer::from_pem_file(&self.key_file).map_err(|error| Error::File {
            key: "tls.key_file",
            path: self.key_file.clone(),
            message: error.to_string(),
        })?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| Error::Rustls {
                what: "tls protocol versions",
                source,
            })?;
        let builder = match &self.client_ca_file {
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                for certificate in read_certificates("tls.client_ca_file", path)? {
                    roots.add(certificate).map_err(|source| Error::Rustls {
                        what: "tls.client_ca_file",
                        source,
                    })?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider(),
                )
                .build()?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|source| Error::Rustls {
                what: "tls.cert_file and tls.key_file",
                source,
            })?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

fn read_certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let file_error = |message: String| Error::File {
        key,
        path: path.to_owned(),
        message,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(file_error("no PEM CERTIFICATE in the file".to_owned()));
    }
    Ok(certificates)
}

/// The gRPC server's TLS: the current rustls config, swapped when the files change.
#[derive(Clone, Debug)]
pub struct ServerTls {
    files: ServerTlsFiles,
    current: Arc<ArcSwap<rustls::ServerConfig>>,
    reload_interval: Duration,
}

impl ServerTls {
    /// Loads `files` now (an error here stops start-up); they are checked for changes every
    /// `reload_interval` once the server runs.
    pub fn load(files: ServerTlsFiles, reload_interval: Duration) -> Result<Self, Error> {
        let config = files.load()?;
        Ok(ServerTls {
            files,
            current: Arc::new(ArcSwap::from_pointee(config)),
            reload_interval,
        })
    }

    /// Whether clients must present a certificate.
    pub fn requires_client_certificates(&self) -> bool {
        self.files.client_ca_file.is_some()
    }

    /// Polls the files until `shutdown`; a changed set that loads replaces the config for new
    /// connections, one that does not is logged and the old config kept.
    pub fn spawn_reloader(&self, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut seen = tls.files.stamp();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(tls.reload_interval) => {}
                    () = shutdown.cancelled() => return,
                }
                let stamp = tls.files.stamp();
                if stamp == seen {
                    continue;
                }
                // A load that fails (say, the key not yet written) is retried at the next change.
                seen = stamp;
                match tls.files.load() {
                    Ok(config) => {
                        tls.current.store(Arc::new(config));
                        tracing::info!(cert_file = %tls.files.cert_file.display(), "reloaded the tls certificate");
                    }
                    Err(error) => {
                        tracing::error!(%error, "tls files changed but cannot be used; keeping the previous certificate");
                    }
                }
            }
        })
    }

    /// Accepts connections on `listener` (TCP_NODELAY, as the plaintext server) and yields them
    /// once their handshake succeeded; handshakes run concurrently, so a slow or refused client
    /// delays nobody. Accepting stops when the returned stream is dropped.
    pub fn incoming(
        &self,
        listener: TcpListener,
    ) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let current = self.current.clone();
        tokio::spawn(async move {
            let mut tcp = TcpIncoming::from(listener).with_nodelay(Some(true));
            loop {
                let accepted = tokio::select! {
                    accepted = tcp.next() => accepted,
                    () = sender.closed() => return,
                };
                let stream = match accepted {
                    Some(Ok(stream)) => stream,
                    Some(Err(error)) => {
                        tracing::debug!(%error, "accepting a connection failed");
                        continue;
                    }
                    None => return,
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(current.load_full());
                let sender = sender.clone();
                tokio::spawn(async move {
                    let peer = stream.peer_addr().ok();
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            // Err: the server stopped accepting meanwhile; the connection drops.
                            let _ = sender.send(Ok(tls)).await;
                        }
                        Ok(Err(error)) => {
                            tracing::info!(?peer, %error, "tls handshake refused");
                        }
                        Err(_) => tracing::info!(?peer, "tls handshake timed out"),
                    }
                });
            }
        });
        ReceiverStream::new(receiver)
    }
}

/// Copies the TCP peer of a TLS connection into the request as a plain [`TcpConnectInfo`], so
/// per-address rate limits and `X-Forwarded-For` trust see TLS callers as they see plaintext
/// ones. A no-op on plaintext connections.
pub fn expose_tcp_connect_info(
    mut request: http::Request<tonic::body::Body>,
) -> http::Request<tonic::body::Body> {
    if request.extensions().get::<TcpConnectInfo>().is_none()
        && let Some(info) = request.extensions().get::<TlsConnectInfo<TcpConnectInfo>>()
    {
        let tcp = info.get_ref().clone();
        request.extensions_mut().insert(tcp);
    }
    request
}

/// The process's client TLS: the CA that upstream servers' certificates must chain to and the
/// certificate this process presents.
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: ClientTlsConfig,
}

impl ClientTls {
    /// From `tls.ca_file` and, for mTLS, `tls.client_cert_file` / `tls.client_key_file`;
    /// `None` when `tls.ca_file` is unset (no `https://` upstreams).
    pub fn from_config(config: &pake_core::config::TlsConfig) -> Result<Option<Self>, Error> {
        let Some(ca_file) = &config.ca_file else {
            return Ok(None);
        };
        let identity = match (&config.client_cert_file, &config.client_key_file) {
            (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
            _ => None,
        };
        Self::load(ca_file, identity).map(Some)
    }

    /// Reads (and checks) the PEM files.
    pub fn load(ca_file: &Path, identity: Option<(&Path, &Path)>) -> Result<Self, Error> {
        let read = |key: &'static str, path: &Path| {
            std::fs::read(path).map_err(|error| Error::File {
                key,
                path: path.to_owned(),
                message: error.to_string(),
            })
        };
        read_certificates("tls.ca_file", ca_file)?;
        let mut config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read("tls.ca_file", ca_file)?))
            .assume_http2(true)
            .timeout(HANDSHAKE_TIMEOUT);
        if let Some((cert_file, key_file)) = identity {
            read_certificates("tls.client_cert_file", cert_file)?;
            PrivateKeyDer::from_pem_file(key_file).map_err(|error| Error::File {
                key: "tls.client_key_file",
                path: key_file.to_owned(),
                message: error.to_string(),
            })?;
            config = config.identity(Identity::from_pem(
                read("tls.client_cert_file", cert_file)?,
                read("tls.client_key_file", key_file)?,
            ));
        }
        Ok(ClientTls { config })
    }

    /// Applies this TLS to `endpoint` if its URL is `https://`.
    pub fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, tonic::transport::Error> {
        if endpoint.uri().scheme_str() == Some("https") {
            endpoint.tls_config(self.config.clone())
        } else {
            Ok(endpoint)
        }
    }
}

/// The client TLS of this process, set once at start-up by the binary: every service-to-service
/// client is built through [`client_endpoint`], whichever crate builds it.
static CLIENT_TLS: RwLock<Option<ClientTls>> = RwLock::new(None);

/// Makes `tls` the TLS of every `https://` endpoint built by [`client_endpoint`] from now on.
pub fn set_client_tls(tls: Option<ClientTls>) {
    let mut slot = CLIENT_TLS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *slot = tls;
}

/// An endpoint for `url`: plaintext for `http://`; for `https://`, the process's client TLS
/// ([`set_client_tls`]) — without it, tonic refuses to connect to an `https://` URL.
pub fn client_endpoint(url: &str) -> Result<Endpoint, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(url.to_owned())?;
    let tls = CLIENT_TLS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    match tls {
        Some(tls) => tls.apply(endpoint),
        None => Ok(endpoint),
    }
}
