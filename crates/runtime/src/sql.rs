//! SQL assembled from fixed text and bound values only, and the pieces every list query shares:
//! filter trees compiled to conditions, and keyset pagination.
//!
//! A [`SqlFragment`] is a sequence of `&'static str` pieces (text written in PAKE's code) and
//! values. Rendering numbers the values `$1, $2, …` in order of appearance, each used once,
//! which both SQLite and PostgreSQL accept. Text that came from a request can only ever be a
//! bound value: the type leaves no way to splice it into the SQL.

use pake_core::filter::value::Time;
use pake_core::filter::{Expr, Operator};
use pake_core::paging::SortValue;

/// A value bound to a placeholder.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// A `BIGINT` (times in microseconds).
    Int(i64),
    /// An `INTEGER` (PostgreSQL functions such as `substr` take `int4`).
    Int32(i32),
    /// A `DOUBLE PRECISION` / `REAL`.
    Float(f64),
    /// `TEXT`.
    Text(String),
    /// A `BOOLEAN` (an `INTEGER` 0 or 1 on SQLite).
    Bool(bool),
}

impl From<&SortValue> for SqlValue {
    fn from(value: &SortValue) -> Self {
        match value {
            SortValue::Int(value) => SqlValue::Int(*value),
            SortValue::Float(value) => SqlValue::Float(*value),
            SortValue::Text(value) => SqlValue::Text(value.clone()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Sql(&'static str),
    Value(SqlValue),
}

/// Part of a SQL statement: fixed text and bound values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SqlFragment {
    pieces: Vec<Piece>,
}

impl SqlFragment {
    /// An empty fragment.
    pub fn new() -> Self {
        SqlFragment::default()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Appends fixed SQL text.
    pub fn sql(&mut self, text: &'static str) -> &mut Self {
        self.pieces.push(Piece::Sql(text));
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn value(&mut self, value: SqlValue) -> &mut Self {
        self.pieces.push(Piece::Value(value));
        self
    }

    /// Appends another fragment.
    pub fn append(&mut self, other: &SqlFragment) -> &mut Self {
        self.pieces.extend(other.pieces.iter().cloned());
        self
    }

    /// The SQL text with `$n` placeholders, and the values to bind in order.
    pub fn render(&self) -> (String, Vec<SqlValue>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Sql(text) => sql.push_str(text),
                Piece::Value(value) => {
                    values.push(value.clone());
                    sql.push('$');
                    sql.push_str(&values.len().to_string());
                }
            }
        }
        (sql, values)
    }
}

/// Binds `values` (`&[SqlValue]`) in order to a `sqlx` query of either backend.
#[macro_export]
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                $crate::sql::SqlValue::Int(value) => query.bind(*value),
                $crate::sql::SqlValue::Int32(value) => query.bind(*value),
                $crate::sql::SqlValue::Float(value) => query.bind(*value),
                $crate::sql::SqlValue::Text(value) => query.bind(value.clone()),
                $crate::sql::SqlValue::Bool(value) => query.bind(*value),
            };
        }
        query
    }};
}

/// The conjunction of the non-empty `conditions` (each already parenthesised, as every builder
/// here writes them); empty when all are.
pub fn all_of(conditions: &[&SqlFragment]) -> SqlFragment {
    let mut sql = SqlFragment::new();
    for condition in conditions.iter().filter(|condition| !condition.is_empty()) {
        if !sql.is_empty() {
            sql.sql(" AND ");
        }
        sql.append(condition);
    }
    sql
}

/// Appends `expr` as a condition: `AND`, `OR` and `NOT` in parentheses, each comparison written
/// by `comparison`.
pub fn compile_filter<C>(
    expr: &Expr<C>,
    sql: &mut SqlFragment,
    comparison: &mut dyn FnMut(&C, &mut SqlFragment),
) {
    match expr {
        Expr::And(parts) | Expr::Or(parts) => {
            let joint = if matches!(expr, Expr::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.sql("(");
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    sql.sql(joint);
                }
                compile_filter(part, sql, comparison);
            }
            sql.sql(")");
        }
        Expr::Not(inner) => {
            sql.sql("(NOT ");
            compile_filter(inner, sql, comparison);
            sql.sql(")");
        }
        Expr::Compare(leaf) => comparison(leaf, sql),
    }
}

/// The SQL of a comparison operator, spaced (` <> `); `None` for `:`, which each field defines.
pub fn comparison_operator(operator: Operator) -> Option<&'static str> {
    match operator {
        Operator::Eq => Some(" = "),
        Operator::Ne => Some(" <> "),
        Operator::Lt => Some(" < "),
        Operator::Le => Some(" <= "),
        Operator::Gt => Some(" > "),
        Operator::Ge => Some(" >= "),
        Operator::Has => None,
    }
}

/// `(column OP $n)`; `:` compares for equality.
pub fn compare(sql: &mut SqlFragment, column: &'static str, operator: Operator, value: SqlValue) {
    sql.sql("(")
        .sql(column)
        .sql(comparison_operator(operator).unwrap_or(" = "))
        .value(value)
        .sql(")");
}

/// A comparison of the time column `column` (whole microseconds) with `time`. When `nullable`,
/// rows where the column is NULL compare false (never NULL), so that `NOT` negates the
/// comparison like any other.
pub fn compare_time(
    sql: &mut SqlFragment,
    column: &'static str,
    nullable: bool,
    operator: Operator,
    time: Time,
) {
    // Times are stored in whole microseconds; a value between `micros` and `micros + 1` equals
    // no stored time and orders like this.
    let adjusted = match (time.exact, operator) {
        (true, operator) => Some(operator),
        (false, Operator::Lt | Operator::Le) => Some(Operator::Le),
        (false, Operator::Gt | Operator::Ge) => Some(Operator::Gt),
        (false, _) => None,
    };
    match adjusted {
        Some(adjusted) => {
            sql.sql("(");
            if nullable {
                sql.sql(column).sql(" IS NOT NULL AND ");
            }
            sql.sql(column)
                .sql(comparison_operator(adjusted).unwrap_or(" = "))
                .value(SqlValue::Int(time.micros))
                .sql(")");
        }
        None if operator == Operator::Ne && nullable => {
            sql.sql("(").sql(column).sql(" IS NOT NULL)");
        }
        None if operator == Operator::Ne => {
            sql.sql("(1 = 1)");
        }
        None => {
            sql.sql("(1 = 0)");
        }
    }
}

/// Whether the text column `column` starts (`=`) or does not start (`!=`) with `prefix`.
/// `substr` counts characters in both dialects; unlike LIKE it has no wildcards to escape and is
/// case-sensitive on SQLite too.
pub fn compare_prefix(
    sql: &mut SqlFragment,
    column: &'static str,
    operator: Operator,
    prefix: &str,
) {
    let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    sql.sql("(substr(")
        .sql(column)
        .sql(", 1, ")
        .value(SqlValue::Int32(length))
        .sql(")")
        .sql(if operator == Operator::Ne {
            " <> "
        } else {
            " = "
        })
        .value(SqlValue::Text(prefix.to_owned()))
        .sql(")");
}

/// Whether the text expression `column` contains `needle`, case-sensitively, in both dialects
/// (`replace` removes every occurrence; no LIKE wildcards to escape, and SQLite's LIKE would
/// ignore ASCII case where PostgreSQL's does not). Everything contains the empty text.
pub fn contains(sql: &mut SqlFragment, column: &'static str, needle: &str) {
    if needle.is_empty() {
        sql.sql("(1 = 1)");
        return;
    }
    sql.sql("(replace(")
        .sql(column)
        .sql(", ")
        .value(SqlValue::Text(needle.to_owned()))
        .sql(", '') <> ")
        .sql(column)
        .sql(")");
}

/// One key of a keyset order and the previous page's last value for it.
#[derive(Clone, Debug)]
pub struct KeysetKey<'a> {
    /// The SQL expression rows are ordered by.
    pub expression: &'static str,
    /// Whether the key sorts descending.
    pub descending: bool,
    /// The previous page's last value of the key.
    pub value: &'a SortValue,
    /// A function applied to the bound value before comparing (`LOWER` when the expression
    /// lower-cases its column), or none.
    pub value_function: Option<&'static str>,
}

/// The condition "sorts after the previous page's last row": `(k1 > v1) OR (k1 = v1 AND k2 >
/// v2) OR … OR (k1 = v1 AND … AND id > id0)`, with `<` for descending keys and, for the id, in
/// the direction `id_descending`.
pub fn keyset_after(
    keys: &[KeysetKey<'_>],
    id_column: &'static str,
    id_descending: bool,
    id: &str,
) -> SqlFragment {
    let push_key = |sql: &mut SqlFragment, key: &KeysetKey<'_>, operator: &'static str| {
        sql.sql(key.expression).sql(operator);
        match key.value_function {
            Some(function) => {
                sql.sql(function)
                    .sql("(")
                    .value(SqlValue::from(key.value))
                    .sql(")");
            }
            None => {
                sql.value(SqlValue::from(key.value));
            }
        }
    };
    let mut sql = SqlFragment::new();
    sql.sql("(");
    for index in 0..=keys.len() {
        if index > 0 {
            sql.sql(" OR ");
        }
        sql.sql("(");
        for key in keys.iter().take(index) {
            push_key(&mut sql, key, " = ");
            sql.sql(" AND ");
        }
        match keys.get(index) {
            Some(key) => push_key(&mut sql, key, if key.descending { " < " } else { " > " }),
            None => {
                sql.sql(id_column)
                    .sql(if id_descending { " < " } else { " > " })
                    .value(SqlValue::Text(id.to_owned()));
            }
        }
        sql.sql(")");
    }
    sql.sql(")");
    sql
}

/// ` ORDER BY e1 ASC, e2 DESC, …, id_column DESC` for `(expression, descending)` keys.
pub fn order_by(
    sql: &mut SqlFragment,
    keys: &[(&'static str, bool)],
    id_column: &'static str,
    id_descending: bool,
) {
    sql.sql(" ORDER BY ");
    for (expression, descending) in keys {
        sql.sql(expression)
            .sql(if *descending { " DESC, " } else { " ASC, " });
    }
    sql.sql(id_column)
        .sql(if id_descending { " DESC" } else { " ASC" });
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
