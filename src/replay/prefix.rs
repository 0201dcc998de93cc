//! Firehose S3 prefix expressions, evaluated as Firehose does.
//!
//! A prefix is literal text with `!{namespace:value}` expressions:
//!
//! * `!{partitionKeyFromLambda:NAME}`: a partition key the function returned
//!   (`site`, `dt` or `hour`);
//! * `!{timestamp:PATTERN}`: the arrival time in UTC, formatted with a Java
//!   `DateTimeFormatter` pattern (`yyyy`, `MM`, `dd`, `HH`, `yyyy-MM-dd`, …);
//! * `!{firehose:error-output-type}`: `processing-failed` for records the
//!   function failed (error prefix only);
//! * `!{firehose:random-string}`: 11 characters Firehose draws per object.
//!   Replay derives them from the rest of the evaluated prefix, so that runs
//!   are reproducible.
//!
//! Firehose's own checks apply when the prefix is parsed, so a layout that
//! Firehose would refuse is refused here too, before any data is read: the
//! data prefix cannot use `error-output-type`, the error prefix cannot use
//! partition keys and, when it has any expression, must use
//! `error-output-type`.

use super::hash64;
use crate::partition::{PartitionKeys, KEY_NAMES};
use chrono::{DateTime, Datelike, Timelike, Utc};
use std::fmt::{self, Write};

/// Which of a delivery stream's two prefixes this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixKind {
    /// `Prefix`: where delivered records go.
    Data,
    /// `ErrorOutputPrefix`: where failed records go.
    Error,
}

/// A parsed prefix expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    PartitionKey(&'static str),
    Timestamp(Vec<DateItem>),
    ErrorOutputType,
    RandomString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DateItem {
    Literal(String),
    /// A pattern letter and how many times it is repeated.
    Field(char, usize),
}

/// Why a prefix expression is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixError {
    pub prefix: String,
    pub why: String,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid prefix {:?}: {}", self.prefix, self.why)
    }
}

impl std::error::Error for PrefixError {}

/// What a prefix is evaluated against: one object's records.
#[derive(Debug, Clone, Copy)]
pub struct PrefixContext<'a> {
    /// The partition keys (data prefix only).
    pub keys: Option<&'a PartitionKeys>,
    /// The arrival time, epoch milliseconds (Firehose takes the oldest
    /// record's of the object).
    pub arrival_ms: i64,
    /// `processing-failed` for the error prefix.
    pub error_output_type: &'a str,
}

impl Prefix {
    /// Parses and checks a prefix. An empty prefix is Firehose's default:
    /// `YYYY/MM/dd/HH/` for data, with the error output type in front for
    /// errors.
    pub fn parse(source: &str, kind: PrefixKind) -> Result<Prefix, PrefixError> {
        let fail = |why: String| PrefixError {
            prefix: source.to_owned(),
            why,
        };
        let effective = match (source, kind) {
            ("", PrefixKind::Data) => "!{timestamp:yyyy/MM/dd/HH}/",
            ("", PrefixKind::Error) => "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
            _ => source,
        };
        let mut parts = Vec::new();
        let mut rest = effective;
        while !rest.is_empty() {
            let Some(at) = rest.find("!{") else {
                parts.push(Part::Literal(rest.to_owned()));
                break;
            };
            if at > 0 {
                parts.push(Part::Literal(rest[..at].to_owned()));
            }
            let body_start = at + 2;
            let close = rest[body_start..]
                .find('}')
                .ok_or_else(|| fail("an expression `!{` is not closed by `}`".into()))?;
            let body = &rest[body_start..body_start + close];
            rest = &rest[body_start + close + 1..];
            let (namespace, value) = body
                .split_once(':')
                .ok_or_else(|| fail(format!("`!{{{body}}}` is not `!{{namespace:value}}`")))?;
            parts.push(match namespace {
                "partitionKeyFromLambda" => {
                    if kind == PrefixKind::Error {
                        return Err(fail(
                            "the error prefix cannot use partition keys (Firehose refuses it)"
                                .into(),
                        ));
                    }
                    let key = KEY_NAMES.iter().find(|k| **k == value).ok_or_else(|| {
                        fail(format!(
                            "the function returns no partition key {value:?} (it returns {})",
                            KEY_NAMES.join(", ")
                        ))
                    })?;
                    Part::PartitionKey(key)
                }
                "partitionKeyFromQuery" => {
                    return Err(fail(format!(
                        "`!{{partitionKeyFromQuery:{value}}}` needs Firehose's inline JQ parsing; \
                         this function returns its keys, use `!{{partitionKeyFromLambda:{value}}}`"
                    )))
                }
                "timestamp" => Part::Timestamp(parse_pattern(value).map_err(fail)?),
                "firehose" => match value {
                    "error-output-type" if kind == PrefixKind::Error => Part::ErrorOutputType,
                    "error-output-type" => {
                        return Err(fail(
                            "`!{firehose:error-output-type}` belongs in the error prefix only"
                                .into(),
                        ))
                    }
                    "random-string" => Part::RandomString,
                    other => {
                        return Err(fail(format!(
                            "unknown `firehose` value {other:?} (error-output-type, random-string)"
                        )))
                    }
                },
                other => {
                    return Err(fail(format!(
                        "unknown namespace {other:?} (partitionKeyFromLambda, timestamp, firehose)"
                    )))
                }
            });
        }
        let has_expression = parts.iter().any(|p| !matches!(p, Part::Literal(_)));
        if kind == PrefixKind::Error && has_expression && !parts.contains(&Part::ErrorOutputType) {
            return Err(fail(
                "an error prefix with expressions must contain `!{firehose:error-output-type}`"
                    .into(),
            ));
        }
        // Local folders stand in for S3 keys: no literal may climb out of
        // the output folder or start at the root. (Partition values never
        // can; see `partition::is_safe_value`.)
        for p in &parts {
            if let Part::Literal(text) = p {
                if text.split('/').any(|segment| segment == "..") {
                    return Err(fail(
                        "a `..` path segment would leave the output folder".into(),
                    ));
                }
            }
        }
        if matches!(parts.first(), Some(Part::Literal(t)) if t.starts_with('/')) {
            return Err(fail(
                "a prefix starting with `/` has an empty first segment".into(),
            ));
        }
        Ok(Prefix {
            source: source.to_owned(),
            parts,
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Evaluates the prefix. Keys missing from the context evaluate to
    /// empty, which only happens for a data prefix evaluated without keys.
    pub fn eval(&self, ctx: &PrefixContext) -> String {
        let time = DateTime::<Utc>::from_timestamp_millis(ctx.arrival_ms).unwrap_or_default();
        let mut out = String::with_capacity(self.source.len() + 32);
        let mut random_at = Vec::new();
        for p in &self.parts {
            match p {
                Part::Literal(text) => out.push_str(text),
                Part::PartitionKey(name) => {
                    if let Some(keys) = ctx.keys {
                        let value = keys
                            .pairs()
                            .into_iter()
                            .find(|(k, _)| k == name)
                            .map_or("", |(_, v)| v);
                        out.push_str(value);
                    }
                }
                Part::Timestamp(items) => format_time(&mut out, items, &time),
                Part::ErrorOutputType => out.push_str(ctx.error_output_type),
                Part::RandomString => random_at.push(out.len()),
            }
        }
        // Firehose's random string is random; replay's is a function of the
        // rest of the key, so re-running replay writes the same objects.
        for at in random_at.into_iter().rev() {
            let mut h = hash64(out.as_bytes(), at as u64);
            let mut s = String::with_capacity(11);
            for _ in 0..11 {
                s.push(char::from(
                    b"0123456789abcdefghijklmnopqrstuvwxyz"[(h % 36) as usize],
                ));
                h /= 36;
            }
            out.insert_str(at, &s);
        }
        out
    }
}

/// Parses the subset of Java's `DateTimeFormatter` patterns that make sense
/// in a key: `y`/`u` year, `M`/`L` month, `d` day, `D` day of year, `H`, `h`,
/// `k`, `K` hours, `m`, `s`, `S` fraction, `E` weekday, `a` AM/PM, `'…'`
/// quoted text. Other letters are refused rather than guessed at.
fn parse_pattern(pattern: &str) -> Result<Vec<DateItem>, String> {
    if pattern.is_empty() {
        return Err("`!{timestamp:}` needs a pattern such as yyyy-MM-dd".into());
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut items = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                literal.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(format!("unclosed quote in pattern {pattern:?}")),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        literal.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(&q) => {
                        literal.push(q);
                        j += 1;
                    }
                }
            }
            i = j + 1;
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            let max = match c {
                'y' | 'u' => 9,
                'M' | 'L' | 'E' => 5,
                'd' | 'H' | 'h' | 'k' | 'K' | 'm' | 's' => 2,
                'D' => 3,
                'S' => 9,
                'a' => 1,
                _ => {
                    return Err(format!(
                        "pattern letter {c:?} in {pattern:?} is not supported \
                         (y u M L d D H h k K m s S E a)"
                    ))
                }
            };
            if n > max {
                return Err(format!("too many {c:?} in pattern {pattern:?}"));
            }
            if !literal.is_empty() {
                items.push(DateItem::Literal(std::mem::take(&mut literal)));
            }
            items.push(DateItem::Field(c, n));
            i += n;
        } else if matches!(c, '[' | ']' | '{' | '}' | '#') {
            return Err(format!(
                "{c:?} is reserved in DateTimeFormatter patterns; quote it: '{c}'"
            ));
        } else {
            literal.push(c);
            i += 1;
        }
    }
    if !literal.is_empty() {
        items.push(DateItem::Literal(literal));
    }
    Ok(items)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
use crate::time::LONG_WEEKDAYS as DAYS;

fn format_time(out: &mut String, items: &[DateItem], t: &DateTime<Utc>) {
    let num = |out: &mut String, v: i64, width: usize| {
        let _ = write!(out, "{v:0width$}");
    };
    // Java's text styles: 1 to 3 letters short, 4 full, 5 narrow.
    let text = |out: &mut String, full: &str, n: usize| match n {
        4 => out.push_str(full),
        5 => out.push_str(&full[..1]),
        _ => out.push_str(&full[..3]),
    };
    for item in items {
        match *item {
            DateItem::Literal(ref s) => out.push_str(s),
            DateItem::Field(c, n) => match c {
                'y' | 'u' if n == 2 => num(out, i64::from(t.year()).rem_euclid(100), 2),
                'y' | 'u' => num(out, i64::from(t.year()), n),
                'M' | 'L' if n <= 2 => num(out, i64::from(t.month()), n),
                'M' | 'L' => text(out, MONTHS[t.month0() as usize], n),
                'd' => num(out, i64::from(t.day()), n),
                'D' => num(out, i64::from(t.ordinal()), n),
                'H' => num(out, i64::from(t.hour()), n),
                'k' => num(out, i64::from(if t.hour() == 0 { 24 } else { t.hour() }), n),
                'K' => num(out, i64::from(t.hour() % 12), n),
                'h' => num(out, i64::from(t.hour12().1), n),
                'm' => num(out, i64::from(t.minute()), n),
                's' => num(out, i64::from(t.second()), n),
                'S' => {
                    let nanos = format!("{:09}", t.nanosecond() % 1_000_000_000);
                    out.push_str(&nanos[..n]);
                }
                'E' => {
                    let day = DAYS[t.weekday().num_days_from_monday() as usize];
                    text(out, day, n)
                }
                'a' => out.push_str(if t.hour() < 12 { "AM" } else { "PM" }),
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2018-02-04 07:05:09.123 UTC, a Sunday: single-digit fields show padding.
    const T: i64 = 1_517_727_909_123;

    fn keys() -> PartitionKeys {
        PartitionKeys {
            site: "bbc.co.uk".into(),
            dt: "2018-02-04".into(),
            hour: "07".into(),
        }
    }

    fn eval(prefix: &str, kind: PrefixKind) -> Result<String, String> {
        let k = keys();
        Prefix::parse(prefix, kind)
            .map(|p| {
                p.eval(&PrefixContext {
                    keys: Some(&k),
                    arrival_ms: T,
                    error_output_type: "processing-failed",
                })
            })
            .map_err(|e| e.why)
    }

    #[test]
    fn evaluates() {
        use PrefixKind::*;
        #[rustfmt::skip]
        let cases: &[(&str, PrefixKind, &str)] = &[
            ("events/dt=!{partitionKeyFromLambda:dt}/site=!{partitionKeyFromLambda:site}/", Data,
                "events/dt=2018-02-04/site=bbc.co.uk/"),
            ("errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/", Error,
                "errors/processing-failed/dt=2018-02-04/"),
            ("", Data, "2018/02/04/07/"),
            ("", Error, "processing-failed/2018/02/04/07/"),
            ("plain/", Data, "plain/"),
            ("plain/", Error, "plain/"),
            ("!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/", Data, "2018/02/04/07/"),
            ("h=!{partitionKeyFromLambda:hour}/", Data, "h=07/"),
            ("!{timestamp:yy M d H m s}", Data, "18 2 4 7 5 9"),
            ("!{timestamp:yyyy-MM-dd'T'HH:mm:ss.SSS}", Data, "2018-02-04T07:05:09.123"),
            ("!{timestamp:SSSSSS}", Data, "123000"),
            ("!{timestamp:DDD D}", Data, "035 35"),
            ("!{timestamp:MMM MMMM MMMMM}", Data, "Feb February F"),
            ("!{timestamp:E EEEE}", Data, "Sun Sunday"),
            ("!{timestamp:hh a k K}", Data, "07 AM 7 7"),
            ("!{timestamp:'year='yyyy'/it''s'}", Data, "year=2018/it's"),
            ("!{timestamp:uuuu}", Data, "2018"),
        ];
        for (prefix, kind, want) in cases {
            assert_eq!(
                eval(prefix, *kind).as_deref(),
                Ok(*want),
                "prefix {prefix:?}"
            );
        }
    }

    #[test]
    fn refuses_what_firehose_refuses() {
        use PrefixKind::*;
        #[rustfmt::skip]
        let cases: &[(&str, PrefixKind, &str)] = &[
            ("e/!{firehose:error-output-type}/", Data, "error prefix only"),
            ("e/!{partitionKeyFromLambda:site}/!{firehose:error-output-type}/", Error, "cannot use partition keys"),
            ("e/!{timestamp:yyyy}/", Error, "must contain"),
            ("e/!{partitionKeyFromLambda:customer}/", Data, "no partition key \"customer\""),
            ("e/!{partitionKeyFromQuery:site}/", Data, "partitionKeyFromLambda"),
            ("e/!{timestamp:yyyy/", Data, "not closed"),
            ("e/!{timestamp}/", Data, "namespace:value"),
            ("e/!{nope:x}/", Data, "unknown namespace"),
            ("e/!{firehose:nope}/", Data, "unknown `firehose` value"),
            ("e/!{timestamp:}/", Data, "needs a pattern"),
            ("e/!{timestamp:yyyy-ZZ}/", Data, "'Z'"),
            ("e/!{timestamp:HHH}/", Data, "too many"),
            ("e/!{timestamp:'open}/", Data, "unclosed quote"),
            ("e/!{timestamp:[yyyy]}/", Data, "reserved"),
            ("e/../x/", Data, "`..`"),
            ("/abs/", Data, "`/`"),
        ];
        for (prefix, kind, want) in cases {
            let got = eval(prefix, *kind);
            assert!(
                matches!(&got, Err(why) if why.contains(want)),
                "prefix {prefix:?}: expected an error mentioning {want:?}, got {got:?}"
            );
        }
    }

    #[test]
    fn random_string_is_eleven_stable_characters() {
        let a = eval("r/!{firehose:random-string}/", PrefixKind::Data).unwrap();
        let b = eval("r/!{firehose:random-string}/", PrefixKind::Data).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), "r//".len() + 11, "{a}");
        assert!(a[2..13].bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
    }
}
