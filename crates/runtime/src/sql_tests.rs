use pake_core::filter::value::Time;

use super::*;

#[test]
fn values_are_numbered_in_order_of_appearance() {
    let mut inner = SqlFragment::new();
    inner
        .sql("b = ")
        .value(SqlValue::Text("x' OR 1=1 --".into()));
    let mut fragment = SqlFragment::new();
    fragment
        .sql("a = ")
        .value(SqlValue::Int(1))
        .sql(" AND ")
        .append(&inner)
        .sql(" AND c < ")
        .value(SqlValue::Float(0.5));
    let (sql, values) = fragment.render();
    assert_eq!(sql, "a = $1 AND b = $2 AND c < $3");
    assert_eq!(
        values,
        [
            SqlValue::Int(1),
            SqlValue::Text("x' OR 1=1 --".into()),
            SqlValue::Float(0.5)
        ]
    );
    assert!(SqlFragment::new().is_empty());
}

#[test]
fn filters_compile_with_parentheses_and_bound_leaves() {
    let expr = Expr::And(vec![
        Expr::Compare(1),
        Expr::Or(vec![
            Expr::Compare(2),
            Expr::Not(Box::new(Expr::Compare(3))),
        ]),
    ]);
    let mut sql = SqlFragment::new();
    compile_filter(&expr, &mut sql, &mut |leaf: &i64, sql| {
        compare(sql, "t.c", Operator::Eq, SqlValue::Int(*leaf));
    });
    assert_eq!(
        sql.render(),
        (
            "((t.c = $1) AND ((t.c = $2) OR (NOT (t.c = $3))))".to_owned(),
            vec![SqlValue::Int(1), SqlValue::Int(2), SqlValue::Int(3)]
        )
    );
}

#[test]
fn conjunctions_skip_empty_conditions() {
    let mut a = SqlFragment::new();
    a.sql("(a = ").value(SqlValue::Bool(true)).sql(")");
    let mut b = SqlFragment::new();
    b.sql("(b)");
    let empty = SqlFragment::new();
    assert_eq!(
        all_of(&[&empty, &a, &empty, &b]).render().0,
        "(a = $1) AND (b)"
    );
    assert_eq!(all_of(&[&a]), a);
    assert!(all_of(&[&empty]).is_empty());
}

#[test]
fn helpers_bind_every_value() {
    let render = |build: &dyn Fn(&mut SqlFragment)| {
        let mut sql = SqlFragment::new();
        build(&mut sql);
        sql.render()
    };
    let exact = Time {
        micros: 5,
        exact: true,
    };
    let between = Time {
        micros: 5,
        exact: false,
    };
    assert_eq!(
        render(&|sql| compare_time(sql, "t.x", true, Operator::Lt, exact)),
        (
            "(t.x IS NOT NULL AND t.x < $1)".to_owned(),
            vec![SqlValue::Int(5)]
        )
    );
    assert_eq!(
        render(&|sql| compare_time(sql, "t.x", false, Operator::Ge, between)),
        ("(t.x > $1)".to_owned(), vec![SqlValue::Int(5)])
    );
    assert_eq!(
        render(&|sql| compare_time(sql, "t.x", true, Operator::Ne, between)).0,
        "(t.x IS NOT NULL)"
    );
    assert_eq!(
        render(&|sql| compare_time(sql, "t.x", false, Operator::Eq, between)).0,
        "(1 = 0)"
    );
    assert_eq!(
        render(&|sql| compare_prefix(sql, "t.x", Operator::Ne, "é/")),
        (
            "(substr(t.x, 1, $1) <> $2)".to_owned(),
            vec![SqlValue::Int32(2), SqlValue::Text("é/".into())]
        )
    );
    assert_eq!(
        render(&|sql| contains(sql, "t.x", "a'b")),
        (
            "(replace(t.x, $1, '') <> t.x)".to_owned(),
            vec![SqlValue::Text("a'b".into())]
        )
    );
    assert_eq!(render(&|sql| contains(sql, "t.x", "")).0, "(1 = 1)");
}

#[test]
fn keysets_compare_each_prefix_of_the_order() {
    let title = SortValue::Text("B".into());
    let time = SortValue::Int(5);
    let keys = [
        KeysetKey {
            expression: "LOWER(t.title)",
            descending: false,
            value: &title,
            value_function: Some("LOWER"),
        },
        KeysetKey {
            expression: "t.time",
            descending: true,
            value: &time,
            value_function: None,
        },
    ];
    let (sql, values) = keyset_after(&keys, "t.id", true, "x").render();
    assert_eq!(
        sql,
        "((LOWER(t.title) > LOWER($1)) OR (LOWER(t.title) = LOWER($2) AND t.time < $3) OR \
         (LOWER(t.title) = LOWER($4) AND t.time = $5 AND t.id < $6))"
    );
    assert_eq!(values.len(), 6);
    let mut sql = SqlFragment::new();
    order_by(&mut sql, &[("a", false), ("b", true)], "t.id", false);
    assert_eq!(sql.render().0, " ORDER BY a ASC, b DESC, t.id ASC");
}
