//! The Lambda collector: the same binary with `FUNCTION_ROLE=collector`,
//! behind a Lambda Function URL. An adapter over [`collector::handle`]:
//! the Function URL's request (API Gateway payload format 2.0) in, its
//! response out, and the accepted events sent to the delivery stream
//! named by `COLLECTOR_STREAM` with `PutRecordBatch` ([`reingest::Sender`]:
//! calls of at most 500 records and 4 MiB, failed entries retried with
//! backoff until shortly before the invocation's deadline).
//!
//! An event Firehose did not take is never answered 2xx: the answer is
//! `503` with `Retry-After`, and the tracker sends the batch again (events
//! carry an `event_id`, so a retried batch that was partly delivered can be
//! told apart downstream).
//!
//! The payload is parsed with serde_json into the few members used; the
//! response is written the same way. Nothing here reads credentials from
//! the request: the SDK takes them from the function's role.

use crate::collector::{self, CollectorConfig, Headers, Outcome, Refusal};
use crate::metrics;
use crate::reingest::Sender;
use crate::settings::ConfigError;
use base64::Engine;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Time kept back from the deadline for answering after the last retry.
const SAFETY_MARGIN: Duration = Duration::from_millis(300);

/// The variable naming the delivery stream.
pub const STREAM_VARIABLE: &str = "COLLECTOR_STREAM";

/// The delivery stream's name from `COLLECTOR_STREAM`, required.
pub fn stream_from_env() -> Result<String, ConfigError> {
    let value = std::env::var(STREAM_VARIABLE).unwrap_or_default();
    let name = value.trim();
    // Firehose stream names: 1 to 64 of [a-zA-Z0-9_.-].
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(name.to_owned())
    } else {
        Err(ConfigError {
            variable: STREAM_VARIABLE,
            value,
            expected: "the delivery stream's name (1 to 64 letters, digits, `_`, `.` or `-`), required with FUNCTION_ROLE=collector",
        })
    }
}

/// A Function URL request (payload format 2.0): the members the collector
/// reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlRequest {
    #[serde(default)]
    pub raw_path: String,
    /// Lowercase names; repeated headers joined with commas.
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    pub request_context: RequestContext,
}

#[derive(Debug, Deserialize)]
pub struct RequestContext {
    pub http: HttpContext,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpContext {
    pub method: String,
    #[serde(default)]
    pub source_ip: String,
}

/// A Function URL response.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UrlResponse {
    pub status_code: u16,
    pub headers: BTreeMap<&'static str, String>,
    pub body: String,
    pub is_base64_encoded: bool,
}

/// The core's answer to a Function URL request, with the body decoded.
/// A body that is not valid base64 is answered `400`.
pub fn outcome(request: &UrlRequest, config: &CollectorConfig) -> Outcome {
    let raw = request.body.as_deref().unwrap_or("");
    let decoded;
    let body: &[u8] = if request.is_base64_encoded {
        match BASE64.decode(raw) {
            Ok(bytes) => {
                decoded = bytes;
                &decoded
            }
            Err(_) => b"\xff not base64",
        }
    } else {
        raw.as_bytes()
    };
    let get = |name: &str| request.headers.get(name).map(String::as_str);
    let core = collector::Request {
        method: &request.request_context.http.method,
        path: &request.raw_path,
        headers: Headers::from_fn(config, get),
        body,
        peer: request.request_context.http.source_ip.parse().ok(),
    };
    collector::handle(&core, config)
}

/// The core's response as a Function URL response: text as it is, other
/// bodies (the gzipped tracker) in base64.
pub fn url_response(response: &collector::Response) -> UrlResponse {
    let headers = response
        .headers
        .iter()
        .map(|(n, v)| (*n, v.to_string()))
        .collect();
    let (body, is_base64_encoded) = match std::str::from_utf8(&response.body) {
        Ok(text)
            if response
                .headers
                .iter()
                .all(|(n, _)| *n != "content-encoding") =>
        {
            (text.to_owned(), false)
        }
        _ => (BASE64.encode(&response.body), true),
    };
    UrlResponse {
        status_code: response.status,
        headers,
        body,
        is_base64_encoded,
    }
}

/// The function's state across invocations.
pub struct Collector {
    pub config: CollectorConfig,
    pub stream: String,
    sender: Sender,
    function_name: String,
}

/// Runs the Lambda runtime loop as the collector.
pub async fn run(config: CollectorConfig, stream: String) -> Result<(), lambda_runtime::Error> {
    // Created at init: every invocation that accepts events sends them.
    let sender = Sender::from_env(None).await;
    let state: &'static Collector = Box::leak(Box::new(Collector {
        config,
        stream,
        sender,
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into()),
    }));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<UrlRequest>| handle(state, event),
    ))
    .await
}

/// One invocation.
pub async fn handle(
    state: &Collector,
    event: LambdaEvent<UrlRequest>,
) -> Result<UrlResponse, Diagnostic> {
    let outcome = outcome(&event.payload, &state.config);
    let mut delivery_failed = 0;
    let response = if outcome.events.is_empty() {
        url_response(&outcome.response)
    } else {
        let records: Vec<&[u8]> = outcome.events.iter().collect();
        let deadline = deadline(event.context.deadline);
        let sent = state.sender.send(&state.stream, &records, deadline).await;
        if sent.unsent.is_empty() {
            url_response(&outcome.response)
        } else {
            delivery_failed = sent.unsent.len();
            tracing::warn!(
                stream = state.stream,
                sent = sent.sent.len(),
                unsent = sent.unsent.len(),
                calls = sent.calls,
                retried = sent.retried,
                error = sent.last_error.as_deref().unwrap_or(""),
                "delivery failed; answered 503"
            );
            url_response(&outcome.unavailable())
        }
    };
    if let Some(line) = emf(&outcome, delivery_failed, &state.function_name) {
        // EMF must be a log line of its own, so it bypasses `tracing`.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
    Ok(response)
}

/// The metrics line of one request: `None` for the tracker, health checks
/// and unknown paths, which are not counted (a log line costs more than
/// their answer).
pub fn emf(outcome: &Outcome, delivery_failed: usize, function_name: &str) -> Option<String> {
    let counts = metrics::CollectorCounts {
        accepted: outcome.events.len() - delivery_failed.min(outcome.events.len()),
        rejected_events: outcome.rejected.iter().sum(),
        too_large: usize::from(outcome.refusal == Some(Refusal::TooLarge)),
        origin: usize::from(outcome.refusal == Some(Refusal::Origin)),
        bad_request: usize::from(outcome.refusal == Some(Refusal::BadRequest)),
        delivery_failed,
    };
    if counts == metrics::CollectorCounts::default() {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Some(metrics::collector_emf_line(&counts, now_ms, function_name))
}

/// The instant [`SAFETY_MARGIN`] before the invocation's deadline (epoch
/// ms); a deadline already past leaves one attempt.
fn deadline(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(SAFETY_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> UrlRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn payload_2_0() {
        let body = BASE64.encode(br#"[{"a":1},{"ip":"6.6.6.6"}]"#);
        let r = request(serde_json::json!({
            "version": "2.0",
            "rawPath": "/collect",
            "rawQueryString": "x=1",
            "headers": {"content-type": "text/plain;charset=UTF-8", "user-agent": "UA", "x-forwarded-for": "6.6.6.6"},
            "requestContext": {"http": {"method": "POST", "path": "/collect", "sourceIp": "203.0.113.5", "userAgent": "UA"}},
            "body": body,
            "isBase64Encoded": true
        }));
        let o = outcome(&r, &CollectorConfig::default());
        assert_eq!(o.response.status, 204);
        let events: Vec<&[u8]> = o.events.iter().collect();
        assert_eq!(
            events[0],
            b"{\"a\":1,\"ip\":\"203.0.113.5\",\"user_agent\":\"UA\"}\n"
        );
        assert_eq!(
            events[1],
            b"{\"ip\":\"203.0.113.5\",\"user_agent\":\"UA\"}\n"
        );
    }

    #[test]
    fn bodies_and_answers() {
        // (body, base64, status)
        let cases: &[(Option<&str>, bool, u16)] = &[
            (None, false, 400),
            (Some(""), false, 400),
            (Some("!!"), true, 400),
            (Some("{}"), false, 204),
            (Some("e30="), true, 204),
        ];
        for (body, b64, status) in cases {
            let r = request(serde_json::json!({
                "rawPath": "/collect",
                "headers": {},
                "requestContext": {"http": {"method": "POST", "sourceIp": "203.0.113.5"}},
                "body": body,
                "isBase64Encoded": b64
            }));
            assert_eq!(
                outcome(&r, &CollectorConfig::default()).response.status,
                *status,
                "{body:?}"
            );
        }
        let r = request(serde_json::json!({
            "rawPath": "/tracker.js",
            "headers": {"accept-encoding": "gzip"},
            "requestContext": {"http": {"method": "GET", "sourceIp": "203.0.113.5"}}
        }));
        let o = outcome(&r, &CollectorConfig::default());
        let u = url_response(&o.response);
        assert_eq!(u.status_code, 200);
        assert!(u.is_base64_encoded);
        assert_eq!(u.headers["content-encoding"], "gzip");
        assert!(emf(&o, 0, "f").is_none(), "the tracker is not counted");
        let r = request(serde_json::json!({
            "rawPath": "/collect",
            "requestContext": {"http": {"method": "POST", "sourceIp": "203.0.113.5"}},
            "body": "{}\nx"
        }));
        let o = outcome(&r, &CollectorConfig::default());
        let u = url_response(&o.response);
        assert_eq!(u.status_code, 200);
        assert!(!u.is_base64_encoded);
        assert_eq!(
            u.body,
            r#"{"accepted":1,"rejected":[{"index":1,"reason":"invalid_json"}]}"#
        );
        let line: serde_json::Value = serde_json::from_str(&emf(&o, 1, "f").unwrap()).unwrap();
        assert_eq!(line["Accepted"], 0);
        assert_eq!(line["DeliveryFailed"], 1);
        assert_eq!(line["RejectedEvents"], 1);
    }
}
