//! Native TLS and mTLS of the gRPC server (`pake_runtime::tls`), against a real server on
//! port 0 and real clients: a CA and certificates are generated at run time with rcgen.
//!
//! - a client with a certificate from the CA gets SERVING from grpc.health.v1;
//! - a client without a certificate, and one with a certificate of another CA, are refused;
//! - replacing the certificate files switches new connections to the new certificate while the
//!   server keeps running, and a broken replacement keeps the previous certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pake_runtime::tls::{ClientTls, ServerTls, ServerTlsFiles};
use pake_runtime::{GrpcServer, ServerHandle, Shutdown};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

type Ca = CertifiedIssuer<'static, KeyPair>;

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("ca key")).expect("ca")
}

/// A leaf certificate for `localhost` / 127.0.0.1 signed by `ca`: (certificate PEM, key PEM).
fn leaf(ca: &Ca, common_name: &str, serial: u64, server: bool) -> (String, String) {
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.serial_number = Some(SerialNumber::from(serial));
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = KeyPair::generate().expect("leaf key");
    let certificate = params.signed_by(&key, &**ca).expect("leaf");
    (certificate.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write pem");
    path
}

/// Replaces `path` atomically (as a Kubernetes secret volume swaps its files).
fn replace(path: &Path, contents: &str) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, contents).expect("write pem");
    std::fs::rename(&temporary, path).expect("rename pem");
}

struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    server: ServerTlsFiles,
}

impl Pki {
    fn new() -> Self {
        pake_runtime::tls::install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = ca("pake test ca");
        let (cert, key) = leaf(&ca, "server-1", 1, true);
        let server = ServerTlsFiles {
            cert_file: write(dir.path(), "server.pem", &cert),
            key_file: write(dir.path(), "server-key.pem", &key),
            client_ca_file: Some(write(dir.path(), "ca.pem", &ca.pem())),
        };
        Pki { dir, ca, server }
    }

    /// Client TLS trusting the CA, presenting a certificate of `issuer` if given.
    fn client(&self, issuer: Option<&Ca>, name: &str) -> ClientTls {
        let ca_file = self.server.client_ca_file.clone().expect("ca file");
        match issuer {
            Some(issuer) => {
                let (cert, key) = leaf(issuer, name, 100, false);
                let cert_file = write(self.dir.path(), &format!("{name}.pem"), &cert);
                let key_file = write(self.dir.path(), &format!("{name}-key.pem"), &key);
                ClientTls::load(&ca_file, Some((&cert_file, &key_file))).expect("client tls")
            }
            None => ClientTls::load(&ca_file, None).expect("client tls"),
        }
    }
}

async fn start(files: ServerTlsFiles, reload: Duration) -> ServerHandle {
    let verifier = Arc::new(pake_core::token::Verifier::new(
        // Never asked: health calls need no token.
        Arc::new(pake_runtime::auth::GrpcJwksSource::new("http://127.0.0.1:9").expect("jwks")),
        "test-issuer",
        "test-audience",
        Duration::from_secs(30),
    ));
    let mut server = GrpcServer::new(Shutdown::new(), Duration::from_secs(5), verifier);
    server.set_tls(ServerTls::load(files, reload).expect("server tls"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    server.start(listener).await.expect("start")
}

/// The process-wide health status as a new TLS connection sees it, or why it failed.
async fn health(server: &ServerHandle, client: &ClientTls) -> Result<ServingStatus, String> {
    let url = format!("https://{}", server.local_addr());
    let endpoint = client
        .apply(Endpoint::from_shared(url).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|status| format!("{status:?}"))?;
    Ok(response.into_inner().status())
}

/// The leaf certificate the server presents to a new connection.
async fn presented_certificate(server: &ServerHandle, pki: &Pki) -> CertificateDer<'static> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca.pem().as_bytes()).expect("ca der"))
        .expect("root");
    let (cert, key) = leaf(&pki.ca, "probe", 7, false);
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert der")],
            rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key der"),
        )
        .expect("client config");
    let tcp = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("handshake");
    tls.get_ref().1.peer_certificates().expect("peer certs")[0].clone()
}

#[tokio::test]
async fn mtls_accepts_certificates_of_the_ca_and_refuses_others() {
    let pki = Pki::new();
    let server = start(pki.server.clone(), Duration::from_secs(5)).await;

    let valid = pki.client(Some(&pki.ca), "search");
    assert_eq!(health(&server, &valid).await, Ok(ServingStatus::Serving));

    let anonymous = pki.client(None, "anonymous");
    let refused = health(&server, &anonymous).await;
    assert!(refused.is_err(), "no client certificate: {refused:?}");

    let stranger = ca("another ca");
    let foreign = pki.client(Some(&stranger), "intruder");
    let refused = health(&server, &foreign).await;
    assert!(refused.is_err(), "certificate of another CA: {refused:?}");

    // The refusals left the server serving.
    assert_eq!(health(&server, &valid).await, Ok(ServingStatus::Serving));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn tls_without_client_ca_serves_any_client_over_tls_only() {
    let pki = Pki::new();
    let files = ServerTlsFiles {
        client_ca_file: None,
        ..pki.server.clone()
    };
    let server = start(files, Duration::from_secs(5)).await;
    let anonymous = pki.client(None, "anonymous");
    assert_eq!(
        health(&server, &anonymous).await,
        Ok(ServingStatus::Serving)
    );

    // A plaintext (h2c) client gets no answer from a TLS port.
    let plaintext = Endpoint::from_shared(format!("http://{}", server.local_addr()))
        .expect("endpoint")
        .timeout(Duration::from_secs(5))
        .connect_lazy();
    let answer = HealthClient::new(plaintext)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    assert!(answer.is_err(), "plaintext on a TLS port: {answer:?}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn replaced_certificate_files_are_served_to_new_connections() {
    let pki = Pki::new();
    let server = start(pki.server.clone(), Duration::from_millis(200)).await;
    let valid = pki.client(Some(&pki.ca), "search");
    let first = presented_certificate(&server, &pki).await;

    let (cert, key) = leaf(&pki.ca, "server-2", 2, true);
    let expected = CertificateDer::from_pem_slice(cert.as_bytes()).expect("der");
    assert_ne!(first, expected);
    replace(&pki.server.key_file, &key);
    replace(&pki.server.cert_file, &cert);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if presented_certificate(&server, &pki).await == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health(&server, &valid).await, Ok(ServingStatus::Serving));

    // A broken replacement is refused: the last good certificate stays in service.
    replace(&pki.server.cert_file, "not a certificate");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(presented_certificate(&server, &pki).await, expected);
    assert_eq!(health(&server, &valid).await, Ok(ServingStatus::Serving));
    server.shutdown().await.expect("shutdown");
}

#[test]
fn unusable_files_are_reported_with_their_key() {
    let pki = Pki::new();
    let (_, other_key) = leaf(&pki.ca, "other", 3, true);
    let mismatched = ServerTlsFiles {
        key_file: write(pki.dir.path(), "other-key.pem", &other_key),
        ..pki.server.clone()
    };
    let error = ServerTls::load(mismatched, Duration::from_secs(5))
        .expect_err("key of another certificate")
        .to_string();
    assert!(error.contains("tls.cert_file and tls.key_file"), "{error}");

    let missing = ServerTlsFiles {
        cert_file: pki.dir.path().join("absent.pem"),
        ..pki.server.clone()
    };
    let error = ServerTls::load(missing, Duration::from_secs(5))
        .expect_err("missing file")
        .to_string();
    assert!(error.starts_with("tls.cert_file"), "{error}");
}
