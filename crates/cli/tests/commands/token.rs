//! `pake token`: the token alone on stdout, usable at once; every failure on stderr with a
//! non-zero exit, never echoing the password or the API key.

use pake_api::knowledge::ListItemsRequest;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_testkit::{TEST_PASSWORD, authorized, sign_up_and_in, spawn_app};

use crate::support::{pake, stderr, stdout};

/// The one line of stdout, which must be a JWT that the server accepts.
async fn assert_usable_token(url: &str, output: &std::process::Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(output),
        stderr(output)
    );
    let printed = stdout(output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "only the token: {printed:?}");
    let token = lines[0].to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    KnowledgeServiceClient::new(crate::support::channel(url).await)
        .list_items(authorized(&token, ListItemsRequest::default()))
        .await
        .expect("the printed token is accepted");
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_on_stdin_gives_a_token_and_a_wrong_one_an_error() {
    let app = spawn_app().await;
    let user = sign_up_and_in(&app, "token").await;
    let username = user.user.username.clone();
    let args = ["token", "--server", &app.url, "--username", &username];

    let signed_in = pake(&args, &[], &format!("{TEST_PASSWORD}\n")).await;
    assert_usable_token(&app.url, &signed_in).await;
    assert!(!stderr(&signed_in).contains(TEST_PASSWORD));

    let wrong = "not the password of this user";
    let refused = pake(&args, &[], &format!("{wrong}\n")).await;
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(stdout(&refused), "", "nothing on stdout for $(…)");
    let message = stderr(&refused);
    assert!(
        message.contains("signing in") && message.contains("Unauthenticated"),
        "{message}"
    );
    assert!(!message.contains(wrong), "the password is not echoed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_in_pake_token_is_exchanged_for_a_token() {
    let app = spawn_app().await;
    let user = sign_up_and_in(&app, "token_key").await;
    let secret = pake_testkit::create_api_key(
        app.channel().await,
        &user.access_token,
        "users/me",
        "backup script",
    )
    .await;

    let exchanged = pake(
        &["token", "--server", &app.url],
        &[("PAKE_TOKEN", &secret)],
        "",
    )
    .await;
    let token = assert_usable_token(&app.url, &exchanged).await;
    assert_ne!(token, secret);
    assert!(!stderr(&exchanged).contains(&secret));

    // A well-formed key that does not exist.
    let bogus = format!("{}x", &secret[..secret.len() - 1]);
    let refused = pake(&["token", "--server", &app.url, "--token", &bogus], &[], "").await;
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(stdout(&refused), "");
    let message = stderr(&refused);
    assert!(message.contains("exchanging the API key"), "{message}");
    assert!(
        !message.contains(&bogus),
        "the key is not echoed: {message}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_and_missing_credentials_fail_on_stderr() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let unreachable = pake(
        &["token", "--server", &url, "--username", "ada"],
        &[],
        &format!("{TEST_PASSWORD}\n"),
    )
    .await;
    assert_eq!(unreachable.status.code(), Some(1));
    assert_eq!(stdout(&unreachable), "");
    assert!(
        stderr(&unreachable).contains(&format!("connecting to {url}")),
        "{}",
        stderr(&unreachable)
    );

    let malformed = pake(
        &["token", "--server", "http://exa mple", "--username", "ada"],
        &[],
        "",
    )
    .await;
    assert_eq!(malformed.status.code(), Some(1));
    assert!(
        stderr(&malformed).contains("--server"),
        "{}",
        stderr(&malformed)
    );

    let nobody = pake(&["token", "--server", &url], &[], "").await;
    assert_eq!(nobody.status.code(), Some(2));
    assert!(
        stderr(&nobody).contains("--username"),
        "{}",
        stderr(&nobody)
    );

    let access_token = pake(&["token", "--server", &url, "--token", "eyJ.a.b"], &[], "").await;
    assert_eq!(access_token.status.code(), Some(2));
    assert!(
        stderr(&access_token).contains("not an API key"),
        "{}",
        stderr(&access_token)
    );
}

/// At a terminal the password is asked for with echo off: a pseudo-terminal (python's `pty`,
/// typing only after the prompt appeared, as a person would) sees the prompt and the token,
/// never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_terminal_the_password_is_prompted_for_without_echo() {
    let Some(python) = pake_testkit::require(
        pake_testkit::find_program("python3", "PAKE_TEST_PYTHON"),
        "python3 not found (install it, or set PAKE_TEST_PYTHON)",
    ) else {
        return;
    };
    let app = spawn_app().await;
    let user = sign_up_and_in(&app, "tty").await;
    const TYPIST: &str = r#"
import os, pty, sys, termios, time
password = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
seen = b""
while b"Password for" not in seen:
    chunk = os.read(fd, 1024)
    if not chunk:
        break
    seen += chunk
# The prompt is written just before echo is turned off: type only once it is (a person is
# slower than that); the master side reads the terminal's modes.
deadline = time.monotonic() + 10
while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < deadline:
    time.sleep(0.01)
os.write(fd, password + b"\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let url = app.url.clone();
    let username = user.user.username.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args(["-c", TYPIST, TEST_PASSWORD, crate::support::PAKE])
            .args(["token", "--server", &url, "--username", &username])
            .output()
            .expect("python3 runs")
    })
    .await
    .expect("join");
    let screen = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{screen}{}", stderr(&output));
    assert!(
        screen.contains(&format!("Password for {}: ", user.user.username)),
        "{screen}"
    );
    assert!(
        !screen.contains(TEST_PASSWORD),
        "the password was echoed: {screen}"
    );
    let token = screen
        .split_whitespace()
        .find(|word| word.split('.').count() == 3 && word.starts_with("eyJ"))
        .expect("a JWT on the terminal");
    KnowledgeServiceClient::new(crate::support::channel(&app.url).await)
        .list_items(authorized(token, ListItemsRequest::default()))
        .await
        .expect("the token is accepted");
}
