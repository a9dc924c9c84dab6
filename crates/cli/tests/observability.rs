//! The Grafana dashboards (deploy/grafana/*.json) and the Prometheus rules
//! (deploy/prometheus/*.yaml) use only metrics PAKE really exports: the real `pake serve`
//! (all-in-one, with its edge) is started on port 0, a user signs up, fails to sign in, signs
//! in, writes a note and searches it (so the RPC, edge, cache and search families have series),
//! and every `pake_…` name of those files must be a family in the edge's `/metrics` — a
//! histogram's `_bucket`/`_sum`/`_count`, a counter's `_total`. A renamed or removed metric
//! fails here instead of leaving an empty panel or an alert that never fires.

#[path = "../../edge/tests/support/client.rs"]
mod client;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use client::{Answer, HttpClient};
use http::{Method, StatusCode};
use pake_testkit::process::{PakeCommand, PakeProcess};
use serde_json::{Value, json};

const PAKE: &str = env!("CARGO_BIN_EXE_pake");
const PASSWORD: &str = "correct horse battery staple 42!";

/// `pake serve` with its edge; killed when dropped.
struct Running {
    http: HttpClient,
    _process: PakeProcess,
}

/// Starts `pake serve` on port 0 (gRPC and edge) over a fresh data dir.
fn start() -> Running {
    let process = PakeCommand::serve(PAKE, None).start();
    Running {
        http: HttpClient::new(process.http_url()),
        _process: process,
    }
}

fn ok(answer: &Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

/// What a user does through the edge: sign up, one failed and one good sign-in, a note, the
/// same search twice (a cache miss, then a hit) and a read of a missing note.
async fn exercise(http: &HttpClient) {
    let username = format!("observer_{}", std::process::id());
    ok(&http
        .post_json(
            "/v1/users",
            &json!({"user": {"username": username}, "password": PASSWORD}),
        )
        .await);
    let refused = http
        .post_json(
            "/v1/sessions",
            &json!({"username": username, "password": "not the password at all"}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );
    let session = ok(&http
        .post_json(
            "/v1/sessions",
            &json!({"username": username, "password": PASSWORD}),
        )
        .await);
    let bearer = format!("Bearer {}", session["accessToken"].as_str().expect("token"));
    let auth = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let created = http
        .send(
            Method::POST,
            "/v1/items",
            &auth,
            json!({"title": "Dashboards", "content": "every panel has data"}).to_string(),
        )
        .await;
    let cursor = ok(&created)["feedCursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for _ in 0..2 {
        let found = ok(&http
            .send(
                Method::POST,
                "/v1/search",
                &auth,
                json!({"query": "panel", "minCursor": cursor}).to_string(),
            )
            .await);
        assert!(found["results"][0]["name"].is_string(), "{found}");
    }
    let missing = http.send(Method::GET, "/v1/items/nope", &auth, "").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text());
}

/// The families of an exposition and their types, from its `# TYPE` lines.
fn families(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("# TYPE ")?.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect()
}

/// Every `pake_[a-z0-9_]+` name in `text` that does not continue a longer identifier.
fn metric_names(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let part = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let mut names = BTreeSet::new();
    let mut at = 0;
    while let Some(found) = text[at..].find("pake_") {
        let start = at + found;
        let mut end = start + "pake_".len();
        while end < bytes.len() && part(bytes[end]) {
            end += 1;
        }
        let continues =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if !continues && end > start + "pake_".len() {
            names.insert(text[start..end].to_owned());
        }
        at = end;
    }
    names
}

/// Whether `name` is a series name of one of `families`: the family itself, a histogram's
/// `_bucket`, `_sum` or `_count`, or a counter's `_total` (the text format declares a counter
/// either with or without it).
fn exported(name: &str, families: &BTreeMap<String, String>) -> bool {
    if families.contains_key(name) {
        return true;
    }
    let of = |suffix: &str, kinds: &[&str]| {
        name.strip_suffix(suffix)
            .and_then(|family| families.get(family))
            .is_some_and(|kind| kinds.contains(&kind.as_str()))
    };
    of("_bucket", &["histogram"])
        || of("_sum", &["histogram", "summary"])
        || of("_count", &["histogram", "summary"])
        || of("_total", &["counter"])
}

/// The dashboards and rule files, relative to the repository root.
fn observability_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for (dir, ext) in [("deploy/grafana", "json"), ("deploy/prometheus", "yaml")] {
        let entries = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|error| panic!("{dir}: {error}"))
            .map(|entry| entry.expect("dir entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == ext));
        files.extend(entries);
    }
    files.sort();
    files
}

/// `(file, name)` of every referenced name that `families` does not export.
fn unknown_names(
    files: &[(String, String)],
    families: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    files
        .iter()
        .flat_map(|(file, text)| {
            metric_names(text)
                .into_iter()
                .filter(|name| !exported(name, families))
                .map(move |name| (file.clone(), name))
        })
        .collect()
}

#[tokio::test]
async fn every_metric_in_the_dashboards_and_alert_rules_is_exported_by_pake_serve() {
    let running = start();
    exercise(&running.http).await;
    let scraped = running.http.get("/metrics").await;
    assert_eq!(scraped.status, StatusCode::OK);
    assert!(
        scraped
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        scraped.header("content-type")
    );
    let text = scraped.text();
    pake_runtime::metrics::exposition::parse(&text)
        .unwrap_or_else(|error| panic!("invalid exposition: {error}\n{text}"));
    let families = families(&text);

    let files: Vec<(String, String)> = observability_files()
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            (path.display().to_string(), text)
        })
        .collect();
    let names: BTreeSet<String> = files
        .iter()
        .flat_map(|(_, text)| metric_names(text))
        .collect();
    assert!(
        files.iter().any(|(file, _)| file.ends_with(".json"))
            && files.iter().any(|(file, _)| file.ends_with(".yaml")),
        "no dashboard or no rule file found: {files:?}"
    );
    // The extraction finds what the files obviously use (a broken scan would pass anything).
    for expected in [
        "pake_rpc_requests_total",
        "pake_rpc_duration_seconds_bucket",
        "pake_search_feed_lag_seconds",
    ] {
        assert!(
            names.contains(expected),
            "{expected} not found in {names:?}"
        );
    }

    let unknown = unknown_names(&files, &families);
    assert!(
        unknown.is_empty(),
        "metric names that `pake serve` does not export: {unknown:#?}\nexported families: {:#?}",
        families.keys().collect::<Vec<_>>()
    );

    // The check itself can fail: a made-up name, a suffix of the wrong type.
    let made_up = [(
        "canary".to_owned(),
        "rate(pake_rpc_requests_totl[5m]) pake_search_feed_lag_seconds_bucket".to_owned(),
    )];
    assert_eq!(
        unknown_names(&made_up, &families)
            .into_iter()
            .map(|(_, name)| name)
            .collect::<Vec<_>>(),
        [
            "pake_rpc_requests_totl",
            "pake_search_feed_lag_seconds_bucket"
        ]
    );

    // The calls above gave the RPC, edge and cache families series, not just declarations.
    let samples = pake_runtime::metrics::exposition::parse(&text).expect("parsed above");
    for series in [
        "pake_rpc_requests_total",
        "pake_rpc_duration_seconds_bucket",
        "pake_edge_requests_total",
        "pake_cache_hits_total",
        "pake_cache_misses_total",
    ] {
        assert!(
            samples.iter().any(|sample| sample.name == series),
            "no {series} series after the calls"
        );
    }
    let failed_sign_ins = pake_runtime::metrics::exposition::value(
        &samples,
        "pake_rpc_requests_total",
        &[
            ("service", "pake.identity.v1.IdentityService"),
            ("method", "CreateSession"),
            ("code", "UNAUTHENTICATED"),
        ],
    );
    assert_eq!(
        failed_sign_ins,
        Some(1.0),
        "the dashboard's sign-in failures"
    );
}
