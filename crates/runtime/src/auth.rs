//! Authentication of every PAKE gRPC call, in one tower layer in front of all services.
//!
//! For `/pake.*` methods the layer reads `authorization: Bearer <token>`, verifies it with the
//! shared [`Verifier`] and stores the resulting [`Caller`] in the request extensions, where
//! handlers read it with [`caller`]. A call without a token is let through as anonymous only when
//! the method is on the allow-list ([`pake_core::auth::ANONYMOUS_METHODS`]); a call with an
//! invalid token is rejected even on those methods. Health and reflection are open. With
//! [`AuthLayer::with_rate_limits`], each authenticated call then spends from its caller's
//! budget ([`crate::rate_limit`]) before any handler runs.
//!
//! The layer also decides once which address the call comes from ([`ClientAddress`]: the peer,
//! or behind trusted proxies the forwarded client, [`pake_core::client_address`]), for anonymous
//! rate limits here and sign-in throttling and the audit log in identity ([`client_address`]).

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use pake_core::auth::{Caller, Principal, TOKEN_IGNORED_METHODS, allows_anonymous};
use pake_core::client_address::TrustedProxies;
use pake_core::token::{JwksSource, PublicJwk, Verifier};
use pake_core::{Error, ErrorKind};
use tonic::body::Body;

use crate::rate_limit::RateLimiter;

/// The address a call comes from, as the auth layer resolved it (a request extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Marks a call made in-process by the all-in-one's edge ([`crate::server::LocalService`]):
/// its `X-Forwarded-For` is the edge's and is believed without configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InProcessEdgeCall;

/// The address `request` comes from: what the auth layer resolved, else the connection's peer.
pub fn client_address<T>(request: &tonic::Request<T>) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ClientAddress>()
        .map(|address| address.0)
        .or_else(|| request.remote_addr().map(|address| address.ip()))
}

/// The layer; cheap to clone.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    verifier: Arc<Verifier>,
    limiter: Option<Arc<RateLimiter>>,
    trusted_proxies: Arc<TrustedProxies>,
}

impl AuthLayer {
    /// Authenticates with `verifier`; no rate limits; no proxy trusted.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        AuthLayer {
            verifier,
            limiter: None,
            trusted_proxies: Arc::default(),
        }
    }

    /// Also limits each caller's rate with `limiter`.
    pub fn with_rate_limits(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Believes `X-Forwarded-For` from `proxies` when resolving [`ClientAddress`].
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = Arc::new(proxies);
        self
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
            limiter: self.limiter.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

/// The peer of `request`, or behind a trusted proxy the client it forwards for.
fn resolve_client_address(
    request: &http::Request<Body>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())?
        .ip();
    let in_process_edge = request.extensions().get::<InProcessEdgeCall>().is_some();
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    Some(trusted.client_address(peer, in_process_edge, forwarded))
}

/// The service produced by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    verifier: Arc<Verifier>,
    limiter: Option<Arc<RateLimiter>>,
    trusted_proxies: Arc<TrustedProxies>,
}

impl<S> tower_service::Service<http::Request<Body>> for AuthService<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let mut inner = crate::call_end::take_ready(&mut self.inner);
        let verifier = self.verifier.clone();
        let limiter = self.limiter.clone();
        let path = request.uri().path().to_owned();
        let authorization = request.headers().get(http::header::AUTHORIZATION).cloned();
        let address = resolve_client_address(&request, &self.trusted_proxies);
        if let Some(address) = address {
            request.extensions_mut().insert(ClientAddress(address));
        }
        Box::pin(async move {
            let caller = match authenticate(&verifier, &path, authorization.as_ref()).await {
                Ok(caller) => caller,
                Err(error) => return Ok(tonic::Status::from(error).into_http()),
            };
            if let Some(limiter) = limiter
                && let Err(wait) = limiter.check(&caller, address, &path)
            {
                let error = Error::resource_exhausted(
                    "rate limit exceeded for this caller; retry after the delay in RetryInfo",
                    wait,
                )
                .with_reason("RATE_LIMITED");
                return Ok(tonic::Status::from(error).into_http());
            }
            request.extensions_mut().insert(caller);
            inner.call(request).await
        })
    }
}

async fn authenticate(
    verifier: &Verifier,
    path: &str,
    authorization: Option<&http::HeaderValue>,
) -> Result<Caller, Error> {
    if !path.starts_with("/pake.") || TOKEN_IGNORED_METHODS.contains(&path) {
        return Ok(Caller::Anonymous);
    }
    match bearer_token(authorization)? {
        Some(token) => Ok(Caller::Authenticated(verifier.verify(token).await?)),
        None if allows_anonymous(path) => Ok(Caller::Anonymous),
        None => Err(Error::unauthenticated(
            "authorization: this method needs `authorization: Bearer <access token>` metadata",
        )
        .with_reason("MISSING_TOKEN")),
    }
}

fn bearer_token(authorization: Option<&http::HeaderValue>) -> Result<Option<&str>, Error> {
    let Some(value) = authorization else {
        return Ok(None);
    };
    let malformed = || {
        Error::unauthenticated("authorization: expected `Bearer <access token>`")
            .with_reason("INVALID_TOKEN")
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(malformed());
    }
    Ok(Some(token.trim()))
}

/// The caller of a request that passed the auth layer (anonymous if the layer did not run).
pub fn caller<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Anonymous)
}

/// The authenticated principal, or UNAUTHENTICATED.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, Error> {
    match caller(request) {
        Caller::Authenticated(principal) => Ok(principal),
        Caller::Anonymous => Err(Error::new(
            ErrorKind::Unauthenticated,
            "authorization: this method needs `authorization: Bearer <access token>` metadata",
        )
        .with_reason("MISSING_TOKEN")),
    }
}

/// Fetches the JWKS from the identity service over gRPC.
#[derive(Clone, Debug)]
pub struct GrpcJwksSource {
    channel: tonic::transport::Channel,
}

impl GrpcJwksSource {
    /// A source reading `GetJwks` from the identity service at `url` (connected lazily).
    pub fn new(url: &str) -> Result<Self, tonic::transport::Error> {
        let channel = crate::tls::client_endpoint(url)?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .connect_lazy();
        Ok(GrpcJwksSource { channel })
    }
}

#[async_trait::async_trait]
impl JwksSource for GrpcJwksSource {
    async fn fetch(&self) -> Result<Vec<PublicJwk>, Error> {
        let mut client = pake_api::identity::identity_service_client::IdentityServiceClient::new(
            self.channel.clone(),
        );
        // Fetched for a request (an unknown key id): part of that request's trace.
        let mut request = tonic::Request::new(pake_api::identity::GetJwksRequest {});
        pake_core::telemetry::inject_metadata(request.metadata_mut());
        let answer = client.get_jwks(request).await;
        crate::metrics::counter_family(
            "pake_jwks_fetches",
            "JWKS fetches by the token verifier (refreshes and unknown key ids), by result",
        )
        .get_or_create(&vec![(
            "result",
            if answer.is_ok() { "ok" } else { "error" }.to_owned(),
        )])
        .inc();
        let response =
            answer.map_err(|status| Error::unavailable("identity service unavailable", status))?;
        Ok(response
            .into_inner()
            .keys
            .into_iter()
            .map(|key| PublicJwk {
                kty: key.kty,
                crv: key.crv,
                x: key.x,
                y: key.y,
                kid: key.kid,
                alg: key.alg,
            })
            .collect())
    }
}

/// Service-account tokens obtained by exchanging an API key with the identity service
/// (`ExchangeApiKey`), cached until a minute before they expire. How a service running without
/// identity in its process calls other services as a service account.
#[derive(Debug)]
pub struct ExchangedServiceTokens {
    channel: tonic::transport::Channel,
    api_key: pake_core::config::SecretString,
    cached: tokio::sync::Mutex<Option<(String, std::time::SystemTime)>>,
}

impl ExchangedServiceTokens {
    /// Tokens for `api_key` from the identity service at `identity_url` (connected lazily).
    pub fn new(
        identity_url: &str,
        api_key: pake_core::config::SecretString,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = crate::tls::client_endpoint(identity_url)?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .connect_lazy();
        Ok(ExchangedServiceTokens {
            channel,
            api_key,
            cached: tokio::sync::Mutex::new(None),
        })
    }
}

#[async_trait::async_trait]
impl pake_core::token::ServiceTokenSource for ExchangedServiceTokens {
    async fn token(&self) -> Result<String, Error> {
        let mut cached = self.cached.lock().await;
        let renew_before = std::time::Duration::from_secs(60);
        if let Some((token, expire)) = cached.as_ref()
            && expire
                .duration_since(std::time::SystemTime::now())
                .is_ok_and(|left| left > renew_before)
        {
            return Ok(token.clone());
        }
        let mut client = pake_api::identity::identity_service_client::IdentityServiceClient::new(
            self.channel.clone(),
        );
        let mut request = tonic::Request::new(pake_api::identity::ExchangeApiKeyRequest {
            api_key: self.api_key.expose().to_owned(),
        });
        // Renewed for the call that needs the token: part of that call's trace.
        pake_core::telemetry::inject_metadata(request.metadata_mut());
        let response = client
            .exchange_api_key(request)
            .await
            .map_err(|status| match status.code() {
                tonic::Code::Unauthenticated => Error::unauthenticated(
                    "search.service_api_key was refused by the identity service",
                ),
                _ => Error::unavailable("identity service unavailable", status),
            })?
            .into_inner();
        let expire = response
            .expire_time
            .and_then(|t| std::time::SystemTime::try_from(t).ok())
            .unwrap_or_else(std::time::SystemTime::now);
        *cached = Some((response.access_token.clone(), expire));
        Ok(response.access_token)
    }
}
