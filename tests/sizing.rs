//! `sizing`: its largest buffer really is the largest that fits, the
//! template's default fits every sample in `events/`, and the command
//! prints what the README says.

use firehose_enricher::batch;
use firehose_enricher::replay::layout::parameter_default;
use firehose_enricher::replay::redrive;
use firehose_enricher::sizing::{self, Sizing};
use firehose_enricher::Config;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const MB: f64 = 1024.0 * 1024.0;
const TEMPLATE: &str = include_str!("../template.yaml");

/// An event of exactly `size` bytes (at least 80), unique by `i`.
fn event(size: usize, i: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"ts":1795770900,"url":"https://s{}.example.com/p/{i:07}","pad":""#,
        i % 5
    );
    let pad = size.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad)).into_bytes()
}

/// The events of one sample file, as `sizing` reads them.
fn sample_events(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    firehose_enricher::replay::split::split(&data)
        .flat_map(|p| {
            redrive::events(p.bytes)
                .events
                .into_iter()
                .map(|e| e.into_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What a processor buffer of `mb` holds of these events, through the
/// function: how many records overflow the response.
fn overflow_at(mb: f64, size: usize, config: &Config) -> usize {
    let n = (mb * MB / size as f64).floor() as usize;
    let events: Vec<Vec<u8>> = (0..n).map(|i| event(size, i)).collect();
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let p = batch::process(&sizing::request(&refs), config).unwrap();
    p.report.overflow
}

#[test]
fn the_largest_buffer_fits_and_one_step_more_does_not() {
    let config = Config::default();
    // (event bytes, the answer expected)
    let cases: &[(usize, Option<f64>)] = &[
        // --- edges ---
        // Tiny events grow most (ids, keys and enrichment are per record).
        (80, Some(0.7)),
        (100, Some(0.9)),
        // Large events: the buffer's upper bound is the answer.
        (8_000, Some(3.0)),
        // --- ordinary ---
        (300, Some(1.9)),
        (1_000, Some(3.0)),
    ];
    for (size, want) in cases {
        let sample: Vec<Vec<u8>> = (0..50).map(|i| event(*size, i)).collect();
        let refs: Vec<&[u8]> = sample.iter().map(Vec::as_slice).collect();
        let s: Sizing = sizing::measure(&refs, &config).unwrap();
        assert_eq!(s.max_buffer_mb, *want, "{size}-byte events: {s:?}");
        assert_eq!(s.data_bytes_per_record, *size as f64, "{size}");
        assert!(s.response_bytes_per_record > s.request_bytes_per_record);
        let mb = s.max_buffer_mb.unwrap();
        assert_eq!(overflow_at(mb, *size, &config), 0, "{size} at {mb} MB");
        if mb < sizing::MAX_BUFFER_MB {
            assert!(
                overflow_at(mb + 0.1, *size, &config) > 0,
                "{size}: {mb} MB is not the largest"
            );
        }
    }
    // The configuration counts: without the optional enrichers, records
    // grow less and a larger buffer fits.
    let bare = Config::from_lookup(|n| (n == "ENRICHMENTS").then(|| "none".into())).unwrap();
    let sample: Vec<Vec<u8>> = (0..50).map(|i| event(100, i)).collect();
    let refs: Vec<&[u8]> = sample.iter().map(Vec::as_slice).collect();
    let with = sizing::measure(&refs, &config).unwrap();
    let without = sizing::measure(&refs, &bare).unwrap();
    assert!(
        without.max_buffer_mb > with.max_buffer_mb,
        "{without:?} {with:?}"
    );
    assert_eq!(sizing::measure(&[], &config), None);
}

#[test]
fn template_default_buffer_fits_every_sample() {
    let default: f64 = parameter_default(TEMPLATE, "ProcessorBufferSizeMB")
        .unwrap()
        .parse()
        .unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let mut tightest = f64::MAX;
    for file in &files {
        let events = sample_events(file);
        let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
        let s = sizing::measure(&refs, &Config::default()).unwrap();
        let mb = s.max_buffer_mb.expect("some buffer fits");
        assert!(
            mb >= default,
            "{}: the template's {default} MB default overflows ({mb} MB fits)",
            file.display()
        );
        tightest = tightest.min(mb);
    }
    // Not a dead check: the default is as large as the samples allow.
    assert!(tightest < default + 0.1, "{tightest} vs {default}");
}

#[test]
fn sizing_command_prints_numbers_and_json() {
    let bin = env!("CARGO_BIN_EXE_firehose-enricher");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/page-views.json");
    let out = Command::new(bin)
        .env_clear()
        .args(["sizing", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // A request file's records are the samples, not the file as one event.
    assert_eq!(v["events"], 17);
    for key in [
        "data_bytes_per_record",
        "request_bytes_per_record",
        "response_bytes_per_record",
        "expansion",
        "max_buffer_mb",
    ] {
        assert!(v[key].is_number(), "{key}: {v}");
    }
    let text = Command::new(bin)
        .env_clear()
        .arg("sizing")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("ProcessorBufferSizeMB that fits the 6000000-byte response with nothing to re-ingest: {}", v["max_buffer_mb"])),
        "{text}"
    );
    // A bad configuration is refused, naming the variable.
    let out = Command::new(bin)
        .env_clear()
        .env("MAX_AGE", "soon")
        .arg("sizing")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MAX_AGE"));
}

/// `sizing` reads what `replay` reads: folders (recursively), and refuses
/// input that is mostly not events.
#[test]
fn sizing_reads_folders_and_refuses_what_is_not_events() {
    let bin = env!("CARGO_BIN_EXE_firehose-enricher");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sizing = |args: &[&Path]| {
        Command::new(bin)
            .env_clear()
            .args(["sizing", "--json"])
            .args(args)
            .output()
            .unwrap()
    };
    // The folder holds as many events as its files, given one by one.
    let mut files: Vec<_> = std::fs::read_dir(root.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let one_by_one = sizing(&paths);
    let folder = sizing(&[&root.join("events")]);
    for out in [&one_by_one, &folder] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let events = |out: &std::process::Output| -> Value {
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["events"].clone()
    };
    assert!(events(&folder).as_u64().unwrap() > 17);
    assert_eq!(events(&folder), events(&one_by_one));

    let readme = sizing(&[&root.join("README.md")]);
    assert_eq!(readme.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&readme.stderr);
    assert!(
        stderr.starts_with("firehose-enricher: the input does not look like events: "),
        "{stderr}"
    );
    assert!(readme.stdout.is_empty());
}
