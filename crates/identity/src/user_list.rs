//! ListUsers (admin): the filter (`user_filter`), the order (AIP-132), keyset pages and page
//! tokens bound to the filter, order and caller (`pake_core::paging`). A filter on `state` reads
//! the locked sign-in accounts from the throttle first (one call) and compiles against them.

use pake_api::identity::{ListUsersRequest, ListUsersResponse};
use pake_core::auth::Caller;
use pake_core::paging::{
    Binding, Position, SortValue, SortValueType, TokenSpec, decode_page_token, encode_page_token,
};
use pake_core::{Error, ErrorKind};
use pake_runtime::sql::{KeysetKey, SqlFragment, all_of, keyset_after, order_by};

use crate::service::IdentityService;
use crate::store::{ListQuery, UserRecord};
use crate::{roles, user_filter};

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;
const METHOD: &str = "pake.identity.v1.ListUsers";
/// Most locked accounts one query binds (summed over the filter's `state` comparisons), far
/// below both backends' placeholder limits (SQLite 32766, PostgreSQL 65535).
const MAX_LOCKED_BOUND: usize = 20_000;

/// A sortable user field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    Username,
    DisplayName,
    CreateTime,
    UpdateTime,
    LastSignInTime,
}

impl SortField {
    const ALL: [SortField; 5] = [
        SortField::Username,
        SortField::DisplayName,
        SortField::CreateTime,
        SortField::UpdateTime,
        SortField::LastSignInTime,
    ];

    fn name(self) -> &'static str {
        match self {
            SortField::Username => "username",
            SortField::DisplayName => "display_name",
            SortField::CreateTime => "create_time",
            SortField::UpdateTime => "update_time",
            SortField::LastSignInTime => "last_sign_in_time",
        }
    }

    /// The SQL expression rows are ordered by. Users who never signed in sort as the oldest
    /// sign-in: first ascending, last descending (one rule for both backends, whose NULL
    /// orders differ).
    fn expression(self) -> &'static str {
        match self {
            SortField::Username => "users.username_key",
            SortField::DisplayName => "users.display_name",
            SortField::CreateTime => "users.create_time",
            SortField::UpdateTime => "users.update_time",
            SortField::LastSignInTime => "COALESCE(users.last_sign_in_time, -1)",
        }
    }

    fn value_type(self) -> SortValueType {
        match self {
            SortField::Username | SortField::DisplayName => SortValueType::Text,
            _ => SortValueType::Int,
        }
    }

    /// The key's value for `user`, as `expression` computes it.
    fn value(self, user: &UserRecord) -> SortValue {
        match self {
            SortField::Username => SortValue::Text(user.username_key.clone()),
            SortField::DisplayName => SortValue::Text(user.display_name.clone()),
            SortField::CreateTime => SortValue::Int(user.create_time),
            SortField::UpdateTime => SortValue::Int(user.update_time),
            SortField::LastSignInTime => SortValue::Int(user.last_sign_in_time.unwrap_or(-1)),
        }
    }
}

/// A parsed `order_by`: at least one key; ties broken by id in the last key's direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserOrder {
    keys: Vec<(SortField, bool)>,
}

impl UserOrder {
    /// Parses `order_by`; empty means `username`.
    pub fn parse(text: &str) -> Result<UserOrder, Error> {
        let fields = SortField::ALL.map(|field| (field.name(), field));
        let mut keys = pake_core::paging::parse_order(text, &fields)?;
        if keys.is_empty() {
            keys.push((SortField::Username, false));
        }
        Ok(UserOrder { keys })
    }

    /// The order in a canonical spelling, for page-token binding.
    pub fn canonical(&self) -> String {
        self.keys
            .iter()
            .map(|(field, descending)| {
                if *descending {
                    format!("{} desc", field.name())
                } else {
                    field.name().to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn id_descending(&self) -> bool {
        self.keys.last().is_some_and(|(_, descending)| *descending)
    }

    fn key_types(&self) -> Vec<SortValueType> {
        self.keys
            .iter()
            .map(|(field, _)| field.value_type())
            .collect()
    }

    /// ` ORDER BY …, users.id …`.
    pub fn order_by_sql(&self) -> SqlFragment {
        let keys: Vec<(&'static str, bool)> = self
            .keys
            .iter()
            .map(|(field, descending)| (field.expression(), *descending))
            .collect();
        let mut sql = SqlFragment::new();
        order_by(&mut sql, &keys, "users.id", self.id_descending());
        sql
    }

    /// "Sorts after `position`" (which the token decoder made fit this order).
    pub fn after_sql(&self, position: &Position) -> SqlFragment {
        let keys: Vec<KeysetKey<'_>> = self
            .keys
            .iter()
            .zip(&position.keys)
            .map(|((field, descending), value)| KeysetKey {
                expression: field.expression(),
                descending: *descending,
                value,
                value_function: None,
            })
            .collect();
        keyset_after(&keys, "users.id", self.id_descending(), &position.id)
    }

    /// Where `user` is in this order.
    pub fn position_of(&self, user: &UserRecord) -> Position {
        Position {
            keys: self
                .keys
                .iter()
                .map(|(field, _)| field.value(user))
                .collect(),
            id: user.id.clone(),
        }
    }
}

/// Whether `id` could be a user id (a chosen id or a UUID).
fn valid_user_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl IdentityService {
    pub(crate) async fn list_users(
        &self,
        caller: &Caller,
        request: ListUsersRequest,
    ) -> Result<ListUsersResponse, Error> {
        let principal = roles::require_admin(caller)?;
        let page_size =
            pake_core::paging::page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let filter = user_filter::parse(&request.filter)?;
        let order = UserOrder::parse(&request.order_by)?;
        let canonical = order.canonical();
        let binding: Binding = pake_core::paging::binding(&[
            METHOD.as_bytes(),
            principal.subject.as_bytes(),
            request.filter.as_bytes(),
            canonical.as_bytes(),
        ]);
        let locked = self.locked_for_filter(&filter).await?;
        let filter_sql = user_filter::to_sql(&filter, &locked);
        let after = if request.page_token.is_empty() {
            SqlFragment::new()
        } else {
            let key_types = order.key_types();
            let position = decode_page_token(
                &request.page_token,
                &TokenSpec {
                    binding: &binding,
                    key_types: &key_types,
                    method: "ListUsers",
                    bound_to: "filter, order or caller",
                    valid_id: valid_user_id,
                },
            )?;
            order.after_sql(&position)
        };
        let condition = all_of(&[&filter_sql, &after]);
        let order_by = order.order_by_sql();
        let mut users = self
            .store
            .list_users(&ListQuery {
                condition: &condition,
                order_by: &order_by,
                limit: i64::try_from(page_size).unwrap_or(i64::MAX) + 1,
            })
            .await?;
        let more = users.len() > page_size;
        users.truncate(page_size);
        let next_page_token = match users.last() {
            Some(last) if more => encode_page_token(&binding, &order.position_of(last)),
            _ => String::new(),
        };
        let total = self.store.count_users(&filter_sql).await?;
        Ok(ListUsersResponse {
            users: self.users_to_proto(Some(principal), &users).await,
            next_page_token,
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }
}

impl IdentityService {
    /// The accounts locked now, when `filter` compares `state`.
    async fn locked_for_filter(
        &self,
        filter: &user_filter::UserFilter,
    ) -> Result<user_filter::Lockouts, Error> {
        let comparisons = user_filter::state_comparisons(filter);
        if comparisons == 0 {
            return Ok(user_filter::Lockouts::default());
        }
        let limit = MAX_LOCKED_BOUND / comparisons;
        let accounts = self.throttle.locked_accounts(limit).await;
        if accounts.len() > limit {
            tracing::warn!(limit, "too many locked accounts to filter users by state");
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "filter: more than {limit} sign-in accounts are locked now, too many to \
                     compare `state` against; filter without `state` or retry when lockouts end"
                ),
            )
            .with_reason("TOO_MANY_LOCKOUTS"));
        }
        Ok(user_filter::Lockouts::new(accounts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_default_to_username_and_spell_canonically() {
        assert_eq!(
            UserOrder::parse("").expect("default").canonical(),
            "username"
        );
        let order = UserOrder::parse("last_sign_in_time  DESC, display_name").expect("order");
        assert_eq!(order.canonical(), "last_sign_in_time desc, display_name");
        assert_eq!(
            order.order_by_sql().render().0,
            " ORDER BY COALESCE(users.last_sign_in_time, -1) DESC, users.display_name ASC, \
             users.id ASC"
        );
        let error = UserOrder::parse("password").expect_err("not sortable");
        assert!(
            error.to_string().contains("sortable fields: username"),
            "{error}"
        );
    }

    #[test]
    fn ids_in_tokens_are_user_ids() {
        assert!(valid_user_id("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
        assert!(valid_user_id("alice-2"));
        assert!(!valid_user_id(""));
        assert!(!valid_user_id("a/b"));
        assert!(!valid_user_id("Alice"));
    }
}
