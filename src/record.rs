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
//! let out = transform(line, 1_518_352_210_000, &Config::default());
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

use crate::config::{Config, FieldPath};
use crate::domain;
use crate::time::{format_millis, json_string, parse_json_time, Formatted};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

/// The fields this function writes. Same-named input fields are replaced.
pub const OUTPUT_FIELDS: [&str; 5] = [
    "event_time",
    "event_time_source",
    "received_at",
    "domain",
    "site",
];

/// Why a record could not be processed. The code is what logs and metrics
/// count, so the set is small and fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailReason {
    /// The request record had no `data` string.
    MissingData,
    /// `data` is not valid base64.
    BadBase64,
    /// The decoded data is empty or only whitespace.
    Empty,
    /// The decoded data is not UTF-8.
    NotUtf8,
    /// The decoded data is not valid JSON.
    NotJson,
    /// The decoded data is JSON, but not an object.
    NotObject,
    /// `approximateArrivalTimestamp` is missing or not a usable epoch-ms number.
    BadArrivalTime,
    /// The record's output did not fit in the 6 MB response.
    ResponseTooLarge,
    /// The transform panicked on this record (a bug); caught, not fatal.
    InternalError,
}

impl FailReason {
    pub const ALL: [FailReason; 9] = [
        FailReason::MissingData,
        FailReason::BadBase64,
        FailReason::Empty,
        FailReason::NotUtf8,
        FailReason::NotJson,
        FailReason::NotObject,
        FailReason::BadArrivalTime,
        FailReason::ResponseTooLarge,
        FailReason::InternalError,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FailReason::MissingData => "missing_data",
            FailReason::BadBase64 => "bad_base64",
            FailReason::Empty => "empty",
            FailReason::NotUtf8 => "not_utf8",
            FailReason::NotJson => "not_json",
            FailReason::NotObject => "not_object",
            FailReason::BadArrivalTime => "bad_arrival_time",
            FailReason::ResponseTooLarge => "response_too_large",
            FailReason::InternalError => "internal_error",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a record was dropped on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The domain matched `DROP_DOMAINS`.
    Domain,
    /// The user agent matched the bundled bot list (`DROP_BOTS=true`).
    Bot,
}

impl DropReason {
    pub const ALL: [DropReason; 2] = [DropReason::Domain, DropReason::Bot];

    pub fn code(self) -> &'static str {
        match self {
            DropReason::Domain => "domain",
            DropReason::Bot => "bot",
        }
    }
}

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
}

/// Buffers reused from record to record, so that the hot path does not
/// allocate.
#[derive(Default)]
pub struct Scratch {
    /// For each of `Config::top_keys`, where its value lies in the text.
    slots: Vec<Option<(usize, usize)>>,
    /// Every top-level member's value span, and whether it is replaced.
    members: Vec<(usize, usize, bool)>,
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
pub fn transform(data: &[u8], arrival_ms: i64, config: &Config) -> Transformed {
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
pub fn transform_into(
    data: &[u8],
    arrival_ms: i64,
    config: &Config,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Outcome {
    match enrich(data, arrival_ms, config, scratch, out) {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Failed(reason),
    }
}

fn enrich(
    data: &[u8],
    arrival_ms: i64,
    config: &Config,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<Outcome, FailReason> {
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
    let received = format_millis(arrival_ms).ok_or(FailReason::BadArrivalTime)?;

    scratch.slots.clear();
    scratch.slots.resize(config.top_keys.len(), None);
    scratch.members.clear();
    let base = trimmed.as_ptr() as usize;
    let mut de = serde_json::Deserializer::from_str(trimmed);
    TopLevel {
        keys: &config.top_keys,
        base,
        scratch: &mut *scratch,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|_| FailReason::NotJson)?;

    let value = |path: &FieldPath| -> Option<&str> {
        let (start, end) = scratch.slots[path.top]?;
        let mut raw = &trimmed[start..end];
        for segment in &path.nested {
            raw = member(raw, segment)?;
        }
        (raw != "null").then_some(raw)
    };
    let first_string = |paths: &[FieldPath]| paths.iter().filter_map(value).find_map(json_string);

    // Event time: the first present (non-null) time field, if it parses and
    // lies within the skew bounds; else the arrival time.
    let event_ms = config
        .time_fields
        .iter()
        .find_map(value)
        .and_then(parse_json_time)
        .filter(|&t| {
            t <= arrival_ms.saturating_add(config.max_future_ms)
                && t >= arrival_ms.saturating_sub(config.max_age_ms)
        });
    let (event_time, source) = match event_ms.and_then(format_millis) {
        Some(t) => (t, "event"),
        None => (received, "arrival"),
    };

    // Domain: the first string URL field, parsed as a URL; failing that, the
    // first string host field.
    let url = first_string(&config.url_fields);
    let from_url = url.as_deref().and_then(domain::host_from_url);
    let bare = match from_url {
        Some(_) => None,
        None => first_string(&config.host_fields),
    };
    let host = from_url.or_else(|| bare.as_deref().and_then(domain::host_from_bare));

    if let Some(host) = &host {
        if config.drop_domains.iter().any(|p| p.matches(host)) {
            return Ok(Outcome::Dropped(DropReason::Domain));
        }
    }
    if config.drop_bots {
        if let Some(ua) = first_string(&config.user_agent_fields) {
            if is_bot(&ua) {
                return Ok(Outcome::Dropped(DropReason::Bot));
            }
        }
    }

    // Write: the object minus its closing brace, then the new fields.
    let start = out.len();
    let replaced = scratch.members.iter().any(|m| m.2);
    let mut kept = scratch.members.len();
    if !replaced {
        out.extend_from_slice(&trimmed.as_bytes()[..trimmed.len() - 1]);
    } else {
        // Rare: the input already has some of our fields. Rebuild the object
        // from its members' raw text, leaving those out.
        out.push(b'{');
        kept = 0;
        for &(value_start, value_end, is_replaced) in &scratch.members {
            if is_replaced {
                continue;
            }
            if kept > 0 {
                out.push(b',');
            }
            let key_start = key_start(trimmed.as_bytes(), value_start);
            out.extend_from_slice(&trimmed.as_bytes()[key_start..value_end]);
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
    if kept > 0 {
        out.push(b',');
    }
    out.extend_from_slice(b"\"event_time\":\"");
    out.extend_from_slice(event_time.as_str().as_bytes());
    out.extend_from_slice(b"\",\"event_time_source\":\"");
    out.extend_from_slice(source.as_bytes());
    out.extend_from_slice(b"\",\"received_at\":\"");
    out.extend_from_slice(received.as_str().as_bytes());
    out.extend_from_slice(b"\",\"domain\":");
    let site = match &host {
        // Hosts are made of [a-z0-9._:-] only, so they need no escaping.
        Some(host) => {
            out.push(b'"');
            out.extend_from_slice(host.as_bytes());
            out.extend_from_slice(b"\",\"site\":\"");
            let site_start = out.len();
            out.extend_from_slice(domain::site(host).as_bytes());
            let site = site_start..out.len();
            out.push(b'"');
            site
        }
        None => {
            out.extend_from_slice(b"null,\"site\":null");
            out.len()..out.len()
        }
    };
    out.extend_from_slice(b"}\n");
    Ok(Outcome::Ok(Enriched { site, event_time }))
}

/// Where the key of the member whose value starts at `value_start` begins.
/// Walks back over whitespace and the colon to the key's closing quote, then
/// to its opening quote: the first `"` not escaped by an odd run of
/// backslashes, since a JSON string holds no other.
fn key_start(text: &[u8], value_start: usize) -> usize {
    let mut i = value_start;
    while i > 0 && text[i - 1] != b'"' {
        i -= 1;
    }
    // i - 1 is the closing quote.
    let mut j = i.saturating_sub(1);
    while j > 0 {
        j -= 1;
        if text[j] == b'"' {
            let backslashes = text[..j].iter().rev().take_while(|&&b| b == b'\\').count();
            if backslashes % 2 == 0 {
                return j;
            }
        }
    }
    0
}

/// The raw value of `key` in the raw JSON object `raw` (the last one, as
/// serde_json's own maps keep), or `None`.
fn member<'a>(raw: &'a str, key: &str) -> Option<&'a str> {
    struct Find<'k>(&'k str);
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<&'de str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(k) = map.next_key_seed(KeyIs(self.0))? {
                let v: &'de RawValue = map.next_value()?;
                if k {
                    found = Some(v.get());
                }
            }
            Ok(found)
        }
    }
    if !raw.starts_with('{') {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    de.deserialize_map(Find(key)).ok().flatten()
}

/// Deserializes a key and says whether it equals the given one, without
/// allocating for unescaped keys.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// Walks the top-level object once, noting where the configured keys' values
/// are and which members we replace.
struct TopLevel<'c, 's> {
    keys: &'c [String],
    base: usize,
    scratch: &'s mut Scratch,
}

/// What a top-level key is to us.
struct KeyMatch {
    slot: Option<usize>,
    replaced: bool,
}

struct KeySeed<'c>(&'c [String]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = KeyMatch;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyMatch, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = KeyMatch;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, v: &str) -> Result<KeyMatch, E> {
        Ok(KeyMatch {
            slot: self.0.iter().position(|k| same_key(k, v)),
            replaced: OUTPUT_FIELDS.iter().any(|k| same_key(k, v)),
        })
    }
}

/// `a == b`, first ruling out keys of another length or first byte inline:
/// every member of every record is compared with some twenty configured
/// names, and most comparisons then end before a `memcmp` call.
#[inline]
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed(self.keys))? {
            let value: &'de RawValue = map.next_value()?;
            let start = value.get().as_ptr() as usize - self.base;
            let span = (start, start + value.get().len());
            if let Some(slot) = key.slot {
                // The last duplicate wins, as in serde_json's own maps.
                self.scratch.slots[slot] = Some(span);
            }
            self.scratch.members.push((span.0, span.1, key.replaced));
        }
        Ok(())
    }
}

static BOTS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    let patterns = include_str!("bots.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(patterns)
        .expect("the bundled bot patterns are valid")
});

/// Whether a user agent matches the bundled bot list (`src/bots.txt`).
pub fn is_bot(user_agent: &str) -> bool {
    BOTS.is_match(user_agent)
}
