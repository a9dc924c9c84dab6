//! The key set's rotation timeline, over the file key store in a temporary data dir.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::key_store::{FileKeyStore, KEY_DIR_NAME, LEGACY_KEY_FILE_NAME};

const SECOND: i64 = 1_000_000;
const T0: i64 = 1_700_000_000 * SECOND;

fn policy() -> Policy {
    Policy {
        default_algorithm: Algorithm::EdDsa,
        enabled: vec![Algorithm::EdDsa, Algorithm::Es256],
        publication_delay: Duration::from_secs(1500),
        token_lifetime: Duration::from_secs(360),
    }
}

async fn open(dir: &std::path::Path, now: i64) -> Arc<KeySet> {
    let store = Arc::new(FileKeyStore::open(dir, now).expect("store"));
    KeySet::open(store, policy(), now).await.expect("key set")
}

fn states(set: &KeySet, now: i64) -> Vec<(String, State)> {
    set.views(now)
        .into_iter()
        .map(|view| (view.kid, view.state))
        .collect()
}

#[tokio::test]
async fn the_first_key_signs_at_once_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = open(dir.path(), T0).await;
    let first = set.active(T0).expect("active").kid;
    assert_eq!(states(&set, T0), vec![(first.clone(), State::Active)]);
    let reopened = open(dir.path(), T0 + SECOND).await;
    assert_eq!(reopened.active(T0 + SECOND).expect("active").kid, first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join(KEY_DIR_NAME).join(format!("{first}.json"));
        let mode = std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_rotation_publishes_first_then_signs_then_retires_the_old_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = open(dir.path(), T0).await;
    let old = set.active(T0).expect("active").kid;

    let rotated_at = T0 + 10 * SECOND;
    let new = set.rotate(None, false, rotated_at).await.expect("rotate");
    assert_eq!(new.state, State::Pending);
    assert_eq!(new.activate_time, rotated_at + 1500 * SECOND);
    // Published at once, still signed by the old key.
    assert_eq!(set.published(rotated_at).len(), 2);
    assert_eq!(set.active(rotated_at).expect("active").kid, old);
    assert!(matches!(
        set.rotate(None, false, rotated_at + SECOND).await,
        Err(RotateError::InProgress)
    ));

    let activated = new.activate_time;
    assert_eq!(set.active(activated).expect("active").kid, new.kid);
    let views = set.views(activated);
    assert_eq!(views[0].kid, new.kid, "newest first");
    assert_eq!(views[0].state, State::Active);
    assert_eq!(views[1].state, State::Retiring);
    assert_eq!(views[1].retire_time, Some(activated));
    assert_eq!(views[1].expire_time, Some(activated + 360 * SECOND));

    // Kept while its tokens may be alive; removed from the JWKS and the store afterwards.
    let just_before = activated + 360 * SECOND - 1;
    assert!(
        set.remove_expired(just_before)
            .await
            .expect("gc")
            .is_empty()
    );
    assert_eq!(set.published(just_before).len(), 2);
    let after = activated + 360 * SECOND;
    assert_eq!(
        set.published(after).len(),
        1,
        "expired keys are not published"
    );
    assert_eq!(
        set.remove_expired(after).await.expect("gc"),
        vec![old.clone()]
    );
    let reopened = open(dir.path(), after).await;
    assert_eq!(states(&reopened, after), vec![(new.kid, State::Active)]);
}

#[tokio::test]
async fn an_emergency_rotation_signs_at_once_and_removes_every_other_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = open(dir.path(), T0).await;
    let pending = set.rotate(None, false, T0 + SECOND).await.expect("rotate");
    let now = T0 + 2 * SECOND;
    let emergency = set
        .rotate(Some(Algorithm::Es256), true, now)
        .await
        .expect("emergency");
    assert_eq!(emergency.state, State::Active);
    assert_eq!(emergency.algorithm, Algorithm::Es256);
    assert_eq!(set.active(now).expect("active").kid, emergency.kid);
    assert_eq!(
        states(&set, now),
        vec![(emergency.kid.clone(), State::Active)]
    );
    let files = std::fs::read_dir(dir.path().join(KEY_DIR_NAME))
        .expect("dir")
        .count();
    assert_eq!(
        files, 1,
        "the old and the pending key ({}) are destroyed",
        pending.kid
    );
}

#[tokio::test]
async fn a_disabled_algorithm_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(FileKeyStore::open(dir.path(), T0).expect("store"));
    let set = KeySet::open(
        store,
        Policy {
            enabled: vec![Algorithm::EdDsa],
            ..policy()
        },
        T0,
    )
    .await
    .expect("key set");
    assert!(matches!(
        set.rotate(Some(Algorithm::Es256), false, T0).await,
        Err(RotateError::AlgorithmDisabled("ES256"))
    ));
}

#[tokio::test]
async fn a_legacy_key_file_is_imported_as_the_active_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let legacy = SigningKey::generate(Algorithm::EdDsa).expect("generate");
    std::fs::write(
        dir.path().join(LEGACY_KEY_FILE_NAME),
        legacy.private_pem().expose(),
    )
    .expect("write");
    let set = open(dir.path(), T0).await;
    assert_eq!(set.active(T0).expect("active").kid, legacy.kid());
    assert!(!dir.path().join(LEGACY_KEY_FILE_NAME).exists());
}

#[tokio::test]
async fn a_corrupt_key_file_is_reported_by_name_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join(KEY_DIR_NAME);
    std::fs::create_dir_all(&keys).expect("dir");
    let path = keys.join("abc.json");
    std::fs::write(&path, "not json").expect("write");
    let store = Arc::new(FileKeyStore::open(dir.path(), T0).expect("store"));
    let error = KeySet::open(store, policy(), T0)
        .await
        .expect_err("corrupt");
    // What the operator reads: `pake` prints the error with its source chain.
    let printed = std::error::Error::source(&error)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(printed.contains("abc.json"), "{printed}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "not json");
}

#[tokio::test]
async fn a_replica_sees_another_replicas_rotation_after_reloading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = open(dir.path(), T0).await;
    let second = open(dir.path(), T0).await;
    let new = first
        .rotate(None, false, T0 + SECOND)
        .await
        .expect("rotate");
    assert_eq!(second.published(T0 + SECOND).len(), 1);
    second.reload().await.expect("reload");
    assert_eq!(second.published(T0 + SECOND).len(), 2);
    assert_eq!(
        second.active(new.activate_time).expect("active").kid,
        new.kid
    );
}
