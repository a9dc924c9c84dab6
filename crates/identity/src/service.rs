//! The gRPC adapter of the identity service. Methods not implemented yet answer UNIMPLEMENTED
//! through the generated default bodies and are listed in `UNIMPLEMENTED.md`.

use std::sync::Arc;
use std::time::Duration;

use pake_api::identity::AuditEventType;
use pake_api::identity::identity_service_server::{self, IdentityServiceServer};
use pake_api::identity::{
    ChangePasswordRequest, CreateSessionRequest, CreateSessionResponse, CreateUserRequest,
    DeleteSessionRequest, GetJwksRequest, GetJwksResponse, GetUserRequest, JsonWebKey,
    ListSessionsRequest, ListSessionsResponse, RefreshSessionRequest, RefreshSessionResponse,
    Session, User,
};
use pake_core::Error;
use pake_core::auth::{Caller, Role};
use pake_core::config::{IdentityConfig, RegistrationPolicy};
use pake_core::revocation::RevokedSessions;
use pake_runtime::auth::caller;
use pake_runtime::db::{now_micros, timestamp};
use tonic::{Request, Response, Status};

use crate::audit::{AuditEvent, RequestContext, actor_of, actor_of_caller};
use crate::password::{Hasher, Verification, check_new_password};
use crate::store::{AuditRecord, IdentityStore, RefreshOutcome, SessionRecord, UserRecord};
use crate::throttle::{Throttle, Verdict};
use crate::tokens::{Signer, hash_refresh_token, new_refresh_token};
use crate::{normalize, roles};

/// How long a `request_id` deduplicates a CreateUser.
const REQUEST_ID_WINDOW: Duration = Duration::from_secs(24 * 3600);
const MAX_REQUEST_ID_BYTES: usize = 64;
const MAX_DISPLAY_NAME_BYTES: usize = 256;
const INVALID_CREDENTIALS: &str = "invalid username or password";

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

    async fn delete_session(
        &self,
        caller: &Caller,
        context: &RequestContext,
        name: &str,
    ) -> Result<(), Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => principal,
            Caller::Anonymous => return Err(Error::unauthenticated("authorization: required")),
        };
        let not_found = || Error::not_found(name).with_reason("SESSION_NOT_FOUND");
        let session_id = if name == "users/me/sessions/current" {
            principal
                .session_id
                .as_deref()
                .and_then(|sid| sid.rsplit_once("/sessions/").map(|(_, id)| id.to_owned()))
                .ok_or_else(not_found)?
        } else {
            let mut parts = name.split('/');
            match (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) {
                (Some("users"), Some(user), Some("sessions"), Some(id), None)
                    if !user.is_empty() && !id.is_empty() =>
                {
                    id.to_owned()
                }
                _ => {
                    return Err(Error::invalid_field(
                        "name",
                        "must be users/{user}/sessions/{session} or users/me/sessions/current",
                    ));
                }
            }
        };
        let session = self
            .store
            .session(&session_id)
            .await?
            .filter(|session| session.revoke_time.is_none())
            .ok_or_else(not_found)?;
        let own = principal.subject == format!("users/{}", session.user_id);
        let named_user_matches = name == "users/me/sessions/current"
            || name.starts_with(&format!("users/{}/", session.user_id))
            || (own && name.starts_with("users/me/"));
        if !(own || principal.is_admin()) || !named_user_matches {
            return Err(not_found());
        }
        let logout = principal.session_id.as_deref() == Some(session.resource_name().as_str());
        let event = AuditEvent::new(
            AuditEventType::SessionRevoked,
            actor_of(principal),
            session.resource_name(),
        )
        .with("reason", if logout { "logout" } else { "revoked" });
        let record = self.audit_record(event, context);
        self.end_session_recorded(&session, Some(&record)).await?;
        tracing::info!(session = %session.resource_name(), by = %principal.subject, "session ended");
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

    async fn create_user(
        &self,
        caller: &Caller,
        request_context: &RequestContext,
        request: CreateUserRequest,
    ) -> Result<User, Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => Some(principal),
            Caller::Anonymous => None,
        };
        let is_admin = principal.is_some_and(|p| p.is_admin());
        if self.config.registration == RegistrationPolicy::Closed && !is_admin {
            return Err(match principal {
                None => Error::unauthenticated("registration is closed; an admin creates users")
                    .with_reason("REGISTRATION_CLOSED"),
                Some(_) => {
                    Error::permission_denied("registration is closed; an admin creates users")
                        .with_reason("ADMIN_REQUIRED")
                }
            });
        }
        let user = request
            .user
            .ok_or_else(|| Error::invalid_field("user", "is required"))?;
        if (!user.roles.is_empty() || user.disabled) && !is_admin {
            let message = "user.roles: only admins set roles or disabled";
            return Err(match principal {
                None => Error::unauthenticated(message),
                Some(_) => Error::permission_denied(message),
            }
            .with_reason("ADMIN_REQUIRED"));
        }
        if request.request_id.len() > MAX_REQUEST_ID_BYTES {
            return Err(Error::invalid_field(
                "request_id",
                "must be at most 64 bytes",
            ));
        }
        let caller_key = match principal {
            Some(principal) => principal.subject.clone(),
            None => format!("address:{}", request_context.client_address),
        };
        let now = now_micros();
        if !request.request_id.is_empty() {
            let since = now - REQUEST_ID_WINDOW.as_micros() as i64;
            if let Some(existing) = self
                .store
                .user_by_request(&caller_key, &request.request_id, since)
                .await?
            {
                return Ok(self.user_to_proto_for(principal, &existing).await);
            }
        }

        let username = normalize::username(&user.username)
            .map_err(|refusal| Error::invalid_field("user.username", refusal.to_string()))?;
        let email = if user.email.is_empty() {
            None
        } else {
            Some(
                normalize::email(&user.email)
                    .map_err(|refusal| Error::invalid_field("user.email", refusal.to_string()))?,
            )
        };
        if user.display_name.len() > MAX_DISPLAY_NAME_BYTES {
            return Err(Error::invalid_field(
                "user.display_name",
                "must be at most 256 bytes",
            ));
        }
        if user.display_name.chars().any(char::is_control) {
            return Err(Error::invalid_field(
                "user.display_name",
                "must not contain control characters",
            ));
        }
        let granted = if user.roles.is_empty() {
            vec![Role::parse(&self.config.default_role).unwrap_or(Role::Editor)]
        } else {
            roles::from_proto(&user.roles)?
        };
        let service_account = granted.contains(&Role::Service);
        let user_id = if request.user_id.is_empty() {
            uuid::Uuid::now_v7().to_string()
        } else {
            validate_user_id(&request.user_id)?;
            if self.store.is_deleted_user(&request.user_id).await? {
                return Err(crate::store::StoreError::Conflict("user_id").into());
            }
            request.user_id.clone()
        };
        let password_hash = if service_account {
            if !request.password.is_empty() {
                return Err(Error::invalid_field(
                    "password",
                    "must be empty for a service account (it signs in with API keys)",
                ));
            }
            String::new()
        } else {
            let mut context = vec![username.key.as_str(), user.display_name.as_str()];
            if let Some(email) = &email {
                context.push(email.key.as_str());
            }
            check_new_password(&request.password, "password", &context)?;
            self.hasher.hash(request.password).await?
        };
        let record = UserRecord {
            id: user_id,
            username: username.key.clone(),
            username_key: username.key,
            email: email.as_ref().map(|e| e.key.clone()),
            email_key: email.map(|e| e.key),
            display_name: user.display_name,
            roles: roles::to_column(&granted),
            disabled: user.disabled,
            service_account,
            password_hash,
            password_update_time: now,
            last_sign_in_time: None,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        let request_key = (!request.request_id.is_empty())
            .then_some((caller_key.as_str(), request.request_id.as_str()));
        let mut event = AuditEvent::new(
            AuditEventType::UserCreated,
            actor_of_caller(caller),
            record.resource_name(),
        )
        .with("roles", record.roles.clone());
        if principal.is_some_and(|p| p.subject == "operator") {
            event = event.with("origin", "command_line");
        }
        let audit = self.audit_record(event, request_context);
        self.store
            .insert_user(&record, request_key, Some(&audit))
            .await?;
        tracing::info!(user = %record.resource_name(), "user created");
        Ok(self.user_to_proto_for(principal, &record).await)
    }

    async fn sign_in(
        &self,
        context: &RequestContext,
        request: CreateSessionRequest,
    ) -> Result<CreateSessionResponse, Error> {
        let client_address = context.client_address.as_str();
        if request.username.trim().is_empty() {
            return Err(Error::invalid_field("username", "is required"));
        }
        if request.password.is_empty() {
            return Err(Error::invalid_field("password", "is required"));
        }
        // Over-long input is refused before any lookup or hashing, the same for every account.
        if request.password.len() > crate::password::MAX_PASSWORD_BYTES {
            return Err(
                Error::invalid_field("password", "must be at most 1024 bytes")
                    .with_reason("FIELD_TOO_LONG"),
            );
        }
        if request.username.len() > normalize::MAX_EMAIL_BYTES {
            return Err(
                Error::invalid_field("username", "must be at most 254 bytes")
                    .with_reason("FIELD_TOO_LONG"),
            );
        }
        let key = if request.username.contains('@') {
            normalize::email(&request.username).map(|n| n.key)
        } else {
            normalize::username(&request.username).map(|n| n.key)
        };
        // One lookup whether or not the account exists (absence costs the same below).
        let found = match &key {
            Ok(key) => self.store.user_by_login(key).await?,
            Err(_) => None,
        };
        // Failures count per account — its resource name, whichever login it was typed as, so
        // a lockout holds for username and email alike — or per name (`name:…`) when no
        // account has it, so that unknown names are throttled and locked the same way.
        let account = match &found {
            Some(user) => crate::user_state::throttle_account(user),
            None => format!(
                "name:{}",
                key.unwrap_or_else(|_| request.username.trim().to_lowercase())
            ),
        };
        match self.throttle.check(&account, client_address).await {
            Verdict::Allowed => {}
            Verdict::Wait(wait) => {
                return Err(Error::resource_exhausted(
                    "too many failed sign-ins; wait before retrying",
                    wait,
                )
                .with_reason("SIGN_IN_THROTTLED"));
            }
            Verdict::Locked => {
                // Indistinguishable from a wrong password, including the work spent.
                self.hasher.verify_dummy(request.password).await?;
                self.record_sign_in_failure(found.as_ref(), "locked", false, context)
                    .await;
                return Err(invalid_credentials());
            }
        }
        let user = match found {
            Some(user) if !user.disabled && !user.service_account => user,
            refused => {
                // Same cost as a wrong password: exactly one verification at the same parameters.
                self.hasher.verify_dummy(request.password).await?;
                let locked = self.throttle.failed(&account, client_address).await;
                let reason = match &refused {
                    None => "unknown_user",
                    Some(user) if user.disabled => "disabled",
                    Some(_) => "service_account",
                };
                self.record_sign_in_failure(refused.as_ref(), reason, locked, context)
                    .await;
                return Err(invalid_credentials());
            }
        };
        let rehashed = match self
            .hasher
            .verify(request.password, user.password_hash.clone())
            .await?
        {
            Verification::Mismatch => {
                let locked = self.throttle.failed(&account, client_address).await;
                self.record_sign_in_failure(Some(&user), "wrong_password", locked, context)
                    .await;
                return Err(invalid_credentials());
            }
            Verification::Match => None,
            Verification::MatchRehashed(hash) => Some(hash),
        };
        self.throttle.succeeded(&account, client_address).await;
        let now = now_micros();
        self.store
            .record_sign_in(&user.id, now, rehashed.as_deref())
            .await?;
        let (refresh_token, refresh_hash) = new_refresh_token();
        let session = SessionRecord {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            refresh_generation: 1,
            client_address: client_address.to_owned(),
            user_agent: context.user_agent.chars().take(256).collect(),
            create_time: now,
            last_refresh_time: now,
            expire_time: now + (self.config.session_ttl_days as i64) * 86_400_000_000,
            revoke_time: None,
        };
        let audit = self.audit_record(
            AuditEvent::new(
                AuditEventType::SignInSucceeded,
                user.resource_name(),
                session.resource_name(),
            ),
            context,
        );
        self.store
            .insert_session(&session, &refresh_hash, Some(&audit))
            .await?;
        let access = self.signer.access_token(
            &user.resource_name(),
            &session.resource_name(),
            &user.role_list(),
        )?;
        tracing::info!(user = %user.resource_name(), session = %session.id, "signed in");
        Ok(CreateSessionResponse {
            access_token: access.token,
            access_token_expire_time: Some(access.expire_time.into()),
            refresh_token,
            refresh_token_expire_time: Some(timestamp(session.expire_time)),
            token_type: "Bearer".to_owned(),
            session: Some(session_to_proto(&session, true)),
        })
    }

    async fn refresh(
        &self,
        context: &RequestContext,
        request: RefreshSessionRequest,
    ) -> Result<RefreshSessionResponse, Error> {
        if request.refresh_token.is_empty() {
            return Err(Error::invalid_field("refresh_token", "is required"));
        }
        let invalid =
            || Error::unauthenticated("invalid refresh token").with_reason("INVALID_REFRESH_TOKEN");
        if request.refresh_token.len() > 256 {
            return Err(invalid());
        }
        let presented = hash_refresh_token(&request.refresh_token);
        let (refresh_token, replacement) = new_refresh_token();
        let now = now_micros();
        let session = match self
            .store
            .rotate_refresh_token(
                &presented,
                &replacement,
                now,
                // The store sets the target to the replayed session.
                Some(&self.audit_record(
                    AuditEvent::new(AuditEventType::RefreshTokenReused, "", ""),
                    context,
                )),
            )
            .await?
        {
            RefreshOutcome::Rotated(session) => session,
            RefreshOutcome::Replayed { session_id } => {
                tracing::warn!(session = %session_id, "refresh token replayed; session revoked");
                if let Some(session) = self.store.session(&session_id).await? {
                    self.end_session(&session).await?;
                }
                return Err(invalid());
            }
            RefreshOutcome::Rejected => return Err(invalid()),
        };
        let user = self
            .store
            .user_by_id(&session.user_id)
            .await?
            .filter(|user| !user.disabled)
            .ok_or_else(invalid)?;
        let access = self.signer.access_token(
            &user.resource_name(),
            &session.resource_name(),
            &user.role_list(),
        )?;
        Ok(RefreshSessionResponse {
            access_token: access.token,
            access_token_expire_time: Some(access.expire_time.into()),
            refresh_token,
            refresh_token_expire_time: Some(timestamp(session.expire_time)),
            token_type: "Bearer".to_owned(),
            session: Some(session_to_proto(&session, true)),
        })
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

fn invalid_credentials() -> Error {
    Error::unauthenticated(INVALID_CREDENTIALS).with_reason("INVALID_CREDENTIALS")
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

fn validate_user_id(id: &str) -> Result<(), Error> {
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
