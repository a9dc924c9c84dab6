//! The bounds of the link methods over real gRPC: graph depth and size limits (`truncated`),
//! soft-deleted items in graphs, backlink pages and their tokens, statistics in full (every
//! enum value, buckets, mean, filter) and the INVALID_ARGUMENT cases.

use pake_api::knowledge::item::{Kind, Status, Verification, Visibility};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    ConfidenceBuckets, CreateItemRequest, DeleteItemRequest, GetItemGraphRequest,
    GetItemStatsRequest, Item, ItemGraph, ListBacklinksRequest,
};
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app};
use tonic::Code;
use tonic::transport::Channel;

type Client = KnowledgeServiceClient<Channel>;

async fn client(app: &TestApp) -> Client {
    KnowledgeServiceClient::new(app.channel().await)
}

async fn create(client: &mut Client, token: &str, id: &str, item: Item) -> Item {
    let request = CreateItemRequest {
        item: Some(item),
        item_id: id.into(),
        ..Default::default()
    };
    client
        .create_item(authorized(token, request))
        .await
        .expect("create")
        .into_inner()
}

fn note(title: &str, content: &str) -> Item {
    Item {
        title: title.into(),
        content: content.into(),
        visibility: Visibility::Public as i32,
        ..Default::default()
    }
}

async fn graph(client: &mut Client, token: &str, id: &str, depth: i32, max: i32) -> ItemGraph {
    let request = GetItemGraphRequest {
        name: format!("items/{id}"),
        depth,
        max_nodes: max,
    };
    client
        .get_item_graph(authorized(token, request))
        .await
        .expect("graph")
        .into_inner()
}

fn nodes(graph: &ItemGraph) -> Vec<(&str, i32)> {
    graph
        .nodes
        .iter()
        .map(|node| {
            let name = node.item.as_ref().expect("item").name.as_str();
            (name.trim_start_matches("items/"), node.depth)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphs_are_bounded_by_depth_and_size() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = alice.access_token.as_str();
    let mut knowledge = client(&app).await;
    // A chain n0 -> n1 -> n2 -> n3 -> n4.
    for i in 0..5 {
        let content = format!("Next: [[N{}]]", i + 1);
        create(
            &mut knowledge,
            token,
            &format!("n{i}"),
            note(&format!("N{i}"), &content),
        )
        .await;
    }
    let one = graph(&mut knowledge, token, "n0", 0, 0).await;
    assert_eq!(nodes(&one), [("n0", 0), ("n1", 1)], "depth 0 means 1");
    assert_eq!(one.edges.len(), 1);
    assert_eq!(
        (one.edges[0].source.as_str(), one.edges[0].target.as_str()),
        ("items/n0", "items/n1")
    );
    let three = graph(&mut knowledge, token, "n0", 3, 0).await;
    assert_eq!(nodes(&three), [("n0", 0), ("n1", 1), ("n2", 2), ("n3", 3)]);
    assert_eq!((three.edges.len(), three.truncated), (3, false));
    let middle = graph(&mut knowledge, token, "n2", 2, 0).await;
    assert_eq!(
        nodes(&middle),
        [("n2", 0), ("n1", 1), ("n3", 1), ("n0", 2), ("n4", 2)],
        "both directions, then by depth and name"
    );
    let capped = graph(&mut knowledge, token, "n2", 2, 2).await;
    assert_eq!(nodes(&capped), [("n2", 0), ("n1", 1)]);
    assert!(capped.truncated);
    assert_eq!(capped.edges.len(), 1);

    // Soft-deleted items leave the graph; a deleted root still has its neighbourhood.
    let request = DeleteItemRequest {
        name: "items/n1".into(),
        etag: String::new(),
    };
    knowledge
        .delete_item(authorized(token, request))
        .await
        .expect("delete");
    let cut = graph(&mut knowledge, token, "n0", 3, 0).await;
    assert_eq!((nodes(&cut), cut.truncated), (vec![("n0", 0)], false));
    let deleted_root = graph(&mut knowledge, token, "n1", 1, 0).await;
    assert_eq!(nodes(&deleted_root), [("n1", 0), ("n2", 1)]);

    for (name, depth, max_nodes, field) in [
        ("items/n0", 4, 0, "depth"),
        ("items/n0", -1, 0, "depth"),
        ("items/n0", 1, -1, "max_nodes"),
        ("notes/n0", 1, 0, "name"),
    ] {
        let request = GetItemGraphRequest {
            name: name.into(),
            depth,
            max_nodes,
        };
        let status = knowledge
            .get_item_graph(authorized(token, request))
            .await
            .expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(field), "{status:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlinks_page_with_bound_tokens() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = alice.access_token.as_str();
    let mut knowledge = client(&app).await;
    create(&mut knowledge, token, "hub", note("Hub", "")).await;
    create(&mut knowledge, token, "other", note("Other", "")).await;
    for i in 0..5 {
        let item = Item {
            links: vec!["items/hub".into()],
            ..note(&format!("Linker {i}"), "[[Hub]] [[Other]]")
        };
        create(&mut knowledge, token, &format!("l{i}"), item).await;
    }
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListBacklinksRequest {
            name: "items/hub".into(),
            page_size: 2,
            page_token: page_token.clone(),
        };
        let page = knowledge
            .list_backlinks(authorized(token, request))
            .await
            .expect("page")
            .into_inner();
        assert_eq!(page.total_size, 5);
        assert!(page.backlinks.len() <= 2);
        for backlink in &page.backlinks {
            assert_eq!(
                backlink.types,
                [1, 4],
                "wikilink and explicit, in enum order"
            );
            seen.push(backlink.source.as_ref().expect("source").name.clone());
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
        // A token is bound to its item.
        let request = ListBacklinksRequest {
            name: "items/other".into(),
            page_size: 2,
            page_token: page_token.clone(),
        };
        let status = knowledge
            .list_backlinks(authorized(token, request))
            .await
            .expect_err("bound");
        assert_eq!(status.code(), Code::InvalidArgument);
    }
    let expected: Vec<String> = (0..5).rev().map(|i| format!("items/l{i}")).collect();
    assert_eq!(seen, expected, "most recently updated first, each once");

    for (page_size, page_token) in [(-1, ""), (0, "not-a-token")] {
        let request = ListBacklinksRequest {
            name: "items/hub".into(),
            page_size,
            page_token: page_token.into(),
        };
        let status = knowledge
            .list_backlinks(authorized(token, request))
            .await
            .expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_report_every_value_bucket_and_mean() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = alice.access_token.as_str();
    let mut knowledge = client(&app).await;
    let items = [
        ("a", Kind::Project, Status::Processing, 0.95),
        ("b", Kind::Project, Status::Draft, 0.7),
        ("c", Kind::Daily, Status::Draft, 0.29),
        ("d", Kind::Note, Status::Archived, 0.5),
    ];
    for (id, kind, status, score) in items {
        let item = Item {
            kind: kind as i32,
            status: status as i32,
            confidence_score: Some(score),
            ..note(&id.to_uppercase(), "[[A]]")
        };
        create(&mut knowledge, token, id, item).await;
    }
    let stats = |filter: &str| {
        let mut knowledge = knowledge.clone();
        let request = GetItemStatsRequest {
            filter: filter.into(),
        };
        async move {
            knowledge
                .get_item_stats(authorized(token, request))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let all = stats("").await.expect("stats");
    assert_eq!(all.total_count, 4);
    let kinds: Vec<(i32, i32)> = all.kind_counts.iter().map(|c| (c.kind, c.count)).collect();
    assert_eq!(kinds, [(1, 1), (2, 2), (3, 0), (4, 1), (5, 0)]);
    let statuses: Vec<(i32, i32)> = all
        .status_counts
        .iter()
        .map(|c| (c.status, c.count))
        .collect();
    assert_eq!(statuses, [(1, 2), (2, 1), (3, 0), (4, 1)]);
    let verifications: Vec<(i32, i32)> = all
        .verification_counts
        .iter()
        .map(|c| (c.verification, c.count))
        .collect();
    let pending = Verification::Pending as i32;
    assert_eq!(
        verifications,
        [(pending, 4), (pending + 1, 0), (pending + 2, 0)]
    );
    let expected_buckets = ConfidenceBuckets {
        very_high: 1,
        high: 1,
        medium: 1,
        low: 0,
        very_low: 1,
    };
    assert_eq!(all.confidence_buckets, Some(expected_buckets));
    let mean = all.average_confidence.expect("mean");
    assert!(
        (mean - (0.95 + 0.7 + 0.29 + 0.5) / 4.0).abs() < 1e-9,
        "{mean}"
    );
    let linked: Vec<(String, i32)> = all
        .most_linked
        .iter()
        .map(|l| {
            (
                l.item.as_ref().expect("item").name.clone(),
                l.backlink_count,
            )
        })
        .collect();
    assert_eq!(linked, [("items/a".to_owned(), 3)], "b, c and d link to A");
    let recent: Vec<&str> = all.most_recent.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(recent, ["items/d", "items/c", "items/b", "items/a"]);

    let projects = stats("kind = project").await.expect("stats");
    assert_eq!(projects.total_count, 2);
    let deleted = stats("delete_time > \"2000-01-01T00:00:00Z\"")
        .await
        .expect("stats");
    assert_eq!((deleted.total_count, deleted.average_confidence), (0, None));
    assert_eq!(deleted.kind_counts.len(), 5, "zero counts included");
    let status = stats("kind = ").await.expect_err("malformed");
    assert_eq!(status.code(), Code::InvalidArgument);
}
