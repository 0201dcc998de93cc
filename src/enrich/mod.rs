//! The enrichment pipeline and the field registry.
//!
//! Each enricher lives in its own module and is described by data: an
//! [`Enricher`] declares its name, the fields it writes (with their JSON and
//! Athena types), the variables it declares (with their defaults and
//! accepted forms), worked examples, and how to build it from its
//! variables. [`PIPELINE`] lists them in the fixed order they run.
//! Everything that describes the configuration and the output reads that
//! list: `config::VARIABLES` and the names `ENRICHMENTS` accepts, the docs'
//! tables and examples, the template's Glue columns and the `schema`
//! command; tests fail when they drift from it.
//!
//! Per record, the record layer parses the object once (a [`Record`]: where
//! each configured field's value lies in the original text), then runs the
//! enabled stages in order. A stage reads the record and what earlier stages
//! found ([`Facts`]), and appends its fields through one [`Fields`] writer.
//! The record layer then writes the input object, byte for byte, followed by
//! those fields. A disabled enricher is not in the pipeline at all, so it
//! costs nothing per record.
//!
//! ```
//! use firehose_enricher::enrich;
//! let site = enrich::field("site").unwrap();
//! assert_eq!(site.athena_type, "string");
//! assert_eq!(enrich::field("event_time").unwrap().athena_type, "timestamp");
//! assert!(enrich::PIPELINE.iter().any(|e| e.name == "fingerprint" && e.optional));
//! ```
//!
//! # Adding an enricher
//!
//! One file, `src/enrich/NAME.rs`, and its line in [`PIPELINE`]. The file
//! imports this module, `settings`, `reason`, `time`, `domain` and `json`,
//! nothing above them (`tests/layers.rs`), and declares:
//!
//! ```
//! use firehose_enricher::enrich::{
//!     DropReason, Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence,
//!     Record, Stage,
//! };
//! use firehose_enricher::settings::{form, ConfigError, Env, FieldPath, Variable};
//! use std::sync::Arc;
//!
//! pub const ENRICHER: Enricher = Enricher {
//!     name: "language",
//!     optional: true,
//!     summary: "the page's language, as the tag sent it",
//!     fields: &[Field {
//!         name: "language",
//!         json_type: JsonType::String,
//!         athena_type: "string",
//!         presence: Presence::Omitted,
//!         description: "the first string of `LANGUAGE_FIELDS`",
//!     }],
//!     variables: &[Variable {
//!         name: "LANGUAGE_FIELDS",
//!         default: "lang,language",
//!         form: form::FIELD_LIST,
//!         meaning: "where the page's language is",
//!     }],
//!     examples: &[Example {
//!         title: "A language tag",
//!         input: r#"{"lang":"de-AT"}"#,
//!         variables: &[],
//!         output: Expected::Fields(&[("language", Some(r#""de-AT""#))]),
//!     }],
//!     build,
//! };
//!
//! #[derive(Debug)]
//! struct Language {
//!     fields: Vec<FieldPath>,
//! }
//!
//! fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
//!     // Only declared variables can be read; `env.error(name, &value)`
//!     // reports a bad value with its declared form.
//!     Ok(Arc::new(Language { fields: env.fields("LANGUAGE_FIELDS")? }))
//! }
//!
//! impl Stage for Language {
//!     fn run<'a>(
//!         &self,
//!         record: &Record<'a>,
//!         _: &mut Facts<'a>,
//!         out: &mut Fields,
//!     ) -> Result<(), DropReason> {
//!         out.optional("language", record.first_string(&self.fields).as_deref());
//!         Ok(())
//!     }
//! }
//! # assert_eq!(ENRICHER.variables[0].name, "LANGUAGE_FIELDS");
//! ```
//!
//! Its variables join `config::VARIABLES`, its name the values
//! `ENRICHMENTS` accepts, and its fields and examples the docs; the
//! template needs its parameter by hand. `tests/registry.rs` runs its
//! examples.

pub mod bots;
pub mod campaign;
pub mod consent;
pub mod extra;
pub mod fingerprint;
pub mod geo;
pub mod page;
pub mod privacy;
pub mod recent;
pub mod referrer;
pub mod time;
pub mod user_agent;

pub use crate::reason::DropReason;
pub use crate::settings::{ConfigError, Env, FieldPath, Variable};
use crate::time::Formatted;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// The JSON type a field is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Boolean,
    Number,
}

impl JsonType {
    pub fn name(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Boolean => "boolean",
            JsonType::Number => "number",
        }
    }
}

/// When a field is present in an `Ok` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Always written, never null.
    Always,
    /// Always written; `null` when there is no value.
    Nullable,
    /// Written only when there is a value. Athena reads a missing field as
    /// NULL, and every byte counts against the 6 MB response.
    Omitted,
}

/// One field the function writes.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub json_type: JsonType,
    /// The Athena/Glue column type.
    pub athena_type: &'static str,
    pub presence: Presence,
    /// One line, for the docs.
    pub description: &'static str,
}

/// One enricher, described by data: everything the rest of the crate knows
/// of it. Adding an optional enricher is its file, declaring one of these,
/// and its line in [`PIPELINE`]; the configuration's variables, the
/// `ENRICHMENTS` names, the docs' tables and examples and the template's
/// checks all read it from there.
pub struct Enricher {
    /// Its name; for an optional enricher, the `ENRICHMENTS` value that turns
    /// it on.
    pub name: &'static str,
    /// Whether `ENRICHMENTS` switches it; `false` for the always-on ones.
    pub optional: bool,
    /// One line, for the docs (`docs/output.md`'s enricher list).
    pub summary: &'static str,
    /// The fields it writes, in the order it writes them.
    pub fields: &'static [Field],
    /// The configuration variables it declares: the ones it reads, but for
    /// the core variables every stage may read (`config::CORE_VARIABLES`).
    /// Each is declared by exactly one enricher or the core.
    pub variables: &'static [Variable],
    /// Worked examples: both the docs (`docs/output.md`) and tests
    /// (`tests/registry.rs` runs every one).
    pub examples: &'static [Example],
    /// Builds the stage from the configuration, validating its variables.
    pub build: fn(&mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError>,
}

impl fmt::Debug for Enricher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enricher")
            .field("name", &self.name)
            .finish()
    }
}

/// One worked example of an enricher: an event, the variables set for it,
/// and what the output holds. The arrival time is [`EXAMPLE_ARRIVAL_MS`].
/// Variables not named keep their defaults, and an optional enricher is
/// switched on (added to the default `ENRICHMENTS`) unless the example sets
/// `ENRICHMENTS` itself.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// What it shows, one line.
    pub title: &'static str,
    /// The event: one JSON object.
    pub input: &'static str,
    /// Variables set for it, `(name, value)`.
    pub variables: &'static [(&'static str, &'static str)],
    /// What becomes of the event.
    pub output: Expected,
}

/// What becomes of an [`Example`]'s event.
#[derive(Debug, Clone, Copy)]
pub enum Expected {
    /// `Ok`, and its output line holds these top-level members: name and
    /// JSON text (compared as JSON values), or `None` for a member that is
    /// absent. Members not named are not checked.
    Fields(&'static [(&'static str, Option<&'static str>)]),
    /// `Dropped`, for this reason.
    Dropped(DropReason),
}

/// The arrival time of every [`Example`]: 2024-05-01 12:00:00 UTC.
pub const EXAMPLE_ARRIVAL_MS: i64 = 1_714_564_800_000;

/// Every enricher, in the order they run. Later stages may read what earlier
/// ones found: the page's host before the referrer is classified, the
/// referrer before the channel is derived.
pub const PIPELINE: &[&Enricher] = &[
    &time::ENRICHER,
    &page::ENRICHER,
    // DROP_BOTS: before the enrichers, so a dropped bot costs them nothing.
    &bots::ENRICHER,
    &referrer::ENRICHER,
    &campaign::ENRICHER,
    &fingerprint::ENRICHER,
    &user_agent::ENRICHER,
    // Before the privacy controls: it reads the address they may mask.
    &geo::ENRICHER,
    // Before privacy: its `CONSENT_POLICY=anonymize` edits are made with the
    // privacy stage's code, and that stage's own controls apply on top.
    // Edits are written at the end, so every stage (geo included) reads the
    // address before it is masked.
    &consent::ENRICHER,
    &privacy::ENRICHER,
    // Last: it sees every member and moves what Parquet would lose.
    &extra::ENRICHER,
];

/// Every field any enricher writes, with its enricher, in output order.
pub fn fields() -> impl Iterator<Item = (&'static Enricher, &'static Field)> {
    PIPELINE
        .iter()
        .flat_map(|e| e.fields.iter().map(move |f| (*e, f)))
}

/// The registry entry of a field by name.
pub fn field(name: &str) -> Option<&'static Field> {
    fields().map(|(_, f)| f).find(|f| f.name == name)
}

/// Every variable any enricher declares, with its enricher, in pipeline
/// order.
pub fn variables() -> impl Iterator<Item = (&'static Enricher, &'static Variable)> {
    PIPELINE
        .iter()
        .flat_map(|e| e.variables.iter().map(move |v| (*e, v)))
}

/// The names of the optional enrichers: the values `ENRICHMENTS` accepts
/// besides `none`.
pub fn optional_names() -> impl Iterator<Item = &'static str> {
    PIPELINE.iter().filter(|e| e.optional).map(|e| e.name)
}

/// The field table of the docs, generated from the registry: one row per
/// field, in output order.
pub fn fields_markdown() -> String {
    let mut md = String::from(
        "| field | enricher | JSON | Athena | present | value |\n|---|---|---|---|---|---|\n",
    );
    for (e, f) in fields() {
        let enricher = if e.optional {
            format!("`{}`", e.name)
        } else {
            format!("{} (always)", e.name)
        };
        let present = match f.presence {
            Presence::Always => "always",
            Presence::Nullable => "always, `null` when unknown",
            Presence::Omitted => "only with a value",
        };
        md.push_str(&format!(
            "| `{}` | {} | {} | `{}` | {} | {} |\n",
            f.name,
            enricher,
            f.json_type.name(),
            f.athena_type,
            present,
            f.description
        ));
    }
    md
}

/// The enrichers of the docs, generated from the registry: for each, in
/// pipeline order, its summary, its variables and its examples (event,
/// variables, what the output holds).
pub fn enrichers_markdown() -> String {
    use std::fmt::Write;
    let code_list = |names: &mut dyn Iterator<Item = String>| {
        names
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut md = String::new();
    // Writing to a String cannot fail.
    for e in PIPELINE {
        let switch = if e.optional { "optional" } else { "always on" };
        let _ = write!(
            md,
            "### `{}` ({switch})\n\n{}",
            e.name,
            upper_first(e.summary)
        );
        if !e.fields.is_empty() {
            let fields = code_list(&mut e.fields.iter().map(|f| f.name.to_owned()));
            let _ = write!(md, ". Writes {fields}");
        }
        if !e.variables.is_empty() {
            let vars = code_list(&mut e.variables.iter().map(|v| v.name.to_owned()));
            let _ = write!(md, "; reads {vars}");
        }
        md.push_str(".\n\n");
        for x in e.examples {
            let _ = write!(md, "*{}*", x.title);
            if !x.variables.is_empty() {
                let vars = code_list(&mut x.variables.iter().map(|(n, v)| format!("{n}={v}")));
                let _ = write!(md, ", with {vars}");
            }
            let _ = write!(md, ":\n\n```json\n{}\n```\n\n", x.input);
            match x.output {
                Expected::Dropped(reason) => {
                    let _ = writeln!(md, "`Dropped` (reason `{}`).\n", reason.code());
                }
                Expected::Fields(fields) => {
                    md.push_str("| member | value |\n|---|---|\n");
                    for (name, value) in fields {
                        let value = match value {
                            Some(v) => format!("`{v}`"),
                            None => "*(absent)*".to_owned(),
                        };
                        let _ = writeln!(md, "| `{name}` | {value} |");
                    }
                    md.push('\n');
                }
            }
        }
    }
    md
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// One stage of the pipeline: an enricher built from its configuration.
pub trait Stage: Send + Sync + fmt::Debug {
    /// Reads the record and what earlier stages found, notes what later
    /// stages need in `facts`, and appends this enricher's fields to `out`.
    /// Returns the reason when the record is to be dropped.
    fn run<'a>(
        &self,
        record: &Record<'a>,
        facts: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason>;

    /// Whether the stage has work to do with its configuration. An inactive
    /// stage is left out of the pipeline, like a disabled enricher, and its
    /// fields are not reserved: `extra` without `COLUMNS`.
    fn active(&self) -> bool {
        true
    }
}

/// One record as the enrichers see it: the original text, parsed once.
pub struct Record<'a> {
    /// The JSON object's text, surrounding whitespace removed.
    pub text: &'a str,
    /// The decoded record exactly as received.
    pub data: &'a [u8],
    /// Firehose's `approximateArrivalTimestamp`, epoch milliseconds.
    pub arrival_ms: i64,
    /// For each of the configuration's top-level keys, the index of the
    /// member holding it (the last duplicate's).
    pub(crate) slots: &'a [Option<usize>],
    /// Every top-level member, in order.
    pub(crate) members: &'a [Member],
    /// Whether a configured key appears more than once (so a slot does
    /// not name all its members).
    pub(crate) duplicate_keys: bool,
}

/// One top-level member of a record.
#[derive(Debug, Clone)]
pub struct Member {
    /// Where its value's JSON text lies in [`Record::text`].
    pub value: Range<usize>,
    /// Whether it is one of our fields, which the output replaces.
    pub replaced: bool,
    /// Which of the top-level keys the parser looks for
    /// ([`crate::settings::Env::top_keys`]) its key is, if any.
    pub slot: Option<usize>,
    /// Whether the value is a string without escapes (so reading it needs
    /// no scan for them).
    pub plain_string: bool,
}

/// A change a stage makes to one of the record's top-level members. Only the
/// privacy controls and the Parquet `extra` column change input members;
/// every other member is copied byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Leave the member out of the output.
    Remove,
    /// Write this JSON text as the member's value (the key stays as it is).
    Replace(String),
}

impl<'a> Record<'a> {
    /// The raw JSON text of a field's value; `None` when it is absent or
    /// `null`.
    pub fn value(&self, path: &FieldPath) -> Option<&'a str> {
        let member = self.slots[path.top]?;
        let mut raw = self.member_value(member);
        for segment in &path.nested {
            raw = crate::json::member(raw, segment)?;
        }
        (raw != "null").then_some(raw)
    }

    /// The index of the member holding a path's first segment (the last
    /// duplicate's), if present.
    pub fn member_of(&self, path: &FieldPath) -> Option<usize> {
        self.slots[path.top]
    }

    /// How many top-level members the record has, duplicates included.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// A member's key as raw JSON text, quotes included (it may hold
    /// escapes: see [`crate::time::json_string`] to read it).
    pub fn member_key(&self, i: usize) -> &'a str {
        let value_start = self.members[i].value.start;
        let start = crate::json::key_start(self.text.as_bytes(), value_start);
        // The key ends at its closing quote, before the colon.
        let end = self.text[..value_start].rfind('"').map_or(start, |q| q + 1);
        &self.text[start..end]
    }

    /// A member's value as raw JSON text.
    pub fn member_value(&self, i: usize) -> &'a str {
        &self.text[self.members[i].value.clone()]
    }

    /// Which of the parser's top-level keys a member's key is (see
    /// [`crate::settings::Env::top_key`]); duplicates share a slot.
    pub fn member_slot(&self, i: usize) -> Option<usize> {
        self.members[i].slot
    }

    /// Whether a member is one of our fields (so it is not in the output).
    pub fn member_is_ours(&self, i: usize) -> bool {
        self.members[i].replaced
    }

    /// The first of `paths` that holds a string, unescaped. Fields holding
    /// anything else are passed over; a string that cannot be unescaped (a
    /// lone surrogate, valid JSON text but no Rust string) is still the
    /// first string, and gives `None`.
    pub fn first_string(&self, paths: &[FieldPath]) -> Option<Cow<'a, str>> {
        for path in paths {
            // A top-level string the walk found without escapes is read
            // as it lies: each stage reads one or two fields a record, and
            // scanning each again for escapes was about 700 instructions a
            // record (callgrind).
            if let (Some(i), true) = (self.slots[path.top], path.nested.is_empty()) {
                let m = &self.members[i];
                if m.plain_string {
                    return Some(Cow::Borrowed(
                        &self.text[m.value.start + 1..m.value.end - 1],
                    ));
                }
            }
            if let Some(raw) = self.value(path).filter(|raw| raw.starts_with('"')) {
                return crate::time::json_string(raw);
            }
        }
        None
    }
}

/// What earlier stages found, for later ones.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    /// `event_time`, set by the time stage.
    pub event_time: Option<Formatted>,
    /// The page URL: the first string of `URL_FIELDS`, unescaped.
    pub page_url: Option<Cow<'a, str>>,
    /// `domain`, the page's normalized host.
    pub host: Option<Cow<'a, str>>,
    /// Where `site` starts in `host` (the site is a suffix of the host).
    pub(crate) site_start: usize,
    /// Where the page stage wrote the site's text in the [`Fields`] buffer.
    pub(crate) site_span: Option<Range<usize>>,
    /// What the referrer stage found; `None` when it is not enabled.
    pub referrer: Option<ReferrerFacts<'a>>,
    /// Changes to input members, by member index. When two stages edit the
    /// same member, the later stage's edit wins.
    pub edits: Vec<(usize, Edit)>,
    /// Whether the `extra` stage moved any member, for `MovedToExtra`.
    pub moved_to_extra: bool,
    /// `IP_FIELDS` values (list elements) that were not IP addresses, left
    /// as they were by `ANONYMIZE_IP`.
    pub not_ip: u32,
    /// What the consent stage found, for the batch's counts; `None` when
    /// it is not enabled.
    pub consent: Option<consent::Note>,
}

/// What the referrer stage found, for the channel: all `None` when the
/// record has no referrer with a valid host.
#[derive(Debug, Default)]
pub struct ReferrerFacts<'a> {
    /// `referrer_domain`.
    pub host: Option<Cow<'a, str>>,
    /// `referrer_medium`.
    pub medium: Option<referrer::Medium>,
    /// `referrer_source`.
    pub source: Option<&'static str>,
}

impl Facts<'_> {
    /// `site`, the registrable domain of the page's host.
    pub fn site(&self) -> Option<&str> {
        self.host.as_deref().map(|h| &h[self.site_start..])
    }
}

/// The writer every stage appends its fields through. Each field is written
/// as `,"name":value`; the record layer drops the first comma when the
/// object had no members.
#[derive(Debug, Default)]
pub struct Fields {
    pub(crate) buf: Vec<u8>,
}

/// A per-thread cache of the fields a stage wrote, as text, by what they
/// depend on alone (see [`Fields::write_through`]).
pub(crate) type WrittenCache =
    &'static std::thread::LocalKey<std::cell::RefCell<recent::Recent<Box<[u8]>>>>;

impl Fields {
    /// Appends the fields `write` writes, answered from `cache` by `key`
    /// when seen lately: a hit copies the text written before, and neither
    /// computes nor escapes anything.
    pub(crate) fn write_through(
        &mut self,
        cache: WrittenCache,
        key: &[u8],
        write: impl FnOnce(&mut Fields),
    ) {
        let compute = || {
            // Room for a stage's few fields, so that writing them does not
            // grow the buffer field by field.
            let mut fields = Fields {
                buf: Vec::with_capacity(192),
            };
            write(&mut fields);
            fields.buf.into_boxed_slice()
        };
        recent::read_through(cache, key, compute, |text| self.buf.extend_from_slice(text));
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    fn key(&mut self, name: &str) {
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// A string, escaped as JSON requires.
    #[inline(always)]
    pub fn string(&mut self, name: &str, value: &str) {
        if needs_escape(value.as_bytes()) {
            self.key(name);
            // Writing a str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.buf, value);
        } else {
            self.plain(name, value.as_bytes());
        }
    }

    /// A string that the code itself chose from a fixed set (a channel, a
    /// medium, a list's name): no byte of it needs escaping, which the
    /// registry's tests check for every such set, so it is not scanned.
    #[inline(always)]
    pub fn known(&mut self, name: &str, value: &'static str) {
        debug_assert!(!needs_escape(value.as_bytes()), "{value:?}");
        self.plain(name, value.as_bytes());
    }

    /// A string the code itself wrote in ASCII with nothing to escape (a
    /// formatted time), as bytes: not scanned, and not checked as UTF-8.
    #[inline(always)]
    pub(crate) fn ascii(&mut self, name: &str, value: &[u8]) {
        debug_assert!(value.is_ascii() && !needs_escape(value), "{value:?}");
        self.plain(name, value);
    }

    /// `,"name":"value"` for a value with nothing to escape, with one
    /// capacity check: this runs for every field of every record.
    #[inline(always)]
    fn plain(&mut self, name: &str, value: &[u8]) {
        let buf = &mut self.buf;
        buf.reserve(name.len() + value.len() + 6);
        buf.extend_from_slice(b",\"");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\":\"");
        buf.extend_from_slice(value);
        buf.push(b'"');
    }

    /// 32 lowercase hex digits of a 128-bit value, most significant first.
    pub fn hex128(&mut self, name: &str, value: u128) {
        self.plain(name, &hex128(value));
    }

    /// A string when there is a non-empty value; nothing otherwise.
    pub fn optional(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.string(name, v);
        }
    }

    /// A string, returning where its text lies in the buffer.
    pub(crate) fn string_span(&mut self, name: &str, value: &str) -> Range<usize> {
        self.string(name, value);
        let end = self.buf.len() - 1;
        end - value.len()..end
    }

    /// A whole number.
    pub fn number(&mut self, name: &str, value: u64) {
        self.key(name);
        // Writing into a Vec cannot fail.
        let _ = std::io::Write::write_fmt(&mut self.buf, format_args!("{value}"));
    }

    pub fn null(&mut self, name: &str) {
        self.key(name);
        self.buf.extend_from_slice(b"null");
    }

    pub fn boolean(&mut self, name: &str, value: bool) {
        self.key(name);
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
    }
}

/// Whether JSON needs any of these bytes escaped: the control characters,
/// `"` and `\\`, exactly the bytes serde_json escapes (it writes every
/// other byte of UTF-8 text as it is, so both paths of [`Fields::string`]
/// write the same text).
///
/// Hand-written, eight bytes at a time (SWAR): most values are a few to a
/// few dozen bytes, too short for the compiler's vector loop, and a byte
/// at a time this was the largest cost of writing the enrichers' fields.
/// For a word `w`, `w - 0x01..01 * n & !w & 0x80..80` is non-zero exactly
/// when some byte of `w` is below `n` (for `n` up to 0x80): a byte below
/// 0x20 is a control character, and a zero byte of `w ^ "..."` or
/// `w ^ \\...` is a quote or a backslash.
#[inline(always)]
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let special = |w: u64| {
        below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
    };
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or_default());
    if bytes.len() < 8 {
        return bytes.iter().fold(false, |seen, &b| {
            seen | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut seen = chunks.by_ref().fold(0, |seen, c| seen | special(word(c)));
    if !chunks.remainder().is_empty() {
        // The last eight bytes, overlapping the chunks already read.
        seen |= special(word(&bytes[bytes.len() - 8..]));
    }
    seen != 0
}

/// 32 lowercase hex digits, most significant first. Hand-written: `format!`
/// would allocate for every record, and a digit at a time cost more than
/// hashing the record; this spreads each half's nibbles into bytes and
/// turns them into digits sixteen at a time (SWAR).
fn hex128(value: u128) -> [u8; 32] {
    let mut hex = [0u8; 32];
    let (high, low) = hex.split_at_mut(16);
    high.copy_from_slice(&hex64((value >> 64) as u64).to_be_bytes());
    low.copy_from_slice(&hex64(value as u64).to_be_bytes());
    hex
}

/// The 16 hex digits of `v` as the bytes of a u128, most significant digit
/// in the most significant byte.
fn hex64(v: u64) -> u128 {
    const fn bytes(b: u8) -> u128 {
        u128::from_ne_bytes([b; 16])
    }
    // Nibble j of `v` (from the least significant) to byte j: halve the
    // spacing three times, then split each byte's two nibbles.
    let mut x = u128::from(v);
    x = (x | (x << 32)) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & bytes(0x0f);
    // A nibble n is '0' + n, plus 'a' - '9' - 1 when n > 9 (n + 6 > 15).
    let letters = ((x + bytes(6)) >> 4) & bytes(1);
    x + bytes(b'0') + letters * u128::from(b'a' - b'9' - 1)
}

/// The stages of the enabled enrichers, built and validated at start-up,
/// and what the record layer needs to run them: the keys its parser looks
/// for, indexed. This is all of a configuration the record layer sees.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub(crate) stages: Vec<Arc<dyn Stage>>,
    /// The fields the enabled enrichers write: same-named input members are
    /// replaced by ours.
    pub(crate) reserved: Vec<&'static str>,
    /// The names of the enabled optional enrichers, in pipeline order.
    pub(crate) enabled: Vec<&'static str>,
    /// How many top-level keys the field lists name (a record's slots).
    pub(crate) slots: usize,
    /// Those keys and the reserved fields, indexed for the record parser.
    pub(crate) key_index: KeyIndex,
}

impl Pipeline {
    /// Builds every always-on enricher of `enrichers` (the registry's
    /// [`PIPELINE`], or a test's own) and the optional ones in `enabled`,
    /// and indexes the keys `env`'s field lists name.
    pub(crate) fn build(
        enrichers: &[&Enricher],
        env: &mut Env<'_>,
        enabled: &[&str],
    ) -> Result<Pipeline, ConfigError> {
        let mut pipeline = Pipeline::default();
        for e in enrichers {
            if e.optional && !enabled.contains(&e.name) {
                continue;
            }
            let stage = (e.build)(env)?;
            if !stage.active() {
                continue;
            }
            pipeline.stages.push(stage);
            pipeline.reserved.extend(e.fields.iter().map(|f| f.name));
            if e.optional {
                pipeline.enabled.push(e.name);
            }
        }
        pipeline.index(env.top_keys());
        Ok(pipeline)
    }

    /// Indexes the top-level keys the record parser looks for (those
    /// [`Env::top_keys`] lists) and the reserved fields.
    pub(crate) fn index(&mut self, top_keys: &[String]) {
        self.slots = top_keys.len();
        self.key_index = KeyIndex::new(top_keys, &self.reserved);
    }

    /// The names of the fields the enabled enrichers write, in output order.
    pub fn fields(&self) -> &[&'static str] {
        &self.reserved
    }

    /// The enabled optional enrichers, in pipeline order.
    pub fn enabled(&self) -> &[&'static str] {
        &self.enabled
    }
}

impl AsRef<Pipeline> for Pipeline {
    fn as_ref(&self) -> &Pipeline {
        self
    }
}

/// What a top-level key is to us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KeyMatch {
    pub(crate) slot: Option<usize>,
    pub(crate) replaced: bool,
}

/// The configured keys ([`Env::top_keys`]) and the output fields, by
/// length. Every member of every record is looked up here; with the
/// default enrichers that is some forty names, and comparing each in turn
/// cost more than the enrichers' own work. Grouped by length, a key meets
/// at most a few names, most often none.
///
/// Each name also carries its first eight bytes as a number, compared
/// first: most keys differ there, and a name of eight bytes or fewer is
/// then matched without a call to `memcmp` (which, called for each
/// candidate, cost about 900 instructions a record: callgrind).
#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    by_len: Vec<Vec<(u64, Box<str>, KeyMatch)>>,
}

/// The first eight bytes of `key` as a little-endian number, zero-padded.
#[inline(always)]
fn head(key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key[..n]);
    u64::from_le_bytes(bytes)
}

impl KeyIndex {
    pub(crate) fn new(keys: &[String], reserved: &[&str]) -> KeyIndex {
        let mut index = KeyIndex::default();
        let names = keys
            .iter()
            .map(String::as_str)
            .chain(reserved.iter().copied());
        for name in names {
            if index.by_len.len() <= name.len() {
                index.by_len.resize(name.len() + 1, Vec::new());
            }
            let bucket = &mut index.by_len[name.len()];
            if bucket.iter().any(|(_, n, _)| &**n == name) {
                continue;
            }
            let found = KeyMatch {
                slot: keys.iter().position(|k| k == name),
                replaced: reserved.contains(&name),
            };
            bucket.push((head(name.as_bytes()), name.into(), found));
        }
        index
    }

    pub(crate) fn find(&self, key: &[u8]) -> KeyMatch {
        let Some(bucket) = self.by_len.get(key.len()) else {
            return KeyMatch::default();
        };
        let h = head(key);
        bucket
            .iter()
            .find(|(nh, n, _)| *nh == h && (key.len() <= 8 || n.as_bytes()[8..] == key[8..]))
            .map_or(KeyMatch::default(), |(_, _, m)| *m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_finds_exactly_its_names() {
        let keys: Vec<String> = ["anonymous_id", "url", "ip", "user_agent_raw", "x"]
            .map(String::from)
            .to_vec();
        let index = KeyIndex::new(&keys, &["user_agent", "event_time", "site"]);
        let cases: &[(&[u8], Option<usize>, bool)] = &[
            // --- edge cases: same length or same first eight bytes ---
            (b"", None, false),
            (b"anonymous_ix", None, false),
            (b"anonymous_i", None, false),
            (b"user_agent_raX", None, false),
            (b"user_agenT", None, false),
            (b"uri", None, false),
            (b"url\0", None, false),
            (b"URL", None, false),
            (b"y", None, false),
            (b"sitex", None, false),
            // --- the names ---
            (b"anonymous_id", Some(0), false),
            (b"url", Some(1), false),
            (b"ip", Some(2), false),
            (b"user_agent_raw", Some(3), false),
            (b"x", Some(4), false),
            (b"user_agent", None, true),
            (b"event_time", None, true),
            (b"site", None, true),
        ];
        for (key, slot, replaced) in cases {
            let got = index.find(key);
            assert_eq!(
                (got.slot, got.replaced),
                (*slot, *replaced),
                "{:?}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn field_names_are_unique_lowercase_column_names() {
        let mut seen = std::collections::HashSet::new();
        for (e, f) in fields() {
            assert!(seen.insert(f.name), "{} declared twice", f.name);
            assert!(
                f.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}: Glue stores lowercase names of [a-z0-9_]",
                f.name
            );
            assert!(!f.description.is_empty(), "{} has no description", f.name);
            assert!(
                !e.optional || f.presence == Presence::Omitted,
                "{}: new fields are omitted when they have no value",
                f.name
            );
        }
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let cases: &[(&str, &str)] = &[
            // --- edge cases ---
            ("", r#""""#),
            ("\0", r#""\u0000""#),
            ("\u{1f}", r#""\u001f""#),
            (" ", r#"" ""#),
            ("\u{7f}", "\"\u{7f}\""),
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("a\nb", r#""a\nb""#),
            // A byte to escape after 32 plain ones (past a vector's width).
            (
                "0123456789abcdef0123456789abcdef\"",
                r#""0123456789abcdef0123456789abcdef\"""#,
            ),
            // --- plain text, written as it is ---
            ("Chrome Mobile", r#""Chrome Mobile""#),
            ("münchen.de", r#""münchen.de""#),
            ("日本語 🎉", r#""日本語 🎉""#),
        ];
        for (value, want) in cases {
            let mut f = Fields::default();
            f.string("k", value);
            assert_eq!(
                std::str::from_utf8(&f.buf).unwrap(),
                format!(",\"k\":{want}"),
                "{value:?}"
            );
            assert_eq!(*want, serde_json::to_string(value).unwrap(), "{value:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(value in "\\PC*|[\\x00-\\x7f]{0,80}") {
            let mut f = Fields::default();
            f.string("k", &value);
            let want = format!(",\"k\":{}", serde_json::to_string(&value).unwrap());
            proptest::prop_assert_eq!(std::str::from_utf8(&f.buf).unwrap(), want);
        }
    }

    /// Every byte value, at every position of strings of 1 to 24 bytes
    /// (short of a word, a whole word, words and a tail): the word-at-a-time
    /// check agrees with the byte-at-a-time definition.
    #[test]
    fn needs_escape_agrees_byte_by_byte() {
        let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        for len in 1..=24 {
            for at in 0..len {
                for b in 0..=255u8 {
                    // Neighbours that sit next to the special bytes in value:
                    // a borrow from one byte must not flag another.
                    for fill in [b'a', 0x21, 0x1f + 1, b'"' + 1, b'\\' + 1, 0x80, 0xff] {
                        let mut bytes = vec![fill; len];
                        bytes[at] = b;
                        assert_eq!(needs_escape(&bytes), special(b), "{bytes:?}");
                    }
                }
            }
        }
        assert!(!needs_escape(b""));
    }

    /// The values written through [`Fields::known`], unscanned: none is
    /// empty (an empty value is omitted elsewhere) or needs escaping.
    #[test]
    fn known_values_need_no_escape() {
        use super::referrer::Medium;
        let mut known: Vec<&str> = campaign::CHANNELS.to_vec();
        known.extend(
            campaign::CLICK_IDS
                .iter()
                .filter_map(|id| campaign::network(id)),
        );
        known.extend(Medium::ALL.map(Medium::as_str));
        known.extend(bots::Category::ALL.map(bots::Category::as_str));
        known.extend(referrer::source_names());
        assert!(known.len() > 400, "{}", known.len());
        for value in known {
            assert!(
                !value.is_empty() && !needs_escape(value.as_bytes()),
                "{value:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_hex128_is_format_x(value: u128) {
            proptest::prop_assert_eq!(hex128(value).to_vec(), format!("{value:032x}").into_bytes());
        }
    }

    #[test]
    fn hex128_is_format_x() {
        for value in [
            0,
            1,
            0xf,
            u128::MAX,
            1 << 127,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            let mut f = Fields::default();
            f.hex128("h", value);
            assert_eq!(
                std::str::from_utf8(&f.buf).unwrap(),
                format!(",\"h\":\"{value:032x}\"")
            );
        }
    }

    /// A stage that edits members by key, as the privacy controls do.
    #[derive(Debug)]
    struct EditByKey(Vec<(&'static str, Edit)>);

    impl Stage for EditByKey {
        fn run<'a>(
            &self,
            record: &Record<'a>,
            facts: &mut Facts<'a>,
            _: &mut Fields,
        ) -> Result<(), DropReason> {
            for i in 0..record.member_count() {
                let key = crate::time::json_string(record.member_key(i)).unwrap();
                for (name, edit) in &self.0 {
                    if key == *name {
                        facts.edits.push((i, edit.clone()));
                    }
                }
            }
            Ok(())
        }
    }

    #[test]
    fn stages_edit_members_and_everything_else_is_kept() {
        let replace = |v: &str| Edit::Replace(v.to_owned());
        type Case = (&'static str, Vec<(&'static str, Edit)>, &'static str);
        let cases: &[Case] = &[
            // --- edge cases ---
            (r#"{}"#, vec![("a", Edit::Remove)], "{"),
            (r#"{"a":1}"#, vec![("a", Edit::Remove)], "{"),
            (
                r#"{"a":1,"a":2}"#,
                vec![("a", replace("0"))],
                r#"{"a":0,"a":0,"#,
            ),
            (
                r#"{"a":1,"b":2}"#,
                vec![("a", replace("3")), ("a", Edit::Remove)],
                r#"{"b":2,"#,
            ),
            (
                r#"{"a" : 1 ,"b":2}"#,
                vec![("a", replace(r#""x""#))],
                // Replacements alone keep the text around them as it was.
                r#"{"a" : "x" ,"b":2,"#,
            ),
            (r#"{"site":"x","a":1}"#, vec![("a", Edit::Remove)], "{"),
            // A member of ours and a replacement: rebuilt member by member.
            (
                r#"{"site":"x", "a":1}"#,
                vec![("a", replace("2"))],
                r#"{"a":2,"#,
            ),
            (
                r#"{"b" : 1, "a":1}"#,
                vec![("a", replace("2")), ("b", Edit::Remove)],
                r#"{"a":2,"#,
            ),
            (
                r#"{ "b" : [1, 2] , "a":{"n":1} }"#,
                vec![("a", replace("{}"))],
                r#"{ "b" : [1, 2] , "a":{} ,"#,
            ),
            // --- the plain case ---
            (
                r#"{"a":1,"b":"k"}"#,
                vec![("b", replace(r#""h""#))],
                r#"{"a":1,"b":"h","#,
            ),
        ];
        for (input, edits, want) in cases {
            let mut config =
                crate::Config::from_lookup(|v| (v == "ENRICHMENTS").then(|| "none".into()))
                    .unwrap();
            config
                .pipeline
                .stages
                .push(Arc::new(EditByKey(edits.clone())));
            let t = crate::record::transform(input.as_bytes(), 0, &config);
            let line = String::from_utf8(t.data).unwrap();
            assert!(line.starts_with(want), "{input}: {line}");
            let rest = &line[want.len()..];
            assert!(rest.starts_with(r#""event_time":"#), "{input}: {line}");
            let _: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        }
    }

    #[test]
    fn fields_writer_escapes() {
        let cases: &[(&str, &str)] = &[
            ("", r#","f":"""#),
            ("plain", r#","f":"plain""#),
            ("a\"b", r#","f":"a\"b""#),
            ("a\\b", r#","f":"a\\b""#),
            ("line\nbreak", r#","f":"line\nbreak""#),
            ("tab\t", r#","f":"tab\t""#),
            ("\u{1}", r#","f":"\u0001""#),
            ("é", r#","f":"é""#),
            ("\u{7f}", ",\"f\":\"\u{7f}\""),
        ];
        for (value, want) in cases {
            let mut w = Fields::default();
            w.string("f", value);
            assert_eq!(std::str::from_utf8(&w.buf).unwrap(), *want, "{value:?}");
        }
        let mut w = Fields::default();
        w.optional("a", None);
        w.optional("b", Some(""));
        assert!(w.buf.is_empty(), "absent and empty values are omitted");
        w.boolean("c", true);
        w.null("d");
        assert_eq!(
            std::str::from_utf8(&w.buf).unwrap(),
            r#","c":true,"d":null"#
        );
    }

    #[test]
    fn key_index_finds_slots_and_reserved_names() {
        let keys = ["ts".to_owned(), "url".to_owned(), "domain".to_owned()];
        let index = KeyIndex::new(&keys, &["site", "domain", "event_time"]);
        let m = |slot, replaced| KeyMatch { slot, replaced };
        let cases = [
            ("", m(None, false)),
            ("t", m(None, false)),
            ("tS", m(None, false)),
            ("urls", m(None, false)),
            ("a_key_longer_than_any_configured_name", m(None, false)),
            ("ts", m(Some(0), false)),
            ("url", m(Some(1), false)),
            ("domain", m(Some(2), true)),
            ("site", m(None, true)),
            ("sitE", m(None, false)),
            ("event_time", m(None, true)),
        ];
        for (key, want) in cases {
            assert_eq!(index.find(key.as_bytes()), want, "{key:?}");
        }
    }
}
