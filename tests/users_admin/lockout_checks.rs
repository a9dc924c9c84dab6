//! How a locked account looks over gRPC, shared by the in-process throttle
//! (`tests/users_admin/lockouts.rs`) and the Redis throttle (`tests/redis/lockouts.rs`): the
//! user itself and admins see `STATE_LOCKED` with `lockout_expire_time`, everyone else learns
//! nothing; ListUsers' `state` filter selects exactly the locked users; `DISABLED` wins.

use std::time::{Duration, SystemTime};

use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{
    CreateSessionRequest, CreateUserRequest, GetUserRequest, ListUsersRequest, Role,
    UpdateUserRequest, User, user::State,
};
use pake_testkit::{SignedIn, TEST_PASSWORD, TestApp, authorized};
use tonic::Code;

/// Creates `username` (with `email`, maybe empty) as `admin` and signs it in.
pub async fn create_and_sign_in(
    app: &TestApp,
    admin: &SignedIn,
    username: &str,
    email: &str,
    roles: Vec<i32>,
) -> SignedIn {
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let user = identity
        .create_user(authorized(
            &admin.access_token,
            CreateUserRequest {
                user: Some(User {
                    username: username.to_owned(),
                    email: email.to_owned(),
                    roles,
                    ..User::default()
                }),
                password: TEST_PASSWORD.to_owned(),
                ..CreateUserRequest::default()
            },
        ))
        .await
        .expect("create user")
        .into_inner();
    let session = identity
        .create_session(CreateSessionRequest {
            username: username.to_owned(),
            password: TEST_PASSWORD.to_owned(),
        })
        .await
        .expect("sign in before the lockout")
        .into_inner();
    SignedIn {
        name: user.name.clone(),
        user,
        access_token: session.access_token,
        refresh_token: session.refresh_token,
    }
}

/// `name` read with `token`.
pub async fn get_user(app: &TestApp, token: &str, name: &str) -> Result<User, tonic::Status> {
    IdentityServiceClient::new(app.channel().await)
        .get_user(authorized(
            token,
            GetUserRequest {
                name: name.to_owned(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The usernames ListUsers returns for `filter`, read in pages of one (so that the page
/// tokens carry the filter), and the total size it reports.
pub async fn list_usernames(app: &TestApp, admin: &SignedIn, filter: &str) -> (Vec<String>, i32) {
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = identity
            .list_users(authorized(
                &admin.access_token,
                ListUsersRequest {
                    page_size: 1,
                    page_token: page_token.clone(),
                    filter: filter.to_owned(),
                    order_by: String::new(),
                },
            ))
            .await
            .unwrap_or_else(|status| panic!("{filter}: {status:?}"))
            .into_inner();
        let total = page.total_size;
        for user in &page.users {
            // The list reports the state the filter selected on.
            let expected = if filter == "state = STATE_LOCKED" {
                Some(State::Locked)
            } else if filter == "state = STATE_ACTIVE" {
                Some(State::Active)
            } else {
                None
            };
            if let Some(expected) = expected {
                assert_eq!(user.state(), expected, "{filter}: {user:?}");
            }
        }
        names.extend(page.users.into_iter().map(|user| user.username));
        if page.next_page_token.is_empty() {
            names.sort();
            return (names, total);
        }
        page_token = page.next_page_token;
    }
}

/// Asserts that `user` is locked, with an expiry in the next lockout period.
pub fn assert_locked(user: &User, who: &str) {
    assert_eq!(user.state(), State::Locked, "{who}: {user:?}");
    let expire = user
        .lockout_expire_time
        .unwrap_or_else(|| panic!("{who}: lockout_expire_time unset: {user:?}"));
    let expire = SystemTime::UNIX_EPOCH
        + Duration::new(
            u64::try_from(expire.seconds).expect("after the epoch"),
            u32::try_from(expire.nanos).expect("nanos"),
        );
    let now = SystemTime::now();
    assert!(expire > now, "{who}: the lockout has not ended yet");
    assert!(
        expire <= now + pake_identity::throttle::LOCKOUT,
        "{who}: it ends within one lockout period"
    );
}

/// Asserts that `user` shows no lockout.
pub fn assert_active(user: &User, who: &str) {
    assert_eq!(user.state(), State::Active, "{who}: {user:?}");
    assert_eq!(user.lockout_expire_time, None, "{who}");
}

/// The checks for `locked` users (already locked, signed in before the lockout) against an
/// `admin` and a non-admin `other`; `unlocked` are the usernames of every user not locked.
pub async fn check_locked_users(
    app: &TestApp,
    admin: &SignedIn,
    other: &SignedIn,
    locked: &[&SignedIn],
    unlocked: &[&str],
) {
    for victim in locked {
        let username = &victim.user.username;
        let by_admin = get_user(app, &admin.access_token, &victim.name)
            .await
            .expect("admin reads");
        assert_locked(&by_admin, &format!("{username} as the admin sees it"));
        let by_self = get_user(app, &victim.access_token, "users/me")
            .await
            .expect("the user reads itself: sessions outlive a lockout");
        assert_locked(&by_self, &format!("{username} as it sees itself"));
        assert_eq!(by_self.lockout_expire_time, by_admin.lockout_expire_time);

        // Anyone else learns nothing: the same answer as for a user that does not exist.
        let hidden = get_user(app, &other.access_token, &victim.name)
            .await
            .expect_err("another user may not read it");
        let absent = get_user(app, &other.access_token, "users/no-such-user")
            .await
            .expect_err("absent");
        assert_eq!(hidden.code(), Code::NotFound);
        assert_eq!(
            hidden.message().replace(&victim.name, "users/no-such-user"),
            absent.message()
        );
        let own = get_user(app, &other.access_token, "users/me")
            .await
            .expect("reads itself");
        assert_active(&own, "the other user");
    }

    let mut locked_names: Vec<String> = locked.iter().map(|u| u.user.username.clone()).collect();
    locked_names.sort();
    let mut unlocked_names: Vec<String> = unlocked.iter().map(|name| (*name).to_owned()).collect();
    unlocked_names.sort();
    let count = |names: &[String]| i32::try_from(names.len()).expect("few users");
    assert_eq!(
        list_usernames(app, admin, "state = STATE_LOCKED").await,
        (locked_names.clone(), count(&locked_names))
    );
    assert_eq!(
        list_usernames(app, admin, "state = STATE_ACTIVE").await,
        (unlocked_names.clone(), count(&unlocked_names))
    );
    assert_eq!(
        list_usernames(app, admin, "NOT state = STATE_LOCKED").await,
        (unlocked_names.clone(), count(&unlocked_names))
    );
    assert_eq!(
        list_usernames(app, admin, "state != STATE_ACTIVE AND roles:ROLE_EDITOR")
            .await
            .0,
        locked_names,
        "every locked user is an editor here"
    );

    // A page token from the LOCKED filter is refused with another filter.
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let list = |filter: &str, page_token: String| {
        authorized(
            &admin.access_token,
            ListUsersRequest {
                page_size: 1,
                page_token,
                filter: filter.to_owned(),
                order_by: String::new(),
            },
        )
    };
    if locked.len() > 1 {
        let first = identity
            .list_users(list("state = STATE_LOCKED", String::new()))
            .await
            .expect("first page")
            .into_inner();
        let reused = identity
            .list_users(list("state = STATE_ACTIVE", first.next_page_token))
            .await
            .expect_err("bound to the filter");
        assert_eq!(reused.code(), Code::InvalidArgument);
    }

    // DISABLED wins over LOCKED.
    let first = locked[0];
    let disabled = identity
        .update_user(authorized(
            &admin.access_token,
            UpdateUserRequest {
                user: Some(User {
                    name: first.name.clone(),
                    disabled: true,
                    ..User::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["disabled".to_owned()],
                }),
            },
        ))
        .await
        .expect("disable")
        .into_inner();
    assert_eq!(disabled.state(), State::Disabled);
    assert_eq!(disabled.lockout_expire_time, None);
    let still_locked = list_usernames(app, admin, "state = STATE_LOCKED").await.0;
    assert!(
        !still_locked.contains(&first.user.username),
        "{still_locked:?}"
    );
    assert_eq!(
        list_usernames(app, admin, "state = STATE_DISABLED").await.0,
        vec![first.user.username.clone()]
    );
}

/// The role of the users locked in these tests.
pub fn editor() -> Vec<i32> {
    vec![Role::Editor as i32]
}
