//! `ListItemsRequest.order_by` (AIP-132) and the keyset pagination that follows it.
//!
//! An order is one or more sort keys, each ascending or descending; ties are broken by the item
//! id in the direction of the last key, so every order is total and a page can resume after
//! (keys, id) of the previous page's last item. `title` sorts by `LOWER(title)` (the database's
//! lower-casing: ASCII letters on SQLite), and `delete_time` puts live items last in either
//! direction.

use pake_core::Error;

use crate::sql::{SqlFragment, SqlValue};

/// Maximum `order_by` length in bytes.
pub const MAX_LENGTH: usize = 256;

/// A sortable field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    CreateTime,
    UpdateTime,
    DeleteTime,
    Title,
    ConfidenceScore,
}

impl SortField {
    const ALL: [SortField; 5] = [
        SortField::CreateTime,
        SortField::UpdateTime,
        SortField::DeleteTime,
        SortField::Title,
        SortField::ConfidenceScore,
    ];

    /// The field's name in `order_by`.
    pub fn name(self) -> &'static str {
        match self {
            SortField::CreateTime => "create_time",
            SortField::UpdateTime => "update_time",
            SortField::DeleteTime => "delete_time",
            SortField::Title => "title",
            SortField::ConfidenceScore => "confidence_score",
        }
    }

    fn from_name(name: &str) -> Option<SortField> {
        SortField::ALL
            .into_iter()
            .find(|field| field.name() == name)
    }
}

/// One sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    pub field: SortField,
    pub descending: bool,
}

impl SortKey {
    /// The SQL expression rows are ordered by.
    fn expression(self) -> &'static str {
        match (self.field, self.descending) {
            (SortField::CreateTime, _) => "items.create_time",
            (SortField::UpdateTime, _) => "items.update_time",
            // Live items (no delete time) last, whichever the direction.
            (SortField::DeleteTime, false) => "COALESCE(items.delete_time, 9223372036854775807)",
            (SortField::DeleteTime, true) => "COALESCE(items.delete_time, -1)",
            (SortField::Title, _) => "LOWER(items.title)",
            (SortField::ConfidenceScore, _) => "items.confidence_score",
        }
    }

    /// The SQL expression selected to resume after a row: the title itself for `title` (its
    /// sort expression applies `LOWER` to both sides), else the sort expression.
    fn selected(self) -> &'static str {
        match self.field {
            SortField::Title => "items.title",
            _ => self.expression(),
        }
    }

    /// The kind of value the key holds.
    pub fn value_type(self) -> SortValueType {
        match self.field {
            SortField::CreateTime | SortField::UpdateTime | SortField::DeleteTime => {
                SortValueType::Int
            }
            SortField::Title => SortValueType::Text,
            SortField::ConfidenceScore => SortValueType::Float,
        }
    }
}

/// The type of a sort key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortValueType {
    Int,
    Float,
    Text,
}

/// A sort key's value for one item.
#[derive(Clone, Debug, PartialEq)]
pub enum SortValue {
    /// A time in microseconds (a live item's `delete_time` is the end of its direction).
    Int(i64),
    /// A confidence score.
    Float(f64),
    /// A title (as stored; compared lower-cased).
    Text(String),
}

impl SortValue {
    fn value_type(&self) -> SortValueType {
        match self {
            SortValue::Int(_) => SortValueType::Int,
            SortValue::Float(_) => SortValueType::Float,
            SortValue::Text(_) => SortValueType::Text,
        }
    }

    fn to_sql(&self) -> SqlValue {
        match self {
            SortValue::Int(value) => SqlValue::Int(*value),
            SortValue::Float(value) => SqlValue::Float(*value),
            SortValue::Text(value) => SqlValue::Text(value.clone()),
        }
    }
}

/// Where the previous page ended: the sort key values and id of its last item.
#[derive(Clone, Debug, PartialEq)]
pub struct ListPosition {
    /// One value per sort key of the order, in order.
    pub keys: Vec<SortValue>,
    /// The item id.
    pub id: String,
}

/// A parsed `order_by`: at least one key, each field at most once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    keys: Vec<SortKey>,
}

impl Default for Order {
    /// `update_time desc`.
    fn default() -> Self {
        Order {
            keys: vec![SortKey {
                field: SortField::UpdateTime,
                descending: true,
            }],
        }
    }
}

impl Order {
    /// Parses `order_by`: comma-separated fields, each optionally followed by `desc` (or `asc`);
    /// extra spaces are ignored; empty means `update_time desc`. Errors are INVALID_ARGUMENT
    /// naming `order_by`.
    pub fn parse(text: &str) -> Result<Order, Error> {
        let invalid = |description: String| Error::invalid_field("order_by", description);
        if text.len() > MAX_LENGTH {
            return Err(invalid(format!("must be at most {MAX_LENGTH} bytes")));
        }
        if text.trim().is_empty() {
            return Ok(Order::default());
        }
        let mut keys: Vec<SortKey> = Vec::new();
        for part in text.split(',') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let (name, descending) = match words.as_slice() {
                [name] => (*name, false),
                [name, direction] if direction.eq_ignore_ascii_case("desc") => (*name, true),
                [name, direction] if direction.eq_ignore_ascii_case("asc") => (*name, false),
                [] => return Err(invalid("has an empty entry between commas".to_owned())),
                _ => {
                    return Err(invalid(format!(
                        "`{}` is not `field` or `field desc`",
                        part.trim()
                    )));
                }
            };
            let field = SortField::from_name(name).ok_or_else(|| {
                invalid(format!(
                    "cannot sort by `{name}`; sortable fields: create_time, update_time, \
                     delete_time, title, confidence_score"
                ))
            })?;
            if keys.iter().any(|key| key.field == field) {
                return Err(invalid(format!("lists `{name}` more than once")));
            }
            keys.push(SortKey { field, descending });
        }
        Ok(Order { keys })
    }

    /// An order of `keys`; the default order when `keys` is empty.
    pub fn new(keys: Vec<SortKey>) -> Order {
        if keys.is_empty() {
            Order::default()
        } else {
            Order { keys }
        }
    }

    /// The sort keys, first to last.
    pub fn keys(&self) -> &[SortKey] {
        &self.keys
    }

    /// The order in a canonical spelling (`confidence_score desc, title`), so that spellings
    /// of one order are one order, e.g. for page-token binding.
    pub fn canonical(&self) -> String {
        self.keys
            .iter()
            .map(|key| {
                if key.descending {
                    format!("{} desc", key.field.name())
                } else {
                    key.field.name().to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether ties are broken by descending id (they follow the last key's direction).
    pub fn id_descending(&self) -> bool {
        self.keys.last().is_some_and(|key| key.descending)
    }

    /// `, key1, key2…`: the expressions to select after `item` and `id` to build positions.
    pub(crate) fn select_sql(&self, sql: &mut SqlFragment) {
        for key in &self.keys {
            sql.sql(", ").sql(key.selected());
        }
    }

    /// ` ORDER BY key1 ASC, …, items.id DESC`.
    pub(crate) fn order_by_sql(&self, sql: &mut SqlFragment) {
        sql.sql(" ORDER BY ");
        for key in &self.keys {
            sql.sql(key.expression())
                .sql(if key.descending { " DESC, " } else { " ASC, " });
        }
        sql.sql(if self.id_descending() {
            "items.id DESC"
        } else {
            "items.id ASC"
        });
    }

    /// The condition "sorts after `position`": `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR … OR
    /// (k1 = v1 AND … AND id > id0)`, with `<` for descending keys. `None` when `position` does
    /// not fit this order.
    pub(crate) fn after_sql(&self, position: &ListPosition) -> Option<SqlFragment> {
        let fits = position.keys.len() == self.keys.len()
            && self
                .keys
                .iter()
                .zip(&position.keys)
                .all(|(key, value)| key.value_type() == value.value_type());
        if !fits {
            return None;
        }
        let mut sql = SqlFragment::new();
        sql.sql("(");
        for index in 0..=self.keys.len() {
            if index > 0 {
                sql.sql(" OR ");
            }
            sql.sql("(");
            for (key, value) in self.keys.iter().zip(&position.keys).take(index) {
                push_key_comparison(&mut sql, *key, " = ", value);
                sql.sql(" AND ");
            }
            match (self.keys.get(index), position.keys.get(index)) {
                (Some(key), Some(value)) => {
                    let operator = if key.descending { " < " } else { " > " };
                    push_key_comparison(&mut sql, *key, operator, value);
                }
                _ => {
                    sql.sql(if self.id_descending() {
                        "items.id < "
                    } else {
                        "items.id > "
                    })
                    .value(SqlValue::Text(position.id.clone()));
                }
            }
            sql.sql(")");
        }
        sql.sql(")");
        Some(sql)
    }
}

fn push_key_comparison(
    sql: &mut SqlFragment,
    key: SortKey,
    operator: &'static str,
    value: &SortValue,
) {
    sql.sql(key.expression()).sql(operator);
    if key.field == SortField::Title {
        sql.sql("LOWER(").value(value.to_sql()).sql(")");
    } else {
        sql.value(value.to_sql());
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
