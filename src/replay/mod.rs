//! Replay and backfill: running events through the transform and laying the
//! results out as Firehose would in S3.
//!
//! Pure:
//!
//! * [`split`]: a byte stream (newline-delimited, concatenated or
//!   pretty-printed JSON) into events;
//! * [`invoke_batch`]: a group of events through [`batch::process_decoded`], the
//!   batch path the Lambda uses ([`batch::process`]) minus the request's and
//!   response's JSON and base64;
//! * [`prefix`]: Firehose's prefix expressions;
//! * [`layout`]: the layouts of `template.yaml`;
//! * [`object_name`], [`error_record`], [`arrival_from_event`]: Firehose's
//!   object names and error documents, and the event's own time;
//! * [`redrive`]: the events inside Firehose's own documents.
//!
//! With IO, the adapter layer that `replay`, `sizing`, `schema` and a local
//! collector share:
//! * [`input`]: walking folders, reading and un-gzipping files into events;
//! * [`sink`]: the destination's layout, the per-prefix [`sink::Writer`],
//!   writing objects, and [`sink::Sink`] for events that arrive over time;
//! * [`pipeline`]: replay of files on several threads, the same output for
//!   any number; [`summary`]: what it prints.

pub mod input;
pub mod layout;
pub mod pipeline;
pub mod prefix;
pub mod redrive;
pub mod sink;
pub mod split;
pub mod summary;

use crate::batch::{self, RequestError};
pub use crate::batch::{Answer, DecodedBatch};
use crate::config::Config;
use crate::time;
use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// 64-bit FNV-1a followed by a SplitMix64 finalizer. Random strings
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
///
/// XXH3-128 over each part after its length (so that part boundaries
/// count): its output is fixed by its specification, the same on every
/// platform and release, and it reads several GB/s, where [`hash64`], a byte
/// at a time, took a sixth of replay's time over every byte of every object.
pub fn object_id(parts: &[&[u8]]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let hex = format!("{:032x}", h.digest128());
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
    let top: Members = serde_json::from_slice(event).ok()?;
    config
        .time_fields
        .iter()
        .find_map(|path| {
            let mut raw: &RawValue = top.get(config.top_keys.get(path.top)?.as_bytes())?;
            for segment in &path.nested {
                let inner: Members = serde_json::from_str(raw.get()).ok()?;
                raw = inner.get(segment.as_bytes())?;
            }
            (raw.get() != "null").then_some(raw)
        })
        .and_then(|raw| time::parse_json_time(raw.get(), now_ms))
        .map(|t| t.ms)
        .filter(|&ms| time::format_millis(ms).is_some())
}

/// An object's members in order, names as bytes and borrowed when they hold
/// no escape: this runs for every replayed event, and a map with owned keys
/// cost an allocation per member.
struct Members<'a>(Vec<(Cow<'a, [u8]>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The value of the last member so named, as a map keeps it.
    fn get(&self, name: &[u8]) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members<'a>, A::Error> {
                let mut members = Vec::new();
                while let Some(Key(name)) = map.next_key()? {
                    members.push((name, map.next_value()?));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A member name as bytes: a key with a lone surrogate escape (`"\ud800"`)
/// is valid JSON text, which the transform accepts, but no Rust `String`.
struct Key<'a>(Cow<'a, [u8]>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Bytes<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v.to_vec())))
            }
        }
        d.deserialize_bytes(Bytes(std::marker::PhantomData))
    }
}

/// One event on its way into a batch.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub data: &'a [u8],
    pub arrival_ms: i64,
}

/// Runs `events` through the function as one invocation: the answers
/// [`batch::process`] gives the request Firehose would send for them (record
/// ids their indexes), from [`batch::process_decoded`], which skips encoding
/// each event to base64 and decoding the response. The output lines stay in
/// the batch's arena.
pub fn invoke_batch(events: &[Event], config: &Config) -> Result<DecodedBatch, InvokeError> {
    let decoded: Vec<batch::Decoded> = events
        .iter()
        .map(|e| batch::Decoded {
            data: e.data,
            arrival_ms: e.arrival_ms,
        })
        .collect();
    batch::process_decoded(&decoded, config).map_err(InvokeError::Request)
}

/// A batch the function could not answer record by record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function rejected the whole request: only a single event over
    /// the response limit can cause this.
    Request(RequestError),
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::Request(e) => write!(f, "the function rejected the batch: {e}"),
        }
    }
}

impl std::error::Error for InvokeError {}

#[cfg(test)]
mod tests;
