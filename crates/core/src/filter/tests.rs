//! The parser against a small test schema: precedence, operators, error offsets and limits.

use super::value::{Time, boolean, number, quoted_timestamp};
use super::*;

mod properties;

/// Fields: `word` (text: `=`, `!=`, `:`), `n` (number: every operator but `:`), `t` (quoted
/// time: ordering only), `flag` (boolean: `=`, `!=`).
struct TestSchema;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Field {
    Word,
    Number,
    Time,
    Flag,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Text(String),
    Number(f64),
    Time(Time),
    Flag(bool),
}

type Comparison = (Field, Operator, Value);

impl Schema for TestSchema {
    type Field = Field;
    type Comparison = Comparison;

    fn field(&self, name: &str) -> Result<Field, String> {
        match name {
            "word" => Ok(Field::Word),
            "n" => Ok(Field::Number),
            "t" => Ok(Field::Time),
            "flag" => Ok(Field::Flag),
            _ => Err(unknown_field(name, &["word", "n", "t", "flag"])),
        }
    }

    fn check_operator(&self, field: Field, operator: Operator) -> Result<(), String> {
        let allowed = match field {
            Field::Word => matches!(operator, Operator::Eq | Operator::Ne | Operator::Has),
            Field::Number => operator != Operator::Has,
            Field::Time => operator.is_ordering(),
            Field::Flag => matches!(operator, Operator::Eq | Operator::Ne),
        };
        if allowed {
            Ok(())
        } else {
            Err(format!("not `{}` here", operator.symbol()))
        }
    }

    fn comparison(
        &self,
        field: Field,
        operator: Operator,
        value: RawValue<'_>,
    ) -> Result<Comparison, String> {
        let value = match field {
            Field::Word => Value::Text(value.text.to_owned()),
            Field::Number => Value::Number(number("n", value.text)?),
            Field::Time => Value::Time(quoted_timestamp("t", value)?),
            Field::Flag => Value::Flag(boolean("flag", value.text)?),
        };
        Ok((field, operator, value))
    }
}

fn parse_ok(text: &str) -> Expr<Comparison> {
    parse(text, &TestSchema)
        .unwrap_or_else(|error| panic!("{text:?} should parse: {error}"))
        .unwrap_or_else(|| panic!("{text:?} is not empty"))
}

fn error(text: &str) -> String {
    let error = parse(text, &TestSchema).expect_err(text).to_string();
    assert!(error.starts_with("filter: "), "{text:?}: {error}");
    error
}

fn word(value: &str) -> Expr<Comparison> {
    Expr::Compare((Field::Word, Operator::Eq, Value::Text(value.into())))
}

fn not(expr: Expr<Comparison>) -> Expr<Comparison> {
    Expr::Not(Box::new(expr))
}

#[test]
fn blank_is_none() {
    for text in ["", " ", "\n\t "] {
        assert_eq!(parse(text, &TestSchema).expect("parses"), None);
    }
}

#[test]
fn or_binds_tighter_than_and_and_juxtaposition_is_and() {
    let (a, b, c) = (word("a"), word("b"), word("c"));
    let a_and_b_or_c = Expr::And(vec![a.clone(), Expr::Or(vec![b.clone(), c.clone()])]);
    assert_eq!(parse_ok("word = a AND word = b OR word = c"), a_and_b_or_c);
    assert_eq!(parse_ok("word = a word = b OR word = c"), a_and_b_or_c);
    assert_eq!(
        parse_ok("(word = a AND word = b) OR word = c"),
        Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        parse_ok("NOT word = a OR -word = b"),
        Expr::Or(vec![not(a.clone()), not(b.clone())])
    );
    assert_eq!(parse_ok("((word=a))"), a);
}

#[test]
fn every_operator_reaches_the_schema() {
    use Operator::*;
    let cases = [
        ("word = x", (Field::Word, Eq, Value::Text("x".into()))),
        (
            "word != \"x y\"",
            (Field::Word, Ne, Value::Text("x y".into())),
        ),
        ("word:x", (Field::Word, Has, Value::Text("x".into()))),
        (
            "word : \"a\\\"b\"",
            (Field::Word, Has, Value::Text("a\"b".into())),
        ),
        ("n < -1", (Field::Number, Lt, Value::Number(-1.0))),
        ("n <= 2", (Field::Number, Le, Value::Number(2.0))),
        ("n > .5", (Field::Number, Gt, Value::Number(0.5))),
        ("n >= 1e3", (Field::Number, Ge, Value::Number(1000.0))),
        (
            "t >= \"1970-01-01T00:00:01Z\"",
            (
                Field::Time,
                Ge,
                Value::Time(Time {
                    micros: 1_000_000,
                    exact: true,
                }),
            ),
        ),
        (
            "t < \"1970-01-01T00:00:00.0000005Z\"",
            (
                Field::Time,
                Lt,
                Value::Time(Time {
                    micros: 0,
                    exact: false,
                }),
            ),
        ),
        ("flag = TRUE", (Field::Flag, Eq, Value::Flag(true))),
        ("flag != false", (Field::Flag, Ne, Value::Flag(false))),
    ];
    for (text, comparison) in cases {
        assert_eq!(parse_ok(text), Expr::Compare(comparison), "{text}");
    }
}

#[test]
fn errors_name_the_filter_and_the_byte_offset() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "title = x",
            0,
            "unknown field `title`; filterable fields: word, n, t, flag",
        ),
        ("word < x", 5, "not `<` here"),
        ("flag : x", 5, "not `:` here"),
        ("t = \"2025-01-01T00:00:00Z\"", 2, "not `=` here"),
        ("t > 2025", 4, "in double quotes"),
        ("t > \"2025-02-30T00:00:00Z\"", 4, "not an RFC 3339"),
        ("n > high", 4, "not a number"),
        ("flag = yes", 7, "not a boolean"),
        ("word = \"open", 7, "unterminated string"),
        ("word = 'x'", 7, "double quotes"),
        ("word", 4, "expected an operator after `word`"),
        ("word x", 5, "expected an operator after `word`"),
        ("word = x AND", 12, "found the end"),
        ("OR word = x", 0, "keyword OR"),
        ("!word = x", 0, "expected `!=`"),
        ("(word = x", 9, "missing `)` for the `(` at byte 0"),
        ("word = x)", 8, "unbalanced `)`"),
        ("word = x, n = 1", 8, "unexpected character"),
    ];
    for (text, offset, message) in cases {
        let error = error(text);
        assert!(
            error.contains(message) && error.ends_with(&format!("(at byte {offset})")),
            "{text:?}: {error}"
        );
    }
}

#[test]
fn limits_on_length_comparisons_and_nesting() {
    let comparisons = |n: usize| vec!["word = x"; n].join(" AND ");
    assert!(parse(&comparisons(MAX_COMPARISONS), &TestSchema).is_ok());
    assert!(error(&comparisons(MAX_COMPARISONS + 1)).contains("more than 64 comparisons"));
    let nested = |depth: usize| format!("{}word = x{}", "(".repeat(depth), ")".repeat(depth));
    assert!(parse(&nested(MAX_DEPTH), &TestSchema).is_ok());
    assert!(error(&nested(MAX_DEPTH + 1)).ends_with("deeper than 16 (at byte 16)"));
    assert!(error(&"x".repeat(MAX_LENGTH + 1)).contains("at most 2048 bytes"));
}
