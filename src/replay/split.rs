//! Splitting a byte stream into events.
//!
//! Firehose writes records back to back with no delimiter, so old output is
//! `{…}{…}{…}`; SDK logs and exports are usually one object per line; people
//! pretty-print. One scanner covers all three: it finds the end of each JSON
//! object or array by counting brackets outside strings, which needs no
//! delimiter and no full parse (the transform parses each event anyway).
//!
//! Nothing is dropped: every byte that is not whitespace between values lands
//! in exactly one [`Piece`]. A piece that is not a complete value is marked,
//! and still goes to the transform, which rejects it (`not_json`) so that it
//! reaches the error output like any other bad record.
//!
//! Recovery rules, for damaged input:
//! * Text that does not start a value (`{` or `[`) is garbage up to the end
//!   of its line or the next `{`, whichever comes first.
//! * An object still open at a line that starts with `{` or `[` in column 0
//!   is cut there: newline-delimited input with a truncated line must not
//!   swallow the next, good line. Pretty-printers indent nested values, so a
//!   bracket in column 0 inside an open value means a new event.
//! * In concatenated input, with no newlines, a truncated record cannot be
//!   told from the start of a longer one: it takes the records after it
//!   along, up to where the brackets balance again, into one bad piece (which
//!   lands in the error output, like any bad piece).
//! * An object still open at the end of the input is truncated.

/// What a piece of input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    /// A balanced JSON object or array (its validity is the transform's call).
    Value,
    /// An object or array that was never closed.
    Truncated,
    /// Text that does not start a JSON object or array.
    Garbage,
}

/// One event, or one piece of input that could not be made into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece<'a> {
    pub kind: PieceKind,
    pub bytes: &'a [u8],
}

/// Iterator over the pieces of `input`. See the module docs for the rules.
pub fn split(input: &[u8]) -> Split<'_> {
    // A UTF-8 byte order mark is an encoding artifact of the file, not data.
    let pos = if input.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    Split { input, pos }
}

pub struct Split<'a> {
    input: &'a [u8],
    pos: usize,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| !is_ws(c)).map_or(0, |i| i + 1);
    &b[..end]
}

impl<'a> Iterator for Split<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let input = self.input;
        while self.pos < input.len() && is_ws(input[self.pos]) {
            self.pos += 1;
        }
        let start = self.pos;
        let first = *input.get(start)?;
        if first != b'{' && first != b'[' {
            let end = input[start..]
                .iter()
                .position(|&c| c == b'\n' || c == b'{')
                .map_or(input.len(), |i| start + i);
            self.pos = end;
            return Some(Piece {
                kind: PieceKind::Garbage,
                bytes: trim_end(&input[start..end]),
            });
        }
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut i = start;
        while i < input.len() {
            let c = input[i];
            if c == b'\n' && i > start && matches!(input.get(i + 1), Some(b'{' | b'[')) {
                self.pos = i + 1;
                return Some(Piece {
                    kind: PieceKind::Truncated,
                    bytes: trim_end(&input[start..i]),
                });
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_string = false;
                }
            } else {
                match c {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            self.pos = i + 1;
                            return Some(Piece {
                                kind: PieceKind::Value,
                                bytes: &input[start..=i],
                            });
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        self.pos = input.len();
        Some(Piece {
            kind: PieceKind::Truncated,
            bytes: trim_end(&input[start..]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PieceKind::*;

    fn pieces(input: &str) -> Vec<(PieceKind, String)> {
        split(input.as_bytes())
            .map(|p| (p.kind, String::from_utf8(p.bytes.to_vec()).unwrap()))
            .collect()
    }

    /// (case name, input, expected pieces)
    type Case = (
        &'static str,
        &'static str,
        &'static [(PieceKind, &'static str)],
    );

    #[test]
    fn table() {
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("empty", "", &[]),
            ("only whitespace", " \n\t\r\n", &[]),
            ("one object", r#"{"a":1}"#, &[(Value, r#"{"a":1}"#)]),
            ("concatenated, no delimiter (Firehose)", r#"{"a":1}{"b":2}{"c":3}"#,
                &[(Value, r#"{"a":1}"#), (Value, r#"{"b":2}"#), (Value, r#"{"c":3}"#)]),
            ("newline-delimited, CRLF, trailing newline", "{\"a\":1}\r\n{\"b\":2}\r\n",
                &[(Value, r#"{"a":1}"#), (Value, r#"{"b":2}"#)]),
            ("whitespace between objects", "  {\"a\":1} \t\n\n  {\"b\":2}  ",
                &[(Value, r#"{"a":1}"#), (Value, r#"{"b":2}"#)]),
            ("pretty-printed, multi-line, nested", "{\n  \"a\": {\n    \"b\": [1, {\"c\": 2}]\n  }\n}\n{\n  \"d\": 3\n}",
                &[(Value, "{\n  \"a\": {\n    \"b\": [1, {\"c\": 2}]\n  }\n}"), (Value, "{\n  \"d\": 3\n}")]),
            ("}{ inside a string", r#"{"s":"x}{y"}{"t":"}"}"#,
                &[(Value, r#"{"s":"x}{y"}"#), (Value, r#"{"t":"}"}"#)]),
            ("escaped quotes and backslashes", r#"{"s":"a\"}{\"b"}{"t":"c\\"}{"u":"\\\"}"}"#,
                &[(Value, r#"{"s":"a\"}{\"b"}"#), (Value, r#"{"t":"c\\"}"#), (Value, r#"{"u":"\\\"}"}"#)]),
            ("truncated trailing object", r#"{"a":1}{"b":{"c":"#,
                &[(Value, r#"{"a":1}"#), (Truncated, r#"{"b":{"c":"#)]),
            ("truncated inside a string at the end", "{\"a\":\"unterminated\n",
                &[(Truncated, "{\"a\":\"unterminated")]),
            ("truncated line of NDJSON does not swallow the next", "{\"a\":1\n{\"b\":2}\n",
                &[(Truncated, "{\"a\":1"), (Value, r#"{"b":2}"#)]),
            ("truncated line before an array line", "{\"a\":\n[1]",
                &[(Truncated, "{\"a\":"), (Value, "[1]")]),
            ("truncated inside a string, next line intact", "{\"a\":\"x\n{\"b\":2}",
                &[(Truncated, "{\"a\":\"x"), (Value, r#"{"b":2}"#)]),
            ("garbage between objects", r#"{"a":1}garbage{"b":2}"#,
                &[(Value, r#"{"a":1}"#), (Garbage, "garbage"), (Value, r#"{"b":2}"#)]),
            ("garbage lines are one piece each", "oops\nnot json either\n{\"a\":1}",
                &[(Garbage, "oops"), (Garbage, "not json either"), (Value, r#"{"a":1}"#)]),
            ("stray closing brace", r#"{"a":1}}{"b":2}"#,
                &[(Value, r#"{"a":1}"#), (Garbage, "}"), (Value, r#"{"b":2}"#)]),
            ("scalars are garbage", "42\n\"str\"\nnull",
                &[(Garbage, "42"), (Garbage, "\"str\""), (Garbage, "null")]),
            ("an array is one value (the transform rejects it)", r#"[{"a":1},{"b":2}]{"c":3}"#,
                &[(Value, r#"[{"a":1},{"b":2}]"#), (Value, r#"{"c":3}"#)]),
            ("byte order mark", "\u{feff}{\"a\":1}", &[(Value, r#"{"a":1}"#)]),
            ("non-ASCII inside a value stays in it", "{\"a\":\"\u{e9}\"}", &[(Value, "{\"a\":\"\u{e9}\"}")]),
        ];
        for (name, input, want) in cases {
            let want: Vec<(PieceKind, String)> =
                want.iter().map(|(k, s)| (*k, s.to_string())).collect();
            assert_eq!(pieces(input), want, "case: {name}");
        }
    }

    #[test]
    fn invalid_utf8_is_kept_byte_for_byte() {
        let input = b"{\"a\":\"\xff\xfe\"}\xff\xff\n{\"b\":1}";
        let got: Vec<_> = split(input).map(|p| (p.kind, p.bytes)).collect();
        assert_eq!(
            got,
            vec![
                (Value, &b"{\"a\":\"\xff\xfe\"}"[..]),
                (Garbage, &b"\xff\xff"[..]),
                (Value, &b"{\"b\":1}"[..]),
            ]
        );
    }

    proptest::proptest! {
        /// Nothing is silently skipped: outside the pieces there is only
        /// whitespace (and a leading byte order mark), and the pieces come in
        /// order without overlapping.
        #[test]
        fn every_non_whitespace_byte_is_in_exactly_one_piece(input in proptest::collection::vec(
            proptest::sample::select(b"{}[]\"\\ \n\tab:,1".to_vec()), 0..64)
        ) {
            let mut covered = vec![false; input.len()];
            let base = input.as_ptr() as usize;
            let mut last_end = 0;
            for p in split(&input) {
                proptest::prop_assert!(!p.bytes.is_empty());
                let start = p.bytes.as_ptr() as usize - base;
                proptest::prop_assert!(start >= last_end);
                last_end = start + p.bytes.len();
                for c in &mut covered[start..last_end] {
                    *c = true;
                }
            }
            for (i, &b) in input.iter().enumerate() {
                proptest::prop_assert!(covered[i] || is_ws(b), "byte {} ({:?}) skipped", i, b as char);
            }
        }
    }
}
