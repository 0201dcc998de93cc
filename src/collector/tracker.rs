//! `GET /tracker.js`: the tracker (`tracker/tracker.js`, kept readable in
//! the repository) as the collector serves it: comments and indentation
//! removed, and gzipped once for clients that accept it. Served by the
//! collector itself, so that the tag and the endpoint never drift apart.

use super::Response;
use std::borrow::Cow;
use std::io::Write;
use std::sync::OnceLock;

/// The tracker's source.
pub const SOURCE: &str = include_str!("../../tracker/tracker.js");

/// The script as served: the source without comment lines, blank lines or
/// indentation; the first line of its header (name and licence) is kept.
/// Lines are joined with newlines, as they were, so no statement changes.
pub fn script() -> &'static str {
    static SCRIPT: OnceLock<String> = OnceLock::new();
    SCRIPT.get_or_init(|| minify(SOURCE))
}

/// [`script`], gzipped at the best level.
pub fn gzipped() -> &'static [u8] {
    static GZ: OnceLock<Vec<u8>> = OnceLock::new();
    GZ.get_or_init(|| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(script().as_bytes());
        gz.finish().unwrap_or_default()
    })
}

fn minify(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut in_header = false;
    for line in source.lines() {
        let line = line.trim();
        if line.starts_with("/*!") {
            in_header = !line.ends_with("*/");
            out.push_str(line.trim_end_matches("*/").trim_end());
            out.push_str(" */\n");
            continue;
        }
        if in_header {
            in_header = !line.ends_with("*/");
            continue;
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The answer to `GET` (or `HEAD`) `/tracker.js`.
pub fn response(accept_encoding: Option<&str>, head: bool) -> Response {
    let gzip = accept_encoding.is_some_and(accepts_gzip);
    let body: &'static [u8] = if gzip { gzipped() } else { script().as_bytes() };
    let mut headers = vec![
        (
            "content-type",
            Cow::Borrowed("application/javascript; charset=utf-8"),
        ),
        ("cache-control", "public, max-age=3600".into()),
        ("vary", "Accept-Encoding".into()),
        // A script tag needs no CORS; this lets integrity checks and
        // bundlers fetch it too.
        ("access-control-allow-origin", "*".into()),
        ("x-content-type-options", "nosniff".into()),
    ];
    if gzip {
        headers.push(("content-encoding", "gzip".into()));
    }
    Response {
        status: 200,
        headers,
        body: Cow::Borrowed(if head { b"" } else { body }),
    }
}

/// `gzip` among the codings, with a q-value other than 0.
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_tracker_is_at_most_2_kb_gzipped() {
        let size = gzipped().len();
        assert!(
            size <= 2000,
            "tracker.js is {size} bytes gzipped; at most 2,000"
        );
        // And the served script is the source's code, nothing else.
        assert!(script().len() < SOURCE.len());
        assert!(script().starts_with("/*! firehose-enricher tracker"));
        assert!(!script().lines().any(|l| l.starts_with("//")));
        let mut decoded = String::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(gzipped())
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, script());
    }

    #[test]
    fn minify_keeps_code_lines() {
        let src = "/*! name | MIT\n * more\n */\n(function () {\n  // why\n  var a = 1; // kept: not a whole-line comment\n\n  return a;\n})();\n";
        assert_eq!(
            minify(src),
            "/*! name | MIT */\n(function () {\nvar a = 1; // kept: not a whole-line comment\nreturn a;\n})();\n"
        );
    }

    #[test]
    fn gzip_negotiation() {
        let cases: &[(Option<&str>, bool)] = &[
            (None, false),
            (Some(""), false),
            (Some("identity"), false),
            (Some("gzip;q=0"), false),
            (Some("gzip; q=0, br"), false),
            (Some("gzip"), true),
            (Some("br, GZIP;q=0.5"), true),
            (Some("*"), true),
            (Some("gzip, deflate, br, zstd"), true),
        ];
        for (value, gz) in cases {
            let r = response(*value, false);
            assert_eq!(
                r.header("content-encoding") == Some("gzip"),
                *gz,
                "{value:?}"
            );
        }
    }
}
