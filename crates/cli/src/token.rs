//! `pake token`: signs in and prints an access token on standard output — only the token, so
//! scripts can write `TOKEN=$(echo "$PASSWORD" | pake token --username ada)` or
//! `TOKEN=$(PAKE_TOKEN=$API_KEY pake token)`. Errors go to standard error; the password and the
//! API key are never printed.

use std::process::ExitCode;

use crate::remote::{RemoteArgs, connect};

/// `pake token` flags.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Runs `pake token`. Exit codes: 0 printed, 1 sign-in failed (server unreachable, wrong
/// password, unknown key), 2 usage.
pub async fn run(args: TokenArgs) -> ExitCode {
    let remote = args.remote;
    match (&remote.token, &remote.username) {
        (None, None) => {
            eprintln!(
                "pake: say who signs in: --username NAME (the password on the first line of \
                 standard input), or an API key with --token or PAKE_TOKEN"
            );
            return ExitCode::from(2);
        }
        (Some(token), _) if !token.starts_with("pake_") => {
            eprintln!(
                "pake: --token / PAKE_TOKEN is not an API key (pake_…); `pake token` exchanges an \
                 API key for an access token, or signs in with --username"
            );
            return ExitCode::from(2);
        }
        _ => {}
    }
    match connect(&remote).await {
        Ok(session) => {
            println!("{}", session.access_token);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pake: {error:#}");
            ExitCode::from(1)
        }
    }
}
