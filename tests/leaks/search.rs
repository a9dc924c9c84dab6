//! Search, Suggest, FindRelated, GetIndexStatus.

use pake_api::search::{
    FacetField, FindRelatedRequest, FindRelatedResponse, GetIndexStatusRequest, IndexStatus,
    SearchResponse, SearchResult, SuggestRequest, SuggestResponse,
};

use super::*;

const SEARCH: &str = "/pake.search.v1.SearchService/Search";

/// Takes the scores and the ranking out of `results` (BM25 statistics span the whole
/// index, so a score — and with it the order of two results — may move whenever any item
/// is written: ADR 10's accepted side channel) and returns them apart, as a note; what stays
/// behind, compared strictly, is which results there are and what they say, by name.
fn split_scores(results: &mut [SearchResult]) -> String {
    let score = |result: &mut SearchResult| std::mem::take(&mut result.score);
    let scores: Vec<String> = results
        .iter_mut()
        .map(|result| format!("{}={:.4}", result.name.clone(), score(result)))
        .collect();
    results.sort_by(|a, b| a.name.cmp(&b.name));
    scores.join(" ")
}

pub async fn search(w: &World, phase: Phase, r: &mut Report) {
    if phase == Phase::Targeted {
        return score_oracle(w, r).await;
    }
    w.wait_indexed().await;
    let facets = [FacetField::Tag, FacetField::Kind, FacetField::Status].map(|f| f as i32);
    let queries = [
        "zyzzyva",
        SECRET_TITLE,
        "\"secret plan\"",
        "quokka",
        "quokka protocol gardens",
        "marmalade",
        "tag:zyzzyva-secret",
        "gardens",
        "zyzz",
        "zyzzyvaa",
        "plan",
        "",
        "-alpha",
    ];
    for (who, token) in w.callers() {
        for query in queries {
            let search = SearchRequest {
                query: query.to_owned(),
                facets: facets.to_vec(),
                ..SearchRequest::default()
            };
            let label = format!("Search {query:?} as {who}");
            let found = w
                .call_typed::<SearchResponse>(SEARCH, &token, &search)
                .await;
            let found = found.map(|mut response| {
                response.applied_cursor.clear();
                let scores = split_scores(&mut response.results);
                r.observe_soft(format!("scores of {label}"), scores);
                format!("{response:?}")
            });
            r.observe(label, &found);
        }
    }
}

/// Whether relevance scores tell A that an item it may not read holds a word: A's items
/// identical but for one word, which B's private item also holds ("quokka") or nobody else
/// does (the two others, whose scores must agree for the comparison to mean anything).
async fn score_oracle(w: &World, r: &mut Report) {
    let (a, words) = (w.a_token(), ["quokka", "vexillum", "gnomonic"]);
    let mut cursor = String::new();
    for word in words {
        let item = Item {
            title: "Oracle".into(),
            content: word.into(),
            ..Item::default()
        };
        let create = request(
            &a,
            CreateItemRequest {
                item: Some(item),
                ..Default::default()
            },
        );
        let created = w.knowledge().create_item(create).await;
        cursor = created
            .expect("A creates an oracle item")
            .into_inner()
            .feed_cursor;
    }
    let mut scores = Vec::new();
    for word in words {
        let search = SearchRequest {
            query: format!("{word} "),
            min_cursor: cursor.clone(),
            ..SearchRequest::default()
        };
        let found = w.call_typed::<SearchResponse>(SEARCH, &a, &search).await;
        let found = found.expect("search").results;
        scores.push(
            found
                .iter()
                .find(|found| found.title == "Oracle")
                .map(|found| found.score),
        );
    }
    if scores[1] != scores[2] {
        r.finding(format!("the score oracle's control words score {scores:?}"));
    } else if scores[0] != scores[1] {
        r.note(format!(
            "SIDE CHANNEL: A's one-word item scores {:?} for \"quokka\" (also in B's private \
             item) but {:?} for \"vexillum\" (only in A's): BM25 statistics count items the \
             caller may not read",
            scores[0], scores[1]
        ));
    }
}

pub async fn suggest(w: &World, phase: Phase, r: &mut Report) {
    if phase == Phase::Targeted {
        return;
    }
    w.wait_indexed().await;
    let prefixes = [
        "zyz",
        "Zyzzyva Sec",
        "secret",
        "quok",
        "zyzzyva-s",
        "al",
        "ga",
        "pl",
    ];
    let requests: Vec<_> = prefixes
        .into_iter()
        .map(|prefix| {
            let suggest = SuggestRequest {
                prefix: prefix.to_owned(),
                limit: 50,
                ..SuggestRequest::default()
            };
            (format!("Suggest {prefix:?}"), suggest)
        })
        .collect();
    w.observe_all::<SuggestResponse, _>(r, &requests).await;
}

pub async fn find_related(w: &World, phase: Phase, r: &mut Report) {
    let head = w.head();
    let related = |name: String| FindRelatedRequest {
        name,
        page_size: 100,
        min_cursor: head.clone(),
        ..FindRelatedRequest::default()
    };
    if phase == Phase::Targeted {
        let (pairs, label) = (w.item_pairs(), "FindRelated");
        let build = |id: &str| related(format!("items/{id}"));
        return w
            .aim::<FindRelatedResponse, _>(r, label, Code::NotFound, &pairs, build)
            .await;
    }
    let path = r.path();
    for (who, token) in w.callers() {
        for (what, find) in per_item(&w.a_items(), "FindRelated", related) {
            let label = format!("{what} as {who}");
            let found = w
                .call_typed::<FindRelatedResponse>(&path, &token, &find)
                .await;
            let found = found.map(|mut response| {
                response.applied_cursor.clear();
                let scores = split_scores(&mut response.results);
                r.observe_soft(format!("scores of {label}"), scores);
                format!("{response:?}")
            });
            r.observe(label, &found);
        }
    }
}

pub async fn get_index_status(w: &World, phase: Phase, r: &mut Report) {
    let path = r.path();
    for (who, token) in w.callers() {
        let status = w
            .call::<IndexStatus>(&path, &token, &GetIndexStatusRequest {})
            .await;
        let expected = match token {
            Some(_) => Code::PermissionDenied,
            None => Code::Unauthenticated,
        };
        if !matches!(&status, Err(error) if error.code() == expected) {
            r.finding(format!("GetIndexStatus as {who}: {}", show(&status)));
        }
        if phase != Phase::Targeted {
            r.observe(format!("GetIndexStatus as {who}"), &status);
        }
    }
}
