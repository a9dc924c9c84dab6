//! GetItemStats, ListBacklinks, GetItemGraph, ListItemRevisions, GetItemRevision.

use pake_api::knowledge::{
    GetItemGraphRequest, GetItemRevisionRequest, GetItemStatsRequest, ItemGraph, ItemRevision,
    ItemStats, ItemView, ListBacklinksRequest, ListBacklinksResponse, ListItemRevisionsRequest,
    ListItemRevisionsResponse,
};

use super::*;

pub async fn get_item_stats(w: &World, phase: Phase, r: &mut Report) {
    if phase == Phase::Targeted {
        return;
    }
    let requests: Vec<_> = w
        .filters()
        .into_iter()
        .map(|filter| {
            (
                format!("GetItemStats {filter:?}"),
                GetItemStatsRequest { filter },
            )
        })
        .collect();
    w.observe_all::<ItemStats, _>(r, &requests).await;
}

pub async fn list_backlinks(w: &World, phase: Phase, r: &mut Report) {
    let backlinks = |name: String| ListBacklinksRequest {
        name,
        ..ListBacklinksRequest::default()
    };
    if phase == Phase::Targeted {
        let (pairs, label) = (w.item_pairs(), "ListBacklinks");
        let build = |id: &str| backlinks(format!("items/{id}"));
        return w
            .aim::<ListBacklinksResponse, _>(r, label, Code::NotFound, &pairs, build)
            .await;
    }
    let requests = per_item(&w.a_items(), "ListBacklinks", backlinks);
    w.observe_all::<ListBacklinksResponse, _>(r, &requests)
        .await;
}

pub async fn get_item_graph(w: &World, phase: Phase, r: &mut Report) {
    let graph = |name: String| GetItemGraphRequest {
        name,
        depth: 3,
        max_nodes: 0,
    };
    if phase == Phase::Targeted {
        let (pairs, label) = (w.item_pairs(), "GetItemGraph");
        let build = |id: &str| graph(format!("items/{id}"));
        return w
            .aim::<ItemGraph, _>(r, label, Code::NotFound, &pairs, build)
            .await;
    }
    let requests = per_item(&w.a_items(), "GetItemGraph", graph);
    w.observe_all::<ItemGraph, _>(r, &requests).await;
}

pub async fn list_item_revisions(w: &World, phase: Phase, r: &mut Report) {
    let revisions = |parent: String| ListItemRevisionsRequest {
        parent,
        view: ItemView::Full as i32,
        ..ListItemRevisionsRequest::default()
    };
    type Response = ListItemRevisionsResponse;
    if phase == Phase::Targeted {
        let (pairs, label) = (w.item_pairs(), "ListItemRevisions");
        let build = |id: &str| revisions(format!("items/{id}"));
        return w
            .aim::<Response, _>(r, label, Code::NotFound, &pairs, build)
            .await;
    }
    let requests = per_item(&w.a_items(), "ListItemRevisions", revisions);
    w.observe_all::<Response, _>(r, &requests).await;
}

pub async fn get_item_revision(w: &World, phase: Phase, r: &mut Report) {
    let revision = |name: String| GetItemRevisionRequest { name };
    if phase == Phase::Targeted {
        let pairs = w.item_pairs();
        for number in [1, 2, 9] {
            let label = format!("GetItemRevision {number}");
            let build = |id: &str| revision(format!("items/{id}/revisions/{number}"));
            w.aim::<ItemRevision, _>(r, &label, Code::NotFound, &pairs, build)
                .await;
        }
        return;
    }
    let build = |name: String| revision(format!("{name}/revisions/1"));
    let requests = per_item(&w.a_items(), "GetItemRevision 1", build);
    w.observe_all::<ItemRevision, _>(r, &requests).await;
}
