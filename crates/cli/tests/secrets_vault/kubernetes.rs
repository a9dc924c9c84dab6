//! Kubernetes auth against a real OpenBao whose `kubernetes` auth method asks an in-test
//! TokenReview endpoint (the part of the Kubernetes API Vault calls; it accepts every
//! service-account JWT and records it). The role's tokens live 4 s and at most 8 s, so PAKE
//! must log in again — re-reading the JWT file, which the test rotates — to keep reading Vault:
//! a key written after 20 s still reaches the JWKS. The JWT never reaches the logs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tonic::transport::Channel;

use super::openbao::OpenBao;
use super::{jwks_kids, rotate_in_vault, spawn_pake_with};
use pake_api::identity::identity_service_client::IdentityServiceClient;

/// A service-account JWT of `default/pake` with `uid` (unsigned: the TokenReview vouches).
fn service_account_jwt(uid: &str) -> String {
    let part = |json: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(serde_json::json!({ "alg": "RS256", "kid": "test" })),
        part(serde_json::json!({
            "iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:default:pake",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/service-account.name": "pake",
            "kubernetes.io/serviceaccount/service-account.uid": uid,
        }))
    )
}

/// Answers every TokenReview with "authenticated" as the JWT's service account and records the
/// reviewed JWTs; the base URL.
fn token_review_server(reviewed: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let review: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let jwt = review["spec"]["token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let claims = jwt
                .split('.')
                .nth(1)
                .and_then(|part| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(part)
                        .ok()
                })
                .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
                .unwrap_or_default();
            let uid = claims["kubernetes.io/serviceaccount/service-account.uid"].clone();
            reviewed.lock().expect("lock").push(jwt);
            let answer = serde_json::json!({
                "kind": "TokenReview",
                "apiVersion": "authentication.k8s.io/v1",
                "status": {
                    "authenticated": true,
                    "user": { "username": "system:serviceaccount:default:pake", "uid": uid },
                },
            })
            .to_string();
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

#[tokio::test]
async fn kubernetes_auth_logs_in_again_with_the_current_service_account_token() {
    let Some(bao) = OpenBao::start().await else {
        return;
    };
    let reviewed = Arc::new(Mutex::new(Vec::new()));
    let kubernetes_api = token_review_server(reviewed.clone());
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("kubernetes-ca.pem");
    let certified =
        rcgen::generate_simple_self_signed(vec!["kubernetes.default".to_owned()]).expect("a CA");
    std::fs::write(&ca, certified.cert.pem()).expect("write CA");
    bao.write_pake_policy();
    bao.run(&["auth", "enable", "kubernetes"]);
    bao.run(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={kubernetes_api}"),
        &format!("kubernetes_ca_cert=@{}", ca.display()),
        "disable_local_ca_jwt=true",
    ]);
    bao.run(&[
        "write",
        "auth/kubernetes/role/pake",
        "bound_service_account_names=pake",
        "bound_service_account_namespaces=default",
        "policies=pake",
        "token_ttl=4s",
        "token_max_ttl=8s",
    ]);
    let jwt_file = dir.path().join("token");
    let first_jwt = service_account_jwt("uid-first");
    std::fs::write(&jwt_file, &first_jwt).expect("write jwt");
    let log = dir.path().join("pake.log");
    let jwt_path = jwt_file.to_str().expect("utf-8 temp path");
    let pake = spawn_pake_with(
        &dir.path().join("data"),
        &log,
        &bao.address,
        &[
            ("PAKE_VAULT__AUTH__METHOD", "kubernetes"),
            ("PAKE_VAULT__AUTH__ROLE", "pake"),
            ("PAKE_VAULT__AUTH__JWT_PATH", jwt_path),
        ],
    )
    .start();
    let address = pake.grpc_addr().to_owned();
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut client = IdentityServiceClient::new(channel);
    assert_eq!(jwks_kids(&mut client).await.len(), 1);
    // The kubelet rotates the projected token; the next login must use the new one.
    let rotated_jwt = service_account_jwt("uid-rotated");
    std::fs::write(&jwt_file, &rotated_jwt).expect("rotate jwt");

    // Well past the role's 8 s maximum: the first token is long gone.
    tokio::time::sleep(Duration::from_secs(20)).await;
    rotate_in_vault(
        &bao,
        dir.path(),
        &mut client,
        "the key written after the token's maximum ttl never reached the JWKS",
    )
    .await;

    drop(pake);
    let reviewed = reviewed.lock().expect("lock").clone();
    assert_eq!(reviewed.first(), Some(&first_jwt));
    assert!(
        reviewed.contains(&rotated_jwt),
        "no login with the rotated JWT ({} reviews)",
        reviewed.len()
    );
    let logs = std::fs::read_to_string(&log).expect("read logs");
    assert!(logs.contains("logged in to vault again"), "{logs}");
    for jwt in [&first_jwt, &rotated_jwt] {
        assert!(!logs.contains(jwt.as_str()), "a JWT appears in the logs");
    }
}
