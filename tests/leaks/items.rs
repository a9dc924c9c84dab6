//! CreateItem, GetItem, BatchGetItems, ListItems.

use pake_api::knowledge::{
    BatchGetItemsRequest, BatchGetItemsResponse, ListItemsRequest, ListItemsResponse,
};

use super::*;

pub async fn create_item(w: &World, phase: Phase, r: &mut Report) {
    if phase != Phase::Targeted {
        return;
    }
    let create = |item: Item, item_id: &str, request_id: &str| CreateItemRequest {
        item: Some(item),
        item_id: item_id.to_owned(),
        request_id: request_id.to_owned(),
    };
    let titled = |title: &str| Item {
        title: title.to_owned(),
        ..Item::default()
    };
    // An explicit link to an item A may not read fails like one to an absent item.
    let label = "CreateItem with item.links naming the item";
    let pairs = w.item_pairs();
    w.aim::<Item, _>(r, label, Code::InvalidArgument, &pairs, |id| {
        let links = vec![format!("items/{id}")];
        create(
            Item {
                links,
                ..titled("Links elsewhere")
            },
            "",
            "",
        )
    })
    .await;
    let (path, a) = (r.path(), w.a_token());
    // Content links by B's titles or names resolve to none of B's items.
    let content = format!(
        "[[{SECRET_TITLE}]] [[items/{}]] [[{DELETED_TITLE}]]",
        w.b_live
    );
    let linking = create(
        Item {
            content,
            ..titled("Second linker")
        },
        "",
        "",
    );
    let created = w.call::<Item>(&path, &a, &linking).await;
    r.scan("CreateItem linking B's titles", &show(&created));
    if !matches!(&created, Ok(text) if text.contains("derived_links: []")) {
        r.finding(format!(
            "links to B's title or name resolved: {}",
            show(&created)
        ));
    }
    // Request ids are per caller: B's does not replay B's item to A.
    let fresh = create(titled("Same request id"), "", SHARED_REQUEST_ID);
    let replayed = w.call::<Item>(&path, &a, &fresh).await;
    let mine = format!("owner: \"{}\"", w.a.name);
    if !matches!(&replayed, Ok(text) if text.contains(&mine) && !text.contains(&w.b_live)) {
        r.finding(format!(
            "reusing B's request_id gave A: {}",
            show(&replayed)
        ));
    }
    // Ids are global (documented): B's id is taken exactly like an id of A's own item.
    let a_id = w.a_target.name.trim_start_matches("items/");
    let on_b = w
        .call::<Item>(&path, &a, &create(titled("Take"), &w.b_live, ""))
        .await;
    let on_a = w
        .call::<Item>(&path, &a, &create(titled("Take"), a_id, ""))
        .await;
    if !pake_testkit::leak::same_answer(&on_b, &on_a, &w.b_live, a_id) {
        let (on_b, on_a) = (show(&on_b), show(&on_a));
        r.finding(format!("item_id of B's item: {on_b}\n  of A's own: {on_a}"));
    }
    r.note("item_id of another user's private item: ALREADY_EXISTS (documented: ids are global)");
}

pub async fn get_item(w: &World, phase: Phase, r: &mut Report) {
    let get = |name: String| GetItemRequest { name };
    if phase == Phase::Targeted {
        let pairs = w.item_pairs();
        let build = |id: &str| get(format!("items/{id}"));
        return w
            .aim::<Item, _>(r, "GetItem", Code::NotFound, &pairs, build)
            .await;
    }
    let requests = per_item(&w.a_items(), "GetItem", get);
    w.observe_all::<Item, _>(r, &requests).await;
}

pub async fn batch_get_items(w: &World, phase: Phase, r: &mut Report) {
    let batch = |names: Vec<String>| BatchGetItemsRequest {
        names,
        ..BatchGetItemsRequest::default()
    };
    let public = w.a_public.name.clone();
    if phase == Phase::Targeted {
        let (label, pairs) = ("BatchGetItems [public, the item]", w.item_pairs());
        let build = |id: &str| batch(vec![public.clone(), format!("items/{id}")]);
        w.aim::<BatchGetItemsResponse, _>(r, label, Code::NotFound, &pairs, build)
            .await;
        return;
    }
    let all = w.a_items().iter().map(|item| item.name.clone()).collect();
    let requests = [
        ("BatchGetItems of A's items".to_owned(), batch(all)),
        (
            "BatchGetItems of the public item".to_owned(),
            batch(vec![public]),
        ),
    ];
    w.observe_all::<BatchGetItemsResponse, _>(r, &requests)
        .await;
}

pub async fn list_items(w: &World, phase: Phase, r: &mut Report) {
    if phase == Phase::Targeted {
        return;
    }
    let mut requests = Vec::new();
    for filter in w.filters() {
        for show_deleted in [false, true] {
            let label = format!("ListItems {filter:?} show_deleted={show_deleted}");
            let list = ListItemsRequest {
                filter: filter.clone(),
                show_deleted,
                order_by: "title".into(),
                ..ListItemsRequest::default()
            };
            requests.push((label, list));
        }
    }
    w.observe_all::<ListItemsResponse, _>(r, &requests).await;
}
