//! The server frame as a client sees it: per-service health, single-service mode, reflection
//! of only what runs, and the shutdown order.

use pake_api::identity::GetJwksRequest;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_core::config::ServiceRole;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response};

async fn status(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> Result<i32, tonic::Code> {
    client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map(|response| response.into_inner().status)
        .map_err(|status| status.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_in_one_reports_each_service_serving() {
    let app = pake_testkit::spawn_app().await;
    let mut health = HealthClient::new(app.channel().await);
    // Search's empty index is NOT_SERVING until its first rebuild is committed.
    app.wait_until_serving("pake.search.v1.SearchService").await;
    for service in [
        "",
        "pake.identity.v1.IdentityService",
        "pake.knowledge.v1.KnowledgeService",
        "pake.search.v1.SearchService",
    ] {
        assert_eq!(
            status(&mut health, service).await,
            Ok(ServingStatus::Serving as i32),
            "{service}"
        );
    }
    assert_eq!(
        status(&mut health, "pake.unknown.v1.Nope").await,
        Err(tonic::Code::NotFound)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_service_serves_only_itself() {
    let app = pake_testkit::spawn_app_with(ServiceRole::Identity, |_| {}).await;
    let channel = app.channel().await;
    let mut health = HealthClient::new(channel.clone());
    assert_eq!(
        status(&mut health, "pake.identity.v1.IdentityService").await,
        Ok(ServingStatus::Serving as i32)
    );
    assert_eq!(
        status(&mut health, "pake.knowledge.v1.KnowledgeService").await,
        Err(tonic::Code::NotFound)
    );
    let jwks = IdentityServiceClient::new(channel)
        .get_jwks(GetJwksRequest {})
        .await
        .expect("identity answers")
        .into_inner();
    assert_eq!(jwks.keys.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signing_key_survives_a_restart_of_the_same_data_dir() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut kids = Vec::new();
    for _ in 0..2 {
        let dir = data_dir.path().to_path_buf();
        let app =
            pake_testkit::spawn_app_with(ServiceRole::All, move |config| config.data_dir = dir)
                .await;
        let jwks = IdentityServiceClient::new(app.channel().await)
            .get_jwks(GetJwksRequest {})
            .await
            .expect("jwks")
            .into_inner();
        kids.push(jwks.keys[0].kid.clone());
        app.stop().await;
    }
    assert_eq!(kids[0], kids[1]);
    assert!(
        data_dir.path().join("pake.db").is_file(),
        "SQLite file in the data dir"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_health_not_serving_before_the_server_goes_away() {
    let app = pake_testkit::spawn_app().await;
    let mut health = HealthClient::new(app.channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "pake.knowledge.v1.KnowledgeService".to_owned(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("first").expect("status");
    assert_eq!(
        first.status,
        health_check_response::ServingStatus::Serving as i32
    );

    let shutdown = app.shutdown_signal();
    let stopping = tokio::spawn(app.stop());
    shutdown.trigger();
    // The watcher sees NOT_SERVING; then its stream ends as the server goes away.
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), watch.message())
        .await
        .expect("health watch is told before the server stops");
    if let Ok(Some(update)) = next {
        assert_eq!(
            update.status,
            health_check_response::ServingStatus::NotServing as i32
        );
    } else {
        panic!("expected a NOT_SERVING update, got {next:?}");
    }
    drop(watch);
    tokio::time::timeout(std::time::Duration::from_secs(30), stopping)
        .await
        .expect("drain finishes")
        .expect("stop task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_search_alone_without_upstreams_is_refused_with_a_clear_message() {
    let config = pake_core::config::Config {
        grpc_listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let error = pake::start(
        &config,
        ServiceRole::Search,
        listener,
        pake_runtime::Shutdown::new(),
    )
    .await
    .expect_err("search alone needs upstreams");
    let message = format!("{error:#}");
    assert!(
        message.contains("upstream.identity: required when running `search` alone"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_not_serving_while_it_cannot_read_the_change_feed() {
    let identity = pake_testkit::spawn_app_with(ServiceRole::Identity, |_| {}).await;
    let identity_url = identity.url.clone();
    let search = pake_testkit::spawn_app_with(ServiceRole::Search, move |config| {
        config.upstream.identity = Some(identity_url.clone());
        // Knowledge is not running, and the key is not a real one: the feed is out of reach.
        config.upstream.knowledge = Some(identity_url);
        config.search.service_api_key = Some(pake_core::config::SecretString::new(
            "pake_0000000000000000_0000000000000000000000000000000000000000000",
        ));
    })
    .await;
    let mut health = HealthClient::new(search.channel().await);
    let mut last = None;
    for _ in 0..100 {
        last = Some(status(&mut health, "pake.search.v1.SearchService").await);
        if last == Some(Ok(ServingStatus::NotServing as i32)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last, Some(Ok(ServingStatus::NotServing as i32)));
    search.stop().await;
    identity.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_has_a_rate_limit_and_is_told_when_to_retry() {
    use pake_api::knowledge::GetItemRequest;
    use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
    use tonic_types::StatusExt;

    let app = pake_testkit::spawn_app_with(ServiceRole::All, |config| {
        config.rate_limit.read_per_second = 2;
        config.rate_limit.read_burst = 3;
    })
    .await;
    let ada = pake_testkit::sign_up_and_in(&app, "ada").await;
    let bob = pake_testkit::sign_up_and_in(&app, "bob").await;
    let mut knowledge = KnowledgeServiceClient::new(app.channel().await);
    let get = |token: &str| {
        pake_testkit::authorized(
            token,
            GetItemRequest {
                name: "items/01890000-0000-7000-8000-000000000000".to_owned(),
            },
        )
    };

    // The burst: each call reaches the handler (an absent item is NOT_FOUND).
    for _ in 0..3 {
        let status = knowledge
            .get_item(get(&ada.access_token))
            .await
            .expect_err("absent");
        assert_eq!(status.code(), tonic::Code::NotFound);
    }
    let limited = knowledge
        .get_item(get(&ada.access_token))
        .await
        .expect_err("limited");
    assert_eq!(
        limited.code(),
        tonic::Code::ResourceExhausted,
        "{limited:?}"
    );
    let details = limited.get_error_details();
    assert_eq!(
        details.error_info().map(|info| info.reason.as_str()),
        Some("RATE_LIMITED")
    );
    let delay = details
        .retry_info()
        .and_then(|retry| retry.retry_delay)
        .expect("RetryInfo with a delay");
    assert!(delay > std::time::Duration::ZERO && delay <= std::time::Duration::from_secs(1));

    // Another caller has a budget of its own.
    let other = knowledge
        .get_item(get(&bob.access_token))
        .await
        .expect_err("absent");
    assert_eq!(other.code(), tonic::Code::NotFound);

    // After the delay the caller may call again.
    tokio::time::sleep(delay).await;
    let again = knowledge
        .get_item(get(&ada.access_token))
        .await
        .expect_err("absent");
    assert_eq!(again.code(), tonic::Code::NotFound, "{again:?}");
    app.stop().await;
}
