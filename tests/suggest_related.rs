//! Suggest and FindRelated end to end over real gRPC: completions and related items come only
//! from items the caller may read, and bad input is INVALID_ARGUMENT naming the field.

use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_api::search::search_service_client::SearchServiceClient;
use pake_api::search::{
    FindRelatedRequest, FindRelatedResponse, SuggestRequest, SuggestResponse, SuggestionType,
};
use pake_testkit::{TestApp, authorized, sign_up_and_in, spawn_app};
use tonic::Code;

async fn create(
    app: &TestApp,
    token: &str,
    title: &str,
    content: &str,
    tags: &[&str],
    visibility: Visibility,
) -> Item {
    KnowledgeServiceClient::new(app.channel().await)
        .create_item(authorized(
            token,
            CreateItemRequest {
                item: Some(Item {
                    title: title.to_owned(),
                    content: content.to_owned(),
                    tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                    visibility: visibility as i32,
                    ..Item::default()
                }),
                ..CreateItemRequest::default()
            },
        ))
        .await
        .expect("create")
        .into_inner()
}

async fn suggest(
    app: &TestApp,
    token: Option<&str>,
    request: SuggestRequest,
) -> Result<SuggestResponse, tonic::Status> {
    let request = match token {
        Some(token) => authorized(token, request),
        None => tonic::Request::new(request),
    };
    SearchServiceClient::new(app.channel().await)
        .suggest(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn related(
    app: &TestApp,
    token: Option<&str>,
    request: FindRelatedRequest,
) -> Result<FindRelatedResponse, tonic::Status> {
    let request = match token {
        Some(token) => authorized(token, request),
        None => tonic::Request::new(request),
    };
    SearchServiceClient::new(app.channel().await)
        .find_related(request)
        .await
        .map(tonic::Response::into_inner)
}

fn prefix(text: &str) -> SuggestRequest {
    SuggestRequest {
        prefix: text.to_owned(),
        ..SuggestRequest::default()
    }
}

fn related_to(item: &Item) -> FindRelatedRequest {
    FindRelatedRequest {
        name: item.name.clone(),
        min_cursor: item.feed_cursor.clone(),
        ..FindRelatedRequest::default()
    }
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let status = result.expect_err("must fail");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains(field),
        "message names `{field}`: {}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_and_related_items_come_only_from_readable_items() {
    let app = spawn_app().await;
    let alice = sign_up_and_in(&app, "sugalice").await;
    let bob = sign_up_and_in(&app, "sugbob").await;
    let a = alice.access_token.as_str();
    let b = bob.access_token.as_str();

    let source = create(
        &app,
        a,
        "Zephyr scheduler internals",
        "The zephyr scheduler steals work between worker threads.",
        &["zephyrology"],
        Visibility::Private,
    )
    .await;
    let shared = create(
        &app,
        b,
        "Work stealing with a zephyr scheduler",
        "How a zephyr scheduler balances worker threads.",
        &["zephyrus"],
        Visibility::Internal,
    )
    .await;
    let secret = create(
        &app,
        b,
        "Zephyr secret roadmap",
        "Zephyr scheduler worker threads steal work, privately.",
        &["zephyrsecret"],
        Visibility::Private,
    )
    .await;
    // Wait until the index has everything.
    related(&app, Some(a), related_to(&secret))
        .await
        .expect_err("bob's private item is not found for alice");

    // Suggest: alice sees her own and bob's internal items, never bob's private one.
    let mut request = prefix("zeph");
    request.limit = 50;
    let got = suggest(&app, Some(a), request.clone())
        .await
        .expect("suggest");
    let texts: Vec<&str> = got.suggestions.iter().map(|s| s.text.as_str()).collect();
    assert!(texts.contains(&"Zephyr scheduler internals"), "{texts:?}");
    assert!(texts.contains(&"zephyrology"), "{texts:?}");
    assert!(texts.contains(&"zephyrus"), "{texts:?}");
    assert!(
        texts.contains(&"Work stealing with a zephyr scheduler"),
        "{texts:?}"
    );
    assert!(!texts.contains(&"Zephyr secret roadmap"), "{texts:?}");
    assert!(!texts.contains(&"zephyrsecret"), "{texts:?}");
    // Tags first, then titles matching at the start, then titles matching at a later word.
    let kinds: Vec<i32> = got.suggestions.iter().map(|s| s.r#type).collect();
    assert_eq!(kinds[0], SuggestionType::Tag as i32);
    assert_eq!(
        texts.last(),
        Some(&"Work stealing with a zephyr scheduler"),
        "{texts:?}"
    );
    let title = got
        .suggestions
        .iter()
        .find(|s| s.text == "Zephyr scheduler internals")
        .expect("own title");
    assert_eq!(title.item, source.name);
    assert_eq!(title.item_count, 0);
    let range = title.highlight.expect("highlight");
    assert_eq!((range.start_offset, range.end_offset), (0, 4));
    let tag = got
        .suggestions
        .iter()
        .find(|s| s.text == "zephyrus")
        .expect("tag");
    assert_eq!(tag.item_count, 1);
    assert!(tag.item.is_empty());

    // Bob sees his private item; an anonymous caller sees none of these (none is public).
    let got = suggest(&app, Some(b), request.clone())
        .await
        .expect("suggest");
    assert!(
        got.suggestions
            .iter()
            .any(|s| s.text == "Zephyr secret roadmap")
    );
    assert!(
        !got.suggestions
            .iter()
            .any(|s| s.text == "Zephyr scheduler internals")
    );
    let got = suggest(&app, None, request.clone()).await.expect("suggest");
    assert!(got.suggestions.is_empty(), "{:?}", got.suggestions);

    // Multi-word prefix and type selection.
    let mut titles = prefix("zephyr sched");
    titles.types = vec![SuggestionType::Title as i32];
    let got = suggest(&app, Some(a), titles).await.expect("suggest");
    let texts: Vec<&str> = got.suggestions.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "Zephyr scheduler internals",
            "Work stealing with a zephyr scheduler"
        ]
    );
    let range = got.suggestions[1].highlight.expect("highlight");
    assert_eq!((range.start_offset, range.end_offset), (21, 33));

    // FindRelated: alice's item relates to bob's internal one, never to his private one, and
    // never to itself.
    let got = related(&app, Some(a), related_to(&source))
        .await
        .expect("related");
    let names: Vec<&str> = got.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec![shared.name.as_str()]);
    assert!(got.results[0].score > 0.0);
    assert!(!got.results[0].snippet_highlights.is_empty());
    assert!(got.applied_cursor >= source.feed_cursor);
    // Bob cannot read alice's private item: NOT_FOUND, exactly like an absent item.
    let status = related(&app, Some(b), related_to(&source))
        .await
        .expect_err("unreadable");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let absent = FindRelatedRequest {
        name: "items/does-not-exist".to_owned(),
        ..FindRelatedRequest::default()
    };
    let status = related(&app, Some(b), absent).await.expect_err("absent");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // Bob's related items for his internal item include his private one but not alice's.
    let got = related(&app, Some(b), related_to(&shared))
        .await
        .expect("related");
    let names: Vec<&str> = got.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec![secret.name.as_str()]);
    // Alice, for the same item: only her own.
    let got = related(&app, Some(a), related_to(&shared))
        .await
        .expect("related");
    let names: Vec<&str> = got.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec![source.name.as_str()]);
    // Paging: one result per page, the token bound to the item.
    let mut paged = related_to(&shared);
    paged.page_size = 1;
    let got = related(&app, Some(b), paged.clone()).await.expect("page");
    assert_eq!(got.results.len(), 1);
    assert!(got.next_page_token.is_empty(), "bob has one related item");
    let mut one = related_to(&source);
    one.page_size = 1;
    let first = related(&app, Some(a), one).await.expect("page");
    assert!(first.next_page_token.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_invalid_argument_naming_the_field() {
    let app = spawn_app().await;
    let user = sign_up_and_in(&app, "sugbad").await;
    let t = Some(user.access_token.as_str());

    assert_invalid(suggest(&app, t, prefix("")).await, "prefix");
    assert_invalid(suggest(&app, t, prefix("   ")).await, "prefix");
    assert_invalid(suggest(&app, t, prefix(&"a".repeat(257))).await, "prefix");
    let mut request = prefix("ok");
    request.limit = -1;
    assert_invalid(suggest(&app, t, request).await, "limit");
    let mut request = prefix("ok");
    request.types = vec![SuggestionType::Unspecified as i32];
    assert_invalid(suggest(&app, t, request).await, "types[0]");
    let mut request = prefix("ok");
    request.types = vec![SuggestionType::Tag as i32, SuggestionType::Tag as i32];
    assert_invalid(suggest(&app, t, request).await, "types[1]");
    suggest(&app, t, prefix(&"a".repeat(256)))
        .await
        .expect("256 bytes is allowed");

    let item = create(
        &app,
        &user.access_token,
        "Paging target",
        "Some text",
        &[],
        Visibility::Private,
    )
    .await;
    for name in ["", "item/x", "items/", "items/UPPER", "users/x"] {
        let request = FindRelatedRequest {
            name: name.to_owned(),
            ..FindRelatedRequest::default()
        };
        assert_invalid(related(&app, t, request).await, "name");
    }
    let mut request = related_to(&item);
    request.page_size = -1;
    assert_invalid(related(&app, t, request).await, "page_size");
    let mut request = related_to(&item);
    request.page_token = "garbage!".to_owned();
    assert_invalid(related(&app, t, request).await, "page_token");
    let mut request = related_to(&item);
    request.min_cursor = "not a cursor".to_owned();
    assert_invalid(related(&app, t, request).await, "min_cursor");

    // A page token is bound to its source item.
    let token = user.access_token.as_str();
    let first = create(
        &app,
        token,
        "Paging kestrel",
        "kestrel falcon",
        &[],
        Visibility::Private,
    )
    .await;
    let second = create(
        &app,
        token,
        "Paging kestrel two",
        "kestrel falcon",
        &[],
        Visibility::Private,
    )
    .await;
    let mut request = related_to(&second);
    request.page_size = 1;
    let page = related(&app, t, request).await.expect("first page");
    assert_eq!(page.results.len(), 1);
    assert!(!page.next_page_token.is_empty(), "two related items");
    let mut next = related_to(&second);
    next.page_size = 1;
    next.page_token = page.next_page_token.clone();
    let page2 = related(&app, t, next).await.expect("second page");
    assert_eq!(page2.results.len(), 1);
    assert_ne!(page2.results[0].name, page.results[0].name);
    let mut other = related_to(&first);
    other.page_token = page.next_page_token;
    assert_invalid(related(&app, t, other).await, "page_token");
}
