//! PostgreSQL outages (SPEC §7, issue 8) against a private PostgreSQL of each test
//! (`pake_testkit::postgres_server`: `initdb` + `pg_ctl` on a free port, never the machine's
//! shared server), which the tests stop like a crash and start again:
//!
//! - while it is down, calls fail fast with UNAVAILABLE and health reports the services that use
//!   it NOT_SERVING; when it returns, health is SERVING again, every acknowledged write is there
//!   and new writes work, without a restart;
//! - a server started before PostgreSQL waits for it, and gives up after
//!   `database.connect_timeout_secs` with an error naming `database_url`.
//!
//! Without the PostgreSQL binaries the tests skip locally and fail in CI.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, GetItemRequest, Item};
use pake_api::service_names::{IDENTITY, KNOWLEDGE};
use pake_core::config::{Config, SecretString, ServiceRole};
use pake_testkit::postgres_server::PrivatePostgres;
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app_with};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Points `config` at `postgres`, probing health often so the test is quick.
fn use_postgres(config: &mut Config, postgres: &PrivatePostgres) {
    config.database_url = Some(SecretString::new(postgres.url()));
    config.database.health_interval_ms = 300;
    config.database.health_timeout_ms = 500;
}

async fn create(
    client: &mut KnowledgeServiceClient<Channel>,
    token: &str,
    title: &str,
) -> Result<Item, tonic::Status> {
    client
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: title.to_owned(),
                    content: format!("{title}: written before, during or after an outage"),
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn get(
    client: &mut KnowledgeServiceClient<Channel>,
    token: &str,
    name: &str,
) -> Result<Item, tonic::Status> {
    client
        .get_item(authorized(
            token,
            GetItemRequest {
                name: name.to_owned(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn health_of(app: &TestApp, service: &str) -> Option<ServingStatus> {
    let response = HealthClient::new(app.channel().await)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

/// Polls health of `service` until it is `wanted`; panics after `bound`. Returns the time taken.
async fn wait_for_health(
    app: &TestApp,
    service: &str,
    wanted: ServingStatus,
    bound: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let status = health_of(app, service).await;
        if status == Some(wanted) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "{service} is {status:?}, not {wanted:?}, after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_fails_calls_fast_and_recovers_without_losing_acknowledged_writes() {
    let Some(postgres) = PrivatePostgres::start().await else {
        return;
    };
    let app = spawn_app_with(ServiceRole::All, |config| use_postgres(config, &postgres)).await;
    let user = sign_up_and_in(&app, "outage").await;
    let token = user.access_token.clone();
    let mut client = KnowledgeServiceClient::new(app.channel().await);
    let first = create(&mut client, &token, "before the outage")
        .await
        .expect("write before the outage");

    // A writer keeps writing through the crash; it remembers only what was acknowledged.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn({
        let writing = writing.clone();
        let mut client = client.clone();
        let token = token.clone();
        async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                n += 1;
                if let Ok(item) = create(&mut client, &token, &format!("write {n}")).await {
                    acknowledged.push(item);
                }
            }
            acknowledged
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    postgres.stop_immediate().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    writing.store(false, Ordering::Relaxed);
    let mut acknowledged = writer.await.expect("writer");
    assert!(
        !acknowledged.is_empty(),
        "the writer wrote before the crash"
    );
    acknowledged.push(first.clone());

    // Calls fail fast, with UNAVAILABLE.
    let started = Instant::now();
    let read = get(&mut client, &token, &first.name).await;
    let read_took = started.elapsed();
    let started = Instant::now();
    let write = create(&mut client, &token, "during the outage").await;
    let write_took = started.elapsed();
    for (what, result, took) in [
        ("GetItem", read, read_took),
        ("CreateItem", write, write_took),
    ] {
        let status = result.expect_err("the database is down");
        assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
        assert!(
            status.message().contains("store is unavailable"),
            "{what}: {status:?}"
        );
        assert!(took < Duration::from_secs(5), "{what} took {took:?}");
    }

    // Health turns NOT_SERVING for the services that use the database, not for the process.
    for service in [KNOWLEDGE, IDENTITY] {
        wait_for_health(
            &app,
            service,
            ServingStatus::NotServing,
            Duration::from_secs(10),
        )
        .await;
    }
    assert_eq!(health_of(&app, "").await, Some(ServingStatus::Serving));

    // PostgreSQL returns on the same port: health recovers by itself …
    postgres.start_server().await;
    for service in [KNOWLEDGE, IDENTITY] {
        wait_for_health(
            &app,
            service,
            ServingStatus::Serving,
            Duration::from_secs(15),
        )
        .await;
    }
    // … every acknowledged write is there …
    for item in &acknowledged {
        let read = get(&mut client, &token, &item.name)
            .await
            .unwrap_or_else(|status| panic!("acknowledged {} lost: {status:?}", item.name));
        assert_eq!(read.title, item.title);
        assert_eq!(read.content, item.content);
    }
    // … and new writes and sign-ins work.
    let after = create(&mut client, &token, "after the outage")
        .await
        .expect("write after the outage");
    get(&mut client, &token, &after.name)
        .await
        .expect("read after the outage");
    sign_up_and_in(&app, "after").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn start_up_waits_for_postgres_and_gives_up_after_the_bound() {
    let Some(postgres) = PrivatePostgres::init().await else {
        return;
    };
    let postgres = Arc::new(postgres);

    // Nobody listens and the bound is 2 s: the start fails, naming the setting and the server.
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        grpc_listen: "127.0.0.1:0".to_owned(),
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    use_postgres(&mut config, &postgres);
    config.database.connect_timeout_secs = 2;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let started = Instant::now();
    let error = pake::start(
        &config,
        ServiceRole::All,
        listener,
        pake_runtime::Shutdown::new(),
    )
    .await
    .expect_err("no database")
    .to_string();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "gave up after {took:?}");
    assert!(took < Duration::from_secs(15), "gave up after {took:?}");
    assert!(error.contains("database_url"), "{error}");
    let target = format!("127.0.0.1:{}/postgres", postgres.port());
    assert!(error.contains(&target), "{error}");

    // PostgreSQL starts 3 s after the server: the server waits and comes up.
    let starter = tokio::spawn({
        let postgres = postgres.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            postgres.start_server().await;
        }
    });
    let started = Instant::now();
    let app = spawn_app_with(ServiceRole::All, |config| {
        use_postgres(config, &postgres);
        config.database.connect_timeout_secs = 60;
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the server was up before its database"
    );
    starter.await.expect("postgres started");
    assert_eq!(
        health_of(&app, KNOWLEDGE).await,
        Some(ServingStatus::Serving)
    );
    let user = sign_up_and_in(&app, "late").await;
    let mut client = KnowledgeServiceClient::new(app.channel().await);
    let item = create(&mut client, &user.access_token, "late start")
        .await
        .expect("write");
    get(&mut client, &user.access_token, &item.name)
        .await
        .expect("read");
    app.stop().await;
}
