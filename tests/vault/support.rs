//! Helpers of the vault tests: the fixture vault, ImportItems and ExportItems calls, listing
//! everything, and the server on SQLite or on a fresh PostgreSQL database.

use std::path::Path;

use pake_api::knowledge::import_items_request::Payload;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    ExportItemsRequest, ExportItemsResponse, ImportItemsRequest, ImportItemsResponse,
    ImportOptions, Item, ListItemsRequest, VaultFile,
};
use pake_core::config::{SecretString, ServiceRole};
use pake_testkit::{DATABASE_URL_ENV, TestApp, authorized, require, spawn_app_with};
use sqlx::Connection;
use tonic::Status;
use tonic::codegen::tokio_stream;

/// Which store the server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL database made for one server, dropped with this value.
pub struct Postgres {
    admin_url: String,
    name: String,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Dropping may happen inside the test's runtime: use a private one on its own thread.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut admin)
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A running server on `backend` (`None` when PostgreSQL is not configured locally; in CI its
/// absence fails the test).
pub async fn spawn(backend: Backend) -> Option<(TestApp, Option<Postgres>)> {
    if backend == Backend::Sqlite {
        return Some((spawn_app_with(ServiceRole::All, |_| {}).await, None));
    }
    let admin_url = require(
        std::env::var(DATABASE_URL_ENV).ok(),
        "PostgreSQL vault tests need PAKE_TEST_DATABASE_URL",
    )?;
    let name = format!("pake_vault_{}_{:08x}", std::process::id(), rand_u32());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect");
    // `name` is made of digits, letters and underscores only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create database");
    admin.close().await.ok();
    let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority..]
        .find('/')
        .map_or(base.len(), |i| i + authority);
    let server = &base[..path_start];
    let url = if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    };
    let postgres = Postgres { admin_url, name };
    let app = spawn_app_with(ServiceRole::All, move |config| {
        config.database_url = Some(SecretString::new(url));
    })
    .await;
    Some((app, Some(postgres)))
}

/// A number unlikely to repeat across test processes (nanoseconds and a counter).
fn rand_u32() -> u32 {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos.wrapping_add(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed) << 24)
}

/// The fixture vault (`tests/fixtures/vault`): every file, path-sorted, `/`-separated.
pub fn fixture() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vault");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("read fixture dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("inside root");
            let name: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push((name.join("/"), std::fs::read(&path).expect("read fixture")));
        }
    }
}

/// The messages of an import of `files`.
pub fn messages(
    vault_name: &str,
    files: &[(String, Vec<u8>)],
    dry_run: bool,
) -> Vec<ImportItemsRequest> {
    let options = ImportItemsRequest {
        payload: Some(Payload::Options(ImportOptions {
            vault_name: vault_name.into(),
            dry_run,
            ..ImportOptions::default()
        })),
    };
    std::iter::once(options)
        .chain(files.iter().map(|(path, content)| ImportItemsRequest {
            payload: Some(Payload::File(VaultFile {
                path: path.clone(),
                content: content.clone(),
            })),
        }))
        .collect()
}

/// ImportItems with `messages`.
pub async fn import_messages(
    app: &TestApp,
    token: &str,
    messages: Vec<ImportItemsRequest>,
) -> Result<ImportItemsResponse, Status> {
    let stream = tokio_stream::iter(messages);
    KnowledgeServiceClient::new(app.channel().await)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX)
        .import_items(authorized(token, stream))
        .await
        .map(tonic::Response::into_inner)
}

/// ImportItems of `files` as vault `vault_name`.
pub async fn import(
    app: &TestApp,
    token: &str,
    vault_name: &str,
    files: &[(String, Vec<u8>)],
) -> ImportItemsResponse {
    import_messages(app, token, messages(vault_name, files, false))
        .await
        .expect("import")
}

/// ExportItems with `filter`, every message.
pub async fn export(
    app: &TestApp,
    token: &str,
    filter: &str,
) -> Result<Vec<ExportItemsResponse>, Status> {
    let request = ExportItemsRequest {
        filter: filter.into(),
    };
    let mut stream = KnowledgeServiceClient::new(app.channel().await)
        .export_items(authorized(token, request))
        .await?
        .into_inner();
    let mut files = Vec::new();
    while let Some(file) = stream.message().await? {
        files.push(file);
    }
    Ok(files)
}

/// The exported files as an import's input.
pub fn as_files(exported: &[ExportItemsResponse]) -> Vec<(String, Vec<u8>)> {
    exported
        .iter()
        .map(|file| (file.path.clone(), file.content.clone()))
        .collect()
}

/// Every item the caller may read, by name.
pub async fn all_items(app: &TestApp, token: &str) -> std::collections::BTreeMap<String, Item> {
    let request = ListItemsRequest {
        page_size: 1000,
        ..ListItemsRequest::default()
    };
    KnowledgeServiceClient::new(app.channel().await)
        .list_items(authorized(token, request))
        .await
        .expect("list")
        .into_inner()
        .items
        .into_iter()
        .map(|item| (item.name.clone(), item))
        .collect()
}
