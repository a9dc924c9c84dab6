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

#[path = "leaks/items.rs"]
mod items;

#[path = "leaks/writes.rs"]
mod writes;

#[path = "leaks/links.rs"]
mod links;

#[path = "leaks/vault.rs"]
mod vault;

#[path = "leaks/feed.rs"]
mod feed;

#[path = "leaks/search.rs"]
mod search;
