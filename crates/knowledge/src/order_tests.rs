use super::*;

fn key(field: SortField, descending: bool) -> SortKey {
    SortKey { field, descending }
}

#[test]
fn parses_fields_directions_and_spacing() {
    assert_eq!(Order::parse("").expect("empty"), Order::default());
    assert_eq!(Order::parse("  ").expect("blank"), Order::default());
    assert_eq!(
        Order::default().keys(),
        [key(SortField::UpdateTime, true)],
        "empty means update_time desc"
    );
    assert_eq!(
        Order::parse("confidence_score desc, title")
            .expect("order")
            .keys(),
        [
            key(SortField::ConfidenceScore, true),
            key(SortField::Title, false)
        ]
    );
    assert_eq!(
        Order::parse("  create_time   DESC ,delete_time asc,update_time")
            .expect("order")
            .keys(),
        [
            key(SortField::CreateTime, true),
            key(SortField::DeleteTime, false),
            key(SortField::UpdateTime, false)
        ]
    );
    for field in SortField::ALL {
        for (suffix, descending) in [("", false), (" desc", true)] {
            let order = Order::parse(&format!("{}{suffix}", field.name())).expect("order");
            assert_eq!(order.keys(), [key(field, descending)]);
            assert_eq!(order.canonical(), format!("{}{suffix}", field.name()));
        }
    }
}

#[test]
fn canonical_spelling_and_tie_direction() {
    let order = Order::parse("confidence_score  DESC,title ASC").expect("order");
    assert_eq!(order.canonical(), "confidence_score desc, title");
    assert!(!order.id_descending(), "ties follow the last key");
    assert!(Order::default().id_descending());
    assert_eq!(Order::new(Vec::new()), Order::default());
}

#[test]
fn rejects_unknown_duplicate_and_malformed_entries() {
    for bad in [
        "name",
        "title,",
        ",title",
        "title desc desc",
        "title descending",
        "title, title desc",
        "Title",
        "content",
        "update_time; DROP TABLE items",
        "title -- comment",
    ] {
        let error = Order::parse(bad).expect_err(bad);
        assert!(
            error.to_string().starts_with("order_by: "),
            "{bad}: {error}"
        );
    }
    let error = Order::parse(&"title".repeat(60)).expect_err("too long");
    assert!(error.to_string().contains("256 bytes"), "{error}");
}

#[test]
fn keyset_sql_compares_each_prefix_and_binds_every_value() {
    let order = Order::parse("title, delete_time desc").expect("order");
    let position = ListPosition {
        keys: vec![SortValue::Text("B".into()), SortValue::Int(5)],
        id: "x".into(),
    };
    let (sql, values) = order.after_sql(&position).expect("fits").render();
    assert_eq!(
        sql,
        "((LOWER(items.title) > LOWER($1)) OR (LOWER(items.title) = LOWER($2) AND \
         COALESCE(items.delete_time, -1) < $3) OR (LOWER(items.title) = LOWER($4) AND \
         COALESCE(items.delete_time, -1) = $5 AND items.id < $6))"
    );
    assert_eq!(
        values,
        [
            SqlValue::Text("B".into()),
            SqlValue::Text("B".into()),
            SqlValue::Int(5),
            SqlValue::Text("B".into()),
            SqlValue::Int(5),
            SqlValue::Text("x".into())
        ]
    );

    let mut sql = SqlFragment::new();
    order.select_sql(&mut sql);
    order.order_by_sql(&mut sql);
    assert_eq!(
        sql.render().0,
        ", items.title, COALESCE(items.delete_time, -1) ORDER BY LOWER(items.title) ASC, \
         COALESCE(items.delete_time, -1) DESC, items.id DESC"
    );
    let ascending = Order::parse("delete_time").expect("order");
    let mut sql = SqlFragment::new();
    ascending.order_by_sql(&mut sql);
    assert_eq!(
        sql.render().0,
        " ORDER BY COALESCE(items.delete_time, 9223372036854775807) ASC, items.id ASC"
    );
}

#[test]
fn positions_that_do_not_fit_the_order_are_refused() {
    let order = Order::parse("confidence_score").expect("order");
    let wrong_type = ListPosition {
        keys: vec![SortValue::Int(1)],
        id: "x".into(),
    };
    let wrong_length = ListPosition {
        keys: vec![SortValue::Float(0.5), SortValue::Int(1)],
        id: "x".into(),
    };
    assert!(order.after_sql(&wrong_type).is_none());
    assert!(order.after_sql(&wrong_length).is_none());
}
