use super::*;

fn sql(text: &str) -> (String, Vec<SqlValue>) {
    sql_locked(text, &Lockouts::default())
}

fn sql_locked(text: &str, locked: &Lockouts) -> (String, Vec<SqlValue>) {
    let filter = parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    to_sql(&filter, locked).render()
}

fn texts(values: &[&str]) -> Vec<SqlValue> {
    values
        .iter()
        .map(|value| SqlValue::Text((*value).into()))
        .collect()
}

fn error(text: &str) -> String {
    let error = parse(text).expect_err(text).to_string();
    assert!(error.starts_with("filter: "), "{text}: {error}");
    error
}

#[test]
fn text_fields_are_normalised_like_the_stored_keys() {
    assert_eq!(
        sql("username = \"ＡＬＩＣＥ\""),
        (
            "(users.username_key = $1)".to_owned(),
            vec![SqlValue::Text("alice".into())]
        )
    );
    assert_eq!(
        sql("email : \"@EXAMPLE.org\""),
        (
            "(replace(COALESCE(users.email_key, ''), $1, '') <> COALESCE(users.email_key, ''))"
                .to_owned(),
            vec![SqlValue::Text("@example.org".into())]
        )
    );
    // Display names are stored as typed and compared as typed.
    assert_eq!(
        sql("display_name != \"Ada L.\"").1,
        [SqlValue::Text("Ada L.".into())]
    );
}

#[test]
fn roles_state_and_flags() {
    assert_eq!(
        sql("roles:ROLE_ADMIN"),
        (
            "(replace((',' || users.roles || ','), $1, '') <> (',' || users.roles || ','))"
                .to_owned(),
            vec![SqlValue::Text(",admin,".into())]
        )
    );
    assert_eq!(sql("roles : editor").1, [SqlValue::Text(",editor,".into())]);
    assert_eq!(
        sql("state = STATE_DISABLED"),
        (
            "(users.disabled = $1)".to_owned(),
            vec![SqlValue::Bool(true)]
        )
    );
    // Nothing locked: LOCKED matches nobody, ACTIVE every user not disabled.
    assert_eq!(
        sql("state != active"),
        (
            "(NOT ((users.disabled = $1) AND (NOT (1 = 0))))".to_owned(),
            vec![SqlValue::Bool(false)]
        )
    );
    assert_eq!(
        sql("state = STATE_LOCKED").0,
        "((users.disabled = $1) AND (1 = 0))"
    );
    assert_eq!(
        sql("NOT state = STATE_LOCKED").0,
        "(NOT ((users.disabled = $1) AND (1 = 0)))"
    );
    assert_eq!(
        sql("service_account = true disabled != FALSE"),
        (
            "((users.service_account = $1) AND (users.disabled <> $2))".to_owned(),
            vec![SqlValue::Bool(true), SqlValue::Bool(false)]
        )
    );
}

#[test]
fn lockouts_bind_the_locked_users_ids() {
    // Users are locked as `users/{id}`; locked names no user has match nobody.
    let locked =
        Lockouts::new(["users/ada-1", "name:bob@example.org", "users/cy-3"].map(String::from));
    assert_eq!(locked.len(), 2);
    assert_eq!(
        sql_locked("state = STATE_LOCKED", &locked),
        (
            "((users.disabled = $1) AND users.id IN ($2, $3))".to_owned(),
            [vec![SqlValue::Bool(false)], texts(&["ada-1", "cy-3"])].concat()
        )
    );
    assert_eq!(
        sql_locked("state = STATE_ACTIVE", &locked).0,
        "((users.disabled = $1) AND (NOT users.id IN ($2, $3)))"
    );
    let only_names = Lockouts::new(["name:bob@example.org".to_owned()]);
    assert!(only_names.is_empty());
    assert_eq!(
        sql_locked("state != STATE_LOCKED", &only_names),
        (
            "(NOT ((users.disabled = $1) AND (1 = 0)))".to_owned(),
            vec![SqlValue::Bool(false)]
        )
    );
    // Hostile ids stay bound values.
    let hostile = Lockouts::new(["users/x') OR 1=1 --".to_owned()]);
    let (text, values) = sql_locked("state = STATE_LOCKED AND state = STATE_DISABLED", &hostile);
    assert!(!text.contains("1=1"), "{text}");
    assert_eq!(values.len(), 3);
}

#[test]
fn only_filters_on_state_need_the_lockouts() {
    let count = |text: &str| state_comparisons(&parse(text).expect(text));
    assert_eq!(count(""), 0);
    assert_eq!(count("username = ada AND disabled = false"), 0);
    assert_eq!(count("state = STATE_LOCKED"), 1);
    assert_eq!(
        count("NOT (state = STATE_ACTIVE OR roles:admin) AND state != STATE_DISABLED"),
        2
    );
}

#[test]
fn times_compare_and_never_signed_in_users_compare_false() {
    assert_eq!(
        sql("create_time >= \"2025-01-01T00:00:00Z\""),
        (
            "(users.create_time >= $1)".to_owned(),
            vec![SqlValue::Int(1_735_689_600_000_000)]
        )
    );
    assert_eq!(
        sql("last_sign_in_time < \"1970-01-01T00:00:01Z\"").0,
        "(users.last_sign_in_time IS NOT NULL AND users.last_sign_in_time < $1)"
    );
}

#[test]
fn unknown_fields_operators_and_values_are_refused() {
    for (text, message) in [
        (
            "password = x",
            "unknown field `password`; filterable fields: username",
        ),
        ("roles = ROLE_ADMIN", "`roles` takes only `:`, not `=`"),
        (
            "username < b",
            "`username` takes only `=`, `!=`, `:`, not `<`",
        ),
        ("state : active", "`state` takes only `=`, `!=`"),
        ("roles : ROLE_UNSPECIFIED", "not a role"),
        ("state = STATE_UNSPECIFIED", "not a user state"),
        ("disabled = yes", "not a boolean"),
        ("create_time > 2025", "in double quotes"),
    ] {
        let error = error(text);
        assert!(error.contains(message), "{text}: {error}");
    }
}

#[test]
fn hostile_values_stay_bound() {
    let (text, values) =
        sql(r#"display_name = "x' OR 1=1 --" OR username : "'; DROP TABLE users""#);
    assert!(!text.contains("1=1") && !text.contains("DROP"), "{text}");
    assert_eq!(values.len(), 2);
}
