//! A strict reader of the text exposition formats (Prometheus 0.0.4 and OpenMetrics 1.0), for
//! tests and tools that check what `/metrics` serves: every line must be a `# HELP`, `# TYPE`,
//! `# UNIT` or `# EOF` line, a comment, or a sample of the family declared last; names, labels,
//! escapes and values must be well formed; no series may repeat; histogram buckets must be
//! cumulative and end in `le="+Inf"` equal to `_count`; `# EOF`, when present, ends the text.

use std::collections::{HashMap, HashSet};

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name as written (with `_total`, `_bucket`, … suffixes).
    pub name: String,
    /// Label pairs in order.
    pub labels: LabelPairs,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Label pairs of a sample, in order.
pub type LabelPairs = Vec<(String, String)>;

/// Why a text is not valid exposition.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Error {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The value of the sample `name` whose labels include every pair of `labels`; `None` when no
/// sample matches. Several matches are summed.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.label(key) == Some(value))
        })
        .map(|sample| sample.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

/// Parses and checks `text`; see the module documentation for what is checked.
pub fn parse(text: &str) -> Result<Vec<Sample>, Error> {
    let mut samples = Vec::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut current: Option<(String, String)> = None;
    let mut seen_series = HashSet::new();
    let mut eof = false;
    for (index, line) in text.lines().enumerate() {
        let fail = |message: String| Error {
            line: index + 1,
            message,
        };
        if eof {
            return Err(fail("text after # EOF".to_owned()));
        }
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("EOF"), None, None) => eof = true,
                (Some("TYPE"), Some(name), Some(kind)) => {
                    check_name(name).map_err(&fail)?;
                    if !matches!(
                        kind,
                        "counter" | "gauge" | "histogram" | "summary" | "untyped" | "unknown"
                    ) {
                        return Err(fail(format!("unknown type '{kind}'")));
                    }
                    if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return Err(fail(format!("family {name} declared twice")));
                    }
                    current = Some((name.to_owned(), kind.to_owned()));
                }
                (Some("HELP" | "UNIT"), Some(name), _) => check_name(name).map_err(&fail)?,
                (Some("TYPE" | "HELP" | "UNIT"), _, _) => {
                    return Err(fail("metadata line without a metric name".to_owned()));
                }
                _ => {}
            }
            continue;
        }
        let sample = parse_sample(line).map_err(&fail)?;
        let Some((family, kind)) = &current else {
            return Err(fail(format!("sample {} before any # TYPE", sample.name)));
        };
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["", "_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            "summary" => &["", "_sum", "_count", "_created"],
            _ => &[""],
        };
        if !suffixes
            .iter()
            .any(|suffix| sample.name == format!("{family}{suffix}"))
        {
            return Err(fail(format!(
                "sample {} does not belong to the {kind} family {family}",
                sample.name
            )));
        }
        if kind == "histogram" && sample.name.ends_with("_bucket") && sample.label("le").is_none() {
            return Err(fail(format!("bucket of {family} without le")));
        }
        let mut series = sample.labels.clone();
        series.sort();
        if !seen_series.insert((sample.name.clone(), series)) {
            return Err(fail(format!("series {} repeated", sample.name)));
        }
        samples.push(sample);
    }
    for (family, kind) in &types {
        if kind == "histogram" {
            check_histogram(family, &samples).map_err(|message| Error { line: 0, message })?;
        }
    }
    Ok(samples)
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if valid {
        Ok(())
    } else {
        Err(format!("'{name}' is not a metric name"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("sample without a value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels: Vec<(String, String)> = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remainder) = parse_labels(after)?;
        labels = parsed;
        rest = remainder;
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected one space before the value")?;
    let mut fields = rest.split(' ');
    let value = parse_value(fields.next().unwrap_or_default())?;
    if let Some(timestamp) = fields.next()
        && timestamp.parse::<f64>().is_err()
    {
        return Err(format!("'{timestamp}' is not a timestamp"));
    }
    if fields.next().is_some() {
        return Err("unexpected text after the timestamp".to_owned());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Labels after `{` up to `}`; returns them and the text after `}`.
fn parse_labels(mut text: &str) -> Result<(LabelPairs, &str), String> {
    let mut labels: LabelPairs = Vec::new();
    loop {
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = text.find('=').ok_or("label without '='")?;
        let key = &text[..eq];
        let mut chars = key.chars();
        let valid_key = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(format!("'{key}' is not a label name"));
        }
        if labels.iter().any(|(existing, _)| existing == key) {
            return Err(format!("label {key} repeated"));
        }
        let mut value = String::new();
        let mut chars = text[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?
            .char_indices();
        let quoted = &text[eq + 2..];
        let end = loop {
            match chars.next() {
                Some((at, '"')) => break at,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    _ => return Err(format!("bad escape in the value of {key}")),
                },
                Some((_, '\n')) => return Err("raw newline in a label value".to_owned()),
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated value of {key}")),
            }
        };
        labels.push((key.to_owned(), value));
        text = &quoted[end + 1..];
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err("expected ',' or '}' after a label".to_owned());
        }
    }
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" | "Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    match text.parse::<f64>() {
        Ok(value) if plain => Ok(value),
        _ => Err(format!("'{text}' is not a sample value")),
    }
}

/// Buckets per series are cumulative and the `+Inf` bucket equals `_count`.
fn check_histogram(family: &str, samples: &[Sample]) -> Result<(), String> {
    let without_le = |sample: &Sample| {
        let mut labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .filter(|(key, _)| key != "le")
            .cloned()
            .collect();
        labels.sort();
        labels
    };
    let bucket_name = format!("{family}_bucket");
    let count_name = format!("{family}_count");
    // (le, count) per series without `le`.
    let mut buckets: HashMap<LabelPairs, Vec<(f64, f64)>> = HashMap::new();
    for sample in samples.iter().filter(|s| s.name == bucket_name) {
        let le = parse_value(sample.label("le").unwrap_or_default())
            .map_err(|error| format!("{bucket_name} le: {error}"))?;
        buckets
            .entry(without_le(sample))
            .or_default()
            .push((le, sample.value));
    }
    for sample in samples.iter().filter(|s| s.name == count_name) {
        let series = buckets.remove(&without_le(sample)).unwrap_or_default();
        let mut previous = 0.0;
        for (_, count) in &series {
            if *count < previous {
                return Err(format!("{bucket_name}: buckets are not cumulative"));
            }
            previous = *count;
        }
        match series.last() {
            Some((le, count)) if le.is_infinite() && *count == sample.value => {}
            _ => {
                return Err(format!(
                    "{family}: the last bucket must be le=\"+Inf\" and equal {count_name}"
                ));
            }
        }
    }
    if !buckets.is_empty() {
        return Err(format!("{bucket_name} without {count_name}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "# HELP rpc_total Calls.\n\
        # TYPE rpc_total counter\n\
        rpc_total{method=\"/a.B/C\",code=\"OK\"} 2\n\
        rpc_total{method=\"quote\\\"and\\\\slash\",code=\"OK\"} 1\n\
        # TYPE d_seconds histogram\n\
        d_seconds_bucket{le=\"0.1\"} 1\n\
        d_seconds_bucket{le=\"+Inf\"} 3\n\
        d_seconds_sum 1.5e0\n\
        d_seconds_count 3\n\
        # EOF\n";

    #[test]
    fn reads_samples_labels_and_escapes() {
        let samples = parse(VALID).expect("valid");
        assert_eq!(samples.len(), 6);
        assert_eq!(samples[1].label("method"), Some("quote\"and\\slash"));
        assert_eq!(value(&samples, "rpc_total", &[("code", "OK")]), Some(3.0));
        assert_eq!(value(&samples, "d_seconds_count", &[]), Some(3.0));
        assert_eq!(value(&samples, "rpc_total", &[("code", "NOT_FOUND")]), None);
    }

    #[test]
    fn rejects_what_is_not_exposition() {
        for (broken, why) in [
            ("rpc_total 1\n", "sample before TYPE"),
            ("# TYPE a counter\na{x=\"1\"} one\n", "bad value"),
            ("# TYPE a counter\na{x=1} 1\n", "unquoted label value"),
            ("# TYPE a counter\na{x=\"1\"}  1\n", "two spaces"),
            ("# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n", "repeated label"),
            ("# TYPE a counter\na{x=\"\\t\"} 1\n", "bad escape"),
            ("# TYPE a counter\na 1\na 2\n", "repeated series"),
            ("# TYPE a counter\nb 1\n", "sample of another family"),
            ("# TYPE a gauge\n# TYPE a gauge\n", "family declared twice"),
            ("# TYPE 1a gauge\n", "bad name"),
            ("# TYPE a gauge\na 1\n# EOF\na 2\n", "text after EOF"),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
                "buckets not cumulative",
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
                "no +Inf bucket",
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\n",
                "+Inf differs from count",
            ),
        ] {
            assert!(parse(broken).is_err(), "accepted ({why}): {broken}");
        }
    }
}
