//! Links, backlinks, the item graph and statistics over real gRPC: links in content resolve by
//! title, alias, file name and item name (embeds of notes too, attachments not), and another
//! user's private item never shows up in backlinks, graphs, statistics or link lists.

use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    CreateItemRequest, DeleteItemRequest, GetItemGraphRequest, GetItemRequest, GetItemStatsRequest,
    Item, ItemGraph, ItemLink, ItemStats, LinkType, ListBacklinksRequest, ListBacklinksResponse,
    UpdateItemRequest,
};
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app};
use prost_types::{FieldMask, ListValue, Struct, Value, value::Kind as ValueKind};
use tonic::Code;
use tonic::transport::Channel;

type Client = KnowledgeServiceClient<Channel>;

async fn client(app: &TestApp) -> Client {
    KnowledgeServiceClient::new(app.channel().await)
}

fn note(title: &str, content: &str, visibility: Visibility) -> Item {
    Item {
        title: title.into(),
        content: content.into(),
        visibility: visibility as i32,
        ..Default::default()
    }
}

async fn create(client: &mut Client, token: &str, item: Item) -> Item {
    let request = CreateItemRequest {
        item: Some(item),
        ..Default::default()
    };
    client
        .create_item(authorized(token, request))
        .await
        .expect("create")
        .into_inner()
}

async fn get(client: &mut Client, token: &str, name: &str) -> Item {
    let request = GetItemRequest { name: name.into() };
    client
        .get_item(authorized(token, request))
        .await
        .expect("get")
        .into_inner()
}

async fn backlinks(client: &mut Client, token: &str, name: &str) -> ListBacklinksResponse {
    let request = ListBacklinksRequest {
        name: name.into(),
        ..Default::default()
    };
    client
        .list_backlinks(authorized(token, request))
        .await
        .expect("backlinks")
        .into_inner()
}

async fn graph(client: &mut Client, token: &str, name: &str, depth: i32, max: i32) -> ItemGraph {
    let request = GetItemGraphRequest {
        name: name.into(),
        depth,
        max_nodes: max,
    };
    client
        .get_item_graph(authorized(token, request))
        .await
        .expect("graph")
        .into_inner()
}

async fn stats(client: &mut Client, token: &str, filter: &str) -> ItemStats {
    let request = GetItemStatsRequest {
        filter: filter.into(),
    };
    client
        .get_item_stats(authorized(token, request))
        .await
        .expect("stats")
        .into_inner()
}

fn links(item: &Item) -> Vec<(String, LinkType, String)> {
    item.derived_links
        .iter()
        .map(
            |ItemLink {
                 target,
                 r#type,
                 text,
             }| {
                (
                    target.clone(),
                    LinkType::try_from(*r#type).expect("type"),
                    text.clone(),
                )
            },
        )
        .collect()
}

fn names(graph: &ItemGraph) -> Vec<(String, i32)> {
    graph
        .nodes
        .iter()
        .map(|node| (node.item.as_ref().expect("item").name.clone(), node.depth))
        .collect()
}

fn sources(response: &ListBacklinksResponse) -> Vec<String> {
    response
        .backlinks
        .iter()
        .map(|b| b.source.as_ref().expect("source").name.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_links_resolve_by_title_alias_file_name_and_name() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let token = alice.access_token.as_str();
    let mut knowledge = client(&app).await;
    let private = Visibility::Private;

    let book = create(&mut knowledge, token, note("Rust Book", "", private)).await;
    let odd = create(&mut knowledge, token, note("Q&A: Why", "", private)).await;
    let mut aliased = note("Tokio Runtime", "", private);
    let alias = |name: &str| Value {
        kind: Some(ValueKind::StringValue(name.into())),
    };
    aliased.metadata = Some(Struct {
        fields: [(
            "aliases".to_owned(),
            Value {
                kind: Some(ValueKind::ListValue(ListValue {
                    values: vec![alias("tokio")],
                })),
            },
        )]
        .into(),
    });
    let aliased = create(&mut knowledge, token, aliased).await;
    let content = format!(
        "Read [[rust book#Ownership|the book]], [[Q&A- Why]] and [[TOKIO]].\n\
         ![[Rust Book]] ![[diagram.png]] [again](Rust%20Book.md) [[{}]]\n\
         [[Not Yet Written]] `[[Rust Book]]`\n",
        aliased.name
    );
    let source = create(
        &mut knowledge,
        token,
        note("Reading list", &content, private),
    )
    .await;
    let expected = vec![
        (
            book.name.clone(),
            LinkType::Wikilink,
            "rust book#Ownership".to_owned(),
        ),
        (odd.name.clone(), LinkType::Wikilink, "Q&A- Why".to_owned()),
        (aliased.name.clone(), LinkType::Wikilink, "TOKIO".to_owned()),
        (book.name.clone(), LinkType::Embed, "Rust Book".to_owned()),
        (
            book.name.clone(),
            LinkType::Markdown,
            "Rust Book.md".to_owned(),
        ),
    ];
    assert_eq!(
        links(&source),
        expected,
        "by title, file name, alias; embeds; markdown"
    );
    assert_eq!(
        links(&get(&mut knowledge, token, &source.name).await),
        expected
    );

    // `[[Not Yet Written]]` resolves as soon as such an item exists; `[[items/…]]` by name
    // (deduplicated with the alias link to the same item).
    let later = create(&mut knowledge, token, note("not yet written", "", private)).await;
    let now = links(&get(&mut knowledge, token, &source.name).await);
    assert_eq!(now.len(), 6, "{now:?}");
    assert_eq!(
        now[5],
        (
            later.name.clone(),
            LinkType::Wikilink,
            "Not Yet Written".to_owned()
        )
    );

    let backlinks = backlinks(&mut knowledge, token, &book.name).await;
    assert_eq!(sources(&backlinks), vec![source.name.clone()]);
    let types = &backlinks.backlinks[0].types;
    let expected_types = [LinkType::Wikilink, LinkType::Embed, LinkType::Markdown];
    assert_eq!(*types, expected_types.map(|t| t as i32));

    // Deleting the target hides the link; the graph from the source shows every target.
    let request = DeleteItemRequest {
        name: later.name.clone(),
        etag: String::new(),
    };
    knowledge
        .delete_item(authorized(token, request))
        .await
        .expect("delete");
    assert_eq!(
        links(&get(&mut knowledge, token, &source.name).await),
        expected
    );
    let graph = graph(&mut knowledge, token, &source.name, 1, 0).await;
    assert_eq!(graph.nodes.len(), 4, "source, book, odd, aliased");
    assert!(!graph.truncated);
    assert_eq!(graph.edges.len(), 5, "one per (source, target, type)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_private_items_never_show_up() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "alice").await;
    let bob = sign_up_and_in(&app, "bob").await;
    let (a, b) = (alice.access_token.as_str(), bob.access_token.as_str());
    let mut knowledge = client(&app).await;
    use Visibility::{Private, Public};

    let hub = create(&mut knowledge, a, note("Hub", "", Public)).await;
    let fan = create(&mut knowledge, a, note("Fan", "[[Hub]]", Private)).await;
    // Bob's private note links to alice's hub; bob's public note links to his private secret.
    let secret = create(
        &mut knowledge,
        b,
        note("Secret Plan", "[[Hub]] ![[Hub]]", Private),
    )
    .await;
    let mut shown = note("Bob Public", "See [[Secret Plan]] and [[Hub]].", Public);
    shown.links = vec![secret.name.clone()];
    let shown = create(&mut knowledge, b, shown).await;
    // Alice links to a title only bob's private note has: it stays unresolved for her.
    let guess = create(&mut knowledge, a, note("Guess", "[[Secret Plan]]", Public)).await;
    assert!(guess.derived_links.is_empty());

    // Backlinks of the hub: bob's secret is listed and counted only for bob.
    let for_alice = backlinks(&mut knowledge, a, &hub.name).await;
    assert_eq!(sources(&for_alice), [shown.name.clone(), fan.name.clone()]);
    assert_eq!(for_alice.total_size, 2);
    let for_bob = backlinks(&mut knowledge, b, &hub.name).await;
    assert_eq!(sources(&for_bob), [shown.name.clone(), secret.name.clone()]);
    assert_eq!(for_bob.total_size, 2);

    // Bob's public note as alice reads it: no link to the secret, explicit or derived.
    let read = get(&mut knowledge, a, &shown.name).await;
    assert!(read.links.is_empty(), "{:?}", read.links);
    assert_eq!(
        links(&read),
        [(hub.name.clone(), LinkType::Wikilink, "Hub".to_owned())]
    );
    let read = get(&mut knowledge, b, &shown.name).await;
    assert_eq!(read.links, vec![secret.name.clone()]);
    assert_eq!(links(&read).len(), 2);

    // Graphs: the secret is neither a node nor an edge for alice, at any depth.
    for root in [&hub.name, &shown.name] {
        let graph = graph(&mut knowledge, a, root, 3, 0).await;
        let all = format!("{graph:?}");
        assert!(!all.contains(&secret.name), "{all}");
        assert!(!graph.truncated);
    }
    let full = graph(&mut knowledge, a, &hub.name, 2, 0).await;
    let mut expected = vec![
        (hub.name.clone(), 0),
        (fan.name.clone(), 1),
        (shown.name.clone(), 1),
    ];
    expected[1..].sort();
    assert_eq!(names(&full), expected);
    let bobs = graph(&mut knowledge, b, &hub.name, 1, 0).await;
    assert!(names(&bobs).contains(&(secret.name.clone(), 1)));
    // The secret itself is NOT_FOUND for alice, in every link method.
    let request = GetItemGraphRequest {
        name: secret.name.clone(),
        ..Default::default()
    };
    let code = knowledge
        .get_item_graph(authorized(a, request))
        .await
        .expect_err("hidden")
        .code();
    assert_eq!(code, Code::NotFound);
    let request = ListBacklinksRequest {
        name: secret.name.clone(),
        ..Default::default()
    };
    let code = knowledge
        .list_backlinks(authorized(a, request))
        .await
        .expect_err("hidden")
        .code();
    assert_eq!(code, Code::NotFound);

    // Statistics: alice counts hub, fan, shown and guess; the hub's backlinks from the secret
    // do not count, and the secret is not "most linked" for her.
    let seen = stats(&mut knowledge, a, "").await;
    assert_eq!(seen.total_count, 4);
    let ranked: Vec<(String, i32)> = seen
        .most_linked
        .iter()
        .map(|l| {
            (
                l.item.as_ref().expect("item").name.clone(),
                l.backlink_count,
            )
        })
        .collect();
    assert_eq!(ranked, [(hub.name.clone(), 2)]);
    assert!(!format!("{seen:?}").contains(&secret.name));
    let bobs = stats(&mut knowledge, b, "").await;
    assert_eq!(bobs.total_count, 4, "hub, shown, guess and his secret");
    assert_eq!(
        bobs.most_linked.len(),
        2,
        "hub (shown, secret) and secret (shown)"
    );
    let anonymous = knowledge
        .get_item_stats(tonic::Request::new(GetItemStatsRequest::default()))
        .await
        .expect("anonymous stats")
        .into_inner();
    assert_eq!(anonymous.total_count, 3, "public: hub, shown, guess");

    // Making the secret public reveals it (and its links) at once; narrowing hides it again.
    let widen = |visibility: Visibility| UpdateItemRequest {
        item: Some(Item {
            name: secret.name.clone(),
            visibility: visibility as i32,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["visibility".into()],
        }),
    };
    knowledge
        .update_item(authorized(b, widen(Public)))
        .await
        .expect("widen");
    assert_eq!(backlinks(&mut knowledge, a, &hub.name).await.total_size, 3);
    let guess = get(&mut knowledge, a, &guess.name).await;
    assert_eq!(
        links(&guess)[0].0,
        secret.name,
        "resolves once alice may read it"
    );
    knowledge
        .update_item(authorized(b, widen(Private)))
        .await
        .expect("narrow");
    assert_eq!(backlinks(&mut knowledge, a, &hub.name).await.total_size, 2);
    assert!(
        get(&mut knowledge, a, &guess.name)
            .await
            .derived_links
            .is_empty()
    );
}
