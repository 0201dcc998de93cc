//! Re-ingestion end to end: the real binary under the Runtime API emulator,
//! re-sending what does not fit in its response to moto's Firehose (a real
//! API emulator from PyPI, on 127.0.0.1), which writes it to S3.
//!
//! Ignored by default: they need moto, which `make moto-test` (part of
//! `make test`) installs into `.venv` and names in `MOTO_SERVER`.

#[path = "common/moto.rs"]
mod moto;
#[path = "common/runtime.rs"]
mod runtime;

use base64::Engine;
use moto::{Fault, Moto, Proxy};
use runtime::{Emulator, Function};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const STREAM: &str = "events";
const BUCKET: &str = "enriched";
const PREFIX: &str = "reingested/";

/// About 20,000 events of about 100 bytes, each ending in `\n` so that
/// moto's objects (records back to back) split into them: their enriched
/// response is larger than Lambda's 6 MB, though the request is not.
fn tiny_events(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                "{{\"type\":\"page_view\",\"ts\":{},\"url\":\"https://s{}.example.com/p/{i:05}\",\"sid\":\"s-{i:06}\"}}\n",
                1_795_770_900 + (i % 60),
                i % 7,
            )
            .into_bytes()
        })
        .collect()
}

fn request(events: &[Vec<u8>]) -> Vec<u8> {
    let arn = format!(
        "arn:aws:firehose:{}:{}:deliverystream/{STREAM}",
        moto::REGION,
        moto::ACCOUNT
    );
    request_from(events, Some(&arn))
}

fn request_from(events: &[Vec<u8>], arn: Option<&str>) -> Vec<u8> {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                // Firehose's ids are 56 digits or more.
                "recordId": format!("{i:0>100}"),
                "approximateArrivalTimestamp": 1_795_770_902_000i64,
                "data": B64.encode(e),
            })
        })
        .collect();
    let mut request = json!({
        "invocationId": "reingest-test",
        "region": moto::REGION,
        "records": records,
    });
    if let Some(arn) = arn {
        request["deliveryStreamArn"] = arn.into();
    }
    serde_json::to_vec(&request).unwrap()
}

/// What one overflowing invocation did.
struct Run {
    /// Each request record's result, in order.
    results: Vec<String>,
    response: Value,
    /// Every record moto wrote to S3, with how often.
    delivered: BTreeMap<Vec<u8>, usize>,
    emf: Value,
    proxy: Proxy,
    stdout: Vec<String>,
}

fn run(events: &[Vec<u8>], fault: Fault, deadline: Duration) -> Run {
    run_with(request(events), fault, deadline, &[])
}

fn run_with(request: Vec<u8>, fault: Fault, deadline: Duration, extra: &[(&str, &str)]) -> Run {
    let moto = Moto::start();
    moto.create_stream(STREAM, BUCKET, PREFIX);
    let proxy = Proxy::start(moto.addr, fault);
    let emulator = Emulator::with_deadline(vec![("req-1", request)], deadline);
    let env = moto::sdk_env(proxy.addr);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Every count in the metrics line, zeros included: the assertions read
    // the per-reason and re-send counts.
    env.push(("DETAILED_METRICS", "on"));
    env.extend_from_slice(extra);
    let function = Function::lambda(&emulator, &env);
    let posted = emulator.next();
    let (stdout, stderr) = function.finish();
    assert_eq!(posted.path, "invocation/req-1/response", "{stderr}");
    let response: Value = serde_json::from_slice(&posted.body).unwrap();
    let results = response["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap().to_owned())
        .collect();
    let mut delivered = BTreeMap::new();
    for object in moto.objects(BUCKET, PREFIX) {
        for line in object.split_inclusive(|b| *b == b'\n') {
            *delivered.entry(line.to_vec()).or_insert(0) += 1;
        }
    }
    let emf = stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("_aws").is_some())
        .unwrap_or_else(|| panic!("no EMF line: {stdout:?} {stderr}"));
    Run {
        results,
        response,
        delivered,
        emf,
        proxy,
        stdout,
    }
}

#[test]
#[ignore = "needs moto: make moto-test"]
fn overflow_is_delivered_exactly_once_through_throttling() {
    let events = tiny_events(20_000);
    let run = run(&events, Fault::ThrottleOnce, Duration::from_secs(300));
    let count = |r: &str| run.results.iter().filter(|x| *x == r).count();
    let (ok, dropped) = (count("Ok"), count("Dropped"));
    // It overflowed, and nothing failed: every record is Ok, or was
    // re-sent and answered Dropped.
    assert!(ok > 0 && dropped > 0, "{ok} Ok, {dropped} Dropped");
    assert_eq!(ok + dropped, events.len());
    // Ok first, then the re-sent: the earliest records are delivered now.
    assert!(run.results[..ok].iter().all(|r| r == "Ok"));
    // Every Dropped record is in S3 exactly once, byte for byte, and
    // nothing else is.
    let want: BTreeMap<Vec<u8>, usize> = events[ok..].iter().map(|e| (e.clone(), 1)).collect();
    assert_eq!(run.delivered.len(), want.len(), "distinct records in S3");
    assert!(
        run.delivered == want,
        "S3 holds exactly the re-sent records, once each"
    );
    // The throttled half was retried: failed entries, and more calls than
    // the records need.
    let seen = &run.proxy.seen;
    let failed = seen.failed.load(Ordering::SeqCst);
    assert!(failed >= dropped / 2 - 1, "{failed} throttled of {dropped}");
    assert!(seen.puts.load(Ordering::SeqCst) > dropped.div_ceil(500));
    assert_eq!(seen.forwarded.load(Ordering::SeqCst), dropped);
    // The PutRecordBatch limits held.
    let (records, bytes) = *seen.largest.lock().unwrap();
    assert!(
        records <= 500 && bytes <= 4 * 1024 * 1024,
        "{records} {bytes}"
    );
    // The metrics count them, exactly.
    assert_eq!(run.emf["Reingested"], dropped);
    assert_eq!(run.emf["ReingestFailed"], 0);
    assert_eq!(run.emf["RecordsDropped"], dropped);
    assert_eq!(run.emf["RecordsOk"], ok);
    assert_eq!(run.emf["RecordsFailed"], 0);
    // One log line for the batch, not one per record.
    let logged = run.stdout.iter().filter(|l| !l.starts_with('{')).count();
    assert!(logged <= 2, "{:?}", run.stdout);
}

#[test]
#[ignore = "needs moto: make moto-test"]
fn calls_that_fail_whole_are_retried() {
    let events = tiny_events(20_000);
    let run = run(
        &events,
        Fault::UnavailableFirst(3),
        Duration::from_secs(300),
    );
    let ok = run.results.iter().filter(|r| *r == "Ok").count();
    let dropped = events.len() - ok;
    assert!(run.results[ok..].iter().all(|r| r == "Dropped"));
    let want: BTreeMap<Vec<u8>, usize> = events[ok..].iter().map(|e| (e.clone(), 1)).collect();
    assert!(
        run.delivered == want,
        "S3 holds exactly the re-sent records, once each"
    );
    assert_eq!(run.emf["Reingested"], dropped);
    assert_eq!(run.emf["ReingestFailed"], 0);
    // Three refused calls, then every call of the overflow once more.
    let puts = run.proxy.seen.puts.load(Ordering::SeqCst);
    assert!(puts >= 3 + dropped.div_ceil(500), "{puts} calls");
}

#[test]
#[ignore = "needs moto: make moto-test"]
fn exhausted_retries_fall_back_to_processing_failed() {
    let events = tiny_events(20_000);
    // A short invocation: retries stop at its deadline less the margin.
    let run = run(&events, Fault::ThrottleAlways, Duration::from_secs(12));
    let count = |r: &str| run.results.iter().filter(|x| *x == r).count();
    let (ok, failed) = (count("Ok"), count("ProcessingFailed"));
    assert_eq!(count("Dropped"), 0);
    assert!(ok > 0 && failed > 0, "{ok} Ok, {failed} failed");
    assert_eq!(ok + failed, events.len());
    // Nothing was delivered, and nothing is lost: each failed record echoes
    // its data byte for byte, for the error prefix.
    assert!(run.delivered.is_empty());
    let records = run.response["records"].as_array().unwrap();
    for (i, r) in records.iter().enumerate() {
        if r["result"] == "ProcessingFailed" {
            assert_eq!(B64.decode(r["data"].as_str().unwrap()).unwrap(), events[i]);
        }
    }
    // It retried before giving up.
    let seen = &run.proxy.seen;
    let puts = seen.puts.load(Ordering::SeqCst);
    assert!(puts >= 2 * failed.div_ceil(500), "{puts} calls");
    assert_eq!(seen.forwarded.load(Ordering::SeqCst), 0);
    let reingest_failed = run.emf["ReingestFailed"].as_u64().unwrap() as usize;
    assert!(reingest_failed > 0 && reingest_failed <= failed);
    assert_eq!(run.emf["Reingested"], 0);
    assert_eq!(run.emf["RecordsFailed"], failed);
    assert_eq!(run.emf["FailedResponseTooLarge"], failed);
}

/// With re-ingestion off, or no stream to re-send to, the overflow fails
/// with its data, and nothing is sent.
#[test]
#[ignore = "needs moto: make moto-test"]
fn without_reingestion_overflow_fails_and_nothing_is_sent() {
    let events = tiny_events(20_000);
    // (case, request, extra environment)
    type Case<'a> = (&'a str, Vec<u8>, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        (
            "REINGEST_OVERFLOW=false",
            request(&events),
            &[("REINGEST_OVERFLOW", "false")],
        ),
        ("no deliveryStreamArn", request_from(&events, None), &[]),
        (
            "not a stream ARN",
            request_from(&events, Some("arn:aws:kinesis:eu-central-1:1:stream/s")),
            &[],
        ),
    ];
    for (name, request, extra) in cases {
        let run = run_with(
            request.clone(),
            Fault::None,
            Duration::from_secs(300),
            extra,
        );
        let count = |r: &str| run.results.iter().filter(|x| *x == r).count();
        let (ok, failed) = (count("Ok"), count("ProcessingFailed"));
        assert!(ok > 0 && failed > 0, "{name}: {ok} Ok, {failed} failed");
        assert_eq!(ok + failed, events.len(), "{name}");
        assert_eq!(run.proxy.seen.puts.load(Ordering::SeqCst), 0, "{name}");
        assert!(run.delivered.is_empty(), "{name}");
        assert_eq!(run.emf["Reingested"], 0, "{name}");
        assert_eq!(run.emf["FailedResponseTooLarge"], failed, "{name}");
        let records = run.response["records"].as_array().unwrap();
        for (i, r) in records.iter().enumerate().skip(ok) {
            assert_eq!(
                B64.decode(r["data"].as_str().unwrap()).unwrap(),
                events[i],
                "{name}"
            );
        }
    }
}

/// Redrive: `replay --to-stream` sends what Firehose wrote to the error
/// prefix (and request files' records) back to the stream, raw, through
/// the same sender, throttling and all.
#[test]
#[ignore = "needs moto: make moto-test"]
fn replay_to_stream_redrives_error_records_once_each() {
    let moto = Moto::start();
    moto.create_stream(STREAM, BUCKET, PREFIX);
    let proxy = Proxy::start(moto.addr, Fault::ThrottleOnce);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("redrive-to-stream");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("processing-failed")).unwrap();
    // 1,200 failed records in two gzip files, as under the error prefix
    // (more than two PutRecordBatch calls' worth), and a request file.
    let events = tiny_events(1_200);
    for (n, part) in events.chunks(600).enumerate() {
        let mut text = String::new();
        for e in part {
            text.push_str(
                &json!({
                    "attemptsMade": 4,
                    "arrivalTimestamp": 1_795_770_902_000i64,
                    "errorCode": "Lambda.ProcessingFailedStatus",
                    "errorMessage": "response_too_large",
                    "attemptEndingTimestamp": 1_795_770_962_000i64,
                    "rawData": B64.encode(e),
                    "lambdaArn": "arn:aws:lambda:eu-central-1:123456789012:function:f:$LATEST",
                })
                .to_string(),
            );
            text.push('\n');
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        std::fs::write(
            dir.join(format!("processing-failed/part-{n}.gz")),
            gz.finish().unwrap(),
        )
        .unwrap();
    }
    let extra = tiny_events(1_205)[1_200..].to_vec();
    std::fs::write(dir.join("request.json"), request(&extra)).unwrap();

    let out = std::process::Command::new(runtime::BIN)
        .env_clear()
        .envs(moto::sdk_env(proxy.addr))
        .args([
            "replay",
            "--input",
            dir.to_str().unwrap(),
            "--to-stream",
            STREAM,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!(
            "sent 1205 of 1205 events from 3 files to stream {STREAM}"
        )),
        "{stdout}"
    );
    let mut delivered = BTreeMap::new();
    for object in moto.objects(BUCKET, PREFIX) {
        for line in object.split_inclusive(|b| *b == b'\n') {
            *delivered.entry(line.to_vec()).or_insert(0usize) += 1;
        }
    }
    let want: BTreeMap<Vec<u8>, usize> = events
        .iter()
        .chain(&extra)
        .map(|e| (e.clone(), 1))
        .collect();
    assert!(delivered == want, "every event exactly once, byte for byte");
    assert!(
        proxy.seen.failed.load(Ordering::SeqCst) > 0,
        "throttled and retried"
    );
}

/// A stream that does not exist: the first round sends nothing, and the
/// run stops there with the service's error in one line, rather than
/// trying every later round.
#[test]
#[ignore = "needs moto: make moto-test"]
fn replay_to_stream_stops_when_nothing_can_be_sent() {
    let moto = Moto::start();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("to-stream-missing");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // More than one round's worth, so that a second round would be tried.
    let text: Vec<u8> = tiny_events(4_500).concat();
    std::fs::write(dir.join("events.ndjson"), text).unwrap();
    let out = std::process::Command::new(runtime::BIN)
        .env_clear()
        .envs(moto::sdk_env(moto.addr))
        .args(["replay", "--to-stream", "no-such-stream", "--input"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(
            "firehose-enricher: nothing could be sent to stream no-such-stream: ResourceNotFoundException"
        ),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A file among the inputs that is not events (a README) is not sent to
/// the stream: it is named, the rest is sent, and the run exits 1.
#[test]
#[ignore = "needs moto: make moto-test"]
fn replay_to_stream_does_not_send_a_file_that_is_not_events() {
    let moto = Moto::start();
    moto.create_stream(STREAM, BUCKET, PREFIX);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("to-stream-readme");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // In a request file, so that each event keeps its newline and moto's
    // objects split back into them.
    let events = tiny_events(10);
    std::fs::write(dir.join("request.json"), request(&events)).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"),
        dir.join("README.md"),
    )
    .unwrap();
    let out = std::process::Command::new(runtime::BIN)
        .env_clear()
        .envs(moto::sdk_env(moto.addr))
        .args(["replay", "--to-stream", STREAM, "--input"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("README.md: the input does not look like events: ")
            && stderr.contains("; not sent"),
        "{stderr}"
    );
    assert!(
        stdout.starts_with(&format!(
            "sent 10 of 10 events from 2 files to stream {STREAM}"
        )),
        "{stdout}"
    );
    let delivered: Vec<Vec<u8>> = moto
        .objects(BUCKET, PREFIX)
        .iter()
        .flat_map(|o| {
            o.split_inclusive(|b| *b == b'\n')
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut want: Vec<Vec<u8>> = events.clone();
    let mut got = delivered.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "the events, and nothing of the README");
}
