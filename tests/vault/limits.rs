//! ImportItems and ExportItems at their edges: what an update clears, request limits
//! (INVALID_ARGUMENT, nothing written), who may import into what, soft-deleted items, dry runs,
//! and that an export holds only what the caller may read.

use pake_api::knowledge::import_file_result::Outcome;
use pake_api::knowledge::import_items_request::Payload;
use pake_api::knowledge::item::{Verification, Visibility};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    DeleteItemRequest, ImportItemsRequest, ImportOptions, ListItemRevisionsRequest, VaultFile,
};
use pake_testkit::{authorized, sign_up_and_in};
use tonic::Code;

use super::support::{Backend, all_items, export, import, import_messages, messages, spawn};

fn file(path: &str, text: &str) -> (String, Vec<u8>) {
    (path.to_owned(), text.as_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_updates_its_item_and_absent_keys_clear_their_fields() {
    let (app, _) = spawn(Backend::Sqlite).await.expect("sqlite");
    let user = sign_up_and_in(&app, "update").await;
    let token = user.access_token.as_str();
    let full = "---\ntitle: Full\nvisibility: public\nverification_status: verified\n\
                human_notes: ok\nconfidence_score: 0.8\nsource_uri: https://example.org\n\
                ai_summary: S\nextra: 1\n---\nBody #tag\n";
    let created = import(&app, token, "v", &[file("Notes/N.md", full)]).await;
    let name = created.results[0].item.clone();
    let bare = "---\ntitle: Bare\n---\nBody\n";
    let updated = import(&app, token, "v", &[file("Notes/N.md", bare)]).await;
    assert_eq!(updated.results[0].outcome, Outcome::Updated as i32);
    assert_eq!(updated.results[0].item, name);
    assert!(!updated.feed_cursor.is_empty());
    let item = all_items(&app, token).await.remove(&name).expect("item");
    assert_eq!(item.title, "Bare");
    assert_eq!(
        item.visibility,
        Visibility::Public as i32,
        "absent visibility stays"
    );
    assert_eq!(
        item.verification,
        Verification::Pending as i32,
        "absent key: default"
    );
    assert!(item.human_notes.is_empty() && item.summary.is_empty() && item.source_uri.is_empty());
    assert!(item.confidence_computed && item.tags.is_empty());
    let metadata = item.metadata.expect("the file name is an alias");
    let keys: Vec<&String> = metadata.fields.keys().collect();
    assert_eq!(keys, ["aliases"], "`extra` is gone");
    assert_eq!(item.revision_id, "2");
    let revisions = KnowledgeServiceClient::new(app.channel().await)
        .list_item_revisions(authorized(
            token,
            ListItemRevisionsRequest {
                parent: name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("revisions")
        .into_inner();
    assert_eq!(
        revisions.revisions.len(),
        2,
        "one revision per changing import"
    );
    // Another vault name does not find it: a new item.
    let elsewhere = import(&app, token, "other vault", &[file("Notes/N.md", bare)]).await;
    assert_eq!(elsewhere.results[0].outcome, Outcome::Created as i32);
    assert_ne!(elsewhere.results[0].item, name);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_outside_the_limits_are_invalid_and_write_nothing() {
    let (app, _) = spawn(Backend::Sqlite).await.expect("sqlite");
    let user = sign_up_and_in(&app, "limits").await;
    let token = user.access_token.as_str();
    let ok = vec![file("ok.md", "fine")];
    let file_message = |path: &str, content: Vec<u8>| ImportItemsRequest {
        payload: Some(Payload::File(VaultFile {
            path: path.into(),
            content,
        })),
    };
    let mut cases: Vec<(Vec<ImportItemsRequest>, &str)> = Vec::new();
    cases.push((messages("v", &ok, false)[1..].to_vec(), "options"));
    let mut twice = messages("v", &ok, false);
    twice.push(twice[0].clone());
    cases.push((twice, "options"));
    cases.push((messages("", &ok, false), "options.vault_name"));
    cases.push((messages(&"v".repeat(257), &ok, false), "options.vault_name"));
    for bad in ["../up.md", "/abs.md", "a\\b.md", "tab\t.md", ""] {
        let mut request = messages("v", &ok, false);
        request.push(file_message(bad, Vec::new()));
        cases.push((request, "file[1].path"));
    }
    let mut big = messages("v", &ok, false);
    big.push(file_message("big.md", vec![b'a'; 4 * 1024 * 1024 + 1]));
    cases.push((big, "file[1].content"));
    let mut many = messages("v", &ok, false);
    many.extend((0..10_000).map(|n| file_message(&format!("a{n}.png"), Vec::new())));
    cases.push((many, "file: at most 10000 files"));
    for (request, field) in cases {
        let status = import_messages(&app, token, request)
            .await
            .expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }
    assert!(all_items(&app, token).await.is_empty(), "nothing written");
    let anonymous = KnowledgeServiceClient::new(app.channel().await)
        .import_items(tonic::codegen::tokio_stream::iter(messages(
            "v", &ok, false,
        )))
        .await
        .expect_err("anonymous");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_fail_or_are_skipped_one_by_one_and_dry_runs_write_nothing() {
    let (app, _) = spawn(Backend::Sqlite).await.expect("sqlite");
    let ada = sign_up_and_in(&app, "ada").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let mine = import(
        &app,
        &ada.access_token,
        "v",
        &[file("A.md", "---\npake_id: ada-note\n---\nx")],
    )
    .await;
    assert_eq!(mine.results[0].item, "items/ada-note");

    let dry = messages(
        "v",
        &[
            file("New.md", "n"),
            file("A.md", "---\npake_id: ada-note\n---\nchanged"),
        ],
        true,
    );
    let planned = import_messages(&app, &ada.access_token, dry)
        .await
        .expect("dry run");
    let outcomes: Vec<(i32, &str)> = planned
        .results
        .iter()
        .map(|r| (r.outcome, r.item.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Outcome::Created as i32, ""),
            (Outcome::Updated as i32, "items/ada-note")
        ]
    );
    assert!(planned.feed_cursor.is_empty());
    assert_eq!(
        all_items(&app, &ada.access_token).await.len(),
        1,
        "a dry run writes nothing"
    );

    let files = [
        file("Theirs.md", "---\npake_id: ada-note\n---\nhijack"),
        file("Twice.md", "---\npake_id: bob-note\n---\none"),
        file("Again.md", "---\npake_id: BOB-NOTE\n---\ntwo"),
        file("Twice.md", "repeated path"),
        file("Fine.md", "fine"),
    ];
    let response = import(&app, &bob.access_token, "v", &files).await;
    let outcomes: Vec<i32> = response.results.iter().map(|r| r.outcome).collect();
    let failed = Outcome::Failed as i32;
    assert_eq!(
        outcomes,
        [
            failed,
            Outcome::Created as i32,
            failed,
            failed,
            Outcome::Created as i32
        ]
    );
    assert!(
        response.results[0]
            .message
            .contains("not an item you may change"),
        "{:?}",
        response.results[0]
    );
    assert!(
        response.results[2]
            .message
            .contains("same item as `Twice.md`"),
        "{:?}",
        response.results[2]
    );
    assert!(
        response.results[3].message.contains("repeats"),
        "{:?}",
        response.results[3]
    );

    KnowledgeServiceClient::new(app.channel().await)
        .delete_item(authorized(
            &ada.access_token,
            DeleteItemRequest {
                name: "items/ada-note".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("delete");
    let deleted = import(
        &app,
        &ada.access_token,
        "v",
        &[file("A.md", "---\npake_id: ada-note\n---\nx")],
    )
    .await;
    assert_eq!(deleted.results[0].outcome, Outcome::Skipped as i32);
    assert_eq!(deleted.results[0].item, "items/ada-note");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_only_what_the_caller_may_read() {
    let (app, _) = spawn(Backend::Sqlite).await.expect("sqlite");
    let ada = sign_up_and_in(&app, "ada").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let files = [
        file("Private.md", "secret"),
        file(
            "Shared.md",
            "---\nvisibility: internal\nconnections: ['[[Private]]', '[[Public]]']\n---\nx",
        ),
        file("Public.md", "---\nvisibility: public\n---\ny"),
    ];
    import(&app, &ada.access_token, "v", &files).await;
    let mine = import(&app, &bob.access_token, "b", &[file("Bob.md", "bob")]).await;
    assert_eq!(mine.created_count, 1);

    let seen = export(&app, &bob.access_token, "").await.expect("export");
    let paths: Vec<&str> = seen.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "00-Inbox/Bob.md",
            "00-Inbox/Public.md",
            "00-Inbox/Shared.md"
        ]
    );
    let shared = String::from_utf8(seen[2].content.clone()).expect("utf-8");
    assert!(
        shared.contains("connections:\n- '[[Public]]'\n"),
        "{shared}"
    );
    assert!(
        !shared.contains("Private"),
        "a link to an unreadable item is left out: {shared}"
    );
    let own = export(&app, &bob.access_token, "owner = \"users/me\"")
        .await
        .expect("own");
    assert_eq!(own.len(), 1);
    let status = export(&app, &bob.access_token, "title = x")
        .await
        .expect_err("bad filter");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("filter"),
        "{}",
        status.message()
    );
    let everything = export(&app, &ada.access_token, "").await.expect("ada");
    let shared = String::from_utf8(everything[2].content.clone()).expect("utf-8");
    assert!(
        shared.contains("- '[[Private]]'\n- '[[Public]]'\n"),
        "{shared}"
    );
    app.stop().await;
}

/// Options with a visibility for created items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_items_take_the_import_visibility() {
    let (app, _) = spawn(Backend::Sqlite).await.expect("sqlite");
    let ada = sign_up_and_in(&app, "ada").await;
    let request = vec![
        ImportItemsRequest {
            payload: Some(Payload::Options(ImportOptions {
                vault_name: "v".into(),
                visibility: Visibility::Internal as i32,
                ..ImportOptions::default()
            })),
        },
        ImportItemsRequest {
            payload: Some(Payload::File(VaultFile {
                path: "N.md".into(),
                content: b"n".to_vec(),
            })),
        },
    ];
    let response = import_messages(&app, &ada.access_token, request)
        .await
        .expect("import");
    let item = all_items(&app, &ada.access_token)
        .await
        .remove(&response.results[0].item)
        .expect("item");
    assert_eq!(item.visibility, Visibility::Internal as i32);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_may_export_but_not_import() {
    use pake_api::identity::identity_service_client::IdentityServiceClient;
    use pake_api::identity::{CreateSessionRequest, Role, UpdateUserRequest, User};
    use prost_types::FieldMask;

    let (app, _) = spawn(Backend::Sqlite).await.expect("sqlite");
    let admin = pake_testkit::sign_in_admin(&app, "admin").await;
    let vera = sign_up_and_in(&app, "vera").await;
    let mut identity = IdentityServiceClient::new(app.channel().await);
    let demote = UpdateUserRequest {
        user: Some(User {
            name: vera.name.clone(),
            roles: vec![Role::Viewer as i32],
            ..User::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["roles".into()],
        }),
    };
    identity
        .update_user(authorized(&admin.access_token, demote))
        .await
        .expect("demote");
    let viewer = identity
        .create_session(CreateSessionRequest {
            username: vera.user.username.clone(),
            password: pake_testkit::TEST_PASSWORD.into(),
        })
        .await
        .expect("sign in as a viewer")
        .into_inner()
        .access_token;
    let status = import_messages(&app, &viewer, messages("v", &[file("N.md", "n")], false))
        .await
        .expect_err("a viewer cannot import");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(export(&app, &viewer, "").await.expect("export").is_empty());
    app.stop().await;
}
