//! `edge-get-item`: GetItem through the JSON edge (`GET /v1/items/{id}`, HTTP/1.1 keep-alive, one
//! connection per client) against GetItem over gRPC directly, on the same server, items and
//! user, by the same load driver at the same concurrency, in the order direct, edge, edge,
//! direct (a quarter of the warm-up and window each, so a drift in the machine's speed cancels
//! out). The goal (issue 7): edge throughput ≥ 0.85 × direct. Each edge response is checked to
//! be 200 with the requested item's name in its JSON.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use pake_api::knowledge::item::Visibility;
use pake_runtime::Shutdown;
use tonic::Status;

use crate::load::{Call, Measurement, alternate};
use crate::machine::Machine;
use crate::options::{EdgeUpstream, Options};
use crate::report::{self, Summary, millis};
use crate::scenarios::get_item::{Credentials, GetItemCall, GetItemScenario};
use crate::scenarios::pake_server::PakeServer;

/// The goal: edge throughput ÷ direct throughput.
pub const GOAL: f64 = 0.85;

/// What `edge-get-item` measured.
#[derive(Debug)]
pub struct EdgeReport {
    options: Options,
    machine: Machine,
    date: String,
    /// GetItem over gRPC.
    pub direct: Measurement,
    /// GetItem through the edge.
    pub edge: Measurement,
}

/// Prepares the items, starts an edge in front of the server, and measures both routes.
pub async fn run(options: &Options) -> anyhow::Result<EdgeReport> {
    let server = PakeServer::start_for(options).await?;
    let run_time = options.warmup + options.duration;
    let scenario =
        GetItemScenario::prepare_on(server, options, Visibility::Unspecified, run_time).await?;
    let edge_shutdown = Shutdown::new();
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .context("binding the edge to a loopback port")?;
    let mut config = pake_core::config::Config::default();
    if let Some(connections) = options.edge_connections {
        config.edge.upstream_connections = connections;
    }
    let local = (options.edge_upstream == EdgeUpstream::InProcess)
        .then(|| scenario.server().local_service());
    let edge = pake::app::start_edge(
        &config,
        Some(scenario.server().url.clone()),
        local,
        listener,
        edge_shutdown.clone(),
    )
    .await?;
    let edge_addr = edge.local_addr();
    let quarter = options.load().divided(4);
    let count = options.concurrency;
    eprintln!("GetItem over gRPC and through the edge at {edge_addr}: {count} clients");
    let measured = alternate(&quarter, |through_edge| {
        let scenario = &scenario;
        async move {
            if through_edge {
                return Ok((0..count)
                    .map(|_| Route::Edge(EdgeCall::new(edge_addr, scenario)))
                    .collect());
            }
            let direct = scenario.clients(count, Credentials::Token).await?;
            Ok(direct.into_iter().map(Route::Direct).collect())
        }
    })
    .await;
    edge_shutdown.trigger();
    let edge_stopped = edge.wait().await;
    let stopped = crate::scenarios::Scenario::stop(scenario).await;
    let (direct, through_edge) = measured?;
    edge_stopped?;
    stopped?;
    Ok(EdgeReport {
        options: options.clone(),
        machine: Machine::detect(),
        date: report::today(),
        direct,
        edge: through_edge,
    })
}

/// One client of either route.
pub enum Route {
    /// gRPC.
    Direct(GetItemCall),
    /// HTTP/1.1 through the edge.
    Edge(EdgeCall),
}

impl Call for Route {
    async fn call(&mut self) -> Result<(), Status> {
        match self {
            Route::Direct(call) => call.call().await,
            Route::Edge(call) => call.call().await,
        }
    }
}

/// A client with its own keep-alive HTTP/1.1 connection to the edge (hyper's connection-level
/// client, as the gRPC clients have one HTTP/2 connection each: no pool in between), made on
/// the first call and again if the edge closes it.
pub struct EdgeCall {
    edge: SocketAddr,
    connection: Option<SendRequest<Empty<Bytes>>>,
    host: String,
    bearer: String,
    names: Arc<[String]>,
}

impl EdgeCall {
    fn new(edge: SocketAddr, scenario: &GetItemScenario) -> Self {
        EdgeCall {
            edge,
            connection: None,
            host: edge.to_string(),
            bearer: format!("Bearer {}", scenario.user().access_token),
            names: scenario.names(),
        }
    }

    async fn connection(&mut self) -> Result<&mut SendRequest<Empty<Bytes>>, Status> {
        let unavailable =
            |error: &dyn std::fmt::Display| Status::unavailable(format!("edge: {error}"));
        if self.connection.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = tokio::net::TcpStream::connect(self.edge)
                .await
                .map_err(|e| unavailable(&e))?;
            // As the gRPC side does: small responses must not wait for a delayed ACK.
            stream.set_nodelay(true).map_err(|e| unavailable(&e))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| unavailable(&e))?;
            // Ends when the sender is dropped or the edge closes the connection.
            tokio::spawn(connection);
            self.connection = Some(sender);
        }
        let sender = self
            .connection
            .as_mut()
            .ok_or_else(|| Status::internal("no connection"))?;
        sender.ready().await.map_err(|e| unavailable(&e))?;
        Ok(sender)
    }

    async fn call(&mut self) -> Result<(), Status> {
        let index = rand::random::<usize>() % self.names.len();
        let name = self.names[index].clone();
        let request = http::Request::get(format!("/v1/{name}"))
            .header(http::header::HOST, &self.host)
            .header(http::header::AUTHORIZATION, &self.bearer)
            .body(Empty::new())
            .map_err(|error| Status::internal(error.to_string()))?;
        let response = self
            .connection()
            .await?
            .send_request(request)
            .await
            .map_err(|error| Status::unavailable(format!("edge: {error}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| Status::unavailable(format!("edge body: {error}")))?
            .to_bytes();
        let expected = format!("\"name\":\"{name}\"");
        if status != http::StatusCode::OK || !contains(&body, expected.as_bytes()) {
            return Err(Status::internal(format!(
                "edge GET {name} answered {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

impl EdgeReport {
    /// Edge throughput ÷ direct throughput.
    pub fn ratio(&self) -> f64 {
        let direct = self.direct.throughput();
        if direct > 0.0 {
            self.edge.throughput() / direct
        } else {
            0.0
        }
    }
}

impl Summary for EdgeReport {
    fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "edge-get-item: GetItem of {} items, {} clients, gRPC directly and through the edge \
             (HTTP/1.1 keep-alive; edge → services {}), alternated",
            self.options.items,
            self.options.concurrency,
            match self.options.edge_upstream {
                EdgeUpstream::InProcess => "in-process, as in `pake serve`".to_owned(),
                EdgeUpstream::Grpc => format!(
                    "over loopback gRPC, {} connections, as `pake serve edge`",
                    self.options
                        .edge_connections
                        .unwrap_or(pake_core::config::DEFAULT_UPSTREAM_CONNECTIONS)
                ),
            }
        )?;
        let row = |route: &str, run: &Measurement| {
            vec![
                self.date.clone(),
                route.to_owned(),
                self.options.concurrency.to_string(),
                format!("{:.0}", run.throughput()),
                millis(run.quantile_millis(0.5)),
                millis(run.quantile_millis(0.99)),
                millis(run.max_millis()),
                run.errors.to_string(),
                self.machine.summary(),
            ]
        };
        let header = [
            "date", "route", "clients", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "machine",
        ];
        report::table(
            out,
            &header,
            &[0, 1, 8],
            &[
                row("GetItem, gRPC direct", &self.direct),
                row("GetItem, through the edge", &self.edge),
            ],
        )?;
        let ratio = self.ratio();
        writeln!(
            out,
            "edge ÷ direct throughput = {ratio:.3} (goal ≥ {GOAL}: {})",
            if ratio >= GOAL { "met" } else { "MISSED" }
        )
    }

    fn failure_lines(&self) -> Vec<String> {
        [
            report::failure_line("GetItem direct", &self.direct),
            report::failure_line("GetItem through the edge", &self.edge),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}
