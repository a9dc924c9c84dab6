//! `/docs`: the interactive API page, swagger-ui rendering this edge's own `/openapi.json`.
//!
//! swagger-ui-dist is vendored in `crates/edge/assets/swagger-ui/` (version, licence and hashes in
//! its README) and embedded with `include_bytes!`: no CDN, nothing fetched at build or run time.
//! `/docs` redirects to `/docs/` so the page's relative asset URLs (and `../openapi.json`) resolve
//! under any path prefix a proxy mounts the edge at.

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};

/// The vendored swagger-ui-dist version.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// Same-origin only: the page's scripts and styles are ours, swagger-ui sets inline styles and
/// uses `data:` images, and it fetches `/openapi.json` (and "Try it out" calls) from this host.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The HTML and PAKE's small script change with the edge, so clients revalidate them.
const REVALIDATE: &str = "no-cache";
/// The vendored files change only with the version above.
const VENDORED: &str = "public, max-age=86400";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($file:literal, $content_type:expr, $cache_control:expr) => {
        Asset {
            path: concat!("/docs/", $file),
            content_type: $content_type,
            cache_control: $cache_control,
            body: include_bytes!(concat!("../assets/swagger-ui/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const PNG: &str = "image/png";

const ASSETS: &[Asset] = &[
    asset!("swagger-ui-bundle.js", JS, VENDORED),
    asset!("swagger-ui.css", CSS, VENDORED),
    asset!("favicon-16x16.png", PNG, VENDORED),
    asset!("favicon-32x32.png", PNG, VENDORED),
    asset!("pake-docs.js", JS, REVALIDATE),
    asset!("pake-docs.css", CSS, REVALIDATE),
];

const INDEX: &[u8] = include_bytes!("../assets/swagger-ui/index.html");

/// The `/docs` routes, merged into the edge's HTTP router ahead of the bindings' fallback.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new()
        .route("/docs", get(|| async { Redirect::permanent("docs/") }))
        .route("/docs/", get(index))
        .route("/docs/index.html", get(index));
    for asset in ASSETS {
        router = router.route(asset.path, get(move || async move { serve(asset) }));
    }
    router
}

async fn index() -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, REVALIDATE),
            (CONTENT_SECURITY_POLICY, PAGE_CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        INDEX,
    )
        .into_response()
}

fn serve(asset: &'static Asset) -> Response {
    (
        [
            (CONTENT_TYPE, asset.content_type),
            (CACHE_CONTROL, asset.cache_control),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_embedded_files_and_the_edges_own_document() {
        let page = std::str::from_utf8(INDEX).expect("utf-8");
        for reference in ["swagger-ui-bundle.js", "swagger-ui.css", "pake-docs.js"] {
            assert!(page.contains(&format!("\"{reference}\"")), "{reference}");
            assert!(
                ASSETS.iter().any(|asset| asset.path.ends_with(reference)),
                "{reference} is served"
            );
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
        let script = std::str::from_utf8(ASSETS[4].body).expect("utf-8");
        assert!(script.contains("\"../openapi.json\""), "{script}");
        assert!(script.contains("validatorUrl: null"), "{script}");
    }

    #[test]
    fn the_vendored_bundle_is_the_recorded_version() {
        let readme = include_str!("../assets/swagger-ui/README.md");
        assert!(
            readme.contains(&format!("**{SWAGGER_UI_VERSION}**")),
            "README records {SWAGGER_UI_VERSION}"
        );
        assert!(ASSETS[0].body.len() > 1_000_000, "the full bundle");
    }
}
