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
//! * **RFC 2822 / HTTP dates**: `Sun, 11 Feb 2018 12:30:07 GMT`, `… +0100`,
//!   `… UTC` (Go's `time.RFC1123`), and the two obsolete HTTP forms RFC 9110
//!   §5.6.7 says recipients must accept: RFC 850's
//!   `Sunday, 11-Feb-18 12:30:07 GMT` and asctime's
//!   `Sun Feb 11 12:30:07 2018` (UTC). RFC 850's two-digit year is read as
//!   RFC 9110 says, against `now` (the arrival time): the year with those
//!   last two digits that is not more than 50 years after `now`.
//! * **JavaScript `Date.prototype.toString()`**:
//!   `Sun Feb 11 2018 13:30:07 GMT+0100 (Central European Standard Time)`.
//!
//! Leap seconds (`:60`) are rejected in every form rather than guessed at.
//! Everything is floored to whole milliseconds, exactly, in decimal; a
//! [`Time`] also says whether the exact time lay past that millisecond, so
//! that bounds can be checked at full precision ([`Time::within`]).
//!
//! ```
//! use firehose_enricher::time::{format_millis, parse_time_str};
//! let now = 1_518_352_210_000;
//! let t = parse_time_str("2018-02-11T13:30:07.123456+01:00", now).unwrap();
//! assert_eq!(format_millis(t.ms).unwrap().as_str(), "2018-02-11 12:30:07.123");
//! assert!(t.sub_ms); // .123456 lies past .123
//! assert_eq!(parse_time_str("1518352207", now).map(|t| t.ms), Some(1_518_352_207_000));
//! assert_eq!(parse_time_str("2018-02-30", now), None); // no such day
//! ```

use chrono::{DateTime, Datelike, NaiveDate, Timelike};

/// Days from 0001-01-01 (chrono's "common era" day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;
const MS_PER_DAY: i64 = 86_400_000;

/// A parsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    /// Epoch milliseconds, floored.
    pub ms: i64,
    /// Whether the exact time lay past `ms` by a fraction of a millisecond.
    pub sub_ms: bool,
}

impl Time {
    fn exact(ms: i64) -> Time {
        Time { ms, sub_ms: false }
    }

    /// Whether the time lies no more than `max_future_ms` after `arrival_ms`
    /// and no more than `max_age_ms` before it, compared at full precision:
    /// an event 1 day + 0.5 ms after arrival is more than a day after it,
    /// though its milliseconds are not. (The lower bound needs no fraction:
    /// a floor at or above it means the exact time is too.)
    pub fn within(self, arrival_ms: i64, max_future_ms: i64, max_age_ms: i64) -> bool {
        let latest = arrival_ms.saturating_add(max_future_ms);
        (self.ms < latest || (self.ms == latest && !self.sub_ms))
            && self.ms >= arrival_ms.saturating_sub(max_age_ms)
    }
}

/// Parses a time given as the raw text of a JSON value: a number
/// (`1518352207.5`) or a string (`"2018-02-11T12:30:07Z"`). Anything else
/// (`null`, booleans, objects, arrays) gives `None`. `now_ms` dates RFC 850's
/// two-digit years (see the module docs).
pub fn parse_json_time(raw: &str, now_ms: i64) -> Option<Time> {
    match raw.as_bytes().first()? {
        b'"' => parse_time_str(&json_string(raw)?, now_ms),
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
pub fn parse_time_str(s: &str, now_ms: i64) -> Option<Time> {
    let s = s.trim();
    let first = *s.as_bytes().first()?;
    if first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' {
        if let Some(t) = parse_iso(s.as_bytes()) {
            return Some(t);
        }
        if let Some(t) = parse_epoch(s.strip_prefix('+').unwrap_or(s)) {
            return Some(t);
        }
    }
    parse_rfc2822(s)
        .or_else(|| parse_js_date_string(s))
        .or_else(|| parse_asctime(s))
        .or_else(|| parse_rfc850(s, now_ms))
        .map(Time::exact)
}

/// Parses an epoch number in decimal text (JSON number syntax, leniently:
/// leading `.` and missing fraction digits are fine) and converts it to
/// milliseconds with the unit chosen by magnitude (see the module docs).
///
/// Hand-written rather than going through `f64`: nanosecond epochs have 19
/// digits, more than an `f64` holds exactly, and the result must be exact.
pub fn parse_epoch(s: &str) -> Option<Time> {
    let d = parse_decimal(s.as_bytes())?;
    // Integer magnitude decides the unit.
    let magnitude = scale(d.mantissa, d.exp10)?;
    let unit_to_ms: i32 = if magnitude < 100_000_000_000 {
        3 // seconds
    } else if magnitude < 100_000_000_000_000 {
        0 // milliseconds
    } else if magnitude < 100_000_000_000_000_000 {
        -3 // microseconds
    } else {
        -6 // nanoseconds
    };
    d.floor(unit_to_ms)
}

/// Epoch milliseconds in decimal text, floored exactly: Firehose's
/// `approximateArrivalTimestamp`, whatever its magnitude. `f64` would round
/// `1518352200000.99999999` up to the next millisecond.
pub fn parse_millis(s: &str) -> Option<i64> {
    parse_decimal(s.as_bytes())?.floor(0).map(|t| t.ms)
}

/// `±mantissa * 10^exp10`, exact but for `dropped`.
struct Decimal {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    /// Non-zero digits past the 30 kept were dropped: the magnitude is a
    /// little more than `mantissa * 10^exp10`.
    dropped: bool,
}

impl Decimal {
    /// The value times `10^shift`, floored to an integer, with whether the
    /// value lay past that integer.
    fn floor(&self, shift: i32) -> Option<Time> {
        let total = self.exp10 + shift;
        let m = self.mantissa as i128;
        let (q, remainder) = if total >= 0 {
            (m.checked_mul(10i128.checked_pow(total as u32)?)?, false)
        } else {
            let div = 10i128
                .checked_pow(total.unsigned_abs())
                .unwrap_or(i128::MAX);
            (m / div, m % div != 0)
        };
        let inexact = remainder || self.dropped;
        // Floor, not truncation toward zero, for times before 1970: the
        // magnitude is rounded up, and what is left lies past the result.
        let ms = if self.negative {
            -(q + i128::from(inexact))
        } else {
            q
        };
        Some(Time {
            ms: i64::try_from(ms).ok()?,
            sub_ms: inexact,
        })
    }
}

/// A decimal number, keeping at most 30 significant digits (the digits past
/// that are far below a millisecond for any accepted magnitude, but whether
/// any is non-zero still decides a floor below zero and a bound).
fn parse_decimal(b: &[u8]) -> Option<Decimal> {
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let mut mantissa: u128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0usize;
    let mut significant = 0usize;
    let mut dropped = false;
    let mut push = |d: u8, fractional: bool, mantissa: &mut u128, exp10: &mut i32| {
        if significant < 30 {
            *mantissa = *mantissa * 10 + u128::from(d - b'0');
            if *mantissa != 0 {
                significant += 1;
            }
            if fractional {
                *exp10 -= 1;
            }
        } else {
            dropped |= d != b'0';
            if !fractional {
                *exp10 += 1;
            }
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
    (i == b.len()).then_some(Decimal {
        negative,
        mantissa,
        exp10,
        dropped,
    })
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
fn parse_iso(b: &[u8]) -> Option<Time> {
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
        return Some(Time::exact(ms));
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
    let mut sub_ms = false;
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
                } else {
                    sub_ms |= b[i] != b'0';
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
    Some(Time {
        ms: ms - offset,
        sub_ms,
    })
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

/// RFC 2822 and RFC 1123 (HTTP's preferred form). chrono reads `UT` and
/// `GMT` but not `UTC`, which Go's `time.RFC1123` writes.
fn parse_rfc2822(s: &str) -> Option<i64> {
    let gmt;
    let s = match s.strip_suffix(" UTC") {
        Some(rest) => {
            gmt = format!("{rest} GMT");
            gmt.as_str()
        }
        None => s,
    };
    DateTime::parse_from_rfc2822(s)
        .ok()
        .and_then(no_leap_second)
}

/// Epoch milliseconds of a chrono date-time, `None` for a leap second: chrono
/// accepts `:60` and would roll it over into the next second.
fn no_leap_second(t: DateTime<chrono::FixedOffset>) -> Option<i64> {
    (t.nanosecond() < 1_000_000_000).then(|| t.timestamp_millis())
}

/// `Date.prototype.toString()`, what `String(new Date())` gives in a browser.
fn parse_js_date_string(s: &str) -> Option<i64> {
    let s = match s.find(" (") {
        Some(i) if s.ends_with(')') => &s[..i],
        _ => s,
    };
    DateTime::parse_from_str(s, "%a %b %d %Y %H:%M:%S GMT%z")
        .ok()
        .and_then(no_leap_second)
}

/// asctime's `Sun Feb 11 12:30:07 2018` (day padded with a space below 10),
/// in UTC, as RFC 9110 reads it.
fn parse_asctime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // `Www Mmm dd hh:mm:ss yyyy`, fixed width.
    if b.len() != 24 || b[3] != b' ' || b[7] != b' ' || b[10] != b' ' || b[19] != b' ' {
        return None;
    }
    let weekday = weekday_index(&s[..3])?;
    let month = month_index(s.get(4..7)?)?;
    let day = match b[8] {
        b' ' => digits(b, 9, 1)?,
        _ => digits(b, 8, 2)?,
    };
    let year = digits(b, 20, 4)? as i32;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    date_time(date, weekday, b, 11)
}

/// RFC 850's `Sunday, 11-Feb-18 12:30:07 GMT`. The two-digit year is the
/// one with those digits not more than 50 years after `now_ms`, as RFC 9110
/// §5.6.7 has recipients read it.
fn parse_rfc850(s: &str, now_ms: i64) -> Option<i64> {
    let (name, rest) = s.split_once(", ")?;
    let weekday = LONG_WEEKDAYS
        .iter()
        .position(|w| w.eq_ignore_ascii_case(name))?;
    let b = rest.as_bytes();
    // `dd-Mmm-yy hh:mm:ss GMT`, fixed width.
    if b.len() != 22 || b[2] != b'-' || b[6] != b'-' || b[9] != b' ' || &b[18..] != b" GMT" {
        return None;
    }
    let day = digits(b, 0, 2)?;
    let month = month_index(rest.get(3..6)?)?;
    let yy = digits(b, 7, 2)? as i32;
    let now = DateTime::from_timestamp_millis(now_ms)?.date_naive();
    let mut year = now.year() - now.year().rem_euclid(100) + yy;
    let limit = now.checked_add_months(chrono::Months::new(50 * 12))?;
    // Of the candidates a century apart, the latest not past the limit.
    if NaiveDate::from_ymd_opt(year, month, day).is_some_and(|d| d > limit) {
        year -= 100;
    } else if NaiveDate::from_ymd_opt(year + 100, month, day).is_some_and(|d| d <= limit) {
        year += 100;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    date_time(date, weekday, b, 10)
}

/// Weekday names, Monday first (chrono's `num_days_from_monday`).
pub(crate) const LONG_WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Monday = 0, as [`LONG_WEEKDAYS`].
fn weekday_index(name: &str) -> Option<usize> {
    LONG_WEEKDAYS
        .iter()
        .position(|w| w[..3].eq_ignore_ascii_case(name))
}

/// January = 1.
fn month_index(name: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as u32 + 1)
}

/// `date` at the `hh:mm:ss` at `b[at..]`, in UTC; `None` when the weekday
/// named is not the date's (as chrono's RFC 2822 parser checks too), or for
/// an impossible time or a leap second.
fn date_time(date: NaiveDate, weekday: usize, b: &[u8], at: usize) -> Option<i64> {
    if date.weekday().num_days_from_monday() as usize != weekday {
        return None;
    }
    expect(b, at + 2, b':')?;
    expect(b, at + 5, b':')?;
    let (h, m, sec) = (
        digits(b, at, 2)?,
        digits(b, at + 3, 2)?,
        digits(b, at + 6, 2)?,
    );
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let days = i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE;
    Some(days * MS_PER_DAY + i64::from(h * 3600 + m * 60 + sec) * 1_000)
}

/// A formatted `YYYY-MM-DD HH:MM:SS.mmm` timestamp, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Formatted([u8; 23]);

impl Formatted {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
    /// The text's bytes, ASCII digits and separators.
    pub fn as_bytes(&self) -> &[u8; 23] {
        &self.0
    }
    /// `YYYY-MM-DD`, the `dt` partition value. Each of these checks only
    /// its own bytes: checking all 23 for every record's partition keys
    /// was a measurable share of the batch layer (callgrind).
    pub fn date(&self) -> &str {
        std::str::from_utf8(&self.0[..10]).unwrap_or_default()
    }
    /// `HH`, the `hour` partition value.
    pub fn hour(&self) -> &str {
        std::str::from_utf8(&self.0[11..13]).unwrap_or_default()
    }
}

impl std::fmt::Debug for Formatted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first and last epoch milliseconds [`format_millis`] can write:
/// 0000-01-01 00:00:00.000 and 9999-12-31 23:59:59.999 UTC.
pub const FORMATTABLE_MS: std::ops::RangeInclusive<i64> = -62_167_219_200_000..=253_402_300_799_999;

/// Formats epoch milliseconds as Athena's TIMESTAMP literal,
/// `YYYY-MM-DD HH:MM:SS.mmm`, in UTC. `None` outside years 0000 to 9999
/// ([`FORMATTABLE_MS`]), which that literal cannot express.
///
/// Written by hand: chrono's `format()` interprets a format string per call,
/// and this runs twice per record. The date is Howard Hinnant's
/// `civil_from_days` (days to proleptic Gregorian year, month and day, in
/// integer arithmetic), which took a third of chrono's
/// `from_num_days_from_ce_opt` instructions here; a test compares the two
/// on every day of the range's ends and on generated times.
pub fn format_millis(ms: i64) -> Option<Formatted> {
    if !FORMATTABLE_MS.contains(&ms) {
        return None;
    }
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let in_day = ms.rem_euclid(MS_PER_DAY) as u32;
    let mut out = *b"0000-00-00 00:00:00.000";
    let mut put = |at: usize, n: usize, mut v: u32| {
        for k in (0..n).rev() {
            out[at + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, in_day / 3_600_000);
    put(14, 2, in_day / 60_000 % 60);
    put(17, 2, in_day / 1_000 % 60);
    put(20, 3, in_day % 1_000);
    Some(Formatted(out))
}

/// The proleptic Gregorian date of `days` since 1970-01-01, for years 0
/// to 9999 (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"):
/// counted in 400-year eras starting on March 1st, so that the leap day
/// ends a year.
fn civil_from_days(days: i64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], from March
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as u32, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// chrono's formatting, which `format_millis` replaces.
    fn chrono_format(ms: i64) -> Option<String> {
        let t = chrono::DateTime::from_timestamp_millis(ms)?;
        use chrono::Datelike;
        (0..=9999)
            .contains(&t.year())
            .then(|| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
    }

    #[test]
    fn format_millis_agrees_with_chrono() {
        let (first, last) = (*FORMATTABLE_MS.start(), *FORMATTABLE_MS.end());
        // --- edge cases: the range's ends ---
        assert_eq!(format_millis(first - 1), None);
        assert_eq!(
            format_millis(first).unwrap().as_str(),
            "0000-01-01 00:00:00.000"
        );
        assert_eq!(
            format_millis(last).unwrap().as_str(),
            "9999-12-31 23:59:59.999"
        );
        assert_eq!(format_millis(last + 1), None);
        assert_eq!(format_millis(i64::MIN), None);
        assert_eq!(format_millis(i64::MAX), None);
        assert_eq!(
            format_millis(-1).unwrap().as_str(),
            "1969-12-31 23:59:59.999"
        );
        assert_eq!(
            format_millis(0).unwrap().as_str(),
            "1970-01-01 00:00:00.000"
        );
        // Every day of the first and last eight years, leap days included,
        // at a time of day that moves.
        let days = (last - first + 1) / MS_PER_DAY;
        assert_eq!(days, 3_652_425, "10,000 Gregorian years");
        for day in (0..8 * 366).chain(days - 8 * 366..days) {
            let ms = first + day * MS_PER_DAY + (day * 7_919_993) % MS_PER_DAY;
            assert_eq!(
                format_millis(ms).map(|f| f.as_str().to_owned()),
                chrono_format(ms),
                "{ms}"
            );
        }
        for leap in [
            "2000-02-29",
            "2024-02-29",
            "1600-02-29",
            "0000-02-29",
            "9996-02-29",
        ] {
            let ms = chrono::NaiveDate::parse_from_str(leap, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis();
            assert_eq!(&format_millis(ms).unwrap().as_str()[..10], leap);
        }
    }

    proptest::proptest! {
        #[test]
        fn format_millis_agrees_with_chrono_anywhere(ms in -63_000_000_000_000i64..254_000_000_000_000) {
            proptest::prop_assert_eq!(format_millis(ms).map(|f| f.as_str().to_owned()), chrono_format(ms));
        }
    }

    /// The reference time RFC 850's two-digit years are read against:
    /// 2026-11-27 09:14:57 UTC.
    const NOW: i64 = 1_795_770_897_000;

    fn fmt(t: Option<Time>) -> Option<String> {
        t.map(|t| {
            format_millis(t.ms).map_or_else(|| "<unformattable>".into(), |f| f.as_str().into())
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
            // Past the 30 significant digits kept, a non-zero digit still
            // moves a floor below zero.
            (
                "-1518352207.0000000000000000000000000001",
                Some("1921-11-20 11:29:52.999"),
            ),
            (
                "-1518352207.0000000000000000000000000000",
                Some("1921-11-20 11:29:53.000"),
            ),
            (
                "1518352207.9999999999999999999999999999",
                Some("2018-02-11 12:30:07.999"),
            ),
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
            // Leap seconds: chrono accepts :60 and would roll it over.
            ("Sun, 11 Feb 2018 23:59:60 GMT", None),
            ("Sun, 11 Feb 2018 12:30:60 +0100", None),
            ("Sun, 11 Feb 2018 23:59:60 UTC", None),
            // RFC 1123 as Go's time.RFC1123 writes it.
            (
                "Sun, 11 Feb 2018 12:30:07 UTC",
                Some("2018-02-11 12:30:07.000"),
            ),
            ("11 Feb 2018 12:30:07 UTC", Some("2018-02-11 12:30:07.000")),
            ("Sun, 11 Feb 2018 12:30:07 UTC+1", None),
            ("Sun, 11 Feb 2018 12:30:07UTC", None),
            // --- RFC 9110's obsolete HTTP dates: RFC 850 ---
            (
                "Sunday, 11-Feb-18 12:30:07 GMT",
                Some("2018-02-11 12:30:07.000"),
            ),
            (
                "sunday, 11-feb-18 12:30:07 GMT",
                Some("2018-02-11 12:30:07.000"),
            ),
            ("Monday, 11-Feb-18 12:30:07 GMT", None), // wrong weekday
            ("Sunday, 11-Feb-18 12:30:60 GMT", None), // leap second
            ("Sunday, 11-Feb-18 24:30:07 GMT", None),
            ("Sunday, 30-Feb-18 12:30:07 GMT", None),
            ("Sunday, 11-Feb-18 12:30:07 UTC", None),
            ("Sunday, 11-Feb-2018 12:30:07 GMT", None),
            ("Sun, 11-Feb-18 12:30:07 GMT", None), // RFC 850 names the day in full
            ("Sunday, 1-Feb-18 12:30:07 GMT", None),
            // Two-digit years: not more than 50 years after NOW (2026-11-27).
            (
                "Tuesday, 11-Feb-76 12:30:07 GMT", // 2076: 49 years ahead
                Some("2076-02-11 12:30:07.000"),
            ),
            (
                "Wednesday, 11-Feb-76 12:30:07 GMT", // 1976 would be a Wednesday
                None,
            ),
            (
                "Monday, 29-Nov-76 12:30:07 GMT", // 2076-11-29: past the limit
                Some("1976-11-29 12:30:07.000"),
            ),
            ("Sunday, 29-Nov-76 12:30:07 GMT", None), // 2076's weekday, 1976's year
            (
                "Friday, 27-Nov-76 12:30:07 GMT", // 2076-11-27: the limit itself
                Some("2076-11-27 12:30:07.000"),
            ),
            (
                "Monday, 11-Feb-80 12:30:07 GMT",
                Some("1980-02-11 12:30:07.000"),
            ),
            (
                "Saturday, 01-Jan-00 00:00:00 GMT",
                Some("2000-01-01 00:00:00.000"),
            ),
            // --- RFC 9110's obsolete HTTP dates: asctime, in UTC ---
            ("Sun Feb 11 12:30:07 2018", Some("2018-02-11 12:30:07.000")),
            ("Thu Feb  1 12:30:07 2018", Some("2018-02-01 12:30:07.000")),
            ("Thu Feb 01 12:30:07 2018", Some("2018-02-01 12:30:07.000")),
            ("sun feb 11 12:30:07 2018", Some("2018-02-11 12:30:07.000")),
            ("Mon Feb 11 12:30:07 2018", None), // wrong weekday
            ("Sun Feb 11 12:30:60 2018", None), // leap second
            ("Sun Feb 11 12:30:07 18", None),
            ("Thu Feb 1 12:30:07 2018", None), // asctime pads the day with a space
            ("Sun Feb 11 12:30:07 2018 GMT", None),
            ("Sun Xyz 11 12:30:07 2018", None),
            // --- JavaScript Date.prototype.toString() ---
            (
                "Sun Feb 11 2018 13:30:07 GMT+0100 (Central European Standard Time)",
                Some("2018-02-11 12:30:07.000"),
            ),
            (
                "Sun Feb 11 2018 12:30:07 GMT+0000",
                Some("2018-02-11 12:30:07.000"),
            ),
            ("Sun Feb 11 2018 12:30:60 GMT+0000", None), // leap second
            ("Sun Feb 11 2018 23:59:60 GMT+0000 (UTC)", None),
            // --- garbage ---
            ("yesterday", None),
            ("12/02/2018", None),
            ("NaN", None),
            ("Infinity", None),
        ];
        for (input, want) in cases {
            let got = fmt(parse_time_str(input, NOW));
            assert_eq!(got.as_deref(), *want, "input {input:?}");
        }
    }

    /// Whether the exact time lay past its millisecond: what a bound at
    /// full precision needs.
    #[test]
    fn sub_millisecond_remainders() {
        let cases: &[(&str, i64, bool)] = &[
            // --- edge cases ---
            ("1518438600000.0", 1_518_438_600_000, false),
            (
                "1518438600000.0000000000000000000000000000001",
                1_518_438_600_000,
                true,
            ),
            ("1518438600000900", 1_518_438_600_000, true), // µs
            ("1518438600000000", 1_518_438_600_000, false),
            ("1518438600000000001", 1_518_438_600_000, true), // ns
            ("-0.0005", -1, true),
            ("-0.001", -1, false),
            ("2018-02-12T12:30:00.0005Z", 1_518_438_600_000, true),
            ("2018-02-12T12:30:00.000000Z", 1_518_438_600_000, false),
            ("2018-02-12T12:30:00.1230001Z", 1_518_438_600_123, true),
            ("2018-02-12T13:30:00.0005+01:00", 1_518_438_600_000, true),
            // --- seconds, milliseconds and calendar dates without a fraction ---
            ("1518438600", 1_518_438_600_000, false),
            ("1518438600.0001", 1_518_438_600_000, true),
            ("Mon, 12 Feb 2018 12:30:00 GMT", 1_518_438_600_000, false),
        ];
        for (input, ms, sub_ms) in cases {
            let got = parse_time_str(input, NOW);
            assert_eq!(
                got,
                Some(Time {
                    ms: *ms,
                    sub_ms: *sub_ms
                }),
                "input {input:?}"
            );
        }
    }

    /// Bounds compare at full precision, before truncating.
    #[test]
    fn bounds_at_full_precision() {
        let arrival = 1_518_352_200_000;
        let day = 86_400_000;
        let cases: &[(&str, i64, i64, bool)] = &[
            // (event, MAX_FUTURE, MAX_AGE, within)
            // --- edge cases ---
            ("1518438600000900", day, day, false), // 1 day + 0.9 ms ahead
            ("2018-02-12T12:30:00.0005Z", day, day, false),
            ("2018-02-12T12:30:00.000Z", day, day, true), // exactly 1 day
            ("1518438600000", day, day, true),
            ("1518438600001", day, day, false),
            ("1518352200000.5", 0, 0, false), // 0.5 ms ahead, MAX_FUTURE=0s
            ("1518352200000", 0, 0, true),
            ("1518352199999.5", 0, 0, false), // 0.5 ms before, MAX_AGE=0s
            ("1518265800000", day, day, true), // exactly 1 day before
            ("1518265799999.9", day, day, false),
            // --- the plain case ---
            ("1518352207", day, day, true),
        ];
        for (input, max_future, max_age, want) in cases {
            let t = parse_time_str(input, NOW).unwrap();
            assert_eq!(
                t.within(arrival, *max_future, *max_age),
                *want,
                "{input} against {arrival} (+{max_future}, -{max_age})"
            );
        }
        // Saturating at the ends of i64.
        assert!(Time::exact(i64::MAX).within(i64::MAX, day, day));
        assert!(!Time::exact(i64::MIN).within(0, day, day));
    }

    #[test]
    fn millis_floor_exactly() {
        let cases: &[(&str, Option<i64>)] = &[
            // --- edge cases ---
            ("", None),
            ("-", None),
            ("1e", None),
            ("1518352200000.99999999", Some(1_518_352_200_000)), // f64 rounds this up
            (
                "1518352200000.999999999999999999999999999999999",
                Some(1_518_352_200_000),
            ),
            ("-1.5", Some(-2)),
            ("-0.0000000000000000000000000000001", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", None),
            ("1e400", None),
            // --- the plain case ---
            ("1518352200000", Some(1_518_352_200_000)),
            ("1518352200000.5", Some(1_518_352_200_000)),
            ("1.5183522e12", Some(1_518_352_200_000)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_millis(input), *want, "input {input:?}");
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
            assert_eq!(
                fmt(parse_json_time(raw, NOW)).as_deref(),
                *want,
                "raw {raw}"
            );
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
            let _ = parse_time_str(s, NOW);
        }
        assert_eq!(parse_time_str("1e30", NOW), None);
    }
}
