//! The hot-query cache seen from outside: a repeated query answers the same page, a write moves
//! the applied cursor so the next answer includes it (never stale), another caller's scope never
//! receives a cached page of someone else (never foreign), and page tokens stay bound to the
//! caller who asked. Runs with the cache on (default) and off, which must answer identically.

use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_api::search::search_service_client::SearchServiceClient;
use pake_api::search::{SearchRequest, SearchResponse};
use pake_core::config::ServiceRole;
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app_with};
use tonic::Code;

async fn create(app: &TestApp, token: &str, title: &str, visibility: Visibility) -> Item {
    KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: title.to_owned(),
                    content: "notes about the wombat burrow".to_owned(),
                    visibility: visibility as i32,
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("create")
        .into_inner()
}

async fn search(
    app: &TestApp,
    token: &str,
    min_cursor: &str,
    page_token: &str,
) -> Result<SearchResponse, tonic::Status> {
    SearchServiceClient::new(app.channel().await)
        .search(authorized(
            token,
            SearchRequest {
                query: "wombat".into(),
                min_cursor: min_cursor.to_owned(),
                page_size: 2,
                page_token: page_token.to_owned(),
                ..SearchRequest::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

fn names(response: &SearchResponse) -> Vec<String> {
    let mut names: Vec<String> = response.results.iter().map(|r| r.name.clone()).collect();
    names.sort();
    names
}

async fn scenario(cache_entries: usize) {
    let app = spawn_app_with(ServiceRole::All, |config| {
        config.search.cache_entries = cache_entries;
    })
    .await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let secret = create(
        &app,
        &alice.access_token,
        "Alice wombat diary",
        Visibility::Private,
    )
    .await;
    let public = create(
        &app,
        &alice.access_token,
        "Wombat facts",
        Visibility::Public,
    )
    .await;

    let first = search(&app, &alice.access_token, &public.feed_cursor, "")
        .await
        .expect("search");
    let again = search(&app, &alice.access_token, "", "")
        .await
        .expect("repeat");
    assert_eq!(
        first, again,
        "a repeated query at the same cursor answers the same page"
    );
    assert_eq!(first.total_size, 2);

    // Bob asks the same query at the same cursor: his scope, not Alice's cached page.
    let bobs = search(&app, &bob.access_token, "", "").await.expect("bob");
    assert_eq!(names(&bobs), vec![public.name.clone()]);
    assert_eq!(bobs.total_size, 1);
    assert!(!names(&bobs).contains(&secret.name));

    // A write moves the cursor: the next answer includes it.
    let third = create(
        &app,
        &alice.access_token,
        "Wombat tracks",
        Visibility::Internal,
    )
    .await;
    let fresh = search(&app, &alice.access_token, &third.feed_cursor, "")
        .await
        .expect("fresh");
    assert_eq!(fresh.total_size, 3, "never a stale cached page");
    assert!(fresh.applied_cursor >= third.feed_cursor);
    let bob_fresh = search(&app, &bob.access_token, "", "")
        .await
        .expect("bob fresh");
    assert_eq!(bob_fresh.total_size, 2);

    // Page tokens of a cached page are made for whoever asked.
    assert!(!fresh.next_page_token.is_empty());
    let stolen = search(&app, &bob.access_token, "", &fresh.next_page_token)
        .await
        .expect_err("another caller's page token");
    assert_eq!(stolen.code(), Code::InvalidArgument);
    let second_page = search(&app, &alice.access_token, "", &fresh.next_page_token)
        .await
        .expect("page 2");
    assert_eq!(second_page.results.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_are_never_stale_or_foreign() {
    scenario(1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_the_same_without_the_cache() {
    scenario(0).await;
}
