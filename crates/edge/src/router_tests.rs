//! Routing precedence, conflicts, 404 and 405.

use http::Method;
use prost_reflect::DescriptorPool;

use super::*;
use crate::descriptors::{Binding, BodyRule};
use crate::template::Template;

fn binding(pool: &DescriptorPool, method: &str, http_method: Method, template: &str) -> Binding {
    let (service, name) = method.rsplit_once('/').expect("service/method");
    let method = pool
        .get_service_by_name(service)
        .and_then(|service| service.methods().find(|m| m.name() == name))
        .expect("method in the pool");
    Binding {
        method,
        http_method,
        template: Template::parse(template).expect("template"),
        body: BodyRule::None,
        response_body: None,
    }
}

fn pool() -> DescriptorPool {
    DescriptorPool::decode(pake_api::FILE_DESCRIPTOR_SET).expect("pake descriptors")
}

const K: &str = "pake.knowledge.v1.KnowledgeService";

fn routed(router: &Router, method: Method, path: &str) -> String {
    match router.route(&method, path) {
        Match::Found(binding, _) => binding.method.name().to_owned(),
        Match::MethodNotAllowed(allow) => format!(
            "405 {}",
            allow
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Match::NotFound => "404".to_owned(),
        Match::BadPath(_) => "400".to_owned(),
    }
}

#[test]
fn literal_beats_star_beats_double_star() {
    let pool = pool();
    let router = Router::new(vec![
        binding(
            &pool,
            &format!("{K}/ListItems"),
            Method::GET,
            "/v1/{name=**}",
        ),
        binding(&pool, &format!("{K}/GetItem"), Method::GET, "/v1/items/*"),
        binding(
            &pool,
            &format!("{K}/GetItemStats"),
            Method::GET,
            "/v1/items/stats",
        ),
        binding(
            &pool,
            &format!("{K}/VerifyItem"),
            Method::GET,
            "/v1/items/*:verify",
        ),
    ])
    .expect("no conflicts");
    assert_eq!(
        routed(&router, Method::GET, "/v1/items/stats"),
        "GetItemStats"
    );
    assert_eq!(routed(&router, Method::GET, "/v1/items/abc"), "GetItem");
    assert_eq!(
        routed(&router, Method::GET, "/v1/items/abc:verify"),
        "VerifyItem"
    );
    assert_eq!(routed(&router, Method::GET, "/v1/items/a/b"), "ListItems");
    assert_eq!(routed(&router, Method::GET, "/v2/x"), "404");
    assert_eq!(routed(&router, Method::POST, "/v1/items/abc"), "405 GET");
}

#[test]
fn wrong_method_lists_every_allowed_method() {
    let pool = pool();
    let router = Router::new(vec![
        binding(
            &pool,
            &format!("{K}/GetItem"),
            Method::GET,
            "/v1/{name=items/*}",
        ),
        binding(
            &pool,
            &format!("{K}/DeleteItem"),
            Method::DELETE,
            "/v1/{name=items/*}",
        ),
        binding(
            &pool,
            &format!("{K}/UpdateItem"),
            Method::PATCH,
            "/v1/{item.name=items/*}",
        ),
    ])
    .expect("no conflicts");
    assert_eq!(
        routed(&router, Method::PUT, "/v1/items/x"),
        "405 DELETE,GET,PATCH"
    );
    assert_eq!(routed(&router, Method::PATCH, "/v1/items/x"), "UpdateItem");
}

#[test]
fn conflicting_bindings_are_rejected_naming_both_methods() {
    let pool = pool();
    let error = Router::new(vec![
        binding(
            &pool,
            &format!("{K}/GetItem"),
            Method::GET,
            "/v1/{name=items/*}",
        ),
        binding(
            &pool,
            &format!("{K}/GetItemStats"),
            Method::GET,
            "/v1/items/{x}",
        ),
    ])
    .expect_err("same shape");
    let text = error.to_string();
    assert!(
        text.contains("GetItem") && text.contains("GetItemStats"),
        "{text}"
    );
    // Another method or verb is not a conflict.
    Router::new(vec![
        binding(
            &pool,
            &format!("{K}/GetItem"),
            Method::GET,
            "/v1/{name=items/*}",
        ),
        binding(
            &pool,
            &format!("{K}/DeleteItem"),
            Method::DELETE,
            "/v1/{name=items/*}",
        ),
        binding(
            &pool,
            &format!("{K}/VerifyItem"),
            Method::GET,
            "/v1/{name=items/*}:verify",
        ),
    ])
    .expect("distinct bindings");
}

#[test]
fn pake_descriptors_build_a_conflict_free_table() {
    let pool = pool();
    let bindings = crate::descriptors::bindings(&pool).expect("rules parse");
    assert!(bindings.len() > 40, "{} bindings", bindings.len());
    let router = Router::new(bindings).expect("no conflicts in PAKE's contract");
    assert_eq!(
        routed(&router, Method::GET, "/v1/items:batchGet"),
        "BatchGetItems"
    );
    assert_eq!(routed(&router, Method::GET, "/v1/items/abc"), "GetItem");
    assert_eq!(
        routed(&router, Method::GET, "/.well-known/jwks.json"),
        "GetJwks"
    );
    assert_eq!(routed(&router, Method::GET, "/v1/search"), "Search");
    assert_eq!(routed(&router, Method::POST, "/v1/search"), "Search");
    assert_eq!(
        routed(&router, Method::POST, "/v1/items/abc:verify"),
        "VerifyItem"
    );
    assert_eq!(routed(&router, Method::GET, "/v1/users/me"), "GetUser");
    assert_eq!(routed(&router, Method::GET, "/v1/items/%FF"), "400");
}
