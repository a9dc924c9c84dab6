//! The ceiling: a bare tonic server with one unary method that answers with its request. It has
//! no authentication, no store and no layers, so the fraction of its throughput a scenario
//! reaches says how much the scenario's own work costs on top of gRPC itself.
//!
//! The same server can also run behind PAKE's authentication layer, as `pake.bench.Echo/Echo`
//! (a PAKE method that needs a token), with clients sending a bearer token: the difference from
//! the bare echo is what verifying a token costs per call (`verify-token`).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use pake_core::token::Verifier;
use pake_runtime::auth::AuthLayer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

use crate::load::Call;
use crate::scenarios::{Scenario, connect};

/// The generated client and server of `bench.Echo` (see `build.rs`).
#[allow(clippy::all, missing_docs, rust_2018_idioms)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/bench.Echo.rs"));
}

/// The same service in PAKE's package, so that PAKE's authentication layer verifies its calls.
#[allow(clippy::all, missing_docs, rust_2018_idioms)]
mod generated_pake {
    include!(concat!(env!("OUT_DIR"), "/pake.bench.Echo.rs"));
}

use generated::echo_client::EchoClient;
use generated::echo_server::{Echo, EchoServer};
use generated_pake::echo_client::EchoClient as PakeEchoClient;
use generated_pake::echo_server::EchoServer as PakeEchoServer;

/// Request and response of `bench.Echo/Echo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoMessage {
    /// Sent, and expected back unchanged.
    #[prost(string, tag = "1")]
    pub text: String,
}

/// What clients send: as long as a GetItem request's item name (`items/` and a UUID).
const ECHO_TEXT: &str = "items/01961f1c-8e4b-7a3d-9c55-6f0e2b7d4a19";

struct EchoService;

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

#[tonic::async_trait]
impl generated_pake::echo_server::Echo for EchoService {
    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

/// The echo server, running on a loopback port.
pub struct EchoScenario {
    url: String,
    /// `Some` when the server runs behind PAKE's authentication layer: what clients send.
    bearer: Option<MetadataValue<Ascii>>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl EchoScenario {
    /// Starts the server on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(None).await
    }

    /// Starts `pake.bench.Echo` behind PAKE's authentication layer verifying with `verifier`;
    /// its clients send `bearer` (`Bearer <access token>`).
    pub async fn start_authenticated(
        verifier: Arc<Verifier>,
        bearer: MetadataValue<Ascii>,
    ) -> anyhow::Result<Self> {
        Self::start_with(Some((verifier, bearer))).await
    }

    async fn start_with(
        authentication: Option<(Arc<Verifier>, MetadataValue<Ascii>)>,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .context("binding the echo server to a loopback port")?;
        let url = format!("http://{}", listener.local_addr()?);
        // As tonic's own `serve` does: small responses go out at once instead of waiting for
        // the client's (delayed) ACK of the previous segment.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let (stop, stopped) = oneshot::channel::<()>();
        // A dropped sender stops the server too.
        let stopped = async {
            let _ = stopped.await;
        };
        let (server, bearer) = match authentication {
            None => (
                tokio::spawn(
                    Server::builder()
                        .add_service(EchoServer::new(EchoService))
                        .serve_with_incoming_shutdown(incoming, stopped),
                ),
                None,
            ),
            Some((verifier, bearer)) => (
                tokio::spawn(
                    Server::builder()
                        .layer(AuthLayer::new(verifier))
                        .add_service(PakeEchoServer::new(EchoService))
                        .serve_with_incoming_shutdown(incoming, stopped),
                ),
                Some(bearer),
            ),
        };
        Ok(EchoScenario {
            url,
            bearer,
            stop,
            server,
        })
    }
}

impl Scenario for EchoScenario {
    type Call = EchoCall;

    async fn client(&self) -> anyhow::Result<EchoCall> {
        let channel = connect(&self.url).await?;
        let client = match &self.bearer {
            None => EchoClientKind::Bare(EchoClient::new(channel)),
            Some(bearer) => EchoClientKind::Pake(PakeEchoClient::new(channel), bearer.clone()),
        };
        Ok(EchoCall {
            client,
            message: EchoMessage {
                text: ECHO_TEXT.to_owned(),
            },
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        // The server may already have ended (with an error, reported below).
        let _ = self.stop.send(());
        self.server
            .await
            .context("the echo server panicked")?
            .context("the echo server failed")
    }
}

/// One echo client.
pub struct EchoCall {
    client: EchoClientKind,
    message: EchoMessage,
}

enum EchoClientKind {
    Bare(EchoClient<Channel>),
    Pake(PakeEchoClient<Channel>, MetadataValue<Ascii>),
}

impl Call for EchoCall {
    async fn call(&mut self) -> Result<(), Status> {
        let reply = match &mut self.client {
            EchoClientKind::Bare(client) => client.echo(self.message.clone()).await?,
            EchoClientKind::Pake(client, bearer) => {
                let mut request = Request::new(self.message.clone());
                request
                    .metadata_mut()
                    .insert("authorization", bearer.clone());
                client.echo(request).await?
            }
        }
        .into_inner();
        if reply.text != self.message.text {
            return Err(Status::internal("the echo server answered with other text"));
        }
        Ok(())
    }
}
