//! The all-in-one over native mTLS (`[tls]`, docs/adr/0017-native-tls.md): its services call
//! each other at the process's own `https://` address presenting the configured client
//! certificate — search consumes knowledge's change feed over mTLS, verification fetches the
//! JWKS over mTLS — and a client without a certificate is refused.
//!
//! A test binary of its own: the client TLS of service-to-service calls is process-wide.

use std::path::Path;
use std::time::Duration;

use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_core::config::{ServiceRole, TlsConfig};
use pake_testkit::{authorized, sign_up_and_in, spawn_app_with};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

type Ca = CertifiedIssuer<'static, KeyPair>;

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "pake mesh ca");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca")
}

/// Writes a certificate for localhost / 127.0.0.1 and its key as `<name>.pem`, `<name>-key.pem`.
fn leaf(ca: &Ca, dir: &Path, name: &str, usage: ExtendedKeyUsagePurpose) {
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("key");
    let certificate = params.signed_by(&key, &**ca).expect("leaf");
    std::fs::write(dir.join(format!("{name}.pem")), certificate.pem()).expect("write");
    std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).expect("write");
}

#[tokio::test]
async fn search_follows_the_feed_over_mtls_and_clients_need_a_certificate() {
    pake_runtime::tls::install_crypto_provider();
    let pki = tempfile::tempdir().expect("temp dir");
    let dir = pki.path();
    let ca = ca();
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca");
    leaf(&ca, dir, "server", ExtendedKeyUsagePurpose::ServerAuth);
    leaf(&ca, dir, "client", ExtendedKeyUsagePurpose::ClientAuth);
    let app = spawn_app_with(ServiceRole::All, |config| {
        config.tls = TlsConfig {
            cert_file: Some(dir.join("server.pem")),
            key_file: Some(dir.join("server-key.pem")),
            client_ca_file: Some(dir.join("ca.pem")),
            ca_file: Some(dir.join("ca.pem")),
            client_cert_file: Some(dir.join("client.pem")),
            client_key_file: Some(dir.join("client-key.pem")),
            ..TlsConfig::default()
        };
    })
    .await;
    assert!(app.url.starts_with("https://"), "{}", app.url);

    // Signing up and in, writing and searching all go over mTLS (the testkit's channel uses
    // the process's client TLS); the token is verified with a JWKS fetched over mTLS, and the
    // item reaches the index through the change feed over mTLS.
    let user = sign_up_and_in(&app, "tls").await;
    let item = KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            &user.access_token,
            CreateItemRequest {
                item: Some(Item {
                    title: "Certificates".into(),
                    content: "the quokka rotates its certificates".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("create over mtls")
        .into_inner();
    let found = tokio::time::timeout(
        Duration::from_secs(30),
        SearchServiceClient::new(app.channel().await).search(authorized(
            &user.access_token,
            SearchRequest {
                query: "quokka".into(),
                min_cursor: item.feed_cursor.clone(),
                ..Default::default()
            },
        )),
    )
    .await
    .expect("search answers once the feed is applied")
    .expect("search over mtls")
    .into_inner();
    assert_eq!(found.total_size, 1, "indexed from the feed over mtls");

    // Without a client certificate the same server refuses the connection.
    let anonymous = pake_runtime::tls::ClientTls::load(&dir.join("ca.pem"), None).expect("tls");
    let channel = anonymous
        .apply(Endpoint::from_shared(app.url.clone()).expect("url"))
        .expect("tls endpoint")
        .timeout(Duration::from_secs(5))
        .connect_lazy();
    let refused = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    assert!(refused.is_err(), "no client certificate: {refused:?}");
    app.stop().await;
}
