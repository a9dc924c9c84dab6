//! The `pake` binary. Exit codes: 0 clean shutdown, 1 runtime failure, 2 invalid configuration
//! or usage.

use std::process::ExitCode;

use clap::Parser;
use pake::args::{Cli, Command, ServeArgs, UserCommand, UserCreateArgs};
use pake_core::config::{Config, ServiceRole};
use pake_runtime::Shutdown;

fn main() -> ExitCode {
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
    let mut password = String::new();
    if let Err(error) = std::io::stdin().read_line(&mut password) {
        eprintln!("pake: reading the password from standard input: {error}");
        return ExitCode::from(2);
    }
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
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
    let role = ServiceRole::from(args.target);
    let config = match Config::load(config_file, &args.overrides())
        .and_then(|config| config.validate_for(role).map(|()| config))
    {
        Ok(config) => config,
        Err(error) => {
            eprintln!("pake: {error}");
            return ExitCode::from(2);
        }
    };
    pake_core::telemetry::init(&config.log);

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
    print_banner(&config, role, app.grpc_addr());
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

/// What a person sees on start: where PAKE listens and a command that works against it.
fn print_banner(config: &Config, role: ServiceRole, addr: std::net::SocketAddr) {
    let services = match role {
        ServiceRole::All => "identity, knowledge and search",
        ServiceRole::Identity => "identity",
        ServiceRole::Knowledge => "knowledge",
        ServiceRole::Search => "search",
    };
    println!("pake: grpc listening on {addr} ({services})");
    if config.database_url.is_none() && role != ServiceRole::Search {
        println!("pake: data in {}", config.data_dir.display());
    }
    println!("try:");
    println!("  grpcurl -plaintext {addr} list");
    println!("  grpcurl -plaintext -d '{{\"service\":\"\"}}' {addr} grpc.health.v1.Health/Check");
}
