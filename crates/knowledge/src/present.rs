//! Items as a reader sees them: `links` without the items the reader may not read (or that are
//! soft-deleted or purged), and `derived_links` resolved from the stored content links, again
//! only to live items the reader may read, never to the item itself. Applied to every item a
//! response carries; the stored item keeps every link.

use std::collections::{HashMap, HashSet};

use pake_api::knowledge::{Item, ItemLink, LinkType};
use pake_core::Error;
use pake_core::auth::Caller;

use crate::links::MAX_LINKS;
use crate::service::KnowledgeService;
use crate::store::{Link, ReadScope};

/// How much of the link fields to fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Links {
    /// Filter `links` and resolve `derived_links` (the current version of an item).
    Full,
    /// Only filter `links` (a stored version: a revision or a feed event, whose content may no
    /// longer be the item's), leaving `derived_links` empty.
    ExplicitOnly,
}

impl KnowledgeService {
    /// `items` as `caller` sees them (see the module comment).
    pub(crate) async fn present(
        &self,
        caller: &Caller,
        items: &mut [Item],
        links: Links,
    ) -> Result<(), Error> {
        let needed = |item: &Item| {
            !item.links.is_empty() || (links == Links::Full && !item.content.is_empty())
        };
        let mut ids: Vec<String> = items
            .iter()
            .filter(|item| needed(item))
            .map(|item| id_of(item).to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        let mut by_source: HashMap<String, Vec<Link>> = HashMap::new();
        if !ids.is_empty() {
            let scope = ReadScope::of(caller);
            for link in self.store.links_from(&scope, &ids).await? {
                by_source
                    .entry(link.source_id.clone())
                    .or_default()
                    .push(link);
            }
        }
        for item in items.iter_mut() {
            item.expire_time = item
                .delete_time
                .map(|deleted| self.retention.expire_time(deleted));
            let stored = by_source.get(id_of(item)).map_or(&[][..], Vec::as_slice);
            let readable: HashSet<&str> = stored
                .iter()
                .filter(|link| link.link_type == LinkType::Explicit)
                .map(|link| link.target_id.as_str())
                .collect();
            item.links
                .retain(|name| readable.contains(name.trim_start_matches("items/")));
            item.derived_links = match links {
                Links::Full => derived(id_of(item), stored),
                Links::ExplicitOnly => Vec::new(),
            };
        }
        Ok(())
    }

    /// One item as `caller` sees it.
    pub(crate) async fn present_one(&self, caller: &Caller, item: Item) -> Result<Item, Error> {
        let mut items = [item];
        self.present(caller, &mut items, Links::Full).await?;
        let [item] = items;
        Ok(item)
    }
}

fn id_of(item: &Item) -> &str {
    item.name.trim_start_matches("items/")
}

/// The content links of `stored` (the readable links of item `id`, in order): each (target,
/// type) once with the text of its first occurrence, no link to the item itself.
fn derived(id: &str, stored: &[Link]) -> Vec<ItemLink> {
    let mut seen = HashSet::new();
    stored
        .iter()
        .filter(|link| link.link_type != LinkType::Explicit && link.target_id != id)
        .filter(|link| seen.insert((link.target_id.as_str(), link.link_type)))
        .take(MAX_LINKS)
        .map(|link| ItemLink {
            target: format!("items/{}", link.target_id),
            r#type: link.link_type as i32,
            text: link.text.clone(),
        })
        .collect()
}
