//! `pake migrate` and `pake user create` with only the Vault settings given: both read
//! `database_url` from `secret/pake/config` in a real OpenBao dev server, as `pake serve` does
//! — a SQLite file and, when `PAKE_TEST_DATABASE_URL` is set, a PostgreSQL database — and an
//! unreachable Vault fails them naming `vault.address`.

#[path = "../secrets_vault/openbao.rs"]
mod openbao;

use openbao::OpenBao;

use crate::support::{pake, stderr, stdout};

/// Runs `pake ARGS` with the Vault settings and an empty data dir; exit code and output.
async fn with_vault(bao: &OpenBao, data_dir: &str, args: &[&str], stdin: &str) -> (i32, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--data-dir", data_dir]);
    let env = [
        ("PAKE_VAULT__ADDRESS", bao.address.as_str()),
        ("PAKE_VAULT_TOKEN", bao.token.as_str()),
    ];
    let output = pake(&all, &env, stdin).await;
    (
        output.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&output), stderr(&output)),
    )
}

/// Migrates and creates an admin on the database Vault names (`pake migrate` names it first,
/// starting with `target`); nothing is created in the data dir.
async fn commands_use_the_database_in_vault(bao: &OpenBao, database_url: &str, target: &str) {
    bao.put("pake/config", &[format!("database_url={database_url}")]);
    let data_dir = tempfile::tempdir().expect("temp dir");
    let dir = data_dir.path().to_str().expect("utf-8 temp dir");

    let (code, before) = with_vault(bao, dir, &["migrate", "--status"], "").await;
    assert_eq!(code, 0, "{before}");
    assert!(before.starts_with(target), "{before}");
    assert!(before.contains("identity: 0 applied, "), "{before}");

    let (code, applied) = with_vault(bao, dir, &["migrate"], "").await;
    assert_eq!(code, 0, "{applied}");
    assert!(applied.starts_with(target), "{applied}");
    assert!(applied.contains("identity: applied "), "{applied}");

    let create = ["user", "create", "--username", "vault_admin", "--admin"];
    let (code, created) = with_vault(bao, dir, &create, "correct horse battery staple\n").await;
    assert_eq!(code, 0, "{created}");
    assert!(created.contains("created users/"), "{created}");
    // The same database again: the name is taken.
    let (code, again) = with_vault(bao, dir, &create, "correct horse battery staple\n").await;
    assert_eq!(code, 1, "{again}");
    assert!(again.contains("user.username: already taken"), "{again}");

    let (code, after) = with_vault(bao, dir, &["migrate", "--status"], "").await;
    assert_eq!(code, 0, "{after}");
    assert_eq!(after.matches(", 0 pending").count(), 2, "{after}");
    assert!(
        !data_dir.path().join("pake.db").exists(),
        "the data dir's SQLite file was used instead of Vault's database_url"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_user_create_read_a_sqlite_database_url_from_vault() {
    let Some(bao) = OpenBao::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("from-vault.db");
    let url = format!("sqlite://{}", file.display());
    commands_use_the_database_in_vault(&bao, &url, &format!("sqlite {}", file.display())).await;
    assert!(file.is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_user_create_read_a_postgres_database_url_from_vault() {
    let Some(database) = pake_testkit::postgres_database().await else {
        return;
    };
    let Some(bao) = OpenBao::start().await else {
        return;
    };
    let url = pake_testkit::feed::postgres_url(&database).await;
    commands_use_the_database_in_vault(&bao, &url, "postgres://").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_vault_fails_migrate_and_user_create_naming_vault_address() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let data_dir = tempfile::tempdir().expect("temp dir");
    let dir = data_dir.path().to_str().expect("utf-8 temp dir");
    let env = [
        ("PAKE_VAULT__ADDRESS", address.as_str()),
        ("PAKE_VAULT_TOKEN", "unreachable-vault-token"),
    ];
    for args in [
        vec!["migrate", "--data-dir", dir],
        vec!["user", "create", "--username", "nobody", "--data-dir", dir],
    ] {
        let output = pake(&args, &env, "correct horse battery staple\n").await;
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
        assert!(
            message.contains(&format!("vault.address = {address}")),
            "{args:?}: {message}"
        );
        assert!(!message.contains("unreachable-vault-token"), "{message}");
        assert!(!data_dir.path().join("pake.db").exists(), "{args:?}");
    }
}
