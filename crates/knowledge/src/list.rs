//! ListItems: the filter (AIP-160), the order (AIP-132), keyset pages and their page tokens.
//!
//! A page token (`pake_core::paging`) holds the position the next page starts after (the sort
//! key values and id of the previous page's last item) and a digest of what it is bound to: the
//! caller, the filter, the order (canonically spelled) and `show_deleted`. Access is decided from
//! the actual caller on every call, never from the token, so a token is opaque but needs no
//! secrecy.

#[cfg(test)]
use base64::Engine;
#[cfg(test)]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pake_api::knowledge::{Item, ItemView, ListItemsRequest, ListItemsResponse};
use pake_core::Error;
use pake_core::auth::Caller;
#[cfg(test)]
use pake_core::paging::MAX_PAGE_TOKEN;
use pake_core::paging::TokenSpec;
use prost::Message;

use crate::filter::Filter;
use crate::model::valid_item_id;
#[cfg(test)]
use crate::order::SortValue;
use crate::order::{ListPosition, Order};
use crate::present::Links;
use crate::service::KnowledgeService;
use crate::store::{ListQuery, ReadScope};

const DEFAULT_PAGE_SIZE: i32 = 50;
const MAX_PAGE_SIZE: i32 = 1000;
/// A page ends early rather than grow past this many encoded bytes (responses stay under the
/// 4 MiB gRPC message limit, with room for the token and framing).
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

/// What a page token is bound to: a digest of the method, caller and request fields it depends on.
pub(crate) type Binding = pake_core::paging::Binding;

impl KnowledgeService {
    pub(crate) async fn list_items(
        &self,
        caller: &Caller,
        request: ListItemsRequest,
    ) -> Result<ListItemsResponse, Error> {
        if request.page_size < 0 {
            return Err(Error::invalid_field("page_size", "must not be negative"));
        }
        let filter = Filter::parse(&request.filter)?;
        let order = Order::parse(&request.order_by)?;
        let page_size = usize::try_from(match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        })
        .unwrap_or(1);
        let view = ItemView::try_from(request.view).unwrap_or(ItemView::Unspecified);
        let (scope, subject) = match caller {
            Caller::Anonymous => (ReadScope::Public, None),
            Caller::Authenticated(principal) if principal.is_admin() || principal.is_service() => {
                (ReadScope::All, Some(principal.subject.as_str()))
            }
            Caller::Authenticated(principal) => (
                ReadScope::User(principal.subject.clone()),
                Some(principal.subject.as_str()),
            ),
        };
        let binding = binding(
            subject.unwrap_or_default(),
            &request.filter,
            &order,
            request.show_deleted,
        );
        let after = if request.page_token.is_empty() {
            None
        } else {
            Some(decode_page_token(&request.page_token, &binding, &order)?)
        };
        let condition = filter.to_sql(subject);
        let query = ListQuery {
            scope: &scope,
            show_deleted: request.show_deleted,
            filter: &condition,
            order: &order,
            after: after.as_ref(),
            limit: i64::try_from(page_size).unwrap_or(i64::MAX) + 1,
        };
        let listed = self.store.list(&query).await?;
        let mut more = listed.len() > page_size;
        let (mut page, positions): (Vec<Item>, Vec<ListPosition>) =
            listed.into_iter().take(page_size).unzip();
        self.present(caller, &mut page, Links::Full).await?;
        let mut items: Vec<Item> = Vec::new();
        let mut last = None;
        let mut bytes = 0;
        for (item, position) in page.into_iter().zip(positions) {
            let item = crate::history::with_view(item, view);
            bytes += item.encoded_len() + 8;
            if !items.is_empty() && bytes > MAX_PAGE_BYTES {
                more = true;
                break;
            }
            items.push(item);
            last = Some(position);
        }
        let next_page_token = match last {
            Some(position) if more => encode_page_token(&binding, &position),
            _ => String::new(),
        };
        let total = self
            .store
            .count(&scope, request.show_deleted, &condition)
            .await?;
        Ok(ListItemsResponse {
            items,
            next_page_token,
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }
}

/// The digest of `parts` (each length-prefixed, so that no two part lists collide).
pub(crate) fn digest(parts: &[&[u8]]) -> Binding {
    pake_core::paging::binding(parts)
}

/// The digest a page token is bound to.
fn binding(caller: &str, filter: &str, order: &Order, show_deleted: bool) -> Binding {
    let order = order.canonical();
    digest(&[
        b"pake.knowledge.v1.ListItems",
        caller.as_bytes(),
        filter.as_bytes(),
        order.as_bytes(),
        &[u8::from(show_deleted)],
    ])
}

/// The page token that resumes after `position` (see `pake_core::paging`).
pub(crate) fn encode_page_token(binding: &Binding, position: &ListPosition) -> String {
    pake_core::paging::encode_page_token(binding, position)
}

fn decode_page_token(token: &str, binding: &Binding, order: &Order) -> Result<ListPosition, Error> {
    decode_bound_token(
        token,
        binding,
        order,
        "ListItems",
        "filter, order, show_deleted or caller",
    )
}

/// The position in a page token of `method` (for INVALID_ARGUMENT messages), checked against
/// `binding` (`bound_to` names what it covers).
pub(crate) fn decode_bound_token(
    token: &str,
    binding: &Binding,
    order: &Order,
    method: &str,
    bound_to: &str,
) -> Result<ListPosition, Error> {
    let key_types: Vec<_> = order.keys().iter().map(|key| key.value_type()).collect();
    pake_core::paging::decode_page_token(
        token,
        &TokenSpec {
            binding,
            key_types: &key_types,
            method,
            bound_to,
            valid_id: valid_item_id,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{SortField, SortKey};

    fn order() -> Order {
        Order::new(vec![
            SortKey {
                field: SortField::ConfidenceScore,
                descending: true,
            },
            SortKey {
                field: SortField::Title,
                descending: false,
            },
            SortKey {
                field: SortField::DeleteTime,
                descending: true,
            },
        ])
    }

    #[test]
    fn tokens_round_trip_and_stay_bound() {
        let order = order();
        let bound = binding("users/alice", "tag = \"x\"", &order, false);
        let position = ListPosition {
            keys: vec![
                SortValue::Float(0.75),
                SortValue::Text("Ünïcode title \"quoted\" \u{1}".repeat(19)),
                SortValue::Int(-1),
            ],
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".to_owned(),
        };
        let token = encode_page_token(&bound, &position);
        assert!(token.len() <= MAX_PAGE_TOKEN, "{}", token.len());
        assert_eq!(
            decode_page_token(&token, &bound, &order).expect("decodes"),
            position
        );

        // Another caller, filter, order or show_deleted: rejected, naming page_token.
        let others = [
            binding("users/bob", "tag = \"x\"", &order, false),
            binding("users/alice", "tag = \"y\"", &order, false),
            binding("users/alice", "tag = \"x\"", &Order::default(), false),
            binding("users/alice", "tag = \"x\"", &order, true),
            binding("", "tag = \"x\"", &order, false),
        ];
        for other in others {
            let error = decode_page_token(&token, &other, &order).expect_err("bound");
            assert!(error.to_string().contains("page_token"), "{error}");
        }
        // Spellings of one order are one order.
        let spelled =
            Order::parse("confidence_score  DESC,title asc , delete_time desc").expect("order");
        assert_eq!(
            binding("users/alice", "tag = \"x\"", &spelled, false),
            bound
        );
    }

    #[test]
    fn damaged_tokens_are_invalid_not_panics() {
        let order = order();
        let bound = binding("", "", &order, false);
        let position = ListPosition {
            keys: vec![
                SortValue::Float(0.5),
                SortValue::Text("t".into()),
                SortValue::Int(7),
            ],
            id: "abc".to_owned(),
        };
        let token = encode_page_token(&bound, &position);
        let bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        // Cut anywhere before the end of the id's first byte (a shorter id is just another id).
        for cut in 0..=bytes.len() - position.id.len() {
            let damaged = URL_SAFE_NO_PAD.encode(&bytes[..cut]);
            assert!(
                decode_page_token(&damaged, &bound, &order).is_err(),
                "cut {cut}"
            );
        }
        for token in ["", "!!!", "AAAA", &"A".repeat(MAX_PAGE_TOKEN + 1)] {
            assert!(decode_page_token(token, &bound, &order).is_err());
        }
        let mut nan = bytes.clone();
        nan[17..25].copy_from_slice(&f64::NAN.to_bits().to_be_bytes());
        assert!(decode_page_token(&URL_SAFE_NO_PAD.encode(nan), &bound, &order).is_err());
    }
}
