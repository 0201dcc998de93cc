//! isbot's patterns are JavaScript regular expressions: what it takes to
//! match them with the `regex` crate. Plain `std` and `regex-filtered`,
//! nothing of this crate, so that `build.rs` includes this same file to
//! work out their prefilter (`isbot-prefilter.txt`) from the same text.

/// A JavaScript pattern in the `regex` crate's syntax. Two differences
/// matter for isbot's list:
/// - in a JavaScript class, a `-` next to a class escape (`[\w\d-.]`) is a
///   literal `-`, where `regex` wants it escaped;
/// - JavaScript's `\w`, `\d` and `\b` (without the `u` flag) are ASCII,
///   where `regex`'s are Unicode: they become `[[:word:]]`, `[[:digit:]]`
///   (inside a class, `[:word:]`, `[:digit:]`) and `(?-u:\b)`. Besides
///   matching as isbot means, the ASCII classes make each pattern a small
///   automaton: Unicode `\w` alone is hundreds of ranges, and compiling
///   the 13 patterns a browser's user agent selects took about 2.5 ms of a
///   new container's first request.
pub fn from_javascript(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    let mut after_class_escape = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().unwrap_or('\\');
                match (next, in_class) {
                    ('w', false) => out.push_str("[[:word:]]"),
                    ('w', true) => out.push_str("[:word:]"),
                    ('d', false) => out.push_str("[[:digit:]]"),
                    ('d', true) => out.push_str("[:digit:]"),
                    ('b', false) => out.push_str("(?-u:\\b)"),
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
                after_class_escape = in_class && "wdsWDS".contains(next);
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '-' if in_class && (after_class_escape || chars.peek() == Some(&'\\')) => {
                out.push_str("\\-");
                after_class_escape = false;
                continue;
            }
            _ => {}
        }
        after_class_escape = false;
        out.push(c);
    }
    out
}

/// Whether a pattern uses lookaround, which the `regex` crate lacks (the
/// bot test ports those six one by one).
pub fn has_lookaround(pattern: &str) -> bool {
    pattern.contains("(?<") || pattern.contains("(?!") || pattern.contains("(?=")
}

/// How isbot's patterns are matched: case-insensitively (its `i` flag).
pub fn isbot_options() -> regex_filtered::Options {
    let mut options = regex_filtered::Options::new();
    options.case_insensitive(true);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascript_patterns_read_as_javascript_means_them() {
        let cases: &[(&str, &str)] = &[
            // --- edge cases ---
            ("", ""),
            ("\\", "\\\\"),
            ("[-a]", "[-a]"),
            // --- a `-` beside a class escape is literal ---
            (r"[\w\d-.]", r"[[:word:][:digit:]\-.]"),
            (r"[a-\d]", r"[a\-[:digit:]]"),
            (r"[\w-]+", r"[[:word:]\-]+"),
            (r"[\s-x]", r"[\s\-x]"),
            // --- ASCII classes and word boundaries, as in JavaScript ---
            (r"\w+\d", r"[[:word:]]+[[:digit:]]"),
            (r"\bbot\b", r"(?-u:\b)bot(?-u:\b)"),
            (r"\s\.", r"\s\."),
            // --- ranges and escapes outside classes are kept ---
            (r"[a-z]\-x", r"[a-z]\-x"),
            (r"^\w+/[\w\(\)]*$", r"^[[:word:]]+/[[:word:]\(\)]*$"),
        ];
        for (js, want) in cases {
            assert_eq!(from_javascript(js), *want, "{js}");
            regex::Regex::new(want).unwrap_or_else(|e| panic!("{want}: {e}"));
        }
        // What the classes change: JavaScript's \w and \b know no letters
        // beyond ASCII.
        let ascii = |p: &str, text: &str| {
            regex::Regex::new(&from_javascript(p))
                .unwrap()
                .is_match(text)
        };
        assert!(!ascii(r"^\w+$", "café"));
        assert!(ascii(r"^\w+$", "cafe_1"));
        assert!(!ascii(r"^\d$", "٣"));
        assert!(ascii(r"\bbot", "é bot"));
        assert!(ascii(r"\bbot", "ébot"));
        assert!(has_lookaround("(?<!lib)http"));
        assert!(has_lookaround("java(?!;)"));
        assert!(!has_lookaround("(?:^|[^g])news"));
    }
}
