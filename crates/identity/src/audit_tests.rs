use super::*;

#[test]
fn type_names_round_trip_without_prefix() {
    assert_eq!(type_name(AuditEventType::SignInFailed), "sign_in_failed");
    assert_eq!(
        type_name(AuditEventType::ApiKeyExchangeFailed),
        "api_key_exchange_failed"
    );
    for value in 1..=15 {
        let event_type = AuditEventType::try_from(value).expect("known type");
        assert_eq!(parse_type_name(&type_name(event_type)), event_type);
    }
    assert_eq!(parse_type_name("no_such"), AuditEventType::Unspecified);
}

#[test]
fn trace_ids_come_from_valid_traceparents_only() {
    let id = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert_eq!(trace_id(&format!("00-{id}-00f067aa0ba902b7-01")), id);
    assert_eq!(trace_id(&format!("01-{id}-00f067aa0ba902b7-01-extra")), id);
    for bad in [
        String::new(),
        "garbage".to_owned(),
        format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
        format!("ff-{id}-00f067aa0ba902b7-01"),
        format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase()),
        format!("00-{id}-00f067aa0ba902b7-01-extra"),
        format!("00-{id}x-00f067aa0ba902b7-01"),
        format!("00-{id}-00f067aa0ba902b-01"),
    ] {
        assert_eq!(trace_id(&bad), "", "{bad}");
    }
}

#[test]
fn records_are_bounded() {
    let mut event = AuditEvent::new(
        AuditEventType::UserUpdated,
        "users/".to_owned() + &"a".repeat(300),
        "t".repeat(300),
    );
    for index in 0..20 {
        event = event.with(&format!("{index:02}{}", "k".repeat(100)), "é".repeat(600));
    }
    let context = RequestContext {
        client_address: "1".repeat(60),
        user_agent: "ü".repeat(400),
        trace_id: String::new(),
    };
    let record = to_record(event, &context, "id".to_owned(), 7);
    assert_eq!(record.actor.len(), 128);
    assert_eq!(record.target.len(), 256);
    assert_eq!(record.client_address.len(), 45);
    assert_eq!(record.user_agent.len(), 512);
    let attributes: BTreeMap<String, String> =
        serde_json::from_str(&record.attributes).expect("a JSON object");
    assert_eq!(attributes.len(), MAX_ATTRIBUTES);
    assert!(attributes.keys().all(|key| key.len() == MAX_ATTRIBUTE_KEY));
    // Truncated at a character boundary: 1024 bytes of two-byte characters.
    assert!(attributes.values().all(|value| value.len() == 1024));
    assert!(attributes.contains_key(&format!("00{}", "k".repeat(62))));
    assert!(!attributes.keys().any(|key| key.starts_with("16")));

    let message = to_message(&record);
    assert_eq!(message.name, "auditEvents/id");
    assert_eq!(message.r#type, AuditEventType::UserUpdated as i32);
    assert_eq!(message.attributes.len(), MAX_ATTRIBUTES);
    assert_eq!(truncate("aé", 2), "a");
}

#[test]
fn retention_prunes_at_most_once_an_interval() {
    let retention = Retention::new(2);
    let now = 10 * DAY_MICROS;
    assert_eq!(retention.due(now), Some(8 * DAY_MICROS));
    assert_eq!(retention.due(now + 1), None, "claimed");
    assert_eq!(retention.due(now + PRUNE_INTERVAL_MICROS - 1), None);
    assert_eq!(
        retention.due(now + PRUNE_INTERVAL_MICROS),
        Some(8 * DAY_MICROS + PRUNE_INTERVAL_MICROS)
    );
}

#[test]
fn actors_are_users_and_services_only() {
    let principal = |subject: &str| Principal {
        subject: subject.to_owned(),
        session_id: None,
        roles: Vec::new(),
    };
    assert_eq!(actor_of(&principal("users/a")), "users/a");
    assert_eq!(actor_of(&principal("services/search")), "services/search");
    assert_eq!(actor_of(&principal("operator")), "");
    assert_eq!(actor_of_caller(&Caller::Anonymous), "");
}
