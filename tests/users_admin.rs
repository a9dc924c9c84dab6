//! ListUsers over real gRPC: admins filter (normalised like the stored fields, fullwidth forms
//! included), order and page through every user exactly once; page tokens are bound to their
//! filter, order and caller; everyone else is denied. Locked accounts: `users_admin/lockouts.rs`.

#[path = "users_admin/lockout_checks.rs"]
mod lockout_checks;
#[path = "users_admin/lockouts.rs"]
mod lockouts;

use std::collections::BTreeSet;

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{CreateUserRequest, ListUsersRequest, Role, User, user::State};
use pake_testkit::{SignedIn, TEST_PASSWORD, authorized, sign_in_admin, sign_up_and_in, spawn_app};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

type Client = IdentityServiceClient<Channel>;

/// Creates a user as the admin (no password for a service account).
async fn create(identity: &mut Client, admin: &SignedIn, user: User) -> User {
    let service = user.roles.contains(&(Role::Service as i32));
    identity
        .create_user(authorized(
            &admin.access_token,
            CreateUserRequest {
                user: Some(user),
                password: if service {
                    String::new()
                } else {
                    TEST_PASSWORD.into()
                },
                ..CreateUserRequest::default()
            },
        ))
        .await
        .expect("create user")
        .into_inner()
}

/// Every user matching `filter` in `order_by`, in pages of `page_size`, and the total size
/// every page reported.
async fn list_all(
    identity: &mut Client,
    token: &str,
    filter: &str,
    order_by: &str,
    page_size: i32,
) -> (Vec<User>, i32) {
    let mut users = Vec::new();
    let mut page_token = String::new();
    let mut totals = BTreeSet::new();
    loop {
        let page = identity
            .list_users(authorized(
                token,
                ListUsersRequest {
                    page_size,
                    page_token: page_token.clone(),
                    filter: filter.into(),
                    order_by: order_by.into(),
                },
            ))
            .await
            .unwrap_or_else(|status| panic!("{filter} / {order_by}: {status:?}"))
            .into_inner();
        assert!(page.users.len() <= usize::try_from(page_size).unwrap_or(0).max(50));
        totals.insert(page.total_size);
        users.extend(page.users);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(totals.len(), 1, "one total across pages: {totals:?}");
    let total = totals.into_iter().next().unwrap_or_default();
    (users, total)
}

fn usernames(users: &[User]) -> Vec<String> {
    users.iter().map(|user| user.username.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_filter_users_by_every_field_with_normalised_values() {
    let app = spawn_app().await;
    let admin = sign_in_admin(&app, "root").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let tag = "q7";
    let name = |base: &str| format!("{base}{tag}");
    let alice = create(
        &mut identity,
        &admin,
        User {
            username: name("Alice"),
            email: format!("Alice{tag}@Example.org"),
            display_name: "Alice Liddell".into(),
            ..User::default()
        },
    )
    .await;
    let bob = create(
        &mut identity,
        &admin,
        User {
            username: name("bob"),
            display_name: "Bob".into(),
            roles: vec![Role::Viewer as i32],
            disabled: true,
            ..User::default()
        },
    )
    .await;
    let indexer = create(
        &mut identity,
        &admin,
        User {
            username: name("indexer"),
            roles: vec![Role::Service as i32],
            ..User::default()
        },
    )
    .await;
    assert_eq!(alice.username, name("alice"), "stored normalised");

    // Fullwidth letters fold to the stored key: `ＡＬＩＣＥ` is `alice`.
    let fullwidth: String = "ALICE"
        .chars()
        .map(|c| char::from_u32(c as u32 - 'A' as u32 + 'Ａ' as u32).unwrap_or(c))
        .collect();
    let cases: Vec<(String, Vec<&User>)> = vec![
        (format!("username = \"{fullwidth}{tag}\""), vec![&alice]),
        (
            format!("username : \"ＢＯ\" AND username : \"{tag}\""),
            vec![&bob],
        ),
        (format!("email = \"ALICE{tag}@EXAMPLE.ORG\""), vec![&alice]),
        (format!("email : \"{tag}@example\""), vec![&alice]),
        (
            format!(
                "display_name : \"Liddell\" OR username = \"{}\"",
                name("bob")
            ),
            vec![&alice, &bob],
        ),
        (
            format!("roles:ROLE_VIEWER AND username : \"{tag}\""),
            vec![&bob],
        ),
        (
            format!("state = STATE_DISABLED AND username : \"{tag}\""),
            vec![&bob],
        ),
        (
            format!("NOT state = STATE_DISABLED AND username : \"{tag}\""),
            vec![&alice, &indexer],
        ),
        (
            format!("service_account = true AND username : \"{tag}\""),
            vec![&indexer],
        ),
        (
            format!("last_sign_in_time > \"2000-01-01T00:00:00Z\" AND username : \"{tag}\""),
            vec![],
        ),
        (
            format!(
                "create_time >= \"{}\" AND username : \"{tag}\"",
                alice.create_time.expect("create time")
            ),
            vec![&alice, &bob, &indexer],
        ),
    ];
    for (filter, expected) in cases {
        let (users, total) = list_all(&mut identity, &admin.access_token, &filter, "", 50).await;
        let expected: Vec<String> = expected.iter().map(|user| user.username.clone()).collect();
        assert_eq!(usernames(&users), expected, "{filter}");
        assert_eq!(total as usize, expected.len(), "total of {filter}");
    }
    let disabled = list_all(
        &mut identity,
        &admin.access_token,
        &format!("username = \"{}\"", name("bob")),
        "",
        1,
    )
    .await
    .0;
    assert_eq!(disabled[0].state, State::Disabled as i32);
    assert!(disabled[0].disabled);

    for (filter, message) in [
        ("password = x", "unknown field `password`"),
        ("roles = ROLE_ADMIN", "`roles` takes only `:`"),
        ("state = SLEEPING", "not a user state"),
        ("username = \"unterminated", "unterminated string"),
    ] {
        let status = identity
            .list_users(authorized(
                &admin.access_token,
                ListUsersRequest {
                    filter: filter.into(),
                    ..ListUsersRequest::default()
                },
            ))
            .await
            .expect_err("bad filter");
        assert_eq!(status.code(), Code::InvalidArgument, "{filter}");
        assert!(
            status.message().starts_with("filter: ") && status.message().contains(message),
            "{filter}: {status:?}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_pages_visit_every_user_once_in_every_order() {
    let app = spawn_app().await;
    let admin = sign_in_admin(&app, "root").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let display_names = ["zoe", "adam", "", "adam", "mia"];
    for index in 0..11 {
        create(
            &mut identity,
            &admin,
            User {
                username: format!("member{index:02}"),
                display_name: display_names[index % display_names.len()].into(),
                ..User::default()
            },
        )
        .await;
    }
    let (everyone, total) = list_all(&mut identity, &admin.access_token, "", "", 1000).await;
    assert_eq!(everyone.len(), 12, "eleven members and the admin");
    assert_eq!(total, 12);
    let sorted = {
        let mut names = usernames(&everyone);
        names.sort();
        names
    };
    assert_eq!(usernames(&everyone), sorted, "default order: username");

    for order_by in [
        "",
        "username desc",
        "display_name",
        "display_name desc, create_time",
        "create_time desc",
        "update_time",
        "last_sign_in_time desc, username",
    ] {
        for page_size in [1, 3, 5] {
            let (paged, total) =
                list_all(&mut identity, &admin.access_token, "", order_by, page_size).await;
            assert_eq!(total, 12);
            let names = usernames(&paged);
            let unique: BTreeSet<&String> = names.iter().collect();
            assert_eq!(
                unique.len(),
                12,
                "{order_by} / {page_size}: no dupes, no misses"
            );
            let (whole, _) = list_all(&mut identity, &admin.access_token, "", order_by, 1000).await;
            assert_eq!(
                names,
                usernames(&whole),
                "{order_by} / {page_size}: same order"
            );
        }
    }
    let by_name_desc = list_all(
        &mut identity,
        &admin.access_token,
        "",
        "display_name desc",
        4,
    )
    .await
    .0;
    let names: Vec<String> = by_name_desc
        .iter()
        .map(|u| u.display_name.clone())
        .collect();
    let mut descending = names.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, descending);

    // A token is bound to the filter, the order and the caller.
    let first = identity
        .list_users(authorized(
            &admin.access_token,
            ListUsersRequest {
                page_size: 2,
                filter: "username : \"member\"".into(),
                ..ListUsersRequest::default()
            },
        ))
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.total_size, 11);
    let second_admin = sign_in_admin(&app, "other").await;
    for (token, filter, order_by) in [
        (&admin.access_token, "username : \"member0\"", ""),
        (
            &admin.access_token,
            "username : \"member\"",
            "username desc",
        ),
        (&second_admin.access_token, "username : \"member\"", ""),
    ] {
        let status = identity
            .list_users(authorized(
                token,
                ListUsersRequest {
                    page_size: 2,
                    page_token: first.next_page_token.clone(),
                    filter: filter.into(),
                    order_by: order_by.into(),
                },
            ))
            .await
            .expect_err("token reused elsewhere");
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{filter} / {order_by}"
        );
        assert!(status.message().starts_with("page_token: "), "{status:?}");
    }
    let garbage = identity
        .list_users(authorized(
            &admin.access_token,
            ListUsersRequest {
                page_token: "bm90IGEgdG9rZW4".into(),
                ..ListUsersRequest::default()
            },
        ))
        .await
        .expect_err("not a token");
    assert_eq!(garbage.code(), Code::InvalidArgument);

    // page_size: negative is refused, over the maximum is clamped.
    let negative = identity
        .list_users(authorized(
            &admin.access_token,
            ListUsersRequest {
                page_size: -1,
                ..ListUsersRequest::default()
            },
        ))
        .await
        .expect_err("negative page size");
    assert_eq!(negative.code(), Code::InvalidArgument);
    let clamped = identity
        .list_users(authorized(
            &admin.access_token,
            ListUsersRequest {
                page_size: 5000,
                ..ListUsersRequest::default()
            },
        ))
        .await
        .expect("clamped")
        .into_inner();
    assert_eq!(clamped.users.len(), 13);
    assert!(clamped.next_page_token.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_list_users() {
    let app = spawn_app().await;
    let editor = sign_up_and_in(&app, "editor").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let denied = identity
        .list_users(authorized(
            &editor.access_token,
            ListUsersRequest::default(),
        ))
        .await
        .expect_err("editors may not list users");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let info = denied.get_error_details().error_info().cloned();
    assert_eq!(
        info.map(|info| info.reason).as_deref(),
        Some("ADMIN_REQUIRED")
    );
    let anonymous = identity
        .list_users(ListUsersRequest::default())
        .await
        .expect_err("anonymous");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    app.stop().await;
}
