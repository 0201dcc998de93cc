//! Request bodies: decompression under a cap, then the three shapes a body
//! may take (one JSON object, a JSON array of objects, NDJSON), split into
//! events without losing a good event to a bad neighbour.
//!
//! Hand-written around serde_json rather than a framework's extractor: the
//! split keeps each event's original bytes (so that it arrives byte for
//! byte), and a line that does not parse rejects only itself.

use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::Read;

/// Why one event of a body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Not JSON (a line of NDJSON that does not parse).
    InvalidJson,
    /// JSON, but not an object (`1`, `"x"`, `[…]`, `null`).
    NotObject,
}

impl Reason {
    pub const ALL: [Reason; 2] = [Reason::InvalidJson, Reason::NotObject];

    pub fn code(self) -> &'static str {
        match self {
            Reason::InvalidJson => "invalid_json",
            Reason::NotObject => "not_object",
        }
    }
}

/// Why a whole body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the size cap, before or after decompression.
    TooLarge,
    /// More events than allowed.
    TooManyEvents,
    /// `Content-Encoding: gzip` whose bytes are not gzip.
    BadGzip,
    /// No event at all (empty, whitespace, `[]`).
    Empty,
}

/// The body, un-gzipped when `gzip`, never more than `max` bytes: a gzip
/// bomb stops at the cap, having decompressed at most `max + 1` bytes.
pub fn decode(body: &[u8], gzip: bool, max: usize) -> Result<Cow<'_, [u8]>, BodyError> {
    if body.len() > max {
        return Err(BodyError::TooLarge);
    }
    if !gzip {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::with_capacity((body.len() * 4).min(max + 1));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| BodyError::BadGzip)?;
    if out.len() > max {
        return Err(BodyError::TooLarge);
    }
    if out.is_empty() && !body.is_empty() {
        // Not even a gzip header decoded.
        return Err(BodyError::BadGzip);
    }
    Ok(Cow::Owned(out))
}

/// One event of a body: its object's bytes, or why it was rejected.
#[derive(Debug, Clone)]
pub enum Piece<'a> {
    Event(Object<'a>),
    Rejected(Reason),
}

/// An event: the object's bytes (trimmed) and the names of its top-level
/// members (unescaped), which the collector checks against its own fields.
#[derive(Debug, Clone)]
pub struct Object<'a> {
    pub raw: &'a str,
    pub members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// Splits a decoded body into events, in order.
///
/// * a body that parses as one JSON value: an object is one event, an
///   array's elements are the events;
/// * otherwise it is NDJSON: each non-blank line is an event, and a line
///   that does not parse is rejected alone.
///
/// More than `max_events` events refuse the whole body, counted before any
/// event is parsed on its own.
pub fn split(body: &[u8], max_events: usize) -> Result<Vec<Piece<'_>>, BodyError> {
    let Ok(text) = std::str::from_utf8(body) else {
        // Not UTF-8 as a whole: still NDJSON lines, each judged alone.
        return ndjson(body, max_events);
    };
    let trimmed = text.trim_matches(is_json_space);
    if trimmed.is_empty() {
        return Err(BodyError::Empty);
    }
    if let Ok(value) = serde_json::from_str::<&RawValue>(trimmed) {
        let raw = value.get();
        if raw.starts_with('[') {
            let elements: Vec<&RawValue> =
                serde_json::from_str(raw).map_err(|_| BodyError::Empty)?;
            if elements.is_empty() {
                return Err(BodyError::Empty);
            }
            if elements.len() > max_events {
                return Err(BodyError::TooManyEvents);
            }
            return Ok(elements.into_iter().map(|e| piece(e.get())).collect());
        }
        return Ok(vec![piece(raw)]);
    }
    ndjson(body, max_events)
}

/// JSON's whitespace (RFC 8259), not Unicode's.
fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn ndjson(body: &[u8], max_events: usize) -> Result<Vec<Piece<'_>>, BodyError> {
    let blank = |line: &[u8]| line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
    let lines = || body.split(|&b| b == b'\n').filter(|l| !blank(l));
    let count = lines().count();
    if count == 0 {
        return Err(BodyError::Empty);
    }
    if count > max_events {
        return Err(BodyError::TooManyEvents);
    }
    Ok(lines()
        .map(|line| match std::str::from_utf8(line) {
            Ok(text) => piece(text),
            Err(_) => Piece::Rejected(Reason::InvalidJson),
        })
        .collect())
}

/// One event's text: an object, or why not.
fn piece(text: &str) -> Piece<'_> {
    let raw = text.trim_matches(is_json_space);
    if !raw.starts_with('{') {
        return match serde_json::from_str::<&RawValue>(raw) {
            Ok(_) => Piece::Rejected(Reason::NotObject),
            Err(_) => Piece::Rejected(Reason::InvalidJson),
        };
    }
    match serde_json::from_str::<Members>(raw) {
        Ok(Members(members)) => Piece::Event(Object { raw, members }),
        Err(_) => Piece::Rejected(Reason::InvalidJson),
    }
}

/// An object's members in order, names unescaped (borrowed when they hold
/// no escape), values as written.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members<'a>, A::Error> {
                let mut members = Vec::new();
                while let Some(Name(name)) = map.next_key()? {
                    members.push((name, map.next_value()?));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

struct Name<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Name<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(Visit(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// What a split gives, as text: `E:<raw>` per event, `R:<code>` per
    /// rejection, or the whole-body error.
    fn shape(body: &[u8], max: usize) -> Result<Vec<String>, BodyError> {
        split(body, max).map(|pieces| {
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Event(o) => format!("E:{}", o.raw),
                    Piece::Rejected(r) => format!("R:{}", r.code()),
                })
                .collect()
        })
    }

    #[test]
    fn shapes() {
        type Case = (
            &'static str,
            &'static [u8],
            Result<&'static [&'static str], BodyError>,
        );
        let cases: &[Case] = &[
            // --- edges ---
            ("empty", b"", Err(BodyError::Empty)),
            ("whitespace", b" \r\n\t", Err(BodyError::Empty)),
            ("empty array", b"[]", Err(BodyError::Empty)),
            ("blank lines only", b"\n\n\r\n", Err(BodyError::Empty)),
            ("a number", b"1", Ok(&["R:not_object"])),
            ("null", b"null", Ok(&["R:not_object"])),
            ("a string", b"\"x\"", Ok(&["R:not_object"])),
            ("garbage", b"{nope", Ok(&["R:invalid_json"])),
            ("lone brace", b"}", Ok(&["R:invalid_json"])),
            (
                "nested array element",
                b"[[1],{\"a\":1}]",
                Ok(&["R:not_object", "E:{\"a\":1}"]),
            ),
            (
                "array of scalars",
                b"[1,\"x\",null]",
                Ok(&["R:not_object", "R:not_object", "R:not_object"]),
            ),
            // A malformed array is malformed JSON: its lines are judged
            // one by one, and none of them is an event.
            (
                "broken array",
                b"[{\"a\":1},{bad}]",
                Ok(&["R:invalid_json"]),
            ),
            (
                "not utf-8 line",
                b"{\"a\":1}\n\xff\xfe\n{\"b\":2}",
                Ok(&["E:{\"a\":1}", "R:invalid_json", "E:{\"b\":2}"]),
            ),
            ("bom", b"\xef\xbb\xbf{\"a\":1}", Ok(&["R:invalid_json"])),
            (
                "crlf ndjson",
                b"{\"a\":1}\r\n{\"b\":2}\r\n",
                Ok(&["E:{\"a\":1}", "E:{\"b\":2}"]),
            ),
            (
                "no final newline",
                b"{\"a\":1}\n{\"b\":2}",
                Ok(&["E:{\"a\":1}", "E:{\"b\":2}"]),
            ),
            (
                "duplicate members kept",
                b"{\"a\":1,\"a\":2}",
                Ok(&["E:{\"a\":1,\"a\":2}"]),
            ),
            (
                "escaped names",
                b"{\"\\u0061\":1}",
                Ok(&["E:{\"\\u0061\":1}"]),
            ),
            // --- ordinary ---
            (
                "one object",
                b"{\"type\":\"page_view\"}",
                Ok(&["E:{\"type\":\"page_view\"}"]),
            ),
            (
                "pretty object",
                b"{\n  \"a\": 1,\n  \"b\": [1, 2]\n}\n",
                Ok(&["E:{\n  \"a\": 1,\n  \"b\": [1, 2]\n}"]),
            ),
            (
                "array",
                b"[{\"a\":1}, {\"b\":2}]",
                Ok(&["E:{\"a\":1}", "E:{\"b\":2}"]),
            ),
            (
                "ndjson with a bad line",
                b"{\"a\":1}\n{\"b\":\n{\"c\":3}\n",
                Ok(&["E:{\"a\":1}", "R:invalid_json", "E:{\"c\":3}"]),
            ),
            (
                "ndjson with a scalar",
                b"{\"a\":1}\n2\n",
                Ok(&["E:{\"a\":1}", "R:not_object"]),
            ),
        ];
        for (name, body, want) in cases {
            let got = shape(body, 500);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn member_names_are_unescaped() {
        let pieces = split(
            br#"{"\u0069p":"1.2.3.4","user_agent":"x","n":{"ip":1}}"#,
            10,
        )
        .unwrap();
        let Piece::Event(o) = &pieces[0] else {
            panic!("{pieces:?}")
        };
        let names: Vec<&str> = o.members.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(names, ["ip", "user_agent", "n"]);
    }

    #[test]
    fn event_count_limit() {
        // (body, max, refused)
        let cases: &[(&[u8], usize, bool)] = &[
            (b"[{},{}]", 2, false),
            (b"[{},{},{}]", 2, true),
            (b"{}\n{}\n", 2, false),
            (b"{}\n{}\n{}", 2, true),
            // Blank lines are not events.
            (b"{}\n\n\n{}\n", 2, false),
            // Bad lines count: they are answered one by one.
            (b"x\ny\nz", 2, true),
        ];
        for (body, max, refused) in cases {
            let got = split(body, *max);
            assert_eq!(
                matches!(got, Err(BodyError::TooManyEvents)),
                *refused,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn decoding() {
        let small = gzip(b"{\"a\":1}");
        // 100 MB of zeros: about 100 KB of gzip.
        let bomb = {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..100 {
                gz.write_all(&zeros).unwrap();
            }
            gz.finish().unwrap()
        };
        let exact = gzip(&[b' '; 1024]);
        type Case<'a> = (&'a str, &'a [u8], bool, usize, Result<usize, BodyError>);
        let cases: &[Case] = &[
            // --- edges ---
            ("plain at the cap", b"12345", false, 5, Ok(5)),
            (
                "plain over the cap",
                b"123456",
                false,
                5,
                Err(BodyError::TooLarge),
            ),
            ("gzip exactly at the cap", &exact, true, 1024, Ok(1024)),
            (
                "gzip a byte over",
                &exact,
                true,
                1023,
                Err(BodyError::TooLarge),
            ),
            ("bomb", &bomb, true, 1 << 20, Err(BodyError::TooLarge)),
            (
                "not gzip",
                b"{\"a\":1}",
                true,
                1024,
                Err(BodyError::BadGzip),
            ),
            (
                "truncated gzip",
                &small[..small.len() - 4],
                true,
                1024,
                Err(BodyError::BadGzip),
            ),
            (
                "compressed over the cap",
                &small,
                true,
                10,
                Err(BodyError::TooLarge),
            ),
            // --- ordinary ---
            ("gzip", &small, true, 1024, Ok(7)),
            ("empty plain", b"", false, 1024, Ok(0)),
        ];
        for (name, body, gz, max, want) in cases {
            assert_eq!(decode(body, *gz, *max).map(|b| b.len()), *want, "{name}");
        }
    }
}
