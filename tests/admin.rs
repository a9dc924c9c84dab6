//! Users administered over gRPC: profile updates by the user, roles and disabling by an admin,
//! with sessions ended when rights change, and the last admin protected.

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{CreateSessionRequest, GetUserRequest, Role, UpdateUserRequest, User};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_testkit::{TEST_PASSWORD, TestApp, authorized, sign_up_and_in, spawn_app};
use prost_types::FieldMask;
use tonic::Code;

async fn admin_token(app: &TestApp) -> String {
    let args = pake::args::UserCreateArgs {
        username: "root_admin".into(),
        email: String::new(),
        display_name: String::new(),
        admin: true,
        data_dir: None,
        database_url: None,
    };
    pake::users::create(&app.config, args, TEST_PASSWORD.into())
        .await
        .expect("bootstrap admin");
    IdentityServiceClient::new(app.channel().await)
        .create_session(CreateSessionRequest {
            username: "root_admin".into(),
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect("admin sign-in")
        .into_inner()
        .access_token
}

fn update(name: &str, user: User, paths: &[&str]) -> UpdateUserRequest {
    UpdateUserRequest {
        user: Some(User {
            name: name.to_owned(),
            ..user
        }),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_edit_their_profile_admins_their_rights() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);

    let renamed = identity
        .update_user(authorized(
            &alice.access_token,
            update(
                "users/me",
                User {
                    display_name: "Alice L.".into(),
                    ..User::default()
                },
                &["display_name"],
            ),
        ))
        .await
        .expect("own profile")
        .into_inner();
    assert_eq!(renamed.display_name, "Alice L.");
    assert_ne!(renamed.etag, alice.user.etag);

    let denied = identity
        .update_user(authorized(
            &alice.access_token,
            update(
                "users/me",
                User {
                    roles: vec![Role::Admin as i32],
                    ..User::default()
                },
                &["roles"],
            ),
        ))
        .await
        .expect_err("no self-promotion");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let taken = identity
        .update_user(authorized(
            &alice.access_token,
            update(
                "users/me",
                User {
                    username: bob.user.username.to_uppercase(),
                    ..User::default()
                },
                &["username"],
            ),
        ))
        .await
        .expect_err("taken");
    assert_eq!(taken.code(), Code::AlreadyExists);
    let stale = identity
        .update_user(authorized(
            &alice.access_token,
            update(
                "users/me",
                User {
                    display_name: "x".into(),
                    etag: alice.user.etag.clone(),
                    ..User::default()
                },
                &["display_name"],
            ),
        ))
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    let hidden = identity
        .update_user(authorized(
            &bob.access_token,
            update(
                &alice.name,
                User {
                    display_name: "x".into(),
                    ..User::default()
                },
                &["display_name"],
            ),
        ))
        .await
        .expect_err("bob cannot see alice");
    assert_eq!(hidden.code(), Code::NotFound);

    // Demoting Alice ends her sessions at once; her new session carries the new role.
    identity
        .update_user(authorized(
            &admin,
            update(
                &alice.name,
                User {
                    roles: vec![Role::Viewer as i32],
                    ..User::default()
                },
                &["roles"],
            ),
        ))
        .await
        .expect("admin demotes");
    let me = |token: &str| {
        authorized(
            token,
            GetUserRequest {
                name: "users/me".into(),
            },
        )
    };
    assert_eq!(
        identity
            .get_user(me(&alice.access_token))
            .await
            .expect_err("ended")
            .code(),
        Code::Unauthenticated
    );
    let viewer_token = identity
        .create_session(CreateSessionRequest {
            username: alice.user.username.clone(),
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect("sign in again")
        .into_inner()
        .access_token;
    let create = KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            &viewer_token,
            CreateItemRequest {
                item: Some(Item {
                    title: "x".into(),
                    ..Item::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("viewers do not create");
    assert_eq!(create.code(), Code::PermissionDenied);

    // Disabling Bob signs him out and keeps him out, like a wrong password.
    identity
        .update_user(authorized(
            &admin,
            update(
                &bob.name,
                User {
                    disabled: true,
                    ..User::default()
                },
                &["disabled"],
            ),
        ))
        .await
        .expect("disable");
    assert_eq!(
        identity
            .get_user(me(&bob.access_token))
            .await
            .expect_err("ended")
            .code(),
        Code::Unauthenticated
    );
    let refused = identity
        .create_session(CreateSessionRequest {
            username: bob.user.username.clone(),
            password: TEST_PASSWORD.into(),
        })
        .await
        .expect_err("disabled");
    assert_eq!(
        (refused.code(), refused.message()),
        (Code::Unauthenticated, "invalid username or password")
    );

    // The last admin cannot demote themself.
    let last = identity
        .update_user(authorized(
            &admin,
            update(
                "users/me",
                User {
                    roles: vec![Role::Editor as i32],
                    ..User::default()
                },
                &["roles"],
            ),
        ))
        .await
        .expect_err("last admin");
    assert_eq!(last.code(), Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_the_search_index_status() {
    use pake_api::search::search_service_client::SearchServiceClient;
    use pake_api::search::{GetIndexStatusRequest, IndexState, SearchRequest};
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let alice = sign_up_and_in(&app, "alice").await;
    let item = KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            &alice.access_token,
            CreateItemRequest {
                item: Some(Item {
                    title: "Indexed".into(),
                    ..Item::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("create")
        .into_inner();
    let mut search = SearchServiceClient::new(app.channel().await);
    search
        .search(authorized(
            &alice.access_token,
            SearchRequest {
                min_cursor: item.feed_cursor.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("wait until applied");
    let status = search
        .get_index_status(authorized(&admin, GetIndexStatusRequest {}))
        .await
        .expect("admin reads the status")
        .into_inner();
    assert!(status.applied_cursor >= item.feed_cursor, "{status:?}");
    assert_eq!(status.document_count, 1);
    assert!(status.last_commit_time.is_some());
    assert!(
        [IndexState::Ready as i32, IndexState::CatchingUp as i32].contains(&status.state),
        "{status:?}"
    );
    let denied = search
        .get_index_status(authorized(&alice.access_token, GetIndexStatusRequest {}))
        .await
        .expect_err("not for editors");
    assert_eq!(denied.code(), Code::PermissionDenied);
    app.stop().await;
}
