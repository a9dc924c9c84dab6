//! ListBacklinks and GetItemGraph. Both start from an item the caller may read (NOT_FOUND
//! otherwise) and only ever see links whose other end is a live item the caller may read: the
//! store applies the caller's read scope to every link end it returns, so an unreadable item is
//! never a backlink, a node, an edge or part of a count.

use std::collections::{BTreeSet, HashMap};

use pake_api::knowledge::{
    Backlink, GetItemGraphRequest, GraphEdge, GraphNode, ItemGraph, ItemSummary,
    ListBacklinksRequest, ListBacklinksResponse,
};
use pake_core::Error;
use pake_core::auth::Caller;

use crate::list::{decode_bound_token, digest, encode_page_token};
use crate::model::item_id_from_name;
use crate::order::Order;
use crate::service::KnowledgeService;
use crate::store::ReadScope;

const DEFAULT_PAGE_SIZE: i32 = 50;
const MAX_PAGE_SIZE: i32 = 1000;
const MAX_DEPTH: i32 = 3;
const DEFAULT_MAX_NODES: i32 = 100;
const MAX_NODES: i32 = 500;
/// Edges returned at most, per allowed node.
const EDGES_PER_NODE: usize = 10;

impl KnowledgeService {
    pub(crate) async fn list_backlinks(
        &self,
        caller: &Caller,
        request: ListBacklinksRequest,
    ) -> Result<ListBacklinksResponse, Error> {
        if request.page_size < 0 {
            return Err(Error::invalid_field("page_size", "must not be negative"));
        }
        let page_size = usize::try_from(match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        })
        .unwrap_or(1);
        let target = self.get_item(caller, &request.name).await?;
        let id = item_id_from_name(&target.name, "name")?.to_owned();
        let subject = match caller {
            Caller::Authenticated(principal) => principal.subject.as_str(),
            Caller::Anonymous => "",
        };
        let binding = digest(&[
            b"pake.knowledge.v1.ListBacklinks",
            subject.as_bytes(),
            id.as_bytes(),
        ]);
        let order = Order::default();
        let after = if request.page_token.is_empty() {
            None
        } else {
            Some(decode_bound_token(
                &request.page_token,
                &binding,
                &order,
                "ListBacklinks",
                "item or caller",
            )?)
        };
        let scope = ReadScope::of(caller);
        let limit = i64::try_from(page_size).unwrap_or(i64::MAX) + 1;
        let mut page = self
            .store
            .backlinks(&scope, &id, after.as_ref(), limit)
            .await?;
        let more = page.len() > page_size;
        page.truncate(page_size);
        let next_page_token = match page.last() {
            Some(last) if more => encode_page_token(&binding, &last.position),
            _ => String::new(),
        };
        let total = self.store.count_backlinks(&scope, &id).await?;
        Ok(ListBacklinksResponse {
            backlinks: page
                .into_iter()
                .map(|backlink| Backlink {
                    source: Some(backlink.source),
                    types: backlink.types.into_iter().map(|t| t as i32).collect(),
                })
                .collect(),
            next_page_token,
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }

    pub(crate) async fn get_item_graph(
        &self,
        caller: &Caller,
        request: GetItemGraphRequest,
    ) -> Result<ItemGraph, Error> {
        item_id_from_name(&request.name, "name")?;
        let depth = match request.depth {
            0 => 1,
            depth @ 1..=MAX_DEPTH => depth,
            _ => return Err(Error::invalid_field("depth", "must be 1 to 3 (0 means 1)")),
        };
        if request.max_nodes < 0 {
            return Err(Error::invalid_field("max_nodes", "must not be negative"));
        }
        let max_nodes = usize::try_from(match request.max_nodes {
            0 => DEFAULT_MAX_NODES,
            nodes => nodes.min(MAX_NODES),
        })
        .unwrap_or(1);
        let root = self.get_item(caller, &request.name).await?;
        let root_id = item_id_from_name(&root.name, "name")?.to_owned();
        let scope = ReadScope::of(caller);

        // Breadth first, one depth at a time; a depth that does not fit is cut by name.
        let mut depth_of: HashMap<String, i32> = HashMap::from([(root_id.clone(), 0)]);
        let mut frontier = vec![root_id.clone()];
        let mut truncated = false;
        for level in 1..=depth {
            if frontier.is_empty() {
                break;
            }
            let outgoing = self.store.links_from(&scope, &frontier).await?;
            let incoming = self.store.links_to(&scope, &frontier).await?;
            let found: BTreeSet<String> = outgoing
                .into_iter()
                .map(|link| link.target_id)
                .chain(incoming.into_iter().map(|link| link.source_id))
                .filter(|id| !depth_of.contains_key(id))
                .collect();
            let room = max_nodes.saturating_sub(depth_of.len());
            if found.len() > room {
                truncated = true;
            }
            frontier = found.into_iter().take(room).collect();
            for id in &frontier {
                depth_of.insert(id.clone(), level);
            }
            if truncated {
                break;
            }
        }

        let ids: Vec<String> = depth_of.keys().cloned().collect();
        let mut edges: Vec<GraphEdge> = self
            .store
            .links_among(&ids)
            .await?
            .into_iter()
            .filter(|link| link.source_id != link.target_id)
            .map(|link| GraphEdge {
                source: format!("items/{}", link.source_id),
                target: format!("items/{}", link.target_id),
                r#type: link.link_type as i32,
            })
            .collect();
        edges.sort_by(|a, b| {
            (&a.source, &a.target, a.r#type).cmp(&(&b.source, &b.target, b.r#type))
        });
        edges.dedup();
        let max_edges = max_nodes * EDGES_PER_NODE;
        if edges.len() > max_edges {
            truncated = true;
            edges.truncate(max_edges);
        }

        let mut summaries: HashMap<String, ItemSummary> = self
            .store
            .summaries(&ids)
            .await?
            .into_iter()
            .map(|summary| (summary.name.clone(), summary))
            .collect();
        let mut nodes: Vec<(i32, String)> = depth_of
            .into_iter()
            .map(|(id, depth)| (depth, format!("items/{id}")))
            .collect();
        nodes.sort();
        Ok(ItemGraph {
            nodes: nodes
                .into_iter()
                .filter_map(|(depth, name)| {
                    summaries.remove(&name).map(|summary| GraphNode {
                        item: Some(summary),
                        depth,
                    })
                })
                .collect(),
            edges,
            truncated,
        })
    }
}
