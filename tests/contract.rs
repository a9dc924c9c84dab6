//! Contract tests: the descriptor set, the running server and the repository's lists agree.
//!
//! - Every method of every PAKE service is called over real gRPC; a method listed in
//!   `UNIMPLEMENTED.md` must answer UNIMPLEMENTED and every other method must not.
//! - The anonymous allow-list in `pake-core` is exactly the set of methods whose doc comment
//!   says "Callers: anonymous …".
//! - Every method has an HTTP binding and a doc comment naming its callers and errors.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use prost_reflect::{DescriptorPool, MethodDescriptor};

const UNIMPLEMENTED_FILE: &str = include_str!("../UNIMPLEMENTED.md");

fn pool() -> DescriptorPool {
    DescriptorPool::decode(pake_api::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

fn pake_methods(pool: &DescriptorPool) -> Vec<MethodDescriptor> {
    pool.services()
        .filter(|service| service.package_name().starts_with("pake."))
        .flat_map(|service| service.methods().collect::<Vec<_>>())
        .collect()
}

fn method_path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

fn listed_unimplemented() -> BTreeSet<String> {
    UNIMPLEMENTED_FILE
        .lines()
        .filter_map(|line| line.strip_prefix("- "))
        .map(|entry| format!("/{}", entry.trim()))
        .collect()
}

fn doc_comment(method: &MethodDescriptor) -> String {
    let file = method.parent_file();
    let path = method.path();
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|location| location.path == path))
        .and_then(|location| location.leading_comments.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_is_implemented_or_listed_and_never_both() {
    let pool = pool();
    let methods = pake_methods(&pool);
    let listed = listed_unimplemented();
    let all_paths: BTreeSet<String> = methods.iter().map(method_path).collect();
    let stale: Vec<_> = listed.difference(&all_paths).collect();
    assert!(
        stale.is_empty(),
        "UNIMPLEMENTED.md lists methods that do not exist: {stale:?}"
    );
    assert_eq!(
        pake_api::service_names::ALL.len(),
        methods
            .iter()
            .map(|m| m.parent_service().full_name().to_owned())
            .collect::<BTreeSet<_>>()
            .len(),
        "service_names::ALL matches the contract"
    );

    let app = pake_testkit::spawn_app().await;
    let channel = app.channel().await;
    // Signed in, so that authentication never hides an unimplemented method.
    let token = pake_testkit::sign_up_and_in(&app, "contract")
        .await
        .access_token;
    let mut disagreements = Vec::new();
    for method in &methods {
        let path = method_path(method);
        // An empty message is a valid encoding of every request type.
        let messages = vec![Bytes::new()];
        let code = pake_testkit::raw_grpc::call_raw(
            channel.clone(),
            &path,
            Some(&token),
            messages,
            Duration::from_secs(2),
        )
        .await;
        let answered_unimplemented = code == tonic::Code::Unimplemented;
        let is_listed = listed.contains(&path);
        if answered_unimplemented != is_listed {
            disagreements.push(format!(
                "{path}: answered {code:?} but is {}listed in UNIMPLEMENTED.md",
                if is_listed { "" } else { "not " }
            ));
        }
    }
    app.stop().await;
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn the_anonymous_allow_list_matches_the_documented_callers() {
    let pool = pool();
    let documented: BTreeSet<String> = pake_methods(&pool)
        .iter()
        .filter(|method| {
            let comment = doc_comment(method);
            comment
                .lines()
                .any(|line| line.trim_start().starts_with("Callers: anonymous"))
        })
        .map(method_path)
        .collect();
    let allowed: BTreeSet<String> = pake_core::auth::ANONYMOUS_METHODS
        .iter()
        .map(|path| (*path).to_owned())
        .collect();
    assert_eq!(
        allowed, documented,
        "pake_core::auth::ANONYMOUS_METHODS vs proto doc comments"
    );
}

#[test]
fn every_method_documents_callers_errors_and_has_an_http_binding() {
    let pool = pool();
    let http_rule = pool
        .get_extension_by_name("google.api.http")
        .expect("google.api.http extension is in the descriptor set");
    let mut problems = Vec::new();
    for method in pake_methods(&pool) {
        let path = method_path(&method);
        let comment = doc_comment(&method);
        if !comment.contains("Callers:") {
            problems.push(format!("{path}: doc comment does not say who may call it"));
        }
        if !comment.contains("Errors:") && !comment.contains("errors") {
            problems.push(format!("{path}: doc comment does not list its errors"));
        }
        if !method.options().has_extension(&http_rule) {
            problems.push(format!("{path}: no google.api.http annotation"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn rich_error_details_are_in_the_descriptor_set() {
    let pool = pool();
    for name in [
        "google.rpc.Status",
        "google.rpc.BadRequest",
        "google.rpc.ErrorInfo",
        "google.rpc.RetryInfo",
    ] {
        assert!(pool.get_message_by_name(name).is_some(), "{name} missing");
    }
}
