//! The contract every response must keep, checked from the outside: shared
//! by the property tests, the fuzz regression tests and the fuzz targets
//! (which include this file by path), so that all three hold the function to
//! the same rules.
//!
//! Each check panics with a message saying which rule broke.
#![allow(dead_code)]

use base64::Engine;
use firehose_enricher::batch::{Processed, RequestError};
use firehose_enricher::enrich::campaign::{network, CHANNELS, CLICK_IDS};
use firehose_enricher::enrich::referrer::Medium;
use firehose_enricher::enrich::{privacy, user_agent};
use firehose_enricher::partition::{self, is_safe_value};
use firehose_enricher::record::{FailReason, Outcome, Transformed, OUTPUT_FIELDS};
use firehose_enricher::{domain, time, Config};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `IP_FIELDS` as the registry declares its default.
fn default_ip_fields() -> impl Iterator<Item = &'static str> {
    privacy::ENRICHER
        .variables
        .iter()
        .find(|v| v.name == "IP_FIELDS")
        .map_or("", |v| v.default)
        .split(',')
}

/// Checks one record's transform against its input.
pub fn check_record(data: &[u8], arrival_ms: i64, config: &Config, t: &Transformed) {
    // The record parser (hand-written) refuses what serde_json refuses, and
    // only that (a bad arrival time is found first).
    if let Ok(text) = std::str::from_utf8(data) {
        let not_json = t.outcome == Outcome::Failed(FailReason::NotJson);
        if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
            assert!(!not_json, "NotJson for a text serde_json reads");
        } else {
            assert!(
                matches!(t.outcome, Outcome::Failed(_)),
                "{:?} for a text serde_json refuses",
                t.outcome
            );
        }
    }
    match &t.outcome {
        Outcome::Ok(_) => {}
        Outcome::Dropped(_) | Outcome::Failed(_) => {
            assert!(t.data.is_empty(), "a non-Ok record has output");
            assert!(t.partition_keys.is_none(), "a non-Ok record has keys");
            return;
        }
    }
    let line = &t.data;
    let (out, _) = check_line(line, arrival_ms, config);

    // Every input field is still there, unchanged; only ours are replaced.
    // The privacy controls are the only exceptions. ANONYMIZE_IP is on by
    // default: a default IP field may hold its masked form. STRIP_QUERY,
    // DROP_FIELDS and HASH_FIELDS are off in every configuration checked
    // here; `privacy_controls_leave_no_listed_value` in tests/properties.rs
    // holds them all to their own contract.
    // Inputs that serde_json's Value cannot hold (numbers beyond f64, lone
    // surrogate escapes) are still spliced through verbatim; the line checks
    // above cover them.
    // With COLUMNS set, members may have moved into `extra`, keys and values
    // as they were: put them back, and the input must be whole again.
    if let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(data) {
        let mut kept = without_ours(&out, config);
        let mut want = without_ours(&input, config);
        if config.output_fields().contains(&"extra") {
            if let Some(v) = input.get("extra") {
                want.insert("extra".into(), v.clone());
            }
            if let Some(extra) = out.get("extra") {
                let text = extra.as_str().expect("extra is a string");
                let moved: Map<String, Value> =
                    serde_json::from_str(text).expect("extra holds a JSON object");
                assert!(
                    !moved.is_empty(),
                    "extra is written only when members moved"
                );
                for (k, v) in moved {
                    kept.insert(k, v);
                }
            }
        }
        for key in default_ip_fields() {
            if let (Some(Value::String(sent)), Some(Value::String(written))) =
                (want.get(key), kept.get(key))
            {
                if *written == privacy::mask_ips(sent).0 {
                    want.insert(key.to_owned(), Value::String(written.clone()));
                }
            }
        }
        assert_eq!(kept, want, "input fields changed");
    }

    let keys = t.partition_keys.as_ref().expect("an Ok record has keys");
    let event_time = out["event_time"].as_str().unwrap();
    assert_eq!(keys.dt, event_time[..10], "dt is not event_time's date");
    assert_eq!(
        keys.hour,
        event_time[11..13],
        "hour is not event_time's hour"
    );
    let site = out["site"].as_str().unwrap_or("");
    assert_eq!(keys.site, partition::site_value(site), "site key");
    for (_, v) in keys.pairs() {
        assert!(is_safe_value(v), "unsafe partition value {v:?}");
    }
}

/// Checks an `Ok` output line on its own: one JSON object on one line with
/// our five fields well formed. Returns the object and its event time.
pub fn check_line(line: &[u8], arrival_ms: i64, config: &Config) -> (Map<String, Value>, String) {
    assert_eq!(line.last(), Some(&b'\n'), "Ok data must end in \\n");
    let body = &line[..line.len() - 1];
    assert!(
        !body.contains(&b'\n') && !body.contains(&b'\r'),
        "Ok data must be one line: {:?}",
        String::from_utf8_lossy(line)
    );
    assert_eq!(body.first(), Some(&b'{'), "Ok data must be an object");
    let text = std::str::from_utf8(body).expect("Ok data is UTF-8");
    let out = ours(text, config);
    let received = time::format_millis(arrival_ms).expect("Ok implies a usable arrival");
    assert_eq!(out.received_at, received.as_str(), "received_at");
    let event_time = out.event_time.clone();
    assert!(is_timestamp(&event_time), "event_time {event_time:?}");
    match out.event_time_source.as_str() {
        "arrival" => assert_eq!(event_time, received.as_str(), "arrival fallback"),
        "event" => {
            let t = time::parse_time_str(&event_time, arrival_ms)
                .expect("event_time parses")
                .ms;
            assert!(
                t <= arrival_ms.saturating_add(config.max_future_ms)
                    && t >= arrival_ms
                        .saturating_sub(config.max_age_ms)
                        .saturating_sub(999),
                "event_time {event_time} outside the skew bounds of arrival {arrival_ms}"
            );
        }
        other => panic!("event_time_source {other:?}"),
    }
    match (&out.domain, &out.site) {
        (None, None) => {}
        (Some(d), Some(s)) => {
            assert!(
                !d.is_empty()
                    && d.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'.' | b'-' | b'_' | b':')),
                "domain {d:?}"
            );
            assert_eq!(s, domain::site(d), "site of {d:?}");
        }
        (d, s) => panic!("domain {d:?} with site {s:?}"),
    }
    let full = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        // Beyond Value's range (see check_record): the tail we wrote is
        // still checked above.
        _ => ours_as_map(&out),
    };
    (full, event_time)
}

/// Our five fields, read from the end of the line. Duplicate keys of ours
/// in the input must have been removed, so each appears exactly once.
struct Ours {
    event_time: String,
    event_time_source: String,
    received_at: String,
    domain: Option<String>,
    site: Option<String>,
}

fn ours(text: &str, config: &Config) -> Ours {
    // Walk the members without building a Value: the input part may hold
    // what Value rejects.
    let members = members_of(text);
    for name in OUTPUT_FIELDS {
        let n = members.iter().filter(|(k, _)| k == name).count();
        assert_eq!(n, 1, "{name} appears {n} times in {text:?}");
    }
    // Ours come last: the always-on five in order, then the optional
    // enrichers' fields, each at most once, in registry order (those with
    // no value are omitted).
    let first = members
        .iter()
        .position(|(k, _)| k == OUTPUT_FIELDS[0])
        .unwrap();
    let tail: Vec<&str> = members[first..].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(tail[..5], OUTPUT_FIELDS, "our fields come last, in order");
    let optional = &config.output_fields()[5..];
    let mut at = 0;
    for name in &tail[5..] {
        let i = optional[at..]
            .iter()
            .position(|o| o == name)
            .unwrap_or_else(|| panic!("{name} after our fields, out of order, in {text:?}"));
        at += i + 1;
    }
    let get = |name: &str| -> Value {
        let raw = &members.iter().find(|(k, _)| k == name).unwrap().1;
        serde_json::from_str(raw).unwrap()
    };
    check_optional_fields(&members, config);
    let string = |name: &str| get(name).as_str().expect(name).to_owned();
    let opt = |name: &str| match get(name) {
        Value::Null => None,
        Value::String(s) => Some(s),
        v => panic!("{name} is {v}"),
    };
    Ours {
        event_time: string("event_time"),
        event_time_source: string("event_time_source"),
        received_at: string("received_at"),
        domain: opt("domain"),
        site: opt("site"),
    }
}

/// The optional enrichers' fields: non-empty strings when present, and
/// consistent with each other.
fn check_optional_fields(members: &[(String, String)], config: &Config) {
    let get = |name: &str| -> Option<String> {
        let raw = &members.iter().find(|(k, _)| k == name)?.1;
        match serde_json::from_str(raw).unwrap() {
            Value::String(s) if !s.is_empty() => Some(s),
            v => panic!("{name} must be omitted or a non-empty string, not {v}"),
        }
    };
    for name in &config.output_fields()[5..] {
        if *name != "is_bot" {
            get(name);
        }
    }
    check_user_agent_fields(members, config, &get);
    let domain = get("referrer_domain");
    let medium = get("referrer_medium");
    let source = get("referrer_source");
    assert_eq!(
        domain.is_some(),
        medium.is_some(),
        "referrer_domain without medium"
    );
    assert_eq!(
        domain.is_some(),
        get("referrer_site").is_some(),
        "referrer_site"
    );
    if let Some(d) = &domain {
        assert_eq!(
            get("referrer_site").as_deref(),
            Some(domain::site(d)),
            "referrer_site of {d}"
        );
    }
    if let Some(m) = &medium {
        assert!(
            Medium::ALL.iter().any(|k| k.as_str() == m),
            "referrer_medium {m:?}"
        );
        let listed = matches!(m.as_str(), "search" | "social" | "ai" | "email");
        assert_eq!(listed, source.is_some(), "referrer_source with medium {m}");
    } else {
        assert!(source.is_none(), "referrer_source without a referrer");
    }
    if let Some(n) = get("click_network") {
        assert!(
            CLICK_IDS.iter().any(|id| network(id) == Some(n.as_str())),
            "click_network {n:?}"
        );
    }
    if let Some(c) = get("channel") {
        assert!(CHANNELS.contains(&c.as_str()), "channel {c:?}");
        let campaign = [
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
            "utm_id",
        ]
        .iter()
        .any(|u| get(u).is_some());
        let paid_click = matches!(
            get("click_network").as_deref(),
            Some("google_ads" | "microsoft_ads")
        );
        if !campaign && paid_click {
            assert_eq!(c, "Paid Search", "a Google or Microsoft click");
        } else if !campaign {
            // Without a campaign the referrer decides; a video site is
            // `Organic Video` whatever its list.
            let want = match medium.as_deref() {
                None => "Direct",
                Some("internal") => "Internal",
                Some("search") => "Organic Search",
                Some("social") => "Organic Social",
                Some("ai") => "AI Assistant",
                Some("email") => "Email",
                Some(_) => "Referral",
            };
            let video = !matches!(medium.as_deref(), None | Some("internal" | "search"));
            assert!(
                c == want || (video && c == "Organic Video"),
                "channel {c} for referrer medium {medium:?}"
            );
        }
    }
}

/// The `user_agent` enricher's fields: all or none of them, `is_bot` a
/// boolean that agrees with `device_type`, and, for a record whose
/// top-level `user_agent` is a non-empty string, exactly what uap-core
/// parses it to.
fn check_user_agent_fields(
    members: &[(String, String)],
    config: &Config,
    get: &dyn Fn(&str) -> Option<String>,
) {
    let raw = |name: &str| members.iter().rev().find(|(k, _)| k == name).map(|m| &m.1);
    let is_bot = raw("is_bot").map(|v| match v.as_str() {
        "true" => true,
        "false" => false,
        v => panic!("is_bot must be omitted or a boolean, not {v}"),
    });
    let device_type = get("device_type");
    let browser = get("browser");
    let os = get("os");
    assert!(
        [browser.is_some(), os.is_some(), device_type.is_some()]
            .iter()
            .all(|p| *p == is_bot.is_some()),
        "browser, os, device_type and is_bot come together"
    );
    assert!(get("browser_version").is_none() || browser.is_some());
    assert!(get("os_version").is_none() || os.is_some());
    if let (Some(t), Some(bot)) = (&device_type, is_bot) {
        assert!(
            ["desktop", "mobile", "tablet", "tv", "console", "wearable", "bot", "unknown"]
                .contains(&t.as_str()),
            "device_type {t:?}"
        );
        assert_eq!(t == "bot", bot, "device_type {t} with is_bot {bot}");
    }
    if !config.output_fields().contains(&"is_bot") {
        return;
    }
    // The input's own `user_agent` member, when it is the one read: the
    // first of USER_AGENT_FIELDS is that top-level name (as by default) and
    // the member holds a string. Of duplicate keys, the last, as the record
    // layer (and serde_json) reads them.
    let reads_user_agent = config
        .user_agent_fields
        .first()
        .is_some_and(|f| f.nested.is_empty() && config.top_keys[f.top] == "user_agent");
    if !reads_user_agent {
        return;
    }
    let Some(first) = members.iter().rev().find(|(k, _)| k == "user_agent") else {
        return;
    };
    if let Ok(Value::String(ua)) = serde_json::from_str::<Value>(&first.1) {
        if !ua.is_empty() {
            let p = user_agent::parse(&ua);
            assert_eq!(
                browser.as_deref(),
                Some(p.browser.as_str()),
                "browser of {ua:?}"
            );
            assert_eq!(os.as_deref(), Some(p.os.as_str()), "os of {ua:?}");
            assert_eq!(get("browser_version"), p.browser_version, "browser_version");
            assert_eq!(get("os_version"), p.os_version, "os_version");
            assert_eq!(device_type.as_deref(), Some(p.device_type), "device_type");
            assert_eq!(is_bot, Some(p.is_bot), "is_bot of {ua:?}");
        }
    }
}

/// A member name read as bytes, then lossily as text: a name with a lone
/// surrogate escape (`"\ud800"`) is valid JSON text, which the function
/// accepts and echoes, but no Rust `String`. Our names and the ones the
/// checks look for are ASCII, so the lossy text compares as the name does.
struct Name(String);

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Name;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Name, E> {
                Ok(Name(String::from_utf8_lossy(v).into_owned()))
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

/// Every top-level member as (key, raw value), duplicates kept.
fn members_of(text: &str) -> Vec<(String, String)> {
    use serde::de::{MapAccess, Visitor};
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(Name(k)) = map.next_key::<Name>()? {
                let v: &'de RawValue = map.next_value()?;
                out.push((k, v.get().to_owned()));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let members = serde::Deserializer::deserialize_map(&mut de, V);
    match members {
        Ok(m) => {
            de.end().expect("Ok data is exactly one JSON value");
            m
        }
        Err(e) => panic!("Ok data is not a JSON object ({e}): {text:?}"),
    }
}

fn ours_as_map(o: &Ours) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("event_time".into(), o.event_time.clone().into());
    m.insert(
        "event_time_source".into(),
        o.event_time_source.clone().into(),
    );
    m.insert("received_at".into(), o.received_at.clone().into());
    m.insert("domain".into(), o.domain.clone().into());
    m.insert("site".into(), o.site.clone().into());
    m
}

fn without_ours(m: &Map<String, Value>, config: &Config) -> Map<String, Value> {
    let mut m = m.clone();
    for name in config.output_fields() {
        m.remove(*name);
    }
    m
}

/// `YYYY-MM-DD HH:MM:SS.mmm`.
pub fn is_timestamp(s: &str) -> bool {
    s.len() == 23
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            19 => b == b'.',
            _ => b.is_ascii_digit(),
        })
}

/// The request as the contract defines it. Like the function's own parser
/// it reads `invocationId` (so it, too, must be UTF-8 JSON text).
struct RequestShape<'a> {
    records: Vec<RecordShape<'a>>,
}

/// A member name of the request, as JSON's grammar has it: without escapes,
/// UTF-8 with no control character; with escapes, whatever serde_json
/// unescapes (a lone surrogate escape included, which is valid JSON text
/// but no Rust `String`).
struct JsonName(Vec<u8>);

impl<'de> Deserialize<'de> for JsonName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(
                self,
                v: &'de [u8],
            ) -> Result<JsonName, E> {
                if v.iter().any(|&b| b < 0x20) || std::str::from_utf8(v).is_err() {
                    return Err(E::custom("not a JSON string"));
                }
                Ok(JsonName(v.to_vec()))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<JsonName, E> {
                Ok(JsonName(v.to_vec()))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Reads a member's value as any JSON value, failing as serde's derive
/// does when the member was given before.
fn read_once<'de, A: serde::de::MapAccess<'de>>(
    map: &mut A,
    seen: &mut bool,
    name: &'static str,
) -> Result<(), A::Error> {
    let _: &'de RawValue = map.next_value()?;
    if std::mem::replace(seen, true) {
        return Err(serde::de::Error::duplicate_field(name));
    }
    Ok(())
}

impl<'de: 'a, 'a> Deserialize<'de> for RequestShape<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, Visitor};
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RequestShape<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Firehose request")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RequestShape<'a>, A::Error> {
                let (mut invocation_id, mut stream, mut records) = (false, false, None);
                while let Some(JsonName(k)) = map.next_key::<JsonName>()? {
                    match k.as_slice() {
                        // Read (the ARN for re-ingestion), so each must be
                        // a JSON value given once; a string is not required.
                        b"invocationId" => read_once(&mut map, &mut invocation_id, "invocationId")?,
                        b"deliveryStreamArn" => {
                            read_once(&mut map, &mut stream, "deliveryStreamArn")?
                        }
                        b"records" => {
                            if records.replace(map.next_value()?).is_some() {
                                return Err(A::Error::duplicate_field("records"));
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RequestShape {
                    records: records.ok_or_else(|| A::Error::missing_field("records"))?,
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A request record. A duplicated `recordId` makes the request malformed,
/// as the derived form would; a duplicated `approximateArrivalTimestamp`
/// or `data` fails the record alone (which was meant cannot be known), and
/// the last `data` is what it echoes.
struct RecordShape<'a> {
    record_id: &'a RawValue,
    approximate_arrival_timestamp: Option<&'a RawValue>,
    data: Option<&'a RawValue>,
    duplicated: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for RecordShape<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, Visitor};
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RecordShape<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a request record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordShape<'a>, A::Error> {
                let (mut record_id, mut arrival, mut data, mut duplicated) =
                    (None, None, None, false);
                while let Some(JsonName(k)) = map.next_key::<JsonName>()? {
                    match k.as_slice() {
                        b"recordId" => {
                            if record_id.replace(map.next_value()?).is_some() {
                                return Err(A::Error::duplicate_field("recordId"));
                            }
                        }
                        b"approximateArrivalTimestamp" => {
                            duplicated |= arrival.replace(map.next_value()?).is_some();
                        }
                        b"data" => duplicated |= data.replace(map.next_value()?).is_some(),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RecordShape {
                    record_id: record_id.ok_or_else(|| A::Error::missing_field("recordId"))?,
                    approximate_arrival_timestamp: arrival,
                    data,
                    duplicated,
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct ResponseShape<'a> {
    #[serde(borrow)]
    records: Vec<ResponseRecord<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResponseRecord<'a> {
    #[serde(borrow)]
    record_id: &'a RawValue,
    result: String,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Metadata {
    partition_keys: Map<String, Value>,
}

/// The arrival time the contract promises to read: an integer, a fraction
/// (floored) or a numeric string, in epoch milliseconds.
pub fn arrival_of(raw: Option<&RawValue>) -> Option<i64> {
    let v: Value = serde_json::from_str(raw?.get()).ok()?;
    let f = match &v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Some(i);
            }
            n.as_f64()?
        }
        Value::String(s) => {
            if let Ok(i) = s.parse::<i64>() {
                return Some(i);
            }
            s.parse::<f64>().ok()?
        }
        _ => return None,
    };
    let f = f.floor();
    (f.is_finite() && f > -9.2e18 && f < 9.2e18).then_some(f as i64)
}

/// Checks a batch result against its request. Returns the response's
/// results in order, for callers that check more.
pub fn check_batch(
    request: &[u8],
    config: &Config,
    result: &Result<Processed, RequestError>,
) -> Vec<String> {
    let shape = serde_json::from_slice::<RequestShape>(request);
    let processed = match (result, &shape) {
        (Ok(p), _) => p,
        (Err(RequestError::Invalid(_)), Err(_)) => return Vec::new(),
        (Err(RequestError::Invalid(why)), Ok(s)) => {
            // The rejections beyond our shape: a non-string recordId, and
            // bytes that are not UTF-8 (so not JSON, and never delivered by
            // the Lambda runtime) where this shape skips without looking.
            assert!(
                s.records
                    .iter()
                    .any(|r| !r.record_id.get().starts_with('"'))
                    || std::str::from_utf8(request).is_err(),
                "rejected a well-formed request: {why}"
            );
            return Vec::new();
        }
        (Err(RequestError::ResponseTooLarge { bytes, limit }), Ok(s)) => {
            // Giving up is right only if answering every record in its
            // failed form (the largest non-Ok form: id, result and the data
            // echoed) could exceed the limit.
            let largest: usize = br#"{"records":[]}"#.len()
                + s.records.len().saturating_sub(1)
                + s.records
                    .iter()
                    .map(|r| {
                        let data = r.data.map_or(2, |d| d.get().len());
                        r.record_id.get().len() + data.max(2) + 49
                    })
                    .sum::<usize>();
            assert!(*limit <= config.max_response_bytes && bytes > limit);
            assert!(
                largest > config.max_response_bytes,
                "gave up on a request whose answer fits: {bytes} > {limit}"
            );
            return Vec::new();
        }
        (Err(e @ RequestError::ResponseTooLarge { .. }), Err(_)) => {
            panic!("an unparseable request cannot overflow the response: {e}")
        }
    };
    let request = shape.expect("an answered request has the Firehose shape");
    let response_bytes = processed.response.as_bytes();
    assert!(
        response_bytes.len() <= config.max_response_bytes,
        "response of {} bytes exceeds {}",
        response_bytes.len(),
        config.max_response_bytes
    );
    assert_eq!(processed.report.response_bytes, response_bytes.len());
    let response: ResponseShape =
        serde_json::from_slice(response_bytes).expect("the response is valid JSON");
    assert_eq!(
        response.records.len(),
        request.records.len(),
        "every record comes back exactly once"
    );
    let report = &processed.report;
    assert_eq!(report.records, request.records.len());
    let mut failures = report.failures.iter();
    let mut results = Vec::with_capacity(request.records.len());
    let (mut ok, mut dropped, mut failed) = (0, 0, 0);
    for (i, (req, res)) in request.records.iter().zip(&response.records).enumerate() {
        assert_eq!(
            res.record_id.get(),
            req.record_id.get(),
            "record {i}: recordId differs or is out of order"
        );
        assert!(
            !req.duplicated || res.result == "ProcessingFailed",
            "record {i}: a duplicated member must fail the record"
        );
        match res.result.as_str() {
            "Ok" => {
                ok += 1;
                let data = res.data.expect("Ok has data");
                let b64: String = serde_json::from_str(data.get()).expect("data is a string");
                let line = BASE64.decode(b64).expect("Ok data is base64");
                let arrival = arrival_of(req.approximate_arrival_timestamp)
                    .expect("an Ok record had a usable arrival time");
                let input = request_data(req).expect("an Ok record had data");
                // One code path: the batch answers what the record transform
                // answers on its own.
                let alone = firehose_enricher::record::transform(&input, arrival, config);
                check_record(&input, arrival, config, &alone);
                let keys = &res
                    .metadata
                    .as_ref()
                    .expect("Ok has metadata")
                    .partition_keys;
                let names: Vec<&str> = keys.keys().map(String::as_str).collect();
                let mut want = partition::KEY_NAMES.to_vec();
                want.sort_unstable();
                assert_eq!(names, want, "partition keys are exactly site/dt/hour");
                for v in keys.values() {
                    let v = v.as_str().expect("partition values are strings");
                    assert!(is_safe_value(v), "unsafe partition value {v:?}");
                }
                let own = alone.partition_keys.expect("Ok has keys");
                assert_eq!(keys["dt"], own.dt.as_str());
                assert_eq!(keys["hour"], own.hour.as_str());
                let site = keys["site"].as_str().unwrap();
                assert!(
                    site == own.site || site == partition::OTHER,
                    "site key {site} for site {}",
                    own.site
                );
                // A record sent to `other` keeps its real site in `extra`.
                let want = if site == own.site {
                    alone.data.clone()
                } else {
                    let ours = config.output_fields().contains(&"extra");
                    partition::with_site_in_extra(&alone.data, &own.site, ours)
                        .expect("the output is one JSON object")
                };
                assert_eq!(line, want, "record {i}: batch and transform differ");
            }
            "Dropped" => {
                dropped += 1;
                // Firehose discards Dropped records: no keys, no data (or
                // empty data, as the status model lists `data` as required).
                assert!(
                    matches!(res.data.map(RawValue::get), None | Some("\"\""))
                        && res.metadata.is_none(),
                    "record {i}: Dropped with data or keys: {}",
                    String::from_utf8_lossy(response_bytes)
                );
            }
            "ProcessingFailed" => {
                failed += 1;
                assert!(res.metadata.is_none());
                let want = match req.data {
                    Some(d) if d.get().starts_with('"') => d.get(),
                    _ => "\"\"",
                };
                assert_eq!(
                    res.data.map(RawValue::get),
                    Some(want),
                    "record {i}: ProcessingFailed data is not the request's"
                );
                let (id, _) = failures.next().expect("every failure is reported");
                let want_id: String = serde_json::from_str(req.record_id.get()).unwrap_or_default();
                assert_eq!(*id, want_id);
            }
            other => panic!("record {i}: result {other:?}"),
        }
        results.push(res.result.clone());
    }
    assert!(
        failures.next().is_none(),
        "more failures reported than sent"
    );
    assert_eq!(report.ok, ok);
    assert_eq!(report.dropped_total(), dropped);
    assert_eq!(report.failed_total(), failed);
    results
}

/// A request record's decoded data, when it has a valid base64 string.
fn request_data(r: &RecordShape) -> Option<Vec<u8>> {
    let s: String = serde_json::from_str(r.data?.get()).ok()?;
    BASE64.decode(s).ok()
}

// ------------------------------------------------------------ fuzz inputs

/// The fuzz targets' input formats, here so that the regression tests replay
/// a saved input exactly as the fuzzer ran it.
pub mod fuzz {
    use super::*;
    use firehose_enricher::{batch, collector, record};
    use std::sync::LazyLock;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("valid fuzz configuration")
    }

    /// The defaults, and one with nested paths, dropping and tight skew
    /// bounds, which exercise the paths the defaults leave alone.
    static RECORD_CONFIGS: LazyLock<[Config; 2]> = LazyLock::new(|| {
        [
            Config::default(),
            config(&[
                ("TIME_FIELDS", "event.time,ts,timestamp"),
                ("URL_FIELDS", "page.url,url"),
                ("HOST_FIELDS", "ctx.host,host"),
                ("USER_AGENT_FIELDS", "ua,ctx.ua"),
                ("DROP_BOTS", "true"),
                ("DROP_DOMAINS", "localhost,*.local"),
                ("MAX_FUTURE", "0s"),
                ("MAX_AGE", "1h"),
            ]),
        ]
    });

    /// The defaults, and a cardinality guard with an allowlist and a tiny
    /// response limit, so that the budget code runs on small inputs.
    static BATCH_CONFIGS: LazyLock<[Config; 2]> = LazyLock::new(|| {
        let mut tight = config(&[
            ("SITE_ALLOWLIST", "example.com,bbc.co.uk,example.co.uk"),
            ("MAX_SITES_PER_BATCH", "1"),
            ("DROP_DOMAINS", "localhost"),
        ]);
        tight.max_response_bytes = 2_000;
        [Config::default(), tight]
    });

    /// A realistic arrival time (2026-11-27), around which time fields land.
    pub const BASE_ARRIVAL_MS: i64 = 1_795_770_902_000;

    /// The `record` target. Byte 0 picks the configuration (bit 0) and how
    /// bytes 1..9 (an i64, little endian) give the arrival time (bit 7 set:
    /// as it is; clear: an offset of up to 400 days from the base); the
    /// rest is the record's data.
    pub fn record_input(input: &[u8]) {
        if input.len() < 9 {
            return;
        }
        let mode = input[0];
        let raw = i64::from_le_bytes(input[1..9].try_into().unwrap());
        let arrival = if mode & 0x80 == 0 {
            BASE_ARRIVAL_MS.wrapping_add(raw % (400 * 86_400_000))
        } else {
            raw
        };
        let config = &RECORD_CONFIGS[usize::from(mode & 1)];
        let data = &input[9..];
        let t = record::transform(data, arrival, config);
        check_record(data, arrival, config, &t);
    }

    fn collector_configs() -> &'static [collector::CollectorConfig; 2] {
        static C: std::sync::OnceLock<[collector::CollectorConfig; 2]> = std::sync::OnceLock::new();
        C.get_or_init(|| {
            let small = collector::CollectorConfig::from_lookup(|name| match name {
                "COLLECTOR_MAX_BODY_BYTES" => Some("1024".into()),
                "COLLECTOR_MAX_EVENTS" => Some("5".into()),
                "COLLECTOR_MAX_EVENT_BYTES" => Some("200".into()),
                _ => None,
            })
            .expect("valid");
            [collector::CollectorConfig::default(), small]
        })
    }

    /// The `collector` target. Byte 0 picks the limits (bit 0: the defaults
    /// or small ones), the content encoding (bit 1: gzip) and a user agent
    /// header (bit 2); the rest is a `POST /collect` body. No panic; every
    /// answer is from the status table; every accepted event is one JSON
    /// object carrying the server's address, under the size limit.
    pub fn collector_input(input: &[u8]) {
        let Some((&selector, body)) = input.split_first() else {
            return;
        };
        let config = &collector_configs()[usize::from(selector & 1)];
        let headers = collector::Headers {
            content_encoding: (selector & 2 != 0).then_some("gzip"),
            user_agent: (selector & 4 != 0).then_some("Mozilla/5.0 \"x\""),
            ..collector::Headers::default()
        };
        let request = collector::Request {
            method: "POST",
            path: "/collect",
            headers,
            body,
            peer: Some(std::net::IpAddr::from([192, 0, 2, 1])),
        };
        let outcome = collector::handle(&request, config);
        assert!([200, 204, 400, 413].contains(&outcome.response.status));
        let mut n = 0;
        for event in outcome.events.iter() {
            n += 1;
            assert!(event.len() <= config.max_event_bytes);
            // Read as the transform reads it: a lone surrogate escape is valid
            // JSON text, which a serde_json `Map` cannot hold.
            let text = std::str::from_utf8(event).expect("an accepted event is UTF-8");
            serde_json::from_str::<serde::de::IgnoredAny>(text).expect("an accepted event is JSON");
            let ip = firehose_enricher::json::member(text, "ip")
                .expect("an accepted event is an object with ip");
            assert_eq!(ip, "\"192.0.2.1\"");
        }
        assert!(n <= config.max_events);
        if outcome.response.status == 204 {
            assert!(n > 0);
        }
    }

    /// The `batch` target. Byte 0 picks the configuration (bit 0); the rest
    /// is the request.
    pub fn batch_input(input: &[u8]) {
        let Some((&mode, request)) = input.split_first() else {
            return;
        };
        let config = &BATCH_CONFIGS[usize::from(mode & 1)];
        let result = batch::process(request, config);
        check_batch(request, config, &result);
    }
}
