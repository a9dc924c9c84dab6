use super::*;

fn sql(text: &str) -> (String, Vec<SqlValue>) {
    to_sql(&parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))).render()
}

#[test]
fn fields_compile_to_bound_comparisons() {
    assert_eq!(
        sql("type = AUDIT_EVENT_TYPE_SIGN_IN_FAILED OR type != sign_in_succeeded"),
        (
            "((audit_events.event_type = $1) OR (audit_events.event_type <> $2))".to_owned(),
            vec![
                SqlValue::Text("sign_in_failed".into()),
                SqlValue::Text("sign_in_succeeded".into())
            ]
        )
    );
    assert_eq!(
        sql("target = \"users/alice*\" AND actor != \"users/bob\""),
        (
            "((substr(audit_events.target, 1, $1) = $2) AND (audit_events.actor <> $3))".to_owned(),
            vec![
                SqlValue::Int32(11),
                SqlValue::Text("users/alice".into()),
                SqlValue::Text("users/bob".into())
            ]
        )
    );
    assert_eq!(
        sql("client_address = \"10.0.0.1\" create_time >= \"1970-01-01T00:00:01Z\""),
        (
            "((audit_events.client_address = $1) AND (audit_events.create_time >= $2))".to_owned(),
            vec![SqlValue::Text("10.0.0.1".into()), SqlValue::Int(1_000_000)]
        )
    );
    assert_eq!(sql("actor = \"\"").1, [SqlValue::Text(String::new())]);
}

#[test]
fn refusals_name_the_filter() {
    for (text, message) in [
        ("attributes = x", "unknown field `attributes`"),
        ("type = NOPE", "not an audit event type"),
        (
            "type = AUDIT_EVENT_TYPE_UNSPECIFIED",
            "not an audit event type",
        ),
        (
            "client_address != x",
            "`client_address` takes only `=`, not `!=`",
        ),
        (
            "create_time = \"2025-01-01T00:00:00Z\"",
            "takes only `<`, `<=`, `>`, `>=`",
        ),
        ("actor : x", "takes only `=`, `!=`, not `:`"),
    ] {
        let error = parse(text).expect_err(text).to_string();
        assert!(
            error.starts_with("filter: ") && error.contains(message),
            "{text}: {error}"
        );
    }
    let long = format!("target = \"{}\"", "x".repeat(MAX_VALUE + 1));
    assert!(parse(&long).is_err());
}

#[test]
fn orders_and_keysets() {
    assert!(parse_order("").expect("default"));
    assert!(!parse_order("create_time").expect("ascending"));
    assert!(parse_order("create_time DESC").expect("descending"));
    assert!(parse_order("actor").is_err());
    assert_eq!(
        order_by_sql(true).render().0,
        " ORDER BY audit_events.create_time DESC, audit_events.id DESC"
    );
    let position = Position {
        keys: vec![SortValue::Int(5)],
        id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
    };
    assert_eq!(
        after_sql(&position, false).render().0,
        "((audit_events.create_time > $1) OR (audit_events.create_time = $2 AND \
         audit_events.id > $3))"
    );
    assert!(valid_event_id(&position.id));
    assert!(!valid_event_id("../etc"));
}

#[test]
fn events_concerning_a_user_include_resources_under_it() {
    let mut sql = SqlFragment::new();
    compile_filter(
        &Expr::And(vec![concerning("users/a"), created_until(9)]),
        &mut sql,
        &mut compile_comparison,
    );
    assert_eq!(
        sql.render(),
        (
            "(((audit_events.actor = $1) OR (audit_events.target = $2) OR \
             (substr(audit_events.target, 1, $3) = $4)) AND (audit_events.create_time <= $5))"
                .to_owned(),
            vec![
                SqlValue::Text("users/a".into()),
                SqlValue::Text("users/a".into()),
                SqlValue::Int32(8),
                SqlValue::Text("users/a/".into()),
                SqlValue::Int(9)
            ]
        )
    );
}
