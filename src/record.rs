//! One record: decoded bytes in, an enriched JSON line (or a reason) out.
//!
//! This is the whole transformation, and it is pure: no clock, no IO, no AWS.
//! The batch layer, the Lambda handler, the CLI and replay all come through
//! [`transform_into`].
//!
//! The output is the input object, byte for byte, with the enrichment fields
//! spliced in before its closing brace. Nothing is parsed into a DOM and
//! written back: that would cost about three times as much (measured), and
//! would rewrite numbers (`1.0e2` becomes `100.0`) that the contract says
//! stay unchanged.
//!
//! ```
//! use firehose_enricher::{record::transform, Config};
//! let line = br#"{"ts":"2018-02-11T13:30:07.5+01:00","url":"https://News.BBC.co.uk/x"}"#;
//! // The always-on enrichers only; see `enrich` for the optional ones.
//! let config = Config::from_lookup(|v| (v == "ENRICHMENTS").then(|| "none".into())).unwrap();
//! let out = transform(line, 1_518_352_210_000, &config);
//! assert_eq!(
//!     String::from_utf8(out.data).unwrap(),
//!     concat!(
//!         r#"{"ts":"2018-02-11T13:30:07.5+01:00","url":"https://News.BBC.co.uk/x","#,
//!         r#""event_time":"2018-02-11 12:30:07.500","event_time_source":"event","#,
//!         r#""received_at":"2018-02-11 12:30:10.000","domain":"news.bbc.co.uk","site":"bbc.co.uk"}"#,
//!         "\n"
//!     )
//! );
//! ```

use crate::enrich::{Edit, Facts, Fields, KeyMatch, Member, Pipeline, Record};
use crate::json::key_start;
pub use crate::reason::{DropReason, FailReason};
use crate::time::Formatted;
use serde::de::IgnoredAny;
use std::ops::Range;

/// The fields the always-on enrichers write, first of ours and in this
/// order. Same-named input fields are replaced; see
/// [`Pipeline::fields`] for all of a configuration's fields.
pub const OUTPUT_FIELDS: [&str; 5] = [
    "event_time",
    "event_time_source",
    "received_at",
    "domain",
    "site",
];

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(Enriched),
    Dropped(DropReason),
    Failed(FailReason),
}

/// What the batch layer needs of an `Ok` record to build partition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enriched {
    /// Where the site string lies in the output buffer; empty when `site` is
    /// null.
    pub site: Range<usize>,
    pub event_time: Formatted,
    /// Whether members moved into `extra` (`MovedToExtra`).
    pub moved_to_extra: bool,
    /// IP field values `ANONYMIZE_IP` left alone: not IP addresses.
    pub not_ip: u32,
}

/// Buffers reused from record to record, so that the hot path does not
/// allocate.
#[derive(Default)]
pub struct Scratch {
    /// For each of the pipeline's top-level keys, the index in `members` of the member
    /// that holds it (the last duplicate's).
    slots: Vec<Option<usize>>,
    /// Every top-level member: its value's span, and whether it is replaced.
    members: Vec<Member>,
    /// The enrichers' fields, before they are appended.
    fields: Fields,
    /// The record parser's nesting stack.
    stack: Vec<u8>,
    /// What the consent stage found of the last record, for the batch's
    /// counts (taken by the batch layer after each record).
    pub(crate) consent: Option<crate::enrich::consent::Note>,
}

/// A record transformed on its own, with owned output: the convenient form
/// for tests and for callers that handle one record at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformed {
    pub outcome: Outcome,
    /// The enriched JSON line for `Ok`; empty otherwise.
    pub data: Vec<u8>,
    /// `site`, `dt` and `hour` for `Ok`.
    pub partition_keys: Option<crate::partition::PartitionKeys>,
}

/// Transforms one decoded record. See [`transform_into`].
/// The configuration is anything that lends a [`Pipeline`]: the assembled
/// configuration (`Config`) does, and so does a pipeline itself.
pub fn transform<C: AsRef<Pipeline> + ?Sized>(
    data: &[u8],
    arrival_ms: i64,
    config: &C,
) -> Transformed {
    let mut out = Vec::new();
    let outcome = transform_into(data, arrival_ms, config, &mut Scratch::default(), &mut out);
    let partition_keys = match &outcome {
        Outcome::Ok(e) => Some(crate::partition::PartitionKeys::new(
            crate::partition::site_value(std::str::from_utf8(&out[e.site.clone()]).unwrap_or("")),
            &e.event_time,
        )),
        _ => None,
    };
    if !matches!(outcome, Outcome::Ok(_)) {
        out.clear();
    }
    Transformed {
        outcome,
        data: out,
        partition_keys,
    }
}

/// Transforms one decoded record, appending its output line to `out` when the
/// outcome is `Ok`. On any other outcome `out` is left as it was.
pub fn transform_into<C: AsRef<Pipeline> + ?Sized>(
    data: &[u8],
    arrival_ms: i64,
    config: &C,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Outcome {
    match enrich(data, arrival_ms, config.as_ref(), scratch, out) {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Failed(reason),
    }
}

fn enrich(
    data: &[u8],
    arrival_ms: i64,
    pipeline: &Pipeline,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<Outcome, FailReason> {
    scratch.consent = None;
    let text = simdutf8::basic::from_utf8(data).map_err(|_| FailReason::NotUtf8)?;
    let trimmed = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r'));
    if trimmed.is_empty() {
        return Err(FailReason::Empty);
    }
    if !trimmed.starts_with('{') {
        return Err(match serde_json::from_str::<IgnoredAny>(trimmed) {
            Ok(_) => FailReason::NotObject,
            Err(_) => FailReason::NotJson,
        });
    }
    // Checked here, once, so that every stage may rely on it.
    if !crate::time::FORMATTABLE_MS.contains(&arrival_ms) {
        return Err(FailReason::BadArrivalTime);
    }

    scratch.slots.clear();
    scratch.slots.resize(pipeline.slots, None);
    scratch.members.clear();
    let (slots, members) = (&mut scratch.slots, &mut scratch.members);
    let duplicate_keys = &mut false;
    crate::json::object_members(trimmed.as_bytes(), &mut scratch.stack, |m| {
        // A key that is no string (a lone surrogate escape) is none of ours.
        let key = if m.escaped {
            m.key_text(trimmed).map_or(KeyMatch::default(), |k| {
                pipeline.key_index.find(k.as_bytes())
            })
        } else {
            pipeline.key_index.find(&trimmed.as_bytes()[m.key.clone()])
        };
        if let Some(slot) = key.slot {
            // The last duplicate wins, as in serde_json's own maps.
            *duplicate_keys |= slots[slot].is_some();
            slots[slot] = Some(members.len());
        }
        members.push(Member {
            plain_string: m.plain_string,
            value: m.value,
            replaced: key.replaced,
            slot: key.slot,
        });
    })
    .map_err(|_| FailReason::NotJson)?;

    let record = Record {
        text: trimmed,
        data,
        arrival_ms,
        slots: &scratch.slots,
        members: &scratch.members,
        duplicate_keys: *duplicate_keys,
    };
    let mut facts = Facts::default();
    scratch.fields.clear();
    for stage in &pipeline.stages {
        if let Err(reason) = stage.run(&record, &mut facts, &mut scratch.fields) {
            scratch.consent = facts.consent;
            return Ok(Outcome::Dropped(reason));
        }
    }
    scratch.consent = facts.consent;
    let edits = &mut facts.edits;

    // Write: the object minus its closing brace, then the new fields.
    let start = out.len();
    let replaced = scratch.members.iter().any(|m| m.replaced);
    let mut kept = scratch.members.len();
    let text = trimmed.as_bytes();
    if !replaced && edits.is_empty() {
        out.extend_from_slice(&text[..text.len() - 1]);
    } else if !replaced && edits.iter().all(|(_, e)| matches!(e, Edit::Replace(_))) {
        // Values replaced in place (the masked IP of every collector
        // record): the text between them is copied whole, as above.
        edits.sort_by_key(|(i, _)| *i);
        let mut copied = 0;
        for (n, (i, edit)) in edits.iter().enumerate() {
            // The last edit of a member is the one written (the sort is
            // stable).
            if edits.get(n + 1).is_some_and(|(next, _)| next == i) {
                continue;
            }
            let (Edit::Replace(value), Some(m)) = (edit, scratch.members.get(*i)) else {
                return Err(FailReason::InternalError);
            };
            out.extend_from_slice(&text[copied..m.value.start]);
            out.extend_from_slice(value.as_bytes());
            copied = m.value.end;
        }
        out.extend_from_slice(&text[copied..text.len() - 1]);
    } else {
        // Rare: the input already has some of our fields, or a stage edits
        // members. Rebuild the object from its members' raw text, leaving
        // ours out and applying the edits; every other member is copied
        // byte for byte.
        edits.sort_by_key(|(i, _)| *i);
        let mut next_edit = edits.iter().peekable();
        out.push(b'{');
        kept = 0;
        for (i, m) in scratch.members.iter().enumerate() {
            let mut edit = None;
            while let Some((_, e)) = next_edit.next_if(|(at, _)| *at <= i) {
                edit = Some(e);
            }
            if m.replaced || matches!(edit, Some(Edit::Remove)) {
                continue;
            }
            if kept > 0 {
                out.push(b',');
            }
            let key_start = key_start(trimmed.as_bytes(), m.value.start);
            match edit {
                Some(Edit::Replace(value)) => {
                    out.extend_from_slice(&trimmed.as_bytes()[key_start..m.value.start]);
                    out.extend_from_slice(value.as_bytes());
                }
                _ => out.extend_from_slice(&trimmed.as_bytes()[key_start..m.value.end]),
            }
            kept += 1;
        }
    }
    // JSON allows raw newlines only as whitespace between tokens, and the
    // output must be one line: blank them. Most records have none, and a
    // SIMD search for them costs a fraction of visiting every byte.
    if memchr::memchr2(b'\n', b'\r', &out[start..]).is_some() {
        for b in &mut out[start..] {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
    // Each field starts with a comma; the first is dropped when the object
    // had no members.
    let fields = &scratch.fields.buf[usize::from(kept == 0)..];
    let fields_at = out.len() - usize::from(kept == 0);
    out.extend_from_slice(fields);
    out.extend_from_slice(b"}\n");
    let site = match facts.site_span {
        Some(span) => fields_at + span.start..fields_at + span.end,
        None => out.len()..out.len(),
    };
    let event_time = facts.event_time.ok_or(FailReason::InternalError)?;
    Ok(Outcome::Ok(Enriched {
        site,
        event_time,
        moved_to_extra: facts.moved_to_extra,
        not_ip: facts.not_ip,
    }))
}
