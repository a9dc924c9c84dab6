//! Redis-backed state (SPEC §7, ADR 15) against real Redis: the stores against the machine's
//! Redis under a unique key prefix per test (`stores`), two replicas sharing one Redis
//! (`replicas`), and outages of a private `redis-server` that the tests kill and restart
//! (`outage`); lockouts as GetUser and ListUsers report them (`lockouts`). Without
//! `PAKE_TEST_REDIS_URL` / `redis-server` the tests skip locally and fail in CI.

#[path = "users_admin/lockout_checks.rs"]
mod lockout_checks;
#[path = "redis/lockouts.rs"]
mod lockouts;
#[path = "redis/outage.rs"]
mod outage;
#[path = "redis/replicas.rs"]
mod replicas;
#[path = "redis/stores.rs"]
mod stores;

use pake_api::identity::CreateSessionRequest;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_core::config::{Config, SecretString, ServiceRole};
use pake_testkit::{TestApp, spawn_app_with};
use tonic::Code;

/// Points `config` at Redis `url` under `prefix`.
fn use_redis(config: &mut Config, url: &str, prefix: &str) {
    config.redis_url = Some(SecretString::new(url));
    config.redis = pake_testkit::redis::redis_settings(prefix);
}

/// Replica A (all services) and replica B (identity alone, on A's database and signing keys),
/// both on Redis `url` under `prefix`.
async fn two_replicas(url: &str, prefix: &str) -> (TestApp, TestApp) {
    let a = spawn_app_with(ServiceRole::All, |config| use_redis(config, url, prefix)).await;
    let data_dir = a.config.data_dir.clone();
    let b = spawn_app_with(ServiceRole::Identity, |config| {
        use_redis(config, url, prefix);
        config.data_dir = data_dir;
    })
    .await;
    (a, b)
}

/// A sign-in's status code (`Ok` as `Code::Ok`).
async fn sign_in(app: &TestApp, username: &str, password: &str) -> Code {
    IdentityServiceClient::new(app.channel().await)
        .create_session(CreateSessionRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        })
        .await
        .map_or_else(|status| status.code(), |_| Code::Ok)
}

/// Writes a note containing `word` as `token`'s user on `app`, then searches for it (waiting
/// for the index to apply the write).
async fn write_and_search(
    app: &TestApp,
    token: &str,
    word: &str,
) -> Result<pake_api::search::SearchResponse, tonic::Status> {
    use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
    use pake_api::knowledge::{CreateItemRequest, Item};
    use pake_api::search::SearchRequest;
    use pake_api::search::search_service_client::SearchServiceClient;
    use pake_testkit::authorized;
    let item = KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: format!("About {word}"),
                    content: format!("{word} notes"),
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await?
        .into_inner();
    SearchServiceClient::new(app.channel().await)
        .search(authorized(
            token,
            SearchRequest {
                query: word.to_owned(),
                min_cursor: item.feed_cursor,
                ..SearchRequest::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}
