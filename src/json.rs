//! Reading raw JSON text in place: where a member's key or value lies in an
//! object's text, without building a DOM. The record layer and the stages
//! that edit members (the privacy controls) read records this way, so that
//! every byte they do not change is kept as it was.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::ops::Range;

/// Where the key of the member whose value starts at `value_start` begins.
/// Walks back over whitespace and the colon to the key's closing quote, then
/// to its opening quote: the first `"` not escaped by an odd run of
/// backslashes, since a JSON string holds no other.
pub fn key_start(text: &[u8], value_start: usize) -> usize {
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
pub fn member<'a>(raw: &'a str, key: &str) -> Option<&'a str> {
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

/// Where every value of `key` lies in the raw JSON object `raw`, duplicates
/// included, as byte ranges of `raw`; empty when `raw` is not an object.
pub fn member_ranges(raw: &str, key: &str) -> Vec<Range<usize>> {
    struct FindAll<'k>(&'k str, usize);
    impl<'de> Visitor<'de> for FindAll<'_> {
        type Value = Vec<Range<usize>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = Vec::new();
            while let Some(k) = map.next_key_seed(KeyIs(self.0))? {
                let v: &'de RawValue = map.next_value()?;
                if k {
                    let start = v.get().as_ptr() as usize - self.1;
                    found.push(start..start + v.get().len());
                }
            }
            Ok(found)
        }
    }
    if !raw.starts_with('{') {
        return Vec::new();
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    de.deserialize_map(FindAll(key, raw.as_ptr() as usize))
        .unwrap_or_default()
}

/// Deserializes a key and says whether it equals the given one, without
/// allocating for unescaped keys.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        // As bytes: a key with a lone surrogate escape (`"\ud800"`) is valid
        // JSON text, and only not a Rust `str`. It equals no name we look for.
        d.deserialize_bytes(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<bool, E> {
        Ok(v == self.0.as_bytes())
    }
}
