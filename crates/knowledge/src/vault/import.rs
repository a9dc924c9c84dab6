//! ImportItems: receive the whole stream, plan (`plan.rs`), resolve connections
//! (`connections.rs`), then write each file in its own transaction.
//!
//! A matched item is compared with what the file maps to before anything is written: when no
//! field would change the file is UNCHANGED and nothing is written (no revision, no feed event),
//! so importing an unchanged vault again writes nothing at all.

use pake_api::knowledge::import_file_result::Outcome;
use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::{ImportItemsRequest, ImportItemsResponse, Item};
use pake_core::auth::{Caller, Principal};
use pake_core::{Error, ErrorKind};
use pake_runtime::db::{now_micros, timestamp};
use tonic::{Status, Streaming};

use super::connections::{self, Index};
use super::note::describe;
use super::plan::{self, Match, Plan, Planned, result};
use super::receive::receive;
use crate::model;
use crate::service::{KnowledgeService, etag};
use crate::store::{Created, ReadScope, Replaced, StoreError};

/// What writing one file did: its outcome, item name, message and the feed cursor of the write.
struct Applied {
    outcome: Outcome,
    item: String,
    cursor: Option<String>,
    message: String,
}

impl Applied {
    fn done(outcome: Outcome, item: &str, cursor: Option<String>) -> Applied {
        Applied {
            outcome,
            item: item.to_owned(),
            cursor,
            message: String::new(),
        }
    }

    fn failed(message: impl Into<String>) -> Applied {
        Applied {
            outcome: Outcome::Failed,
            item: String::new(),
            cursor: None,
            message: message.into(),
        }
    }
}

impl KnowledgeService {
    pub(crate) async fn import_items(
        &self,
        caller: &Caller,
        mut stream: Streaming<ImportItemsRequest>,
    ) -> Result<ImportItemsResponse, Status> {
        let principal = match caller {
            Caller::Authenticated(principal) => principal,
            Caller::Anonymous => {
                return Err(Error::unauthenticated("authorization: required").into());
            }
        };
        if !principal.can_create_items() {
            return Err(
                Error::permission_denied("importing needs the editor or admin role").into(),
            );
        }
        let upload = receive(&mut stream).await?;
        let dry_run = upload.options.dry_run;
        let mut plan = plan::plan(&*self.store, principal, &upload).await?;

        let mut index = Index::default();
        for planned in &plan.planned {
            index.add(planned.id(), &planned.path, &planned.note.item);
        }
        let scope = ReadScope::of(caller);
        let mut resolved = Vec::with_capacity(plan.planned.len());
        for planned in &plan.planned {
            resolved.push(self.resolve(&index, &scope, principal, planned).await?);
        }

        let mut claimed_meanwhile = std::collections::HashSet::new();
        if !dry_run {
            claimed_meanwhile = self
                .record(principal, &upload.options.vault_name, &plan)
                .await?;
        }

        let default_visibility = match Visibility::try_from(upload.options.visibility) {
            Ok(Visibility::Unspecified) | Err(_) => Visibility::Private,
            Ok(visibility) => visibility,
        };
        let mut feed_cursor = String::new();
        for (planned, (links, unresolved)) in plan.planned.iter().zip(resolved) {
            if self.shutdown.is_triggered() {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    "the server is shutting down; import again to finish (files already imported are matched, not duplicated)",
                )
                .into());
            }
            let mut applied = if claimed_meanwhile.contains(&planned.index) {
                Applied::failed(
                    "another import of this vault took this path meanwhile; import again",
                )
            } else {
                self.apply(principal, planned, links, default_visibility, dry_run)
                    .await?
            };
            if let Some(cursor) = applied.cursor.take() {
                feed_cursor = cursor;
            }
            if !unresolved.is_empty() {
                let separator = if applied.message.is_empty() { "" } else { "; " };
                applied.message = format!(
                    "{}{separator}unresolved connections: {}",
                    applied.message,
                    unresolved.join(", ")
                );
            }
            plan.results[planned.index] = Some(result(
                &planned.path,
                applied.outcome,
                &applied.item,
                &applied.message,
            ));
        }

        let results: Vec<_> = plan.results.into_iter().flatten().collect();
        let count = |outcome: Outcome| {
            let counted = results
                .iter()
                .filter(|r| r.outcome == outcome as i32)
                .count();
            i32::try_from(counted).unwrap_or(i32::MAX)
        };
        Ok(ImportItemsResponse {
            created_count: count(Outcome::Created),
            updated_count: count(Outcome::Updated),
            unchanged_count: count(Outcome::Unchanged),
            skipped_count: count(Outcome::Skipped),
            failed_count: count(Outcome::Failed),
            results,
            feed_cursor,
        })
    }

    /// Records which item each planned file is (before any item is written: see ADR 11) and
    /// returns the files whose new path another import of the vault recorded first.
    async fn record(
        &self,
        principal: &Principal,
        vault_name: &str,
        plan: &Plan,
    ) -> Result<std::collections::HashSet<usize>, Error> {
        let (mut added, mut replaced) = (Vec::new(), Vec::new());
        for planned in &plan.planned {
            let row = (planned.path.clone(), planned.id().to_owned());
            match plan.recorded.get(&planned.path) {
                None => added.push(row),
                Some(id) if id != planned.id() => replaced.push(row),
                Some(_) => {}
            }
        }
        if added.is_empty() && replaced.is_empty() {
            return Ok(std::collections::HashSet::new());
        }
        let subject = principal.subject.as_str();
        self.store
            .record_vault_files(subject, vault_name, &added, &replaced)
            .await?;
        if added.is_empty() {
            return Ok(std::collections::HashSet::new());
        }
        let now = self.store.vault_files(subject, vault_name).await?;
        Ok(plan
            .planned
            .iter()
            .filter(|planned| now.get(&planned.path).map(String::as_str) != Some(planned.id()))
            .map(|planned| planned.index)
            .collect())
    }

    /// The explicit links a file's `connections` name (this import's files first, then the items
    /// the caller may read), and the connections that named nothing.
    async fn resolve(
        &self,
        index: &Index,
        scope: &ReadScope,
        principal: &Principal,
        planned: &Planned,
    ) -> Result<(Vec<String>, Vec<String>), Error> {
        let mut links: Vec<String> = Vec::new();
        let mut unresolved = Vec::new();
        for entry in &planned.note.connections {
            let Some(target) = connections::target(entry) else {
                unresolved.push(format!("`{entry}`"));
                continue;
            };
            let id = match index.resolve(&target) {
                Some(id) => Some(id.to_owned()),
                None => {
                    self.store
                        .resolve_keys(scope, &principal.subject, &target.store_keys())
                        .await?
                }
            };
            match id {
                Some(id) => {
                    let name = format!("items/{id}");
                    if !links.contains(&name) {
                        links.push(name);
                    }
                }
                None => unresolved.push(format!("[[{}]]", target.written)),
            }
        }
        Ok((links, unresolved))
    }

    /// Creates, updates or leaves the file's item as it is (a dry run only decides which).
    async fn apply(
        &self,
        principal: &Principal,
        planned: &Planned,
        links: Vec<String>,
        default_visibility: Visibility,
        dry_run: bool,
    ) -> Result<Applied, Error> {
        let mut next = planned.note.item.clone();
        next.links = links;
        let current = match &planned.target {
            Match::Existing(current) => Some(current.as_ref()),
            Match::New { .. } => None,
        };
        if next.visibility == Visibility::Unspecified as i32 {
            next.visibility = current.map_or(default_visibility as i32, |item| item.visibility);
        }
        if let Err(error) = model::validate_and_complete(&mut next) {
            return Ok(Applied::failed(describe(&error)));
        }
        let name = format!("items/{}", planned.id());
        let Some(current) = current else {
            let shown = matches!(planned.target, Match::New { shown: true, .. });
            if dry_run {
                return Ok(Applied::done(
                    Outcome::Created,
                    if shown { &name } else { "" },
                    None,
                ));
            }
            return Ok(match self.import_create(principal, &name, next).await {
                Ok(item) => Applied::done(Outcome::Created, &name, Some(item.feed_cursor)),
                Err(StoreError::AlreadyExists) => Applied::failed(format!(
                    "{name} was created by another request meanwhile; import again"
                )),
                Err(error) => return Err(error.into()),
            });
        };
        if same(current, &next) {
            return Ok(Applied::done(Outcome::Unchanged, &name, None));
        }
        if dry_run {
            return Ok(Applied::done(Outcome::Updated, &name, None));
        }
        let revision: i64 = current.revision_id.parse().unwrap_or(1);
        next.name = current.name.clone();
        next.owner = current.owner.clone();
        next.create_time = current.create_time;
        next.update_time = Some(timestamp(now_micros()));
        next.revision_id = (revision + 1).to_string();
        next.etag = etag(revision + 1);
        Ok(
            match self
                .store
                .replace(next, revision, "updated", &principal.subject)
                .await?
            {
                Replaced::Done(item) => {
                    self.notify(&item.feed_cursor);
                    Applied::done(Outcome::Updated, &name, Some(item.feed_cursor))
                }
                Replaced::Conflict | Replaced::Missing => {
                    Applied::failed(format!("{name} changed while importing; import again"))
                }
            },
        )
    }

    async fn import_create(
        &self,
        principal: &Principal,
        name: &str,
        mut item: Item,
    ) -> Result<Item, StoreError> {
        let now = now_micros();
        item.name = name.to_owned();
        item.owner = principal.subject.clone();
        item.create_time = Some(timestamp(now));
        item.update_time = Some(timestamp(now));
        item.etag = etag(1);
        item.revision_id = "1".to_owned();
        match self.store.create(item, &principal.subject, None).await? {
            Created::New(item) | Created::Replayed(item) => {
                self.notify(&item.feed_cursor);
                Ok(item)
            }
        }
    }

    fn notify(&self, cursor: &str) {
        if let Ok(position) = crate::feed::decode_cursor(cursor, "feed_cursor") {
            self.feed.notify(position);
        }
    }
}

/// Whether `next` (a file's item, completed) has the values `current` has in every field an
/// import sets. A missing and an empty `metadata` are the same.
fn same(current: &Item, next: &Item) -> bool {
    fn fields(item: &Item) -> impl PartialEq + '_ {
        let metadata = item.metadata.as_ref().filter(|m| !m.fields.is_empty());
        (
            (
                &item.title,
                &item.content,
                item.kind,
                item.status,
                item.verification,
            ),
            (
                &item.human_notes,
                item.confidence_score.map(f64::to_bits),
                item.confidence_computed,
            ),
            (
                &item.source_uri,
                &item.tags,
                &item.links,
                &item.summary,
                metadata,
            ),
            (&item.folder, item.folder_derived, item.visibility),
        )
    }
    fields(current) == fields(next)
}
