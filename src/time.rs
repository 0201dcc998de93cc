//! Event time: parse the dozen shapes client SDKs send, and format the one
//! shape Athena reads as `TIMESTAMP`.
//!
//! Everything here works in epoch milliseconds (`i64`, UTC). Parsing is pure:
//! it never looks at a clock, so the caller decides what "now" means (the
//! record's arrival time).
//!
//! Accepted inputs:
//!
//! * **Epoch numbers**, as JSON numbers or numeric strings, integer or
//!   fractional, with an optional exponent. The unit is chosen by magnitude of
//!   the absolute value `v`:
//!
//!   | magnitude            | unit         | covers                    |
//!   |----------------------|--------------|---------------------------|
//!   | `v < 10^11`          | seconds      | 1970 to year 5138         |
//!   | `10^11 <= v < 10^14` | milliseconds | 1973 to year 5138         |
//!   | `10^14 <= v < 10^17` | microseconds | 1973 to year 5138         |
//!   | `10^17 <= v`         | nanoseconds  | 1973 to 2262 (i64 limit)  |
//!
//! * **ISO 8601 / RFC 3339**: `YYYY-MM-DD`, then optionally `T`, `t` or a
//!   space and `HH:MM[:SS[.fff…]]` (any number of fraction digits, `.` or
//!   `,`), then optionally `Z`, `z`, `UTC`, `GMT`, `±hh`, `±hhmm` or `±hh:mm`,
//!   optionally after one space. No offset means UTC.
//! * **RFC 2822 / HTTP dates**: `Sun, 11 Feb 2018 12:30:07 GMT`, `… +0100`.
//! * **JavaScript `Date.prototype.toString()`**:
//!   `Sun Feb 11 2018 13:30:07 GMT+0100 (Central European Standard Time)`.
//!
//! Everything is truncated (floored) to whole milliseconds.
//!
//! ```
//! use firehose_enricher::time::{format_millis, parse_time_str};
//! let ms = parse_time_str("2018-02-11T13:30:07.123456+01:00").unwrap();
//! assert_eq!(format_millis(ms).unwrap().as_str(), "2018-02-11 12:30:07.123");
//! assert_eq!(parse_time_str("1518352207"), Some(1_518_352_207_000));
//! assert_eq!(parse_time_str("2018-02-30"), None); // no such day
//! ```

use chrono::{DateTime, Datelike, NaiveDate};

/// Days from 0001-01-01 (chrono's "common era" day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;
const MS_PER_DAY: i64 = 86_400_000;

/// Parses a time given as the raw text of a JSON value: a number
/// (`1518352207.5`) or a string (`"2018-02-11T12:30:07Z"`). Anything else
/// (`null`, booleans, objects, arrays) gives `None`.
pub fn parse_json_time(raw: &str) -> Option<i64> {
    match raw.as_bytes().first()? {
        b'"' => parse_time_str(&json_string(raw)?),
        b'-' | b'0'..=b'9' => parse_epoch(raw),
        _ => None,
    }
}

/// The raw text of a JSON string value, unescaped; `None` for any other JSON
/// value. Borrowed unless it holds escapes, which are rare, and which
/// serde_json undoes.
pub(crate) fn json_string(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw)
            .ok()
            .map(std::borrow::Cow::Owned)
    } else {
        Some(std::borrow::Cow::Borrowed(inner))
    }
}

/// Parses a time given as a string: an epoch number or a calendar date-time.
pub fn parse_time_str(s: &str) -> Option<i64> {
    let s = s.trim();
    let first = *s.as_bytes().first()?;
    if first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' {
        if let Some(ms) = parse_iso(s.as_bytes()) {
            return Some(ms);
        }
        if let Some(ms) = parse_epoch(s.strip_prefix('+').unwrap_or(s)) {
            return Some(ms);
        }
    }
    parse_rfc2822(s).or_else(|| parse_js_date_string(s))
}

/// Parses an epoch number in decimal text (JSON number syntax, leniently:
/// leading `.` and missing fraction digits are fine) and converts it to
/// milliseconds with the unit chosen by magnitude (see the module docs).
///
/// Hand-written rather than going through `f64`: nanosecond epochs have 19
/// digits, more than an `f64` holds exactly, and the result must be exact.
pub fn parse_epoch(s: &str) -> Option<i64> {
    let (negative, mantissa, exp10) = parse_decimal(s.as_bytes())?;
    // Integer magnitude decides the unit.
    let magnitude = scale(mantissa, exp10)?;
    let unit_to_ms: i32 = if magnitude < 100_000_000_000 {
        3 // seconds
    } else if magnitude < 100_000_000_000_000 {
        0 // milliseconds
    } else if magnitude < 100_000_000_000_000_000 {
        -3 // microseconds
    } else {
        -6 // nanoseconds
    };
    let total = exp10 + unit_to_ms;
    let ms: i128 = if total >= 0 {
        (mantissa as i128).checked_mul(10i128.checked_pow(total as u32)?)?
    } else {
        let div = 10i128
            .checked_pow(total.unsigned_abs())
            .unwrap_or(i128::MAX);
        let q = mantissa as i128 / div;
        // Floor, not truncation toward zero, for times before 1970.
        if negative && mantissa as i128 % div != 0 {
            q + 1
        } else {
            q
        }
    };
    let ms = if negative { -ms } else { ms };
    i64::try_from(ms).ok()
}

/// `value = mantissa * 10^exp10`, keeping at most 30 significant digits (the
/// digits past that are far below a millisecond for any accepted magnitude).
fn parse_decimal(b: &[u8]) -> Option<(bool, u128, i32)> {
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let mut mantissa: u128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0usize;
    let mut significant = 0usize;
    let mut push = |d: u8, fractional: bool, mantissa: &mut u128, exp10: &mut i32| {
        if significant < 30 {
            *mantissa = *mantissa * 10 + u128::from(d - b'0');
            if *mantissa != 0 {
                significant += 1;
            }
            if fractional {
                *exp10 -= 1;
            }
        } else if !fractional {
            *exp10 += 1;
        }
    };
    while i < b.len() && b[i].is_ascii_digit() {
        push(b[i], false, &mut mantissa, &mut exp10);
        digits += 1;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            push(b[i], true, &mut mantissa, &mut exp10);
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let exp_negative = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i32 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            e = e.saturating_mul(10).saturating_add(i32::from(b[i] - b'0'));
            i += 1;
        }
        if i == start {
            return None;
        }
        // Anything past 10^±400 is out of range anyway; clamp to avoid overflow.
        let e = e.min(400);
        exp10 += if exp_negative { -e } else { e };
    }
    (i == b.len()).then_some((negative, mantissa, exp10))
}

/// Integer part of `mantissa * 10^exp10`, or `None` past `u128`.
fn scale(mantissa: u128, exp10: i32) -> Option<u128> {
    if exp10 >= 0 {
        mantissa.checked_mul(10u128.checked_pow(exp10 as u32)?)
    } else {
        Some(
            10u128
                .checked_pow(exp10.unsigned_abs())
                .map_or(0, |d| mantissa / d),
        )
    }
}

/// Hand-written ISO 8601 / RFC 3339 parser. chrono's `parse_from_rfc3339`
/// rejects the variants SDKs actually send (space separator, missing seconds,
/// `+0100`, no offset at all), and its format-string parser costs several
/// times more than this on the hot path. chrono still validates the calendar
/// date, so Feb 30 and Feb 29 of a common year are rejected.
fn parse_iso(b: &[u8]) -> Option<i64> {
    let year = digits(b, 0, 4)? as i32;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let days = i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE;
    let mut ms = days * MS_PER_DAY;
    let mut i = 10;
    if i == b.len() {
        return Some(ms);
    }
    if !matches!(b[i], b'T' | b't' | b' ') {
        return None;
    }
    i += 1;
    let hour = digits(b, i, 2)?;
    expect(b, i + 2, b':')?;
    let minute = digits(b, i + 3, 2)?;
    i += 5;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = digits(b, i + 1, 2)?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            let mut frac_ms = 0u32;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 3 {
                    frac_ms = frac_ms * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 {
                return None;
            }
            for _ in n..3 {
                frac_ms *= 10;
            }
            ms += i64::from(frac_ms);
        }
    }
    // Leap seconds (:60) are rejected rather than guessed at.
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    ms += i64::from(hour) * 3_600_000 + i64::from(minute) * 60_000 + i64::from(second) * 1_000;
    let offset = parse_offset(&b[i..])?;
    Some(ms - offset)
}

/// The offset suffix in milliseconds east of UTC.
fn parse_offset(b: &[u8]) -> Option<i64> {
    let b = b.strip_prefix(b" ").unwrap_or(b);
    match b {
        [] | [b'Z' | b'z'] | b"UTC" | b"GMT" => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [_, _] => (digits(rest, 0, 2)?, 0),
                [_, _, _, _] => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                [_, _, b':', _, _] => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let ms = i64::from(h * 60 + m) * 60_000;
            Some(if *sign == b'-' { -ms } else { ms })
        }
        _ => None,
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    s.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn expect(b: &[u8], at: usize, c: u8) -> Option<()> {
    (b.get(at) == Some(&c)).then_some(())
}

fn parse_rfc2822(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc2822(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `Date.prototype.toString()`, what `String(new Date())` gives in a browser.
fn parse_js_date_string(s: &str) -> Option<i64> {
    let s = match s.find(" (") {
        Some(i) if s.ends_with(')') => &s[..i],
        _ => s,
    };
    DateTime::parse_from_str(s, "%a %b %d %Y %H:%M:%S GMT%z")
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A formatted `YYYY-MM-DD HH:MM:SS.mmm` timestamp, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Formatted([u8; 23]);

impl Formatted {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
    /// `YYYY-MM-DD`, the `dt` partition value.
    pub fn date(&self) -> &str {
        &self.as_str()[..10]
    }
    /// `HH`, the `hour` partition value.
    pub fn hour(&self) -> &str {
        &self.as_str()[11..13]
    }
}

impl std::fmt::Debug for Formatted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Formats epoch milliseconds as Athena's TIMESTAMP literal,
/// `YYYY-MM-DD HH:MM:SS.mmm`, in UTC. `None` outside years 0000 to 9999,
/// which that literal cannot express.
///
/// Written by hand: chrono's `format()` interprets a format string per call,
/// and this runs twice per record.
pub fn format_millis(ms: i64) -> Option<Formatted> {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let ce_days = i32::try_from(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?).ok()?;
    let date = NaiveDate::from_num_days_from_ce_opt(ce_days)?;
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = *b"0000-00-00 00:00:00.000";
    let mut put = |at: usize, n: usize, mut v: u32| {
        for k in (0..n).rev() {
            out[at + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, date.month());
    put(8, 2, date.day());
    let in_day = in_day as u32;
    put(11, 2, in_day / 3_600_000);
    put(14, 2, in_day / 60_000 % 60);
    put(17, 2, in_day / 1_000 % 60);
    put(20, 3, in_day % 1_000);
    Some(Formatted(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ms: Option<i64>) -> Option<String> {
        ms.map(|ms| {
            format_millis(ms).map_or_else(|| "<unformattable>".into(), |f| f.as_str().into())
        })
    }

    /// One table for every accepted and rejected shape. Edge cases first.
    #[test]
    fn parse_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // --- edge cases ---
            ("", None),
            ("   ", None),
            ("-", None),
            (".", None),
            ("1e", None),
            ("12abc", None),
            ("2018-02-30T00:00:00Z", None), // impossible date
            ("2019-02-29", None),           // not a leap year
            ("2020-02-29", Some("2020-02-29 00:00:00.000")), // leap year
            ("2018-02-11T24:00:00Z", None),
            ("2018-02-11T23:59:60Z", None), // leap second: rejected, not guessed
            ("2018-02-11T12:30:07.Z", None), // dot without digits
            ("2018-02-11T12:30:07+25:00", None),
            ("2018-02-11T12:30:07+01:0", None),
            ("2018-02-11T12:30:07 +01:00 extra", None),
            ("2018-2-11", None),
            ("0", Some("1970-01-01 00:00:00.000")),
            ("-1", Some("1969-12-31 23:59:59.000")),
            ("-0.0005", Some("1969-12-31 23:59:59.999")), // floor, not toward zero
            // nanoseconds: 19 digits, more than an f64 holds exactly
            ("1518352207123456789", Some("2018-02-11 12:30:07.123")),
            ("1518352207999999999", Some("2018-02-11 12:30:07.999")),
            // --- epoch units by magnitude ---
            ("1518352207", Some("2018-02-11 12:30:07.000")),
            ("1518352207.9999", Some("2018-02-11 12:30:07.999")),
            ("1518352207123", Some("2018-02-11 12:30:07.123")),
            ("1518352207123.9", Some("2018-02-11 12:30:07.123")),
            ("1518352207123456", Some("2018-02-11 12:30:07.123")),
            ("1.518352207e9", Some("2018-02-11 12:30:07.000")),
            ("1.518352207123E12", Some("2018-02-11 12:30:07.123")),
            ("99999999999", Some("5138-11-16 09:46:39.000")), // last seconds value
            ("100000000000", Some("1973-03-03 09:46:40.000")), // first milliseconds value
            ("+1518352207", Some("2018-02-11 12:30:07.000")),
            (" 1518352207 ", Some("2018-02-11 12:30:07.000")),
            // --- ISO 8601 / RFC 3339 ---
            ("2018-02-11T12:30:07Z", Some("2018-02-11 12:30:07.000")),
            ("2018-02-11t12:30:07z", Some("2018-02-11 12:30:07.000")),
            ("2018-02-11 12:30:07", Some("2018-02-11 12:30:07.000")),
            ("2018-02-11T12:30", Some("2018-02-11 12:30:00.000")),
            ("2018-02-11", Some("2018-02-11 00:00:00.000")),
            ("2018-02-11T12:30:07.1Z", Some("2018-02-11 12:30:07.100")),
            ("2018-02-11T12:30:07.12Z", Some("2018-02-11 12:30:07.120")),
            ("2018-02-11T12:30:07.123Z", Some("2018-02-11 12:30:07.123")),
            (
                "2018-02-11T12:30:07.123456789Z",
                Some("2018-02-11 12:30:07.123"),
            ),
            ("2018-02-11T12:30:07,5Z", Some("2018-02-11 12:30:07.500")),
            ("2018-02-11T13:30:07+01:00", Some("2018-02-11 12:30:07.000")),
            ("2018-02-11T13:30:07+0100", Some("2018-02-11 12:30:07.000")),
            ("2018-02-11T13:30:07+01", Some("2018-02-11 12:30:07.000")),
            ("2018-02-11T07:00:07-05:30", Some("2018-02-11 12:30:07.000")),
            ("2018-02-11 12:30:07 UTC", Some("2018-02-11 12:30:07.000")),
            (
                "2018-02-11 12:30:07.123 +00:00",
                Some("2018-02-11 12:30:07.123"),
            ),
            ("2018-02-11T00:30:00+01:00", Some("2018-02-10 23:30:00.000")), // day rolls back
            // --- RFC 2822 / HTTP dates ---
            (
                "Sun, 11 Feb 2018 12:30:07 GMT",
                Some("2018-02-11 12:30:07.000"),
            ),
            (
                "Sun, 11 Feb 2018 13:30:07 +0100",
                Some("2018-02-11 12:30:07.000"),
            ),
            (
                "11 Feb 2018 12:30:07 -0000",
                Some("2018-02-11 12:30:07.000"),
            ),
            ("Sun, 30 Feb 2018 12:30:07 GMT", None),
            // --- JavaScript Date.prototype.toString() ---
            (
                "Sun Feb 11 2018 13:30:07 GMT+0100 (Central European Standard Time)",
                Some("2018-02-11 12:30:07.000"),
            ),
            (
                "Sun Feb 11 2018 12:30:07 GMT+0000",
                Some("2018-02-11 12:30:07.000"),
            ),
            // --- garbage ---
            ("yesterday", None),
            ("12/02/2018", None),
            ("NaN", None),
            ("Infinity", None),
        ];
        for (input, want) in cases {
            let got = fmt(parse_time_str(input));
            assert_eq!(got.as_deref(), *want, "input {input:?}");
        }
    }

    #[test]
    fn json_values() {
        let cases: &[(&str, Option<&str>)] = &[
            ("null", None),
            ("true", None),
            ("{}", None),
            ("[1518352207]", None),
            ("\"\"", None),
            ("1518352207", Some("2018-02-11 12:30:07.000")),
            ("1518352207123", Some("2018-02-11 12:30:07.123")),
            ("1.518352207123e12", Some("2018-02-11 12:30:07.123")),
            ("-1", Some("1969-12-31 23:59:59.000")),
            ("\"1518352207123\"", Some("2018-02-11 12:30:07.123")),
            ("\"2018-02-11T12:30:07Z\"", Some("2018-02-11 12:30:07.000")),
            // escaped characters take the slow path
            (
                "\"2018-02-11T12:30:07\\u005a\"",
                Some("2018-02-11 12:30:07.000"),
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(fmt(parse_json_time(raw)).as_deref(), *want, "raw {raw}");
        }
    }

    #[test]
    fn formatting_range() {
        let cases: &[(i64, Option<&str>)] = &[
            (i64::MIN, None),
            (i64::MAX, None),
            (-62_167_219_200_001, None), // one ms before year 0
            (-62_167_219_200_000, Some("0000-01-01 00:00:00.000")),
            (253_402_300_799_999, Some("9999-12-31 23:59:59.999")),
            (253_402_300_800_000, None), // year 10000
            (0, Some("1970-01-01 00:00:00.000")),
            (1_518_352_207_123, Some("2018-02-11 12:30:07.123")),
        ];
        for (ms, want) in cases {
            let got = format_millis(*ms).map(|f| f.as_str().to_owned());
            assert_eq!(got.as_deref(), *want, "ms {ms}");
        }
        let f = format_millis(1_518_352_207_123).unwrap();
        assert_eq!((f.date(), f.hour()), ("2018-02-11", "12"));
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        for s in [
            "1e400",
            "-1e400",
            "1e-400",
            "99999999999999999999999999999999999999999",
            "1e20",
        ] {
            // Must not panic; values beyond i64 milliseconds are rejected.
            let _ = parse_time_str(s);
        }
        assert_eq!(parse_time_str("1e30"), None);
    }
}
