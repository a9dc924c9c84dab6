//! Vault token renewal against a real OpenBao: `pake serve` given a renewable token with a 6 s
//! TTL still reads Vault (a key written later reaches the JWKS) well after those 6 s, because
//! it renewed the token; given a non-renewable token it says once when Vault access ends. The
//! token never reaches the logs.

use std::time::{Duration, Instant};

use tonic::transport::Channel;

use super::openbao::OpenBao;
use super::{jwks_kids, rotate_in_vault, spawn_pake};
use pake_api::identity::identity_service_client::IdentityServiceClient;

/// Reads the log file until it contains `needle` (30 s at most); the logs.
async fn wait_for_log(log: &std::path::Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = std::fs::read_to_string(log).unwrap_or_default();
        if logs.contains(needle) {
            return logs;
        }
        assert!(
            Instant::now() < deadline,
            "no '{needle}' in the logs: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_and_vault_stays_readable() {
    let Some(bao) = OpenBao::start().await else {
        return;
    };
    let token = bao.pake_token(&["-ttl=6s", "-explicit-max-ttl=5m"]);
    let created = bao.lookup(&token).expect("the new token");
    assert!(created.get("last_renewal_time").is_none(), "{created}");
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("pake.log");
    let pake = spawn_pake(&dir.path().join("data"), &log, &bao.address, &token).start();
    let address = pake.grpc_addr().to_owned();
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut client = IdentityServiceClient::new(channel);
    assert_eq!(jwks_kids(&mut client).await.len(), 1);

    // Well past the token's 6 s: without renewal it is gone by now.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let renewed = bao
        .lookup(&token)
        .expect("the token outlived its first ttl (pake renewed it)");
    assert!(
        renewed["last_renewal_time"].as_i64().unwrap_or(0) > 0,
        "{renewed}"
    );

    // PAKE still reads Vault with it: a key written now is published.
    rotate_in_vault(
        &bao,
        dir.path(),
        &mut client,
        "the key written after the first ttl never reached the JWKS",
    )
    .await;

    drop(pake);
    let logs = std::fs::read_to_string(&log).expect("read logs");
    assert!(logs.contains("renewed vault token"), "{logs}");
    assert!(!logs.contains(&token), "the token appears in the logs");
}

#[tokio::test]
async fn a_token_that_cannot_be_renewed_is_reported_once_with_its_expiry() {
    let Some(bao) = OpenBao::start().await else {
        return;
    };
    let token = bao.pake_token(&["-ttl=1h", "-renewable=false"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("pake.log");
    let pake = spawn_pake(&dir.path().join("data"), &log, &bao.address, &token).start();
    let _address = pake.grpc_addr().to_owned();
    let logs = wait_for_log(&log, "vault token cannot be renewed").await;
    drop(pake);
    let warning = logs
        .lines()
        .find(|line| line.contains("vault token cannot be renewed"))
        .expect("the warning");
    assert!(warning.contains("expires_at"), "{warning}");
    assert!(warning.contains("not renewable"), "{warning}");
    assert_eq!(
        logs.matches("vault token cannot be renewed").count(),
        1,
        "{logs}"
    );
    assert!(!logs.contains(&token), "the token appears in the logs");
}
