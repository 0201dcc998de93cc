//! A whole Firehose invocation: request bytes in, response bytes out.
//!
//! * The request is parsed leniently with borrowed types of our own
//!   (`request.rs`): one record with bad base64, an odd timestamp or
//!   unknown fields fails alone. (`aws_lambda_events` fails the whole
//!   request on one bad base64 `data`, and panics on a fractional
//!   `approximateArrivalTimestamp`.)
//! * Every record runs under `catch_unwind`, so a bug that panics on one
//!   record fails that record, not the batch (this module).
//! * The response is written once, straight from the transformed records,
//!   and never exceeds [`Config::max_response_bytes`] (`response.rs`). When
//!   the enriched records would not fit, the last `Ok` records are the
//!   overflow, answered as [`Overflow`] says: `Dropped` and listed with
//!   their decoded bytes for the Lambda adapter to re-send to the delivery
//!   stream (AWS's blueprint behaviour), or `ProcessingFailed` with reason
//!   `response_too_large`, so Firehose writes them, raw, to the error
//!   prefix. [`settle`] answers the re-sends that failed the second way. The
//!   core itself never calls AWS.
//! * Records are transformed only while their answers may still fit
//!   (`response::Budget`): past that point every record is overflow
//!   whatever the transform would make of it, so it is answered as overflow
//!   untransformed, and a batch that overflows does not pay for enriching
//!   the records Firehose brings back to be enriched again.

mod request;
mod response;

use crate::config::Config;
use crate::partition::{self, PartitionKeys, SiteGuard};
use crate::record::{self, DropReason, FailReason, Outcome, Scratch};
use request::{checked, decode_data, json_string, RequestIn};
use response::{fit, tally, write_entries, write_entry, Budget, Count, Echo, Entries, FOOTER};
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
    /// `replay` answer, and the Lambda with `REINGEST_OVERFLOW=off`.
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
        whole: false,
    };
    run(request, config, record::transform_into, &plan)
}

/// What [`run`] is asked to do beyond the transform.
#[derive(Default, Clone, Copy)]
struct Plan<'p> {
    overflow: Overflow,
    /// Request positions answered `Dropped`: already re-sent.
    resent: &'p [usize],
    /// Request positions answered `ProcessingFailed`: re-sending failed.
    unsent: &'p [usize],
    /// Transform every record, with no [`Budget`]: for a batch the budget
    /// could not fit (see [`with_budget`]).
    whole: bool,
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
    /// Past the response budget, so answered as overflow without being
    /// transformed (see [`Budget`]): `outcome` is the overflow answer.
    untransformed: bool,
}

enum SiteKey {
    Arena(Range<usize>),
    Static(&'static str),
}

impl SiteKey {
    /// The value's bytes: a safe partition value, so ASCII, as
    /// [`Pass::push`] checked them.
    fn bytes<'a>(&'a self, arena: &'a [u8]) -> &'a [u8] {
        match self {
            SiteKey::Arena(range) => &arena[range.clone()],
            SiteKey::Static(s) => s.as_bytes(),
        }
    }

    /// The `site` partition value, as text.
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
    with_budget(|budgeted| {
        let plan = Plan {
            whole: plan.whole || !budgeted,
            ..*plan
        };
        run_plan(request, config, transform, &plan)
    })
}

/// `batch(true)`, the batch with the response [`Budget`], or `batch(false)`
/// when that leaves no answer that fits. A record past the budget is
/// answered as overflow, which is larger than the `Dropped` answer the
/// transform might have given it; so when the budget is what leaves the
/// response too large, every record is transformed and fitted instead, and
/// the budget never refuses a request that could be answered. (Only limits
/// far below Firehose's requests reach this.)
fn with_budget<T>(batch: impl Fn(bool) -> Result<T, RequestError>) -> Result<T, RequestError> {
    match batch(true) {
        Err(RequestError::ResponseTooLarge { .. }) => batch(false),
        result => result,
    }
}

fn run_plan(
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

    // Pass 1, with the guard and the response's writing: records are
    // transformed into an arena, and each time it holds `RUN_BYTES` the run
    // of records in it is guarded and written to the response, and the
    // arena emptied for the next run: the same work in the same record
    // order as transforming them all first, on an arena that stays small
    // and in the cache.
    //
    // The arena is still reserved at the size a whole batch's took (only
    // the first run's pages are ever touched): when it and the request are
    // freed, the two address ranges join into one that the runtime's copy
    // of the response (`lambda_runtime` serializes it into a new buffer)
    // mostly reuses, pages already mapped. A new container's first 3.2 MB
    // request faulted in 4,100 pages instead of 4,430 (3,280 instead of
    // 3,690 with `ENRICHMENTS=none`), and its CPU over a warm invocation
    // fell from 12.1 to 11.4 ms (8.8 to 7.4 ms), means of six runs each.
    let mut pass = Pass::new(config, transform, request.len() + request.len() / 2);
    let mut guard = Guard::new(config);
    // Sized so that it is seldom moved to grow: twice each record's base64
    // as it came (an enriched output seldom doubles an event, though a tiny
    // one can), its id, and up to 128 bytes of the rest. Pages are only
    // mapped as they are written.
    let ids: usize = parsed.records.iter().map(|r| r.record_id.get().len()).sum();
    let data: usize = parsed
        .records
        .iter()
        .map(|r| r.data.map_or(0, |d| d.get().len()))
        .sum();
    let mut response = String::with_capacity(2 * data + parsed.records.len() * 132 + ids + 64);
    let mut written = Entries::begin(&mut response, parsed.records.len());
    let mut flush = |pass: &mut Pass, report: &mut BatchReport| {
        let done = written.starts.len();
        guard.apply(&mut pass.entries[done..], &mut pass.arena, report);
        written.write(
            &mut response,
            &pass.entries[done..],
            &echoes[done..],
            &pass.arena,
        );
        pass.arena.clear();
    };
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
    let mut budget = Budget::new(&echoes, config.max_response_bytes, !plan.whole);
    for (i, (r, forced)) in parsed.records.iter().zip(&forced).enumerate() {
        match forced {
            None => match checked(r, &mut decoded, &mut report) {
                Ok(arrival) if budget.open() => pass.transform(&decoded, arrival, &mut report),
                Ok(_) => {
                    report.input_bytes += decoded.len();
                    pass.overflow(plan.overflow, &mut report);
                }
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
        budget.add(i, &pass.entries[i], echoes[i], &pass.arena);
        if pass.arena.len() >= RUN_BYTES {
            flush(&mut pass, &mut report);
        }
    }
    flush(&mut pass, &mut report);
    let mut entries = pass.entries;
    let starts = written.starts;

    // Then fit the response into the limit.
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
    with_budget(|budgeted| decoded_batch(records, config, budgeted))
}

fn decoded_batch(
    records: &[Decoded],
    config: &Config,
    budgeted: bool,
) -> Result<DecodedBatch, RequestError> {
    let mut report = BatchReport {
        records: records.len(),
        ..BatchReport::default()
    };
    let input: usize = records.iter().map(|r| r.data.len()).sum();
    let echoes: Vec<Echo> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Echo::Decoded(i, r.data))
        .collect();
    let mut pass = Pass::new(config, record::transform_into, input + input / 2);
    let mut budget = Budget::new(&echoes, config.max_response_bytes, budgeted);
    for (i, r) in records.iter().enumerate() {
        if budget.open() {
            pass.transform(r.data, r.arrival_ms, &mut report);
            budget.add(i, &pass.entries[i], echoes[i], &pass.arena);
        } else {
            report.input_bytes += r.data.len();
            pass.overflow(Overflow::Fail, &mut report);
        }
    }
    let Pass {
        mut arena,
        mut entries,
        ..
    } = pass;
    guard(&mut entries, &mut arena, config, &mut report);

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

/// The arena bytes after which `run_plan` writes the records in it to
/// the response and empties it: a run of a few hundred records, small
/// enough to stay in a core's L2 cache until its base64 is written.
const RUN_BYTES: usize = 256 << 10;

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
                // As `partition::site_value` answers, on the bytes: a safe
                // value is ASCII, so no UTF-8 check is needed here.
                let key = if partition::is_safe_bytes(&self.arena[e.site.clone()]) {
                    SiteKey::Arena(e.site.clone())
                } else {
                    SiteKey::Static(partition::UNKNOWN)
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
            untransformed: false,
        });
    }

    /// Answers a record past the response budget as overflow, untransformed.
    fn overflow(&mut self, overflow: Overflow, report: &mut BatchReport) {
        // Counted here, not where fitting demotes: this is its final answer.
        // With `Fail`, it is what re-ingestion would have re-sent (its
        // budget is the same), as `BatchReport::overflow` says.
        report.overflow += 1;
        if overflow == Overflow::Reingest {
            report.reingested += 1;
        }
        self.entries.push(Entry {
            untransformed: true,
            ..Entry::overflow(overflow)
        });
    }
}

/// Pass 2: the partition cardinality guard, in record order.
fn guard(entries: &mut [Entry], arena: &mut Vec<u8>, config: &Config, report: &mut BatchReport) {
    Guard::new(config).apply(entries, arena, report);
}

/// The partition cardinality guard over a batch's records, in record
/// order, which may come a run of them at a time (each run's outputs in an
/// arena of its own).
struct Guard<'c> {
    sites: SiteGuard<'c>,
    extra_is_ours: bool,
}

impl<'c> Guard<'c> {
    fn new(config: &'c Config) -> Guard<'c> {
        Guard {
            sites: SiteGuard::new(config.site_allowlist.as_ref(), config.max_sites_per_batch),
            extra_is_ours: config
                .output_fields()
                .contains(&crate::enrich::extra::EXTRA),
        }
    }

    /// Guards the next run of records, whose outputs are in `arena`.
    fn apply(&mut self, entries: &mut [Entry], arena: &mut Vec<u8>, report: &mut BatchReport) {
        let (guard, extra_is_ours) = (&mut self.sites, self.extra_is_ours);
        // The site last admitted as itself: a batch's records mostly come
        // from one site in a row, and the guard answers a site it admitted
        // the same way again, so the next record of that site is admitted
        // without hashing it (a measurable share of pass 2, callgrind).
        let mut admitted: Option<Range<usize>> = None;
        for e in entries {
            // Static keys (`unknown`) are not sites the guard counts.
            let SiteKey::Arena(site) = &e.site_key else {
                continue;
            };
            if admitted
                .as_ref()
                .is_some_and(|last| arena[last.clone()] == arena[site.clone()])
            {
                continue;
            }
            if !guard.admit(e.site_key.text(arena)).1 {
                admitted = Some(site.clone());
            } else {
                // The partition says `other`: the real site moves into `extra`,
                // appended to the arena as the record's new output line.
                let site = e.site_key.text(arena).to_owned();
                if let Some(line) =
                    partition::with_site_in_extra(&arena[e.output.clone()], &site, extra_is_ours)
                {
                    let start = arena.len();
                    arena.extend_from_slice(&line);
                    e.output = start..arena.len();
                }
                e.site_key = SiteKey::Static(partition::OTHER);
                report.site_other += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static TRANSFORMED: Cell<usize> = const { Cell::new(0) };
    }

    /// The production transform, counting its calls.
    fn counted(
        data: &[u8],
        arrival_ms: i64,
        config: &Config,
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> Outcome {
        TRANSFORMED.with(|n| n.set(n.get() + 1));
        record::transform_into(data, arrival_ms, config, scratch, out)
    }

    /// The budget transforms the records up to the fit point and the one
    /// that does not fit, no more, and answers exactly as transforming
    /// every record and then fitting does, either way of answering overflow.
    #[test]
    fn the_budget_stops_at_the_fit_point() {
        let n = 40;
        let records: Vec<String> = (0..n)
            .map(|i| {
                let event = format!(
                    r#"{{"ts":1795770900,"url":"https://s{}.example.com/p/{i}","sid":"s-{i}"}}"#,
                    i % 3
                );
                format!(
                    r#"{{"recordId":"r{i}","approximateArrivalTimestamp":1795770902000,"data":"{}"}}"#,
                    BASE64.encode_to_string(event)
                )
            })
            .collect();
        let request = format!(r#"{{"records":[{}]}}"#, records.join(",")).into_bytes();
        let with_limit = |limit| Config {
            max_response_bytes: limit,
            ..Config::default()
        };
        let size = process(&request, &with_limit(usize::MAX))
            .unwrap()
            .response
            .len();
        // The least limit failing can meet: every record failed.
        let (mut least, mut fits) = (0, size);
        while least < fits {
            let mid = (least + fits) / 2;
            if process(&request, &with_limit(mid)).is_err() {
                least = mid + 1;
            } else {
                fits = mid;
            }
        }
        // Exactly the size of a response that re-sends some records.
        let reingest = Plan {
            overflow: Overflow::Reingest,
            ..Plan::default()
        };
        let resending = run(&request, &with_limit(size / 2), counted, &reingest)
            .unwrap()
            .response
            .len();
        let limits = [
            // --- edges ---
            size,
            size - 1,
            resending,
            least,
            least + 1,
            // --- ordinary ---
            usize::MAX,
            size / 2,
            size * 3 / 4,
        ];
        let mut stopped = 0;
        for limit in limits {
            for overflow in [Overflow::Fail, Overflow::Reingest] {
                let config = with_limit(limit);
                let plan = Plan {
                    overflow,
                    ..Plan::default()
                };
                TRANSFORMED.with(|t| t.set(0));
                let budgeted = run(&request, &config, counted, &plan).unwrap();
                let transformed = TRANSFORMED.with(Cell::get);
                let whole = Plan {
                    whole: true,
                    ..plan
                };
                let whole = run(&request, &config, record::transform_into, &whole).unwrap();
                let case = format!("limit {limit}, {overflow:?}");
                assert_eq!(budgeted.response, whole.response, "{case}");
                assert_eq!(budgeted.report, whole.report, "{case}");
                assert_eq!(budgeted.reingest, whole.reingest, "{case}");
                // `overflow`: what re-ingestion re-sends, either way.
                let overflow = budgeted.report.overflow;
                let want = if overflow == 0 { n } else { n - overflow + 1 };
                assert_eq!(transformed, want, "{case}");
                stopped += usize::from(transformed < n);
            }
        }
        assert!(stopped >= 4, "{stopped}");
    }

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
}
