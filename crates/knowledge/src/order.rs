//! `ListItemsRequest.order_by` (AIP-132) and the keyset pagination that follows it.
//!
//! An order is one or more sort keys, each ascending or descending; ties are broken by the item
//! id in the direction of the last key, so every order is total and a page can resume after
//! (keys, id) of the previous page's last item. `title` sorts by `LOWER(title)` (the database's
//! lower-casing: ASCII letters on SQLite), and `delete_time` puts live items last in either
//! direction.

use pake_core::Error;
pub use pake_core::paging::{SortValue, SortValueType};
use pake_runtime::sql::{KeysetKey, keyset_after};

use crate::sql::SqlFragment;
#[cfg(test)]
use crate::sql::SqlValue;

/// Maximum `order_by` length in bytes.
pub const MAX_LENGTH: usize = pake_core::paging::MAX_ORDER_BY;

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

/// Where the previous page ended: the sort key values and id of its last item.
pub type ListPosition = pake_core::paging::Position;

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
        let fields = SortField::ALL.map(|field| (field.name(), field));
        let keys = pake_core::paging::parse_order(text, &fields)?
            .into_iter()
            .map(|(field, descending)| SortKey { field, descending })
            .collect();
        Ok(Order::new(keys))
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
        let keys: Vec<(&'static str, bool)> = self
            .keys
            .iter()
            .map(|key| (key.expression(), key.descending))
            .collect();
        pake_runtime::sql::order_by(sql, &keys, "items.id", self.id_descending());
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
        let keys: Vec<KeysetKey<'_>> = self
            .keys
            .iter()
            .zip(&position.keys)
            .map(|(key, value)| KeysetKey {
                expression: key.expression(),
                descending: key.descending,
                value,
                // The title's sort expression lower-cases: compare with the value lower-cased.
                value_function: (key.field == SortField::Title).then_some("LOWER"),
            })
            .collect();
        Some(keyset_after(
            &keys,
            "items.id",
            self.id_descending(),
            &position.id,
        ))
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
