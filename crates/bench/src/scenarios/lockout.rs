//! Sign-in attempts from a chosen client address (`X-Forwarded-For`, believed because the
//! server under test trusts loopback as a proxy), and locking an account the way an attacker
//! would: `LOCKOUT_FAILURES` wrong passwords, waiting out any throttling delay the server asks
//! for (RetryInfo). The attempts of a round are sent at once, each from its own address.

use std::time::{Duration, Instant};

use pake_api::identity::CreateSessionRequest;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_identity::throttle::LOCKOUT_FAILURES;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::scenarios::pake_server::PASSWORD;
use crate::status;

/// Longest time locking may take (the throttle's delays, 1 s doubling up to 60 s, add up to
/// about two minutes if every failure must wait for the previous one).
const LOCK_LIMIT: Duration = Duration::from_secs(300);

/// One CreateSession as a client at `address`: the access and refresh tokens, or the status.
pub async fn attempt(
    client: &mut IdentityServiceClient<Channel>,
    username: &str,
    password: &str,
    address: &str,
) -> Result<(String, String), Status> {
    let mut request = tonic::Request::new(CreateSessionRequest {
        username: username.to_owned(),
        password: password.to_owned(),
    });
    let forwarded = address
        .parse()
        .map_err(|_| Status::internal(format!("{address} is not valid metadata")))?;
    request.metadata_mut().insert("x-forwarded-for", forwarded);
    let session = client.create_session(request).await?.into_inner();
    Ok((session.access_token, session.refresh_token))
}

/// Locks `username` with `LOCKOUT_FAILURES` failed sign-ins, then checks that the right
/// password is refused like a wrong one. Returns how long it took.
pub async fn lock(channel: &Channel, username: &str, wrong: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = IdentityServiceClient::new(channel.clone());
    let mut failures = 0;
    for round in 0u32.. {
        let missing = LOCKOUT_FAILURES.saturating_sub(failures);
        if missing == 0 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < LOCK_LIMIT,
            "could not lock {username} within {LOCK_LIMIT:?}"
        );
        let attempts = (0..missing).map(|index| {
            let mut client = client.clone();
            let address = format!("10.2.{}.{}", round % 256, index % 256);
            async move { attempt(&mut client, username, wrong, &address).await }
        });
        let mut wait = Duration::ZERO;
        for result in futures::future::join_all(attempts).await {
            match result {
                Err(status) if status.code() == Code::Unauthenticated => failures += 1,
                Err(status) if status.code() == Code::ResourceExhausted => {
                    let delay = status::retry_delay(&status).unwrap_or(Duration::from_secs(1));
                    wait = wait.max(delay);
                }
                Err(status) => anyhow::bail!("locking {username}: {}", status::label(&status)),
                Ok(_) => anyhow::bail!("locking {username}: a wrong password was accepted"),
            }
        }
        if !wait.is_zero() {
            eprintln!("locking {username}: throttled, waiting {wait:?} as asked");
            tokio::time::sleep(wait).await;
        }
    }
    let mut client = client;
    match attempt(&mut client, username, PASSWORD, "10.3.0.1").await {
        Err(status) if status.code() == Code::Unauthenticated => Ok(started.elapsed()),
        Err(status) => anyhow::bail!(
            "checking the lock of {username}: {} {}",
            status::label(&status),
            status.message()
        ),
        Ok(_) => anyhow::bail!(
            "{username} is not locked after {LOCKOUT_FAILURES} failures: the right password \
             signed in"
        ),
    }
}
