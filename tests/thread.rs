//! The first thread end to end over real gRPC: sign up, sign in, write a note, get it, list it,
//! find it — and the documented error for bad input at every step.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{
    CreateSessionRequest, CreateUserRequest, GetUserRequest, RefreshSessionRequest, User,
};
use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, GetItemRequest, Item, ListItemsRequest};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_testkit::{TEST_PASSWORD, TestApp, authorized, sign_up_and_in, spawn_app};
use tonic::Code;
use tonic_types::StatusExt;

fn assert_status(result: Result<impl std::fmt::Debug, tonic::Status>, code: Code, field: &str) {
    let status = result.expect_err("must fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(field),
        "message names `{field}`: {}",
        status.message()
    );
}

async fn knowledge(app: &TestApp) -> KnowledgeServiceClient<tonic::transport::Channel> {
    KnowledgeServiceClient::new(app.channel().await)
}

async fn create(app: &TestApp, token: &str, item: Item) -> Item {
    knowledge(app)
        .await
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(item),
                ..Default::default()
            },
        ))
        .await
        .expect("create item")
        .into_inner()
}

async fn search(app: &TestApp, token: Option<&str>, query: &str, min_cursor: &str) -> Vec<String> {
    let request = SearchRequest {
        query: query.to_owned(),
        min_cursor: min_cursor.to_owned(),
        ..Default::default()
    };
    let request = match token {
        Some(token) => authorized(token, request),
        None => tonic::Request::new(request),
    };
    SearchServiceClient::new(app.channel().await)
        .search(request)
        .await
        .expect("search")
        .into_inner()
        .results
        .into_iter()
        .map(|result| result.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_in_write_get_list_and_find() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    assert!(
        alice
            .user
            .roles
            .contains(&(pake_api::identity::Role::Editor as i32)),
        "default role editor"
    );
    assert_eq!(alice.access_token.split('.').count(), 3);

    let created = create(
        &app,
        &alice.access_token,
        Item {
            title: "Ownership in Rust".into(),
            content: "The borrow checker enforces aliasing xor mutability.".into(),
            tags: vec!["#rust".into()],
            ..Default::default()
        },
    )
    .await;
    assert!(created.name.starts_with("items/"));
    assert_eq!(created.owner, alice.name);
    assert_eq!(created.tags, vec!["rust"]);
    assert_eq!(created.folder, "00-Inbox");
    assert!(!created.etag.is_empty() && !created.feed_cursor.is_empty());

    let fetched = knowledge(&app)
        .await
        .get_item(authorized(
            &alice.access_token,
            GetItemRequest {
                name: created.name.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(fetched, created);

    let listed = knowledge(&app)
        .await
        .list_items(authorized(&alice.access_token, ListItemsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.items, vec![created.clone()]);

    // Read-your-writes: min_cursor makes "create, then search" deterministic.
    let found = search(
        &app,
        Some(&alice.access_token),
        "borrow",
        &created.feed_cursor,
    )
    .await;
    assert_eq!(found, vec![created.name.clone()]);
    let typo = search(
        &app,
        Some(&alice.access_token),
        "aliasng",
        &created.feed_cursor,
    )
    .await;
    assert_eq!(typo, vec![created.name.clone()], "typo tolerance");

    let me = IdentityServiceClient::new(app.channel().await)
        .get_user(authorized(
            &alice.access_token,
            GetUserRequest {
                name: "users/me".into(),
            },
        ))
        .await
        .expect("users/me")
        .into_inner();
    assert_eq!(me.name, alice.name);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_see_only_what_visibility_allows_in_get_list_and_search() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let mut last_cursor = String::new();
    let mut names = Vec::new();
    for visibility in [
        Visibility::Private,
        Visibility::Internal,
        Visibility::Public,
    ] {
        let item = create(
            &app,
            &alice.access_token,
            Item {
                title: format!("Quokka {visibility:?}"),
                content: "quokka habitat notes".into(),
                visibility: visibility as i32,
                ..Default::default()
            },
        )
        .await;
        last_cursor = item.feed_cursor.clone();
        names.push(item.name);
    }
    let (private, internal, public) = (&names[0], &names[1], &names[2]);

    let get = |token: Option<String>, name: String| {
        let app_channel = app.channel();
        async move {
            let request = GetItemRequest { name };
            let request = match token {
                Some(token) => authorized(&token, request),
                None => tonic::Request::new(request),
            };
            KnowledgeServiceClient::new(app_channel.await)
                .get_item(request)
                .await
        }
    };
    assert_status(
        get(Some(bob.access_token.clone()), private.clone()).await,
        Code::NotFound,
        "not found",
    );
    assert!(
        get(Some(bob.access_token.clone()), internal.clone())
            .await
            .is_ok()
    );
    assert_status(
        get(None, internal.clone()).await,
        Code::NotFound,
        "not found",
    );
    assert!(get(None, public.clone()).await.is_ok());

    let mut bob_sees = search(&app, Some(&bob.access_token), "quokka", &last_cursor).await;
    bob_sees.sort();
    let mut expected = vec![internal.clone(), public.clone()];
    expected.sort();
    assert_eq!(bob_sees, expected);
    assert_eq!(
        search(&app, None, "quokka", &last_cursor).await,
        vec![public.clone()]
    );
    assert_eq!(
        search(&app, Some(&alice.access_token), "quokka", &last_cursor)
            .await
            .len(),
        3
    );

    let listed = knowledge(&app)
        .await
        .list_items(tonic::Request::new(ListItemsRequest::default()))
        .await
        .expect("anonymous list")
        .into_inner();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|i| i.name.clone())
            .collect::<Vec<_>>(),
        vec![public.clone()]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_documented_status_naming_the_field() {
    let app = spawn_app().await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let sign_up = |username: &str, password: &str| CreateUserRequest {
        user: Some(User {
            username: username.to_owned(),
            ..User::default()
        }),
        password: password.to_owned(),
        ..CreateUserRequest::default()
    };
    let empty = identity.create_user(sign_up("", TEST_PASSWORD)).await;
    let status = empty.as_ref().expect_err("empty username");
    let violations = status
        .get_error_details()
        .bad_request()
        .cloned()
        .expect("BadRequest details");
    assert_eq!(violations.field_violations[0].field, "user.username");
    assert_status(empty, Code::InvalidArgument, "user.username");
    assert_status(
        identity
            .create_user(sign_up(&"x".repeat(65), TEST_PASSWORD))
            .await,
        Code::InvalidArgument,
        "user.username",
    );
    assert_status(
        identity.create_user(sign_up("carol", "short")).await,
        Code::InvalidArgument,
        "password",
    );
    assert_status(
        identity
            .create_user(sign_up("carol", &"p".repeat(1025)))
            .await,
        Code::InvalidArgument,
        "password",
    );
    assert_status(
        identity.create_user(sign_up("carol", "password1234")).await,
        Code::InvalidArgument,
        "password",
    );
    assert_status(
        identity.create_user(CreateUserRequest::default()).await,
        Code::InvalidArgument,
        "user",
    );

    let alice = sign_up_and_in(&app, "alice").await;
    let taken = identity
        .create_user(sign_up(&alice.user.username.to_uppercase(), TEST_PASSWORD))
        .await;
    assert_status(taken, Code::AlreadyExists, "user.username");

    // Sign-in failures are indistinguishable.
    let wrong = identity
        .create_session(CreateSessionRequest {
            username: alice.user.username.clone(),
            password: "wrong password here".into(),
        })
        .await
        .expect_err("wrong password");
    let unknown = identity
        .create_session(CreateSessionRequest {
            username: "nobody_here".into(),
            password: "wrong password here".into(),
        })
        .await
        .expect_err("unknown user");
    assert_eq!(
        (wrong.code(), wrong.message()),
        (unknown.code(), unknown.message())
    );
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_status(
        identity
            .create_session(CreateSessionRequest {
                username: String::new(),
                password: "x".into(),
            })
            .await,
        Code::InvalidArgument,
        "username",
    );

    let mut knowledge = knowledge(&app).await;
    let item = |title: &str| CreateItemRequest {
        item: Some(Item {
            title: title.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_status(
        knowledge.create_item(tonic::Request::new(item("x"))).await,
        Code::Unauthenticated,
        "authorization",
    );
    assert_status(
        knowledge
            .create_item(authorized("garbage", item("x")))
            .await,
        Code::Unauthenticated,
        "malformed",
    );
    assert_status(
        knowledge
            .create_item(authorized(&expired_token(&app, &alice.name), item("x")))
            .await,
        Code::Unauthenticated,
        "expired",
    );
    assert_status(
        knowledge
            .create_item(authorized(&alice.access_token, item("")))
            .await,
        Code::InvalidArgument,
        "item.title",
    );
    assert_status(
        knowledge
            .create_item(authorized(&alice.access_token, item(&"t".repeat(513))))
            .await,
        Code::InvalidArgument,
        "item.title",
    );
    let oversized = CreateItemRequest {
        item: Some(Item {
            title: "big".into(),
            content: "c".repeat(1_048_577),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_status(
        knowledge
            .create_item(authorized(&alice.access_token, oversized))
            .await,
        Code::InvalidArgument,
        "item.content",
    );
    assert_status(
        knowledge
            .get_item(authorized(
                &alice.access_token,
                GetItemRequest {
                    name: "items/does-not-exist".into(),
                },
            ))
            .await,
        Code::NotFound,
        "items/does-not-exist",
    );
    assert_status(
        knowledge
            .get_item(authorized(
                &alice.access_token,
                GetItemRequest {
                    name: "notes/1".into(),
                },
            ))
            .await,
        Code::InvalidArgument,
        "name",
    );
    assert_status(
        knowledge
            .list_items(authorized(
                &alice.access_token,
                ListItemsRequest {
                    page_size: -1,
                    ..Default::default()
                },
            ))
            .await,
        Code::InvalidArgument,
        "page_size",
    );

    let mut search = SearchServiceClient::new(app.channel().await);
    assert_status(
        search
            .search(authorized(
                &alice.access_token,
                SearchRequest {
                    query: "q".repeat(1025),
                    ..Default::default()
                },
            ))
            .await,
        Code::InvalidArgument,
        "query",
    );
    assert_status(
        search
            .search(authorized(
                &alice.access_token,
                SearchRequest {
                    min_cursor: "nonsense".into(),
                    ..Default::default()
                },
            ))
            .await,
        Code::InvalidArgument,
        "min_cursor",
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_replayed_refresh_token_ends_the_session() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let refresh = |token: &str| RefreshSessionRequest {
        refresh_token: token.to_owned(),
    };
    let first = identity
        .refresh_session(refresh(&alice.refresh_token))
        .await
        .expect("rotate")
        .into_inner();
    assert_ne!(first.refresh_token, alice.refresh_token);
    let replay = identity
        .refresh_session(refresh(&alice.refresh_token))
        .await;
    assert_status(replay, Code::Unauthenticated, "refresh token");
    // The replay revoked the whole session: the newest token is dead too.
    assert_status(
        identity
            .refresh_session(refresh(&first.refresh_token))
            .await,
        Code::Unauthenticated,
        "refresh token",
    );
    app.stop().await;
}

/// A correctly signed token for `subject` that expired an hour ago.
fn expired_token(app: &TestApp, subject: &str) -> String {
    // The server's key set: one key file, `<kid>.json`, after the first start.
    let dir = app
        .config
        .data_dir
        .join(pake_identity::key_store::KEY_DIR_NAME);
    let path = std::fs::read_dir(dir)
        .expect("key dir")
        .next()
        .expect("a key file")
        .expect("entry")
        .path();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let pem = file["private_key_pem"].as_str().expect("pem");
    let key = pake_identity::SigningKey::from_pkcs8_pem(
        pake_identity::signing_key::Algorithm::EdDsa,
        pem,
    )
    .expect("an Ed25519 key");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let claims = pake_core::token::Claims {
        iss: app.config.auth.issuer.clone(),
        sub: subject.to_owned(),
        aud: app.config.auth.audience.clone(),
        exp: now - 3600,
        iat: now - 4000,
        nbf: now - 4000,
        jti: "expired".into(),
        sid: String::new(),
        roles: vec!["editor".into()],
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(key.kid().to_owned());
    header.typ = Some("at+jwt".into());
    let encoding =
        jsonwebtoken::EncodingKey::from_ed_pem(key.private_pem().expose().as_bytes()).expect("pem");
    jsonwebtoken::encode(&header, &claims, &encoding).expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_and_its_access_token_at_once() {
    use pake_api::identity::DeleteSessionRequest;
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let me = |token: &str| {
        authorized(
            token,
            GetUserRequest {
                name: "users/me".into(),
            },
        )
    };
    identity
        .get_user(me(&alice.access_token))
        .await
        .expect("signed in");

    // Bob cannot end Alice's session, and learns nothing about it.
    let alice_session = format!("{}/sessions/current", alice.name);
    assert_status(
        identity
            .delete_session(authorized(
                &bob.access_token,
                DeleteSessionRequest {
                    name: alice_session,
                },
            ))
            .await,
        Code::NotFound,
        "not found",
    );

    identity
        .delete_session(authorized(
            &alice.access_token,
            DeleteSessionRequest {
                name: "users/me/sessions/current".into(),
            },
        ))
        .await
        .expect("logout");
    assert_status(
        identity.get_user(me(&alice.access_token)).await,
        Code::Unauthenticated,
        "session",
    );
    assert_status(
        identity
            .refresh_session(RefreshSessionRequest {
                refresh_token: alice.refresh_token.clone(),
            })
            .await,
        Code::Unauthenticated,
        "refresh token",
    );
    identity
        .get_user(me(&bob.access_token))
        .await
        .expect("other sessions live on");
    app.stop().await;
}
