//! The `pake` binary. Exit codes: 0 clean shutdown, 1 runtime failure, 2 invalid configuration
//! or usage.

use std::process::ExitCode;

use clap::Parser;
use pake::args::{Cli, Command, ServeArgs, UserCommand, UserCreateArgs};
use pake_core::config::{Config, ServiceRole};
use pake_runtime::Shutdown;

fn main() -> ExitCode {
    // Before anything can touch rustls: ring is the process's one crypto provider.
    pake_runtime::tls::install_crypto_provider();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pake: starting the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(cli.config.as_deref(), args)),
        Command::User(UserCommand::Create(args)) => {
            runtime.block_on(create_user(cli.config.as_deref(), args))
        }
        Command::Import(args) => runtime.block_on(pake::vault::run_import(args)),
        Command::Export(args) => runtime.block_on(pake::vault::run_export(args)),
        Command::Migrate(args) => runtime.block_on(pake::migrate::run(cli.config.as_deref(), args)),
        Command::Backup(args) => runtime.block_on(pake::backup::run(cli.config.as_deref(), args)),
        Command::Token(args) => runtime.block_on(pake::token::run(args)),
    }
}

async fn create_user(config_file: Option<&std::path::Path>, args: UserCreateArgs) -> ExitCode {
    let config = match Config::load(config_file, &args.overrides()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("pake: {error}");
            return ExitCode::from(2);
        }
    };
    pake_core::telemetry::init(&pake_core::config::LogConfig {
        filter: "warn".to_owned(),
        ..config.log.clone()
    });
    let password = match pake::password_input::read_password(&format!(
        "Password for the new user {}: ",
        args.username
    )) {
        Ok(password) => password,
        Err(error) => {
            eprintln!("pake: reading the password from standard input: {error}");
            return ExitCode::from(2);
        }
    };
    match pake::users::create(&config, args, password).await {
        Ok(user) => {
            println!("created {} ({})", user.name, user.username);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pake: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config_file: Option<&std::path::Path>, args: ServeArgs) -> ExitCode {
    let Some(role) = args.target.role() else {
        return serve_edge_alone(config_file, args).await;
    };
    let config = match Config::load(config_file, &args.overrides())
        .and_then(|config| config.validate_for(role).map(|()| config))
    {
        Ok(config) => config,
        Err(error) => {
            eprintln!("pake: {error}");
            return ExitCode::from(2);
        }
    };
    let service_name = match role {
        ServiceRole::All => "pake",
        ServiceRole::Identity => "pake-identity",
        ServiceRole::Knowledge => "pake-knowledge",
        ServiceRole::Search => "pake-search",
    };
    pake_core::telemetry::init_with_traces(&config.log, &config.telemetry, service_name);

    let addr = match config.grpc_listen_addr() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("pake: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("pake: grpc_listen {addr}: {error}");
            return ExitCode::from(1);
        }
    };
    let shutdown = Shutdown::new();
    if let Err(error) = shutdown.trigger_on_signals() {
        eprintln!("pake: installing signal handlers: {error}");
        return ExitCode::from(1);
    }
    let app = match pake::start(&config, role, listener, shutdown.clone()).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("pake: {error:#}");
            return ExitCode::from(1);
        }
    };
    let edge = if role == ServiceRole::All && config.edge.enabled {
        match start_local_edge(&config, &app, shutdown.clone()).await {
            Ok(edge) => edge,
            Err(code) => {
                shutdown.trigger();
                let _ = app.wait().await;
                return code;
            }
        }
    } else {
        None
    };
    print_banner(
        &config,
        role,
        app.grpc_addr(),
        edge.as_ref().map(pake_edge::EdgeHandle::local_addr),
        app.metrics_addr(),
    );
    let edge_result = match edge {
        Some(edge) => edge.wait().await.map_err(anyhow::Error::from),
        None => Ok(()),
    };
    if let Err(error) = edge_result {
        eprintln!("pake: {error:#}");
    }
    match app.wait().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pake: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Starts the all-in-one's JSON edge. An address in use is fatal only when the address was
/// configured; on the default 127.0.0.1:8080 the gRPC services run on without the edge.
async fn start_local_edge(
    config: &Config,
    app: &pake::app::AppHandle,
    shutdown: Shutdown,
) -> Result<Option<pake_edge::EdgeHandle>, ExitCode> {
    let addr = match config.edge.http_listen.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("pake: edge.http_listen: {error}");
            return Err(ExitCode::from(2));
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) if config.edge.http_listen == pake_core::config::DEFAULT_HTTP_LISTEN => {
            eprintln!(
                "pake: JSON edge not started: http_listen {addr}: {error} (set --http-listen, or --no-edge)"
            );
            return Ok(None);
        }
        Err(error) => {
            eprintln!("pake: http_listen {addr}: {error}");
            return Err(ExitCode::from(1));
        }
    };
    let local = Some(app.local_service());
    match pake::app::start_edge(config, Some(app.grpc_url()), local, listener, shutdown).await {
        Ok(edge) => Ok(Some(edge)),
        Err(error) => {
            eprintln!("pake: {error:#}");
            Err(ExitCode::from(1))
        }
    }
}

/// `pake serve edge`: the JSON edge alone, in front of upstreams given by configuration.
async fn serve_edge_alone(config_file: Option<&std::path::Path>, args: ServeArgs) -> ExitCode {
    let config = match Config::load(config_file, &args.overrides()).and_then(|config| {
        let problems = config.edge.problems_alone();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(pake_core::config::ConfigError { problems })
        }
    }) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("pake: {error}");
            return ExitCode::from(2);
        }
    };
    pake_core::telemetry::init_with_traces(&config.log, &config.telemetry, "pake-edge");
    let addr = match config.edge.http_listen.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("pake: edge.http_listen: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("pake: http_listen {addr}: {error}");
            return ExitCode::from(1);
        }
    };
    let shutdown = Shutdown::new();
    if let Err(error) = shutdown.trigger_on_signals() {
        eprintln!("pake: installing signal handlers: {error}");
        return ExitCode::from(1);
    }
    let edge = match pake::app::start_edge(&config, None, None, listener, shutdown).await {
        Ok(edge) => edge,
        Err(error) => {
            eprintln!("pake: {error:#}");
            return ExitCode::from(1);
        }
    };
    print_edge_banner(edge.local_addr());
    let result = edge.wait().await;
    // SPEC §7: drained → flush telemetry (the edge alone has no pools).
    pake_core::telemetry::flush().await;
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pake: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn print_edge_banner(addr: std::net::SocketAddr) {
    println!("pake: http (JSON edge) listening on {addr}");
    println!("try:");
    println!("  curl -s http://{addr}/.well-known/jwks.json");
}

/// What a person sees on start: where PAKE listens and a command that works against it. The
/// gRPC health line comes last (tests read the banner up to it).
fn print_banner(
    config: &Config,
    role: ServiceRole,
    addr: std::net::SocketAddr,
    edge: Option<std::net::SocketAddr>,
    metrics: Option<std::net::SocketAddr>,
) {
    let services = match role {
        ServiceRole::All => "identity, knowledge and search",
        ServiceRole::Identity => "identity",
        ServiceRole::Knowledge => "knowledge",
        ServiceRole::Search => "search",
    };
    println!("pake: grpc listening on {addr} ({services})");
    if let Some(edge) = edge {
        println!("pake: http (JSON edge) listening on {edge}");
    }
    if let Some(metrics) = edge.or(metrics) {
        println!("pake: Prometheus metrics at http://{metrics}/metrics");
    }
    if config.database_url.is_none() && role != ServiceRole::Search {
        println!("pake: data in {}", config.data_dir.display());
    }
    println!("try:");
    if let Some(edge) = edge {
        println!("  curl -s http://{edge}/.well-known/jwks.json");
    }
    println!("  grpcurl -plaintext {addr} list");
    println!("  grpcurl -plaintext -d '{{\"service\":\"\"}}' {addr} grpc.health.v1.Health/Check");
}
