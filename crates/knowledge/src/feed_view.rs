//! What one change-feed event looks like to one reader (WatchItems, SPEC §4): service accounts
//! and admins see every event as it is; everyone else sees events of items they may read,
//! judged before and after the write, so a write that makes an item readable arrives as a
//! CREATED (or UNDELETED) with the whole item and a write that makes it unreadable arrives with
//! only the item's name, as DELETED (soft delete) or PURGED (visibility narrowed, owner
//! changed, purge). Writes to items the reader could read neither before nor after are not sent.

use pake_api::knowledge::Item;
use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::item_event::Type;
use pake_core::auth::Caller;

use crate::model::can_read;
use crate::store::FeedEvent;

/// The event `caller` receives for `event`, or `None` when it is not theirs to see.
pub(crate) fn view(caller: &Caller, event: FeedEvent) -> Option<(Type, Item)> {
    let stored = match event.event_type.as_str() {
        "created" => Type::Created,
        "updated" => Type::Updated,
        "deleted" => Type::Deleted,
        "undeleted" => Type::Undeleted,
        _ => Type::Purged,
    };
    let name_only = |item: Item| Item {
        name: item.name,
        ..Item::default()
    };
    if let Caller::Authenticated(principal) = caller
        && (principal.is_admin() || principal.is_service())
    {
        return Some(match stored {
            Type::Purged => (stored, name_only(event.item)),
            _ => (stored, event.item),
        });
    }
    let readable = |owner: &str, visibility: Visibility, deleted: bool| {
        can_read(caller, owner, visibility) && (!deleted || owns(caller, owner))
    };
    let before = event
        .before
        .as_ref()
        .is_some_and(|b| readable(&b.owner, b.visibility, b.deleted));
    let after = stored != Type::Purged
        && readable(
            &event.item.owner,
            event.item.visibility(),
            event.item.delete_time.is_some(),
        );
    match (before, after) {
        (false, false) => None,
        (true, true) => Some((stored, event.item)),
        (false, true) if stored == Type::Undeleted => Some((Type::Undeleted, event.item)),
        (false, true) => Some((Type::Created, event.item)),
        (true, false) if stored == Type::Deleted => Some((Type::Deleted, name_only(event.item))),
        (true, false) => Some((Type::Purged, name_only(event.item))),
    }
}

fn owns(caller: &Caller, owner: &str) -> bool {
    matches!(caller, Caller::Authenticated(principal) if principal.subject == owner)
}

#[cfg(test)]
mod tests {
    use pake_core::auth::{Principal, Role};

    use super::*;
    use crate::store::Before;

    fn user(subject: &str, roles: &[Role]) -> Caller {
        Caller::Authenticated(Principal {
            subject: subject.to_owned(),
            session_id: None,
            roles: roles.to_vec(),
        })
    }

    fn item(owner: &str, visibility: Visibility, deleted: bool) -> Item {
        Item {
            name: "items/x".into(),
            title: "secret title".into(),
            owner: owner.into(),
            visibility: visibility as i32,
            delete_time: deleted.then(prost_types::Timestamp::default),
            ..Item::default()
        }
    }

    fn event(kind: &str, before: Option<(&str, Visibility, bool)>, after: Item) -> FeedEvent {
        FeedEvent {
            position: 1,
            event_type: kind.into(),
            event_time: 0,
            item: after,
            before: before.map(|(owner, visibility, deleted)| Before {
                owner: owner.into(),
                visibility,
                deleted,
            }),
        }
    }

    fn seen(caller: &Caller, event: FeedEvent) -> Option<(Type, bool)> {
        view(caller, event).map(|(kind, item)| (kind, !item.title.is_empty()))
    }

    const A: &str = "users/a";
    const B: &str = "users/b";

    #[test]
    fn transitions_as_the_contract_lists_them() {
        use Visibility::{Internal, Private, Public};
        let bob = user(B, &[Role::Editor]);
        let cases = [
            // Never readable to bob: nothing.
            (event("created", None, item(A, Private, false)), None),
            (
                event(
                    "updated",
                    Some((A, Private, false)),
                    item(A, Private, false),
                ),
                None,
            ),
            // Readable before and after: as stored, whole item.
            (
                event("created", None, item(A, Public, false)),
                Some((Type::Created, true)),
            ),
            (
                event(
                    "updated",
                    Some((A, Internal, false)),
                    item(A, Public, false),
                ),
                Some((Type::Updated, true)),
            ),
            // Widened: a CREATED with the item.
            (
                event(
                    "updated",
                    Some((A, Private, false)),
                    item(A, Internal, false),
                ),
                Some((Type::Created, true)),
            ),
            // Given to bob: a CREATED; taken away from bob: a PURGED with the name only.
            (
                event(
                    "updated",
                    Some((A, Private, false)),
                    item(B, Private, false),
                ),
                Some((Type::Created, true)),
            ),
            (
                event(
                    "updated",
                    Some((B, Private, false)),
                    item(A, Private, false),
                ),
                Some((Type::Purged, false)),
            ),
            // Narrowed: PURGED, name only.
            (
                event("updated", Some((A, Public, false)), item(A, Private, false)),
                Some((Type::Purged, false)),
            ),
            // Soft-deleted by someone else's owner: DELETED, name only; undeleted: UNDELETED.
            (
                event("deleted", Some((A, Public, false)), item(A, Public, true)),
                Some((Type::Deleted, false)),
            ),
            (
                event("undeleted", Some((A, Public, true)), item(A, Public, false)),
                Some((Type::Undeleted, true)),
            ),
            // A purge of another's deleted item: bob could not read it any more.
            (
                event("purged", Some((A, Public, true)), item(A, Public, true)),
                None,
            ),
            // Bob's own items: deleted ones stay readable to him; a purge is a name.
            (
                event("deleted", Some((B, Private, false)), item(B, Private, true)),
                Some((Type::Deleted, true)),
            ),
            (
                event("purged", Some((B, Private, true)), item(B, Private, true)),
                Some((Type::Purged, false)),
            ),
        ];
        for (index, (event, expected)) in cases.into_iter().enumerate() {
            assert_eq!(seen(&bob, event), expected, "case {index}");
        }
    }

    #[test]
    fn admins_and_services_see_every_event_as_stored() {
        for caller in [
            user("users/root", &[Role::Admin]),
            user("services/search", &[Role::Service]),
        ] {
            let private = event(
                "updated",
                Some((A, Visibility::Private, false)),
                item(A, Visibility::Private, false),
            );
            assert_eq!(seen(&caller, private), Some((Type::Updated, true)));
            let purge = event(
                "purged",
                Some((A, Visibility::Private, true)),
                item(A, Visibility::Private, true),
            );
            assert_eq!(seen(&caller, purge), Some((Type::Purged, false)));
        }
    }
}
