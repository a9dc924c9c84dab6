//! UpdateItem, DeleteItem, UndeleteItem, VerifyItem, PurgeItems, DisposeOwnerItems: aimed
//! at B's items they fail as on absent items (`run` checks that B's items are unchanged).

use pake_api::knowledge::dispose_owner_items_request::Disposition;
use pake_api::knowledge::{
    DisposeOwnerItemsRequest, DisposeOwnerItemsResponse, PurgeItemsRequest, PurgeItemsResponse,
    UndeleteItemRequest,
};

use super::*;

fn update(item: Item, path: &str) -> UpdateItemRequest {
    UpdateItemRequest {
        item: Some(item),
        update_mask: Some(mask(path)),
    }
}

pub async fn update_item(w: &World, phase: Phase, r: &mut Report) {
    if phase != Phase::Targeted {
        return;
    }
    let pairs = w.item_pairs();
    let named = |id: &str| Item {
        name: format!("items/{id}"),
        ..Item::default()
    };
    let label = "UpdateItem title";
    w.aim::<Item, _>(r, label, Code::NotFound, &pairs, |id| {
        update(
            Item {
                title: "Hijacked".into(),
                ..named(id)
            },
            "title",
        )
    })
    .await;
    let label = "UpdateItem visibility with B's current etag";
    w.aim::<Item, _>(r, label, Code::NotFound, &pairs, |id| {
        let visibility = Visibility::Public as i32;
        let etag = "\"3\"".to_owned();
        update(
            Item {
                visibility,
                etag,
                ..named(id)
            },
            "visibility",
        )
    })
    .await;
    let label = "UpdateItem of A's item with item.links naming the item";
    w.aim::<Item, _>(r, label, Code::InvalidArgument, &pairs, |id| {
        let links = vec![w.a_target.name.clone(), format!("items/{id}")];
        let name = w.a_linker.name.clone();
        update(
            Item {
                name,
                links,
                ..Item::default()
            },
            "links",
        )
    })
    .await;
}

pub async fn delete_item(w: &World, phase: Phase, r: &mut Report) {
    if phase != Phase::Targeted {
        return;
    }
    let pairs = w.item_pairs();
    w.aim::<Item, _>(r, "DeleteItem", Code::NotFound, &pairs, |id| {
        DeleteItemRequest {
            name: format!("items/{id}"),
            ..DeleteItemRequest::default()
        }
    })
    .await;
}

pub async fn undelete_item(w: &World, phase: Phase, r: &mut Report) {
    if phase != Phase::Targeted {
        return;
    }
    let pairs = w.item_pairs();
    w.aim::<Item, _>(r, "UndeleteItem", Code::NotFound, &pairs, |id| {
        UndeleteItemRequest {
            name: format!("items/{id}"),
            ..UndeleteItemRequest::default()
        }
    })
    .await;
}

pub async fn verify_item(w: &World, phase: Phase, r: &mut Report) {
    if phase != Phase::Targeted {
        return;
    }
    let pairs = w.item_pairs();
    w.aim::<Item, _>(r, "VerifyItem", Code::NotFound, &pairs, |id| {
        VerifyItemRequest {
            name: format!("items/{id}"),
            verification: Verification::Rejected as i32,
            human_notes: "overruled".into(),
            ..VerifyItemRequest::default()
        }
    })
    .await;
}

pub async fn purge_items(w: &World, phase: Phase, r: &mut Report) {
    let purge = |filter: String, force: bool| PurgeItemsRequest { filter, force };
    if phase != Phase::Targeted {
        let requests = [("PurgeItems * dry run".to_owned(), purge("*".into(), false))];
        return w.observe_all::<PurgeItemsResponse, _>(r, &requests).await;
    }
    let (label, pairs) = ("PurgeItems of the owner's items", w.user_pairs());
    let build = |id: &str| purge(format!("owner = \"users/{id}\""), true);
    w.aim::<PurgeItemsResponse, _>(r, label, Code::PermissionDenied, &pairs, build)
        .await;
}

pub async fn dispose_owner_items(w: &World, phase: Phase, r: &mut Report) {
    if phase != Phase::Targeted {
        return;
    }
    let pairs = w.user_pairs();
    let cases = [
        (Disposition::DeleteItems, String::new()),
        (Disposition::ReassignItems, w.a.name.clone()),
    ];
    for (disposition, new_owner) in cases {
        let label = format!("DisposeOwnerItems {disposition:?}");
        let build = |id: &str| DisposeOwnerItemsRequest {
            owner: format!("users/{id}"),
            disposition: disposition as i32,
            new_owner: new_owner.clone(),
        };
        let denied = Code::PermissionDenied;
        w.aim::<DisposeOwnerItemsResponse, _>(r, &label, denied, &pairs, build)
            .await;
    }
}
