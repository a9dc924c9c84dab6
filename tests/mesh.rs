//! The mesh shape on one machine: identity, knowledge and search each in their own server
//! (own port), reaching each other over gRPC, search reading the change feed as a service
//! account whose API key an admin created.

use pake_api::identity::CreateSessionRequest;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_core::config::{SecretString, ServiceRole};
use pake_testkit::{TEST_PASSWORD, authorized, sign_up_and_in, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_services_in_three_servers_complete_the_first_thread() {
    let identity_app = spawn_app_with(ServiceRole::Identity, |_| {}).await;
    let identity_url = identity_app.url.clone();
    let knowledge_app = {
        let url = identity_url.clone();
        spawn_app_with(ServiceRole::Knowledge, move |config| {
            config.upstream.identity = Some(url)
        })
        .await
    };

    // The first admin comes from the command line, against identity's database.
    let admin_args = pake::args::UserCreateArgs {
        username: "root_admin".into(),
        email: String::new(),
        display_name: String::new(),
        admin: true,
        data_dir: None,
        database_url: None,
    };
    pake::users::create(&identity_app.config, admin_args, TEST_PASSWORD.into())
        .await
        .expect("bootstrap admin");
    let mut identity = IdentityServiceClient::new(identity_app.channel().await);
    let admin_token = identity
        .create_session(CreateSessionRequest {
            username: "root_admin".into(),
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect("admin signs in")
        .into_inner()
        .access_token;

    // The admin creates the search service account and its API key.
    let channel = identity_app.channel().await;
    let service_account =
        pake_testkit::create_service_account(channel.clone(), &admin_token, "search-service").await;
    assert!(service_account.service_account);
    let key = pake_testkit::create_api_key(
        channel,
        &admin_token,
        &service_account.name,
        "search replica",
    )
    .await;

    let search_app = {
        let (identity_url, knowledge_url) = (identity_url.clone(), knowledge_app.url.clone());
        spawn_app_with(ServiceRole::Search, move |config| {
            config.upstream.identity = Some(identity_url);
            config.upstream.knowledge = Some(knowledge_url);
            config.search.service_api_key = Some(SecretString::new(key));
        })
        .await
    };

    let user = sign_up_and_in(&identity_app, "meshuser").await;
    let item = KnowledgeServiceClient::new(knowledge_app.channel().await)
        .create_item(authorized(
            &user.access_token,
            CreateItemRequest {
                item: Some(Item {
                    title: "Across the mesh".into(),
                    content: "phosphorescent plankton".into(),
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("knowledge verifies identity's token")
        .into_inner();
    let found = SearchServiceClient::new(search_app.channel().await)
        .search(authorized(
            &user.access_token,
            SearchRequest {
                query: "plankton".into(),
                min_cursor: item.feed_cursor.clone(),
                ..SearchRequest::default()
            },
        ))
        .await
        .expect("search follows knowledge's feed")
        .into_inner();
    assert_eq!(
        found
            .results
            .iter()
            .map(|r| r.name.clone())
            .collect::<Vec<_>>(),
        vec![item.name]
    );

    search_app.stop().await;
    knowledge_app.stop().await;
    identity_app.stop().await;
}
