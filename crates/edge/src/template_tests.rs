//! Table and property tests of template parsing and matching.

use proptest::prelude::*;

use super::*;

fn parse(text: &str) -> Template {
    Template::parse(text).expect("valid template")
}

fn captures(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    parse(template)
        .match_path(path)
        .expect("decodable path")
        .map(|captures| {
            captures
                .into_iter()
                .map(|(field, value)| (field.join("."), value))
                .collect()
        })
}

type Case = (&'static str, &'static str, Option<Vec<(String, String)>>);

fn pairs(items: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(
        items
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
    )
}

#[test]
fn parses_the_grammar() {
    let template = parse("/v1/{name=items/*}:verify");
    assert_eq!(
        template.segments,
        vec![
            Segment::Literal("v1".into()),
            Segment::Literal("items".into()),
            Segment::Star
        ]
    );
    assert_eq!(template.verb.as_deref(), Some("verify"));
    assert_eq!(template.variables[0].field_path, vec!["name"]);
    assert_eq!(
        (template.variables[0].start, template.variables[0].end),
        (1, Some(3))
    );

    let template = parse("/v1/{item.name}/files/{path=**}");
    assert_eq!(template.variables[0].field_path, vec!["item", "name"]);
    assert_eq!(template.variables[1].end, None);
    assert_eq!(template.segments.last(), Some(&Segment::DoubleStar));

    let template = parse("/v1/*/x/**");
    assert!(template.variables.is_empty());
    assert_eq!(template.precedence(), vec![0, 1, 0, 2]);
}

#[test]
fn rejects_malformed_templates() {
    for bad in [
        "",
        "v1/items",
        "/v1//items",
        "/v1/{name",
        "/v1/{name=items/{id}}",
        "/v1/**/items",
        "/v1/{a}/{a}",
        "/v1/items:",
        "/v1/{1abc}",
        "/v1/it ems",
        "/v1/{}",
    ] {
        assert!(Template::parse(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn matches_paths_and_captures_variables() {
    let table: &[Case] = &[
        ("/v1/items", "/v1/items", pairs(&[])),
        ("/v1/items", "/v1/items/x", None),
        (
            "/v1/{name=items/*}",
            "/v1/items/abc",
            pairs(&[("name", "items/abc")]),
        ),
        ("/v1/{name=items/*}", "/v1/users/abc", None),
        ("/v1/{name=items/*}", "/v1/items/", None),
        ("/v1/{name=items/*}", "/v1/items/a/b", None),
        (
            "/v1/{name=items/*}:verify",
            "/v1/items/abc:verify",
            pairs(&[("name", "items/abc")]),
        ),
        ("/v1/{name=items/*}:verify", "/v1/items/abc", None),
        (
            "/v1/{name=items/*}",
            "/v1/items/abc:verify",
            pairs(&[("name", "items/abc:verify")]),
        ),
        ("/v1/{id}", "/v1/a%2Fb", pairs(&[("id", "a/b")])),
        ("/v1/{id}", "/v1/caf%C3%A9", pairs(&[("id", "café")])),
        (
            "/v1/{name=items/*}",
            "/v1/items/a%2Fb",
            pairs(&[("name", "items/a%2Fb")]),
        ),
        (
            "/v1/{name=items/*}",
            "/v1/items/a%20b",
            pairs(&[("name", "items/a b")]),
        ),
        ("/f/{path=**}", "/f/a/b/c", pairs(&[("path", "a/b/c")])),
        ("/f/{path=**}", "/f", pairs(&[("path", "")])),
        ("/f/{path=**}:get", "/f/a/b:get", pairs(&[("path", "a/b")])),
        (
            "/v1/{a.b}/{c}",
            "/v1/x/y",
            pairs(&[("a.b", "x"), ("c", "y")]),
        ),
        ("/v1/%7Ba%7D", "/v1/%7Ba%7D", pairs(&[])),
        ("/v1/items", "v1/items", None),
    ];
    for (template, path, expected) in table {
        assert_eq!(&captures(template, path), expected, "{template} vs {path}");
    }
}

#[test]
fn invalid_utf8_in_a_segment_is_an_error_not_a_panic() {
    let template = parse("/v1/{id}");
    assert!(template.match_path("/v1/%FF").is_err());
}

proptest! {
    #[test]
    fn any_single_segment_value_round_trips(value in "\\PC{1,24}") {
        let encoded = percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC).to_string();
        let result = parse("/v1/things/{id}").match_path(&format!("/v1/things/{encoded}"));
        prop_assert_eq!(result, Ok(Some(vec![(vec!["id".to_owned()], value)])));
    }

    #[test]
    fn parsing_and_matching_never_panic(template in "[/a-z{}=*.:%0-9]{0,24}", path in "[/a-z:%0-9A-F]{0,24}") {
        if let Ok(parsed) = Template::parse(&template) {
            let _ = parsed.match_path(&path);
        }
    }
}
