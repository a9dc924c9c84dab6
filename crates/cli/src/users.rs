//! `pake user …`: user administration straight against the database, for bootstrapping the first
//! admin (there is never a default account) and for operators without a token. With Vault
//! configured, the database URL and the signing keys come from Vault, as for `pake serve`.

use std::sync::Arc;

use pake_api::identity::{CreateUserRequest, Role, User};
use pake_core::config::Config;
use pake_core::revocation::InProcessRevokedSessions;
use pake_runtime::db::Database;

use crate::args::UserCreateArgs;

/// Creates a user with every CreateUser check applied, as an operator.
pub async fn create(
    config: &Config,
    args: UserCreateArgs,
    password: String,
) -> anyhow::Result<User> {
    let (config, vault) = crate::app::secrets::resolve(config).await?;
    let database = Database::open(config.database_url.as_ref(), &config.data_dir).await?;
    let (service, _) = crate::app::identity_service(
        &config,
        vault.as_ref(),
        &database,
        Arc::new(InProcessRevokedSessions::default()),
    )
    .await?;
    let roles = if args.admin {
        vec![Role::Admin as i32]
    } else {
        Vec::new()
    };
    let result = service
        .create_user_as_operator(CreateUserRequest {
            user: Some(User {
                username: args.username,
                email: args.email,
                display_name: args.display_name,
                roles,
                ..User::default()
            }),
            password,
            ..CreateUserRequest::default()
        })
        .await;
    database.close().await;
    Ok(result?)
}
