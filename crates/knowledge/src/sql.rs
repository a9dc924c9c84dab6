//! SQL assembled from fixed text and bound values only.
//!
//! A [`SqlFragment`] is a sequence of `&'static str` pieces (text written in this crate's code)
//! and values. Rendering numbers the values `$1, $2, …` in order of appearance, each used once,
//! which both SQLite and PostgreSQL accept. Text that came from a request can only ever be a
//! bound value: the type leaves no way to splice it into the SQL.

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

/// Binds `values` in order to a `sqlx` query of either backend.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                $crate::sql::SqlValue::Int(value) => query.bind(*value),
                $crate::sql::SqlValue::Int32(value) => query.bind(*value),
                $crate::sql::SqlValue::Float(value) => query.bind(*value),
                $crate::sql::SqlValue::Text(value) => query.bind(value.clone()),
            };
        }
        query
    }};
}
pub(crate) use bind_values;

#[cfg(test)]
mod tests {
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
}
