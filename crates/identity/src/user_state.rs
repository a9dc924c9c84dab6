//! A user as a caller sees it: `STATE_LOCKED` and `lockout_expire_time` come from the sign-in
//! throttle (`throttle`), not the users table, and only the user itself and admins see them —
//! to anyone else a lockout would say that the account is under attack (and, with a sign-in
//! refused exactly like a wrong password, serve as an oracle for guessing). `STATE_DISABLED`
//! wins over a lockout.
//!
//! The throttle counts a user's failed sign-ins under its resource name ([`throttle_account`]),
//! whether it typed its username or its email, so one lockout covers both.

use pake_api::identity::User;
use pake_core::auth::Principal;

use crate::service::{IdentityService, user_to_proto};
use crate::store::UserRecord;

/// Whether `viewer` may see `user`'s lockout: the user itself or an admin.
pub(crate) fn may_see_lockout(viewer: Option<&Principal>, user: &UserRecord) -> bool {
    viewer.is_some_and(|viewer| viewer.is_admin() || viewer.subject == user.resource_name())
}

/// The throttle account a user's sign-ins are counted under: `users/{id}` (names that are no
/// user's are counted as `name:{normalised name}`, so the two never meet).
pub(crate) fn throttle_account(user: &UserRecord) -> String {
    user.resource_name()
}

impl IdentityService {
    /// `users` as `viewer` sees them, their lockouts read in one throttle call.
    pub(crate) async fn users_to_proto(
        &self,
        viewer: Option<&Principal>,
        users: &[UserRecord],
    ) -> Vec<User> {
        let mut accounts = Vec::new();
        let mut owners = Vec::new();
        for (index, user) in users.iter().enumerate() {
            if !user.disabled && may_see_lockout(viewer, user) {
                accounts.push(throttle_account(user));
                owners.push(index);
            }
        }
        let mut lock_ends: Vec<Option<u64>> = vec![None; users.len()];
        if !accounts.is_empty() {
            let lockouts = self.throttle.lockouts(&accounts).await;
            for (index, end) in owners.into_iter().zip(lockouts) {
                if let Some(slot) = lock_ends.get_mut(index) {
                    *slot = end;
                }
            }
        }
        users
            .iter()
            .zip(lock_ends)
            .map(|(user, lock_end)| user_to_proto(user, lock_end))
            .collect()
    }

    /// `user` as `viewer` sees it.
    pub(crate) async fn user_to_proto_for(
        &self,
        viewer: Option<&Principal>,
        user: &UserRecord,
    ) -> User {
        let mut users = self
            .users_to_proto(viewer, std::slice::from_ref(user))
            .await;
        users.pop().unwrap_or_else(|| user_to_proto(user, None))
    }
}
