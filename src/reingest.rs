//! Sending raw records to a delivery stream with `PutRecordBatch`: the Lambda
//! adapter re-sends what did not fit in its response, and `replay
//! --to-stream` redrives events through the deployed pipeline.
//!
//! An adapter, like `lambda`: the core never calls AWS. The client is the
//! official SDK, which reads credentials, region and the standard endpoint
//! variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_FIREHOSE`) the usual way.
//!
//! `PutRecordBatch` succeeds per record: a call can answer 200 with some of
//! its records failed (`ServiceUnavailableException` when the stream is
//! throttled). Failed records, and whole calls that failed for a reason that
//! may pass, are retried with exponential backoff and jitter until the
//! deadline; what is still unsent then is reported, never dropped.

use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use std::ops::Range;
use std::time::{Duration, Instant};

/// `PutRecordBatch` takes at most 500 records per call,
pub const MAX_RECORDS_PER_CALL: usize = 500;
/// at most 4 MiB of data per call,
pub const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;
/// and records of at most 1,000 KiB each.
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;

/// The first retry waits about this long, each next one twice as long
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Error codes that no retry can fix: the call is wrong, not the moment.
const PERMANENT: &[&str] = &[
    "ResourceNotFoundException",
    "InvalidArgumentException",
    "InvalidKMSResourceException",
    "InvalidSourceException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ValidationException",
];

/// Splits records of these sizes, in order, into the fewest calls that keep
/// each within the `PutRecordBatch` limits. A record too large to send at
/// all gets a call of its own, which Firehose rejects for that record only.
pub fn calls(sizes: &[usize]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &size) in sizes.iter().enumerate() {
        let full = i - start == MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL;
        if i > start && full {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// The name and region of a delivery stream ARN,
/// `arn:aws:firehose:eu-central-1:123456789012:deliverystream/NAME`.
pub fn parse_stream_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, _partition, service, region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("deliverystream/")?;
    (arn_ == "arn" && service == "firehose" && !region.is_empty() && !name.is_empty())
        .then_some((name, region))
}

/// What became of a send.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Positions (in the records given) that the stream accepted.
    pub sent: Vec<usize>,
    /// Positions still unsent when retries ran out, in order.
    pub unsent: Vec<usize>,
    /// `PutRecordBatch` calls made.
    pub calls: usize,
    /// Records retried after a failed call or a failed entry.
    pub retried: usize,
    /// The last error seen, for the log.
    pub last_error: Option<String>,
}

/// A Firehose client, created once and kept for the process's lifetime.
#[derive(Clone, Debug)]
pub struct Sender {
    client: aws_sdk_firehose::Client,
}

impl Sender {
    /// A client from the standard configuration chain. The SDK's own
    /// retries are off: [`Sender::send`] retries per record, within its
    /// deadline, which a retrying call could overrun.
    pub async fn from_env(region: Option<&str>) -> Sender {
        // rustls with ring: no C toolchain to build (as aws-lc needs), and
        // the smaller binary; the SDK's default client would bring aws-lc.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        let config = loader.load().await;
        Sender {
            client: aws_sdk_firehose::Client::new(&config),
        }
    }

    /// Sends `records` to the stream named `stream`, retrying what fails
    /// until `deadline`.
    pub async fn send(&self, stream: &str, records: &[&[u8]], deadline: Instant) -> Sent {
        let mut out = Sent::default();
        let mut pending: Vec<usize> = (0..records.len()).collect();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let mut retry = Vec::new();
            let sizes: Vec<usize> = pending.iter().map(|&i| records[i].len()).collect();
            for call in calls(&sizes) {
                let batch = &pending[call];
                out.calls += 1;
                match self.put(stream, records, batch, deadline).await {
                    Ok(failed) => {
                        for (k, &i) in batch.iter().enumerate() {
                            match failed.get(k).and_then(Option::as_ref) {
                                Some(code) => {
                                    out.last_error = Some(code.clone());
                                    retry.push(i);
                                }
                                None => out.sent.push(i),
                            }
                        }
                    }
                    Err(CallError::Permanent(e)) => {
                        out.last_error = Some(e);
                        out.unsent.extend_from_slice(batch);
                    }
                    Err(CallError::Transient(e)) => {
                        out.last_error = Some(e);
                        retry.extend_from_slice(batch);
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            let wait = backoff(attempt);
            attempt += 1;
            if Instant::now() + wait >= deadline {
                out.unsent.extend(retry);
                break;
            }
            out.retried += retry.len();
            tokio::time::sleep(wait).await;
            pending = retry;
        }
        out.sent.sort_unstable();
        out.unsent.sort_unstable();
        out
    }

    /// One call; per entry of `batch`, `None` when accepted or the error code.
    async fn put(
        &self,
        stream: &str,
        records: &[&[u8]],
        batch: &[usize],
        deadline: Instant,
    ) -> Result<Vec<Option<String>>, CallError> {
        let entries = batch
            .iter()
            .map(|&i| Record::builder().data(Blob::new(records[i])).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CallError::Permanent(e.to_string()))?;
        let call = self
            .client
            .put_record_batch()
            .delivery_stream_name(stream)
            .set_records(Some(entries))
            .send();
        let left = deadline.saturating_duration_since(Instant::now());
        let output = match tokio::time::timeout(left, call).await {
            Err(_) => return Err(CallError::Transient("timed out".into())),
            Ok(Err(e)) => {
                let code = e.code().map(str::to_owned);
                let text = match &code {
                    Some(code) => format!("{code}: {}", e.message().unwrap_or("")),
                    None => aws_sdk_firehose::error::DisplayErrorContext(&e).to_string(),
                };
                return Err(match code {
                    Some(c) if PERMANENT.contains(&c.as_str()) => CallError::Permanent(text),
                    _ => CallError::Transient(text),
                });
            }
            Ok(Ok(output)) => output,
        };
        let answers = output.request_responses();
        if answers.len() != batch.len() {
            return Err(CallError::Transient(format!(
                "{} answers for {} records",
                answers.len(),
                batch.len()
            )));
        }
        Ok(answers
            .iter()
            .map(|a| a.error_code().map(str::to_owned))
            .collect())
    }
}

enum CallError {
    Permanent(String),
    Transient(String),
}

/// Exponential backoff with jitter: half fixed, half random, so that many
/// functions throttled together do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let full = FIRST_BACKOFF
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_BACKOFF);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = xxhash_rust::xxh3::xxh3_64(&nanos.to_le_bytes()) % 1_000;
    full / 2 + (full / 2).mul_f64(jitter as f64 / 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_respect_both_limits() {
        let mib = 1024 * 1024;
        // (case, record sizes, records per call)
        type Case = (&'static str, Vec<usize>, &'static [usize]);
        let cases: &[Case] = &[
            // --- edges ---
            ("nothing", vec![], &[]),
            ("one empty record", vec![0], &[1]),
            ("exactly 500", vec![10; 500], &[500]),
            ("501", vec![10; 501], &[500, 1]),
            ("exactly 4 MiB", vec![2 * mib, 2 * mib], &[2]),
            ("a byte over 4 MiB", vec![2 * mib, 2 * mib + 1], &[1, 1]),
            // Too large to send: alone, so only it fails.
            ("oversized alone", vec![1, 5 * mib, 1], &[1, 1, 1]),
            // --- ordinary ---
            ("1200 small", vec![100; 1200], &[500, 500, 200]),
            ("bytes first", vec![MAX_RECORD_BYTES; 9], &[4, 4, 1]),
        ];
        for (name, sizes, want) in cases {
            let got = calls(sizes);
            let lengths: Vec<usize> = got.iter().map(|c| c.len()).collect();
            assert_eq!(&lengths, want, "{name}");
            // Contiguous, in order, covering every record.
            assert_eq!(got.first().map_or(0, |c| c.start), 0, "{name}");
            assert_eq!(got.last().map_or(0, |c| c.end), sizes.len(), "{name}");
            assert!(got.windows(2).all(|w| w[0].end == w[1].start), "{name}");
            for call in &got {
                assert!(call.len() <= MAX_RECORDS_PER_CALL, "{name}");
                let bytes: usize = sizes[call.clone()].iter().sum();
                assert!(call.len() == 1 || bytes <= MAX_BYTES_PER_CALL, "{name}");
            }
        }
    }

    #[test]
    fn stream_arns() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("", None),
            (
                "arn:aws:firehose:eu-central-1:123456789012:deliverystream/",
                None,
            ),
            ("arn:aws:kinesis:eu-central-1:123456789012:stream/s", None),
            ("arn:aws:firehose::123456789012:deliverystream/s", None),
            ("xarn:aws:firehose:r:1:deliverystream/s", None),
            (
                "arn:aws:firehose:eu-central-1:123456789012:deliverystream/my-stream",
                Some(("my-stream", "eu-central-1")),
            ),
            (
                "arn:aws-cn:firehose:cn-north-1:123456789012:deliverystream/a:b",
                Some(("a:b", "cn-north-1")),
            ),
        ];
        for (arn, want) in cases {
            assert_eq!(parse_stream_arn(arn), *want, "{arn}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..40 {
            let full = FIRST_BACKOFF
                .saturating_mul(1u32 << attempt.min(16))
                .min(MAX_BACKOFF);
            let b = backoff(attempt);
            assert!(b >= full / 2 && b <= full, "{attempt}: {b:?}");
        }
        assert!(backoff(0) <= FIRST_BACKOFF);
        assert!(backoff(30) >= MAX_BACKOFF / 2);
    }
}
