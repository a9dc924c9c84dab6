//! No method lets a caller learn of another user's private item (SPEC §2: "Reading something
//! you may not read is NOT_FOUND, indistinguishable from absent"; docs/knowledge.md, "Who may
//! read and write").
//!
//! The methods come from the descriptor set: every method of KnowledgeService and SearchService
//! needs an entry in [`PROBES`], so a new RPC fails this suite until it has a probe.
//!
//! User A probes; user B owns a private item and a soft-deleted private one, with a distinctive
//! title, content, summary, notes and tag. A's items mention B's title and names in links; B's
//! items link to A's items. Each probe, as A and as an anonymous caller,
//! - observes the method before B writes anything and again after: the answers must be identical
//!   (no result, count, link, facet, suggestion, graph node, feed event or export file may
//!   change) and none may hold B's secret words;
//! - aims the method at B's items by name and at absent names of the same shape: the answers
//!   must be identical once the names are swapped (code, message, details). For writes that is
//!   the NOT_FOUND of an absent item, and B's items are unchanged afterwards.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use pake_api::knowledge::item::{Verification, Visibility};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    CreateItemRequest, DeleteItemRequest, GetItemRequest, Item, ItemEvent, UpdateItemRequest,
    VerifyItemRequest,
};
use pake_api::search::SearchRequest;
use pake_core::config::{SecretString, ServiceRole};
use pake_testkit::leak::{Answer, Report, answer, call_unary, request, show, twin};
use pake_testkit::{SignedIn, TestApp, authorized, sign_up_and_in, spawn_app_with};
use prost::Message;
use prost_reflect::DescriptorPool;
use tonic::codec::Streaming;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// B's secret item's title (A's content mentions it in wikilinks).
const SECRET_TITLE: &str = "Zyzzyva Secret Plan";
/// B's soft-deleted item's title.
const DELETED_TITLE: &str = "Zyzzyva Deleted Draft";
/// B's tag.
const SECRET_TAG: &str = "zyzzyva-secret";
/// Text only B's items hold: an answer to A or an anonymous caller that contains one leaked.
const SECRET_MARKERS: &[&str] = &["quokka", SECRET_TAG, "marmalade"];
/// The `request_id` B creates its item with (request ids are per caller).
const SHARED_REQUEST_ID: &str = "zyzzyva-request-1";
/// Bound of every wait.
const PATIENCE: Duration = Duration::from_secs(60);

/// When a probe runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before B has written anything: record what A and anonymous callers see.
    Before,
    /// After B wrote its items: the same observations, which must not have changed.
    After,
    /// Calls aimed at B's items, compared with the same calls aimed at absent items.
    Targeted,
}

type ProbeFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;
type Probe = for<'a> fn(&'a World, Phase, &'a mut Report) -> ProbeFuture<'a>;

macro_rules! probe_table {
    ($($method:literal => $probe:path),+ $(,)?) => {
        /// Full method name → its probe. Must list exactly the methods of the descriptor set.
        const PROBES: &[(&str, Probe)] = &[$(($method, |world, phase, report| {
            Box::pin($probe(world, phase, report))
        })),+];
    };
}

probe_table! {
    "pake.knowledge.v1.KnowledgeService.CreateItem" => items::create_item,
    "pake.knowledge.v1.KnowledgeService.GetItem" => items::get_item,
    "pake.knowledge.v1.KnowledgeService.BatchGetItems" => items::batch_get_items,
    "pake.knowledge.v1.KnowledgeService.ListItems" => items::list_items,
    "pake.knowledge.v1.KnowledgeService.UpdateItem" => writes::update_item,
    "pake.knowledge.v1.KnowledgeService.DeleteItem" => writes::delete_item,
    "pake.knowledge.v1.KnowledgeService.UndeleteItem" => writes::undelete_item,
    "pake.knowledge.v1.KnowledgeService.PurgeItems" => writes::purge_items,
    "pake.knowledge.v1.KnowledgeService.DisposeOwnerItems" => writes::dispose_owner_items,
    "pake.knowledge.v1.KnowledgeService.VerifyItem" => writes::verify_item,
    "pake.knowledge.v1.KnowledgeService.GetItemStats" => links::get_item_stats,
    "pake.knowledge.v1.KnowledgeService.ListBacklinks" => links::list_backlinks,
    "pake.knowledge.v1.KnowledgeService.GetItemGraph" => links::get_item_graph,
    "pake.knowledge.v1.KnowledgeService.ListItemRevisions" => links::list_item_revisions,
    "pake.knowledge.v1.KnowledgeService.GetItemRevision" => links::get_item_revision,
    "pake.knowledge.v1.KnowledgeService.ImportItems" => vault::import_items,
    "pake.knowledge.v1.KnowledgeService.ExportItems" => vault::export_items,
    "pake.knowledge.v1.KnowledgeService.WatchItems" => feed::watch_items,
    "pake.search.v1.SearchService.Search" => search::search,
    "pake.search.v1.SearchService.Suggest" => search::suggest,
    "pake.search.v1.SearchService.FindRelated" => search::find_related,
    "pake.search.v1.SearchService.GetIndexStatus" => search::get_index_status,
}

/// The methods this suite must probe: every method of the knowledge and search services.
fn contract_methods() -> BTreeSet<String> {
    let pool = DescriptorPool::decode(pake_api::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let services = [
        pake_api::service_names::KNOWLEDGE,
        pake_api::service_names::SEARCH,
    ];
    let mut methods = BTreeSet::new();
    for name in services {
        let service = pool
            .get_service_by_name(name)
            .expect("service in descriptor set");
        methods.extend(
            service
                .methods()
                .map(|method| method.full_name().to_owned()),
        );
    }
    methods
}

#[test]
fn every_knowledge_and_search_method_has_a_probe() {
    let probed: BTreeSet<String> = PROBES.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(PROBES.len(), probed.len(), "a method is listed twice");
    let methods = contract_methods();
    let missing: Vec<_> = methods.difference(&probed).collect();
    let stale: Vec<_> = probed.difference(&methods).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "methods without a probe: {missing:?}; probes of methods that do not exist: {stale:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_method_reveals_another_users_private_item_on_sqlite() {
    let app = spawn_app_with(ServiceRole::All, |_| {}).await;
    run(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_method_reveals_another_users_private_item_on_postgres() {
    let Some(database) = pake_testkit::postgres_database().await else {
        return;
    };
    let url = pake_testkit::feed::postgres_url(&database).await;
    let app = spawn_app_with(ServiceRole::All, |config| {
        config.database_url = Some(SecretString::new(url));
    })
    .await;
    run(app).await;
    drop(database);
}

/// Runs every probe in the three phases and fails with every finding.
async fn run(app: TestApp) {
    every_knowledge_and_search_method_has_a_probe();
    let world = World::create(app).await;
    let (mut findings, mut notes, mut earlier) = (Vec::new(), Vec::new(), Vec::new());
    for (method, probe) in PROBES {
        let mut report = Report::new(method, "before B wrote", SECRET_MARKERS);
        probe(&world, Phase::Before, &mut report).await;
        earlier.push(report);
    }
    world.b_writes_its_private_items().await;
    for ((method, probe), before) in PROBES.iter().zip(&earlier) {
        let mut report = Report::new(method, "after B wrote", SECRET_MARKERS);
        probe(&world, Phase::After, &mut report).await;
        report.compare_with(before);
        findings.append(&mut report.findings);
        notes.append(&mut report.notes);
    }
    for (method, probe) in PROBES {
        let mut report = Report::new(method, "aimed at B's items", SECRET_MARKERS);
        probe(&world, Phase::Targeted, &mut report).await;
        world.b_items_unchanged(&mut report).await;
        findings.append(&mut report.findings);
        notes.append(&mut report.notes);
    }
    world.app.stop().await;
    for note in notes.iter().collect::<BTreeSet<_>>() {
        eprintln!("note: {note}");
    }
    let count = findings.len();
    assert!(count == 0, "{count} finding(s):\n{}", findings.join("\n\n"));
}

/// The server, the two users and their items.
struct World {
    app: TestApp,
    channel: Channel,
    a: SignedIn,
    b: SignedIn,
    /// A's internal item; B's items link to it.
    a_target: Item,
    /// A's private item whose content links to B's title and names.
    a_linker: Item,
    /// A's public item (what anonymous callers see); B's items link to it.
    a_public: Item,
    /// B's live private item's id, chosen (unguessably) before it exists.
    b_live: String,
    /// B's soft-deleted private item's id.
    b_deleted: String,
    /// The newest feed cursor of A's and B's setup writes.
    head: Mutex<String>,
    /// B's items as B read them after writing them.
    b_items: Mutex<Vec<String>>,
    /// A's change feed, opened before B wrote, and the head cursor it started at.
    feed: tokio::sync::Mutex<Option<(Streaming<ItemEvent>, String)>>,
}

impl World {
    /// Starts the world with A's items (B has none yet).
    async fn create(app: TestApp) -> World {
        let channel = app.channel().await;
        let a = sign_up_and_in(&app, "prober").await;
        let b = sign_up_and_in(&app, "owner").await;
        let b_live = pake_testkit::feed::random_item_id();
        let b_deleted = pake_testkit::feed::random_item_id();
        let mut client = KnowledgeServiceClient::new(channel.clone());
        let mut create = async |item: Item| {
            let request = CreateItemRequest {
                item: Some(item),
                ..CreateItemRequest::default()
            };
            let created = client
                .create_item(authorized(&a.access_token, request))
                .await;
            created.expect("A creates an item").into_inner()
        };
        let a_target = create(Item {
            title: "Alpha note".into(),
            content: "Alpha content about gardens and zyzzyva weevils.".into(),
            tags: vec!["alpha".into()],
            visibility: Visibility::Internal as i32,
            ..Item::default()
        })
        .await;
        let a_public = create(Item {
            title: "Public alpha".into(),
            content: "Public words about gardens. See [[Alpha note]].".into(),
            tags: vec!["alpha".into()],
            visibility: Visibility::Public as i32,
            ..Item::default()
        })
        .await;
        let a_linker = create(Item {
            title: "Alpha linker".into(),
            content: format!(
                "See [[{SECRET_TITLE}]], [[{SECRET_TITLE}#Part|the plan]], [[items/{b_live}]], \
                 [[items/{b_deleted}]], ![[{SECRET_TITLE}]], [[{DELETED_TITLE}]], \
                 [plan](Zyzzyva%20Secret%20Plan.md) and [[Alpha note]]. The zyzzyva is a \
                 weevil of gardens."
            ),
            tags: vec!["alpha".into(), "linker".into()],
            links: vec![a_target.name.clone()],
            ..Item::default()
        })
        .await;
        World {
            head: Mutex::new(a_linker.feed_cursor.clone()),
            app,
            channel,
            a,
            b,
            a_target,
            a_linker,
            a_public,
            b_live,
            b_deleted,
            b_items: Mutex::new(Vec::new()),
            feed: tokio::sync::Mutex::new(None),
        }
    }

    /// B creates, updates and verifies its private item, and creates and deletes another.
    async fn b_writes_its_private_items(&self) {
        let mut client = self.knowledge();
        let token = self.b.access_token.as_str();
        let secret = Item {
            title: SECRET_TITLE.into(),
            content: format!(
                "# Plan\nThe quokka protocol for gardens. See [[Alpha note]], [[Public alpha]] \
                 and [[{}]].",
                self.a_linker.name
            ),
            summary: "quokka summary with marmalade".into(),
            source_uri: "https://example.org/quokka".into(),
            tags: vec![SECRET_TAG.into(), "alpha".into()],
            links: vec![self.a_target.name.clone(), self.a_public.name.clone()],
            visibility: Visibility::Private as i32,
            ..Item::default()
        };
        let create = |id: &str, item: Item, request_id: &str| CreateItemRequest {
            item: Some(item),
            item_id: id.to_owned(),
            request_id: request_id.to_owned(),
        };
        let request = create(&self.b_live, secret.clone(), SHARED_REQUEST_ID);
        let created = client.create_item(authorized(token, request)).await;
        let live = created.expect("B creates its item").into_inner();
        let content = format!("{}\nMore quokka details.", secret.content);
        let update = UpdateItemRequest {
            item: Some(Item {
                name: live.name.clone(),
                content,
                ..Item::default()
            }),
            update_mask: Some(mask("content")),
        };
        let updated = client.update_item(authorized(token, update)).await;
        updated.expect("B updates its item");
        let verify = VerifyItemRequest {
            name: live.name.clone(),
            verification: Verification::Verified as i32,
            human_notes: "quokka reviewed, marmalade approved".into(),
            ..VerifyItemRequest::default()
        };
        let verified = client.verify_item(authorized(token, verify)).await;
        verified.expect("B verifies its item");
        let doomed = Item {
            title: DELETED_TITLE.into(),
            content: "quokka draft about gardens".into(),
            ..secret
        };
        let request = create(&self.b_deleted, doomed, "");
        let created = client.create_item(authorized(token, request)).await;
        created.expect("B creates its second item");
        let delete = DeleteItemRequest {
            name: format!("items/{}", self.b_deleted),
            ..DeleteItemRequest::default()
        };
        let deleted = client.delete_item(authorized(token, delete)).await;
        let deleted = deleted.expect("B deletes its second item").into_inner();
        *self.head.lock().expect("head") = deleted.feed_cursor;
        let items = self.b_view().await;
        *self.b_items.lock().expect("b items") = items;
    }

    /// B's items as B reads them.
    async fn b_view(&self) -> Vec<String> {
        let mut items = Vec::new();
        for id in [&self.b_live, &self.b_deleted] {
            let name = format!("items/{id}");
            let get = authorized(&self.b.access_token, GetItemRequest { name });
            items.push(show(&answer(self.knowledge().get_item(get).await)));
        }
        items
    }

    /// After a targeted probe: B's items are as B left them.
    async fn b_items_unchanged(&self, report: &mut Report) {
        let now = self.b_view().await;
        let then = self.b_items.lock().expect("b items").clone();
        if now != then {
            report.finding(format!(
                "B's items changed:\n  before {then:?}\n  after  {now:?}"
            ));
        }
    }

    fn knowledge(&self) -> KnowledgeServiceClient<Channel> {
        KnowledgeServiceClient::new(self.channel.clone())
    }

    fn head(&self) -> String {
        self.head.lock().expect("head").clone()
    }

    /// A, then an anonymous caller.
    fn callers(&self) -> [(&'static str, Option<String>); 2] {
        [
            ("A", Some(self.a.access_token.clone())),
            ("anonymous", None),
        ]
    }

    fn a_token(&self) -> Option<String> {
        Some(self.a.access_token.clone())
    }

    /// A's items.
    fn a_items(&self) -> [&Item; 3] {
        [&self.a_target, &self.a_linker, &self.a_public]
    }

    /// B's item ids, each with an absent id of the same shape.
    fn item_pairs(&self) -> Vec<(String, String)> {
        [&self.b_live, &self.b_deleted]
            .into_iter()
            .map(|id| (id.clone(), twin(id)))
            .collect()
    }

    /// B's user id with an absent user id of the same shape.
    fn user_pairs(&self) -> Vec<(String, String)> {
        let id = self.b.name.trim_start_matches("users/");
        vec![(id.to_owned(), twin(id))]
    }

    /// ListItems-grammar filters, some singling out B's items or an absent owner.
    fn filters(&self) -> Vec<String> {
        let absent_owner = twin(self.b.name.trim_start_matches("users/"));
        vec![
            String::new(),
            format!("tag = \"{SECRET_TAG}\""),
            format!("owner = \"{}\"", self.b.name),
            format!("owner = \"users/{absent_owner}\""),
            "tag = \"alpha\"".into(),
        ]
    }

    /// Calls the unary method at `path` with `message` and decodes the response as `P`.
    async fn call_typed<P: Message + Default>(
        &self,
        path: &str,
        token: &Option<String>,
        message: &impl Message,
    ) -> Result<P, Status> {
        let channel = self.channel.clone();
        let bytes = call_unary(channel, path, token, message.encode_to_vec()).await?;
        P::decode(bytes).map_err(|error| Status::internal(format!("undecodable: {error}")))
    }

    /// [`World::call_typed`] as text.
    async fn call<P: Message + Default + Debug>(
        &self,
        path: &str,
        token: &Option<String>,
        message: &impl Message,
    ) -> Answer {
        let response = self.call_typed::<P>(path, token, message).await?;
        Ok(format!("{response:?}"))
    }

    /// Observes the probed method (answers `P`) as A and anonymously for each labelled request.
    async fn observe_all<P, Q>(&self, r: &mut Report, requests: &[(String, Q)])
    where
        P: Message + Default + Debug,
        Q: Message,
    {
        let path = r.path();
        for (who, token) in self.callers() {
            for (what, message) in requests {
                let answer = self.call::<P>(&path, &token, message).await;
                r.observe(format!("{what} as {who}"), &answer);
            }
        }
    }

    /// Aims the probed method (answers `P`) at each of `pairs` (B's id and an absent one), as A
    /// and anonymously, with the request `build` makes for an id: the answers must agree.
    async fn aim<P, Q>(
        &self,
        r: &mut Report,
        label: &str,
        expected: Code,
        pairs: &[(String, String)],
        build: impl Fn(&str) -> Q,
    ) where
        P: Message + Default + Debug,
        Q: Message,
    {
        let path = r.path();
        let call = async |token: Option<String>, id: String| {
            self.call::<P>(&path, &token, &build(&id)).await
        };
        r.compare(&self.callers(), label, expected, pairs, call)
            .await;
    }

    /// Waits until search has applied the newest setup write.
    async fn wait_indexed(&self) {
        type Response = pake_api::search::SearchResponse;
        let path = "/pake.search.v1.SearchService/Search";
        let (token, min_cursor) = (self.a_token(), self.head());
        let search = SearchRequest {
            min_cursor,
            ..SearchRequest::default()
        };
        for _ in 0..10 {
            match self.call::<Response>(path, &token, &search).await {
                Err(status) if status.code() == Code::Unavailable => continue,
                found => {
                    found.expect("search catches up");
                    return;
                }
            }
        }
        panic!("search did not apply {} in time", self.head());
    }
}

fn mask(path: &str) -> prost_types::FieldMask {
    prost_types::FieldMask {
        paths: vec![path.to_owned()],
    }
}

/// `(label, request)` pairs, one per item, built by `build` from the item's name.
fn per_item<Q>(items: &[&Item], what: &str, build: impl Fn(String) -> Q) -> Vec<(String, Q)> {
    let label = |item: &Item| format!("{what} of {:?}", item.title);
    items
        .iter()
        .map(|item| (label(item), build(item.name.clone())))
        .collect()
}

/// Whether `answer` is UNIMPLEMENTED (noted, not a failure: the method is not there to leak).
fn noted_unimplemented(report: &mut Report, answer: &Answer) -> bool {
    let missing = matches!(answer, Err(status) if status.code() == Code::Unimplemented);
    if missing {
        report.note("UNIMPLEMENTED on this server: probed again once it is implemented");
    }
    missing
}

mod items {
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
        r.note(
            "item_id of another user's private item: ALREADY_EXISTS (documented: ids are global)",
        );
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
}

mod writes {
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
}

mod links {
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
}

mod vault {
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
}

mod feed {
    //! WatchItems: a feed open while B writes, a feed resumed from before, snapshots.
    use pake_testkit::feed::{head_cursor, is_change, next_event, read_snapshot, read_through};

    use super::*;

    const HEARTBEAT: Duration = Duration::from_millis(200);

    async fn watch(w: &World, token: &Option<String>, after: &str, snapshot: bool) -> Watch {
        let channel = w.channel.clone();
        pake_testkit::feed::watch(channel, token, after, snapshot, HEARTBEAT).await
    }

    type Watch = Result<Streaming<ItemEvent>, Status>;

    /// The items of a snapshot.
    async fn snapshot(w: &World, token: &Option<String>) -> Answer {
        let mut stream = watch(w, token, "", true).await?;
        let items = read_snapshot(&mut stream, PATIENCE).await;
        items
            .map(|items| items.join("\n"))
            .map_err(Status::internal)
    }

    /// Reads `stream` up to the current head: every change event in it must be of A's own items
    /// and hold none of B's secrets.
    async fn only_own_events(
        w: &World,
        r: &mut Report,
        label: &str,
        stream: &mut Streaming<ItemEvent>,
    ) {
        let head = match head_cursor(w.channel.clone(), &w.a_token()).await {
            Ok(head) => head,
            Err(error) => return r.finding(format!("{label}: {error}")),
        };
        let events = match read_through(stream, &head, PATIENCE).await {
            Ok(events) => events,
            Err(error) => return r.finding(format!("{label}: {error}")),
        };
        let b_items = w.item_pairs();
        for event in events.iter().filter(|event| is_change(event)) {
            let text = format!("{event:?}");
            r.scan(label, &text);
            let item = event.item.clone().unwrap_or_default();
            let of_b = b_items
                .iter()
                .any(|(id, _)| item.name.ends_with(id.as_str()));
            if of_b || item.owner != w.a.name {
                r.finding(format!(
                    "{label}: A received an event of an item not its own: {text}"
                ));
            }
        }
    }

    pub async fn watch_items(w: &World, phase: Phase, r: &mut Report) {
        match phase {
            Phase::Before => {
                let mut stream = watch(w, &w.a_token(), "", false).await.expect("A watches");
                let first = next_event(&mut stream, PATIENCE).await;
                let start = first.expect("first event").expect("heartbeat").cursor;
                *w.feed.lock().await = Some((stream, start));
            }
            Phase::After => {
                let opened = w.feed.lock().await.take();
                if let Some((mut stream, start)) = opened {
                    only_own_events(w, r, "A's feed open while B wrote", &mut stream).await;
                    *w.feed.lock().await = Some((stream, start));
                }
            }
            Phase::Targeted => {
                // Resumed from before B wrote, through A's own writes of the targeted probes.
                let start = w.feed.lock().await.as_ref().map(|(_, start)| start.clone());
                let Some(start) = start else {
                    return r.finding("A's feed was not opened");
                };
                match watch(w, &w.a_token(), &start, false).await {
                    Ok(mut stream) => only_own_events(w, r, "A's feed resumed", &mut stream).await,
                    Err(status) => r.finding(format!("resuming A's feed: {status:?}")),
                }
                return;
            }
        }
        for (who, token) in w.callers() {
            let label = format!("WatchItems snapshot as {who}");
            r.observe(label, &snapshot(w, &token).await);
        }
    }
}

mod search {
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
}
