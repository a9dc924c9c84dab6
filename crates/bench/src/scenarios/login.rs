//! `login`: CreateSession throughput (correct passwords, many distinct accounts, so throttling
//! never applies) against the Argon2id verification rate of the server's own hasher alone, at
//! the hashing pool's thread count, measured in the same run: half before the sign-ins and half
//! after, so that a drift in the machine's speed cancels out. A sign-in does exactly one
//! verification; the ratio says how much of the hashing pool's capacity reaches the clients.
//! [`LoginCall`] is also the flood of `getitem-under-login-flood`.

use std::io::{self, Write};

use pake_api::identity::CreateSessionRequest;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use tonic::Status;
use tonic::transport::Channel;

use crate::load::{self, Call, Measurement};
use crate::machine::Machine;
use crate::options::Options;
use crate::report::{self, Summary, millis};
use crate::scenarios::argon2_baseline::{self, HashRate};
use crate::scenarios::connect;
use crate::scenarios::pake_server::{PASSWORD, PakeServer, sign_up_many};

/// The goal: sign-ins per second ÷ Argon2id verifications per second.
pub const GOAL: f64 = 0.90;

/// One client signing in with correct passwords, cycling through its own accounts.
pub struct LoginCall {
    client: IdentityServiceClient<Channel>,
    usernames: Vec<String>,
    next: usize,
}

impl Call for LoginCall {
    async fn call(&mut self) -> Result<(), Status> {
        let username = &self.usernames[self.next % self.usernames.len()];
        self.next += 1;
        let session = self
            .client
            .create_session(CreateSessionRequest {
                username: username.clone(),
                password: PASSWORD.to_owned(),
            })
            .await?
            .into_inner();
        if session.access_token.is_empty() || session.refresh_token.is_empty() {
            return Err(Status::internal(format!(
                "CreateSession for {username} answered OK without tokens"
            )));
        }
        Ok(())
    }
}

/// `count` clients, each with its own connection and its share of `usernames` (client `i` gets
/// every account `j` with `j % count == i`; with fewer accounts than clients, they share).
pub async fn login_clients(
    url: &str,
    usernames: &[String],
    count: usize,
) -> anyhow::Result<Vec<LoginCall>> {
    anyhow::ensure!(!usernames.is_empty(), "no accounts to sign in to");
    let mut clients = Vec::with_capacity(count);
    for index in 0..count {
        let mut own: Vec<String> = usernames
            .iter()
            .skip(index)
            .step_by(count)
            .cloned()
            .collect();
        if own.is_empty() {
            own.push(usernames[index % usernames.len()].clone());
        }
        clients.push(LoginCall {
            client: IdentityServiceClient::new(connect(url).await?),
            usernames: own,
            next: 0,
        });
    }
    Ok(clients)
}

/// What `login` measured.
#[derive(Debug)]
pub struct LoginReport {
    /// UTC date of the run.
    pub date: String,
    /// Where it ran.
    pub machine: Machine,
    /// How it was driven.
    pub options: Options,
    /// Argon2id verification alone at the pool size.
    pub baseline: HashRate,
    /// CreateSession by `--concurrency` clients.
    pub login: Measurement,
}

/// Measures the Argon2id baseline, then starts PAKE, registers `--accounts` accounts and drives
/// CreateSession with `--concurrency` clients.
pub async fn run(options: &Options) -> anyhow::Result<LoginReport> {
    let identity = options.identity_config();
    let threads = options.hashing_threads();
    eprintln!(
        "measuring Argon2id verification alone: {threads} threads, {:?} warm-up, {:?} window",
        options.warmup, options.duration
    );
    let baseline =
        argon2_baseline::measure(&identity, threads, options.warmup, options.duration).await?;
    eprintln!(
        "starting pake and registering {} accounts",
        options.accounts
    );
    let server = PakeServer::start_for(options).await?;
    let measured = async {
        let channel = connect(&server.url).await?;
        let usernames = sign_up_many(&channel, "login_", options.accounts).await?;
        eprintln!("measuring CreateSession: {} clients", options.concurrency);
        let clients = login_clients(&server.url, &usernames, options.concurrency).await?;
        load::drive(clients, &options.load()).await
    }
    .await;
    let stopped = server.stop().await;
    let login = measured?;
    stopped?;
    Ok(LoginReport {
        date: report::today(),
        machine: Machine::detect(),
        options: options.clone(),
        baseline,
        login,
    })
}

impl LoginReport {
    /// Sign-ins per second ÷ Argon2id verifications per second.
    pub fn ratio(&self) -> f64 {
        let ceiling = self.baseline.per_second();
        if ceiling > 0.0 {
            self.login.throughput() / ceiling
        } else {
            0.0
        }
    }
}

impl Summary for LoginReport {
    fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        let identity = self.options.identity_config();
        let threads = self.baseline.threads;
        writeln!(out)?;
        writeln!(
            out,
            "login: CreateSession with correct passwords, {} clients over {} accounts, against \
             Argon2id (m={} KiB, t={}, p=1) verification alone at the hashing pool's {threads} \
             threads (identity.hashing_concurrency = {})",
            self.options.concurrency,
            self.options.accounts,
            identity.argon2_memory_kib,
            identity.argon2_iterations,
            identity.hashing_concurrency,
        )?;
        writeln!(out)?;
        let login = &self.login;
        let rows = vec![
            vec![
                format!("Argon2id verify alone, {threads} threads (before + after)"),
                format!("{:.1}", self.baseline.per_second()),
                millis(self.baseline.quantile_millis(0.5)),
                millis(self.baseline.quantile_millis(0.99)),
                millis(self.baseline.latency_micros.max() as f64 / 1000.0),
                self.baseline.verifications.to_string(),
                "0".to_owned(),
            ],
            vec![
                format!("CreateSession, {} clients", self.options.concurrency),
                format!("{:.1}", login.throughput()),
                millis(login.quantile_millis(0.5)),
                millis(login.quantile_millis(0.99)),
                millis(login.max_millis()),
                login.requests.to_string(),
                login.errors.to_string(),
            ],
        ];
        let header = [
            "measurement",
            "per s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "calls",
            "errors",
        ];
        report::table(out, &header, &[0], &rows)?;
        let ratio = self.ratio();
        writeln!(out)?;
        writeln!(
            out,
            "sign-ins/s ÷ Argon2id verifications/s = {ratio:.3} ({:.1} %; goal ≥ {:.0} %: {})",
            ratio * 100.0,
            GOAL * 100.0,
            if ratio >= GOAL { "met" } else { "MISSED" }
        )?;
        writeln!(out)?;
        let header = [
            "date",
            "hashing threads",
            "clients",
            "accounts",
            "verify/s alone",
            "sign-ins/s",
            "÷",
            "sign-in p50 ms",
            "sign-in p99 ms",
            "errors",
            "machine",
        ];
        let row = vec![
            self.date.clone(),
            threads.to_string(),
            self.options.concurrency.to_string(),
            self.options.accounts.to_string(),
            format!("{:.1}", self.baseline.per_second()),
            format!("{:.1}", login.throughput()),
            format!("{ratio:.3}"),
            millis(login.quantile_millis(0.5)),
            millis(login.quantile_millis(0.99)),
            login.errors.to_string(),
            self.machine.summary(),
        ];
        report::table(out, &header, &[0, 10], &[row])
    }

    fn failure_lines(&self) -> Vec<String> {
        report::failure_line("login", &self.login)
            .into_iter()
            .collect()
    }
}
