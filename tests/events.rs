//! Runs the real CLI on every sample request in `events/` and checks the
//! response invariants and each file's expected results.

mod common;

use common::{check_invariants, ok_json};
use firehose_enricher::lambda;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"));
    // The tests must not depend on the caller's environment.
    for v in firehose_enricher::config::VARIABLES {
        cmd.env_remove(v.name);
    }
    for v in [
        "AWS_LAMBDA_RUNTIME_API",
        "RUST_LOG",
        "AWS_LAMBDA_LOG_LEVEL",
        "AWS_LAMBDA_LOG_FORMAT",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

fn event_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn invoke(file: &Path, extra: &[&str]) -> Output {
    let out = bin().arg("invoke").args(extra).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A sample file, its `(ok, dropped, failed)` counts, and its failure
/// reasons in order.
type Expectation = (&'static str, (usize, usize, usize), &'static [&'static str]);

/// A new file in `events/` must be added here.
const EXPECTED: &[Expectation] = &[
    ("channels.json", (19, 0, 0), &[]),
    ("collected.json", (2, 0, 0), &[]),
    ("consent.json", (6, 0, 0), &[]),
    (
        "failures.json",
        (7, 0, 10),
        &[
            "bad_base64",
            "empty",
            "empty",
            "not_utf8",
            "not_json",
            "not_json",
            "not_object",
            "not_object",
            "bad_arrival_time",
            "missing_data",
        ],
    ),
    ("kinesis-source.json", (3, 0, 0), &[]),
    ("minimal.json", (1, 0, 0), &[]),
    ("page-views.json", (17, 0, 0), &[]),
];

#[test]
fn every_event_file_holds_the_invariants() {
    let files = event_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    assert_eq!(
        names, expected,
        "every file in events/ has expectations here"
    );
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        let out = invoke(file, &[]);
        let request: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let response: Value = serde_json::from_slice(&out.stdout).unwrap();
        let records = check_invariants(&request, &response);
        let count = |r: &str| records.iter().filter(|x| x["result"] == r).count();
        let (_, want, reasons) = EXPECTED.iter().find(|e| e.0 == name).unwrap();
        assert_eq!(
            (count("Ok"), count("Dropped"), count("ProcessingFailed")),
            *want,
            "{name}"
        );
        // One line per batch, naming the first failed records' ids and
        // reasons.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains("batch processed"), "{name}: {stderr}");
        let first = stderr
            .split("first_failures=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap_or("");
        let logged: Vec<&str> = first
            .split(',')
            .filter(|f| !f.is_empty())
            .map(|f| f.rsplit(':').next().unwrap())
            .collect();
        let named = reasons.len().min(lambda::LOGGED_FAILURES);
        assert_eq!(logged, reasons[..named], "{name}");
        // Per-record lines only at debug.
        let debug = bin()
            .env("AWS_LAMBDA_LOG_LEVEL", "debug")
            .arg("invoke")
            .arg(file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&debug.stderr);
        let logged: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("record failed"))
            .map(|l| l.rsplit("reason=").next().unwrap().trim_matches('"'))
            .collect();
        assert_eq!(logged, *reasons, "{name}");
    }
}

/// `channels.json` holds one page view per channel, each naming the channel
/// it must get in `expected_channel`, so the file documents what lands in
/// which group.
#[test]
fn channels_sample_shows_every_channel() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/channels.json");
    let response: Value = serde_json::from_slice(&invoke(&file, &[]).stdout).unwrap();
    let mut seen = Vec::new();
    for r in response["records"].as_array().unwrap() {
        let v = ok_json(r);
        assert_eq!(v["channel"], v["expected_channel"], "{v}");
        seen.push(v["channel"].as_str().unwrap().to_owned());
    }
    let all: Vec<String> = firehose_enricher::enrich::campaign::CHANNELS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    assert_eq!(seen, all, "one record per channel, in CHANNELS order");
}

#[test]
fn page_views_sites_and_times() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/page-views.json");
    let response: Value = serde_json::from_slice(&invoke(&file, &[]).stdout).unwrap();
    let got: Vec<(String, String, String, String)> = response["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v = ok_json(r);
            let s = |x: &Value| x.as_str().unwrap_or("null").to_owned();
            (
                s(&v["domain"]),
                s(&v["site"]),
                s(&v["event_time"]),
                s(&v["event_time_source"]),
            )
        })
        .collect();
    let want: &[(&str, &str, &str, &str)] = &[
        (
            "news.bbc.co.uk",
            "bbc.co.uk",
            "2026-11-27 09:14:58.123",
            "event",
        ),
        (
            "shop.example.com.au",
            "example.com.au",
            "2026-11-27 09:14:59.500",
            "event",
        ),
        (
            "alice.github.io",
            "alice.github.io",
            "2026-11-27 09:14:57.000",
            "event",
        ),
        (
            "www.xn--mnchen-3ya.de",
            "xn--mnchen-3ya.de",
            "2026-11-27 09:14:57.456",
            "event",
        ),
        (
            "www.gov.uk",
            "www.gov.uk",
            "2026-11-27 09:14:40.000",
            "event",
        ),
        (
            "checkout.example.co.uk",
            "example.co.uk",
            "2026-11-27 09:14:41.987",
            "event",
        ),
        (
            "blog.example.com",
            "example.com",
            "2026-11-27 09:14:40.123",
            "event",
        ),
        (
            "example.com",
            "example.com",
            "2026-11-27 09:14:30.000",
            "event",
        ),
        (
            "example.com",
            "example.com",
            "2026-11-27 09:15:02.000",
            "arrival",
        ), // event.time is not a default field
        (
            "example.com",
            "example.com",
            "2026-11-27 09:15:02.000",
            "arrival",
        ), // too old
        (
            "example.com",
            "example.com",
            "2026-11-27 09:15:02.000",
            "arrival",
        ), // too far ahead
        (
            "example.com",
            "example.com",
            "2026-11-27 09:15:02.000",
            "arrival",
        ), // unparseable
        (
            "intranet.example.org",
            "example.org",
            "2026-11-27 09:15:02.000",
            "arrival",
        ), // host field
        ("127.0.0.1", "127.0.0.1", "2026-11-27 09:14:50.000", "event"),
        (
            "2001:db8::1",
            "2001:db8::1",
            "2026-11-27 09:14:50.000",
            "event",
        ),
        ("localhost", "localhost", "2026-11-27 09:14:51.000", "event"),
        ("null", "null", "2026-11-27 09:14:52.000", "event"),
    ];
    let got: Vec<(&str, &str, &str, &str)> = got
        .iter()
        .map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.as_str()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn decode_prints_ids_results_keys_and_json() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/failures.json");
    let out = String::from_utf8(invoke(&file, &["--decode"]).stdout).unwrap();
    assert!(out.contains("49546986683135544286507457936321675675700192471156780001  Ok  dt=2026-11-27  hour=09  site=example.com"), "{out}");
    assert!(out.contains("49546986683135544286507457936321675675700192471156780002  ProcessingFailed (bad_base64)"), "{out}");
    assert!(
        out.contains(r#""domain":"fresh.example.org","site":"example.org","channel":"Direct","event_fingerprint":""#),
        "{out}"
    );
    // String::from_utf8 above already holds that stdout is UTF-8: bytes
    // that are not are shown escaped, as are control characters.
    assert!(
        out.contains("ProcessingFailed (not_utf8)\n    \\xff\\xfe{\"a\":1}\n"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("17 records: 7 Ok, 0 Dropped, 10 ProcessingFailed"),
        "{out}"
    );
}

#[test]
fn stdin_and_dash() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/minimal.json");
    for args in [&["invoke"][..], &["invoke", "-"][..]] {
        let out = bin()
            .args(args)
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["records"][0]["result"], "Ok");
    }
}

#[test]
fn cli_errors_are_clear_and_never_panic() {
    let dir = std::env::temp_dir().join(format!("fe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, b"{\"not\":\"firehose\"}").unwrap();
    let binary = dir.join("binary.json");
    std::fs::write(&binary, [0xff, 0x00, 0xfe]).unwrap();
    let empty = dir.join("empty.json");
    std::fs::write(&empty, b" \n").unwrap();
    let raw = dir.join("raw.ndjson");
    std::fs::write(&raw, b"{\"url\":\"https://example.com/\"}\n").unwrap();
    type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["invoke".into(), "/no/such/file.json".into()],
            vec![],
            "cannot read /no/such/file.json",
        ),
        (
            vec!["invoke".into(), bad.display().to_string()],
            vec![],
            "not a Firehose transformation request: missing field `records`",
        ),
        (
            vec!["invoke".into(), binary.display().to_string()],
            vec![],
            "not a Firehose transformation request",
        ),
        // Inputs that are not requests say what is expected, and where raw
        // events go.
        (
            vec!["invoke".into(), empty.display().to_string()],
            vec![],
            "the input is empty\n  invoke reads one Firehose transformation request",
        ),
        (
            vec!["invoke".into(), "Cargo.toml".into()],
            vec![],
            "as in events/minimal.json",
        ),
        (
            vec!["invoke".into(), raw.display().to_string()],
            vec![],
            "use `firehose-enricher replay --input FILE`",
        ),
        (
            vec!["invoke".into(), "events/minimal.json".into()],
            vec![("MAX_AGE", "30 days")],
            "invalid MAX_AGE=\"30 days\": expected a whole number",
        ),
        (
            vec!["invoke".into(), "events/minimal.json".into()],
            vec![("DROP_BOTS", "maybe")],
            "invalid DROP_BOTS=\"maybe\"",
        ),
        (
            vec!["bench".into(), "/no/such/file.json".into()],
            vec![],
            "cannot read",
        ),
    ];
    for (args, env, want) in cases {
        let out = bin()
            .args(&args)
            .envs(env)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Values that once crashed start-up (a multi-byte last character) or
/// were silently replaced by the default (bytes that are not UTF-8): each
/// exits 1 naming its variable.
#[test]
fn bad_environment_values_exit_1_naming_the_variable() {
    use std::os::unix::ffi::OsStrExt;
    let cases: &[(&str, &[u8])] = &[
        ("MAX_AGE", "30é".as_bytes()),
        ("MAX_FUTURE", "1日".as_bytes()),
        ("MAX_AGE", "µ".as_bytes()),
        ("MAX_AGE", b"\xff"),
        ("TIME_FIELDS", b"\xff"),
        ("DROP_BOTS", b"true\xff"),
        ("SITE_ALLOWLIST", b"example.com\xff"),
    ];
    for (name, value) in cases {
        let out = bin()
            .args(["invoke", "events/minimal.json"])
            .env(name, std::ffi::OsStr::from_bytes(value))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}={value:?}: {stderr}");
        assert!(stderr.contains(&format!("invalid {name}=")), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn no_arguments_prints_help() {
    let out = bin().output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for word in ["Usage", "invoke", "bench"] {
        assert!(stdout.contains(word), "{stdout}");
    }
    let bad = bin().arg("frobnicate").output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "clap's usage error");
}

#[test]
fn bench_prints_one_json_line() {
    for mode in [None, Some("--floor"), Some("--cold-cache")] {
        bench_line(mode);
    }
}

fn bench_line(mode: Option<&str>) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/page-views.json");
    let out = bin()
        .args(["bench", "--iterations", "3"])
        .args(mode)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["records"], 17);
    assert_eq!(v["iterations"], 3);
    for k in [
        "decoded_bytes",
        "median_ms",
        "records_per_s",
        "mb_per_s",
        "response_bytes",
    ] {
        assert!(v[k].is_number(), "{k}: {stdout}");
    }
}

/// Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT=JSON` gives one
/// JSON object per line, `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`) the level.
#[test]
fn log_format_and_level_follow_lambda_controls() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/failures.json");
    type Case<'a> = (&'a [(&'a str, &'a str)], usize, bool);
    let cases: &[Case] = &[
        // (environment, expected stderr lines, JSON)
        // One line per batch (a warning, as records failed); one more per
        // failed record at debug.
        (&[("AWS_LAMBDA_LOG_LEVEL", "error")], 0, false),
        (&[("RUST_LOG", "error")], 0, false),
        (
            &[("AWS_LAMBDA_LOG_LEVEL", "warn"), ("RUST_LOG", "error")],
            1,
            false,
        ),
        (&[("AWS_LAMBDA_LOG_LEVEL", "warn")], 1, false),
        (&[], 1, false),
        (&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")], 0, false),
        (&[("AWS_LAMBDA_LOG_LEVEL", "debug")], 11, false),
        (&[("AWS_LAMBDA_LOG_FORMAT", "JSON")], 1, true),
        (
            &[
                ("AWS_LAMBDA_LOG_FORMAT", "json"),
                ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ],
            1,
            true,
        ),
        (
            &[
                ("AWS_LAMBDA_LOG_FORMAT", "json"),
                ("AWS_LAMBDA_LOG_LEVEL", "debug"),
            ],
            11,
            true,
        ),
    ];
    for (env, lines, json) in cases {
        let out = bin()
            .envs(env.iter().copied())
            .arg("invoke")
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), *lines, "{env:?}: {stderr}");
        for line in stderr.lines() {
            let parsed = serde_json::from_str::<Value>(line);
            assert_eq!(parsed.is_ok(), *json, "{env:?}: {line}");
            if let Ok(v) = parsed {
                assert!(
                    v["level"].is_string() && v["fields"]["message"].is_string(),
                    "{line}"
                );
            }
        }
    }
    // A level this build cannot honour stops the command, naming the
    // variable, rather than running at `info`.
    let rejected: &[(&str, &str)] = &[
        ("AWS_LAMBDA_LOG_LEVEL", "not-a-level"),
        ("AWS_LAMBDA_LOG_LEVEL", "verbose"),
        ("RUST_LOG", "firehose_enricher=debug"),
    ];
    for (name, value) in rejected {
        let out = bin()
            .env(name, value)
            .arg("invoke")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}={value}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}={value}");
    }
}
