//! `ListItemsRequest.filter` (AIP-160): parsed into an [`Expr`] tree, then compiled into a
//! parameterised SQL condition over `items` (and `item_tags`).
//!
//! The grammar, fields and operators are those of the proto comment on `ListItemsRequest.filter`:
//! comparisons `FIELD OP VALUE` combined with `AND`, `OR`, `NOT` (or a leading `-`), parentheses,
//! and whitespace as an implicit `AND`. As AIP-160 says, `OR` binds tighter than `AND`:
//! `a AND b OR c` is `a AND (b OR c)`.
//!
//! The compiled SQL takes column names and operators only from the fixed tables in this module;
//! every value from the filter is a bound parameter ([`SqlFragment`]).

mod parse;
mod value;

use pake_core::Error;

use crate::sql::{SqlFragment, SqlValue};

/// Maximum filter length in bytes.
pub const MAX_LENGTH: usize = 2048;
/// Maximum number of comparisons in one filter.
pub const MAX_COMPARISONS: usize = 64;
/// Maximum nesting of parentheses.
pub const MAX_DEPTH: usize = 16;

/// A filterable field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Tag,
    Kind,
    Status,
    Verification,
    Visibility,
    ConfidenceScore,
    Owner,
    Folder,
    CreateTime,
    UpdateTime,
    DeleteTime,
}

impl Field {
    const ALL: [Field; 11] = [
        Field::Tag,
        Field::Kind,
        Field::Status,
        Field::Verification,
        Field::Visibility,
        Field::ConfidenceScore,
        Field::Owner,
        Field::Folder,
        Field::CreateTime,
        Field::UpdateTime,
        Field::DeleteTime,
    ];

    /// The field's name in filters.
    pub fn name(self) -> &'static str {
        match self {
            Field::Tag => "tag",
            Field::Kind => "kind",
            Field::Status => "status",
            Field::Verification => "verification",
            Field::Visibility => "visibility",
            Field::ConfidenceScore => "confidence_score",
            Field::Owner => "owner",
            Field::Folder => "folder",
            Field::CreateTime => "create_time",
            Field::UpdateTime => "update_time",
            Field::DeleteTime => "delete_time",
        }
    }

    /// The field named `name` (exact, lower case).
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == name)
    }

    /// Whether the field takes `<`, `<=`, `>` and `>=` besides `=` and `!=`.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            Field::ConfidenceScore | Field::CreateTime | Field::UpdateTime | Field::DeleteTime
        )
    }

    /// The `items` column compared (tags are compared in `item_tags` instead).
    fn column(self) -> &'static str {
        match self {
            Field::Tag => "item_tags.tag",
            Field::Kind => "items.kind",
            Field::Status => "items.status",
            Field::Verification => "items.verification",
            Field::Visibility => "items.visibility",
            Field::ConfidenceScore => "items.confidence_score",
            Field::Owner => "items.owner",
            Field::Folder => "items.folder",
            Field::CreateTime => "items.create_time",
            Field::UpdateTime => "items.update_time",
            Field::DeleteTime => "items.delete_time",
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Operator {
    /// The operator as written in filters.
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Operator::Eq => " = ",
            Operator::Ne => " <> ",
            Operator::Lt => " < ",
            Operator::Le => " <= ",
            Operator::Gt => " > ",
            Operator::Ge => " >= ",
        }
    }
}

/// A comparison's value, already checked against its field.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Compared for equality: a tag (normalised and lower-cased), an enum value's stored
    /// (lower-case) name, an owner `users/{user}`, a folder.
    Text(String),
    /// A folder prefix (the value had a trailing `*`).
    Prefix(String),
    /// `users/me`: the caller.
    Me,
    /// A confidence score.
    Number(f64),
    /// A timestamp in microseconds since the epoch. `exact` is false when it had sub-microsecond
    /// digits: it then lies strictly between `micros` and `micros + 1`.
    Time { micros: i64, exact: bool },
}

/// `FIELD OP VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub field: Field,
    pub operator: Operator,
    pub value: Value,
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Comparison),
}

/// A parsed `filter`; the empty filter matches every item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// `None` for the empty filter.
    pub expr: Option<Expr>,
}

impl Filter {
    /// Parses `text`. Errors are INVALID_ARGUMENT naming `filter` and the byte offset of the
    /// problem.
    pub fn parse(text: &str) -> Result<Filter, Error> {
        if text.len() > MAX_LENGTH {
            return Err(Error::invalid_field(
                "filter",
                format!("must be at most {MAX_LENGTH} bytes"),
            ));
        }
        parse::parse(text)
            .map(|expr| Filter { expr })
            .map_err(|error| {
                Error::invalid_field(
                    "filter",
                    format!("{} (at byte {})", error.message, error.offset),
                )
            })
    }

    /// The filter as a SQL condition over `items`; empty for the empty filter. `caller` is the
    /// subject `users/me` stands for (`None`: anonymous, whom `users/me` never matches).
    pub fn to_sql(&self, caller: Option<&str>) -> SqlFragment {
        let mut sql = SqlFragment::new();
        if let Some(expr) = &self.expr {
            compile(expr, caller, &mut sql);
        }
        sql
    }
}

fn compile(expr: &Expr, caller: Option<&str>, sql: &mut SqlFragment) {
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
                compile(part, caller, sql);
            }
            sql.sql(")");
        }
        Expr::Not(inner) => {
            sql.sql("(NOT ");
            compile(inner, caller, sql);
            sql.sql(")");
        }
        Expr::Compare(comparison) => compile_comparison(comparison, caller, sql),
    }
}

fn compile_comparison(comparison: &Comparison, caller: Option<&str>, sql: &mut SqlFragment) {
    let Comparison {
        field,
        operator,
        value,
    } = comparison;
    let column = field.column();
    match value {
        Value::Text(text) if *field == Field::Tag => {
            sql.sql(if *operator == Operator::Ne {
                "(NOT EXISTS ("
            } else {
                "(EXISTS ("
            })
            .sql("SELECT 1 FROM item_tags WHERE item_tags.item_id = items.id AND ")
            .sql(column)
            .sql(" = ")
            .value(SqlValue::Text(text.clone()))
            .sql("))");
        }
        Value::Text(text) => compare(sql, column, *operator, SqlValue::Text(text.clone())),
        Value::Me => {
            // No item has an empty owner: `users/me` matches nothing for an anonymous caller.
            let me = caller.unwrap_or_default().to_owned();
            compare(sql, column, *operator, SqlValue::Text(me));
        }
        Value::Prefix(prefix) => {
            // `substr` counts characters in both dialects; unlike LIKE it has no wildcards to
            // escape and is case-sensitive on SQLite too.
            let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
            sql.sql("(substr(")
                .sql(column)
                .sql(", 1, ")
                .value(SqlValue::Int32(length))
                .sql(")")
                .sql(operator.sql())
                .value(SqlValue::Text(prefix.clone()))
                .sql(")");
        }
        Value::Number(number) => compare(sql, column, *operator, SqlValue::Float(*number)),
        Value::Time { micros, exact } => {
            compile_time(sql, *field, *operator, *micros, *exact);
        }
    }
}

/// `(column OP $n)`.
fn compare(sql: &mut SqlFragment, column: &'static str, operator: Operator, value: SqlValue) {
    sql.sql("(")
        .sql(column)
        .sql(operator.sql())
        .value(value)
        .sql(")");
}

/// A time comparison. `delete_time` comparisons are false (never NULL) for live items, so that
/// `NOT` negates them like any other comparison.
fn compile_time(sql: &mut SqlFragment, field: Field, operator: Operator, micros: i64, exact: bool) {
    let column = field.column();
    let deleted_only = field == Field::DeleteTime;
    // Times are stored in whole microseconds; a value between `micros` and `micros + 1` equals
    // no stored time and orders like this.
    let adjusted = match (exact, operator) {
        (true, operator) => Some(operator),
        (false, Operator::Lt | Operator::Le) => Some(Operator::Le),
        (false, Operator::Gt | Operator::Ge) => Some(Operator::Gt),
        (false, Operator::Eq | Operator::Ne) => None,
    };
    match adjusted {
        Some(adjusted) => {
            sql.sql("(");
            if deleted_only {
                sql.sql("items.delete_time IS NOT NULL AND ");
            }
            sql.sql(column)
                .sql(adjusted.sql())
                .value(SqlValue::Int(micros))
                .sql(")");
        }
        None if operator == Operator::Eq => {
            sql.sql("(1 = 0)");
        }
        None if deleted_only => {
            sql.sql("(items.delete_time IS NOT NULL)");
        }
        None => {
            sql.sql("(1 = 1)");
        }
    }
}

#[cfg(test)]
mod tests;
