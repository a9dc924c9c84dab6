use super::*;

fn item(title: &str) -> Item {
    Item {
        title: title.to_owned(),
        ..Item::default()
    }
}

#[test]
fn folders_derive_from_status_first_then_kind() {
    assert_eq!(derived_folder(Kind::Project, Status::Draft), "00-Inbox");
    assert_eq!(
        derived_folder(Kind::Daily, Status::Verified),
        "02-Permanent"
    );
    assert_eq!(derived_folder(Kind::Note, Status::Archived), "06-Archives");
    assert_eq!(derived_folder(Kind::Daily, Status::Processing), "01-Daily");
    assert_eq!(
        derived_folder(Kind::Project, Status::Processing),
        "03-Projects"
    );
    assert_eq!(
        derived_folder(Kind::Resource, Status::Processing),
        "05-Resources"
    );
    assert_eq!(
        derived_folder(Kind::System, Status::Processing),
        "02-Permanent"
    );
    assert_eq!(derived_folder(Kind::Note, Status::Processing), "04-Areas");
}

#[test]
fn defaults_and_derived_values_are_filled() {
    let mut new = item("Hello");
    validate_and_complete(&mut new).expect("valid");
    assert_eq!(new.kind(), Kind::Note);
    assert_eq!(new.status(), Status::Draft);
    assert_eq!(new.visibility(), Visibility::Private);
    assert_eq!(new.verification(), Verification::Pending);
    assert_eq!(new.folder, "00-Inbox");
    assert!(new.folder_derived && new.confidence_computed);
    assert!(
        new.confidence_score
            .is_some_and(|s| (0.0..=1.0).contains(&s))
    );

    let mut chosen = Item {
        folder: "03-Projects/pake".into(),
        confidence_score: Some(0.75),
        ..item("Chosen")
    };
    validate_and_complete(&mut chosen).expect("valid");
    assert_eq!(chosen.folder, "03-Projects/pake");
    assert!(!chosen.folder_derived && !chosen.confidence_computed);
    assert_eq!(chosen.confidence_score, Some(0.75));
}

#[test]
fn confidence_grows_with_evidence() {
    let bare = computed_confidence(&item("x"));
    let rich = computed_confidence(&Item {
        content: format!("# Heading\n\n- point\n\n{}", "text ".repeat(500)),
        source_uri: "https://example.org".into(),
        tags: vec!["a".into(), "b".into()],
        links: vec!["items/a".into()],
        ..item("x")
    });
    assert!(bare < rich, "{bare} < {rich}");
    let rejected = computed_confidence(&Item {
        verification: Verification::Rejected as i32,
        ..item("x")
    });
    assert!(rejected <= 0.1);
}

#[test]
fn every_violation_names_its_field() {
    let mut bad = Item {
        title: " ".into(),
        content: "x".repeat(limits::CONTENT + 1),
        source_uri: "not a uri".into(),
        confidence_score: Some(f64::NAN),
        tags: vec!["ok".into(), "bad tag".into()],
        links: vec!["users/x".into()],
        folder: "a/../b".into(),
        ..Item::default()
    };
    let error = validate_and_complete(&mut bad).expect_err("invalid");
    let fields: Vec<&str> = error
        .field_violations()
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    for expected in [
        "item.title",
        "item.content",
        "item.source_uri",
        "item.confidence_score",
        "item.tags[1]",
        "item.links[0]",
        "item.folder",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
}

#[test]
fn tags_are_stripped_and_deduplicated() {
    let mut violations = Vec::new();
    let tags = normalize_tags(
        &[
            "#Rust".into(),
            "rust".into(),
            "area/db".into(),
            " x ".into(),
        ],
        &mut violations,
    );
    assert!(violations.is_empty());
    assert_eq!(tags, vec!["Rust", "area/db", "x"]);
}

#[test]
fn read_access_follows_visibility() {
    let alice = Caller::Authenticated(Principal {
        subject: "users/alice".into(),
        session_id: None,
        roles: vec![pake_core::auth::Role::Viewer],
    });
    assert!(can_read(&alice, "users/alice", Visibility::Private));
    assert!(!can_read(&alice, "users/bob", Visibility::Private));
    assert!(can_read(&alice, "users/bob", Visibility::Internal));
    assert!(!can_read(
        &Caller::Anonymous,
        "users/bob",
        Visibility::Internal
    ));
    assert!(can_read(
        &Caller::Anonymous,
        "users/bob",
        Visibility::Public
    ));
}
