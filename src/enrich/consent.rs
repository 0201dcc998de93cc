//! `consent_*`: what the visitor agreed to, decoded from the IAB consent
//! string the page sent, and what the pipeline does when it is not enough.
//!
//! The string is the first non-empty string of `CONSENT_FIELDS`: a TC
//! string (IAB TCF v2, v2.2 included) or a GPP string, whose EU TCF section
//! (id 2) is a TC string too. Only the core segment is read: the purposes
//! with consent and with legitimate interest, the vendors with consent, the
//! CMP, the creation time and the policy version. The optional segments
//! (disclosed vendors, allowed vendors, publisher TC) are not decoded.
//!
//! `consent_status` sums it up:
//!
//! - `gpc`: a `GPC_FIELDS` value is `true` (Global Privacy Control), a
//!   refusal whatever the string says;
//! - `missing`: no string, an empty one (CMPs send `""` before a choice and
//!   where the GDPR does not apply), or a GPP string without an EU section;
//! - `invalid`: the string does not decode; why is counted per batch;
//! - `granted`: every purpose of `CONSENT_REQUIRED_PURPOSES` has consent and,
//!   when `CONSENT_VENDOR_ID` is set, so does that vendor;
//! - `denied`: otherwise.
//!
//! `CONSENT_POLICY` acts on every status but `granted` (and `missing` only
//! with `CONSENT_MISSING=deny`): `anonymize` masks `IP_FIELDS`, removes
//! `ID_FIELDS` and the raw user agent and strips the query strings, through
//! the privacy stage's own code ([`super::privacy`]); `drop` answers
//! `Dropped` (`no_consent`). Edits are applied when the record is written,
//! so every stage (geo included) reads the record as received.
//!
//! # The decoders, and the check in front of them
//!
//! TC strings are decoded by `lib_tcstring` 0.5 and GPP strings are split
//! into sections by `iab_gpp` 0.1. Both were read and tested (`tests` below):
//! they decode what the IAB publishes, and strings built bit by bit here.
//! But neither may see a string from the internet unchecked:
//!
//! - `lib_tcstring` indexes its bytes without a bounds check in several
//!   places (the bit after each vendor section's `MaxVendorId`, a range
//!   entry's `IsARange` bit when the string ends exactly before it), so a
//!   truncated string panics; and a range ending at vendor 65535 overflows
//!   `end + 1` (a panic with overflow checks, an empty range without).
//! - Both expand vendor ranges into every id they cover: 4,095 range entries
//!   of 65,535 ids each fit in 17 KB of string and allocate half a gigabyte.
//! - `iab_gpp` reads a TC string's publisher restrictions as GPP's
//!   "optimized" ranges, which a TC string does not use (a string with
//!   restrictions fails or decodes wrong; tested below), and adds Fibonacci
//!   offsets without overflow checks.
//!
//! So [`check_core`] walks the core segment's layout first (a few dozen
//! lines: no value is decoded there, only lengths and range bounds) and
//! rejects any string the decoder would read past, any range that is
//! descending or ends at 65535, and strings whose ranges cover more than
//! [`MAX_RANGE_IDS`] ids. Only the core segment is handed to
//! `lib_tcstring`, also for the GPP EU section; `iab_gpp` only splits the
//! GPP string. Each call runs under `catch_unwind` as well, so that a case
//! the check missed still answers `invalid`, never fails the record.

use super::privacy::{self, Privacy};
use super::{Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, Stage};
use crate::reason::DropReason;
use crate::settings::{form, ConfigError, Env, FieldPath, Variable};
use base64::Engine;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

pub const ENRICHER: Enricher = Enricher {
    name: "consent",
    optional: true,
    summary: "what the visitor consented to, from the IAB TCF v2 or GPP string; CONSENT_POLICY anonymizes or drops events without consent",
    fields: FIELDS,
    // Its own; for `anonymize` it also reads `IP_FIELDS` and
    // `KEEP_QUERY_PARAMS` (privacy's) and `URL_FIELDS`, `REFERRER_FIELDS`
    // and `USER_AGENT_FIELDS` (core).
    variables: &[
        Variable {
            name: "CONSENT_FIELDS",
            default: "tcString,gpp,consent.tcString",
            form: "a comma-separated list of field names or dotted paths, e.g. `tcString,consent.gpp`",
            meaning: "where the consent string is, for the `consent` enricher: the first non-empty string, a TC string (TCF v2) or a GPP string",
        },
        Variable {
            name: "GPC_FIELDS",
            default: "gpc",
            form: "a comma-separated list of field names or dotted paths, e.g. `gpc,context.gpc`",
            meaning: "where the Global Privacy Control signal is: `true`, `1`, `\"1\"` or `\"true\"` in any of them makes `consent_status` `gpc`, a refusal",
        },
        Variable {
            name: "CONSENT_REQUIRED_PURPOSES",
            default: "1",
            form: "empty (any valid string grants), or a comma-separated list of TCF purpose ids from 1 to 24, e.g. `1,8,9`",
            meaning: "the purposes that must all have consent for `consent_status` to be `granted`; the default, purpose 1 (store and/or access information on a device), is the one the identifiers in `ID_FIELDS` rely on (see [Consent](privacy.md#consent))",
        },
        Variable {
            name: "CONSENT_VENDOR_ID",
            default: "",
            form: "empty, or a TCF vendor id from 1 to 65534",
            meaning: "empty: off. when set, `consent_vendor` is written and `granted` also needs this vendor's consent",
        },
        Variable {
            name: "CONSENT_POLICY",
            default: "off",
            form: "`off`, `anonymize` or `drop`; other than `off`, `consent` must be in `ENRICHMENTS`",
            meaning: "what happens to an event whose `consent_status` is not `granted`: `anonymize` masks `IP_FIELDS` (as `ANONYMIZE_IP`), removes `ID_FIELDS` and the raw user agent, strips query strings (as `STRIP_QUERY`); `drop` answers `Dropped` (`no_consent`)",
        },
        Variable {
            name: "CONSENT_MISSING",
            default: "allow",
            form: "`allow` or `deny`",
            meaning: "whether `CONSENT_POLICY` also acts on `consent_status` `missing` (`deny`) or lets it through (`allow`)",
        },
        Variable {
            name: "ID_FIELDS",
            default: "anonymous_id,user_id,client_id,session_id,device_id",
            form: form::PATH_LIST,
            meaning: "the identifiers `CONSENT_POLICY=anonymize` removes from events without consent",
        },
    ],
    examples: &[
        Example {
            title: "No consent string: `missing`, let through by default",
            input: r#"{"url":"https://shop.example/cart","anonymous_id":"a1"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("consent_status", Some(r#""missing""#)),
                ("consent_purposes", None),
                ("anonymous_id", Some(r#""a1""#)),
            ]),
        },
        Example {
            title: "Global Privacy Control under `CONSENT_POLICY=anonymize`: identifiers removed",
            input: r#"{"url":"https://shop.example/cart?email=a@b.example","anonymous_id":"a1","gpc":true}"#,
            variables: &[("CONSENT_POLICY", "anonymize")],
            output: Expected::Fields(&[
                ("consent_status", Some(r#""gpc""#)),
                ("anonymous_id", None),
                ("url", Some(r#""https://shop.example/cart""#)),
            ]),
        },
        Example {
            title: "A TC string without purpose 1 under `CONSENT_POLICY=drop`",
            input: r#"{"url":"https://shop.example/","tcString":"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"}"#,
            variables: &[("CONSENT_POLICY", "drop")],
            output: Expected::Dropped(DropReason::NoConsent),
        },
    ],
    build,
};

const FIELDS: &[Field] = &[
    Field {
        name: "consent_purposes",
        json_type: JsonType::String,
        athena_type: "string",
        presence: Presence::Omitted,
        description: "the TCF purposes with consent, ascending, comma-separated (`1,2,7,8,9,10`; query with `contains(split(consent_purposes, ','), '1')`)",
    },
    Field {
        name: "consent_li_purposes",
        json_type: JsonType::String,
        athena_type: "string",
        presence: Presence::Omitted,
        description: "the TCF purposes with legitimate interest established (and not objected to), same form",
    },
    Field {
        name: "consent_vendor",
        json_type: JsonType::Boolean,
        athena_type: "boolean",
        presence: Presence::Omitted,
        description: "whether vendor `CONSENT_VENDOR_ID` has consent (only when that is set and the string decodes)",
    },
    Field {
        name: "consent_cmp_id",
        json_type: JsonType::Number,
        athena_type: "bigint",
        presence: Presence::Omitted,
        description: "the id of the CMP that last updated the string (IAB CMP list)",
    },
    Field {
        name: "consent_created",
        json_type: JsonType::String,
        athena_type: "timestamp",
        presence: Presence::Omitted,
        description: "when the string was created, UTC, as `event_time` (TCF 2.2 CMPs round it to the day)",
    },
    Field {
        name: "consent_policy_version",
        json_type: JsonType::Number,
        athena_type: "bigint",
        presence: Presence::Omitted,
        description: "the TCF policy version the string was made under (4 or later for TCF 2.2)",
    },
    Field {
        name: "consent_status",
        json_type: JsonType::String,
        athena_type: "string",
        presence: Presence::Omitted,
        description: "`granted`, `denied`, `missing`, `invalid` or `gpc` (see [Consent](privacy.md#consent)); written whenever the enricher runs",
    },
];

// ---------------------------------------------------------------------------
// Status and reasons
// ---------------------------------------------------------------------------

/// What `consent_status` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Granted,
    Denied,
    Missing,
    Invalid,
    Gpc,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Granted,
        Status::Denied,
        Status::Missing,
        Status::Invalid,
        Status::Gpc,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Status::Granted => "granted",
            Status::Denied => "denied",
            Status::Missing => "missing",
            Status::Invalid => "invalid",
            Status::Gpc => "gpc",
        }
    }
}

/// Why a consent string is `invalid`: counted per batch in the metrics line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invalid {
    /// Longer than [`MAX_STRING_BYTES`].
    TooLong,
    /// Neither a TC string of version 2 nor a GPP string (a TCF v1 string,
    /// or anything else).
    Unsupported,
    /// Not base64url.
    BadBase64,
    /// Ends before its layout does.
    Truncated,
    /// A vendor range that is descending, ends at 65535, or ranges covering
    /// more than [`MAX_RANGE_IDS`] ids.
    BadRange,
    /// A GPP string whose header does not decode or does not match its
    /// sections.
    BadGpp,
    /// The decoder refused what the check let through.
    Decoder,
    /// The decoder panicked, caught: a case the check should have refused.
    /// Tests and the fuzz target check it never happens.
    DecoderPanic,
}

impl Invalid {
    pub const ALL: [Invalid; 8] = [
        Invalid::TooLong,
        Invalid::Unsupported,
        Invalid::BadBase64,
        Invalid::Truncated,
        Invalid::BadRange,
        Invalid::BadGpp,
        Invalid::Decoder,
        Invalid::DecoderPanic,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Invalid::TooLong => "too_long",
            Invalid::Unsupported => "unsupported",
            Invalid::BadBase64 => "bad_base64",
            Invalid::Truncated => "truncated",
            Invalid::BadRange => "bad_range",
            Invalid::BadGpp => "bad_gpp",
            Invalid::Decoder => "decoder",
            Invalid::DecoderPanic => "decoder_panic",
        }
    }
}

/// What one record's consent came to, for the batch's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    pub status: Status,
    /// Why the string did not decode, when it did not (also under `gpc`).
    pub invalid: Option<Invalid>,
}

/// Consent counts of one batch: by status and by invalid reason, in
/// [`Status::ALL`] and [`Invalid::ALL`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub status: [usize; Status::ALL.len()],
    pub invalid: [usize; Invalid::ALL.len()],
}

impl Counts {
    pub fn add(&mut self, note: Note) {
        self.status[note.status as usize] += 1;
        if let Some(reason) = note.invalid {
            self.invalid[reason as usize] += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.status.iter().all(|&n| n == 0)
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// The longest consent string decoded. Real TC strings are a few hundred
/// bytes to a few kilobytes (a cookie holds at most 4 KB).
pub const MAX_STRING_BYTES: usize = 8192;

/// The most vendor ids a TC string's ranges may cover in all: each decoder
/// stores every id of every range. The vendor list has a few thousand ids.
pub const MAX_RANGE_IDS: u32 = 65_536;

/// What the enricher reads of a decoded TC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Bit `p - 1` set: purpose `p` has consent.
    pub purposes: u32,
    /// Bit `p - 1` set: purpose `p` has legitimate interest established.
    pub li_purposes: u32,
    /// The vendor ids with consent, ascending.
    pub vendors: Vec<u16>,
    pub cmp_id: u16,
    /// Epoch milliseconds (the string stores deciseconds).
    pub created_ms: i64,
    pub policy_version: u8,
}

/// What a consent string decodes to: `Ok(None)` when it carries no TCF
/// consent (empty, or a GPP string without an EU section).
pub fn decode(s: &str) -> Result<Option<Decoded>, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > MAX_STRING_BYTES {
        return Err(Invalid::TooLong);
    }
    match s.as_bytes()[0] {
        b'C' => decode_tc(s).map(Some),
        // A GPP header starts with type 3 (`D`), then version 1 (`B`).
        b'D' => decode_gpp(s),
        _ => Err(Invalid::Unsupported),
    }
}

/// A GPP string's EU TCF section, decoded; `None` without one.
fn decode_gpp(s: &str) -> Result<Option<Decoded>, Invalid> {
    use iab_gpp::sections::SectionId;
    check_gpp_header(s.split('~').next().unwrap_or_default())?;
    let gpp = catch_unwind(|| iab_gpp::v1::GPPString::parse_str(s))
        .map_err(|_| Invalid::DecoderPanic)?
        .map_err(|_| Invalid::BadGpp)?;
    match gpp.section(SectionId::TcfEuV2) {
        Some("") => Err(Invalid::Truncated),
        Some(section) if section.starts_with('C') => decode_tc(section).map(Some),
        Some(_) => Err(Invalid::Unsupported),
        None => Ok(None),
    }
}

/// The engine `lib_tcstring` uses (URL-safe alphabet, no padding, no stray
/// trailing bits), so that the check rejects exactly what it would.
const BASE64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::general_purpose::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
);

/// A TC string's core segment, checked, then decoded by `lib_tcstring`.
fn decode_tc(s: &str) -> Result<Decoded, Invalid> {
    let core = s.split('.').next().unwrap_or_default();
    let bytes = BASE64URL.decode(core).map_err(|_| Invalid::BadBase64)?;
    check_core(&bytes)?;
    let model = catch_unwind(AssertUnwindSafe(|| lib_tcstring::TcModelV2::try_from(core)))
        .map_err(|_| Invalid::DecoderPanic)?
        .map_err(|e| match e {
            lib_tcstring::TcsError::InsufficientLength => Invalid::Truncated,
            lib_tcstring::TcsError::UnsupportedVersion => Invalid::Unsupported,
            lib_tcstring::TcsError::InvalidUrlSafeBase64(_) => Invalid::BadBase64,
            _ => Invalid::Decoder,
        })?;
    let mask = |list: &[u8]| {
        list.iter()
            .filter(|p| (1..=24).contains(*p))
            .fold(0u32, |m, p| m | 1 << (p - 1))
    };
    let mut vendors = model.vendors_consent;
    vendors.sort_unstable();
    vendors.dedup();
    Ok(Decoded {
        purposes: mask(&model.purposes_consent),
        li_purposes: mask(&model.purposes_li_transparency),
        vendors,
        cmp_id: model.cmp_id,
        // 36 bits of deciseconds, times 100: well within i64.
        created_ms: i64::try_from(model.created_at).unwrap_or(0),
        policy_version: u8::try_from(model.tcf_policy_version).unwrap_or(u8::MAX),
    })
}

/// Bits of a byte string, most significant first, every read bounds-checked.
struct Bits<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn skip(&mut self, n: usize) -> Result<(), Invalid> {
        if self.at + n > self.bytes.len() * 8 {
            return Err(Invalid::Truncated);
        }
        self.at += n;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<u32, Invalid> {
        if self.at + n > self.bytes.len() * 8 {
            return Err(Invalid::Truncated);
        }
        let mut v = 0u32;
        for i in self.at..self.at + n {
            v = v << 1 | u32::from(self.bytes[i / 8] >> (7 - i % 8) & 1);
        }
        self.at += n;
        Ok(v)
    }
}

/// The bits before a TC string's vendor consent section.
const CORE_FIXED_BITS: usize = 213;

/// Walks a TC core segment's layout (TCF v2 "The Core String"): the fixed
/// fields, the vendor consent and vendor legitimate interest sections (each
/// a bit field or range entries), and the publisher restrictions. Nothing is
/// decoded here; see the module's documentation for why it exists.
fn check_core(bytes: &[u8]) -> Result<(), Invalid> {
    let mut bits = Bits { bytes, at: 0 };
    if bits.take(6)? != 2 {
        return Err(Invalid::Unsupported);
    }
    bits.skip(CORE_FIXED_BITS - 6)?;
    let mut ids = 0u32;
    for _ in 0..2 {
        let max_vendor_id = bits.take(16)? as usize;
        if bits.take(1)? == 1 {
            ranges(&mut bits, &mut ids)?;
        } else {
            bits.skip(max_vendor_id)?;
        }
    }
    let restrictions = bits.take(12)?;
    for _ in 0..restrictions {
        // Purpose id and restriction type, then range entries.
        bits.take(8)?;
        ranges(&mut bits, &mut ids)?;
    }
    Ok(())
}

/// One range section: `NumEntries`, then each entry's bounds.
fn ranges(bits: &mut Bits<'_>, ids: &mut u32) -> Result<(), Invalid> {
    let entries = bits.take(12)?;
    for _ in 0..entries {
        let (start, end) = if bits.take(1)? == 1 {
            (bits.take(16)?, bits.take(16)?)
        } else {
            let only = bits.take(16)?;
            (only, only)
        };
        if start > end || end == u32::from(u16::MAX) {
            return Err(Invalid::BadRange);
        }
        *ids += end - start + 1;
        if *ids > MAX_RANGE_IDS {
            return Err(Invalid::BadRange);
        }
    }
    Ok(())
}

/// Walks a GPP header (type 3, version 1, then the section ids as a
/// Fibonacci-coded range) and refuses any id past 255 or any entry longer
/// than such an id needs. `iab_gpp` adds these in `u8` without overflow
/// checks (a panic in a debug build, a wrong id in a release build);
/// refused here, every sum it makes stays in range. (It also keeps the
/// offset of a single id, not the id, as the base of the next one, so a
/// third section may get a wrong id; the EU section, id 2, comes first
/// and is read right.)
fn check_gpp_header(header: &str) -> Result<(), Invalid> {
    let mut bits = Vec::with_capacity(header.len() * 6);
    for c in header.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return Err(Invalid::BadGpp),
        };
        bits.extend((0..6).rev().map(|i| v >> i & 1));
    }
    let mut at = 0;
    let mut take = |n: usize| -> Result<u32, Invalid> {
        let field = bits.get(at..at + n).ok_or(Invalid::BadGpp)?;
        at += n;
        Ok(field.iter().fold(0, |v, &b| v << 1 | u32::from(b)))
    };
    if take(6)? != 3 || take(6)? != 1 {
        return Err(Invalid::BadGpp);
    }
    // A Fibonacci-coded integer: bit i adds F(i + 2), `11` ends it.
    let fibonacci = |take: &mut dyn FnMut(usize) -> Result<u32, Invalid>| {
        let (mut value, mut fib, mut next, mut last) = (0u32, 1u32, 2u32, 0u32);
        loop {
            let bit = take(1)?;
            if bit == 1 && last == 1 {
                return Ok(value);
            }
            value += bit * fib;
            if value > 255 || fib > 255 {
                return Err(Invalid::BadGpp);
            }
            (fib, next) = (next, fib + next);
            last = bit;
        }
    };
    let entries = take(12)?;
    let mut last_id = 0u32;
    for _ in 0..entries {
        let (start, end) = if take(1)? == 1 {
            let start = last_id + fibonacci(&mut take)?;
            (start, start + fibonacci(&mut take)?)
        } else {
            let id = last_id + fibonacci(&mut take)?;
            (id, id)
        };
        if start > 255 || end > 255 {
            return Err(Invalid::BadGpp);
        }
        last_id = end;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// `CONSENT_POLICY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Off,
    Anonymize,
    Drop,
}

#[derive(Debug)]
struct Consent {
    fields: Vec<FieldPath>,
    gpc_fields: Vec<FieldPath>,
    /// Bit `p - 1` set: purpose `p` is required.
    required: u32,
    vendor: Option<u16>,
    policy: Policy,
    /// `CONSENT_MISSING=deny`.
    missing_denies: bool,
    /// `anonymize`'s edits, made by the privacy stage's code.
    anonymizer: Option<Privacy>,
}

fn policy(env: &Env<'_>) -> Result<Policy, ConfigError> {
    let (name, value) = env.get("CONSENT_POLICY");
    match value.trim() {
        "off" => Ok(Policy::Off),
        "anonymize" => Ok(Policy::Anonymize),
        "drop" => Ok(Policy::Drop),
        _ => Err(env.error(name, &value)),
    }
}

/// Called by the configuration when `consent` is not in `ENRICHMENTS`: its
/// variables are validated all the same (a typo is found before the day it
/// is turned on), and a `CONSENT_POLICY` other than `off`, which would
/// protect nothing, silently, fails start-up.
pub(crate) fn check_disabled(env: &mut Env<'_>) -> Result<(), ConfigError> {
    build(env)?;
    match policy(env)? {
        Policy::Off => Ok(()),
        _ => {
            let (name, value) = env.get("CONSENT_POLICY");
            Err(env.error(name, &value))
        }
    }
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    let fields = env.fields("CONSENT_FIELDS")?;
    let gpc_fields = env.fields("GPC_FIELDS")?;
    let (name, value) = env.get("CONSENT_REQUIRED_PURPOSES");
    let mut required = 0u32;
    if !value.trim().is_empty() {
        for item in value.split(',').map(str::trim) {
            let p: u32 = item
                .parse()
                .ok()
                .filter(|p| (1..=24).contains(p) && item.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| env.error(name, &value))?;
            required |= 1 << (p - 1);
        }
    }
    let (name, value) = env.get("CONSENT_VENDOR_ID");
    let vendor = match value.trim() {
        "" => None,
        v => Some(
            v.parse::<u16>()
                .ok()
                .filter(|id| (1..u16::MAX).contains(id) && v.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| env.error(name, &value))?,
        ),
    };
    let policy = policy(env)?;
    let (name, value) = env.get("CONSENT_MISSING");
    let missing_denies = match value.trim() {
        "allow" => false,
        "deny" => true,
        _ => return Err(env.error(name, &value)),
    };
    // Validated whatever the policy, so a typo is found before the day the
    // policy is turned on.
    let ids = env.paths("ID_FIELDS")?;
    let anonymizer = privacy::anonymizer(env, ids)?;
    Ok(Arc::new(Consent {
        fields,
        gpc_fields,
        required,
        vendor,
        policy,
        missing_denies,
        anonymizer: (policy == Policy::Anonymize).then_some(anonymizer),
    }))
}

// ---------------------------------------------------------------------------
// The stage
// ---------------------------------------------------------------------------

impl Consent {
    fn gpc(&self, record: &Record<'_>) -> bool {
        self.gpc_fields
            .iter()
            .filter_map(|p| record.value(p))
            .any(|raw| matches!(raw, "true" | "1" | "\"1\"" | "\"true\""))
    }

    /// The first non-empty string of `CONSENT_FIELDS`, unescaped.
    fn string<'a>(&self, record: &Record<'a>) -> Option<std::borrow::Cow<'a, str>> {
        self.fields
            .iter()
            .filter_map(|p| record.value(p))
            .filter(|raw| raw.starts_with('"'))
            .filter_map(crate::time::json_string)
            .find(|s| !s.trim().is_empty())
    }

    fn granted(&self, d: &Decoded) -> bool {
        d.purposes & self.required == self.required
            && self
                .vendor
                .is_none_or(|v| d.vendors.binary_search(&v).is_ok())
    }
}

/// `1,2,7`: the purposes of a mask, ascending.
fn purpose_list(mask: u32) -> String {
    let mut s = String::new();
    for p in 1..=24u32 {
        if mask & 1 << (p - 1) != 0 {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(&p.to_string());
        }
    }
    s
}

impl Stage for Consent {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        facts: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        let decoded = match self.string(record) {
            Some(s) => decode(&s),
            None => Ok(None),
        };
        let invalid = decoded.as_ref().err().copied();
        let mut status = match &decoded {
            Err(_) => Status::Invalid,
            Ok(None) => Status::Missing,
            Ok(Some(d)) if self.granted(d) => Status::Granted,
            Ok(Some(_)) => Status::Denied,
        };
        if self.gpc(record) {
            status = Status::Gpc;
        }
        if let Ok(Some(d)) = &decoded {
            out.optional("consent_purposes", Some(&purpose_list(d.purposes)));
            out.optional("consent_li_purposes", Some(&purpose_list(d.li_purposes)));
            if let Some(v) = self.vendor {
                out.boolean("consent_vendor", d.vendors.binary_search(&v).is_ok());
            }
            out.number("consent_cmp_id", u64::from(d.cmp_id));
            if let Some(t) = crate::time::format_millis(d.created_ms) {
                out.ascii("consent_created", t.as_bytes());
            }
            out.number("consent_policy_version", u64::from(d.policy_version));
        }
        out.known("consent_status", status.code());
        facts.consent = Some(Note { status, invalid });

        let acts = match status {
            Status::Granted => false,
            Status::Missing => self.missing_denies,
            Status::Denied | Status::Invalid | Status::Gpc => true,
        };
        if !acts {
            return Ok(());
        }
        match (self.policy, &self.anonymizer) {
            (Policy::Drop, _) => Err(DropReason::NoConsent),
            (Policy::Anonymize, Some(anonymizer)) => anonymizer.run(record, facts, out),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
