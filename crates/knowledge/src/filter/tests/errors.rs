//! Errors: each names `filter` and the byte offset; limits stop hostile filters early.

use super::*;

#[test]
fn errors_name_the_filter_and_the_byte_offset() {
    let cases: &[(&str, usize, &str)] = &[
        ("title = \"x' OR 1=1 --\"", 0, "unknown field `title`"),
        ("kind = project AND metadata.x = 1", 19, "unknown field"),
        ("tag < \"x\"", 4, "only `=` and `!=`"),
        ("kind >= project", 5, "only `=` and `!=`"),
        ("owner > \"users/a\"", 6, "only `=` and `!=`"),
        ("kind = banana", 7, "not a kind value"),
        ("kind = unspecified", 7, "not a kind value"),
        ("status = KIND_DRAFT", 9, "not a status value"),
        ("tag = \"unterminated", 6, "unterminated string"),
        ("tag = \"bad \\n escape\"", 11, "escapes"),
        ("tag = 'x'", 6, "double quotes"),
        ("tag \"x\"", 4, "expected an operator after `tag`"),
        ("tag", 3, "expected an operator"),
        ("tag =", 5, "expected a value"),
        ("tag == x", 5, "expected a value"),
        ("tag = AND", 6, "expected a value"),
        ("tag = x AND", 11, "found the end"),
        ("AND tag = x", 0, "keyword AND"),
        ("tag = x OR OR tag = y", 11, "keyword OR"),
        ("NOT NOT tag = x", 4, "keyword NOT"),
        ("tag : x", 4, "`:` (has) operator"),
        ("!tag = x", 0, "expected `!=`"),
        ("tag = x, kind = note", 7, "unexpected character"),
        ("tag = x y", 8, "unknown field `y`"),
        ("(tag = x", 8, "missing `)` for the `(` at byte 0"),
        ("(tag = x tag", 12, "expected an operator"),
        ("tag = x)", 7, "unbalanced `)`"),
        ("()", 1, "expected a comparison"),
        ("rust", 0, "unknown field `rust`"),
        ("confidence_score > high", 19, "not a number"),
        ("confidence_score > \"NaN\"", 19, "not a number"),
        ("confidence_score > inf", 19, "not a number"),
        ("confidence_score > 1e999", 19, "not a number"),
        ("create_time > 2025-01-01", 14, "in double quotes"),
        ("create_time > \"2025-01-01\"", 14, "not an RFC 3339"),
        (
            "create_time > \"2025-02-30T00:00:00Z\"",
            14,
            "not an RFC 3339",
        ),
        (
            "create_time > \"2025-01-01 00:00:00Z\"",
            14,
            "not an RFC 3339",
        ),
        (
            "update_time < \"2025-01-01T00:00:00\"",
            14,
            "not an RFC 3339",
        ),
        (
            "update_time < \"2025-01-01T00:00:00.1234567891Z\"",
            14,
            "not an RFC 3339",
        ),
        ("owner = \"alice\"", 8, "users/{user}"),
        ("owner = \"users/\"", 8, "users/{user}"),
        ("owner = \"users/a/b\"", 8, "users/{user}"),
        (
            "tag = \"a\" AND (kind = note OR visibility = secret)",
            43,
            "not a visibility value",
        ),
    ];
    for (text, offset, message) in cases {
        let error = error(text);
        assert!(
            error.contains(message) && error.ends_with(&format!("(at byte {offset})")),
            "{text:?}: {error}"
        );
    }
    // Offsets are bytes, not characters.
    assert!(error("tag = \"é\" kïnd = note").ends_with("(at byte 11)"));
}

#[test]
fn limits_on_length_comparisons_and_nesting() {
    let comparisons = |n: usize| vec!["tag = x"; n].join(" AND ");
    assert!(Filter::parse(&comparisons(MAX_COMPARISONS)).is_ok());
    let too_many = comparisons(MAX_COMPARISONS + 1);
    let offset = too_many.rfind("tag").expect("last");
    assert!(
        error(&too_many).ends_with(&format!("more than 64 comparisons (at byte {offset})")),
        "{}",
        error(&too_many)
    );

    let nested = |depth: usize| format!("{}tag = x{}", "(".repeat(depth), ")".repeat(depth));
    assert!(Filter::parse(&nested(MAX_DEPTH)).is_ok());
    assert!(
        error(&nested(MAX_DEPTH + 1)).ends_with("deeper than 16 (at byte 16)"),
        "{}",
        error(&nested(MAX_DEPTH + 1))
    );
    // A hostile filter fails fast on the limits, whatever it holds.
    assert!(error(&"(".repeat(MAX_LENGTH)).contains("deeper than 16"));
    assert!(error(&"NOT ".repeat(MAX_LENGTH / 4)).contains("keyword NOT"));
    let long = format!("tag = \"{}\"", "x".repeat(MAX_LENGTH));
    assert!(error(&long).contains("at most 2048 bytes"));
    let exactly = format!("tag = \"{}\"", "x".repeat(MAX_LENGTH - 8));
    assert_eq!(exactly.len(), MAX_LENGTH);
    assert!(Filter::parse(&exactly).is_ok());
}
