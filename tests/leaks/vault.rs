//! ImportItems (client streaming) and ExportItems (server streaming).

use pake_api::knowledge::import_items_request::Payload;
use pake_api::knowledge::{
    ExportItemsRequest, ImportItemsRequest, ImportOptions, ListItemsRequest, VaultFile,
};
use pake_testkit::leak::drain;

use super::*;

async fn import(
    w: &World,
    token: &Option<String>,
    dry_run: bool,
    path: &str,
    text: &str,
) -> Answer {
    let options = ImportOptions {
        vault_name: format!("leak-probe-{dry_run}"),
        dry_run,
        ..ImportOptions::default()
    };
    let file = VaultFile {
        path: path.to_owned(),
        content: text.as_bytes().to_vec(),
    };
    let messages =
        [Payload::Options(options), Payload::File(file)].map(|payload| ImportItemsRequest {
            payload: Some(payload),
        });
    let stream = tonic::codegen::tokio_stream::iter(messages);
    answer(w.knowledge().import_items(request(token, stream)).await)
}

/// A vault file whose connections and links name B's titles and items.
fn linking_file(w: &World) -> String {
    let connections = format!(
        "  - \"[[{SECRET_TITLE}]]\"\n  - \"items/{}\"\n  - \"[[{DELETED_TITLE}]]\"\n",
        w.b_live
    );
    let body = format!("See [[{SECRET_TITLE}]] and [[items/{}]].", w.b_deleted);
    format!(
        "---\ntitle: Imported linker\nconnections:\n{connections}tags: [imported]\n---\n{body}\n"
    )
}

/// The outcome and message of an import's first file.
fn outcome(answer: &Answer) -> String {
    let text = show(answer);
    let start = text.find("outcome: ").unwrap_or(0);
    text[start..]
        .split(" }")
        .next()
        .unwrap_or_default()
        .to_owned()
}

pub async fn import_items(w: &World, phase: Phase, r: &mut Report) {
    let (path, file) = ("Imported linker.md", linking_file(w));
    if phase != Phase::Targeted {
        for (who, token) in w.callers() {
            let imported = import(w, &token, true, path, &file).await;
            noted_unimplemented(r, &imported);
            r.observe(format!("ImportItems dry run as {who}"), &imported);
        }
        return;
    }
    let a = w.a_token();
    let imported = import(w, &a, false, path, &file).await;
    if noted_unimplemented(r, &imported) {
        return;
    }
    r.scan("ImportItems", &show(&imported));
    // The imported item links to none of B's items.
    let list = ListItemsRequest {
        filter: "tag = \"imported\"".into(),
        ..ListItemsRequest::default()
    };
    let listed = show(&answer(w.knowledge().list_items(request(&a, list)).await));
    if !listed.contains("Imported linker") {
        r.finding(format!("the imported item is not listed: {listed}"));
    }
    for (id, _) in w.item_pairs() {
        if listed.contains(&format!("target: \"items/{id}"))
            || listed.contains(&format!("\"items/{id}\""))
        {
            r.finding(format!("the imported item links to B's {id}: {listed}"));
        }
    }
    // Claiming B's id with pake_id fails (documented: ids are global); the reason must not
    // describe B's item.
    for (id, absent) in w.item_pairs() {
        let claim = |id: &str| format!("---\npake_id: {id}\ntitle: Claim\n---\nbody\n");
        let on_b = import(w, &a, true, "Claim.md", &claim(&id)).await;
        let on_absent = import(w, &a, true, "Claim.md", &claim(&absent)).await;
        let text = show(&on_b);
        r.scan("ImportItems claiming B's id", &text);
        for private in [SECRET_TITLE, DELETED_TITLE, w.b.name.as_str()] {
            if text.contains(private) {
                r.finding(format!("claiming {id} reveals {private:?}: {text}"));
            }
        }
        let (on_b, on_absent) = (outcome(&on_b), outcome(&on_absent));
        r.note(format!(
            "pake_id of another user's private item: {on_b}; of an absent id: {on_absent} \
             (documented: ids are global)"
        ));
    }
}

pub async fn export_items(w: &World, phase: Phase, r: &mut Report) {
    if phase == Phase::Targeted {
        return;
    }
    for (who, token) in w.callers() {
        for filter in w.filters() {
            let export = ExportItemsRequest {
                filter: filter.clone(),
            };
            let started = w.knowledge().export_items(request(&token, export)).await;
            let files = drain(started, PATIENCE, |file| {
                let content = String::from_utf8_lossy(&file.content);
                format!("{} {} {content}", file.path, file.item)
            })
            .await;
            noted_unimplemented(r, &files);
            r.observe(format!("ExportItems {filter:?} as {who}"), &files);
        }
    }
}
