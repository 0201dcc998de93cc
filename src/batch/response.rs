//! The response side of a batch: each record's answer written once,
//! straight from the transformed records (or only sized, for decoded
//! batches), and fitted into the response limit by answering the last `Ok`
//! records as overflow.

use super::request::{json_string, RecordIn};
use super::{BatchReport, Entry, Overflow, Plan, RequestError, SiteKey, BASE64};
use crate::partition;
use crate::reason::FailReason;
use crate::record::Outcome;

const HEADER: &str = "{\"records\":[";
pub(super) const FOOTER: &str = "]}";

/// Writes the response's header and entries (not its footer) to `out`, and
/// gives where each entry starts.
pub(super) fn write_entries<S: Sink>(
    out: &mut S,
    entries: &[Entry],
    echoes: &[Echo],
    arena: &[u8],
) -> Vec<usize> {
    let mut written = Entries::begin(out, entries.len());
    written.write(out, entries, echoes, arena);
    written.starts
}

/// The response's header and entries written a run of records at a time,
/// each run's outputs in an arena of its own (see `batch::run_plan`).
pub(super) struct Entries {
    /// Where each entry written so far starts.
    pub(super) starts: Vec<usize>,
}

impl Entries {
    /// Writes the header, for a response of `records` entries.
    pub(super) fn begin<S: Sink>(out: &mut S, records: usize) -> Entries {
        out.put(HEADER);
        Entries {
            starts: Vec::with_capacity(records),
        }
    }

    /// Writes the next entries, whose outputs are in `arena`.
    pub(super) fn write<S: Sink>(
        &mut self,
        out: &mut S,
        entries: &[Entry],
        echoes: &[Echo],
        arena: &[u8],
    ) {
        for (e, echo) in entries.iter().zip(echoes) {
            let first = self.starts.is_empty();
            self.starts.push(out.len());
            if !first {
                out.put(",");
            }
            write_entry(out, e, *echo, arena);
        }
    }
}

/// When the response (`written` bytes so far, footer excluded) is over
/// `limit`, demotes the fewest `Ok` records from the end of the batch so
/// that it fits, and gives the first entry whose answer changed: records
/// keep their order, and the earliest ones are delivered.
pub(super) fn fit(
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
    for e in entries.iter_mut().skip(k).filter(|e| is_ok(e)) {
        if let SiteKey::Static(partition::OTHER) = e.site_key {
            report.site_other -= 1;
        }
        *e = Entry::overflow(sizes.overflow);
        if e.resend {
            report.overflow += 1;
            report.reingested += 1;
        }
    }
    Ok(Some(k))
}

/// Pass 1's check that the next record's answer can still be in the
/// response. No answer is smaller than a `Dropped` one, so once the entries
/// so far (as first written) and a `Dropped` answer for each later record
/// pass the limit, the fit point is behind: every later record overflows,
/// whatever the transform would make of it, and is not transformed. On a
/// batch whose enriched records do not fit, that is the work of every
/// record Firehose would otherwise get back to transform a second time.
///
/// The rest of an untransformed record's answer is what fitting would have
/// made of an `Ok` one. One that would have failed or been dropped is
/// re-sent or failed as overflow instead: its bytes are kept either way
/// (re-sent, it comes back and fails in a later batch).
pub(super) struct Budget {
    /// `least[i]`: the fewest bytes entries `i..` and the footer can take.
    least: Vec<usize>,
    /// The header and entries so far, as first written.
    written: usize,
    limit: usize,
    open: bool,
}

impl Budget {
    /// A budget for these records' answers; with `on` false, one that
    /// never closes.
    pub(super) fn new(echoes: &[Echo], limit: usize, on: bool) -> Budget {
        // Each record's least is its re-sent answer, the smallest there is,
        // sized by the one writer every answer goes through.
        let dropped = Entry::overflow(Overflow::Reingest);
        let mut least = vec![FOOTER.len(); echoes.len() + 1];
        for (i, echo) in echoes.iter().enumerate().rev() {
            let mut size = Count(usize::from(i > 0));
            write_entry(&mut size, &dropped, *echo, &[]);
            least[i] = least[i + 1] + size.0;
        }
        Budget {
            least,
            written: HEADER.len(),
            limit: if on { limit } else { usize::MAX },
            open: true,
        }
    }

    /// Whether the next record may still be answered other than as overflow.
    pub(super) fn open(&self) -> bool {
        self.open
    }

    /// Counts entry `i`, the latest, as written.
    pub(super) fn add(&mut self, i: usize, e: &Entry, echo: Echo, arena: &[u8]) {
        if !self.open {
            return;
        }
        let mut size = Count(usize::from(i > 0));
        write_entry(&mut size, e, echo, arena);
        self.written += size.0;
        if self.written + self.least[i + 1] > self.limit {
            self.open = false;
        }
    }
}

/// Counts every record's final answer into `report`.
pub(super) fn tally(entries: &[Entry], echoes: &[Echo], report: &mut BatchReport) {
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

impl Entry {
    /// The answer of an `Ok` record that does not fit.
    pub(super) fn overflow(overflow: Overflow) -> Entry {
        Entry {
            resend: overflow == Overflow::Reingest,
            outcome: Outcome::Failed(FailReason::ResponseTooLarge),
            output: 0..0,
            site_key: SiteKey::Static(partition::UNKNOWN),
            untransformed: false,
        }
    }
}

/// A `Dropped` answer after its record id.
const DROPPED: &str = ",\"result\":\"Dropped\",\"data\":\"\"}";

/// Where the response is written: the response itself, or only its length
/// ([`process_decoded`] sizes a response it never writes). One writer for
/// both, so that the size cannot disagree with the bytes.
pub(super) trait Sink {
    fn put(&mut self, text: &str);
    /// Bytes made as UTF-8 (the site the transform wrote, the time
    /// [`crate::time::format_millis`] wrote), checked only where they are
    /// written: sizing needs their length alone, and sizes every entry as
    /// pass 1 goes (`Budget`). Bytes that fail the check are left out, so a
    /// response is never larger than its size.
    fn put_utf8(&mut self, bytes: &[u8]);
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
    fn put_utf8(&mut self, bytes: &[u8]) {
        self.push_str(std::str::from_utf8(bytes).unwrap_or_default());
    }
    fn put_base64(&mut self, bytes: &[u8]) {
        BASE64.encode_append(bytes, self);
    }
    fn len(&self) -> usize {
        String::len(self)
    }
}

/// A response's length.
pub(super) struct Count(pub(super) usize);

impl Sink for Count {
    fn put(&mut self, text: &str) {
        self.0 += text.len();
    }
    fn put_utf8(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
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
pub(super) enum Echo<'a> {
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

    pub(super) fn id_string(self) -> String {
        match self {
            Echo::Request(r) => json_string(r.record_id).unwrap_or_default(),
            Echo::Decoded(i, _) => i.to_string(),
        }
    }
}

pub(super) fn write_entry<S: Sink>(out: &mut S, e: &Entry, echo: Echo, arena: &[u8]) {
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
            out.put_utf8(e.site_key.bytes(arena));
            let time = enriched.event_time.as_bytes();
            out.put("\",\"dt\":\"");
            out.put_utf8(&time[..10]);
            out.put("\",\"hour\":\"");
            out.put_utf8(&time[11..13]);
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

/// The overflow form of an `Ok` or untransformed entry (the latter already
/// has it, but for `overflow` re-ingestion's estimate); `None` for other
/// outcomes.
fn demote(e: &Entry, overflow: Overflow) -> Option<Entry> {
    (is_ok(e) || e.untransformed).then(|| Entry::overflow(overflow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_millis;

    fn ok(arena: &mut Vec<u8>, line: &str, site: &str) -> Entry {
        let start = arena.len();
        arena.extend_from_slice(line.as_bytes());
        let site_at = arena.len();
        arena.extend_from_slice(site.as_bytes());
        Entry {
            resend: false,
            outcome: Outcome::Ok(crate::record::Enriched {
                site: site_at..arena.len(),
                event_time: format_millis(1_518_352_210_000).unwrap(),
                moved_to_extra: false,
                not_ip: 0,
            }),
            output: start..site_at,
            site_key: SiteKey::Arena(site_at..arena.len()),
            untransformed: false,
        }
    }

    fn failed(reason: FailReason) -> Entry {
        Entry {
            resend: false,
            outcome: Outcome::Failed(reason),
            output: 0..0,
            site_key: SiteKey::Static(partition::UNKNOWN),
            untransformed: false,
        }
    }

    /// A batch of each kind of answer, as decoded records.
    fn batch() -> (Vec<u8>, Vec<Entry>, Vec<&'static [u8]>) {
        let mut arena = Vec::new();
        let entries = vec![
            ok(&mut arena, "{\"a\":1}\n", "example.com"),
            failed(FailReason::NotJson),
            ok(&mut arena, "{\"b\":\"日本\"}\n", "example.org"),
            Entry {
                resend: false,
                outcome: Outcome::Dropped(crate::reason::DropReason::Domain),
                output: 0..0,
                site_key: SiteKey::Static(partition::UNKNOWN),
                untransformed: false,
            },
            ok(&mut arena, "{}\n", "example.net"),
        ];
        let data: Vec<&'static [u8]> = vec![b"{\"a\":1}", b"not json", b"{}", b"{}", b"{}"];
        (arena, entries, data)
    }

    /// The sized response is the written one's length, entry by entry:
    /// decoded batches are fitted on sizes alone.
    #[test]
    fn sizing_agrees_with_writing() {
        let (arena, entries, data) = batch();
        let echoes: Vec<Echo> = data
            .iter()
            .enumerate()
            .map(|(i, d)| Echo::Decoded(i, d))
            .collect();
        let mut written = String::new();
        let mut sized = Count(0);
        let starts = write_entries(&mut written, &entries, &echoes, &arena);
        assert_eq!(write_entries(&mut sized, &entries, &echoes, &arena), starts);
        assert_eq!(sized.0, written.len());
        written.push_str(FOOTER);
        let response: serde_json::Value = serde_json::from_str(&written).unwrap();
        let results: Vec<&str> = response["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["result"].as_str().unwrap())
            .collect();
        assert_eq!(results, ["Ok", "ProcessingFailed", "Ok", "Dropped", "Ok"]);
        assert_eq!(response["records"][4]["recordId"], "4");
    }

    /// Fitting demotes the fewest `Ok` records, from the end, and only `Ok`
    /// ones; a limit nothing can meet is an error.
    #[test]
    fn fitting_demotes_the_last_ok_records() {
        let (arena, entries, data) = batch();
        let echoes: Vec<Echo> = data
            .iter()
            .enumerate()
            .map(|(i, d)| Echo::Decoded(i, d))
            .collect();
        let mut full = String::new();
        let starts = write_entries(&mut full, &entries, &echoes, &arena);
        let results = |limit: usize| {
            let (_, mut entries, _) = batch();
            let mut report = BatchReport::default();
            let k = fit(
                full.len(),
                &mut entries,
                &echoes,
                &starts,
                limit,
                &Plan::default(),
                &mut report,
            );
            k.map(|k| {
                let answers: Vec<String> = entries
                    .iter()
                    .map(|e| match &e.outcome {
                        Outcome::Ok(_) => "Ok".to_owned(),
                        Outcome::Dropped(_) => "Dropped".to_owned(),
                        Outcome::Failed(r) => r.code().to_owned(),
                    })
                    .collect();
                (k, answers)
            })
        };
        // --- edge cases: exactly the limit, one byte under, nothing fits ---
        let exact = full.len() + FOOTER.len();
        assert_eq!(results(exact).unwrap().0, None);
        let (k, answers) = results(exact - 1).unwrap();
        assert_eq!(k, Some(4));
        assert_eq!(
            answers,
            ["Ok", "not_json", "Ok", "Dropped", "response_too_large"]
        );
        assert!(matches!(
            results(10),
            Err(RequestError::ResponseTooLarge { .. })
        ));
        // Tighter: the next Ok record goes too, the failed and dropped stay.
        let two = starts[2] + FOOTER.len() + 200;
        let (_, answers) = results(two).unwrap();
        assert_eq!(answers[0], "Ok");
        assert_eq!(answers[1], "not_json");
        assert_eq!(answers[3], "Dropped");
        assert_eq!(answers[4], "response_too_large");
    }
}
