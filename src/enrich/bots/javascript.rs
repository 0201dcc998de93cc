//! isbot's patterns are JavaScript regular expressions: what it takes to
//! match them with the `regex` crate. Plain `std` and `regex-filtered`,
//! nothing of this crate, so that `build.rs` includes this same file to
//! work out their prefilter (`isbot-prefilter.txt`) from the same text.

/// A JavaScript pattern in the `regex` crate's syntax. One difference
/// matters for isbot's list: in a JavaScript class, a `-` next to a class
/// escape (`[\w\d-.]`) is a literal `-`, where `regex` wants it escaped.
pub fn from_javascript(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    let mut after_class_escape = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().unwrap_or('\\');
                out.push('\\');
                out.push(next);
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
            (r"[\w\d-.]", r"[\w\d\-.]"),
            (r"[a-\d]", r"[a\-\d]"),
            (r"[\w-]+", r"[\w\-]+"),
            // --- ranges and escapes outside classes are kept ---
            (r"[a-z]\-x", r"[a-z]\-x"),
            (r"^\w+/[\w\(\)]*$", r"^\w+/[\w\(\)]*$"),
        ];
        for (js, want) in cases {
            assert_eq!(from_javascript(js), *want, "{js}");
            regex::Regex::new(want).unwrap_or_else(|e| panic!("{want}: {e}"));
        }
        assert!(has_lookaround("(?<!lib)http"));
        assert!(has_lookaround("java(?!;)"));
        assert!(!has_lookaround("(?:^|[^g])news"));
    }
}
