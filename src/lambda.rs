//! The Lambda adapter: the only place that knows about the Lambda runtime.
//!
//! It hands the invocation's raw JSON to [`batch::process`], logs each failed
//! record's id and reason, logs the batch's counts, and prints one CloudWatch
//! EMF metrics line. A request that is not a Firehose event is answered with
//! a Lambda error (`InvalidFirehoseRequest`), which Firehose retries and then
//! sends to its error prefix.

use crate::batch::{self, BatchReport};
use crate::config::{Config, ConfigError};
use crate::metrics;
use crate::record::{DropReason, FailReason};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::value::RawValue;
use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tracing_subscriber::filter::LevelFilter;

/// Runs the Lambda runtime loop until the process is stopped.
pub async fn run(config: Config) -> Result<(), lambda_runtime::Error> {
    let config: &'static Config = Box::leak(Box::new(config));
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        handler(config, event)
    }))
    .await
}

/// Handles one invocation. The payload stays raw JSON: the runtime only checks
/// that it is JSON, and the batch layer parses it with borrowed types.
pub async fn handler(
    config: &Config,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Response, Diagnostic> {
    let started = Instant::now();
    match batch::process(event.payload.get().as_bytes(), config) {
        Ok(processed) => {
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            log_report(&processed.report);
            let function =
                std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            // EMF must be a log line of its own, so it bypasses `tracing`.
            let line = metrics::emf_line(&processed.report, elapsed_ms, now_ms, &function);
            let _ = writeln!(std::io::stdout().lock(), "{line}");
            String::from_utf8(processed.response)
                .map(Response)
                .map_err(|e| internal(e.to_string()))
        }
        // The runtime logs the error it reports, so it is not logged here too.
        Err(e) => Err(Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        }),
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

/// One warning per failed record (its id and reason code), then one summary.
pub fn log_report(report: &BatchReport) {
    for (record_id, reason) in &report.failures {
        tracing::warn!(record_id = %record_id, reason = reason.code(), "record failed");
    }
    let reasons: Vec<String> = FailReason::ALL
        .iter()
        .map(|r| (r.code(), report.failed_count(*r)))
        .chain(
            DropReason::ALL
                .iter()
                .map(|r| (r.code(), report.dropped_count(*r))),
        )
        .filter(|(_, n)| *n > 0)
        .map(|(code, n)| format!("{code}={n}"))
        .collect();
    tracing::info!(
        invocation_id = report.invocation_id.as_deref().unwrap_or(""),
        records = report.records,
        ok = report.ok,
        dropped = report.dropped_total(),
        failed = report.failed_total(),
        site_other = report.site_other,
        reasons = %reasons.join(","),
        "batch processed"
    );
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
#[cfg(test)]
mod tests {
    use super::*;

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
