//! Property tests of the parser: no input panics it, every error names an offset inside the
//! input, and printed trees parse back to themselves (AIP-160 precedence).

use proptest::prelude::*;

use super::*;

/// Comparisons and the expression each parses to.
fn atoms() -> Vec<(&'static str, Expr<Comparison>)> {
    vec![
        ("word = a", word("a")),
        (
            "word != \"B c\"",
            Expr::Compare((Field::Word, Operator::Ne, Value::Text("B c".into()))),
        ),
        (
            "word:x",
            Expr::Compare((Field::Word, Operator::Has, Value::Text("x".into()))),
        ),
        ("-word = d", not(word("d"))),
        (
            "n >= 0.5",
            Expr::Compare((Field::Number, Operator::Ge, Value::Number(0.5))),
        ),
        (
            "flag = true",
            Expr::Compare((Field::Flag, Operator::Eq, Value::Flag(true))),
        ),
        (
            "t < \"2025-01-01T00:00:00Z\"",
            Expr::Compare((
                Field::Time,
                Operator::Lt,
                Value::Time(Time {
                    micros: 1_735_689_600_000_000,
                    exact: true,
                }),
            )),
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

fn expected(tree: &Tree) -> Expr<Comparison> {
    match tree {
        Tree::Atom(index) => atoms()[*index].1.clone(),
        Tree::And(parts, _) => Expr::And(parts.iter().map(expected).collect()),
        Tree::Or(parts) => Expr::Or(parts.iter().map(expected).collect()),
        Tree::Not(inner, _) => not(expected(inner)),
    }
}

const TOKENS: &[&str] = &[
    "word",
    "n",
    "t",
    "flag",
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
    "true",
    "0.5",
    "-1",
    "1e9",
    "\"2025-01-01T00:00:00Z\"",
    "\"x' OR 1=1 --\"",
    ";",
    "é",
    "\u{0}",
    " ",
    "\t",
];

/// An outcome is fine when an error names `filter` and an offset inside the input.
fn check(text: &str) -> Result<(), TestCaseError> {
    if let Err(error) = parse(text, &TestSchema) {
        let message = error.to_string();
        prop_assert!(message.starts_with("filter: "), "{}", message);
        if let Some((_, offset)) = message.rsplit_once("(at byte ") {
            let offset: usize = offset.trim_end_matches(')').parse().expect("offset");
            prop_assert!(offset <= text.len());
        } else {
            prop_assert!(message.contains("at most 2048 bytes"), "{}", message);
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
        let parsed = parse(&text, &TestSchema)
            .map_err(|error| TestCaseError::fail(format!("{text}: {error}")))?;
        prop_assert_eq!(parsed, Some(expected(&tree)), "{}", text);
    }
}
