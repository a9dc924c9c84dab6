//! The identity service type and its gRPC adapter: one method each, calling the service (sign-in
//! and sessions in `sign_in`, CreateUser in `create_user`, the others in files of their own).

use std::sync::Arc;
use std::time::Duration;

use pake_api::identity::identity_service_server::{self, IdentityServiceServer};
use pake_api::identity::{
    ChangePasswordRequest, CreateSessionRequest, CreateSessionResponse, CreateUserRequest,
    DeleteSessionRequest, GetJwksRequest, GetJwksResponse, GetUserRequest, JsonWebKey,
    ListSessionsRequest, ListSessionsResponse, RefreshSessionRequest, RefreshSessionResponse,
    Session, User,
};
use pake_core::Error;
use pake_core::auth::{Caller, Role};
use pake_core::config::IdentityConfig;
use pake_core::revocation::RevokedSessions;
use pake_runtime::auth::caller;
use pake_runtime::db::{now_micros, timestamp};
use tonic::{Request, Response, Status};

use crate::audit::RequestContext;
use crate::password::Hasher;
use crate::roles;
use crate::store::{AuditRecord, IdentityStore, SessionRecord, UserRecord};
use crate::throttle::Throttle;
use crate::tokens::Signer;

/// Everything the identity service needs, built by the composition root.
#[derive(Clone, Debug)]
pub struct IdentityService {
    pub(crate) store: Arc<dyn IdentityStore>,
    pub(crate) hasher: Hasher,
    pub(crate) signer: Signer,
    pub(crate) revoked: Arc<dyn RevokedSessions>,
    pub(crate) key_hasher: crate::api_keys::KeyHasher,
    pub(crate) throttle: Arc<dyn Throttle>,
    pub(crate) rotations: Arc<crate::signing_keys::RotationRequests>,
    pub(crate) disposal_wake: Arc<tokio::sync::Notify>,
    pub(crate) config: IdentityConfig,
    pub(crate) retention: Arc<crate::audit::Retention>,
}

impl IdentityService {
    /// A service over `store`, signing with `signer`'s key set, announcing ended sessions in `revoked`.
    pub fn new(
        store: Arc<dyn IdentityStore>,
        hasher: Hasher,
        signer: Signer,
        revoked: Arc<dyn RevokedSessions>,
        key_hasher: crate::api_keys::KeyHasher,
        config: IdentityConfig,
    ) -> Self {
        IdentityService {
            store,
            hasher,
            signer,
            revoked,
            key_hasher,
            throttle: Arc::new(crate::throttle::InProcessThrottle::default()),
            rotations: Arc::default(),
            disposal_wake: Arc::default(),
            retention: Arc::new(crate::audit::Retention::new(config.audit_retention_days)),
            config,
        }
    }

    /// The service with sign-in throttling state in `throttle` (Redis across replicas;
    /// in-process by default).
    pub fn with_throttle(mut self, throttle: Arc<dyn Throttle>) -> Self {
        self.throttle = throttle;
        self
    }

    /// Ends a session: its refresh token fails at once, its access tokens within the revocation
    /// set's reach (at once in-process).
    pub(crate) async fn end_session(&self, session: &SessionRecord) -> Result<(), Error> {
        self.end_session_recorded(session, None).await
    }

    /// Ends a session like [`Self::end_session`], inserting `audit` with the revocation when
    /// this call revoked it.
    pub(crate) async fn end_session_recorded(
        &self,
        session: &SessionRecord,
        audit: Option<&AuditRecord>,
    ) -> Result<(), Error> {
        self.store
            .revoke_session(&session.id, now_micros(), audit)
            .await?;
        self.revoked
            .revoke(
                &session.resource_name(),
                self.signer.ttl() + Duration::from_secs(60),
            )
            .await;
        Ok(())
    }

    /// Creates a user with an operator's authority (the `pake user create` command, which is
    /// how the first admin comes to exist): every check of CreateUser applies, as for an admin.
    pub async fn create_user_as_operator(&self, request: CreateUserRequest) -> Result<User, Error> {
        let operator = Caller::Authenticated(pake_core::auth::Principal {
            subject: "operator".to_owned(),
            session_id: None,
            roles: vec![Role::Admin],
        });
        let context = RequestContext {
            client_address: "local".to_owned(),
            ..RequestContext::default()
        };
        self.create_user(&operator, &context, request).await
    }

    /// The worker that carries out deleted users' item dispositions through the knowledge
    /// service at `knowledge_url` (none: they wait until one is configured), calling it with
    /// service-account tokens from `tokens`.
    pub fn item_disposer(
        &self,
        knowledge_url: Option<&str>,
        tokens: Arc<dyn pake_core::token::ServiceTokenSource>,
    ) -> Result<crate::item_disposal::ItemDisposer, tonic::transport::Error> {
        crate::item_disposal::ItemDisposer::new(
            self.store.clone(),
            knowledge_url,
            tokens,
            self.disposal_wake.clone(),
        )
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> IdentityServiceServer<Self> {
        IdentityServiceServer::new(self)
    }

    fn jwks(&self) -> Vec<JsonWebKey> {
        self.signer
            .key_set()
            .published(now_micros())
            .iter()
            .map(|key| {
                let (kty, crv) = key.key_type_and_curve();
                JsonWebKey {
                    kty: kty.to_owned(),
                    crv: crv.to_owned(),
                    x: key.x().to_owned(),
                    y: key.y().to_owned(),
                    kid: key.kid().to_owned(),
                    alg: key.algorithm().jose_name().to_owned(),
                    r#use: "sig".to_owned(),
                }
            })
            .collect()
    }

    async fn get_user(&self, caller: &Caller, name: &str) -> Result<User, Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => principal,
            Caller::Anonymous => return Err(Error::unauthenticated("authorization: required")),
        };
        let id = parse_user_name(name, "name")?;
        let id = if id == "me" {
            principal
                .subject
                .strip_prefix("users/")
                .ok_or_else(|| Error::not_found(name))?
                .to_owned()
        } else {
            id.to_owned()
        };
        let own = principal.subject == format!("users/{id}");
        if !own && !principal.is_admin() {
            return Err(Error::not_found(name).with_reason("USER_NOT_FOUND"));
        }
        let user = self
            .store
            .user_by_id(&id)
            .await?
            .ok_or_else(|| Error::not_found(name).with_reason("USER_NOT_FOUND"))?;
        Ok(self.user_to_proto_for(Some(principal), &user).await)
    }
}

pub(crate) fn parse_user_name<'a>(name: &'a str, field: &str) -> Result<&'a str, Error> {
    match name.strip_prefix("users/") {
        Some(id) if !id.is_empty() && !id.contains('/') && id.len() <= 122 => Ok(id),
        _ => Err(Error::invalid_field(
            field,
            "must be users/{user} or users/me",
        )),
    }
}

pub(crate) fn validate_user_id(id: &str) -> Result<(), Error> {
    let valid = (1..=63).contains(&id.len())
        && id != "me"
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "user_id",
            "must be 1 to 63 characters matching [a-z]([a-z0-9-]*[a-z0-9])? and not `me`",
        ))
    }
}

/// `user` on the wire. `lock_end_ms` is the end of its sign-in lockout (ms since the epoch) when
/// the caller may see it (`user_state`); a disabled user is `STATE_DISABLED` either way.
pub(crate) fn user_to_proto(user: &UserRecord, lock_end_ms: Option<u64>) -> User {
    use pake_api::identity::user::State;
    let lock_end_ms = lock_end_ms.filter(|_| !user.disabled);
    User {
        name: user.resource_name(),
        username: user.username.clone(),
        email: user.email.clone().unwrap_or_default(),
        display_name: user.display_name.clone(),
        roles: roles::to_proto(&user.role_list()),
        state: if user.disabled {
            State::Disabled as i32
        } else if lock_end_ms.is_some() {
            State::Locked as i32
        } else {
            State::Active as i32
        },
        disabled: user.disabled,
        service_account: user.service_account,
        lockout_expire_time: lock_end_ms.map(|end| {
            timestamp(
                i64::try_from(end)
                    .unwrap_or(i64::MAX / 1000)
                    .saturating_mul(1000),
            )
        }),
        password_update_time: Some(timestamp(user.password_update_time)),
        last_sign_in_time: user.last_sign_in_time.map(timestamp),
        create_time: Some(timestamp(user.create_time)),
        update_time: Some(timestamp(user.update_time)),
        etag: format!("\"{}\"", user.revision),
    }
}

pub(crate) fn session_to_proto(session: &SessionRecord, current: bool) -> Session {
    Session {
        name: session.resource_name(),
        create_time: Some(timestamp(session.create_time)),
        refresh_time: Some(timestamp(session.last_refresh_time)),
        expire_time: Some(timestamp(session.expire_time)),
        client_address: session.client_address.clone(),
        user_agent: session.user_agent.clone(),
        current,
    }
}

/// The client's address as the server's auth layer resolved it (`pake_runtime::auth`), or the
/// connection's peer; empty when neither is known (a call made without a connection).
pub(crate) fn client_address<T>(request: &Request<T>) -> String {
    pake_runtime::auth::client_address(request)
        .map(|address| address.to_string())
        .unwrap_or_default()
}

pub(crate) fn user_agent<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get("user-agent")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tonic::async_trait]
impl identity_service_server::IdentityService for IdentityService {
    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let caller = caller(&request);
        let context = self.request_context(&request);
        let user = self
            .create_user(&caller, &context, request.into_inner())
            .await?;
        Ok(Response::new(user))
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.get_user(&caller, &request.get_ref().name).await?,
        ))
    }

    async fn create_session(
        &self,
        request: Request<CreateSessionRequest>,
    ) -> Result<Response<CreateSessionResponse>, Status> {
        let context = self.request_context(&request);
        Ok(Response::new(
            self.sign_in(&context, request.into_inner()).await?,
        ))
    }

    async fn refresh_session(
        &self,
        request: Request<RefreshSessionRequest>,
    ) -> Result<Response<RefreshSessionResponse>, Status> {
        let context = self.request_context(&request);
        Ok(Response::new(
            self.refresh(&context, request.into_inner()).await?,
        ))
    }

    async fn delete_session(
        &self,
        request: Request<DeleteSessionRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request);
        let context = self.request_context(&request);
        self.delete_session(&caller, &context, &request.get_ref().name)
            .await?;
        Ok(Response::new(()))
    }

    async fn update_user(
        &self,
        request: Request<pake_api::identity::UpdateUserRequest>,
    ) -> Result<Response<User>, Status> {
        let caller = caller(&request);
        let context = self.request_context(&request);
        Ok(Response::new(
            self.update_user(&caller, &context, request.into_inner())
                .await?,
        ))
    }

    async fn delete_user(
        &self,
        request: Request<pake_api::identity::DeleteUserRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request);
        let context = self.request_context(&request);
        self.delete_user(&caller, &context, request.into_inner())
            .await?;
        Ok(Response::new(()))
    }

    async fn list_sessions(
        &self,
        request: Request<ListSessionsRequest>,
    ) -> Result<Response<ListSessionsResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.list_sessions(&caller, request.into_inner()).await?,
        ))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request);
        let context = self.request_context(&request);
        self.change_password(&caller, &context, request.into_inner())
            .await?;
        Ok(Response::new(()))
    }

    async fn create_api_key(
        &self,
        request: Request<pake_api::identity::CreateApiKeyRequest>,
    ) -> Result<Response<pake_api::identity::CreateApiKeyResponse>, Status> {
        let caller = caller(&request);
        let context = self.request_context(&request);
        Ok(Response::new(
            self.create_api_key(&caller, &context, request.into_inner())
                .await?,
        ))
    }

    async fn list_api_keys(
        &self,
        request: Request<pake_api::identity::ListApiKeysRequest>,
    ) -> Result<Response<pake_api::identity::ListApiKeysResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.list_api_keys(&caller, request.into_inner()).await?,
        ))
    }

    async fn delete_api_key(
        &self,
        request: Request<pake_api::identity::DeleteApiKeyRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request);
        let context = self.request_context(&request);
        self.delete_api_key(&caller, &context, request.into_inner())
            .await?;
        Ok(Response::new(()))
    }

    async fn exchange_api_key(
        &self,
        request: Request<pake_api::identity::ExchangeApiKeyRequest>,
    ) -> Result<Response<pake_api::identity::ExchangeApiKeyResponse>, Status> {
        let context = self.request_context(&request);
        Ok(Response::new(
            self.exchange_api_key(&context, request.into_inner())
                .await?,
        ))
    }

    async fn list_users(
        &self,
        request: Request<pake_api::identity::ListUsersRequest>,
    ) -> Result<Response<pake_api::identity::ListUsersResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.list_users(&caller, request.into_inner()).await?,
        ))
    }

    async fn list_audit_events(
        &self,
        request: Request<pake_api::identity::ListAuditEventsRequest>,
    ) -> Result<Response<pake_api::identity::ListAuditEventsResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.list_audit_events(&caller, request.into_inner())
                .await?,
        ))
    }

    async fn export_user_data(
        &self,
        request: Request<pake_api::identity::ExportUserDataRequest>,
    ) -> Result<
        Response<tonic::codegen::BoxStream<pake_api::identity::ExportUserDataResponse>>,
        Status,
    > {
        let caller = caller(&request);
        let context = self.request_context(&request);
        Ok(Response::new(
            self.export_user_data(&caller, &context, request.into_inner())
                .await?,
        ))
    }

    async fn get_jwks(
        &self,
        _request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        Ok(Response::new(GetJwksResponse { keys: self.jwks() }))
    }

    async fn rotate_signing_key(
        &self,
        request: Request<pake_api::identity::RotateSigningKeyRequest>,
    ) -> Result<Response<pake_api::identity::SigningKey>, Status> {
        let principal = pake_runtime::auth::principal(&request)?;
        let context = self.request_context(&request);
        Ok(Response::new(
            self.rotate_signing_key(&principal, &context, request.into_inner())
                .await?,
        ))
    }

    async fn list_signing_keys(
        &self,
        request: Request<pake_api::identity::ListSigningKeysRequest>,
    ) -> Result<Response<pake_api::identity::ListSigningKeysResponse>, Status> {
        let principal = pake_runtime::auth::principal(&request)?;
        Ok(Response::new(
            self.list_signing_keys(&principal, request.into_inner())?,
        ))
    }
}
