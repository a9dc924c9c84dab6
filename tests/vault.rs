//! Obsidian vault import and export end to end over real gRPC, on SQLite and (with
//! PAKE_TEST_DATABASE_URL; required in CI) PostgreSQL: the fixture vault (`tests/fixtures/vault`:
//! nested folders, aliases, duplicate titles, headings, embeds of notes and images, markdown
//! links, CRLF, a byte-order mark, unicode names, malformed frontmatter, an attachment) imports
//! with every resolvable link resolved; importing it again writes nothing; an export imports back
//! to the same items and edges, into the same server and into a fresh one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pake_api::knowledge::import_file_result::Outcome;
use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use pake_api::knowledge::item_event::Type as EventType;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    ImportFileResult, ImportItemsResponse, Item, LinkType, ListBacklinksRequest, WatchItemsRequest,
};
use pake_testkit::{authorized, sign_up_and_in};

#[path = "vault/limits.rs"]
mod limits;
#[path = "vault/support.rs"]
mod support;

use support::{Backend, all_items, as_files, export, fixture, import, spawn};

fn result<'a>(response: &'a ImportItemsResponse, path: &str) -> &'a ImportFileResult {
    response
        .results
        .iter()
        .find(|result| result.path == path)
        .unwrap_or_else(|| panic!("no result for {path}"))
}

fn counts(response: &ImportItemsResponse) -> [i32; 5] {
    [
        response.created_count,
        response.updated_count,
        response.unchanged_count,
        response.skipped_count,
        response.failed_count,
    ]
}

/// Each item's content edges: (target, type), and its explicit links.
fn edges(item: &Item) -> (BTreeSet<(String, i32)>, Vec<String>) {
    let derived = item
        .derived_links
        .iter()
        .map(|link| (link.target.clone(), link.r#type))
        .collect();
    (derived, item.links.clone())
}

/// Everything a vault carries of an item (not owner, times, etag, revision, cursor).
fn client_view(item: &Item) -> Item {
    Item {
        name: item.name.clone(),
        title: item.title.clone(),
        content: item.content.clone(),
        kind: item.kind,
        status: item.status,
        verification: item.verification,
        human_notes: item.human_notes.clone(),
        confidence_score: item.confidence_score,
        confidence_computed: item.confidence_computed,
        source_uri: item.source_uri.clone(),
        tags: item.tags.clone(),
        links: item.links.clone(),
        derived_links: item.derived_links.clone(),
        summary: item.summary.clone(),
        metadata: item.metadata.clone(),
        folder: item.folder.clone(),
        folder_derived: item.folder_derived,
        visibility: item.visibility,
        ..Item::default()
    }
}

/// The exported files with the informational `created`/`modified` lines removed.
fn without_times(files: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(path, bytes)| {
            let text = String::from_utf8(bytes.clone()).expect("utf-8");
            let kept: Vec<&str> = text
                .split_inclusive('\n')
                .filter(|line| !line.starts_with("created: ") && !line.starts_with("modified: "))
                .collect();
            (path.clone(), kept.concat())
        })
        .collect()
}

async fn the_fixture_vault_imports_reimports_and_round_trips(backend: Backend) {
    let Some((app, _database)) = spawn(backend).await else {
        return;
    };
    let user = sign_up_and_in(&app, "vault").await;
    let token = user.access_token.as_str();
    let files = fixture();
    let first = import(&app, token, "fixture", &files).await;
    let paths: Vec<&str> = first.results.iter().map(|r| r.path.as_str()).collect();
    let sent: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(paths, sent, "one result per file, in order");
    assert_eq!(counts(&first), [8, 0, 0, 2, 1], "{:#?}", first.results);
    assert!(!first.feed_cursor.is_empty());

    let broken = result(&first, "Broken.md");
    assert_eq!(broken.outcome, Outcome::Failed as i32);
    assert!(
        broken.message.starts_with("malformed frontmatter at line "),
        "{}",
        broken.message
    );
    assert!(broken.item.is_empty());
    let image = result(&first, "attachments/Diagram.png");
    assert_eq!(
        (image.outcome, image.message.as_str()),
        (Outcome::Skipped as i32, "attachment (not a .md note)")
    );
    assert_eq!(
        result(&first, ".obsidian/app.json").outcome,
        Outcome::Skipped as i32
    );
    let unresolved = result(&first, "Unresolved.md");
    assert_eq!(unresolved.outcome, Outcome::Created as i32);
    assert_eq!(unresolved.message, "unresolved connections: [[Nowhere]]");

    let name = |path: &str| result(&first, path).item.clone();
    let home = name("Home.md");
    let ownership = name("Areas/Rust/Rust Ownership.md");
    let borrow = name("Areas/Rust/Borrow Checker.md");
    let pake = name("Projects/PAKE.md");
    let daily = name("Daily/Meeting Notes.md");
    let meeting = name("Projects/Meeting Notes.md");
    let cafe = name("Café ☕.md");
    let lonely = name("Unresolved.md");
    assert_eq!(pake, "items/pake-project", "pake_id names the item");

    let items = all_items(&app, token).await;
    assert_eq!(items.len(), 8);
    let item = |name: &str| items.get(name).unwrap_or_else(|| panic!("{name}")).clone();
    let project = item(&pake);
    assert_eq!(project.title, "PAKE");
    assert_eq!(
        (project.kind, project.status),
        (Kind::Project as i32, Status::Processing as i32)
    );
    assert_eq!(project.verification, Verification::Verified as i32);
    assert_eq!(project.visibility, Visibility::Internal as i32);
    assert_eq!(
        (project.confidence_score, project.confidence_computed),
        (Some(0.9), false)
    );
    assert_eq!(project.source_uri, "https://example.org/pake");
    assert_eq!(
        (project.summary.as_str(), project.human_notes.as_str()),
        ("A knowledge engine.", "Reviewed by Ada.")
    );
    assert_eq!(
        (project.folder.as_str(), project.folder_derived),
        ("Projects", false)
    );
    let borrow_item = item(&borrow);
    assert_eq!(
        borrow_item.title, "The Borrow Checker",
        "title from the first heading"
    );
    assert_eq!(borrow_item.tags, vec!["rust", "compiler"]);
    assert_eq!(item(&cafe).title, "Café ☕", "title from the file name");
    let home_item = item(&home);
    assert_eq!(
        (home_item.folder.as_str(), home_item.folder_derived),
        ("00-Inbox", true)
    );
    assert_eq!(
        home_item.tags,
        vec!["home", "start/here"],
        "body #tags, none from code"
    );
    assert!(
        item(&ownership).content.contains("\r\n"),
        "CRLF content kept as written"
    );

    // Every resolvable link resolved: wikilinks by title, alias, file name and path, headings,
    // embeds of notes (not of images), markdown links; duplicate titles go to the oldest.
    let wiki = LinkType::Wikilink as i32;
    let set = |pairs: &[(&str, i32)]| -> BTreeSet<(String, i32)> {
        pairs.iter().map(|(t, k)| ((*t).to_owned(), *k)).collect()
    };
    let expected = [
        (
            &home,
            set(&[
                (&ownership, wiki),
                (&borrow, wiki),
                (&pake, wiki),
                (&cafe, LinkType::Markdown as i32),
                (&daily, LinkType::Embed as i32),
            ]),
            vec![],
        ),
        (
            &ownership,
            set(&[(&borrow, wiki), (&pake, wiki)]),
            vec![borrow.clone()],
        ),
        (
            &borrow,
            set(&[(&ownership, wiki), (&home, LinkType::Markdown as i32)]),
            vec![],
        ),
        (
            &pake,
            set(&[(&daily, wiki), (&ownership, LinkType::Markdown as i32)]),
            vec![home.clone(), cafe.clone()],
        ),
        (&meeting, set(&[(&pake, wiki)]), vec![]),
        (&cafe, set(&[(&home, wiki)]), vec![]),
        (&lonely, set(&[]), vec![home.clone()]),
    ];
    for (name, derived, links) in expected {
        assert_eq!(edges(&item(name)), (derived, links), "{name}");
    }
    let backlinks = KnowledgeServiceClient::new(app.channel().await)
        .list_backlinks(authorized(
            token,
            ListBacklinksRequest {
                name: home.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("backlinks")
        .into_inner();
    let sources: BTreeSet<String> = backlinks
        .backlinks
        .iter()
        .filter_map(|b| b.source.as_ref())
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(
        sources,
        [&borrow, &cafe, &pake, &lonely]
            .into_iter()
            .cloned()
            .collect()
    );

    // Importing the unchanged vault again writes nothing: no revision, no feed event.
    let again = import(&app, token, "fixture", &files).await;
    assert_eq!(counts(&again), [0, 0, 8, 2, 1], "{:#?}", again.results);
    assert_eq!(again.feed_cursor, "", "nothing written");
    assert_eq!(
        result(&again, "Home.md").item,
        home,
        "matched by vault name and path"
    );
    let after = all_items(&app, token).await;
    for (name, before) in &items {
        let now = &after[name];
        assert_eq!(
            (&now.revision_id, &now.etag, now.update_time),
            (&before.revision_id, &before.etag, before.update_time),
            "{name}"
        );
    }
    let mut watch = KnowledgeServiceClient::new(app.channel().await)
        .watch_items(authorized(
            token,
            WatchItemsRequest {
                after_cursor: first.feed_cursor.clone(),
                heartbeat_interval: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("watch")
        .into_inner();
    let event = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("in time")
        .expect("ok")
        .expect("event");
    assert_eq!(
        (event.r#type, event.cursor.as_str()),
        (EventType::Heartbeat as i32, first.feed_cursor.as_str()),
        "no event after the first import"
    );
    drop(watch);

    // Export, then import the export into the same server: the same items, nothing written.
    let exported = export(&app, token, "").await.expect("export");
    let exported_paths: Vec<&str> = exported.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        exported_paths,
        [
            "00-Inbox/Café ☕.md",
            "00-Inbox/Home.md",
            "00-Inbox/Unresolved.md",
            "Areas/Rust/Rust Ownership.md",
            "Areas/Rust/The Borrow Checker.md",
            "Daily/Meeting Notes.md",
            "Projects/Meeting Notes.md",
            "Projects/PAKE.md",
        ]
    );
    let exported_files = as_files(&exported);
    let same = import(&app, token, "exported copy", &exported_files).await;
    assert_eq!(counts(&same), [0, 0, 8, 0, 0], "{:#?}", same.results);

    // … and into a fresh server: identical items and edges, and an identical export.
    let Some((fresh, _fresh_database)) = spawn(backend).await else {
        return;
    };
    let other = sign_up_and_in(&fresh, "copy").await;
    let copied = import(&fresh, &other.access_token, "exported", &exported_files).await;
    assert_eq!(counts(&copied), [8, 0, 0, 0, 0], "{:#?}", copied.results);
    let copies = all_items(&fresh, &other.access_token).await;
    let view =
        |items: &BTreeMap<String, Item>| -> Vec<Item> { items.values().map(client_view).collect() };
    assert_eq!(view(&copies), view(&after));
    let exported_again = export(&fresh, &other.access_token, "")
        .await
        .expect("export copy");
    assert_eq!(
        without_times(&as_files(&exported_again)),
        without_times(&exported_files)
    );
    fresh.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_vault_round_trips_on_sqlite() {
    the_fixture_vault_imports_reimports_and_round_trips(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_vault_round_trips_on_postgres() {
    the_fixture_vault_imports_reimports_and_round_trips(Backend::Postgres).await;
}
