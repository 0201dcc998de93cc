//! Reading raw JSON text in place: where a member's key or value lies in an
//! object's text, without building a DOM. The record layer and the stages
//! that edit members (the privacy controls) read records this way, so that
//! every byte they do not change is kept as it was.

use std::borrow::Cow;
use std::ops::Range;

/// The text is not one JSON object (RFC 8259), or not JSON at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// A top-level member, as [`object_members`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMember {
    /// The key's text between its quotes, as written.
    pub key: Range<usize>,
    /// Whether the key holds escapes (and so must be unescaped to be read).
    pub escaped: bool,
    /// The value's JSON text, without the whitespace around it.
    pub value: Range<usize>,
    /// Whether the value is a string without escapes, whose text between
    /// its quotes is its value as it is.
    pub plain_string: bool,
}

impl RawMember {
    /// The key, unescaped, from the `text` it was found in; `None` for a
    /// key that is valid JSON text but no string (a lone surrogate escape,
    /// `"\ud800"`), which equals no name.
    pub fn key_text<'t>(&self, text: &'t str) -> Option<Cow<'t, str>> {
        if self.escaped {
            serde_json::from_str::<String>(&text[self.key.start - 1..self.key.end + 1])
                .ok()
                .map(Cow::Owned)
        } else {
            text.get(self.key.clone()).map(Cow::Borrowed)
        }
    }
}

/// Checks that `text` is exactly one JSON object (whitespace around it
/// allowed), accepting what serde_json accepts, and hands each top-level
/// member to `each`, in order, duplicates included. `stack` is scratch
/// space for nesting, kept between calls so that none allocates.
///
/// Hand-written, not serde_json with a visitor (which this replaced): every
/// record is walked once, and serde_json's walk, made to hand out raw
/// values, took about 45% of the per-record transform's instructions; this
/// one skips strings eight bytes at a time and takes about half as many
/// (callgrind, make bench-instructions). tests/json_scan.rs checks it against
/// serde_json on edge cases and generated texts, and the `record` fuzz
/// target compares its verdicts too.
///
/// ```
/// use firehose_enricher::json::{object_members, Invalid};
/// let text = br#"{"a" : [1, {"b": null}], "c\u0064":"x"}"#;
/// let mut found = Vec::new();
/// object_members(text, &mut Vec::new(), |m| found.push(m)).unwrap();
/// assert_eq!(&text[found[0].value.clone()], br#"[1, {"b": null}]"#);
/// assert_eq!((&text[found[1].key.clone()], found[1].escaped), (&br"c\u0064"[..], true));
/// assert_eq!(object_members(b"{\"a\":01}", &mut Vec::new(), |_| ()), Err(Invalid));
/// ```
pub fn object_members(
    text: &[u8],
    stack: &mut Vec<u8>,
    mut each: impl FnMut(RawMember),
) -> Result<(), Invalid> {
    let mut s = Scan { b: text, i: 0 };
    s.space();
    s.expect(b'{')?;
    s.space();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            let (key, escaped) = s.key()?;
            s.space();
            let start = s.i;
            // Most members hold a string: read here, without the general
            // value loop's set-up.
            let plain_string = if s.peek() == Some(b'"') {
                s.i += 1;
                !s.string()?
            } else {
                s.value(stack)?;
                false
            };
            each(RawMember {
                key,
                escaped,
                value: start..s.i,
                plain_string,
            });
            s.space();
            match s.next() {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return Err(Invalid),
            }
        }
    }
    s.space();
    if s.i == text.len() {
        Ok(())
    } else {
        Err(Invalid)
    }
}

/// A position in a JSON text. Every method leaves `i` after what it read.
struct Scan<'t> {
    b: &'t [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Result<(), Invalid> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// A key and its colon, from the whitespace before it: the key's text
    /// between its quotes, and whether it holds escapes. Inlined: it runs
    /// for every member, and the call cost more than its work.
    #[inline(always)]
    fn key(&mut self) -> Result<(Range<usize>, bool), Invalid> {
        self.space();
        self.expect(b'"')?;
        let start = self.i;
        let escaped = self.string()?;
        let key = start..self.i - 1;
        self.space();
        self.expect(b':')?;
        Ok((key, escaped))
    }

    /// The rest of a string, after its opening quote: whether it held
    /// escapes. Raw control characters are refused, as RFC 8259 says; the
    /// text is valid UTF-8 already. A `\u` escape needs four hex digits,
    /// and nothing more: a lone surrogate is valid JSON text.
    ///
    /// Inlined, with the common case (no escape, eight bytes left in the
    /// text) first: a record's forty-odd keys and strings each paid a
    /// call and the general loop's set-up, about a third of the walk
    /// (callgrind).
    #[inline(always)]
    fn string(&mut self) -> Result<bool, Invalid> {
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let hits = special_bytes(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
            if hits != 0 {
                self.i += hits.trailing_zeros() as usize / 8;
                if self.b[self.i] == b'"' {
                    self.i += 1;
                    return Ok(false);
                }
                break;
            }
            self.i += 8;
        }
        self.string_rest()
    }

    /// [`Scan::string`] from where its fast path stopped: an escape, a
    /// control character, or the text's last seven bytes.
    #[inline(never)]
    fn string_rest(&mut self) -> Result<bool, Invalid> {
        let mut escaped = false;
        loop {
            self.i += special(&self.b[self.i..]).ok_or(Invalid)?;
            match self.next() {
                Some(b'"') => return Ok(escaped),
                Some(b'\\') => escaped = true,
                // A raw control character.
                _ => return Err(Invalid),
            }
            match self.next() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                Some(b'u') => {
                    let hex = self.b.get(self.i..self.i + 4).ok_or(Invalid)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(Invalid);
                    }
                    self.i += 4;
                }
                _ => return Err(Invalid),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// A number's rest, after its first byte `first` (`-` or a digit).
    fn number(&mut self, first: u8) -> Result<(), Invalid> {
        let first = if first == b'-' {
            self.next().ok_or(Invalid)?
        } else {
            first
        };
        match first {
            // One zero alone: what follows a leading zero is not a number's
            // (`01` fails where the next value or separator is expected).
            b'0' => {}
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        Ok(())
    }

    /// The rest of `true`, `false` or `null`.
    fn word(&mut self, rest: &[u8]) -> Result<(), Invalid> {
        if self.b[self.i..].starts_with(rest) {
            self.i += rest.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// One value of any kind, from the whitespace before it. Nesting is
    /// followed with `stack` (the closing bytes awaited), not by recursion,
    /// so any depth is read, as serde_json reads values it skips.
    fn value(&mut self, stack: &mut Vec<u8>) -> Result<(), Invalid> {
        stack.clear();
        'value: loop {
            self.space();
            let c = self.next().ok_or(Invalid)?;
            match c {
                b'{' | b'[' => {
                    let close = if c == b'{' { b'}' } else { b']' };
                    self.space();
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        if close == b'}' {
                            self.key()?;
                        }
                        stack.push(close);
                        continue 'value;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b'-' | b'0'..=b'9' => self.number(c)?,
                b't' => self.word(b"rue")?,
                b'f' => self.word(b"alse")?,
                b'n' => self.word(b"ull")?,
                _ => return Err(Invalid),
            }
            // A value ended: it ends the containers it closes, or another
            // element or member follows.
            while let Some(&close) = stack.last() {
                self.space();
                match self.next() {
                    Some(b',') => {
                        if close == b'}' {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    Some(c) if c == close => {
                        stack.pop();
                    }
                    _ => return Err(Invalid),
                }
            }
            return Ok(());
        }
    }
}

/// Where the first byte that ends a run of plain string bytes lies: a
/// quote, a backslash or a control character. Eight bytes at a time (SWAR):
/// most strings in events are short (keys, types, ids), where `memchr2`'s
/// set-up cost more than its speed gained (measured), and this is as fast
/// on arm64, where the function runs, as on x86_64.
#[inline]
fn special(b: &[u8]) -> Option<usize> {
    let mut chunks = b.chunks_exact(8);
    for (n, chunk) in chunks.by_ref().enumerate() {
        let hits = special_bytes(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        if hits != 0 {
            return Some(n * 8 + hits.trailing_zeros() as usize / 8);
        }
    }
    let i = b.len() - chunks.remainder().len();
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|at| i + at)
}

/// The high bit of each byte of `w` (eight string bytes, little-endian)
/// that is a quote, a backslash or a control character; the lowest one
/// set marks the first such byte.
#[inline(always)]
fn special_bytes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    // A byte's high bit is set where it is zero (quote, backslash), or
    // below 0x20 (control): `x - 1` borrows into the high bit, and `!x`
    // keeps it only for bytes that had it clear. A borrow can also set
    // bits above a byte that matched, never below one, so the lowest
    // bit set is always a real match.
    (quote.wrapping_sub(ONES) & !quote
        | backslash.wrapping_sub(ONES) & !backslash
        | w.wrapping_sub(ONES * 0x20) & !w)
        & HIGH
}

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
    member_ranges(raw, key).pop().map(|r| &raw[r])
}

/// Where every value of `key` lies in the raw JSON object `raw`, duplicates
/// included, as byte ranges of `raw`; empty when `raw` is not an object.
pub fn member_ranges(raw: &str, key: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let walked = object_members(raw.as_bytes(), &mut Vec::new(), |m| {
        if m.key_text(raw).is_some_and(|k| k == key) {
            found.push(m.value);
        }
    });
    if walked.is_err() {
        found.clear();
    }
    found
}
