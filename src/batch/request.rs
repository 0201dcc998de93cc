//! The request side of a batch: Firehose's transformation request read
//! leniently, with borrowed types of our own, and each record's checks
//! before its transform (its `data` decoded, its arrival time read). One
//! record with bad base64, an odd timestamp or unknown fields fails alone.

use super::{BatchReport, BASE64};
use crate::reason::FailReason;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// A transformation request, read leniently: the members we use, each at
/// most once.
pub(super) struct RequestIn<'a> {
    pub(super) invocation_id: Option<&'a RawValue>,
    /// Where overflow is re-sent (re-ingestion).
    pub(super) delivery_stream_arn: Option<&'a RawValue>,
    pub(super) records: Vec<RecordIn<'a>>,
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
        // The names Firehose sends are short printable ASCII, which is
        // UTF-8 without asking `from_utf8` (a call of about 100
        // instructions on a short name, six a record: callgrind).
        if v.iter().all(|&b| (0x20..0x80).contains(&b)) {
            return Ok((self.0)(v));
        }
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

pub(super) struct RecordIn<'a> {
    pub(super) record_id: &'a RawValue,
    pub(super) approximate_arrival_timestamp: Option<&'a RawValue>,
    /// The last `data`, echoed when the record fails.
    pub(super) data: Option<&'a RawValue>,
    /// A member given twice fails the record: which value was meant cannot
    /// be known. The first one found, in the order the record is checked.
    pub(super) duplicated: Option<FailReason>,
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

/// The checks before a request record's transform: its members, its data
/// decoded into `decoded`, and its arrival time.
pub(super) fn checked(
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
pub(super) fn arrival_millis(raw: &str) -> Option<i64> {
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
pub(super) fn decode_data(
    data: Option<&RawValue>,
    decoded: &mut Vec<u8>,
) -> Result<(), FailReason> {
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

pub(super) fn json_string(raw: &RawValue) -> Option<String> {
    crate::time::json_string(raw.get()).map(|s| s.into_owned())
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
