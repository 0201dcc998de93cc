//! The local Athena preview end to end: replay a known sample into a folder,
//! then run the query files of `queries/` over it with DuckDB, unchanged.
//!
//! Ignored by a bare `cargo test`, since it needs DuckDB in the repo-local
//! virtualenv; `make test` (and so CI) installs it and runs this test with
//! `DEMO_PYTHON` set.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn query(data: &Path, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("DEMO_PYTHON").expect(
        "DEMO_PYTHON names the virtualenv's python with duckdb installed; run `make demo-test`",
    );
    let out = Command::new(python)
        .arg(Path::new(ROOT).join("tools/athena_local.py"))
        .arg("--data")
        .arg(data)
        .arg("--json")
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rows(result: &serde_json::Value, name: &str) -> Vec<Vec<serde_json::Value>> {
    serde_json::from_value(result[name]["rows"].clone()).unwrap()
}

#[test]
#[ignore = "needs DuckDB in .venv: run `make demo-test`"]
fn duckdb_reads_the_replayed_folder_like_athena() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay-duckdb");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Known counts, on the dates the query files ask about. bbc.co.uk: 3
    // page views on the 24th (two in hour 09; one from Google, one from a
    // newsletter), 1 on the 25th, 2 consents (1 accept_all); example.com: 1
    // page view, delivered twice as a Firehose retry would; 3 bad events.
    let events = [
        r#"{"type":"page_view","anonymous_id":"a","timestamp":"2026-11-24T09:10:00Z","url":"https://news.bbc.co.uk/"}"#,
        r#"{"type":"page_view","anonymous_id":"b","ts":1795512600,"url":"https://www.bbc.co.uk/sport","referrer":"https://www.google.com/"}"#,
        r#"{"type":"page_view","anonymous_id":"a","timestamp":"2026-11-24T13:00:00.5+01:00","url":"https://news.bbc.co.uk/x?utm_source=newsletter&utm_medium=email"}"#,
        r#"{"type":"page_view","anonymous_id":"c","timestamp":"2026-11-25 08:00:00","url":"https://news.bbc.co.uk/"}"#,
        r#"{"type":"consent","action":"accept_all","timestamp":"2026-11-24T09:11:00Z","page_url":"https://news.bbc.co.uk/"}"#,
        r#"{"type":"consent","action":"reject_all","timestamp":"2026-11-24T10:00:00Z","page_url":"https://news.bbc.co.uk/"}"#,
        r#"{"type":"page_view","timestamp":"2026-11-21T10:00:00Z","url":"https://www.example.com/"}"#,
        r#"{"type":"page_view","timestamp":"2026-11-21T10:00:00Z","url":"https://www.example.com/"}"#,
        "not json at all",
        "[\"an\",\"array\"]",
        "{\"type\":\"page_view\",\"timestamp\":",
    ];
    std::fs::write(dir.join("events.ndjson"), events.join("\n")).unwrap();
    let out = dir.join("s3");
    let status = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
        .args(["replay", "--input"])
        .arg(dir.join("events.ndjson"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());

    let q = |f: &str| format!("queries/{f}");
    let files = [
        q("1_page_views_per_site_per_day.sql"),
        q("2_consent_rate_per_site.sql"),
        q("3_hourly_traffic_one_site.sql"),
        q("4_failed_records_per_reason.sql"),
        q("5_traffic_by_channel.sql"),
        q("6_deduplicated_page_views.sql"),
    ];
    let mut args: Vec<&str> = vec![
        "--sql",
        "SELECT typeof(event_time), typeof(received_at), typeof(dt), typeof(site) FROM events LIMIT 1",
    ];
    args.extend(files.iter().map(String::as_str));
    let result = query(&out, &args);

    assert_eq!(
        rows(&result, "--sql 1"),
        [["TIMESTAMP", "TIMESTAMP", "VARCHAR", "VARCHAR"]],
        "event_time is typed TIMESTAMP; partitions are strings"
    );
    assert_eq!(
        rows(&result, &files[0]),
        serde_json::json!([
            ["2026-11-21", "example.com", 2],
            ["2026-11-24", "bbc.co.uk", 3],
            ["2026-11-25", "bbc.co.uk", 1],
        ])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_value::<Vec<serde_json::Value>>(r.clone()).unwrap())
        .collect::<Vec<_>>()
    );
    assert_eq!(
        serde_json::json!(rows(&result, &files[1])),
        serde_json::json!([["bbc.co.uk", 2, 1, 50.0]])
    );
    assert_eq!(
        serde_json::json!(rows(&result, &files[2])),
        serde_json::json!([
            ["2026-11-24 09:00:00", 3, 2],
            ["2026-11-24 10:00:00", 1, 0],
            ["2026-11-24 12:00:00", 1, 1],
        ]),
        "hourly, in UTC: 13:00+01:00 is 12:00; consents here carry no visitor"
    );
    assert_eq!(
        serde_json::json!(rows(&result, &files[3])),
        serde_json::json!([
            ["Lambda.ProcessingFailedStatus", "not_json", 2],
            ["Lambda.ProcessingFailedStatus", "not_object", 1],
        ])
    );
    assert_eq!(
        serde_json::json!(rows(&result, &files[4])),
        serde_json::json!([
            ["bbc.co.uk", "Direct", 2, 2],
            ["bbc.co.uk", "Email", 1, 1],
            ["bbc.co.uk", "Organic Search", 1, 1],
            ["example.com", "Direct", 2, 0],
        ]),
        "channels from the referrer and the UTM medium; no visitor id counts no visitor"
    );
    assert_eq!(
        serde_json::json!(rows(&result, &files[5])),
        serde_json::json!([
            ["2026-11-21", "example.com", 2, 1],
            ["2026-11-24", "bbc.co.uk", 3, 3],
            ["2026-11-25", "bbc.co.uk", 1, 1],
        ]),
        "the redelivered copy is counted once"
    );
}
