//! Commands that talk to a running server (`pake import`, `pake export`): where it is and how
//! to sign in — an access token or API key (`--token` / `PAKE_TOKEN`), or a username with the
//! password on the first line of standard input (asked for with echo off at a terminal).

use anyhow::{Context, bail};
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{CreateSessionRequest, ExchangeApiKeyRequest};
use tonic::transport::{Channel, Endpoint};

/// Where the server is and who calls it.
#[derive(Clone, Debug, clap::Args)]
pub struct RemoteArgs {
    /// gRPC URL of the server (the knowledge service, and identity for `--username` and API
    /// keys).
    #[arg(
        long,
        env = "PAKE_SERVER",
        default_value = "http://127.0.0.1:50051",
        value_name = "URL"
    )]
    pub server: String,
    /// An access token, or an API key (`pake_…`, exchanged for an access token).
    #[arg(long, env = "PAKE_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Sign in as this user instead; the password is read from the first line of standard
    /// input.
    #[arg(long, conflicts_with = "token", value_name = "NAME")]
    pub username: Option<String>,
}

/// A connected channel and the access token to send on it.
pub struct Session {
    /// The channel to the server.
    pub channel: Channel,
    /// `Bearer` token for every call.
    pub access_token: String,
}

impl Session {
    /// `message` with `authorization: Bearer …`.
    pub fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        let value = format!("Bearer {}", self.access_token)
            .parse()
            .context("the token is not valid in a header")?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// Connects to the server and signs in as `args` says.
pub async fn connect(args: &RemoteArgs) -> anyhow::Result<Session> {
    let url = if args.server.contains("://") {
        args.server.clone()
    } else {
        format!("http://{}", args.server)
    };
    let channel = Endpoint::from_shared(url.clone())
        .with_context(|| format!("--server {url}"))?
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let mut identity = IdentityServiceClient::new(channel.clone());
    let access_token = match (&args.token, &args.username) {
        (Some(token), _) if token.starts_with("pake_") => {
            identity
                .exchange_api_key(ExchangeApiKeyRequest {
                    api_key: token.clone(),
                })
                .await
                .map_err(status_error)
                .context("exchanging the API key")?
                .into_inner()
                .access_token
        }
        (Some(token), _) => token.clone(),
        (None, Some(username)) => {
            let password =
                crate::password_input::read_password(&format!("Password for {username}: "))
                    .context("reading the password from standard input")?;
            identity
                .create_session(CreateSessionRequest {
                    username: username.clone(),
                    password,
                })
                .await
                .map_err(status_error)
                .context("signing in")?
                .into_inner()
                .access_token
        }
        (None, None) => bail!(
            "sign in with --username NAME (password on standard input), or pass --token / PAKE_TOKEN"
        ),
    };
    Ok(Session {
        channel,
        access_token,
    })
}

/// A gRPC status as an error a person reads: the code and the server's message.
pub fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}
