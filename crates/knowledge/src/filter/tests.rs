use super::*;

mod errors;
mod properties;

fn parse(text: &str) -> Expr {
    Filter::parse(text)
        .unwrap_or_else(|error| panic!("{text:?} should parse: {error}"))
        .expr
        .unwrap_or_else(|| panic!("{text:?} is not empty"))
}

/// The message of the error for `text`, which must name `filter`.
fn error(text: &str) -> String {
    let error = Filter::parse(text).expect_err(text).to_string();
    assert!(error.starts_with("filter: "), "{text:?}: {error}");
    error
}

fn compare(field: Field, operator: Operator, value: Value) -> Expr {
    Expr::Compare(Comparison {
        field,
        operator,
        value,
    })
}

fn tag(name: &str) -> Expr {
    compare(Field::Tag, Operator::Eq, Value::Text(name.into()))
}

fn not(expr: Expr) -> Expr {
    Expr::Not(Box::new(expr))
}

#[test]
fn empty_and_blank_filters_match_everything() {
    for text in ["", "   ", "\t\n"] {
        let filter = Filter::parse(text).expect("parses");
        assert_eq!(filter.expr, None);
        assert!(filter.to_sql(Some("users/a")).is_empty());
    }
}

#[test]
fn or_binds_tighter_than_and_and_juxtaposition_is_and() {
    let (a, b, c) = (tag("a"), tag("b"), tag("c"));
    let a_and_b_or_c = Expr::And(vec![a.clone(), Expr::Or(vec![b.clone(), c.clone()])]);
    assert_eq!(parse("tag = a AND tag = b OR tag = c"), a_and_b_or_c);
    assert_eq!(parse("tag = a tag = b OR tag = c"), a_and_b_or_c);
    assert_eq!(
        parse("tag = a OR tag = b AND tag = c"),
        Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        parse("tag = a OR tag = b tag = c"),
        Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        parse("(tag = a AND tag = b) OR tag = c"),
        Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        parse("tag = a OR tag = b OR tag = c"),
        Expr::Or(vec![a.clone(), b.clone(), c.clone()])
    );
    // NOT and `-` apply to one term.
    assert_eq!(
        parse("NOT tag = a OR tag = b"),
        Expr::Or(vec![not(a.clone()), b.clone()])
    );
    assert_eq!(
        parse("-tag = a tag = b"),
        Expr::And(vec![not(a.clone()), b.clone()])
    );
    assert_eq!(
        parse("NOT (tag = a OR tag = b)"),
        not(Expr::Or(vec![a.clone(), b.clone()]))
    );
    assert_eq!(parse("-(tag = a)"), not(a.clone()));
    assert_eq!(parse("((tag=a))"), a);
}

#[test]
fn every_field_and_operator() {
    use Operator::*;
    let time = |micros| Value::Time {
        micros,
        exact: true,
    };
    let cases = [
        ("tag = \"Rust\"", Field::Tag, Eq, Value::Text("rust".into())),
        ("tag != \"#Go\"", Field::Tag, Ne, Value::Text("go".into())),
        ("tag = über", Field::Tag, Eq, Value::Text("über".into())),
        (
            "kind = project",
            Field::Kind,
            Eq,
            Value::Text("project".into()),
        ),
        (
            "kind != KIND_DAILY",
            Field::Kind,
            Ne,
            Value::Text("daily".into()),
        ),
        (
            "kind = \"Note\"",
            Field::Kind,
            Eq,
            Value::Text("note".into()),
        ),
        (
            "status = archived",
            Field::Status,
            Eq,
            Value::Text("archived".into()),
        ),
        (
            "status != status_Processing",
            Field::Status,
            Ne,
            Value::Text("processing".into()),
        ),
        (
            "verification = REJECTED",
            Field::Verification,
            Eq,
            Value::Text("rejected".into()),
        ),
        (
            "verification = verification_verified",
            Field::Verification,
            Eq,
            Value::Text("verified".into()),
        ),
        (
            "visibility = public",
            Field::Visibility,
            Eq,
            Value::Text("public".into()),
        ),
        (
            "visibility != VISIBILITY_PRIVATE",
            Field::Visibility,
            Ne,
            Value::Text("private".into()),
        ),
        (
            "confidence_score = 1",
            Field::ConfidenceScore,
            Eq,
            Value::Number(1.0),
        ),
        (
            "confidence_score != 0.5",
            Field::ConfidenceScore,
            Ne,
            Value::Number(0.5),
        ),
        (
            "confidence_score < .25",
            Field::ConfidenceScore,
            Lt,
            Value::Number(0.25),
        ),
        (
            "confidence_score <= 7e-1",
            Field::ConfidenceScore,
            Le,
            Value::Number(0.7),
        ),
        (
            "confidence_score > -0.5",
            Field::ConfidenceScore,
            Gt,
            Value::Number(-0.5),
        ),
        (
            "confidence_score >= 0.9",
            Field::ConfidenceScore,
            Ge,
            Value::Number(0.9),
        ),
        ("owner = \"users/me\"", Field::Owner, Eq, Value::Me),
        ("owner != users/me", Field::Owner, Ne, Value::Me),
        (
            "owner = \"users/alice\"",
            Field::Owner,
            Eq,
            Value::Text("users/alice".into()),
        ),
        (
            "folder = \"03-Projects\"",
            Field::Folder,
            Eq,
            Value::Text("03-Projects".into()),
        ),
        (
            "folder = 03-Projects*",
            Field::Folder,
            Eq,
            Value::Prefix("03-Projects".into()),
        ),
        (
            "folder != \"06-Archives/2024*\"",
            Field::Folder,
            Ne,
            Value::Prefix("06-Archives/2024".into()),
        ),
        (
            "create_time = \"1970-01-01T00:00:01Z\"",
            Field::CreateTime,
            Eq,
            time(1_000_000),
        ),
        (
            "create_time != \"1970-01-01T00:00:00.000002Z\"",
            Field::CreateTime,
            Ne,
            time(2),
        ),
        (
            "update_time < \"1970-01-01T01:00:00+01:00\"",
            Field::UpdateTime,
            Lt,
            time(0),
        ),
        (
            "update_time <= \"2025-01-01t00:00:00z\"",
            Field::UpdateTime,
            Le,
            time(1_735_689_600_000_000),
        ),
        (
            "delete_time > \"1970-01-01T00:00:00-00:01\"",
            Field::DeleteTime,
            Gt,
            time(60_000_000),
        ),
        (
            "delete_time >= \"1970-01-01T00:00:00.5Z\"",
            Field::DeleteTime,
            Ge,
            time(500_000),
        ),
    ];
    for (text, field, operator, value) in cases {
        assert_eq!(parse(text), compare(field, operator, value), "{text}");
    }
    assert_eq!(
        parse("update_time > \"1970-01-01T00:00:00.000000999Z\""),
        compare(
            Field::UpdateTime,
            Gt,
            Value::Time {
                micros: 0,
                exact: false
            }
        )
    );
}

fn sql(text: &str, caller: Option<&str>) -> (String, Vec<SqlValue>) {
    Filter::parse(text).expect(text).to_sql(caller).render()
}

#[test]
fn compiles_to_bound_parameters_only() {
    assert_eq!(
        sql("kind = project AND (tag = \"Rust\" OR -tag = go)", None),
        (
            "((items.kind = $1) AND ((EXISTS (SELECT 1 FROM item_tags WHERE item_tags.item_id = \
             items.id AND item_tags.tag = $2)) OR (NOT (EXISTS (SELECT 1 FROM item_tags WHERE \
             item_tags.item_id = items.id AND item_tags.tag = $3)))))"
                .to_owned(),
            vec![
                SqlValue::Text("project".into()),
                SqlValue::Text("rust".into()),
                SqlValue::Text("go".into())
            ]
        )
    );
    assert_eq!(
        sql("tag != x", None).0,
        "(NOT EXISTS (SELECT 1 FROM item_tags WHERE item_tags.item_id = items.id AND \
         item_tags.tag = $1))"
    );
    assert_eq!(
        sql("confidence_score >= 0.7 visibility != private", None),
        (
            "((items.confidence_score >= $1) AND (items.visibility <> $2))".to_owned(),
            vec![SqlValue::Float(0.7), SqlValue::Text("private".into())]
        )
    );
    assert_eq!(
        sql("folder = \"Proj€cts/*\"", None),
        (
            "(substr(items.folder, 1, $1) = $2)".to_owned(),
            vec![SqlValue::Int32(9), SqlValue::Text("Proj€cts/".into())]
        )
    );
    assert_eq!(
        sql("delete_time < \"1970-01-01T00:00:01Z\"", None),
        (
            "(items.delete_time IS NOT NULL AND items.delete_time < $1)".to_owned(),
            vec![SqlValue::Int(1_000_000)]
        )
    );
}

#[test]
fn users_me_is_the_caller_and_nobody_for_anonymous_callers() {
    assert_eq!(
        sql("owner = \"users/me\"", Some("users/alice")),
        (
            "(items.owner = $1)".to_owned(),
            vec![SqlValue::Text("users/alice".into())]
        )
    );
    // No item has an empty owner: `=` matches nothing, `!=` everything.
    assert_eq!(
        sql("owner != users/me", None),
        (
            "(items.owner <> $1)".to_owned(),
            vec![SqlValue::Text(String::new())]
        )
    );
}

#[test]
fn sub_microsecond_times_compare_like_the_instant_they_are() {
    // 0.0000005 s lies between 0 and 1 µs.
    let at = |operator: &str, field: &str| {
        sql(
            &format!("{field} {operator} \"1970-01-01T00:00:00.0000005Z\""),
            None,
        )
    };
    let bound = |text: &str| (text.to_owned(), vec![SqlValue::Int(0)]);
    assert_eq!(at("<", "update_time"), bound("(items.update_time <= $1)"));
    assert_eq!(at("<=", "update_time"), bound("(items.update_time <= $1)"));
    assert_eq!(at(">", "update_time"), bound("(items.update_time > $1)"));
    assert_eq!(at(">=", "create_time"), bound("(items.create_time > $1)"));
    assert_eq!(at("=", "update_time"), ("(1 = 0)".to_owned(), vec![]));
    assert_eq!(at("!=", "update_time"), ("(1 = 1)".to_owned(), vec![]));
    assert_eq!(at("=", "delete_time"), ("(1 = 0)".to_owned(), vec![]));
    assert_eq!(
        at("!=", "delete_time"),
        ("(items.delete_time IS NOT NULL)".to_owned(), vec![])
    );
}

#[test]
fn injection_attempts_are_values_or_errors() {
    let (text, values) = sql(r#"tag = "x' OR 1=1 --""#, Some("users/a"));
    assert!(!text.contains("1=1") && !text.contains('\''), "{text}");
    assert_eq!(values, [SqlValue::Text("x' or 1=1 --".into())]);
    let (text, values) = sql(r#"owner = "users/x'); DROP TABLE items; --""#, None);
    assert_eq!(text, "(items.owner = $1)");
    assert_eq!(
        values,
        [SqlValue::Text("users/x'); DROP TABLE items; --".into())]
    );
    let (text, _) = sql(r#"folder = "a\" OR \"1\"=\"1*""#, None);
    assert_eq!(text, "(substr(items.folder, 1, $1) = $2)");
    for hostile in [
        r#"title = "x' OR 1=1 --""#,
        "tag = x; DROP TABLE items",
        "tag = x -- comment",
        "kind = note' OR '1'='1",
        "kind = \"note' OR '1'='1\"",
        "confidence_score > 0 OR 1=1",
        "items.owner = x",
    ] {
        error(hostile);
    }
}
