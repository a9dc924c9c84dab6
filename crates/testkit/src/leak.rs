//! Telling whether an answer reveals something the caller may not read: answers reduced to
//! text, compared across two moments (before and after another user wrote private data) and
//! across two targets (a private resource and an absent one of the same shape), with the
//! findings collected instead of panicking at the first, so one run lists every leak.

use bytes::Bytes;
use tonic::codec::Streaming;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::raw_grpc::RawCodec;

/// An answer reduced to text: the response's `Debug` form, or the error.
pub type Answer = Result<String, Status>;

/// The answer of a unary call.
pub fn answer<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>) -> Answer {
    result.map(|response| format!("{:?}", response.into_inner()))
}

/// Calls the unary method at `path` (`/package.Service/Method`) with an encoded request, as
/// `token` (or anonymously), and returns the encoded response.
pub async fn call_unary(
    channel: Channel,
    path: &str,
    token: &Option<String>,
    message: Vec<u8>,
) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(format!("channel not ready: {error}")))?;
    let path = http::uri::PathAndQuery::try_from(path.to_owned())
        .map_err(|error| Status::invalid_argument(format!("method path: {error}")))?;
    let response = grpc
        .unary(request(token, Bytes::from(message)), path, RawCodec)
        .await?;
    Ok(response.into_inner())
}

/// Reads a server stream to its end, each message described by `describe`, one per line; an
/// error if it fails or stalls for `patience`.
pub async fn drain<T>(
    started: Result<tonic::Response<Streaming<T>>, Status>,
    patience: std::time::Duration,
    describe: impl Fn(&T) -> String,
) -> Answer {
    let mut stream = started?.into_inner();
    let mut messages = Vec::new();
    loop {
        match tokio::time::timeout(patience, stream.message()).await {
            Ok(Ok(Some(message))) => messages.push(describe(&message)),
            Ok(Ok(None)) => return Ok(messages.join("\n")),
            Ok(Err(status)) => return Err(status),
            Err(_) => return Err(Status::deadline_exceeded("the stream stalled")),
        }
    }
}

/// An error as text: code, message and the encoded `google.rpc` details.
pub fn status_text(status: &Status) -> String {
    format!(
        "{:?} {:?} details {:?}",
        status.code(),
        status.message(),
        status.details()
    )
}

/// The answer as text.
pub fn show(answer: &Answer) -> String {
    match answer {
        Ok(text) => text.clone(),
        Err(status) => status_text(status),
    }
}

/// A request carrying `token` as bearer, or an anonymous one.
pub fn request<T>(token: &Option<String>, message: T) -> Request<T> {
    match token {
        Some(token) => crate::authorized(token, message),
        None => Request::new(message),
    }
}

/// An id of the same shape as `id` that almost surely names nothing: every lower-case hex digit
/// shifted by one (`0`→`1`, …, `f`→`0`), everything else kept.
pub fn twin(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '0'..='9' | 'a'..='f' => c
                .to_digit(16)
                .and_then(|digit| std::char::from_digit((digit + 1) % 16, 16))
                .unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// `bytes` with every occurrence of `from` replaced by `to`; unchanged unless both have the same
/// length (so encoded protobuf stays well-formed).
pub fn swap_bytes(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let (from, to) = (from.as_bytes(), to.as_bytes());
    let mut out = bytes.to_vec();
    if from.is_empty() || from.len() != to.len() {
        return out;
    }
    let mut index = 0;
    while index + from.len() <= out.len() {
        if &out[index..index + from.len()] == from {
            out[index..index + from.len()].copy_from_slice(to);
            index += from.len();
        } else {
            index += 1;
        }
    }
    out
}

/// Whether two answers are the same once `secret` is replaced by `absent` in the first: same
/// code, message and details for errors, same text for responses.
pub fn same_answer(on_secret: &Answer, on_absent: &Answer, secret: &str, absent: &str) -> bool {
    match (on_secret, on_absent) {
        (Err(s), Err(a)) => {
            s.code() == a.code()
                && s.message().replace(secret, absent) == a.message()
                && swap_bytes(s.details(), secret, absent) == a.details()
        }
        (Ok(s), Ok(a)) => s.replace(secret, absent) == *a,
        _ => false,
    }
}

/// What one probe of one method saw in one phase, and what is wrong with it.
#[derive(Debug)]
pub struct Report {
    /// The method probed (full name).
    pub method: String,
    /// The phase, for messages.
    pub phase: String,
    /// Words that must appear in no answer.
    pub secrets: Vec<String>,
    /// Labelled answers that must not differ between phases.
    pub observations: Vec<(String, String)>,
    /// Labelled answers that may differ (differences become notes).
    pub soft_observations: Vec<(String, String)>,
    /// Leaks and contract violations.
    pub findings: Vec<String>,
    /// Things worth printing that are not failures.
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report for `method` (`package.Service.Method`) in `phase`.
    pub fn new(method: &str, phase: impl Into<String>, secrets: &[&str]) -> Report {
        Report {
            method: method.to_owned(),
            phase: phase.into(),
            secrets: secrets.iter().map(|s| s.to_lowercase()).collect(),
            observations: Vec::new(),
            soft_observations: Vec::new(),
            findings: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The gRPC path, `/package.Service/Method`.
    pub fn path(&self) -> String {
        match self.method.rsplit_once('.') {
            Some((service, method)) => format!("/{service}/{method}"),
            None => self.method.clone(),
        }
    }

    /// Records a leak or a contract violation.
    pub fn finding(&mut self, text: impl AsRef<str>) {
        let text = format!("{} [{}] {}", self.method, self.phase, text.as_ref());
        self.findings.push(text);
    }

    /// Records something worth printing that is not a failure.
    pub fn note(&mut self, text: impl AsRef<str>) {
        let text = format!("{}: {}", self.method, text.as_ref());
        self.notes.push(text);
    }

    /// Flags `text` if it holds a secret word (case-insensitively).
    pub fn scan(&mut self, label: &str, text: &str) {
        let lower = text.to_lowercase();
        let found: Vec<String> = self
            .secrets
            .iter()
            .filter(|secret| lower.contains(secret.as_str()))
            .cloned()
            .collect();
        for secret in found {
            self.finding(format!("{label}: the answer holds {secret:?}: {text}"));
        }
    }

    /// Records (and scans) an answer that must be the same in every phase.
    pub fn observe(&mut self, label: impl Into<String>, answer: &Answer) {
        let label = label.into();
        let text = show(answer);
        self.scan(&label, &text);
        self.observations.push((label, text));
    }

    /// Records an answer that may legitimately differ between phases.
    pub fn observe_soft(&mut self, label: impl Into<String>, text: String) {
        self.soft_observations.push((label.into(), text));
    }

    /// Compares this phase's observations with `earlier`'s: every difference is a finding (a
    /// soft one a note).
    pub fn compare_with(&mut self, earlier: &Report) {
        let labels = |report: &Report| -> Vec<String> {
            report.observations.iter().map(|(l, _)| l.clone()).collect()
        };
        if labels(self) != labels(earlier) {
            let (now, then) = (labels(self), labels(earlier));
            self.finding(format!(
                "the probe observed different things: {then:?} then {now:?}"
            ));
        }
        let pairs = self.observations.iter().zip(&earlier.observations);
        let changed: Vec<String> = pairs
            .filter(|((_, now), (_, then))| now != then)
            .map(|((label, now), (_, then))| {
                format!(
                    "{label}: the answer changed when another user wrote private data.\n  \
                     before: {then}\n  after:  {now}"
                )
            })
            .collect();
        for change in changed {
            self.finding(change);
        }
        let soft = self
            .soft_observations
            .iter()
            .zip(&earlier.soft_observations);
        let changed: Vec<String> = soft
            .filter(|((_, now), (_, then))| now != then)
            .map(|((label, now), (_, then))| format!("{label} changed ({then} → {now})"))
            .collect();
        for change in changed {
            self.note(change);
        }
    }

    /// Calls `call` as each of `callers` with each `(secret, absent)` pair of ids: the answers
    /// must be the same once the ids are swapped, and the absent id's error must be `expected`
    /// (UNAUTHENTICATED for an anonymous caller where the method needs a token).
    pub async fn compare(
        &mut self,
        callers: &[(&str, Option<String>)],
        label: &str,
        expected: Code,
        pairs: &[(String, String)],
        call: impl AsyncFn(Option<String>, String) -> Answer,
    ) {
        let anonymous_allowed = pake_core::auth::allows_anonymous(&self.path());
        for (who, token) in callers {
            let expected = match token {
                None if !anonymous_allowed => Code::Unauthenticated,
                _ => expected,
            };
            for (secret, absent) in pairs {
                let context = format!("{label}, as {who}, aimed at {secret}");
                let on_secret = call(token.clone(), secret.clone()).await;
                let on_absent = call(token.clone(), absent.clone()).await;
                self.scan(&context, &show(&on_secret));
                let absent_code = on_absent.as_ref().err().map(Status::code);
                if absent_code != Some(expected) {
                    self.finding(format!(
                        "{context}: for the absent {absent} the answer is {}, the contract says \
                         {expected:?}",
                        show(&on_absent)
                    ));
                }
                if !same_answer(&on_secret, &on_absent, secret, absent) {
                    self.finding(format!(
                        "{context}: answered {}\n  but for the absent {absent}: {}",
                        show(&on_secret),
                        show(&on_absent)
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_keep_the_shape_and_differ() {
        let id = "0189ab-cdef-4f00";
        let other = twin(id);
        assert_eq!(other, "129abc-def0-5011");
        assert_eq!(other.len(), id.len());
    }

    #[test]
    fn errors_compare_with_names_swapped() {
        let secret = Err(Status::not_found("items/abc not found"));
        let absent = Err(Status::not_found("items/bcd not found"));
        assert!(same_answer(&secret, &absent, "abc", "bcd"));
        let denied = Err(Status::permission_denied("items/abc: not yours"));
        assert!(!same_answer(&denied, &absent, "abc", "bcd"));
        assert_eq!(swap_bytes(b"xabcx", "abc", "bcd"), b"xbcdx");
    }
}
