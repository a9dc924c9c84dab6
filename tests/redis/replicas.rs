//! Two replicas sharing one Redis (the machine's, under a unique prefix): a logout on one is
//! refused by the other's verifier; failures on one throttle and lock sign-ins on the other;
//! Search pages land in Redis.

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{DeleteSessionRequest, GetUserRequest};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_testkit::redis::{delete_keys, eval, keys, redis_url, set_bytes, unique_prefix};
use pake_testkit::{TEST_PASSWORD, authorized, sign_up_and_in};
use tonic::Code;

use super::{sign_in, two_replicas, write_and_search};

fn me(token: &str) -> tonic::Request<GetUserRequest> {
    authorized(
        token,
        GetUserRequest {
            name: "users/me".into(),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_replica_is_refused_on_the_other() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("replicas-logout");
    let (a, b) = two_replicas(&url, &prefix).await;
    let user = sign_up_and_in(&a, "replica").await;
    let mut on_b = IdentityServiceClient::new(b.channel().await);
    on_b.get_user(me(&user.access_token))
        .await
        .expect("replica B accepts replica A's token");

    IdentityServiceClient::new(a.channel().await)
        .delete_session(authorized(
            &user.access_token,
            DeleteSessionRequest {
                name: "users/me/sessions/current".into(),
            },
        ))
        .await
        .expect("logout on A");
    let refused = on_b
        .get_user(me(&user.access_token))
        .await
        .expect_err("B refuses the token A revoked");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(
        keys(&url, &prefix)
            .await
            .iter()
            .any(|key| key.starts_with(&format!("{prefix}revoked:"))),
        "the revocation is in Redis"
    );
    a.stop().await;
    b.stop().await;
    delete_keys(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_on_one_replica_throttle_and_lock_on_the_other() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("replicas-lockout");
    let (a, b) = two_replicas(&url, &prefix).await;

    // Lockout: nine failures are already on record (seeded, to skip the growing delays); the
    // tenth, on A, locks the account; B then refuses even the right password.
    let locked_user = sign_up_and_in(&a, "locked").await.user;
    let locked = locked_user.username;
    let earlier = pake_identity::throttle::now_ms() - 70_000;
    eval(
        &url,
        "redis.call('HSET', KEYS[1], 'count', ARGV[1], 'last', ARGV[2]) \
         redis.call('PEXPIRE', KEYS[1], 3600000)",
        // The throttle counts an account's failures under its resource name.
        vec![format!("{prefix}throttle:user:{}", locked_user.name)],
        vec!["9".to_owned(), earlier.to_string()],
    )
    .await;
    assert_eq!(
        sign_in(&a, &locked, "wrong password, tenth time").await,
        Code::Unauthenticated
    );
    assert_eq!(
        sign_in(&b, &locked, TEST_PASSWORD).await,
        Code::Unauthenticated,
        "the lockout made on A holds on B"
    );

    // Throttling: three free failures on A; B then asks the right password to wait.
    let throttled = sign_up_and_in(&a, "throttled").await.user.username;
    for _ in 0..pake_identity::throttle::FREE_FAILURES {
        assert_eq!(
            sign_in(&a, &throttled, "not the password at all").await,
            Code::Unauthenticated
        );
    }
    assert_eq!(
        sign_in(&b, &throttled, TEST_PASSWORD).await,
        Code::ResourceExhausted,
        "B sees A's failures"
    );
    a.stop().await;
    b.stop().await;
    delete_keys(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_are_cached_in_redis() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("replicas-cache");
    let (a, b) = two_replicas(&url, &prefix).await;
    let user = sign_up_and_in(&a, "searcher").await;
    let first = write_and_search(&a, &user.access_token, "wombat")
        .await
        .expect("search");
    assert_eq!(first.results.len(), 1);
    let cached: Vec<_> = keys(&url, &prefix)
        .await
        .into_iter()
        .filter(|key| key.starts_with(&format!("{prefix}search:cache:")))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let search_again = || async {
        SearchServiceClient::new(a.channel().await)
            .search(authorized(
                &user.access_token,
                SearchRequest {
                    query: "wombat".into(),
                    ..SearchRequest::default()
                },
            ))
            .await
            .expect("search")
            .into_inner()
    };
    let again = search_again().await;
    assert_eq!(first, again, "a hit answers the same page");

    // What Redis holds is what Search answers: a planted page is served…
    let planted = pake_api::search::SearchResponse {
        total_size: 42,
        ..pake_api::search::SearchResponse::default()
    };
    set_bytes(&url, &cached[0], &prost::Message::encode_to_vec(&planted)).await;
    assert_eq!(search_again().await.total_size, 42, "served from redis");
    // …and one that does not decode is a miss, answered from the index.
    set_bytes(&url, &cached[0], b"\xff\xff not a page").await;
    assert_eq!(
        search_again().await,
        first,
        "garbage is a miss, not an error"
    );
    a.stop().await;
    b.stop().await;
    delete_keys(&url, &prefix).await;
}
