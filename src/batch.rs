//! A whole Firehose invocation: request bytes in, response bytes out.
//!
//! * The request is parsed leniently with borrowed types of our own: one
//!   record with bad base64, an odd timestamp or unknown fields fails alone.
//!   (`aws_lambda_events` fails the whole request on one bad base64 `data`,
//!   and panics on a fractional `approximateArrivalTimestamp`.)
//! * Every record runs under `catch_unwind`, so a bug that panics on one
//!   record fails that record, not the batch.
//! * The response is written once, straight from the transformed records,
//!   and never exceeds [`Config::max_response_bytes`]. When the enriched
//!   records would not fit, the last `Ok` records are the overflow, answered
//!   as [`Overflow`] says: `Dropped` and listed with their decoded bytes for
//!   the Lambda adapter to re-send to the delivery stream (AWS's blueprint
//!   behaviour), or `ProcessingFailed` with reason `response_too_large`, so
//!   Firehose writes them, raw, to the error prefix. [`settle`] answers the
//!   re-sends that failed the second way. The core itself never calls AWS.

use crate::config::Config;
use crate::partition::{self, PartitionKeys, SiteGuard};
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
    /// Where overflow is re-sent (re-ingestion).
    delivery_stream_arn: Option<&'a RawValue>,
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
                let mut delivery_stream_arn = None;
                let mut records = None;
                while let Some(name) = map.next_key_seed(NameSeed(|name| match name {
                    b"invocationId" => Some(0),
                    b"records" => Some(1),
                    b"deliveryStreamArn" => Some(2),
                    _ => None,
                }))? {
                    match name {
                        Some(0) => {
                            if invocation_id.replace(map.next_value()?).is_some() {
                                return Err(A::Error::duplicate_field("invocationId"));
                            }
                        }
                        Some(2) => {
                            if delivery_stream_arn.replace(map.next_value()?).is_some() {
                                return Err(A::Error::duplicate_field("deliveryStreamArn"));
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
                    delivery_stream_arn,
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

impl<'de> serde::de::Visitor<'de> for NameSeed {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    /// A name with no escape, as it is in the request: UTF-8 with no
    /// control character, as JSON text requires of every string (serde_json
    /// checks string values so; read as bytes, a name is checked here).
    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Option<usize>, E> {
        if v.iter().any(|&b| b < 0x20) {
            return Err(E::custom("a member name holds a control character"));
        }
        match std::str::from_utf8(v) {
            Ok(_) => Ok((self.0)(v)),
            Err(_) => Err(E::custom("a member name is not UTF-8")),
        }
    }
    /// A name with escapes, unescaped: a lone surrogate escape comes out
    /// as its three-byte form, which is not UTF-8 but is valid JSON text;
    /// any other byte that is not UTF-8 was in the request as it is. An
    /// escaped control character (`\u0001`) is valid and looks, once
    /// unescaped, like a raw one, so a raw one next to an escape passes.
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Option<usize>, E> {
        if utf8_but_surrogates(v) {
            Ok((self.0)(v))
        } else {
            Err(E::custom("a member name is not UTF-8"))
        }
    }
}

/// Whether bytes are UTF-8 where a surrogate code point (U+D800 to U+DFFF,
/// `ED A0..BF 80..BF`) may stand too: what serde_json makes of a string
/// whose lone surrogate escapes it was asked not to reject.
fn utf8_but_surrogates(mut v: &[u8]) -> bool {
    loop {
        match std::str::from_utf8(v) {
            Ok(_) => return true,
            Err(e) => match v[e.valid_up_to()..] {
                [0xed, 0xa0..=0xbf, 0x80..=0xbf, ..] => v = &v[e.valid_up_to() + 3..],
                _ => return false,
            },
        }
    }
}

struct RecordIn<'a> {
    record_id: &'a RawValue,
    approximate_arrival_timestamp: Option<&'a RawValue>,
    /// The last `data`, echoed when the record fails.
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
                            // The last one is kept, and echoed when the
                            // record fails: JSON parsers that accept a
                            // duplicated member (serde_json's `Value`,
                            // JavaScript's `JSON.parse`) keep the last.
                            let value: &'a RawValue = map.next_value()?;
                            data_twice |= data.replace(value).is_some();
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
    /// The stream that invoked us, where overflow is re-sent.
    pub delivery_stream_arn: Option<String>,
    pub records: usize,
    pub ok: usize,
    /// Counts by [`DropReason::ALL`] order.
    pub dropped: [usize; DropReason::ALL.len()],
    /// Counts by [`FailReason::ALL`] order.
    pub failed: [usize; FailReason::ALL.len()],
    /// `Ok` records partitioned as `site=other` by the cardinality guard.
    pub site_other: usize,
    /// `Ok` records with members moved into `extra` (`COLUMNS` set).
    pub moved_to_extra: usize,
    /// Decoded bytes of all records.
    pub input_bytes: usize,
    /// Decoded bytes of all `Ok` output.
    pub output_bytes: usize,
    pub request_bytes: usize,
    pub response_bytes: usize,
    /// Each failed record's id and reason, in request order.
    pub failures: Vec<(String, FailReason)>,
    /// `Ok` records that did not fit in the response. With
    /// [`Overflow::Reingest`], those answered `Dropped` to be re-sent; with
    /// [`Overflow::Fail`], how many re-ingestion would have re-sent (its
    /// `Dropped` answers are smaller, so fewer records overflow).
    pub overflow: usize,
    /// Records answered `Dropped` because they are re-sent to the stream.
    pub reingested: usize,
    /// Overflow records whose re-send failed: `ProcessingFailed`
    /// (`response_too_large`), data echoed.
    pub reingest_failed: usize,
    /// `IP_FIELDS` values of `Ok` records that `ANONYMIZE_IP` left as they
    /// were because they are not IP addresses.
    pub not_anonymized: usize,
    /// Records the consent enricher read, by status and invalid reason
    /// (counted as transformed: an overflow record re-sent to the stream is
    /// counted again when it comes back).
    pub consent: crate::enrich::consent::Counts,
}

impl BatchReport {
    /// Every `Dropped` answer: by reason, and for re-ingestion.
    pub fn dropped_total(&self) -> usize {
        self.dropped.iter().sum::<usize>() + self.reingested
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
    pub response: String,
    pub report: BatchReport,
    /// With [`Overflow::Reingest`]: the records answered `Dropped` because
    /// they did not fit, in request order, for the adapter to re-send.
    pub reingest: Vec<Resend>,
}

/// An overflow record to re-send to the delivery stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resend {
    /// Its position in the request's `records`.
    pub index: usize,
    /// Its original data, decoded: Firehose brings it back in a later batch,
    /// where it is enriched like any other record.
    pub data: Vec<u8>,
}

/// How the `Ok` records that do not fit in the response are answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overflow {
    /// `ProcessingFailed` (`response_too_large`) with the data echoed:
    /// Firehose writes them to the error prefix. What `invoke`, `bench` and
    /// `replay` answer, and the Lambda with `REINGEST_OVERFLOW=false`.
    #[default]
    Fail,
    /// `Dropped`, listed in [`Processed::reingest`]. A `Dropped` answer is
    /// about 50 bytes where a failed one echoes the record's base64, so far
    /// fewer records overflow.
    Reingest,
}

/// The per-record transform [`process_with`] applies; [`record::transform_into`]
/// in production.
pub type TransformFn = fn(&[u8], i64, &Config, &mut Scratch, &mut Vec<u8>) -> Outcome;

/// The floor of a batch, for `bench --floor`: [`process_with`] this
/// transform parses the request, decodes every record, writes the response
/// (base64 again, partition keys) and fits it, as [`process`] does, but
/// without the per-record work: each record's decoded bytes are its output,
/// `Ok`, with site `unknown` and the arrival time's `dt` and `hour`. What
/// [`process`] costs above it is what the transform costs.
pub fn echo_into(
    data: &[u8],
    arrival_ms: i64,
    _config: &Config,
    _scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Outcome {
    let Some(event_time) = crate::time::format_millis(arrival_ms) else {
        return Outcome::Failed(FailReason::BadArrivalTime);
    };
    out.extend_from_slice(data);
    let end = out.len();
    Outcome::Ok(record::Enriched {
        site: end..end,
        event_time,
        moved_to_extra: false,
        not_ip: 0,
    })
}

/// Processes one Firehose request; overflow fails ([`Overflow::Fail`]).
pub fn process(request: &[u8], config: &Config) -> Result<Processed, RequestError> {
    process_with(request, config, record::transform_into)
}

/// Processes one Firehose request, answering overflow as `overflow` says.
pub fn process_overflow(
    request: &[u8],
    config: &Config,
    overflow: Overflow,
) -> Result<Processed, RequestError> {
    let plan = Plan {
        overflow,
        ..Plan::default()
    };
    run(request, config, record::transform_into, &plan)
}

/// The final answer once the adapter has tried to re-send a
/// [`Overflow::Reingest`] batch's overflow: the records of `resent` stay
/// `Dropped`; those of `unsent` (request positions) become
/// `ProcessingFailed` with their data echoed, so nothing is lost. Echoing
/// is larger than dropping, so more `Ok` records from the end may have to
/// fail too; they go the same way.
///
/// The batch is transformed again (the transform is pure, so every other
/// record answers as before): this runs only when a re-send failed.
pub fn settle(
    request: &[u8],
    config: &Config,
    resent: &[usize],
    unsent: &[usize],
) -> Result<Processed, RequestError> {
    let plan = Plan {
        overflow: Overflow::Fail,
        resent,
        unsent,
    };
    run(request, config, record::transform_into, &plan)
}

/// What [`run`] is asked to do beyond the transform.
#[derive(Default)]
struct Plan<'p> {
    overflow: Overflow,
    /// Request positions answered `Dropped`: already re-sent.
    resent: &'p [usize],
    /// Request positions answered `ProcessingFailed`: re-sending failed.
    unsent: &'p [usize],
}

/// One record's result, with everything the response needs.
struct Entry {
    /// `Dropped` for re-ingestion: answered so whatever `outcome` says.
    resend: bool,
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

impl SiteKey {
    /// The `site` partition value. The transform writes the site as UTF-8
    /// text, so the arena's bytes always read as one.
    fn text<'a>(&'a self, arena: &'a [u8]) -> &'a str {
        match self {
            SiteKey::Arena(range) => {
                std::str::from_utf8(&arena[range.clone()]).unwrap_or(partition::UNKNOWN)
            }
            SiteKey::Static(s) => s,
        }
    }
}

/// [`process`] with the per-record transform given, so tests can inject one
/// that panics.
pub fn process_with(
    request: &[u8],
    config: &Config,
    transform: TransformFn,
) -> Result<Processed, RequestError> {
    run(request, config, transform, &Plan::default())
}

fn run(
    request: &[u8],
    config: &Config,
    transform: TransformFn,
    plan: &Plan,
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
        delivery_stream_arn: parsed.delivery_stream_arn.and_then(json_string),
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
    let echoes: Vec<Echo> = parsed.records.iter().map(Echo::Request).collect();

    // Pass 1: transform every record into one arena.
    let mut pass = Pass::new(config, transform, request.len() + request.len() / 2);
    let mut decoded = Vec::new();
    let mut forced = vec![None; parsed.records.len()];
    for &i in plan.resent {
        if let Some(f) = forced.get_mut(i) {
            *f = Some(true);
        }
    }
    for &i in plan.unsent {
        if let Some(f) = forced.get_mut(i) {
            *f = Some(false);
        }
    }
    for (r, forced) in parsed.records.iter().zip(&forced) {
        match forced {
            None => match checked(r, &mut decoded, &mut report) {
                Ok(arrival) => pass.transform(&decoded, arrival, &mut report),
                Err(reason) => pass.push(pass.arena.len(), Outcome::Failed(reason), false),
            },
            // Re-sent or not, these records' answers are already decided.
            Some(resent) => {
                if decode_data(r.data, &mut decoded).is_ok() {
                    report.input_bytes += decoded.len();
                }
                if *resent {
                    report.reingested += 1;
                } else {
                    report.reingest_failed += 1;
                }
                report.overflow += 1;
                let mark = pass.arena.len();
                pass.push(mark, Outcome::Failed(FailReason::ResponseTooLarge), *resent);
            }
        }
    }
    let Pass {
        arena, mut entries, ..
    } = pass;

    // Pass 2: the partition cardinality guard, in record order.
    guard(&mut entries, &arena, config, &mut report);

    // Pass 3: write the response, then fit it into the limit.
    // Sized for every entry as first written (before any fitting), so that
    // it is never moved to grow: each record's base64 (padding up to 4
    // bytes), its id as it came, and up to 128 bytes of the rest.
    let ids: usize = parsed.records.iter().map(|r| r.record_id.get().len()).sum();
    let mut response =
        String::with_capacity(arena.len() / 3 * 4 + parsed.records.len() * 132 + ids + 64);
    let starts = write_entries(&mut response, &entries, &echoes, &arena);
    let limit = config.max_response_bytes;
    if let Some(k) = fit(
        response.len(),
        &mut entries,
        &echoes,
        &starts,
        limit,
        plan,
        &mut report,
    )? {
        // The entries from `k` on, demoted, replace what was written. Every
        // start is a length the response had: a char boundary.
        response.truncate(starts.get(k).copied().unwrap_or(response.len()));
        for (i, e) in entries.iter().enumerate().skip(k) {
            if i > 0 {
                response.push(',');
            }
            write_entry(&mut response, e, echoes[i], &[]);
        }
    }
    response.push_str(FOOTER);

    let mut reingest = Vec::new();
    for (i, (e, r)) in entries.iter().zip(&parsed.records).enumerate() {
        if e.resend && plan.overflow == Overflow::Reingest {
            // Decoded again: only overflow records pay for the copy.
            let mut data = Vec::new();
            let _ = decode_data(r.data, &mut data);
            reingest.push(Resend { index: i, data });
        }
    }
    tally(&entries, &echoes, &mut report);
    report.response_bytes = response.len();
    Ok(Processed {
        response,
        report,
        reingest,
    })
}

/// One record already decoded, as an adapter that reads events itself
/// (replay) has it: its bytes and its `approximateArrivalTimestamp`.
#[derive(Debug, Clone, Copy)]
pub struct Decoded<'a> {
    pub data: &'a [u8],
    pub arrival_ms: i64,
}

/// What [`process_decoded`] made of one record: the answer the function's
/// response would carry for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The output line is `arena[output]`; the keys are the response's
    /// partition keys (the cardinality guard applied).
    Ok {
        output: Range<usize>,
        keys: PartitionKeys,
    },
    Dropped,
    Failed(FailReason),
}

/// A batch of decoded records, answered.
#[derive(Debug, Clone)]
pub struct DecodedBatch {
    /// The `Ok` records' output lines, back to back.
    pub arena: Vec<u8>,
    /// One answer per record, in order.
    pub answers: Vec<Answer>,
    pub report: BatchReport,
}

/// Processes decoded records exactly as [`process`] processes the request
/// that carries them (record ids `"0"`, `"1"`…, data in base64, overflow
/// failing): the same transform, cardinality guard and response limit,
/// without writing the response or encoding each record to base64 only to
/// decode it again. The response is sized, not written, so that the records
/// that would not fit fail as `response_too_large` just the same.
pub fn process_decoded(records: &[Decoded], config: &Config) -> Result<DecodedBatch, RequestError> {
    let mut report = BatchReport {
        records: records.len(),
        ..BatchReport::default()
    };
    let input: usize = records.iter().map(|r| r.data.len()).sum();
    let mut pass = Pass::new(config, record::transform_into, input + input / 2);
    for r in records {
        pass.transform(r.data, r.arrival_ms, &mut report);
    }
    let Pass {
        arena, mut entries, ..
    } = pass;
    guard(&mut entries, &arena, config, &mut report);

    let echoes: Vec<Echo> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Echo::Decoded(i, r.data))
        .collect();
    let mut size = Count(0);
    let starts = write_entries(&mut size, &entries, &echoes, &arena);
    fit(
        size.0,
        &mut entries,
        &echoes,
        &starts,
        config.max_response_bytes,
        &Plan::default(),
        &mut report,
    )?;
    tally(&entries, &echoes, &mut report);
    let answers = entries
        .into_iter()
        .map(|e| match e.outcome {
            Outcome::Ok(enriched) => Answer::Ok {
                output: e.output,
                keys: PartitionKeys::new(e.site_key.text(&arena), &enriched.event_time),
            },
            Outcome::Dropped(_) => Answer::Dropped,
            Outcome::Failed(reason) => Answer::Failed(reason),
        })
        .collect();
    Ok(DecodedBatch {
        arena,
        answers,
        report,
    })
}

/// Pass 1: records transformed one after another into one arena.
struct Pass<'c> {
    config: &'c Config,
    transform: TransformFn,
    arena: Vec<u8>,
    scratch: Scratch,
    entries: Vec<Entry>,
}

impl<'c> Pass<'c> {
    fn new(config: &'c Config, transform: TransformFn, capacity: usize) -> Pass<'c> {
        Pass {
            config,
            transform,
            arena: Vec::with_capacity(capacity),
            scratch: Scratch::default(),
            entries: Vec::new(),
        }
    }

    /// Transforms one decoded record, under `catch_unwind`.
    fn transform(&mut self, data: &[u8], arrival: i64, report: &mut BatchReport) {
        let (config, transform) = (self.config, self.transform);
        let (arena, scratch) = (&mut self.arena, &mut self.scratch);
        let mark = arena.len();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            transform(data, arrival, config, scratch, arena)
        }));
        let outcome = match outcome {
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
        };
        report.input_bytes += data.len();
        if let Some(note) = scratch.consent.take() {
            report.consent.add(note);
        }
        self.push(mark, outcome, false);
    }

    /// Records `outcome`, whose output (when `Ok`) starts at `mark`.
    fn push(&mut self, mark: usize, outcome: Outcome, resend: bool) {
        let (output, site_key) = match &outcome {
            Outcome::Ok(e) => {
                let site = std::str::from_utf8(&self.arena[e.site.clone()]).unwrap_or("");
                let key = match partition::site_value(site) {
                    partition::UNKNOWN => SiteKey::Static(partition::UNKNOWN),
                    _ => SiteKey::Arena(e.site.clone()),
                };
                (mark..self.arena.len(), key)
            }
            _ => (0..0, SiteKey::Static(partition::UNKNOWN)),
        };
        self.entries.push(Entry {
            resend,
            outcome,
            output,
            site_key,
        });
    }
}

/// Pass 2: the partition cardinality guard, in record order.
fn guard(entries: &mut [Entry], arena: &[u8], config: &Config, report: &mut BatchReport) {
    let mut guard = SiteGuard::new(config.site_allowlist.as_ref(), config.max_sites_per_batch);
    for e in entries {
        // Static keys (`unknown`) are not sites the guard counts.
        if matches!(e.site_key, SiteKey::Arena(_)) && guard.admit(e.site_key.text(arena)).1 {
            e.site_key = SiteKey::Static(partition::OTHER);
            report.site_other += 1;
        }
    }
}

const HEADER: &str = "{\"records\":[";
const FOOTER: &str = "]}";

/// Writes the response's header and entries (not its footer) to `out`, and
/// gives where each entry starts.
fn write_entries<S: Sink>(
    out: &mut S,
    entries: &[Entry],
    echoes: &[Echo],
    arena: &[u8],
) -> Vec<usize> {
    out.put(HEADER);
    let mut starts = Vec::with_capacity(entries.len());
    for (i, (e, echo)) in entries.iter().zip(echoes).enumerate() {
        starts.push(out.len());
        if i > 0 {
            out.put(",");
        }
        write_entry(out, e, *echo, arena);
    }
    starts
}

/// When the response (`written` bytes so far, footer excluded) is over
/// `limit`, demotes the fewest `Ok` records from the end of the batch so
/// that it fits, and gives the first entry whose answer changed: records
/// keep their order, and the earliest ones are delivered.
fn fit(
    written: usize,
    entries: &mut [Entry],
    echoes: &[Echo],
    starts: &[usize],
    limit: usize,
    plan: &Plan,
    report: &mut BatchReport,
) -> Result<Option<usize>, RequestError> {
    if written + FOOTER.len() <= limit {
        return Ok(None);
    }
    let limit = limit - FOOTER.len().min(limit);
    if plan.overflow == Overflow::Fail && plan.resent.is_empty() && plan.unsent.is_empty() {
        // What re-ingestion would have re-sent, for `invoke` and `bench`.
        let sizes = Sizes::new(entries, echoes, Overflow::Reingest);
        if let Some(k) = sizes.fit_point(starts, written, limit) {
            report.overflow += entries[k..].iter().filter(|e| is_ok(e)).count();
        }
    }
    let sizes = Sizes::new(entries, echoes, plan.overflow);
    let k = sizes
        .fit_point(starts, written, limit)
        .ok_or(RequestError::ResponseTooLarge {
            bytes: starts.first().copied().unwrap_or(0) + sizes.suffix[0],
            limit,
        })?;
    for e in entries.iter_mut().skip(k) {
        if let Some(d) = demote(e, sizes.overflow) {
            if let SiteKey::Static(partition::OTHER) = e.site_key {
                report.site_other -= 1;
            }
            if d.resend {
                report.overflow += 1;
                report.reingested += 1;
            }
            *e = d;
        }
    }
    Ok(Some(k))
}

/// Counts every record's final answer into `report`.
fn tally(entries: &[Entry], echoes: &[Echo], report: &mut BatchReport) {
    for (e, echo) in entries.iter().zip(echoes) {
        if e.resend {
            continue;
        }
        match &e.outcome {
            Outcome::Ok(enriched) => {
                report.ok += 1;
                report.output_bytes += e.output.len();
                report.moved_to_extra += usize::from(enriched.moved_to_extra);
                report.not_anonymized += enriched.not_ip as usize;
            }
            Outcome::Dropped(reason) => report.dropped[*reason as usize] += 1,
            Outcome::Failed(reason) => {
                report.failed[*reason as usize] += 1;
                report.failures.push((echo.id_string(), *reason));
            }
        }
    }
}

fn is_ok(e: &Entry) -> bool {
    !e.resend && matches!(e.outcome, Outcome::Ok(_))
}

/// The checks before a request record's transform: its members, its data
/// decoded into `decoded`, and its arrival time.
fn checked(
    r: &RecordIn,
    decoded: &mut Vec<u8>,
    report: &mut BatchReport,
) -> Result<i64, FailReason> {
    if let Some(reason) = r.duplicated {
        return Err(reason);
    }
    decode_data(r.data, decoded)?;
    let arrival = r
        .approximate_arrival_timestamp
        .and_then(|raw| arrival_millis(raw.get()));
    if arrival.is_none() {
        // Counted as the transform would have: the data decoded.
        report.input_bytes += decoded.len();
    }
    arrival.ok_or(FailReason::BadArrivalTime)
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

/// A `Dropped` answer after its record id.
const DROPPED: &str = ",\"result\":\"Dropped\",\"data\":\"\"}";

/// Where the response is written: the response itself, or only its length
/// ([`process_decoded`] sizes a response it never writes). One writer for
/// both, so that the size cannot disagree with the bytes.
trait Sink {
    fn put(&mut self, text: &str);
    /// `bytes` in base64.
    fn put_base64(&mut self, bytes: &[u8]);
    fn len(&self) -> usize;
}

/// The response is a `String` from the start, written only from text (the
/// request's, ours and base64): the Lambda adapter hands it on without
/// checking 6 MB of UTF-8 again.
impl Sink for String {
    fn put(&mut self, text: &str) {
        self.push_str(text);
    }
    fn put_base64(&mut self, bytes: &[u8]) {
        BASE64.encode_append(bytes, self);
    }
    fn len(&self) -> usize {
        String::len(self)
    }
}

/// A response's length.
struct Count(usize);

impl Sink for Count {
    fn put(&mut self, text: &str) {
        self.0 += text.len();
    }
    fn put_base64(&mut self, bytes: &[u8]) {
        self.0 += BASE64.encoded_length(bytes.len());
    }
    fn len(&self) -> usize {
        self.0
    }
}

/// What an answer repeats of its request record.
#[derive(Clone, Copy)]
enum Echo<'a> {
    /// A request's record: its `recordId` and `data` as they came.
    Request(&'a RecordIn<'a>),
    /// A decoded record: its id is its position, its data the bytes in
    /// base64.
    Decoded(usize, &'a [u8]),
}

impl Echo<'_> {
    fn put_id<S: Sink>(self, out: &mut S) {
        match self {
            Echo::Request(r) => out.put(r.record_id.get()),
            Echo::Decoded(i, _) => {
                // The digits of `i`, without a `format!` per record.
                let mut digits = [0u8; 20];
                let mut at = digits.len();
                let mut n = i;
                loop {
                    at -= 1;
                    digits[at] = b'0' + (n % 10) as u8;
                    n /= 10;
                    if n == 0 {
                        break;
                    }
                }
                out.put("\"");
                // ASCII digits: always UTF-8.
                out.put(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
                out.put("\"");
            }
        }
    }

    /// The data echoed by a failed answer: exactly as it came, even when it
    /// is not valid base64.
    fn put_data<S: Sink>(self, out: &mut S) {
        match self {
            Echo::Request(r) => match r.data.filter(|d| d.get().starts_with('"')) {
                Some(d) => out.put(d.get()),
                None => out.put("\"\""),
            },
            Echo::Decoded(_, data) => {
                out.put("\"");
                out.put_base64(data);
                out.put("\"");
            }
        }
    }

    fn id_string(self) -> String {
        match self {
            Echo::Request(r) => json_string(r.record_id).unwrap_or_default(),
            Echo::Decoded(i, _) => i.to_string(),
        }
    }
}

fn write_entry<S: Sink>(out: &mut S, e: &Entry, echo: Echo, arena: &[u8]) {
    out.put("{\"recordId\":");
    // The id's JSON text as it came, so the response can never disagree with
    // the request on it.
    echo.put_id(out);
    if e.resend {
        out.put(DROPPED);
        return;
    }
    match &e.outcome {
        Outcome::Ok(enriched) => {
            out.put(",\"result\":\"Ok\",\"data\":\"");
            out.put_base64(&arena[e.output.clone()]);
            out.put("\",\"metadata\":{\"partitionKeys\":{\"site\":\"");
            out.put(e.site_key.text(arena));
            out.put("\",\"dt\":\"");
            out.put(enriched.event_time.date());
            out.put("\",\"hour\":\"");
            out.put(enriched.event_time.hour());
            out.put("\"}}}");
        }
        // Dropped and failed records carry no partition keys, and Dropped
        // ones carry empty data: Firehose discards the one and writes the
        // original bytes of the other to the error prefix. (The status-model
        // docs list `data` as required, so it is present, if empty.) Keeping
        // them small is what lets an over-limit response always be fitted.
        Outcome::Dropped(_) => out.put(DROPPED),
        Outcome::Failed(_) => {
            out.put(",\"result\":\"ProcessingFailed\",\"data\":");
            echo.put_data(out);
            out.put("}");
        }
    }
}

/// The size of every suffix of the response if its `Ok` records overflowed.
struct Sizes {
    /// `suffix[k]`: entries `k..` with each of their `Ok` records demoted.
    suffix: Vec<usize>,
    overflow: Overflow,
}

impl Sizes {
    fn new(entries: &[Entry], echoes: &[Echo], overflow: Overflow) -> Sizes {
        let n = entries.len();
        let mut suffix = vec![0usize; n + 1];
        for k in (0..n).rev() {
            let mut size = Count(0);
            if k > 0 {
                size.put(",");
            }
            let demoted = demote(&entries[k], overflow);
            write_entry(
                &mut size,
                demoted.as_ref().unwrap_or(&entries[k]),
                echoes[k],
                &[],
            );
            suffix[k] = suffix[k + 1] + size.0;
        }
        Sizes { suffix, overflow }
    }

    /// The first entry to demote so the response fits in `limit`: the
    /// latest such point, so the fewest records overflow.
    fn fit_point(&self, starts: &[usize], written: usize, limit: usize) -> Option<usize> {
        (0..self.suffix.len())
            .rev()
            .find(|&k| starts.get(k).copied().unwrap_or(written) + self.suffix[k] <= limit)
    }
}

/// The overflow form of an `Ok` entry; `None` for other outcomes.
fn demote(e: &Entry, overflow: Overflow) -> Option<Entry> {
    is_ok(e).then(|| Entry {
        resend: overflow == Overflow::Reingest,
        outcome: Outcome::Failed(FailReason::ResponseTooLarge),
        output: 0..0,
        site_key: SiteKey::Static(partition::UNKNOWN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The floor answers every record `Ok` with its data as it came (base64
    /// decoded and encoded again) and partition keys from the arrival time;
    /// a record the batch layer fails still fails.
    #[test]
    fn floor_echoes_records() {
        let request = br#"{"invocationId":"i","records":[
            {"recordId":"1","approximateArrivalTimestamp":1518352210000,"data":"eyJhIjoxfQ=="},
            {"recordId":"2","approximateArrivalTimestamp":1518352210000,"data":"bm90IGpzb24="},
            {"recordId":"3","approximateArrivalTimestamp":1518352210000,"data":"!!"},
            {"recordId":"4","approximateArrivalTimestamp":"soon","data":"e30="}]}"#;
        let p = process_with(request, &Config::default(), echo_into).unwrap();
        let site =
            r#""metadata":{"partitionKeys":{"site":"unknown","dt":"2018-02-11","hour":"12"}}"#;
        let want = format!(
            concat!(
                r#"{{"records":[{{"recordId":"1","result":"Ok","data":"eyJhIjoxfQ==",{site}}},"#,
                r#"{{"recordId":"2","result":"Ok","data":"bm90IGpzb24=",{site}}},"#,
                r#"{{"recordId":"3","result":"ProcessingFailed","data":"!!"}},"#,
                r#"{{"recordId":"4","result":"ProcessingFailed","data":"e30="}}]}}"#
            ),
            site = site
        );
        assert_eq!(p.response, want);
        assert_eq!((p.report.ok, p.report.failed_total()), (2, 2));
    }

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
