//! `/docs`: the swagger-ui page embedded in the edge, served without any outside fetch and
//! rendered by a real browser (headless Chromium) from the live `/openapi.json`.

use super::*;

use pake_testkit::{find_program, require};

/// Path to a Chromium (`chromium` or `chromium-headless-shell`) for the rendering test.
const CHROMIUM_ENV: &str = "PAKE_TEST_CHROMIUM";

fn chromium() -> Option<std::path::PathBuf> {
    let found = find_program("chromium", CHROMIUM_ENV)
        .or_else(|| find_program("chromium-headless-shell", CHROMIUM_ENV));
    require(
        found,
        &format!("headless Chromium not found (set {CHROMIUM_ENV} or put `chromium` on PATH)"),
    )
}

#[tokio::test]
async fn docs_page_and_its_assets_are_served_from_the_binary() {
    let edge = start().await;

    let redirect = edge.http.get("/docs").await;
    assert!(redirect.status.is_redirection(), "{}", redirect.status);
    assert_eq!(redirect.header("location"), Some("docs/"));

    let page = edge.http.get("/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text();
    assert!(html.contains("<div id=\"swagger-ui\">"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing off this host: {html}"
    );

    let mut referenced = 0;
    for (file, content_type, needle) in [
        ("swagger-ui-bundle.js", "text/javascript", "SwaggerUIBundle"),
        ("swagger-ui.css", "text/css", ".swagger-ui"),
        ("pake-docs.js", "text/javascript", "../openapi.json"),
        ("pake-docs.css", "text/css", "body"),
        ("favicon-32x32.png", "image/png", "PNG"),
    ] {
        if html.contains(&format!("\"{file}\"")) {
            referenced += 1;
        }
        let asset = edge.http.get(&format!("/docs/{file}")).await;
        assert_eq!(asset.status, StatusCode::OK, "{file}");
        assert!(
            asset
                .header("content-type")
                .is_some_and(|value| value.starts_with(content_type)),
            "{file}: {:?}",
            asset.header("content-type")
        );
        assert!(asset.header("cache-control").is_some(), "{file}");
        assert_eq!(asset.header("x-content-type-options"), Some("nosniff"));
        assert!(
            String::from_utf8_lossy(&asset.body).contains(needle),
            "{file} holds {needle}"
        );
    }
    assert_eq!(referenced, 5, "the page loads every asset checked above");

    let missing = edge.http.get("/docs/swagger-ui-bundle.js.map").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn docs_page_lists_every_operation_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let edge = start().await;
    let base = edge.base.clone();
    let document = ok(&edge.http.get("/openapi.json").await);
    let operations: Vec<(String, String)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|method| {
                    ["get", "put", "post", "delete", "patch"].contains(&method.as_str())
                })
                .map(|method| (method.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(operations.len() >= 10, "{} operations", operations.len());

    let profile = tempfile::tempdir().expect("chromium profile dir");
    let url = format!("{base}/docs");
    let run = tokio::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    // A guard against a hung browser, not a performance assertion.
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), run)
        .await
        .expect("chromium finishes")
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && dom.contains("id=\"swagger-ui\""),
        "chromium {}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        dom
    );

    assert!(
        !dom.contains("Failed to load API definition"),
        "swagger-ui could not load /openapi.json:\n{dom}"
    );
    let info_title = document["info"]["title"].as_str().expect("info.title");
    assert!(dom.contains(info_title), "title {info_title} shown:\n{dom}");
    // Each operation block: `class="opblock opblock-{method}"`, then its summary's
    // `data-path="{path}"` before the next block starts.
    let mut rendered: Vec<(String, String)> = dom
        .split("class=\"opblock opblock-")
        .skip(1)
        .map(|block| {
            let method = block
                .split(['"', ' '])
                .next()
                .unwrap_or_default()
                .to_owned();
            let path = block
                .split_once("data-path=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(path, _)| path.to_owned())
                .unwrap_or_default();
            (method, path)
        })
        .collect();
    rendered.sort();
    let mut expected = operations;
    expected.sort();
    assert_eq!(rendered, expected, "every operation listed once:\n{dom}");
    assert!(dom.contains("data-path=\"/v1/items\""));
    assert!(dom.contains("data-path=\"/v1/items/{item}\""));
}
