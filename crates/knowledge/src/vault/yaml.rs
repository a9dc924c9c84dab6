//! YAML values ↔ `google.protobuf.Value` (Item.metadata): frontmatter keys without a field of
//! their own are kept in metadata and written back on export. YAML timestamps become RFC 3339
//! strings; numbers become doubles (written back without a fraction when they are whole).

use std::collections::BTreeMap;

use prost_types::value::Kind;
use prost_types::{ListValue, Struct};
use serde_norway::{Mapping, Number, Value as Yaml};

/// Metadata nests at most this deep (resources.proto).
pub(crate) const MAX_DEPTH: usize = 16;

/// A scalar as text (strings, numbers, booleans); `None` for null, lists and mappings.
pub(crate) fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Number(number) => Some(number.to_string()),
        Yaml::Bool(flag) => Some(flag.to_string()),
        Yaml::Tagged(tagged) => scalar_text(&tagged.value),
        Yaml::Null | Yaml::Sequence(_) | Yaml::Mapping(_) => None,
    }
}

/// A mapping key as text: scalars only.
pub(crate) fn key_text(key: &Yaml) -> Result<String, String> {
    scalar_text(key).ok_or_else(|| "frontmatter keys must be strings".to_owned())
}

/// `value` as metadata, named `key` in errors.
pub(crate) fn to_metadata(key: &str, value: &Yaml) -> Result<prost_types::Value, String> {
    convert(key, value, 1)
}

fn convert(key: &str, value: &Yaml, depth: usize) -> Result<prost_types::Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("{key}: nested deeper than {MAX_DEPTH} levels"));
    }
    let kind = match value {
        Yaml::Null => Kind::NullValue(0),
        Yaml::Bool(flag) => Kind::BoolValue(*flag),
        Yaml::Number(number) => {
            let number = number.as_f64().unwrap_or(f64::NAN);
            if !number.is_finite() {
                return Err(format!("{key}: NaN and infinite numbers are not supported"));
            }
            Kind::NumberValue(number)
        }
        Yaml::String(text) => Kind::StringValue(normalize_timestamp(text)),
        Yaml::Sequence(values) => Kind::ListValue(ListValue {
            values: values
                .iter()
                .map(|value| convert(key, value, depth + 1))
                .collect::<Result<_, _>>()?,
        }),
        Yaml::Mapping(mapping) => {
            let mut fields = BTreeMap::new();
            for (name, value) in mapping {
                fields.insert(key_text(name)?, convert(key, value, depth + 1)?);
            }
            Kind::StructValue(Struct { fields })
        }
        Yaml::Tagged(tagged) => return convert(key, &tagged.value, depth),
    };
    Ok(prost_types::Value { kind: Some(kind) })
}

/// Metadata as YAML.
pub(crate) fn from_metadata(value: &prost_types::Value) -> Yaml {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Yaml::Null,
        Some(Kind::BoolValue(flag)) => Yaml::Bool(*flag),
        Some(Kind::NumberValue(number)) => number_yaml(*number),
        Some(Kind::StringValue(text)) => Yaml::String(text.clone()),
        Some(Kind::ListValue(list)) => {
            Yaml::Sequence(list.values.iter().map(from_metadata).collect())
        }
        Some(Kind::StructValue(fields)) => Yaml::Mapping(struct_yaml(fields)),
    }
}

/// A struct's fields as a YAML mapping, keys in order.
pub(crate) fn struct_yaml(fields: &Struct) -> Mapping {
    fields
        .fields
        .iter()
        .map(|(name, value)| (Yaml::String(name.clone()), from_metadata(value)))
        .collect()
}

/// A whole number within ±2^53 as an integer (`3`, not `3.0`), any other as a float.
pub(crate) fn number_yaml(number: f64) -> Yaml {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if number.fract() == 0.0 && number.abs() <= EXACT {
        // Exact: whole and within the range where every integer is a double.
        #[allow(clippy::cast_possible_truncation)]
        return Yaml::Number(Number::from(number as i64));
    }
    Yaml::Number(Number::from(number))
}

/// A YAML 1.1 timestamp as RFC 3339: `2024-05-01` stays a date; `2024-05-01 9:30:00` becomes
/// `2024-05-01T09:30:00Z` (no zone means UTC). Other text is returned unchanged.
pub(crate) fn normalize_timestamp(text: &str) -> String {
    parse_timestamp(text).unwrap_or_else(|| text.to_owned())
}

fn digits(text: &str, min: usize, max: usize) -> Option<(&str, &str)> {
    let count = text.bytes().take_while(u8::is_ascii_digit).count();
    (min..=max).contains(&count).then(|| text.split_at(count))
}

fn two(value: &str) -> String {
    format!("{value:0>2}")
}

fn parse_timestamp(text: &str) -> Option<String> {
    let (year, rest) = digits(text, 4, 4)?;
    let (month, rest) = digits(rest.strip_prefix('-')?, 1, 2)?;
    let (day, rest) = digits(rest.strip_prefix('-')?, 1, 2)?;
    let date = format!("{year}-{}-{}", two(month), two(day));
    if rest.is_empty() {
        return (month.len() == 2 && day.len() == 2).then_some(date);
    }
    let rest = match rest.strip_prefix(['T', 't']) {
        Some(rest) => rest,
        None => rest
            .strip_prefix([' ', '\t'])?
            .trim_start_matches([' ', '\t']),
    };
    let (hour, rest) = digits(rest, 1, 2)?;
    let (minute, rest) = digits(rest.strip_prefix(':')?, 2, 2)?;
    let (second, mut rest) = digits(rest.strip_prefix(':')?, 2, 2)?;
    let mut fraction = String::new();
    if let Some(after_dot) = rest.strip_prefix('.') {
        let count = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        fraction = format!(".{}", &after_dot[..count]);
        rest = &after_dot[count..];
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    let zone = if rest.is_empty() || rest == "Z" || rest == "z" {
        "Z".to_owned()
    } else {
        let sign = rest.chars().next().filter(|c| matches!(c, '+' | '-'))?;
        let (zone_hour, zone_rest) = digits(&rest[1..], 1, 2)?;
        let zone_minute = match zone_rest.strip_prefix(':') {
            Some(minutes) => digits(minutes, 2, 2).filter(|(_, end)| end.is_empty())?.0,
            None if zone_rest.is_empty() => "00",
            None => return None,
        };
        format!("{sign}{}:{zone_minute}", two(zone_hour))
    };
    if fraction == "." {
        fraction.clear();
    }
    Some(format!(
        "{date}T{}:{minute}:{second}{fraction}{zone}",
        two(hour)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_timestamps_become_rfc_3339() {
        for (input, expected) in [
            ("2024-05-01", "2024-05-01"),
            ("2024-05-01 9:30:00", "2024-05-01T09:30:00Z"),
            ("2024-05-01T09:30:00.25+2", "2024-05-01T09:30:00.25+02:00"),
            ("2024-05-01t09:30:00 -05:30", "2024-05-01T09:30:00-05:30"),
            ("2024-05-01T09:30:00Z", "2024-05-01T09:30:00Z"),
            ("2024-5-1", "2024-5-1"),
            ("2024-05-01 later", "2024-05-01 later"),
            ("hello", "hello"),
        ] {
            assert_eq!(normalize_timestamp(input), expected, "{input}");
            // Idempotent: a normalised value stays as it is.
            assert_eq!(normalize_timestamp(expected), expected);
        }
    }

    #[test]
    fn metadata_round_trips_and_depth_is_bounded() {
        let yaml: Yaml =
            serde_norway::from_str("{a: [1, 2.5, true, null, x], b: {c: d}}").expect("yaml");
        let value = to_metadata("k", &yaml).expect("converts");
        let back = from_metadata(&value);
        assert_eq!(to_metadata("k", &back).expect("again"), value);
        let deep = format!("{}1{}", "[".repeat(17), "]".repeat(17));
        let deep: Yaml = serde_norway::from_str(&deep).expect("yaml");
        assert!(to_metadata("k", &deep).is_err());
        let nan: Yaml = serde_norway::from_str(".nan").expect("yaml");
        assert!(to_metadata("k", &nan).is_err());
        assert_eq!(number_yaml(3.0), Yaml::Number(Number::from(3_i64)));
    }
}
