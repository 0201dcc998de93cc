//! The hand-written record parser (`json::object_members`) against
//! serde_json, which it replaced: the same verdict on every text, and the
//! same members, in order, duplicates included. Edge cases first, then
//! generated texts: valid ones written with odd spacing, and those texts
//! cut or with a byte changed, which are mostly invalid.

use firehose_enricher::json::{object_members, RawMember};
use proptest::prelude::*;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// A member as both sides report it: the key unescaped to bytes (a lone
/// surrogate as serde_json's byte reading gives it) and the value's text.
type Pair = (Vec<u8>, String);

/// serde_json's reading: `None` when it refuses the text or the text is
/// not an object.
fn reference(text: &str) -> Option<Vec<Pair>> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<Pair>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Pair>, A::Error> {
            let mut found = Vec::new();
            while let Some(key) = map.next_key_seed(KeyBytes)? {
                let value: &RawValue = map.next_value()?;
                found.push((key, value.get().to_owned()));
            }
            Ok(found)
        }
    }
    serde_json::from_str::<IgnoredAny>(text).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_map(Members).ok()
}

struct KeyBytes;
impl<'de> DeserializeSeed<'de> for KeyBytes {
    type Value = Vec<u8>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_bytes(self)
    }
}
impl Visitor<'_> for KeyBytes {
    type Value = Vec<u8>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }
}

/// Ours, in the same terms; `None` when it refuses the text.
fn ours(text: &str) -> Option<Vec<Pair>> {
    let mut members: Vec<RawMember> = Vec::new();
    object_members(text.as_bytes(), &mut Vec::new(), |m| members.push(m)).ok()?;
    let pairs = members
        .into_iter()
        .map(|m| {
            assert_eq!(
                m.escaped,
                text[m.key.clone()].contains('\\'),
                "escaped flag of {text:?}"
            );
            let value = &text[m.value.clone()];
            assert_eq!(
                m.plain_string,
                value.starts_with('"') && !value.contains('\\'),
                "plain_string flag of {text:?}"
            );
            let quoted = &text[m.key.start - 1..m.key.end + 1];
            let key = KeyBytes
                .deserialize(&mut serde_json::Deserializer::from_str(quoted))
                .expect("a key serde_json reads");
            (key, text[m.value].to_owned())
        })
        .collect();
    Some(pairs)
}

/// Both readings agree; for a text that is valid JSON but no object, ours
/// refuses it and serde_json's map reading does too.
fn agree(text: &str) {
    assert_eq!(ours(text), reference(text), "{text:?}");
}

#[test]
fn edge_cases_read_as_serde_json_reads_them() {
    let cases: &[&str] = &[
        // --- edge cases: structure ---
        "",
        " ",
        "{",
        "}",
        "{}",
        " \t\r\n{ \t\r\n} \t\r\n",
        "{} {}",
        "{}x",
        "[]",
        "\"a\"",
        "1",
        "{,}",
        r#"{"a"}"#,
        r#"{"a":}"#,
        r#"{"a" 1}"#,
        r#"{"a":1,}"#,
        r#"{"a":1 "b":2}"#,
        r#"{a:1}"#,
        r#"{'a':1}"#,
        r#"{"a":1}}"#,
        r#"{"a":[1,2]]}"#,
        r#"{"a":{"b":1]}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":[,1]}"#,
        r#"{"a":{"b"}}"#,
        r#"{"a":{"b":}}"#,
        r#"{"a":{,}}"#,
        r#"{"a":{1:2}}"#,
        r#"{"a":[]  ,"b":{ }}"#,
        r#"{"a":[[[[[[[[[[]]]]]]]]]]}"#,
        // --- edge cases: strings ---
        r#"{"":""}"#,
        r#"{"a":"\""}"#,
        r#"{"a":"\\"}"#,
        r#"{"a":"\/\b\f\n\r\t"}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":"\u00e9\u00E9"}"#,
        r#"{"a":"\u00g9"}"#,
        r#"{"a":"\u00e"}"#,
        r#"{"a":"\u"}"#,
        r#"{"a":"\"#,
        r#"{"a":"abc"#,
        r#"{"a":"\ud800"}"#,
        r#"{"\ud800":1}"#,
        r#"{"\ud83d\ude00":1}"#,
        r#"{"k\u0065y":1,"key":2}"#,
        "{\"a\":\"\u{1}\"}",
        "{\"a\":\"\t\"}",
        "{\"a\":\"\u{1f}\"}",
        "{\"a\u{0}\":1}",
        "{\"a\":\"\u{7f}\u{80}\u{e9}\u{2028}\u{10ffff}\"}",
        "{\"a\":\"0123456789abcdef0123456789abcdef\\n0123456789\"}",
        "{\"a\":\"0123456\"}",
        "{\"a\":\"01234567\"}",
        "{\"a\":\"012345678\"}",
        // --- edge cases: numbers and words ---
        r#"{"a":0}"#,
        r#"{"a":-0}"#,
        r#"{"a":01}"#,
        r#"{"a":-01}"#,
        r#"{"a":-}"#,
        r#"{"a":+1}"#,
        r#"{"a":1.}"#,
        r#"{"a":.5}"#,
        r#"{"a":1.5e}"#,
        r#"{"a":1.5e+}"#,
        r#"{"a":1.5E-07}"#,
        r#"{"a":1e400}"#,
        r#"{"a":123456789012345678901234567890}"#,
        r#"{"a":1x}"#,
        r#"{"a":0x1}"#,
        r#"{"a":true,"b":false,"c":null}"#,
        r#"{"a":tru}"#,
        r#"{"a":truex}"#,
        r#"{"a":nul}"#,
        r#"{"a":NaN}"#,
        r#"{"a":Infinity}"#,
        // --- the plain cases ---
        r#"{"a":1,"a":2}"#,
        r#"{"type":"page_view","ts":"2026-11-26T09:11:19.988Z","screen":{"w":2560,"h":1440},"tags":["x",1,null]}"#,
    ];
    for text in cases {
        agree(text);
    }
}

#[test]
fn any_depth_is_read() {
    for depth in [127, 128, 129, 10_000] {
        let text = format!(r#"{{"a":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
        assert_eq!(ours(&text).map(|m| m.len()), Some(1), "depth {depth}");
        agree(&text);
    }
}

/// A JSON value, written with spacing drawn from `gaps`.
fn value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,12}|[\"\\\\\\u{0}-\\u{1f}a-c]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::vec(("[a-c\"\\\\é]{0,3}", inner), 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `text` with whitespace from `gaps` after each structural byte outside
/// strings.
fn spaced(text: &str, gaps: &[u8]) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped, mut n) = (false, false, 0);
    for c in text.chars() {
        out.push(c);
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, '{' | '}' | '[' | ']' | ',' | ':') {
            let gap = gaps.get(n % gaps.len().max(1)).copied().unwrap_or(0);
            n += 1;
            out.push_str([" ", "", "\t\n", "\r\n  ", ""][usize::from(gap % 5)]);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn valid_objects_read_as_serde_json_reads_them(
        members in prop::collection::vec(("[a-c\"\\\\]{0,3}|\\PC{0,4}", value()), 0..6),
        gaps in prop::collection::vec(any::<u8>(), 1..16),
        duplicate in any::<bool>(),
    ) {
        // Written member by member, so that duplicate keys stay.
        let mut parts: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
            .collect();
        if duplicate && !parts.is_empty() {
            parts.push(parts[0].clone());
        }
        let text = spaced(&format!("{{{}}}", parts.join(",")), &gaps);
        prop_assert!(ours(&text).is_some(), "refused {:?}", text);
        agree(&text);
    }

    #[test]
    fn changed_texts_get_serde_json_s_verdict(
        v in value(),
        gaps in prop::collection::vec(any::<u8>(), 1..16),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(&b"{}[],:\"\\ 0-.e+tfnu1\x01"[..]),
        how in 0u8..3,
    ) {
        let text = spaced(&format!(r#"{{"k":{v},"z":[{v}]}}"#), &gaps);
        let mut bytes = text.into_bytes();
        let i = at.index(bytes.len());
        match how {
            0 => bytes[i] = byte,
            1 => bytes.insert(i, byte),
            _ => bytes.truncate(i),
        }
        // Changes that break UTF-8 never reach the parser (the record layer
        // refuses them first).
        if let Ok(text) = String::from_utf8(bytes) {
            agree(&text);
        }
    }
}
