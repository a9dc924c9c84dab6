//! `ListUsersRequest.filter`: the user fields for the shared AIP-160 parser
//! (`pake_core::filter`), and their compilation into a parameterised condition over `users`.
//!
//! Values are normalised like the stored field before comparing: `username` and `email` are
//! stored as their NFKC + case-folded keys, so `username = "ＡＬＩＣＥ"` finds `alice`;
//! `display_name` is stored as typed and compared as typed. `:` is a substring match on those
//! three, and membership on `roles`. `state` follows `GetUser` as admins see it:
//! `STATE_DISABLED` is the `disabled` flag; `STATE_LOCKED` a user not disabled whose sign-in
//! account (`users/{id}`) the throttle has locked; `STATE_ACTIVE` neither. Lockouts live in the sign-in
//! throttle, not the table, so the caller reads the locked accounts first ([`Lockouts`]) and the
//! compiler binds them as `IN` lists (only when the filter mentions `state`:
//! [`state_comparisons`]).

use pake_api::identity::Role as WireRole;
use pake_api::identity::user::State;
use pake_core::auth::Role;
use pake_core::filter::value::{Time, boolean, enum_name, quoted_timestamp, shorten};
use pake_core::filter::{Expr, Operator, RawValue, Schema, unknown_field};
use pake_runtime::sql::{SqlFragment, SqlValue, compare, compare_time, compile_filter, contains};

use crate::normalize;

/// A filterable user field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Username,
    Email,
    DisplayName,
    Roles,
    State,
    Disabled,
    ServiceAccount,
    CreateTime,
    UpdateTime,
    LastSignInTime,
}

impl Field {
    const ALL: [Field; 10] = [
        Field::Username,
        Field::Email,
        Field::DisplayName,
        Field::Roles,
        Field::State,
        Field::Disabled,
        Field::ServiceAccount,
        Field::CreateTime,
        Field::UpdateTime,
        Field::LastSignInTime,
    ];

    /// The field's name in filters.
    pub fn name(self) -> &'static str {
        match self {
            Field::Username => "username",
            Field::Email => "email",
            Field::DisplayName => "display_name",
            Field::Roles => "roles",
            Field::State => "state",
            Field::Disabled => "disabled",
            Field::ServiceAccount => "service_account",
            Field::CreateTime => "create_time",
            Field::UpdateTime => "update_time",
            Field::LastSignInTime => "last_sign_in_time",
        }
    }

    /// The column (expression) compared. A missing email compares as the empty text.
    fn column(self) -> &'static str {
        match self {
            Field::Username => "users.username_key",
            Field::Email => "COALESCE(users.email_key, '')",
            Field::DisplayName => "users.display_name",
            Field::Roles => "(',' || users.roles || ',')",
            Field::State | Field::Disabled => "users.disabled",
            Field::ServiceAccount => "users.service_account",
            Field::CreateTime => "users.create_time",
            Field::UpdateTime => "users.update_time",
            Field::LastSignInTime => "users.last_sign_in_time",
        }
    }

    fn operators(self) -> &'static [Operator] {
        use Operator::*;
        match self {
            Field::Username | Field::Email | Field::DisplayName => &[Eq, Ne, Has],
            Field::Roles => &[Has],
            Field::State | Field::Disabled | Field::ServiceAccount => &[Eq, Ne],
            Field::CreateTime | Field::UpdateTime | Field::LastSignInTime => {
                &[Eq, Ne, Lt, Le, Gt, Ge]
            }
        }
    }
}

/// A comparison's value, already normalised for its field.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A text as stored (a username or email key, a display name).
    Text(String),
    /// A role's stored name.
    Role(&'static str),
    /// A state.
    State(State),
    /// A flag.
    Flag(bool),
    /// A time.
    Time(Time),
}

/// `FIELD OP VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub field: Field,
    pub operator: Operator,
    pub value: Value,
}

/// A parsed filter; `None` matches every user.
pub type UserFilter = Option<Expr<Comparison>>;

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
        let value = match field {
            Field::Username | Field::Email => Value::Text(normalize::search_key(text)),
            Field::DisplayName => Value::Text(text.to_owned()),
            Field::Roles => Value::Role(role(text)?),
            Field::State => Value::State(state(text)?),
            Field::Disabled | Field::ServiceAccount => Value::Flag(boolean(field.name(), text)?),
            Field::CreateTime | Field::UpdateTime | Field::LastSignInTime => {
                Value::Time(quoted_timestamp(field.name(), value)?)
            }
        };
        Ok(Comparison {
            field,
            operator,
            value,
        })
    }
}

fn role(text: &str) -> Result<&'static str, String> {
    let role = match WireRole::from_str_name(&enum_name(text, "ROLE_")) {
        Some(WireRole::Admin) => Role::Admin,
        Some(WireRole::Editor) => Role::Editor,
        Some(WireRole::Viewer) => Role::Viewer,
        Some(WireRole::Service) => Role::Service,
        Some(WireRole::Unspecified) | None => {
            return Err(format!(
                "`{}` is not a role; use ROLE_ADMIN, ROLE_EDITOR, ROLE_VIEWER or ROLE_SERVICE",
                shorten(text)
            ));
        }
    };
    Ok(role.as_str())
}

fn state(text: &str) -> Result<State, String> {
    State::from_str_name(&enum_name(text, "STATE_"))
        .filter(|state| *state != State::Unspecified)
        .ok_or_else(|| {
            format!(
                "`{}` is not a user state; use STATE_ACTIVE, STATE_LOCKED or STATE_DISABLED",
                shorten(text)
            )
        })
}

/// The users locked now: the throttle's locked accounts that are users (`users/{id}`); locked
/// names that are no user's (`name:…`) match nobody.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lockouts {
    user_ids: Vec<String>,
}

impl Lockouts {
    /// The locked `accounts` (throttle account names).
    pub fn new(accounts: impl IntoIterator<Item = String>) -> Self {
        let user_ids = accounts
            .into_iter()
            .filter_map(|account| account.strip_prefix("users/").map(str::to_owned))
            .collect();
        Lockouts { user_ids }
    }

    /// How many values the condition binds.
    pub fn len(&self) -> usize {
        self.user_ids.len()
    }

    /// Whether no user is locked.
    pub fn is_empty(&self) -> bool {
        self.user_ids.is_empty()
    }

    /// `users.id IN (…)`, or `(1 = 0)` when nobody is locked.
    fn condition(&self, sql: &mut SqlFragment) {
        if self.user_ids.is_empty() {
            sql.sql("(1 = 0)");
            return;
        }
        sql.sql("users.id IN (");
        for (position, id) in self.user_ids.iter().enumerate() {
            if position > 0 {
                sql.sql(", ");
            }
            sql.value(SqlValue::Text(id.clone()));
        }
        sql.sql(")");
    }
}

/// How many `state` comparisons `filter` holds (each binds the locked accounts once).
pub fn state_comparisons(filter: &UserFilter) -> usize {
    fn count(expr: &Expr<Comparison>) -> usize {
        match expr {
            Expr::And(parts) | Expr::Or(parts) => parts.iter().map(count).sum(),
            Expr::Not(inner) => count(inner),
            Expr::Compare(comparison) => usize::from(comparison.field == Field::State),
        }
    }
    filter.as_ref().map_or(0, count)
}

/// Parses `ListUsersRequest.filter`; errors are INVALID_ARGUMENT naming `filter`.
pub fn parse(text: &str) -> Result<UserFilter, pake_core::Error> {
    pake_core::filter::parse(text, &Fields)
}

/// The filter as a condition over `users`, `state` compared against the accounts `locked` now;
/// empty for the empty filter.
pub fn to_sql(filter: &UserFilter, locked: &Lockouts) -> SqlFragment {
    let mut sql = SqlFragment::new();
    if let Some(expr) = filter {
        compile_filter(expr, &mut sql, &mut |comparison, sql| {
            compile_comparison(comparison, locked, sql);
        });
    }
    sql
}

fn compile_comparison(comparison: &Comparison, locked: &Lockouts, sql: &mut SqlFragment) {
    let Comparison {
        field,
        operator,
        value,
    } = comparison;
    let column = field.column();
    match value {
        Value::Text(text) if *operator == Operator::Has => contains(sql, column, text),
        Value::Text(text) => compare(sql, column, *operator, SqlValue::Text(text.clone())),
        Value::Role(role) => {
            // `roles` is a comma-separated list: look for `,role,` in `,roles,`.
            contains(sql, column, &format!(",{role},"));
        }
        Value::State(State::Disabled) => compare(sql, column, *operator, SqlValue::Bool(true)),
        Value::State(state @ (State::Active | State::Locked)) => {
            // Not disabled, and locked (or not): `!=` negates the whole.
            if *operator == Operator::Ne {
                sql.sql("(NOT ");
            }
            sql.sql("(");
            compare(sql, column, Operator::Eq, SqlValue::Bool(false));
            sql.sql(" AND ");
            if *state == State::Active {
                sql.sql("(NOT ");
                locked.condition(sql);
                sql.sql(")");
            } else {
                locked.condition(sql);
            }
            sql.sql(")");
            if *operator == Operator::Ne {
                sql.sql(")");
            }
        }
        Value::State(State::Unspecified) => {
            // Refused by the parser; matches nobody if it ever got here.
            sql.sql(if *operator == Operator::Ne {
                "(1 = 1)"
            } else {
                "(1 = 0)"
            });
        }
        Value::Flag(flag) => compare(sql, column, *operator, SqlValue::Bool(*flag)),
        Value::Time(time) => {
            // Users who never signed in compare false, so that `NOT` negates like elsewhere.
            let nullable = *field == Field::LastSignInTime;
            compare_time(sql, column, nullable, *operator, *time);
        }
    }
}

#[cfg(test)]
#[path = "user_filter_tests.rs"]
mod tests;
