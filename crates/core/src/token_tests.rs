//! Verifier tests with real Ed25519 signatures.

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{EncodingKey, Header};

use super::*;

struct TestKey {
    kid: String,
    encoding: EncodingKey,
    jwk: PublicJwk,
}

fn test_key(kid: &str) -> TestKey {
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = signing.to_pkcs8_der().expect("pkcs8");
    TestKey {
        kid: kid.to_owned(),
        encoding: EncodingKey::from_ed_der(der.as_bytes()),
        jwk: PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes()),
            y: String::new(),
            kid: kid.to_owned(),
            alg: "EdDSA".into(),
        },
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims() -> Claims {
    Claims {
        iss: DEFAULT_ISSUER.into(),
        sub: "users/alice".into(),
        aud: DEFAULT_AUDIENCE.into(),
        exp: now() + 300,
        iat: now(),
        nbf: now(),
        jti: "j1".into(),
        sid: "users/alice/sessions/s1".into(),
        roles: vec!["editor".into(), "superuser".into()],
    }
}

fn sign(key: &TestKey, claims: &Claims, adjust: impl FnOnce(&mut Header)) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    header.typ = Some(ACCESS_TOKEN_TYPE.into());
    adjust(&mut header);
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
}

struct CountingSource {
    keys: std::sync::Mutex<Vec<PublicJwk>>,
    fetches: AtomicUsize,
}

#[async_trait::async_trait]
impl JwksSource for CountingSource {
    async fn fetch(&self) -> Result<Vec<PublicJwk>, Error> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(self.keys.lock().expect("lock").clone())
    }
}

fn verifier_with(keys: Vec<PublicJwk>) -> (Arc<CountingSource>, Verifier) {
    let source = Arc::new(CountingSource {
        keys: std::sync::Mutex::new(keys),
        fetches: AtomicUsize::new(0),
    });
    let verifier = Verifier::new(
        source.clone(),
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::from_secs(60),
    );
    (source, verifier)
}

async fn rejection(verifier: &Verifier, token: &str) -> String {
    let error = verifier.verify(token).await.expect_err("must be rejected");
    assert_eq!(error.kind(), crate::ErrorKind::Unauthenticated, "{error}");
    error.to_string()
}

#[tokio::test]
async fn a_valid_token_becomes_a_principal_and_unknown_roles_are_dropped() {
    let key = test_key("k1");
    let (_, verifier) = verifier_with(vec![key.jwk.clone()]);
    let principal = verifier
        .verify(&sign(&key, &claims(), |_| {}))
        .await
        .expect("valid");
    assert_eq!(principal.subject, "users/alice");
    assert_eq!(
        principal.session_id.as_deref(),
        Some("users/alice/sessions/s1")
    );
    assert_eq!(principal.roles, vec![Role::Editor]);
}

#[tokio::test]
async fn header_checks_run_before_the_signature() {
    let key = test_key("k1");
    let (_, verifier) = verifier_with(vec![key.jwk.clone()]);
    let message = rejection(
        &verifier,
        &sign(&key, &claims(), |h| h.typ = Some("JWT".into())),
    )
    .await;
    assert!(message.contains("typ"), "{message}");
    let message = rejection(&verifier, &sign(&key, &claims(), |h| h.kid = None)).await;
    assert!(message.contains("kid"), "{message}");
    let message = rejection(
        &verifier,
        &sign(&key, &claims(), |h| {
            h.jku = Some("https://evil.example/jwks".into())
        }),
    )
    .await;
    assert!(message.contains("key reference"), "{message}");
    let message = rejection(
        &verifier,
        &sign(&key, &claims(), |h| h.x5u = Some("https://e".into())),
    )
    .await;
    assert!(message.contains("key reference"), "{message}");
    let message = rejection(
        &verifier,
        &sign(&key, &claims(), |h| h.crit = Some(vec!["b64".into()])),
    )
    .await;
    assert!(message.contains("critical"), "{message}");
    let message = rejection(&verifier, "not.a.token").await;
    assert!(message.contains("malformed"), "{message}");
}

#[tokio::test]
async fn oversized_tokens_are_rejected_before_parsing() {
    let (source, verifier) = verifier_with(vec![]);
    let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
    let message = rejection(&verifier, &huge).await;
    assert!(message.contains("8 KiB"), "{message}");
    assert_eq!(source.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn time_claims_are_checked_with_at_most_sixty_seconds_leeway() {
    let key = test_key("k1");
    let (_, verifier) = verifier_with(vec![key.jwk.clone()]);
    let mut expired = claims();
    expired.exp = now() - 61;
    assert!(
        rejection(&verifier, &sign(&key, &expired, |_| {}))
            .await
            .contains("expired")
    );
    let mut barely = claims();
    barely.exp = now() - 30;
    verifier
        .verify(&sign(&key, &barely, |_| {}))
        .await
        .expect("within leeway");
    let mut future = claims();
    future.nbf = now() + 120;
    assert!(
        rejection(&verifier, &sign(&key, &future, |_| {}))
            .await
            .contains("not valid yet")
    );
}

#[tokio::test]
async fn issuer_audience_and_signature_are_checked() {
    let key = test_key("k1");
    let (_, verifier) = verifier_with(vec![key.jwk.clone()]);
    let mut wrong_issuer = claims();
    wrong_issuer.iss = "someone-else".into();
    assert!(
        rejection(&verifier, &sign(&key, &wrong_issuer, |_| {}))
            .await
            .contains("issuer")
    );
    let mut wrong_audience = claims();
    wrong_audience.aud = "other-api".into();
    assert!(
        rejection(&verifier, &sign(&key, &wrong_audience, |_| {}))
            .await
            .contains("audience")
    );

    // Same kid, different private key: a forged signature.
    let impostor = test_key("k1");
    assert!(
        rejection(&verifier, &sign(&impostor, &claims(), |_| {}))
            .await
            .contains("signature")
    );
}

#[tokio::test]
async fn the_algorithm_is_pinned_to_the_key() {
    let key = test_key("k1");
    let (_, verifier) = verifier_with(vec![key.jwk.clone()]);
    // An HMAC token "signed" with the public key bytes as secret (classic confusion attack).
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    header.typ = Some(ACCESS_TOKEN_TYPE.into());
    let forged = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_secret(key.jwk.x.as_bytes()),
    )
    .expect("sign hs256");
    assert!(rejection(&verifier, &forged).await.contains("algorithm"));
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_per_interval() {
    let old = test_key("old");
    let new = test_key("new");
    let (source, verifier) = verifier_with(vec![old.jwk.clone()]);
    verifier
        .verify(&sign(&old, &claims(), |_| {}))
        .await
        .expect("old key");
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);

    // A rotated key published after our fetch: the unknown kid is rejected without hammering the
    // identity service again inside the interval…
    source.keys.lock().expect("lock").push(new.jwk.clone());
    for _ in 0..5 {
        rejection(&verifier, &sign(&new, &claims(), |_| {})).await;
    }
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);

    // …and accepted once the interval has passed.
    let quick = Verifier::new(
        source.clone(),
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::ZERO,
    );
    quick
        .verify(&sign(&new, &claims(), |_| {}))
        .await
        .expect("new key after refresh");
}

struct DownSource;

#[async_trait::async_trait]
impl JwksSource for DownSource {
    async fn fetch(&self) -> Result<Vec<PublicJwk>, Error> {
        Err(Error::unavailable("identity down", "connection refused"))
    }
}

#[tokio::test]
async fn no_keys_at_all_is_unavailable_not_unauthenticated() {
    let key = test_key("k1");
    let verifier = Verifier::new(
        Arc::new(DownSource),
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::from_secs(60),
    );
    let error = verifier
        .verify(&sign(&key, &claims(), |_| {}))
        .await
        .expect_err("down");
    assert_eq!(error.kind(), crate::ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_token_of_a_revoked_session_is_rejected() {
    let key = test_key("k1");
    let (source, _) = verifier_with(vec![key.jwk.clone()]);
    let revoked = Arc::new(crate::revocation::InProcessRevokedSessions::default());
    let verifier = Verifier::new(
        source,
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::from_secs(60),
    )
    .with_revocation(revoked.clone());
    let token = sign(&key, &claims(), |_| {});
    verifier.verify(&token).await.expect("live session");
    use crate::revocation::RevokedSessions;
    revoked
        .revoke("users/alice/sessions/s1", Duration::from_secs(300))
        .await;
    assert!(rejection(&verifier, &token).await.contains("session"));
}

#[tokio::test]
async fn a_remembered_token_still_expires() {
    let key = test_key("k1");
    let (_, verifier) = verifier_with(vec![key.jwk.clone()]);
    let mut barely = claims();
    // Valid only through the leeway, for about one more second.
    barely.exp = now() - LEEWAY.as_secs() + 1;
    let token = sign(&key, &barely, |_| {});
    verifier.verify(&token).await.expect("within the leeway");
    verifier
        .verify(&token)
        .await
        .expect("remembered, still valid");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(rejection(&verifier, &token).await.contains("expired"));
}

#[tokio::test]
async fn a_remembered_token_fails_once_its_key_is_withdrawn() {
    let key = test_key("k1");
    let other = test_key("k2");
    let source = Arc::new(CountingSource {
        keys: std::sync::Mutex::new(vec![key.jwk.clone(), other.jwk.clone()]),
        fetches: AtomicUsize::new(0),
    });
    // Refetch the key set on every call, so the withdrawal is seen at once.
    let verifier = Verifier::new(
        source.clone(),
        DEFAULT_ISSUER,
        DEFAULT_AUDIENCE,
        Duration::ZERO,
    );
    let token = sign(&key, &claims(), |_| {});
    verifier.verify(&token).await.expect("key published");
    verifier.verify(&token).await.expect("remembered");
    *source.keys.lock().expect("lock") = vec![other.jwk.clone()];
    assert!(rejection(&verifier, &token).await.contains("unknown key"));
}

#[tokio::test]
async fn a_token_altered_after_a_good_one_was_remembered_is_still_checked() {
    let key = test_key("k1");
    let (_, verifier) = verifier_with(vec![key.jwk.clone()]);
    let token = sign(&key, &claims(), |_| {});
    verifier.verify(&token).await.expect("valid");
    // Same header and signature, other claims: another digest, so the signature is checked.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut admin = claims();
    admin.roles = vec!["admin".into()];
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).expect("claims json"));
    assert!(
        rejection(&verifier, &parts.join("."))
            .await
            .contains("signature")
    );
}
