//! The search index follows the change feed across restarts: it resumes from the cursor
//! committed with the index, and rebuilds itself from a snapshot when the index is missing or
//! corrupt.

use std::path::Path;

use pake_api::knowledge::CreateItemRequest;
use pake_api::knowledge::Item;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_core::config::ServiceRole;
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app_with};

async fn start(data_dir: &Path) -> TestApp {
    let dir = data_dir.to_path_buf();
    spawn_app_with(ServiceRole::All, move |config| config.data_dir = dir).await
}

async fn write(app: &TestApp, token: &str, title: &str) -> Item {
    KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: title.to_owned(),
                    content: format!("{title} lives in the archipelago"),
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("create")
        .into_inner()
}

async fn found(app: &TestApp, token: &str, query: &str, min_cursor: &str) -> (Vec<String>, String) {
    let response = SearchServiceClient::new(app.channel().await)
        .search(authorized(
            token,
            SearchRequest {
                query: query.to_owned(),
                min_cursor: min_cursor.to_owned(),
                ..SearchRequest::default()
            },
        ))
        .await
        .expect("search")
        .into_inner();
    let mut names: Vec<String> = response.results.into_iter().map(|r| r.name).collect();
    names.sort();
    (names, response.applied_cursor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_search_resumes_from_its_committed_cursor() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let app = start(data_dir.path()).await;
    let user = sign_up_and_in(&app, "resume").await;
    let first = write(&app, &user.access_token, "Albatross").await;
    let (names, _) = found(&app, &user.access_token, "archipelago", &first.feed_cursor).await;
    assert_eq!(names, vec![first.name.clone()]);
    app.stop().await;

    let app = start(data_dir.path()).await;
    // The applied cursor survives the restart: no wait, no rebuild needed to answer.
    let (names, applied) = found(&app, &user.access_token, "archipelago", "").await;
    assert_eq!(
        names,
        vec![first.name.clone()],
        "index content survives a restart"
    );
    assert!(
        applied >= first.feed_cursor,
        "applied {applied} >= {}",
        first.feed_cursor
    );
    let second = write(&app, &user.access_token, "Booby").await;
    let (names, _) = found(&app, &user.access_token, "archipelago", &second.feed_cursor).await;
    let mut expected = vec![first.name.clone(), second.name.clone()];
    expected.sort();
    assert_eq!(names, expected, "new writes arrive after the restart");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_corrupt_index_rebuilds_from_a_snapshot() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let app = start(data_dir.path()).await;
    let user = sign_up_and_in(&app, "rebuild").await;
    let mut expected = Vec::new();
    let mut last = String::new();
    for title in ["Cormorant", "Dodo", "Egret"] {
        let item = write(&app, &user.access_token, title).await;
        last = item.feed_cursor.clone();
        expected.push(item.name);
    }
    expected.sort();
    app.stop().await;

    let index_dir = data_dir.path().join(pake::app::SEARCH_INDEX_DIR);
    std::fs::remove_dir_all(&index_dir).expect("remove index");
    let app = start(data_dir.path()).await;
    assert_eq!(
        found(&app, &user.access_token, "archipelago", &last)
            .await
            .0,
        expected,
        "rebuilt after deletion"
    );
    app.stop().await;

    std::fs::write(index_dir.join("meta.json"), b"{ not json").expect("corrupt the index");
    let app = start(data_dir.path()).await;
    assert_eq!(
        found(&app, &user.access_token, "archipelago", &last)
            .await
            .0,
        expected,
        "rebuilt after corruption"
    );
    app.stop().await;
}
