use super::*;

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

const TYPES: [SortValueType; 3] = [
    SortValueType::Float,
    SortValueType::Text,
    SortValueType::Int,
];

fn spec(binding: &Binding) -> TokenSpec<'_> {
    TokenSpec {
        binding,
        key_types: &TYPES,
        method: "ListThings",
        bound_to: "filter, order or caller",
        valid_id,
    }
}

#[test]
fn page_sizes_follow_aip_158() {
    assert_eq!(page_size(0, 50, 1000).expect("default"), 50);
    assert_eq!(page_size(7, 50, 1000).expect("as asked"), 7);
    assert_eq!(page_size(5000, 50, 1000).expect("clamped"), 1000);
    let error = page_size(-1, 50, 1000).expect_err("negative");
    assert!(error.to_string().starts_with("page_size: "), "{error}");
}

#[test]
fn tokens_round_trip_and_stay_bound() {
    let bound = binding(&[b"ListThings", b"users/alice", b"x = 1"]);
    let position = Position {
        keys: vec![
            SortValue::Float(0.75),
            SortValue::Text("Ünïcode \"quoted\" \u{1}".repeat(19)),
            SortValue::Int(-1),
        ],
        id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".to_owned(),
    };
    let token = encode_page_token(&bound, &position);
    assert!(token.len() <= MAX_PAGE_TOKEN, "{}", token.len());
    assert_eq!(
        decode_page_token(&token, &spec(&bound)).expect("decodes"),
        position
    );
    for other in [
        binding(&[b"ListThings", b"users/bob", b"x = 1"]),
        binding(&[b"ListThings", b"users/alice", b"x = 2"]),
        binding(&[b"ListThings", b"users/alicex = 1"]),
    ] {
        let error = decode_page_token(&token, &spec(&other)).expect_err("bound");
        assert!(
            error
                .to_string()
                .contains("page_token: was issued for another filter"),
            "{error}"
        );
    }
}

#[test]
fn damaged_tokens_are_invalid_not_panics() {
    let bound = binding(&[]);
    let position = Position {
        keys: vec![
            SortValue::Float(0.5),
            SortValue::Text("t".into()),
            SortValue::Int(7),
        ],
        id: "abc".to_owned(),
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(encode_page_token(&bound, &position))
        .expect("base64");
    for cut in 0..=bytes.len() - position.id.len() {
        let damaged = URL_SAFE_NO_PAD.encode(&bytes[..cut]);
        assert!(
            decode_page_token(&damaged, &spec(&bound)).is_err(),
            "cut {cut}"
        );
    }
    for token in ["", "!!!", "AAAA", &"A".repeat(MAX_PAGE_TOKEN + 1)] {
        assert!(decode_page_token(token, &spec(&bound)).is_err());
    }
    let mut bad_id = bytes.clone();
    bad_id.push(b'/');
    assert!(decode_page_token(&URL_SAFE_NO_PAD.encode(bad_id), &spec(&bound)).is_err());
    let mut nan = bytes;
    nan[17..25].copy_from_slice(&f64::NAN.to_bits().to_be_bytes());
    assert!(decode_page_token(&URL_SAFE_NO_PAD.encode(nan), &spec(&bound)).is_err());
}

#[test]
fn orders_parse_against_a_field_table() {
    let fields = [("name", 1), ("create_time", 2)];
    assert_eq!(parse_order("", &fields).expect("blank"), []);
    assert_eq!(
        parse_order(" create_time  DESC ,name asc", &fields).expect("order"),
        [(2, true), (1, false)]
    );
    for (bad, message) in [
        (
            "title",
            "cannot sort by `title`; sortable fields: name, create_time",
        ),
        ("name,", "empty entry"),
        ("name desc desc", "is not `field` or `field desc`"),
        ("name, name desc", "lists `name` more than once"),
    ] {
        let error = parse_order(bad, &fields).expect_err(bad).to_string();
        assert!(
            error.starts_with("order_by: ") && error.contains(message),
            "{bad}: {error}"
        );
    }
    let error = parse_order(&"name".repeat(65), &fields).expect_err("long");
    assert!(error.to_string().contains("256 bytes"), "{error}");
}
