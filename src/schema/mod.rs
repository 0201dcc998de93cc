//! Athena column types: inferred from sample events (the `schema` command),
//! parsed from `COLUMNS`, and the check the `extra` column rests on, whether
//! a JSON value converts to its column's type.
//!
//! Firehose's Parquet conversion writes only the Glue table's columns, and a
//! value whose type does not match its column fails the record's conversion.
//! So the types here are the ones the Hive JSON SerDe reads without loss, and
//! [`Type::accepts`] is strict: what it refuses goes to `extra`, whole.
//!
//! ```
//! use firehose_enricher::schema::{Inference, Type};
//! let mut inference = Inference::default();
//! inference.add(r#"{"n":1,"tags":["a"],"User":{"id":7}}"#).unwrap();
//! inference.add(r#"{"n":1.5,"tags":[]}"#).unwrap();
//! let columns = inference.columns(&[]);
//! assert_eq!(columns[0], ("n".to_string(), Type::Double));
//! assert_eq!(columns[1].1.to_string(), "array<string>");
//! assert_eq!(columns[2].1.to_string(), "struct<id:bigint>");
//! assert!(Type::parse("struct<id:bigint>").unwrap().accepts(r#"{"id":7}"#));
//! assert!(!Type::Bigint.accepts(r#""7""#));
//! ```

pub mod render;
pub mod sample;

use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use std::collections::BTreeSet;
use std::fmt;

/// An Athena/Glue column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Boolean,
    Bigint,
    Double,
    String,
    Timestamp,
    Array(Box<Type>),
    /// Member names are lowercase column names, in first-seen order.
    Struct(Vec<(String, Type)>),
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Boolean => f.write_str("boolean"),
            Type::Bigint => f.write_str("bigint"),
            Type::Double => f.write_str("double"),
            Type::String => f.write_str("string"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Array(t) => write!(f, "array<{t}>"),
            Type::Struct(members) => {
                f.write_str("struct<")?;
                for (i, (name, t)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}:{t}")?;
                }
                f.write_str(">")
            }
        }
    }
}

/// Whether `name` is a column name as Glue stores it and Athena reads it
/// without quoting rules beyond backticks: lowercase ASCII letters, digits
/// and underscores, at most 255 bytes (Glue's limit).
pub fn is_column_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The name a JSON key maps to: Glue stores lowercase names, and the JSON
/// SerDes match keys to columns ignoring case. Borrowed when it already is
/// one, as nearly every key is: this runs for every member of every record
/// in Parquet mode.
pub fn column_of(key: &str) -> std::borrow::Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        std::borrow::Cow::Owned(key.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

impl Type {
    /// Parses the form [`Type`]'s `Display` writes (no spaces, lowercase).
    pub fn parse(text: &str) -> Option<Type> {
        let (t, rest) = Type::parse_prefix(text, 0)?;
        rest.is_empty().then_some(t)
    }

    fn parse_prefix(text: &str, depth: usize) -> Option<(Type, &str)> {
        // Deeper nesting than any event needs is refused rather than
        // recursed into: COLUMNS comes from the environment.
        if depth > 32 {
            return None;
        }
        for (name, t) in [
            ("boolean", Type::Boolean),
            ("bigint", Type::Bigint),
            ("double", Type::Double),
            ("string", Type::String),
            ("timestamp", Type::Timestamp),
        ] {
            if let Some(rest) = text.strip_prefix(name) {
                return Some((t, rest));
            }
        }
        if let Some(rest) = text.strip_prefix("array<") {
            let (inner, rest) = Type::parse_prefix(rest, depth + 1)?;
            return Some((Type::Array(Box::new(inner)), rest.strip_prefix('>')?));
        }
        let mut rest = text.strip_prefix("struct<")?;
        let mut members: Vec<(String, Type)> = Vec::new();
        loop {
            let (name, after) = rest.split_once(':')?;
            if !is_column_name(name) || members.iter().any(|(n, _)| n == name) {
                return None;
            }
            let (t, after) = Type::parse_prefix(after, depth + 1)?;
            members.push((name.to_owned(), t));
            match after.as_bytes().first() {
                Some(b',') => rest = &after[1..],
                Some(b'>') => return Some((Type::Struct(members), &after[1..])),
                _ => return None,
            }
        }
    }

    /// Whether a raw JSON value converts to this type without loss. `null`
    /// converts to every type (the column is NULL).
    ///
    /// A string column takes strings, numbers and booleans (the SerDe reads
    /// a scalar's text), but not arrays or objects; a bigint column takes
    /// integers that fit in 64 bits only; a struct takes objects whose every
    /// member is one of its own, so that no member is dropped.
    pub fn accepts(&self, raw: &str) -> bool {
        let raw = raw.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r'));
        match raw.as_bytes().first() {
            Some(b'n') => true,
            Some(b't' | b'f') => matches!(self, Type::Boolean | Type::String),
            Some(b'"') => match self {
                Type::String => true,
                Type::Timestamp => crate::time::json_string(raw).is_some_and(|s| is_timestamp(&s)),
                _ => false,
            },
            Some(b'-' | b'0'..=b'9') => match self {
                Type::String => true,
                Type::Double => raw.parse::<f64>().is_ok_and(f64::is_finite),
                Type::Bigint => {
                    raw.bytes().all(|b| b == b'-' || b.is_ascii_digit())
                        && raw.parse::<i64>().is_ok()
                }
                _ => false,
            },
            Some(b'[' | b'{') if matches!(self, Type::Array(_) | Type::Struct(_)) => {
                let mut de = serde_json::Deserializer::from_str(raw);
                Accepts(self)
                    .deserialize(&mut de)
                    .and_then(|ok| de.end().map(|()| ok))
                    .unwrap_or(false)
            }
            _ => false,
        }
    }
}

/// Checks a value against a type while it is parsed, without building it:
/// this runs for every array and object member of every record in Parquet
/// mode, and a `serde_json::Value` per member cost more than the rest of
/// the check (measured). The whole value is always consumed.
struct Accepts<'t>(&'t Type);

impl<'de> DeserializeSeed<'de> for Accepts<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Accepts<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(matches!(self.0, Type::Boolean | Type::String))
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(matches!(self.0, Type::Bigint | Type::Double | Type::String))
    }
    fn visit_u64<E>(self, v: u64) -> Result<bool, E> {
        match self.0 {
            Type::Bigint => Ok(i64::try_from(v).is_ok()),
            Type::Double | Type::String => Ok(true),
            _ => Ok(false),
        }
    }
    fn visit_f64<E>(self, v: f64) -> Result<bool, E> {
        Ok(match self.0 {
            Type::Double => v.is_finite(),
            Type::String => true,
            _ => false,
        })
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(match self.0 {
            Type::String => true,
            Type::Timestamp => is_timestamp(v),
            _ => false,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut ok = true;
        match self.0 {
            Type::Array(t) => {
                while let Some(item) = seq.next_element_seed(Accepts(t))? {
                    ok &= item;
                }
            }
            _ => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                ok = false;
            }
        }
        Ok(ok)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Type::Struct(members) = self.0 else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(false);
        };
        let mut ok = true;
        let mut seen = vec![false; members.len()];
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let name = column_of(&key);
            match members.iter().position(|(n, _)| *n == name) {
                // Two keys on one member: one of them would be lost.
                Some(i) if !seen[i] => {
                    seen[i] = true;
                    ok &= map.next_value_seed(Accepts(&members[i].1))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    ok = false;
                }
            }
        }
        Ok(ok)
    }
}

/// Whether `s` is a TIMESTAMP literal the Hive JSON SerDe reads by default
/// (`java.sql.Timestamp.valueOf`): `yyyy-[m]m-[d]d hh:mm:ss[.f…]`. Written
/// by hand: a regex engine for one fixed pattern would cost more.
fn is_timestamp(s: &str) -> bool {
    fn digits(s: &str, min: usize, max: usize) -> Option<&str> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (min..=max).contains(&n).then(|| &s[n..])
    }
    let check = || -> Option<()> {
        let s = digits(s, 4, 4)?.strip_prefix('-')?;
        let s = digits(s, 1, 2)?.strip_prefix('-')?;
        let s = digits(s, 1, 2)?.strip_prefix(' ')?;
        let s = digits(s, 2, 2)?.strip_prefix(':')?;
        let s = digits(s, 2, 2)?.strip_prefix(':')?;
        let s = digits(s, 2, 2)?;
        match s.strip_prefix('.') {
            None if s.is_empty() => Some(()),
            Some(f) => digits(f, 1, 9)?.is_empty().then_some(()),
            None => None,
        }
    };
    check().is_some()
}

/// What a value looked like, before types are settled: a field that was
/// only ever `null` (or an array only ever empty) has no type yet.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Null,
    Boolean,
    Bigint,
    Double,
    String,
    Array(Box<Shape>),
    Object(Members),
}

/// An object's members by column name, in first-seen order, with every
/// spelling each name was seen under.
#[derive(Debug, Clone, Default, PartialEq)]
struct Members(Vec<(String, BTreeSet<String>, Shape)>);

impl Members {
    fn add(&mut self, key: String, shape: Shape) {
        let name = column_of(&key).into_owned();
        match self.0.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, spellings, old)) => {
                spellings.insert(key);
                *old = merge(std::mem::replace(old, Shape::Null), shape);
            }
            None => self.0.push((name, BTreeSet::from([key]), shape)),
        }
    }

    fn merge(&mut self, other: Members) {
        for (name, spellings, shape) in other.0 {
            match self.0.iter_mut().find(|(n, _, _)| *n == name) {
                Some((_, old_spellings, old)) => {
                    old_spellings.extend(spellings);
                    *old = merge(std::mem::replace(old, Shape::Null), shape);
                }
                None => self.0.push((name, spellings, shape)),
            }
        }
    }
}

/// Two shapes of one field, widened: `bigint` and `double` give `double`,
/// arrays and objects merge member by member, any other conflict gives
/// `string`.
fn merge(a: Shape, b: Shape) -> Shape {
    match (a, b) {
        (Shape::Null, x) | (x, Shape::Null) => x,
        (Shape::Bigint, Shape::Double) | (Shape::Double, Shape::Bigint) => Shape::Double,
        (Shape::Array(a), Shape::Array(b)) => Shape::Array(Box::new(merge(*a, *b))),
        (Shape::Object(mut a), Shape::Object(b)) => {
            a.merge(b);
            Shape::Object(a)
        }
        (a, b) if a == b => a,
        _ => Shape::String,
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Boolean)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Bigint)
    }
    fn visit_u64<E>(self, v: u64) -> Result<Shape, E> {
        // Beyond bigint's range only a double holds it.
        Ok(if i64::try_from(v).is_ok() {
            Shape::Bigint
        } else {
            Shape::Double
        })
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Double)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::String)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let mut element = Shape::Null;
        while let Some(item) = seq.next_element::<Shape>()? {
            element = merge(element, item);
        }
        Ok(Shape::Array(Box::new(element)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut members = Members::default();
        while let Some((key, value)) = map.next_entry::<String, Shape>()? {
            members.add(key, value);
        }
        Ok(Shape::Object(members))
    }
}

/// A field left out of the schema, and why; its values go to `extra`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeftOut {
    /// The column name, dotted for a struct member (`context.Page` →
    /// `context.page`).
    pub name: String,
    pub why: String,
}

/// Types inferred over sample events, one object at a time.
#[derive(Debug, Default)]
pub struct Inference {
    top: Members,
    /// How many objects were added.
    pub objects: usize,
}

impl Inference {
    /// Adds one JSON object (an enriched line). Fails on anything else.
    pub fn add(&mut self, line: &str) -> Result<(), String> {
        match serde_json::from_str::<Shape>(line) {
            Ok(Shape::Object(members)) => {
                self.top.merge(members);
                self.objects += 1;
                Ok(())
            }
            Ok(_) => Err("not a JSON object".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether any object had a top-level member of this column name.
    pub fn has(&self, name: &str) -> bool {
        self.top.0.iter().any(|(n, _, _)| n == name)
    }

    /// The inferred columns, in first-seen order, leaving out `skip` (our
    /// own fields and the partition columns, typed elsewhere).
    pub fn columns(&self, skip: &[&str]) -> Vec<(String, Type)> {
        self.settle(skip).0
    }

    /// The fields left out: names that are not valid column names, or that
    /// collide after lowercasing, at any depth.
    pub fn left_out(&self, skip: &[&str]) -> Vec<LeftOut> {
        self.settle(skip).1
    }

    fn settle(&self, skip: &[&str]) -> (Vec<(String, Type)>, Vec<LeftOut>) {
        let mut left_out = Vec::new();
        let mut top = self.top.clone();
        top.0.retain(|(name, _, _)| !skip.contains(&name.as_str()));
        let columns = settle_members(&top, "", &mut left_out);
        left_out.sort();
        (columns, left_out)
    }
}

fn settle_members(
    members: &Members,
    path: &str,
    left_out: &mut Vec<LeftOut>,
) -> Vec<(String, Type)> {
    let mut out = Vec::new();
    for (name, spellings, shape) in &members.0 {
        let dotted = format!("{path}{name}");
        if !is_column_name(name) {
            left_out.push(LeftOut {
                name: dotted,
                why: "not a valid Athena column name (lowercase letters, digits, _)".into(),
            });
        } else if spellings.len() > 1 {
            let all: Vec<&str> = spellings.iter().map(String::as_str).collect();
            left_out.push(LeftOut {
                name: dotted,
                why: format!("spellings collide after lowercasing: {}", all.join(", ")),
            });
        } else {
            out.push((name.clone(), settle(shape, &dotted, left_out)));
        }
    }
    out
}

/// A shape's final type: what was only ever `null` or empty is a string,
/// and an object with no valid member too (Hive has no empty struct).
fn settle(shape: &Shape, path: &str, left_out: &mut Vec<LeftOut>) -> Type {
    match shape {
        Shape::Null | Shape::String => Type::String,
        Shape::Boolean => Type::Boolean,
        Shape::Bigint => Type::Bigint,
        Shape::Double => Type::Double,
        Shape::Array(inner) => Type::Array(Box::new(settle(inner, path, left_out))),
        Shape::Object(members) => {
            let members = settle_members(members, &format!("{path}."), left_out);
            if members.is_empty() {
                Type::String
            } else {
                Type::Struct(members)
            }
        }
    }
}

/// A column list as `COLUMNS` and `schema --format json` hold it:
/// `[{"name":…,"type":…},…]`, one line.
pub fn columns_json(columns: &[(String, Type)]) -> String {
    let list: Vec<serde_json::Value> = columns
        .iter()
        .map(|(name, t)| serde_json::json!({"name": name, "type": t.to_string()}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Parses a column list in the form [`columns_json`] writes; `None` when it
/// is not one (unknown type, invalid or repeated name, other keys).
pub fn parse_columns(text: &str) -> Option<Vec<(String, Type)>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Column {
        name: String,
        #[serde(rename = "type")]
        kind: String,
    }
    let list: Vec<Column> = serde_json::from_str(text).ok()?;
    let mut out: Vec<(String, Type)> = Vec::with_capacity(list.len());
    for c in list {
        if !is_column_name(&c.name) || out.iter().any(|(n, _)| *n == c.name) {
            return None;
        }
        out.push((c.name, Type::parse(&c.kind)?));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_and_print_round_trip() {
        let good = [
            "boolean",
            "bigint",
            "double",
            "string",
            "timestamp",
            "array<string>",
            "array<array<bigint>>",
            "struct<a:bigint>",
            "struct<a:bigint,b_2:array<struct<c:boolean>>>",
        ];
        for text in good {
            let t = Type::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(t.to_string(), text);
        }
        let bad = [
            "",
            "int",
            "String",
            "array<>",
            "array<string",
            "array<string>>",
            "struct<>",
            "struct<a:bigint,>",
            "struct<A:bigint>",
            "struct<a:bigint,a:string>",
            "struct<a bigint>",
            "struct<a:bigint",
            "map<string,string>",
            "string ",
        ];
        for text in bad {
            assert_eq!(Type::parse(text), None, "{text:?}");
        }
        let deep = "array<".repeat(40) + "string" + &">".repeat(40);
        assert_eq!(Type::parse(&deep), None, "nesting is bounded");
    }

    #[test]
    fn values_convert_or_not() {
        let t = |s: &str| Type::parse(s).unwrap();
        let cases: &[(&str, &str, bool)] = &[
            // --- null converts to anything ---
            ("bigint", "null", true),
            ("struct<a:bigint>", "null", true),
            // --- bigint: 64-bit integers only ---
            ("bigint", "0", true),
            ("bigint", "-9223372036854775808", true),
            ("bigint", "9223372036854775808", false),
            ("bigint", "1.0", false),
            ("bigint", "1e2", false),
            ("bigint", r#""7""#, false),
            ("bigint", "true", false),
            // --- double: any finite number ---
            ("double", "1", true),
            ("double", "-1.5e-3", true),
            ("double", "1e400", false),
            ("double", r#""1.5""#, false),
            // --- boolean ---
            ("boolean", "true", true),
            ("boolean", "false", true),
            ("boolean", "1", false),
            ("boolean", r#""true""#, false),
            // --- string: any scalar, as its text; never a container ---
            ("string", r#""x""#, true),
            ("string", "12", true),
            ("string", "true", true),
            ("string", "{}", false),
            ("string", r#"{"a":1}"#, false),
            ("string", "[1]", false),
            // --- timestamp: the TIMESTAMP literal only ---
            ("timestamp", r#""2026-11-27 09:14:58.123""#, true),
            ("timestamp", r#""2026-1-2 09:14:58""#, true),
            ("timestamp", r#""2026-11-27T09:14:58Z""#, false),
            ("timestamp", r#""2026-11-27 09:14:58.""#, false),
            ("timestamp", "1795770902000", false),
            // --- arrays: every element ---
            ("array<bigint>", "[]", true),
            ("array<bigint>", "[1,null,3]", true),
            ("array<bigint>", r#"[1,"2"]"#, false),
            ("array<bigint>", "1", false),
            ("array<string>", r#"["a",{"b":1}]"#, false),
            // --- structs: every member must be one of the struct's ---
            ("struct<a:bigint,b:string>", r#"{"a":1}"#, true),
            ("struct<a:bigint,b:string>", r#"{"A":1,"b":"x"}"#, true),
            ("struct<a:bigint>", r#"{"a":1,"c":2}"#, false),
            ("struct<a:bigint>", r#"{"a":1,"A":2}"#, false),
            ("struct<a:bigint>", r#"{"a":"1"}"#, false),
            ("struct<a:struct<b:boolean>>", r#"{"a":{"b":true}}"#, true),
            ("struct<a:struct<b:boolean>>", r#"{"a":{"b":1}}"#, false),
            ("struct<a:bigint>", "[1]", false),
            // --- text that is not JSON is refused, never a panic ---
            ("struct<a:bigint>", "{", false),
            ("string", "", false),
        ];
        for (kind, raw, want) in cases {
            assert_eq!(t(kind).accepts(raw), *want, "{raw} in {kind}");
        }
    }

    fn infer(lines: &[&str]) -> Vec<(String, String)> {
        let mut inference = Inference::default();
        for line in lines {
            inference.add(line).unwrap();
        }
        inference
            .columns(&["skipped"])
            .into_iter()
            .map(|(n, t)| (n, t.to_string()))
            .collect()
    }

    #[test]
    fn inference_widens_and_recurses() {
        let s = |n: &str, t: &str| (n.to_string(), t.to_string());
        type Case = (&'static [&'static str], Vec<(String, String)>);
        let cases: &[Case] = &[
            // --- edge cases first ---
            (&["{}"], vec![]),
            (&[r#"{"a":null}"#], vec![s("a", "string")]),
            (&[r#"{"a":[]}"#], vec![s("a", "array<string>")]),
            (&[r#"{"a":{}}"#], vec![s("a", "string")]),
            (&[r#"{"skipped":1,"a":1}"#], vec![s("a", "bigint")]),
            (&[r#"{"a":18446744073709551615}"#], vec![s("a", "double")]),
            (&[r#"{"a":1,"a":"x"}"#], vec![s("a", "string")]),
            // --- widening ---
            (&[r#"{"a":1}"#, r#"{"a":2.5}"#], vec![s("a", "double")]),
            (&[r#"{"a":1}"#, r#"{"a":null}"#], vec![s("a", "bigint")]),
            (&[r#"{"a":1}"#, r#"{"a":"1"}"#], vec![s("a", "string")]),
            (&[r#"{"a":true}"#, r#"{"a":1}"#], vec![s("a", "string")]),
            (&[r#"{"a":[1]}"#, r#"{"a":1}"#], vec![s("a", "string")]),
            (
                &[r#"{"a":{"b":1}}"#, r#"{"a":"x"}"#],
                vec![s("a", "string")],
            ),
            (&[r#"{"a":[1,2.5]}"#], vec![s("a", "array<double>")]),
            (&[r#"{"a":[1,"x"]}"#], vec![s("a", "array<string>")]),
            (
                &[r#"{"a":[]}"#, r#"{"a":[true]}"#],
                vec![s("a", "array<boolean>")],
            ),
            // --- structs merge member by member, in first-seen order ---
            (
                &[r#"{"a":{"y":1}}"#, r#"{"a":{"x":true,"y":0.5}}"#],
                vec![s("a", "struct<y:double,x:boolean>")],
            ),
            (
                &[r#"{"a":[{"b":1},{"c":"x"}]}"#],
                vec![s("a", "array<struct<b:bigint,c:string>>")],
            ),
            // --- first-seen order across objects ---
            (
                &[r#"{"b":1}"#, r#"{"a":"x","b":2}"#],
                vec![s("b", "bigint"), s("a", "string")],
            ),
            // --- names: lowercased; collisions and invalid names left out ---
            (&[r#"{"UserId":1}"#], vec![s("userid", "bigint")]),
            (&[r#"{"userId":1}"#, r#"{"userid":2}"#], vec![]),
            (&[r#"{"a-b":1,"c":1}"#], vec![s("c", "bigint")]),
            (&[r#"{"":1,"é":2,"a.b":3}"#], vec![]),
            (
                &[r#"{"a":{"X":1,"x":2,"ok":3}}"#],
                vec![s("a", "struct<ok:bigint>")],
            ),
            (&[r#"{"a":{"b-c":1}}"#], vec![s("a", "string")]),
        ];
        for (lines, want) in cases {
            assert_eq!(&infer(lines), want, "{lines:?}");
        }
    }

    #[test]
    fn left_out_names_say_why() {
        let mut inference = Inference::default();
        inference
            .add(r#"{"userId":1,"userid":2,"a-b":3,"ctx":{"Page":1,"page":2},"skipped":{"X":1,"x":1}}"#)
            .unwrap();
        let left: Vec<String> = inference
            .left_out(&["skipped"])
            .into_iter()
            .map(|l| format!("{}: {}", l.name, l.why))
            .collect();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(left[0].starts_with("a-b: not a valid"), "{left:?}");
        assert_eq!(
            left[1],
            "ctx.page: spellings collide after lowercasing: Page, page"
        );
        assert_eq!(
            left[2],
            "userid: spellings collide after lowercasing: userId, userid"
        );
        assert!(inference.add("[1]").is_err());
        assert!(inference.add("{").is_err());
    }

    #[test]
    fn column_lists_round_trip_and_refuse_bad_input() {
        let columns = vec![
            ("a".to_string(), Type::Bigint),
            (
                "b".to_string(),
                Type::Struct(vec![("c".into(), Type::Array(Box::new(Type::String)))]),
            ),
        ];
        let json = columns_json(&columns);
        assert_eq!(
            json,
            r#"[{"name":"a","type":"bigint"},{"name":"b","type":"struct<c:array<string>>"}]"#
        );
        assert_eq!(parse_columns(&json), Some(columns));
        for bad in [
            "",
            "{}",
            "[1]",
            r#"[{"name":"a"}]"#,
            r#"[{"name":"a","type":"int"}]"#,
            r#"[{"name":"A","type":"string"}]"#,
            r#"[{"name":"a","type":"string"},{"name":"a","type":"bigint"}]"#,
            r#"[{"name":"a","type":"string","comment":"x"}]"#,
        ] {
            assert_eq!(parse_columns(bad), None, "{bad}");
        }
        assert_eq!(parse_columns("[]"), Some(vec![]));
    }
}
