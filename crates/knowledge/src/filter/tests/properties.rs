//! Property tests: no input panics the parser, whatever parses compiles to well-formed SQL with
//! every value bound, and printed trees parse back to themselves (precedence).

use proptest::prelude::*;

use super::*;

/// Comparisons and the expression each parses to.
fn atoms() -> Vec<(&'static str, Expr)> {
    vec![
        ("tag = a", tag("a")),
        (
            "tag != \"B c\"",
            compare(Field::Tag, Operator::Ne, Value::Text("b c".into())),
        ),
        (
            "kind = project",
            compare(Field::Kind, Operator::Eq, Value::Text("project".into())),
        ),
        ("-tag = d", not(tag("d"))),
        (
            "confidence_score >= 0.5",
            compare(Field::ConfidenceScore, Operator::Ge, Value::Number(0.5)),
        ),
        (
            "owner = users/me",
            compare(Field::Owner, Operator::Eq, Value::Me),
        ),
        (
            "folder = \"0*\"",
            compare(Field::Folder, Operator::Eq, Value::Prefix("0".into())),
        ),
        (
            "update_time < \"2025-01-01T00:00:00Z\"",
            compare(
                Field::UpdateTime,
                Operator::Lt,
                Value::Time {
                    micros: 1_735_689_600_000_000,
                    exact: true,
                },
            ),
        ),
    ]
}

#[derive(Clone, Debug)]
enum Tree {
    Atom(usize),
    /// Parts, and whether they are joined by juxtaposition rather than `AND`.
    And(Vec<Tree>, bool),
    Or(Vec<Tree>),
    /// Negated with `-` rather than `NOT`.
    Not(Box<Tree>, bool),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = (0..atoms().len()).prop_map(Tree::Atom);
    leaf.prop_recursive(5, 32, 3, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 2..4), any::<bool>())
                .prop_map(|(parts, juxtaposed)| Tree::And(parts, juxtaposed)),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Tree::Or),
            (inner, any::<bool>()).prop_map(|(tree, minus)| Tree::Not(Box::new(tree), minus)),
        ]
    })
}

/// The tree as text, with parentheses only where precedence needs them.
fn print(tree: &Tree) -> String {
    let atoms = atoms();
    let grouped = |tree: &Tree, needs: bool| {
        if needs {
            format!("({})", print(tree))
        } else {
            print(tree)
        }
    };
    match tree {
        Tree::Atom(index) => atoms[*index].0.to_owned(),
        Tree::And(parts, juxtaposed) => parts
            .iter()
            .map(|part| grouped(part, matches!(part, Tree::And(..))))
            .collect::<Vec<_>>()
            .join(if *juxtaposed { " " } else { " AND " }),
        Tree::Or(parts) => parts
            .iter()
            .map(|part| grouped(part, matches!(part, Tree::And(..) | Tree::Or(_))))
            .collect::<Vec<_>>()
            .join(" OR "),
        Tree::Not(inner, minus) => {
            let simple = matches!(**inner, Tree::Atom(index) if !atoms[index].0.starts_with('-'));
            let operand = grouped(inner, !simple);
            if *minus {
                format!("-{operand}")
            } else {
                format!("NOT {operand}")
            }
        }
    }
}

fn expected(tree: &Tree) -> Expr {
    match tree {
        Tree::Atom(index) => atoms()[*index].1.clone(),
        Tree::And(parts, _) => Expr::And(parts.iter().map(expected).collect()),
        Tree::Or(parts) => Expr::Or(parts.iter().map(expected).collect()),
        Tree::Not(inner, _) => not(expected(inner)),
    }
}

const TOKENS: &[&str] = &[
    "tag",
    "kind",
    "owner",
    "folder",
    "confidence_score",
    "update_time",
    "delete_time",
    "title",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    ":",
    "!",
    "(",
    ")",
    "-",
    "AND",
    "OR",
    "NOT",
    "and",
    "\"x\"",
    "\"",
    "\\",
    "'",
    ",",
    "project",
    "KIND_NOTE",
    "0.5",
    "-1",
    "1e9",
    "users/me",
    "\"users/b\"",
    "\"03*\"",
    "\"2025-01-01T00:00:00Z\"",
    "\"x' OR 1=1 --\"",
    ";",
    "é",
    "\u{0}",
    " ",
    "\t",
];

/// Checks an outcome: an error names `filter` and an offset inside the input; a filter compiles
/// to SQL with balanced parentheses, no quotes, and one placeholder per bound value.
fn check(text: &str) -> Result<(), TestCaseError> {
    match Filter::parse(text) {
        Err(error) => {
            let message = error.to_string();
            prop_assert!(message.starts_with("filter: "), "{}", message);
            if let Some((_, offset)) = message.rsplit_once("(at byte ") {
                let offset: usize = offset.trim_end_matches(')').parse().expect("offset");
                prop_assert!(offset <= text.len());
            } else {
                prop_assert!(message.contains("at most 2048 bytes"), "{}", message);
            }
        }
        Ok(filter) => {
            let (sql, values) = filter.to_sql(Some("users/a")).render();
            prop_assert!(!sql.contains('\'') && !sql.contains(';'), "{}", sql);
            prop_assert_eq!(sql.matches('(').count(), sql.matches(')').count());
            prop_assert_eq!(sql.matches('$').count(), values.len());
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn printable_input_never_panics(text in "\\PC{0,200}") {
        check(&text)?;
    }

    #[test]
    fn token_soup_never_panics(
        tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..48),
        spaced in any::<bool>(),
    ) {
        check(&tokens.join(if spaced { " " } else { "" }))?;
    }

    #[test]
    fn printed_trees_parse_back_with_aip160_precedence(tree in tree()) {
        let text = print(&tree);
        let parsed = Filter::parse(&text).map_err(|error| TestCaseError::fail(format!("{text}: {error}")))?;
        prop_assert_eq!(parsed.expr, Some(expected(&tree)), "{}", text);
        check(&text)?;
    }
}
