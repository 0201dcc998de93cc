//! A whole Firehose invocation: request bytes in, response bytes out.
//!
//! * The request is parsed leniently with borrowed types of our own: one
//!   record with bad base64, an odd timestamp or unknown fields fails alone.
//!   (`aws_lambda_events` fails the whole request on one bad base64 `data`,
//!   and panics on a fractional `approximateArrivalTimestamp`.)
//! * Every record runs under `catch_unwind`, so a bug that panics on one
//!   record fails that record, not the batch.
//! * The response is written once, straight from the transformed records,
//!   and never exceeds [`Config::max_response_bytes`]: when the enriched
//!   records would not fit, the last `Ok` records become `ProcessingFailed`
//!   with reason `response_too_large`, so Firehose writes them, raw, to the
//!   error prefix. Nothing is lost, and nothing needs AWS credentials.

use crate::config::Config;
use crate::partition::{self, SiteGuard};
use crate::record::{self, DropReason, FailReason, Outcome, Scratch};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Standard alphabet, padding required, non-zero trailing bits rejected: the
/// same strictness as the `base64` crate's `STANDARD`, at several times its
/// speed (base64 is the largest fixed cost of a batch).
const BASE64: base64_simd::Base64 = base64_simd::STANDARD;

/// A request that cannot be answered record by record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Not a Firehose transformation request (not JSON, no `records`
    /// array, a record without a string `recordId`, or with two).
    Invalid(String),
    /// Even with every record failed, the response would exceed the limit.
    /// Firehose's own requests cannot cause this.
    ResponseTooLarge { bytes: usize, limit: usize },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Invalid(why) => write!(f, "not a Firehose transformation request: {why}"),
            RequestError::ResponseTooLarge { bytes, limit } => write!(
                f,
                "response of {bytes} bytes would exceed the {limit}-byte limit even with every record failed"
            ),
        }
    }
}

impl std::error::Error for RequestError {}

impl RequestError {
    /// The `errorType` reported to the Lambda runtime.
    pub fn error_type(&self) -> &'static str {
        match self {
            RequestError::Invalid(_) => "InvalidFirehoseRequest",
            RequestError::ResponseTooLarge { .. } => "ResponseTooLarge",
        }
    }
}

struct RequestIn<'a> {
    invocation_id: Option<&'a RawValue>,
    records: Vec<RecordIn<'a>>,
}

/// The request's members. Written out rather than derived so that member
/// names are read as bytes (see [`NameSeed`]), and so that only a JSON
/// object is accepted: a derived struct also takes an array of the field
/// values in order, which would let `[["id",0,"e30="]]` pass for a batch.
impl<'de: 'a, 'a> Deserialize<'de> for RequestIn<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, Visitor};
        struct Records<'a>(Vec<RecordIn<'a>>);
        impl<'de: 'a, 'a> Deserialize<'de> for Records<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Vec::deserialize(d).map(Records)
            }
        }
        struct RequestVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for RequestVisitor<'a> {
            type Value = RequestIn<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestIn<'a>, A::Error> {
                let mut invocation_id = None;
                let mut records = None;
                while let Some(name) = map.next_key_seed(NameSeed(|name| match name {
                    b"invocationId" => Some(0),
                    b"records" => Some(1),
                    _ => None,
                }))? {
                    match name {
                        Some(0) => {
                            if invocation_id.replace(map.next_value()?).is_some() {
                                return Err(A::Error::duplicate_field("invocationId"));
                            }
                        }
                        Some(_) => {
                            let Records(r) = map.next_value()?;
                            if records.replace(r).is_some() {
                                return Err(A::Error::duplicate_field("records"));
                            }
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RequestIn {
                    invocation_id,
                    records: records.ok_or_else(|| A::Error::missing_field("records"))?,
                })
            }
        }
        d.deserialize_map(RequestVisitor(std::marker::PhantomData))
    }
}

/// Reads a member name as bytes and gives the index of the name it equals,
/// if any. As bytes, because a name with a lone surrogate escape
/// (`"\ud800"`) is valid JSON text, and only not a Rust `str`: an unknown
/// member so named must not fail the request. The match is a function, so
/// that the names are matched as `match` does (by length first), not in
/// turn: this runs for every member of every record.
#[derive(Clone, Copy)]
struct NameSeed(fn(&[u8]) -> Option<usize>);

impl<'de> serde::de::DeserializeSeed<'de> for NameSeed {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl serde::de::Visitor<'_> for NameSeed {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Option<usize>, E> {
        Ok((self.0)(v))
    }
}

struct RecordIn<'a> {
    record_id: &'a RawValue,
    approximate_arrival_timestamp: Option<&'a RawValue>,
    /// The first `data`, echoed when the record fails.
    data: Option<&'a RawValue>,
    /// A member given twice fails the record: which value was meant cannot
    /// be known. The first one found, in the order the record is checked.
    duplicated: Option<FailReason>,
}

/// The members of a request record; the derived form would fail the whole
/// request on a duplicated one. A duplicated `recordId` still does: the
/// record could not be answered by its id.
impl<'de: 'a, 'a> Deserialize<'de> for RecordIn<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, Visitor};
        struct RecordVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for RecordVisitor<'a> {
            type Value = RecordIn<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordIn<'a>, A::Error> {
                let mut record_id = None;
                let mut arrival = None;
                let mut data = None;
                let (mut data_twice, mut arrival_twice) = (false, false);
                let names = NameSeed(|name| match name {
                    b"recordId" => Some(0),
                    b"approximateArrivalTimestamp" => Some(1),
                    b"data" => Some(2),
                    _ => None,
                });
                while let Some(name) = map.next_key_seed(names)? {
                    match name {
                        Some(0) => {
                            if record_id.replace(map.next_value()?).is_some() {
                                return Err(A::Error::duplicate_field("recordId"));
                            }
                        }
                        Some(1) => {
                            let value: &'a RawValue = map.next_value()?;
                            arrival_twice |= arrival.is_some();
                            arrival.get_or_insert(value);
                        }
                        Some(_) => {
                            let value: &'a RawValue = map.next_value()?;
                            data_twice |= data.is_some();
                            data.get_or_insert(value);
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let duplicated = if data_twice {
                    Some(FailReason::MissingData)
                } else if arrival_twice {
                    Some(FailReason::BadArrivalTime)
                } else {
                    None
                };
                Ok(RecordIn {
                    record_id: record_id.ok_or_else(|| A::Error::missing_field("recordId"))?,
                    approximate_arrival_timestamp: arrival,
                    data,
                    duplicated,
                })
            }
        }
        d.deserialize_map(RecordVisitor(std::marker::PhantomData))
    }
}

/// What happened in one batch: the numbers logs and metrics report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub invocation_id: Option<String>,
    pub records: usize,
    pub ok: usize,
    /// Counts by [`DropReason::ALL`] order.
    pub dropped: [usize; DropReason::ALL.len()],
    /// Counts by [`FailReason::ALL`] order.
    pub failed: [usize; FailReason::ALL.len()],
    /// `Ok` records partitioned as `site=other` by the cardinality guard.
    pub site_other: usize,
    /// Decoded bytes of all records.
    pub input_bytes: usize,
    /// Decoded bytes of all `Ok` output.
    pub output_bytes: usize,
    pub request_bytes: usize,
    pub response_bytes: usize,
    /// Each failed record's id and reason, in request order.
    pub failures: Vec<(String, FailReason)>,
}

impl BatchReport {
    pub fn dropped_total(&self) -> usize {
        self.dropped.iter().sum()
    }
    pub fn failed_total(&self) -> usize {
        self.failed.iter().sum()
    }
    pub fn failed_count(&self, reason: FailReason) -> usize {
        self.failed[reason as usize]
    }
    pub fn dropped_count(&self, reason: DropReason) -> usize {
        self.dropped[reason as usize]
    }
}

/// A processed batch.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The response JSON, ready to return to Firehose.
    pub response: Vec<u8>,
    pub report: BatchReport,
}

/// The per-record transform [`process_with`] applies; [`record::transform_into`]
/// in production.
pub type TransformFn = fn(&[u8], i64, &Config, &mut Scratch, &mut Vec<u8>) -> Outcome;

/// Processes one Firehose request.
pub fn process(request: &[u8], config: &Config) -> Result<Processed, RequestError> {
    process_with(request, config, record::transform_into)
}

/// One record's result, with everything the response needs.
struct Entry {
    outcome: Outcome,
    /// The output line in the arena (`Ok` only).
    output: Range<usize>,
    /// The `site` partition value (`Ok` only).
    site_key: SiteKey,
}

enum SiteKey {
    Arena(Range<usize>),
    Static(&'static str),
}

/// [`process`] with the per-record transform given, so tests can inject one
/// that panics.
pub fn process_with(
    request: &[u8],
    config: &Config,
    transform: TransformFn,
) -> Result<Processed, RequestError> {
    // Parsed from a `str` when the request is UTF-8 (it always is from
    // Lambda): serde_json then borrows each record's `data` without checking
    // its UTF-8 again, and one SIMD pass over the request is several times
    // cheaper than those checks. Otherwise from the bytes, which accepts
    // invalid UTF-8 inside strings the parser skips, as before.
    let parsed: RequestIn = match simdutf8::basic::from_utf8(request) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(request),
    }
    .map_err(|e| RequestError::Invalid(e.to_string()))?;
    let mut report = BatchReport {
        invocation_id: parsed.invocation_id.and_then(json_string),
        records: parsed.records.len(),
        request_bytes: request.len(),
        ..BatchReport::default()
    };
    for (i, r) in parsed.records.iter().enumerate() {
        if !r.record_id.get().starts_with('"') {
            return Err(RequestError::Invalid(format!(
                "records[{i}].recordId is not a string"
            )));
        }
    }

    // Pass 1: transform every record into one arena.
    let mut arena = Vec::with_capacity(request.len() + request.len() / 2);
    let mut decoded = Vec::new();
    let mut scratch = Scratch::default();
    let mut entries = Vec::with_capacity(parsed.records.len());
    for r in &parsed.records {
        let mark = arena.len();
        let outcome = transform_one(
            r,
            config,
            transform,
            &mut decoded,
            &mut scratch,
            &mut arena,
            &mut report,
        );
        let (output, site_key) = match &outcome {
            Outcome::Ok(e) => {
                let site = std::str::from_utf8(&arena[e.site.clone()]).unwrap_or("");
                let key = match partition::site_value(site) {
                    partition::UNKNOWN => SiteKey::Static(partition::UNKNOWN),
                    _ => SiteKey::Arena(e.site.clone()),
                };
                (mark..arena.len(), key)
            }
            _ => (0..0, SiteKey::Static(partition::UNKNOWN)),
        };
        entries.push(Entry {
            outcome,
            output,
            site_key,
        });
    }

    // Pass 2: the partition cardinality guard, in record order.
    let mut guard = SiteGuard::new(config.site_allowlist.as_ref(), config.max_sites_per_batch);
    for e in &mut entries {
        if let SiteKey::Arena(range) = &e.site_key {
            let site = std::str::from_utf8(&arena[range.clone()]).unwrap_or(partition::UNKNOWN);
            if guard.admit(site).1 {
                e.site_key = SiteKey::Static(partition::OTHER);
                report.site_other += 1;
            }
        }
    }

    // Pass 3: write the response, then fit it into the limit.
    let mut response = Vec::with_capacity(arena.len() / 3 * 4 + parsed.records.len() * 128 + 64);
    response.extend_from_slice(b"{\"records\":[");
    let mut starts = Vec::with_capacity(entries.len());
    for (i, (e, r)) in entries.iter().zip(&parsed.records).enumerate() {
        starts.push(response.len());
        if i > 0 {
            response.push(b',');
        }
        write_entry(&mut response, e, r, &arena);
    }
    const FOOTER: &[u8] = b"]}";
    let limit = config.max_response_bytes;
    if response.len() + FOOTER.len() > limit {
        fit(
            &mut response,
            &mut entries,
            &parsed.records,
            &starts,
            limit - FOOTER.len().min(limit),
            &mut report,
        )?;
    }
    response.extend_from_slice(FOOTER);

    for (e, r) in entries.iter().zip(&parsed.records) {
        match e.outcome {
            Outcome::Ok(_) => {
                report.ok += 1;
                report.output_bytes += e.output.len();
            }
            Outcome::Dropped(reason) => report.dropped[reason as usize] += 1,
            Outcome::Failed(reason) => {
                report.failed[reason as usize] += 1;
                report
                    .failures
                    .push((json_string(r.record_id).unwrap_or_default(), reason));
            }
        }
    }
    report.response_bytes = response.len();
    Ok(Processed { response, report })
}

/// Decodes and transforms one request record.
fn transform_one(
    r: &RecordIn,
    config: &Config,
    transform: TransformFn,
    decoded: &mut Vec<u8>,
    scratch: &mut Scratch,
    arena: &mut Vec<u8>,
    report: &mut BatchReport,
) -> Outcome {
    if let Some(reason) = r.duplicated {
        return Outcome::Failed(reason);
    }
    if let Err(reason) = decode_data(r.data, decoded) {
        return Outcome::Failed(reason);
    }
    report.input_bytes += decoded.len();
    let Some(arrival) = r
        .approximate_arrival_timestamp
        .and_then(|raw| arrival_millis(raw.get()))
    else {
        return Outcome::Failed(FailReason::BadArrivalTime);
    };
    let mark = arena.len();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        transform(decoded, arrival, config, scratch, arena)
    }));
    match outcome {
        Ok(outcome) => {
            if !matches!(outcome, Outcome::Ok(_)) {
                arena.truncate(mark);
            }
            outcome
        }
        Err(_) => {
            arena.truncate(mark);
            *scratch = Scratch::default();
            Outcome::Failed(FailReason::InternalError)
        }
    }
}

/// `approximateArrivalTimestamp` in epoch milliseconds. Firehose sends an
/// integer; fractions (which panic `aws_lambda_events`) are floored, exactly,
/// and a numeric string, as the console's sample event has, is read too.
fn arrival_millis(raw: &str) -> Option<i64> {
    let s = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(raw);
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    crate::time::parse_millis(s.strip_prefix('+').unwrap_or(s))
}

/// Decodes a record's `data` into `decoded`.
fn decode_data(data: Option<&RawValue>, decoded: &mut Vec<u8>) -> Result<(), FailReason> {
    let raw = data.ok_or(FailReason::MissingData)?;
    let inner = raw
        .get()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or(FailReason::MissingData)?;
    decoded.clear();
    if BASE64.decode_append(inner, decoded).is_ok() {
        return Ok(());
    }
    // Base64 text holds no backslash, so only a string with JSON escapes in
    // it (`\/`, `\u0041`) can still be valid once unescaped. Looking for
    // them only after a failed decode keeps that scan off the hot path.
    if !inner.contains('\\') {
        return Err(FailReason::BadBase64);
    }
    let unescaped = crate::time::json_string(raw.get()).ok_or(FailReason::MissingData)?;
    decoded.clear();
    BASE64
        .decode_append(unescaped.as_bytes(), decoded)
        .map_err(|_| FailReason::BadBase64)
}

fn json_string(raw: &RawValue) -> Option<String> {
    crate::time::json_string(raw.get()).map(|s| s.into_owned())
}

fn write_entry(out: &mut Vec<u8>, e: &Entry, r: &RecordIn, arena: &[u8]) {
    out.extend_from_slice(b"{\"recordId\":");
    // The id's JSON text as it came, so the response can never disagree with
    // the request on it.
    out.extend_from_slice(r.record_id.get().as_bytes());
    match &e.outcome {
        Outcome::Ok(enriched) => {
            out.extend_from_slice(b",\"result\":\"Ok\",\"data\":\"");
            BASE64.encode_append(&arena[e.output.clone()], out);
            out.extend_from_slice(b"\",\"metadata\":{\"partitionKeys\":{\"site\":\"");
            match &e.site_key {
                SiteKey::Arena(range) => out.extend_from_slice(&arena[range.clone()]),
                SiteKey::Static(s) => out.extend_from_slice(s.as_bytes()),
            }
            out.extend_from_slice(b"\",\"dt\":\"");
            out.extend_from_slice(enriched.event_time.date().as_bytes());
            out.extend_from_slice(b"\",\"hour\":\"");
            out.extend_from_slice(enriched.event_time.hour().as_bytes());
            out.extend_from_slice(b"\"}}}");
        }
        // Dropped and failed records carry no partition keys, and Dropped
        // ones carry empty data: Firehose discards the one and writes the
        // original bytes of the other to the error prefix. (The status-model
        // docs list `data` as required, so it is present, if empty.) Keeping
        // them small is what lets an over-limit response always be fitted.
        Outcome::Dropped(_) => out.extend_from_slice(b",\"result\":\"Dropped\",\"data\":\"\"}"),
        Outcome::Failed(_) => {
            out.extend_from_slice(b",\"result\":\"ProcessingFailed\",\"data\":");
            // The data exactly as it came: byte-identical, even when it is
            // not valid base64.
            match r.data.filter(|d| d.get().starts_with('"')) {
                Some(d) => out.extend_from_slice(d.get().as_bytes()),
                None => out.extend_from_slice(b"\"\""),
            }
            out.push(b'}');
        }
    }
}

/// Makes the response fit in `limit` bytes (footer excluded) by failing the
/// fewest `Ok` records from the end of the batch: records keep their order,
/// and the earliest ones are delivered.
fn fit(
    response: &mut Vec<u8>,
    entries: &mut [Entry],
    records: &[RecordIn],
    starts: &[usize],
    limit: usize,
    report: &mut BatchReport,
) -> Result<(), RequestError> {
    let n = entries.len();
    // suffix[k]: the size of entries k.. if every Ok among them failed.
    let mut suffix = vec![0usize; n + 1];
    let mut tmp = Vec::new();
    let empty = Vec::new();
    for k in (0..n).rev() {
        tmp.clear();
        if k > 0 {
            tmp.push(b',');
        }
        let demoted = demote(&entries[k]);
        write_entry(
            &mut tmp,
            demoted.as_ref().unwrap_or(&entries[k]),
            &records[k],
            &empty,
        );
        suffix[k] = suffix[k + 1] + tmp.len();
    }
    let k = (0..=n)
        .rev()
        .find(|&k| starts.get(k).copied().unwrap_or(response.len()) + suffix[k] <= limit)
        .ok_or(RequestError::ResponseTooLarge {
            bytes: starts.first().copied().unwrap_or(0) + suffix[0],
            limit,
        })?;
    response.truncate(starts.get(k).copied().unwrap_or(response.len()));
    for (i, e) in entries.iter_mut().enumerate().skip(k) {
        if let Some(d) = demote(e) {
            *e = d;
            if let SiteKey::Static(partition::OTHER) = e.site_key {
                report.site_other -= 1;
            }
        }
        if i > 0 {
            response.push(b',');
        }
        write_entry(response, e, &records[i], &empty);
    }
    Ok(())
}

/// The failed form of an `Ok` entry; `None` for other outcomes.
fn demote(e: &Entry) -> Option<Entry> {
    match e.outcome {
        Outcome::Ok(_) => Some(Entry {
            outcome: Outcome::Failed(FailReason::ResponseTooLarge),
            output: 0..0,
            site_key: match &e.site_key {
                SiteKey::Static(s) => SiteKey::Static(s),
                SiteKey::Arena(_) => SiteKey::Static(partition::UNKNOWN),
            },
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_times_floor_exactly() {
        let cases: &[(&str, Option<i64>)] = &[
            // --- edge cases ---
            ("1518352200000.99999999", Some(1_518_352_200_000)), // f64 rounds up
            ("\"1518352200000.99999999\"", Some(1_518_352_200_000)),
            (
                "1518352200000.9999999999999999999999999999999999",
                Some(1_518_352_200_000),
            ),
            ("-1.5", Some(-2)),
            ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", None),
            ("1e300", None),
            ("NaN", None),
            ("\"soon\"", None),
            ("{}", None),
            // --- what Firehose and the console send ---
            ("1518352200000", Some(1_518_352_200_000)),
            ("\"1518352200000\"", Some(1_518_352_200_000)),
            ("1518352200000.75", Some(1_518_352_200_000)),
            ("1.5183522e12", Some(1_518_352_200_000)),
            ("+1518352200000", Some(1_518_352_200_000)),
        ];
        for (raw, want) in cases {
            assert_eq!(arrival_millis(raw), *want, "raw {raw}");
        }
    }
}
