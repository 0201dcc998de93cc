//! The Lambda adapter: the only place that knows about the Lambda runtime.
//!
//! It hands the invocation's raw JSON to [`batch::process_overflow`]. When
//! records did not fit in the response, it re-sends them to the delivery
//! stream (`REINGEST_OVERFLOW`, [`reingest`]) and settles the answer: `Dropped`
//! for what was sent, `ProcessingFailed` with the data echoed for what was
//! not. Then it logs one line per batch and prints one CloudWatch EMF metrics
//! line. A request that is not a Firehose event is answered with a Lambda
//! error (`InvalidFirehoseRequest`), which Firehose retries and then sends to
//! its error prefix.

use crate::batch::{self, BatchReport, Overflow, Processed};
use crate::config::{Config, ConfigError};
use crate::metrics;
use crate::record::{DropReason, FailReason};
use crate::reingest::{self, Sender};
use bytes::Bytes;
use lambda_runtime::{tower, Diagnostic, LambdaEvent, LambdaInvocation};
use serde::de::IgnoredAny;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing_subscriber::filter::LevelFilter;

/// Time kept back from the invocation's deadline when re-sending: settling
/// the answer transforms the batch again, and the response must still be
/// posted before Lambda stops the function.
const SAFETY_MARGIN: Duration = Duration::from_secs(2);

/// The function's state across invocations.
pub struct Function {
    pub config: Config,
    /// Created on the first overflow, so that a function that never
    /// overflows never loads the AWS configuration (no init cost).
    sender: tokio::sync::OnceCell<Sender>,
}

impl Function {
    pub fn new(config: Config) -> Function {
        Function {
            config,
            sender: tokio::sync::OnceCell::new(),
        }
    }
}

/// Request bodies on their way from [`TakeBody`] to the handler, by request
/// id (so that they cannot mix, should invocations ever run concurrently).
type Bodies = Arc<Mutex<HashMap<String, Bytes>>>;

/// Runs the Lambda runtime loop until the process is stopped.
///
/// `lambda_runtime` would deserialize each request into the handler's
/// payload type: a full JSON scan of up to 6 MB (through
/// `serde_path_to_error`) and a copy into a `Box<RawValue>`, before the batch
/// layer scans it again. [`TakeBody`] hands the body the runtime received to
/// the handler untouched instead, and leaves the runtime a `null` payload
/// to deserialize; the batch layer is the one parser, and a request that is
/// not JSON gets its `InvalidFirehoseRequest` from it.
pub async fn run(config: Config) -> Result<(), lambda_runtime::Error> {
    let function: &'static Function = Box::leak(Box::new(Function::new(config)));
    let bodies = Bodies::default();
    let taken = bodies.clone();
    let service = lambda_runtime::service_fn(move |event: LambdaEvent<IgnoredAny>| {
        let body = taken
            .lock()
            .ok()
            .and_then(|mut b| b.remove(&event.context.request_id));
        async move {
            let body =
                body.ok_or_else(|| internal("the request body was not handed over".into()))?;
            handle(function, &body, &event.context).await
        }
    });
    lambda_runtime::Runtime::new(service)
        .layer(TakeBody { bodies })
        .layer(lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
}

/// A runtime layer that takes each invocation's body for the handler (see
/// [`run`]).
struct TakeBody {
    bodies: Bodies,
}

impl<S> tower::Layer<S> for TakeBody {
    type Service = TakeBodyService<S>;
    fn layer(&self, inner: S) -> TakeBodyService<S> {
        TakeBodyService {
            inner,
            bodies: self.bodies.clone(),
        }
    }
}

struct TakeBodyService<S> {
    inner: S,
    bodies: Bodies,
}

impl<S: tower::Service<LambdaInvocation>> tower::Service<LambdaInvocation> for TakeBodyService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> S::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        if let Ok(mut bodies) = self.bodies.lock() {
            bodies.insert(invocation.context.request_id.clone(), body);
        }
        self.inner.call(invocation)
    }
}

/// Handles one invocation whose payload the runtime parsed as raw JSON (the
/// shape tests and other callers use); the Lambda loop goes through
/// [`handle`] with the body as received.
pub async fn handler(
    function: &Function,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Response, Diagnostic> {
    handle(function, event.payload.get().as_bytes(), &event.context).await
}

/// Handles one invocation: the request's bytes in, the response out.
pub async fn handle(
    function: &Function,
    request: &[u8],
    context: &lambda_runtime::Context,
) -> Result<Response, Diagnostic> {
    let started = Instant::now();
    let config = &function.config;
    let overflow = match config.reingest_overflow {
        true => Overflow::Reingest,
        false => Overflow::Fail,
    };
    // The runtime logs the error it reports, so it is not logged here too.
    let mut processed = batch::process_overflow(request, config, overflow)?;
    if !processed.reingest.is_empty() {
        let margin = SAFETY_MARGIN + started.elapsed();
        let deadline = deadline(context.deadline, margin);
        processed = resend(function, request, processed, deadline).await?;
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    log_report(&processed.report);
    let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    // EMF must be a log line of its own, so it bypasses `tracing`.
    let line = metrics::emf_line(
        &processed.report,
        elapsed_ms,
        now_ms,
        &name,
        config.detailed_metrics,
    );
    let _ = writeln!(std::io::stdout().lock(), "{line}");
    Ok(Response(processed.response))
}

/// The instant `margin` before the invocation's deadline (epoch ms).
fn deadline(deadline_ms: u64, margin: Duration) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(margin)
}

/// Re-sends the overflow to the stream that invoked us; what cannot be sent
/// is settled as `ProcessingFailed`.
async fn resend(
    function: &Function,
    request: &[u8],
    processed: Processed,
    deadline: Instant,
) -> Result<Processed, Diagnostic> {
    let arn = processed
        .report
        .delivery_stream_arn
        .as_deref()
        .unwrap_or("");
    let positions: Vec<usize> = processed.reingest.iter().map(|r| r.index).collect();
    let Some((stream, region)) = reingest::parse_stream_arn(arn) else {
        tracing::warn!(
            delivery_stream_arn = arn,
            records = positions.len(),
            "no delivery stream to re-send overflow to; failing it instead"
        );
        return Ok(batch::settle(request, &function.config, &[], &positions)?);
    };
    let sender = function
        .sender
        .get_or_init(|| Sender::from_env(Some(region)))
        .await;
    let data: Vec<&[u8]> = processed.reingest.iter().map(|r| &r.data[..]).collect();
    let sent = sender.send(stream, &data, deadline).await;
    if sent.unsent.is_empty() {
        return Ok(processed);
    }
    tracing::warn!(
        stream,
        sent = sent.sent.len(),
        unsent = sent.unsent.len(),
        calls = sent.calls,
        retried = sent.retried,
        error = sent.last_error.as_deref().unwrap_or(""),
        "re-sending overflow failed; those records fail to the error prefix"
    );
    // Settling fails only when even every record failed would not fit (a
    // request over 6,000,000 bytes of large records): the invocation fails
    // as it would without re-ingestion, and Firehose retries the batch, so
    // what was sent is sent again (at least once, as documented).
    let pick = |list: &[usize]| list.iter().map(|&k| positions[k]).collect::<Vec<_>>();
    Ok(batch::settle(
        request,
        &function.config,
        &pick(&sent.sent),
        &pick(&sent.unsent),
    )?)
}

/// A request that cannot be answered record by record fails the invocation,
/// reported to the runtime under its own `errorType`.
impl From<batch::RequestError> for Diagnostic {
    fn from(e: batch::RequestError) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        }
    }
}

/// The response JSON as [`batch::process`] wrote it, serialized verbatim.
///
/// `RawValue::from_string` would parse all of it again (up to 6 MB, as much
/// work as parsing the request) only to check what the batch layer wrote by
/// construction and its tests check. This serializes the way serde_json's own
/// `RawValue` does, through serde_json's raw-value struct name, so the
/// runtime's `serde_json::to_vec` copies the bytes as they are. The test
/// below fails if serde_json ever stops honouring that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response(String);

impl Response {
    /// The response JSON.
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";
        let mut s = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        s.serialize_field(RAW_VALUE_TOKEN, &self.0)?;
        s.end()
    }
}

fn internal(message: String) -> Diagnostic {
    Diagnostic {
        error_type: "InternalError".into(),
        error_message: message,
    }
}

/// Failed records named in the batch line; the rest are counted only.
pub const LOGGED_FAILURES: usize = 10;

/// One line per batch: the counts by result and reason, and the first
/// [`LOGGED_FAILURES`] failed record ids with their reasons. A line per
/// failed record cost more than the transform on a batch of small events
/// (about 20,000 lines, 4.4 MB, per invocation), so those are `debug` only.
pub fn log_report(report: &BatchReport) {
    for (record_id, reason) in &report.failures {
        tracing::debug!(record_id = %record_id, reason = reason.code(), "record failed");
    }
    // A warning when records failed, so that a WARN log level still shows
    // them; `info` otherwise.
    macro_rules! batch_line {
        ($level:expr) => {
            tracing::event!(
                $level,
                invocation_id = report.invocation_id.as_deref().unwrap_or(""),
                records = report.records,
                ok = report.ok,
                dropped = report.dropped_total(),
                failed = report.failed_total(),
                reingested = report.reingested,
                reingest_failed = report.reingest_failed,
                overflow = report.overflow,
                site_other = report.site_other,
                reasons = %reasons(report),
                first_failures = %first_failures(report),
                "batch processed"
            )
        };
    }
    if report.failed_total() > 0 {
        batch_line!(tracing::Level::WARN);
    } else {
        batch_line!(tracing::Level::INFO);
    }
}

/// `bad_base64=3,domain=1`: the non-zero counts by reason code.
pub fn reasons(report: &BatchReport) -> String {
    let reasons: Vec<String> = FailReason::ALL
        .iter()
        .map(|r| (r.code(), report.failed_count(*r)))
        .chain(
            DropReason::ALL
                .iter()
                .map(|r| (r.code(), report.dropped_count(*r))),
        )
        .chain([("reingested", report.reingested)])
        .filter(|(_, n)| *n > 0)
        .map(|(code, n)| format!("{code}={n}"))
        .collect();
    reasons.join(",")
}

/// `id-1:bad_base64,id-7:not_json`: the first failed records.
pub fn first_failures(report: &BatchReport) -> String {
    let first: Vec<String> = report
        .failures
        .iter()
        .take(LOGGED_FAILURES)
        .map(|(id, reason)| format!("{id}:{reason}"))
        .collect();
    first.join(",")
}

/// The accepted form of `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG`, as errors
/// state it.
pub const LOG_LEVEL_FORM: &str =
    "one of Lambda's log levels `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`, or `OFF`, in any case";

/// The log level: `AWS_LAMBDA_LOG_LEVEL`, or else `RUST_LOG`, or else
/// `info`. Lambda's own levels are accepted in any case; `FATAL` keeps only
/// errors, the most severe level `tracing` has. Anything else (a typo, a
/// per-module `RUST_LOG` directive, a value that is not UTF-8) is an error
/// naming the variable, as for every other variable: a level silently read
/// as `info` hides the logs that were asked for. An empty value counts as
/// unset, as `RUST_LOG=` does for `env_logger`.
pub fn log_level(
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<LevelFilter, ConfigError> {
    for variable in ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"] {
        let Some(raw) = lookup(variable) else {
            continue;
        };
        let invalid = || ConfigError {
            variable,
            value: raw.to_string_lossy().into_owned(),
            expected: LOG_LEVEL_FORM,
        };
        let value = raw.to_str().ok_or_else(invalid)?.trim();
        if value.is_empty() {
            continue;
        }
        return match value.to_ascii_lowercase().as_str() {
            "trace" => Ok(LevelFilter::TRACE),
            "debug" => Ok(LevelFilter::DEBUG),
            "info" => Ok(LevelFilter::INFO),
            "warn" => Ok(LevelFilter::WARN),
            "error" | "fatal" => Ok(LevelFilter::ERROR),
            "off" => Ok(LevelFilter::OFF),
            _ => Err(invalid()),
        };
    }
    Ok(LevelFilter::INFO)
}

/// Installs the `tracing` subscriber the Lambda runtime's own helper would,
/// honouring Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT=JSON`
/// gives JSON lines, and [`log_level`] the level. An invalid level is
/// returned as an error, for the caller to stop on, after installing the
/// default `info` level so that the error itself can be logged.
/// Written here rather than taken from `lambda_runtime::tracing`, whose
/// per-target filter directives pull in a regex engine for no use of ours.
/// Inside Lambda logs go to stdout; the CLI sends them to stderr, keeping
/// stdout for its output.
pub fn init_logging(to_stderr: bool) -> Result<(), ConfigError> {
    let level = log_level(|name| std::env::var_os(name));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_max_level(*level.as_ref().unwrap_or(&LevelFilter::INFO));
    // `try_init`: a second call (tests) keeps the first subscriber.
    let _ = match (json, to_stderr) {
        (true, true) => builder.json().with_writer(std::io::stderr).try_init(),
        (true, false) => builder.json().with_writer(std::io::stdout).try_init(),
        (false, true) => builder.with_writer(std::io::stderr).try_init(),
        (false, false) => builder.with_writer(std::io::stdout).try_init(),
    };
    level.map(drop)
}

/// The runtime's own variables, checked before the runtime library reads
/// them: it panics (exit 101, a backtrace hint and no name of what to fix)
/// on a missing one or a runtime API it cannot parse. Lambda always sets
/// them; they go missing when the function is started by hand with only
/// `AWS_LAMBDA_RUNTIME_API`, as when trying an emulator.
pub fn check_runtime_environment(lookup: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    const HINT: &str = "the Lambda runtime sets it beside AWS_LAMBDA_RUNTIME_API; \
        to run the command-line tool instead, unset AWS_LAMBDA_RUNTIME_API";
    let api = lookup("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    if !runtime_api_is_valid(&api) {
        return Err(format!(
            "invalid AWS_LAMBDA_RUNTIME_API={api:?}: expected HOST:PORT (as 127.0.0.1:9001)"
        ));
    }
    for name in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION"] {
        if lookup(name).is_none() {
            return Err(format!("{name} is not set: {HINT}"));
        }
    }
    let name = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
    match lookup(name) {
        None => Err(format!("{name} is not set: {HINT}")),
        Some(v) if v.parse::<i32>().is_err() => Err(format!(
            "invalid {name}={v:?}: expected the function's memory in MB (as 128)"
        )),
        Some(_) => Ok(()),
    }
}

/// `HOST:PORT`, or `http://HOST:PORT/PATH`: what the runtime
/// library's URI parsing accepts and it can take an authority from.
fn runtime_api_is_valid(api: &str) -> bool {
    let (rest, scheme) = match api.strip_prefix("http://") {
        Some(rest) => (rest, true),
        None => (api, false),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // Without a scheme, the URI parser takes a path for part of the host.
    if !scheme && !path.is_empty() {
        return false;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    let path_ok = path.bytes().all(|b| b.is_ascii_graphic());
    host_ok && port_ok && path_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `?` turns a request error into the runtime's error report, typed.
    #[test]
    fn request_errors_are_reported_with_their_type() {
        let cases = [
            (
                batch::RequestError::Invalid("expected value".into()),
                "InvalidFirehoseRequest",
                "not a Firehose transformation request: expected value",
            ),
            (
                batch::RequestError::ResponseTooLarge { bytes: 7, limit: 6 },
                "ResponseTooLarge",
                "response of 7 bytes would exceed the 6-byte limit even with every record failed",
            ),
        ];
        for (error, error_type, message) in cases {
            let reported = || -> Result<(), Diagnostic> { Err(error.clone())? };
            let d = reported().unwrap_err();
            assert_eq!(
                (d.error_type.as_str(), d.error_message.as_str()),
                (error_type, message)
            );
        }
        // A request that is not JSON, end to end through the batch layer.
        let d = Diagnostic::from(batch::process(b"[", &Config::default()).unwrap_err());
        assert_eq!(d.error_type, "InvalidFirehoseRequest");
    }

    #[test]
    fn log_levels() {
        use std::os::unix::ffi::OsStringExt;
        type Case<'a> = (&'a [(&'a str, &'a [u8])], Result<LevelFilter, &'a str>);
        let cases: &[Case] = &[
            // --- edge cases ---
            (&[], Ok(LevelFilter::INFO)),
            (&[("AWS_LAMBDA_LOG_LEVEL", b"")], Ok(LevelFilter::INFO)),
            (&[("RUST_LOG", b" ")], Ok(LevelFilter::INFO)),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"FATAL")],
                Ok(LevelFilter::ERROR),
            ),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"Fatal")],
                Ok(LevelFilter::ERROR),
            ),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"verbose")],
                Err("AWS_LAMBDA_LOG_LEVEL"),
            ),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"warning")],
                Err("AWS_LAMBDA_LOG_LEVEL"),
            ),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"5")],
                Err("AWS_LAMBDA_LOG_LEVEL"),
            ),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"\xff")],
                Err("AWS_LAMBDA_LOG_LEVEL"),
            ),
            // Lambda's level wins, even over an invalid RUST_LOG...
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"warn"), ("RUST_LOG", b"bad")],
                Ok(LevelFilter::WARN),
            ),
            // ...and an invalid one is not rescued by RUST_LOG.
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"bad"), ("RUST_LOG", b"warn")],
                Err("AWS_LAMBDA_LOG_LEVEL"),
            ),
            // Directives this build cannot honour.
            (&[("RUST_LOG", b"firehose_enricher=debug")], Err("RUST_LOG")),
            (&[("RUST_LOG", b"info,hyper=warn")], Err("RUST_LOG")),
            (&[("RUST_LOG", b"\xff")], Err("RUST_LOG")),
            // --- Lambda's levels, any case ---
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"TRACE")],
                Ok(LevelFilter::TRACE),
            ),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"DEBUG")],
                Ok(LevelFilter::DEBUG),
            ),
            (&[("AWS_LAMBDA_LOG_LEVEL", b"INFO")], Ok(LevelFilter::INFO)),
            (&[("AWS_LAMBDA_LOG_LEVEL", b"WARN")], Ok(LevelFilter::WARN)),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"ERROR")],
                Ok(LevelFilter::ERROR),
            ),
            (
                &[("AWS_LAMBDA_LOG_LEVEL", b"error")],
                Ok(LevelFilter::ERROR),
            ),
            (&[("AWS_LAMBDA_LOG_LEVEL", b"off")], Ok(LevelFilter::OFF)),
            (&[("RUST_LOG", b"debug")], Ok(LevelFilter::DEBUG)),
        ];
        for (env, want) in cases {
            let got = log_level(|name| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from_vec(v.to_vec()))
            });
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{env:?}"),
                (Err(e), Err(variable)) => {
                    assert_eq!(e.variable, *variable, "{env:?}");
                    assert!(e.to_string().contains(LOG_LEVEL_FORM), "{e}");
                }
                (got, _) => panic!("{env:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn response_serializes_verbatim() {
        let cases = [
            // --- edge cases: what re-serializing would change ---
            r#"{"records":[]}"#,
            r#"{ "records" : [ ] , "n":1.0e2 }"#,
            r#"{"records":[{"recordId":"\u0041","result":"Ok","data":"e30K"}]}"#,
        ];
        for json in cases {
            let bytes = serde_json::to_vec(&Response(json.to_owned())).unwrap();
            assert_eq!(String::from_utf8(bytes).unwrap(), json);
        }
    }
}
