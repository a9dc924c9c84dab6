//! How calls ended, by name: the gRPC status code and PAKE's `ErrorInfo.reason`
//! (`UNAUTHENTICATED INVALID_CREDENTIALS`, `RESOURCE_EXHAUSTED SIGN_IN_THROTTLED`, `OK`), and a
//! tally of them, so a scenario reports every status it saw instead of counting responses.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tonic_types::StatusExt;

/// `OK`.
pub const OK: &str = "OK";

/// `CODE` or `CODE REASON` for a failed call, e.g. `RESOURCE_EXHAUSTED SIGN_IN_THROTTLED`.
pub fn label(status: &tonic::Status) -> String {
    let code = upper_snake(&format!("{:?}", status.code()));
    match reason(status) {
        Some(reason) => format!("{code} {reason}"),
        None => code,
    }
}

/// The `google.rpc.ErrorInfo` reason carried by `status`, if any.
pub fn reason(status: &tonic::Status) -> Option<String> {
    let details = status.get_error_details();
    let reason = details.error_info()?.reason.clone();
    (!reason.is_empty()).then_some(reason)
}

/// The `RetryInfo` delay carried by `status`, if any.
pub fn retry_delay(status: &tonic::Status) -> Option<std::time::Duration> {
    status.get_error_details().retry_info()?.retry_delay
}

fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (index, character) in camel.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(character.to_ascii_uppercase());
    }
    out
}

/// Counts of calls by `(group, label)`, e.g. `("wrong password", "UNAUTHENTICATED …")`.
#[derive(Debug, Default)]
pub struct Tally {
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

impl Tally {
    /// Counts one call of `group` that ended as `label`.
    pub fn add(&self, group: &str, label: &str) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts
                .entry((group.to_owned(), label.to_owned()))
                .or_default() += 1;
        }
    }

    /// Every `(group, label, count)`, sorted.
    pub fn entries(&self) -> Vec<(String, String, u64)> {
        self.counts
            .lock()
            .map(|counts| {
                counts
                    .iter()
                    .map(|((group, label), count)| (group.clone(), label.clone(), *count))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The labels seen for `group`, with their counts.
    pub fn for_group(&self, group: &str) -> Vec<(String, u64)> {
        self.entries()
            .into_iter()
            .filter(|(seen, _, _)| seen == group)
            .map(|(_, label, count)| (label, count))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_code_and_the_reason() {
        assert_eq!(
            label(&tonic::Status::unauthenticated("no")),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            label(&tonic::Status::resource_exhausted("slow down")),
            "RESOURCE_EXHAUSTED"
        );
        let details = tonic_types::ErrorDetails::with_error_info(
            "SIGN_IN_THROTTLED",
            "pake",
            std::collections::HashMap::new(),
        );
        let throttled =
            tonic::Status::with_error_details(tonic::Code::ResourceExhausted, "wait", details);
        assert_eq!(label(&throttled), "RESOURCE_EXHAUSTED SIGN_IN_THROTTLED");
    }

    #[test]
    fn the_tally_counts_per_group_and_label() {
        let tally = Tally::default();
        tally.add("b", OK);
        tally.add("a", "UNAUTHENTICATED");
        tally.add("b", OK);
        assert_eq!(tally.for_group("b"), vec![(OK.to_owned(), 2)]);
        assert_eq!(tally.entries().len(), 2);
    }
}
