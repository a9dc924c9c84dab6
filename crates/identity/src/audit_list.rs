//! ListAuditEvents (admin): the audit fields for the shared AIP-160 parser, their compilation
//! into a parameterised condition over `audit_events`, the `create_time` order and keyset pages.
//! ExportUserData pages through the same machinery.

use pake_api::identity::{AuditEventType, ListAuditEventsRequest, ListAuditEventsResponse};
use pake_core::Error;
use pake_core::auth::Caller;
use pake_core::filter::value::{Time, enum_name, quoted_timestamp, shorten};
use pake_core::filter::{Expr, Operator, RawValue, Schema, unknown_field};
use pake_core::paging::{
    Position, SortValue, SortValueType, TokenSpec, decode_page_token, encode_page_token,
};
use pake_runtime::sql::{
    KeysetKey, SqlFragment, SqlValue, all_of, compare, compare_prefix, compare_time,
    compile_filter, keyset_after, order_by,
};

use crate::audit::{to_message, type_name};
use crate::roles;
use crate::service::IdentityService;
use crate::store::{AuditRecord, ListQuery};

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;
/// Longest `actor`, `target` or `client_address` value in a filter.
const MAX_VALUE: usize = 256;

/// A filterable audit field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Type,
    Actor,
    Target,
    ClientAddress,
    CreateTime,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Type,
        Field::Actor,
        Field::Target,
        Field::ClientAddress,
        Field::CreateTime,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::Actor => "actor",
            Field::Target => "target",
            Field::ClientAddress => "client_address",
            Field::CreateTime => "create_time",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Field::Type => "audit_events.event_type",
            Field::Actor => "audit_events.actor",
            Field::Target => "audit_events.target",
            Field::ClientAddress => "audit_events.client_address",
            Field::CreateTime => "audit_events.create_time",
        }
    }

    fn operators(self) -> &'static [Operator] {
        use Operator::*;
        match self {
            Field::Type | Field::Actor | Field::Target => &[Eq, Ne],
            Field::ClientAddress => &[Eq],
            Field::CreateTime => &[Lt, Le, Gt, Ge],
        }
    }
}

/// A checked comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Comparison {
    /// `field OP "text"` (a stored type name, a resource name, an address).
    Text {
        field: Field,
        operator: Operator,
        text: String,
    },
    /// `field OP "prefix*"`.
    Prefix {
        field: Field,
        operator: Operator,
        prefix: String,
    },
    /// `create_time OP "…"`.
    CreateTime { operator: Operator, time: Time },
}

/// A parsed filter; `None` matches every event.
pub type AuditFilter = Option<Expr<Comparison>>;

struct Fields;

impl Schema for Fields {
    type Field = Field;
    type Comparison = Comparison;

    fn field(&self, name: &str) -> Result<Field, String> {
        Field::ALL
            .into_iter()
            .find(|field| field.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Field::ALL.iter().map(|field| field.name()).collect();
                unknown_field(name, &names)
            })
    }

    fn check_operator(&self, field: Field, operator: Operator) -> Result<(), String> {
        let allowed = field.operators();
        if allowed.contains(&operator) {
            return Ok(());
        }
        let symbols: Vec<String> = allowed
            .iter()
            .map(|operator| format!("`{}`", operator.symbol()))
            .collect();
        Err(format!(
            "`{}` takes only {}, not `{}`",
            field.name(),
            symbols.join(", "),
            operator.symbol()
        ))
    }

    fn comparison(
        &self,
        field: Field,
        operator: Operator,
        value: RawValue<'_>,
    ) -> Result<Comparison, String> {
        let text = value.text;
        if text.len() > MAX_VALUE {
            return Err(format!(
                "`{}` takes values of at most {MAX_VALUE} bytes",
                field.name()
            ));
        }
        Ok(match field {
            Field::Type => {
                let event_type = AuditEventType::from_str_name(&enum_name(
                    text,
                    "AUDIT_EVENT_TYPE_",
                ))
                .filter(|event_type| *event_type != AuditEventType::Unspecified)
                .ok_or_else(|| {
                    format!(
                        "`{}` is not an audit event type such as AUDIT_EVENT_TYPE_SIGN_IN_FAILED",
                        shorten(text)
                    )
                })?;
                Comparison::Text {
                    field,
                    operator,
                    text: type_name(event_type),
                }
            }
            Field::Actor | Field::Target => match text.strip_suffix('*') {
                Some(prefix) => Comparison::Prefix {
                    field,
                    operator,
                    prefix: prefix.to_owned(),
                },
                None => Comparison::Text {
                    field,
                    operator,
                    text: text.to_owned(),
                },
            },
            Field::ClientAddress => Comparison::Text {
                field,
                operator,
                text: text.to_owned(),
            },
            Field::CreateTime => Comparison::CreateTime {
                operator,
                time: quoted_timestamp(field.name(), value)?,
            },
        })
    }
}

/// Parses `ListAuditEventsRequest.filter`; errors are INVALID_ARGUMENT naming `filter`.
pub fn parse(text: &str) -> Result<AuditFilter, Error> {
    pake_core::filter::parse(text, &Fields)
}

/// The filter as a condition over `audit_events`; empty for the empty filter.
pub fn to_sql(filter: &AuditFilter) -> SqlFragment {
    let mut sql = SqlFragment::new();
    if let Some(expr) = filter {
        compile_filter(expr, &mut sql, &mut compile_comparison);
    }
    sql
}

fn compile_comparison(comparison: &Comparison, sql: &mut SqlFragment) {
    match comparison {
        Comparison::Text {
            field,
            operator,
            text,
        } => compare(sql, field.column(), *operator, SqlValue::Text(text.clone())),
        Comparison::Prefix {
            field,
            operator,
            prefix,
        } => compare_prefix(sql, field.column(), *operator, prefix),
        Comparison::CreateTime { operator, time } => {
            compare_time(sql, Field::CreateTime.column(), false, *operator, *time);
        }
    }
}

/// The events whose actor is `user` or whose target is `user` or a resource under it (ExportUserData).
pub fn concerning(user: &str) -> Expr<Comparison> {
    let text = |field| {
        Expr::Compare(Comparison::Text {
            field,
            operator: Operator::Eq,
            text: user.to_owned(),
        })
    };
    Expr::Or(vec![
        text(Field::Actor),
        text(Field::Target),
        Expr::Compare(Comparison::Prefix {
            field: Field::Target,
            operator: Operator::Eq,
            prefix: format!("{user}/"),
        }),
    ])
}

/// Events created at or before `micros`.
pub fn created_until(micros: i64) -> Expr<Comparison> {
    Expr::Compare(Comparison::CreateTime {
        operator: Operator::Le,
        time: Time {
            micros,
            exact: true,
        },
    })
}

/// `create_time` ascending or descending, ties by id in the same direction.
pub fn order_by_sql(descending: bool) -> SqlFragment {
    let mut sql = SqlFragment::new();
    order_by(
        &mut sql,
        &[(Field::CreateTime.column(), descending)],
        "audit_events.id",
        descending,
    );
    sql
}

/// "Sorts after `position`" in that order.
pub fn after_sql(position: &Position, descending: bool) -> SqlFragment {
    match position.keys.first() {
        Some(value) => keyset_after(
            &[KeysetKey {
                expression: Field::CreateTime.column(),
                descending,
                value,
                value_function: None,
            }],
            "audit_events.id",
            descending,
            &position.id,
        ),
        None => SqlFragment::new(),
    }
}

/// Where `event` is in the `create_time` order.
pub fn position_of(event: &AuditRecord) -> Position {
    Position {
        keys: vec![SortValue::Int(event.create_time)],
        id: event.id.clone(),
    }
}

/// Whether `id` could be an event id (a UUID).
fn valid_event_id(id: &str) -> bool {
    id.len() == 36
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
}

/// Parses `order_by`: `create_time` or `create_time desc`; empty means descending.
fn parse_order(text: &str) -> Result<bool, Error> {
    let keys = pake_core::paging::parse_order(text, &[("create_time", ())])?;
    Ok(keys.first().is_none_or(|(_, descending)| *descending))
}

impl IdentityService {
    pub(crate) async fn list_audit_events(
        &self,
        caller: &Caller,
        request: ListAuditEventsRequest,
    ) -> Result<ListAuditEventsResponse, Error> {
        let principal = roles::require_admin(caller)?;
        let page_size =
            pake_core::paging::page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let filter = parse(&request.filter)?;
        let descending = parse_order(&request.order_by)?;
        let canonical_order = if descending {
            "create_time desc"
        } else {
            "create_time"
        };
        let binding = pake_core::paging::binding(&[
            b"pake.identity.v1.ListAuditEvents",
            principal.subject.as_bytes(),
            request.filter.as_bytes(),
            canonical_order.as_bytes(),
        ]);
        let after = if request.page_token.is_empty() {
            SqlFragment::new()
        } else {
            let position = decode_page_token(
                &request.page_token,
                &TokenSpec {
                    binding: &binding,
                    key_types: &[SortValueType::Int],
                    method: "ListAuditEvents",
                    bound_to: "filter, order or caller",
                    valid_id: valid_event_id,
                },
            )?;
            after_sql(&position, descending)
        };
        let filter_sql = to_sql(&filter);
        let condition = all_of(&[&filter_sql, &after]);
        let order_by = order_by_sql(descending);
        let mut events = self
            .store
            .list_audit_events(&ListQuery {
                condition: &condition,
                order_by: &order_by,
                limit: i64::try_from(page_size).unwrap_or(i64::MAX) + 1,
            })
            .await?;
        let more = events.len() > page_size;
        events.truncate(page_size);
        let next_page_token = match events.last() {
            Some(last) if more => encode_page_token(&binding, &position_of(last)),
            _ => String::new(),
        };
        Ok(ListAuditEventsResponse {
            audit_events: events.iter().map(to_message).collect(),
            next_page_token,
        })
    }
}

#[cfg(test)]
#[path = "audit_list_tests.rs"]
mod tests;
