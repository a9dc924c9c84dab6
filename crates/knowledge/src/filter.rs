//! `ListItemsRequest.filter` (AIP-160): parsed by the shared parser (`pake_core::filter`) against
//! the knowledge field table below into an [`Expr`] tree, then compiled into a parameterised SQL
//! condition over `items` (and `item_tags`).
//!
//! The fields and operators are those of the proto comment on `ListItemsRequest.filter`; the
//! grammar (`AND`, `OR` binding tighter, `NOT`/`-`, parentheses, juxtaposition) is AIP-160's.
//! The compiled SQL takes column names and operators only from the fixed tables in this module;
//! every value from the filter is a bound parameter ([`SqlFragment`]).

mod value;

use pake_core::Error;
pub use pake_core::filter::{MAX_COMPARISONS, MAX_DEPTH, MAX_LENGTH, Operator};
use pake_core::filter::{RawValue, Schema};
use pake_runtime::sql::{compare, compare_prefix, compare_time, compile_filter};

use crate::sql::{SqlFragment, SqlValue};

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
pub type Expr = pake_core::filter::Expr<Comparison>;

/// The knowledge field table, for the shared parser.
struct Fields;

impl Schema for Fields {
    type Field = Field;
    type Comparison = Comparison;

    fn field(&self, name: &str) -> Result<Field, String> {
        Field::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Field::ALL.iter().map(|field| field.name()).collect();
            pake_core::filter::unknown_field(name, &names)
        })
    }

    fn check_operator(&self, field: Field, operator: Operator) -> Result<(), String> {
        match operator {
            Operator::Has => Err("the `:` (has) operator is not supported; use `=` or `!=`".into()),
            Operator::Eq | Operator::Ne => Ok(()),
            _ if field.is_ordered() => Ok(()),
            _ => Err(format!(
                "`{}` takes only `=` and `!=`, not `{}`",
                field.name(),
                operator.symbol()
            )),
        }
    }

    fn comparison(
        &self,
        field: Field,
        operator: Operator,
        value: RawValue<'_>,
    ) -> Result<Comparison, String> {
        Ok(Comparison {
            field,
            operator,
            value: value::parse_value(field, value)?,
        })
    }
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
        pake_core::filter::parse(text, &Fields).map(|expr| Filter { expr })
    }

    /// The filter as a SQL condition over `items`; empty for the empty filter. `caller` is the
    /// subject `users/me` stands for (`None`: anonymous, whom `users/me` never matches).
    pub fn to_sql(&self, caller: Option<&str>) -> SqlFragment {
        let mut sql = SqlFragment::new();
        if let Some(expr) = &self.expr {
            compile_filter(expr, &mut sql, &mut |comparison, sql| {
                compile_comparison(comparison, caller, sql);
            });
        }
        sql
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
        Value::Prefix(prefix) => compare_prefix(sql, column, *operator, prefix),
        Value::Number(number) => compare(sql, column, *operator, SqlValue::Float(*number)),
        Value::Time { micros, exact } => {
            let time = pake_core::filter::value::Time {
                micros: *micros,
                exact: *exact,
            };
            // `delete_time` comparisons are false (never NULL) for live items, so that `NOT`
            // negates them like any other comparison.
            compare_time(sql, column, *field == Field::DeleteTime, *operator, time);
        }
    }
}

#[cfg(test)]
mod tests;
