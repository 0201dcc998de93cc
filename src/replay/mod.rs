//! Replay and backfill: the pure parts of running files of events through the
//! transform and laying the results out as Firehose would in S3.
//!
//! * [`split`]: a byte stream (newline-delimited, concatenated or
//!   pretty-printed JSON) into events;
//! * [`invoke`]: a group of events through [`batch::process`], the one
//!   transformation path the Lambda uses, and its response back into records;
//! * [`prefix`]: Firehose's prefix expressions;
//! * [`layout`]: the layouts of `template.yaml`;
//! * [`object_name`], [`error_record`], [`arrival_from_event`]: Firehose's
//!   object names and error documents, and the event's own time.
//!
//! The file walking, decompression and writing live in the CLI adapter.

pub mod layout;
pub mod prefix;
pub mod redrive;
pub mod split;

use crate::batch::{self, BatchReport, RequestError};
use crate::config::Config;
use crate::partition::PartitionKeys;
use crate::record::FailReason;
use crate::time;
use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt::Write;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// 64-bit FNV-1a followed by a SplitMix64 finalizer. Ids and random strings
/// need to be deterministic (re-running replay rewrites the same objects)
/// and stable across Rust releases, which `std`'s `DefaultHasher` does not
/// promise; they need no cryptographic strength.
pub(crate) fn hash64(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A UUID-shaped id (`8-4-4-4-12` hex digits) derived from `parts`: the same
/// parts give the same id, so a re-run overwrites rather than duplicates.
pub fn object_id(parts: &[&[u8]]) -> String {
    let mut a = 0u64;
    let mut b = 0u64;
    for (i, p) in parts.iter().enumerate() {
        a = hash64(p, a ^ i as u64);
        b = hash64(p, b.rotate_left(17) ^ 0x5bd1_e995 ^ i as u64);
    }
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Firehose's object name (the part after the prefix):
/// `<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<id>`, plus `.gz` for GZIP. The
/// time is that of the object's oldest record, in UTC.
pub fn object_name(stream: &str, version: u32, time_ms: i64, id: &str, gzip: bool) -> String {
    let t = chrono::DateTime::from_timestamp_millis(time_ms).unwrap_or_default();
    let mut name = format!("{stream}-{version}-{}-{id}", t.format("%Y-%m-%d-%H-%M-%S"));
    if gzip {
        name.push_str(".gz");
    }
    name
}

/// The error code Firehose writes for a record the function returned as
/// `ProcessingFailed`.
pub const PROCESSING_FAILED_CODE: &str = "Lambda.ProcessingFailedStatus";

/// One failed record, as Firehose writes it under
/// `!{firehose:error-output-type}` = `processing-failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRecord<'a> {
    pub attempts_made: u32,
    pub arrival_ms: i64,
    pub error_code: &'a str,
    /// Firehose writes a generic message here, since a Lambda cannot attach a
    /// reason to a record. Replay knows the reason, and writes its code
    /// (`not_json`, …), so that the error output can be grouped by it.
    pub error_message: &'a str,
    pub attempt_ending_ms: i64,
    /// The record's original bytes.
    pub raw: &'a [u8],
    pub lambda_arn: &'a str,
}

/// Appends `record` as one JSON document and a newline: Firehose's error
/// output is one document per line.
pub fn error_record(out: &mut Vec<u8>, record: &ErrorRecord) {
    // A struct rather than `json!`, to keep Firehose's field order.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Doc<'a> {
        attempts_made: u32,
        arrival_timestamp: i64,
        error_code: &'a str,
        error_message: &'a str,
        attempt_ending_timestamp: i64,
        raw_data: String,
        lambda_arn: &'a str,
    }
    let doc = Doc {
        attempts_made: record.attempts_made,
        arrival_timestamp: record.arrival_ms,
        error_code: record.error_code,
        error_message: record.error_message,
        attempt_ending_timestamp: record.attempt_ending_ms,
        raw_data: BASE64.encode(record.raw),
        lambda_arn: record.lambda_arn,
    };
    // Strings and integers always serialize.
    let _ = serde_json::to_writer(&mut *out, &doc);
    out.push(b'\n');
}

/// The event's own time, read as the transform reads it: the first present,
/// non-null field of `TIME_FIELDS`, parsed by [`time::parse_json_time`].
/// `None` when there is none, it does not parse, or it cannot be formatted as
/// a TIMESTAMP (so it could not be an arrival time either).
///
/// `now_ms` dates RFC 850's two-digit years, as the arrival time does in
/// the transform.
///
/// Backfill uses it as the arrival time: the transform's skew guard
/// (`MAX_AGE`, `MAX_FUTURE`) compares the event time with the arrival time,
/// and a 2018 event that "arrived" in 2018 keeps its date.
pub fn arrival_from_event(event: &[u8], config: &Config, now_ms: i64) -> Option<i64> {
    let top: HashMap<Key, &RawValue> = serde_json::from_slice(event).ok()?;
    config
        .time_fields
        .iter()
        .find_map(|path| {
            let mut raw: &RawValue = top.get(config.top_keys.get(path.top)?.as_bytes())?;
            for segment in &path.nested {
                let inner: HashMap<Key, &RawValue> = serde_json::from_str(raw.get()).ok()?;
                raw = inner.get(segment.as_bytes())?;
            }
            (raw.get() != "null").then_some(raw)
        })
        .and_then(|raw| time::parse_json_time(raw.get(), now_ms))
        .map(|t| t.ms)
        .filter(|&ms| time::format_millis(ms).is_some())
}

/// A member name as bytes: a key with a lone surrogate escape (`"\ud800"`)
/// is valid JSON text, which the transform accepts, but no Rust `String`.
#[derive(PartialEq, Eq, Hash)]
struct Key(Vec<u8>);

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Key, E> {
                Ok(Key(v.to_vec()))
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

/// One event on its way into a batch.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub data: &'a [u8],
    pub arrival_ms: i64,
}

/// What the function made of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The enriched line (ending in `\n`) and its partition keys.
    Ok {
        line: Vec<u8>,
        keys: PartitionKeys,
    },
    Dropped,
    Failed(FailReason),
}

/// A Firehose transformation request for `events`; record ids are their
/// indexes.
pub fn request(events: &[Event], invocation_id: &str) -> Vec<u8> {
    let size: usize = events.iter().map(|e| e.data.len() / 3 * 4 + 80).sum();
    let mut out = Vec::with_capacity(size + 256);
    out.extend_from_slice(b"{\"invocationId\":");
    let _ = serde_json::to_writer(&mut out, invocation_id);
    out.extend_from_slice(
        b",\"deliveryStreamArn\":\"arn:aws:firehose:local:000000000000:deliverystream/replay\",\"region\":\"local\",\"records\":[",
    );
    let mut text = String::new();
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        text.clear();
        let _ = write!(
            text,
            "{{\"recordId\":\"{i}\",\"approximateArrivalTimestamp\":{},\"data\":\"",
            e.arrival_ms
        );
        out.extend_from_slice(text.as_bytes());
        let at = out.len();
        out.resize(at + base64::encoded_len(e.data.len(), true).unwrap_or(0), 0);
        let n = BASE64.encode_slice(e.data, &mut out[at..]).unwrap_or(0);
        out.truncate(at + n);
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}");
    out
}

#[derive(Deserialize)]
struct ResponseIn {
    records: Vec<ResponseRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseRecord {
    record_id: String,
    result: String,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    partition_keys: HashMap<String, String>,
}

/// A batch the function answered.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// One outcome per event, in order.
    pub outcomes: Vec<Outcome>,
    pub report: BatchReport,
}

/// Runs `events` through [`batch::process`] exactly as Firehose would invoke
/// the function, and reads its response back, checking it the way Firehose
/// does (one record per request record, same ids, known results).
pub fn invoke(
    events: &[Event],
    invocation_id: &str,
    config: &Config,
) -> Result<Invoked, InvokeError> {
    let processed =
        batch::process(&request(events, invocation_id), config).map_err(InvokeError::Request)?;
    let response: ResponseIn = serde_json::from_slice(processed.response.as_bytes())
        .map_err(|e| InvokeError::Response(format!("not JSON: {e}")))?;
    if response.records.len() != events.len() {
        return Err(InvokeError::Response(format!(
            "{} records for {} in the request",
            response.records.len(),
            events.len()
        )));
    }
    let reasons: HashMap<&str, FailReason> = processed
        .report
        .failures
        .iter()
        .map(|(id, reason)| (id.as_str(), *reason))
        .collect();
    let mut outcomes = Vec::with_capacity(events.len());
    for (i, r) in response.records.into_iter().enumerate() {
        if r.record_id != i.to_string() {
            return Err(InvokeError::Response(format!(
                "record {i} has id {:?}",
                r.record_id
            )));
        }
        outcomes.push(match r.result.as_str() {
            "Ok" => {
                let line = r
                    .data
                    .and_then(|d| BASE64.decode(d).ok())
                    .ok_or_else(|| InvokeError::Response(format!("record {i}: bad data")))?;
                let mut keys = r.metadata.map(|m| m.partition_keys).unwrap_or_default();
                let mut take = |k: &str| {
                    keys.remove(k).ok_or_else(|| {
                        InvokeError::Response(format!("record {i}: no partition key {k}"))
                    })
                };
                let keys = PartitionKeys {
                    site: take("site")?,
                    dt: take("dt")?,
                    hour: take("hour")?,
                };
                Outcome::Ok { line, keys }
            }
            "Dropped" => Outcome::Dropped,
            "ProcessingFailed" => Outcome::Failed(
                reasons
                    .get(r.record_id.as_str())
                    .copied()
                    .unwrap_or(FailReason::InternalError),
            ),
            other => {
                return Err(InvokeError::Response(format!(
                    "record {i}: unknown result {other:?}"
                )))
            }
        });
    }
    Ok(Invoked {
        outcomes,
        report: processed.report,
    })
}

/// A batch the function could not answer record by record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function rejected the whole request (replay built it, so this is
    /// a bug, or a single event over the response limit).
    Request(RequestError),
    /// The response breaks Firehose's contract.
    Response(String),
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::Request(e) => write!(f, "the function rejected the batch: {e}"),
            InvokeError::Response(why) => write!(f, "the function's response is invalid: {why}"),
        }
    }
}

impl std::error::Error for InvokeError {}

#[cfg(test)]
mod tests;
