//! The real binary against a Lambda Runtime API emulator on the loopback
//! interface: batches round-trip, malformed requests are reported as errors
//! and the process serves the next invocation, each batch prints one EMF
//! line, and an invalid configuration stops init naming the variable.
//!
//! The emulator is in `common/runtime.rs`.

#[path = "common/oracle.rs"]
mod oracle;
#[path = "common/runtime.rs"]
mod runtime;

use firehose_enricher::record::DropReason;
use firehose_enricher::{batch, config, metrics, Config};
use runtime::{Emulator, Function, Posted, FUNCTION, WAIT};
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

fn event(name: &str) -> Vec<u8> {
    let bytes = std::fs::read(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    // The Runtime API delivers the payload as sent; ours is the file's JSON
    // without its trailing newline.
    String::from_utf8(bytes).unwrap().trim().as_bytes().to_vec()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// The EMF lines among stdout's lines.
fn emf_lines(stdout: &[String]) -> Vec<Value> {
    stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

// ------------------------------------------------------------- the tests

#[test]
fn serves_batches_reports_bad_requests_and_keeps_serving() {
    let page_views = event("page-views.json");
    let failures = event("failures.json");
    let emulator = Emulator::start(vec![
        ("req-1", page_views.clone()),
        // JSON, but not a Firehose request.
        ("req-2", br#"{"hello":"world"}"#.to_vec()),
        // Not even JSON: the runtime library rejects it before our handler.
        ("req-3", b"this is not json".to_vec()),
        ("req-4", failures.clone()),
    ]);
    // A guard and a drop rule, so that SiteOther and Dropped* are not zero;
    // every metric, so that each is checked.
    let vars = [
        ("MAX_SITES_PER_BATCH", "3"),
        ("DROP_DOMAINS", "localhost"),
        ("DETAILED_METRICS", "on"),
    ];
    let function = Function::lambda(&emulator, &vars);
    let posted: Vec<Posted> = (0..4).map(|_| emulator.next()).collect();
    // After the last response it asks for the next invocation: still alive.
    let deadline = Instant::now() + WAIT;
    while emulator.state.next_calls.load(Ordering::SeqCst) < 5 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let (stdout, stderr) = function.finish();
    let context = format!("stderr:\n{stderr}\nstdout:\n{}", stdout.join("\n"));

    let cfg = Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let expected_1 = batch::process(&page_views, &cfg).unwrap();
    let expected_4 = batch::process(&failures, &cfg).unwrap();

    // req-1: the whole batch, exactly as the core answers it.
    assert_eq!(posted[0].path, "invocation/req-1/response", "{context}");
    assert_eq!(json(&posted[0].body), json(expected_1.response.as_bytes()));
    oracle::check_batch(&page_views, &cfg, &Ok(expected_1.clone()));

    // req-2: a clear error, typed for Firehose's logs.
    assert_eq!(posted[1].path, "invocation/req-2/error", "{context}");
    let error = json(&posted[1].body);
    assert_eq!(error["errorType"], "InvalidFirehoseRequest", "{error}");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("not a Firehose transformation request: missing field `records`"),
        "{message}"
    );

    // req-3: an error too, and the process lives on.
    assert_eq!(posted[2].path, "invocation/req-3/error", "{context}");
    assert!(json(&posted[2].body)["errorType"].is_string());

    // req-4: served after both errors.
    assert_eq!(posted[3].path, "invocation/req-4/response", "{context}");
    assert_eq!(json(&posted[3].body), json(expected_4.response.as_bytes()));
    oracle::check_batch(&failures, &cfg, &Ok(expected_4.clone()));
    assert_eq!(
        emulator.state.next_calls.load(Ordering::SeqCst),
        5,
        "{context}"
    );

    // One EMF line per processed batch, in order; a rejected request has
    // none (Lambda's own Errors metric counts it).
    let emf = emf_lines(&stdout);
    assert_eq!(emf.len(), 2, "{context}");
    for (line, (request, expected)) in emf
        .iter()
        .zip([(&page_views, &expected_1), (&failures, &expected_4)])
    {
        let r = &expected.report;
        assert_eq!(line["invocationId"], json(request)["invocationId"]);
        assert_eq!(line["FunctionName"], FUNCTION);
        let declared: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        let names = metrics::metric_names();
        assert_eq!(
            declared,
            names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
        );
        let mut want = vec![
            ("Records", r.records),
            ("RecordsOk", r.ok),
            ("RecordsDropped", r.dropped_total()),
            ("RecordsFailed", r.failed_total()),
            ("SiteOther", r.site_other),
            ("InputBytes", r.input_bytes),
            ("OutputBytes", r.output_bytes),
            ("RequestBytes", request.len()),
            ("ResponseBytes", r.response_bytes),
        ];
        let failed: Vec<(String, usize)> = firehose_enricher::record::FailReason::ALL
            .iter()
            .map(|reason| {
                let code = reason.code();
                let name: String = code
                    .split('_')
                    .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
                    .collect();
                (format!("Failed{name}"), r.failed_count(*reason))
            })
            .collect();
        want.extend(failed.iter().map(|(n, v)| (n.as_str(), *v)));
        want.push(("DroppedDomain", r.dropped_count(DropReason::Domain)));
        want.push(("DroppedBot", r.dropped_count(DropReason::Bot)));
        for (name, value) in want {
            assert_eq!(line[name], value, "{name} in {line}");
        }
        assert!(line["ProcessingTime"].as_f64().unwrap() >= 0.0);
    }
    // The counts checked are not all zero, so the test can tell a metric
    // that is written from one that is merely present.
    let (r1, r4) = (&expected_1.report, &expected_4.report);
    assert!(
        r1.site_other > 0 && r1.dropped_total() > 0 && r1.ok > 0,
        "{r1:?}"
    );
    let reasons = r4.failed.iter().filter(|n| **n > 0).count();
    assert!(reasons >= 5, "{r4:?}");
}

/// Invalid values, one per kind of variable.
const INVALID: &[(&str, &str)] = &[
    ("MAX_AGE", "30 days"),
    ("MAX_FUTURE", "-1d"),
    ("DROP_BOTS", "maybe"),
    ("DROP_BOTS", "ai_crawler,robots"),
    ("MAX_SITES_PER_BATCH", "many"),
    ("TIME_FIELDS", ""),
    ("URL_FIELDS", "page..url"),
    ("HOST_FIELDS", ","),
    ("USER_AGENT_FIELDS", ".ua"),
    ("REFERRER_FIELDS", "referrer,"),
    ("SITE_ALLOWLIST", "Example.COM"),
    ("DROP_DOMAINS", "*."),
    ("ENRICHMENTS", "referer"),
    ("COLUMNS", r#"[{"name":"a","type":"string"}]"#),
    ("ANONYMIZE_IP", "masked"),
    ("IP_FIELDS", "ip,"),
    ("GEO_DB", "/nonexistent/GeoLite2-City.mmdb"),
    ("KEEP_QUERY_PARAMS", "utm_source,,gclid"),
    ("CONSENT_FIELDS", "tcString,,gpp"),
    ("GPC_FIELDS", ""),
    ("CONSENT_REQUIRED_PURPOSES", "25"),
    ("CONSENT_VENDOR_ID", "0"),
    ("CONSENT_POLICY", "anonymise"),
    ("CONSENT_MISSING", "yes"),
];

#[test]
fn invalid_values_are_invalid() {
    // Edge: the table must hold values the configuration really rejects,
    // and it must name every kind of variable (else the tests prove less).
    for (name, value) in INVALID {
        let err = Config::from_lookup(|n| (n == *name).then(|| value.to_string())).unwrap_err();
        assert_eq!(err.variable, *name);
    }
    // HASH_KEY's error never shows its value: it has its own test below.
    let forms: std::collections::BTreeSet<&str> = config::VARIABLES
        .iter()
        .filter(|v| v.name != "HASH_KEY")
        .map(|v| v.form)
        .collect();
    let covered: std::collections::BTreeSet<&str> = INVALID
        .iter()
        .map(|(n, _)| {
            config::VARIABLES
                .iter()
                .find(|v| v.name == *n)
                .unwrap()
                .form
        })
        .collect();
    assert_eq!(forms, covered);
}

#[test]
fn invalid_configuration_stops_init_naming_the_variable() {
    for (name, value) in INVALID {
        let emulator = Emulator::start(vec![("req-1", event("minimal.json"))]);
        let mut function = Function::lambda(&emulator, &[(name, value)]);
        let status = function.wait();
        let (_, stderr) = function.finish();
        assert_eq!(status.code(), Some(1), "{name}={value:?}: {stderr}");
        let want = format!("firehose-enricher: invalid {name}={value:?}: expected ");
        assert!(stderr.contains(&want), "{name}: {stderr}");
        // It stopped before asking for work: no invocation is lost to it.
        assert_eq!(
            emulator.state.next_calls.load(Ordering::SeqCst),
            0,
            "{name}"
        );
        assert!(emulator.posted.try_recv().is_err(), "{name}");
    }
}

#[test]
fn a_short_hash_key_stops_start_up_without_showing_it() {
    let file = format!("{}/events/minimal.json", env!("CARGO_MANIFEST_DIR"));
    let key = "this-key-is-31-bytes-long-12345";
    let out = Function::command(&[("HASH_FIELDS", "user_id"), ("HASH_KEY", key)])
        .args(["invoke", &file])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("invalid HASH_KEY"), "{stderr}");
    assert!(stderr.contains("31 bytes"), "{stderr}");
    assert!(!stderr.contains(key), "{stderr}");
}

#[test]
fn invoke_cli_stops_on_invalid_configuration() {
    let file = format!("{}/events/minimal.json", env!("CARGO_MANIFEST_DIR"));
    for (name, value) in INVALID {
        let mut cmd = Function::command(&[(name, value)]);
        cmd.args(["invoke", &file]);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
        assert_eq!(
            stderr.trim_end(),
            format!(
                "firehose-enricher: {}",
                Config::from_lookup(|n| (n == *name).then(|| value.to_string())).unwrap_err()
            ),
            "{name}"
        );
    }
    // The same file with a valid configuration answers as the core does.
    let out = Function::command(&[("MAX_AGE", "365d")])
        .args(["invoke", &file])
        .output()
        .unwrap();
    assert!(out.status.success());
    let cfg = Config::from_lookup(|n| (n == "MAX_AGE").then(|| "365d".into())).unwrap();
    let expected = batch::process(&std::fs::read(&file).unwrap(), &cfg).unwrap();
    assert_eq!(json(&out.stdout), json(expected.response.as_bytes()));
    // And a request that is not a Firehose event is a one-line error.
    let mut cmd = Function::command(&[]);
    cmd.args(["invoke", "-"]).stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"hello":"world"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l == "firehose-enricher: not a Firehose transformation request: missing field `records` at line 1 column 17"),
        "{stderr}"
    );
}

/// Started with AWS_LAMBDA_RUNTIME_API but without the other variables
/// Lambda sets, the function stops with one line naming what is missing
/// (exit 1), instead of a panic inside the runtime library (exit 101).
#[test]
fn a_missing_runtime_variable_is_named_not_a_panic() {
    // (variable, value or None to leave it out, what stderr says)
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "AWS_LAMBDA_FUNCTION_NAME",
            None,
            "AWS_LAMBDA_FUNCTION_NAME is not set: the Lambda runtime sets it",
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION",
            None,
            "AWS_LAMBDA_FUNCTION_VERSION is not set",
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            None,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not set",
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            Some("lots"),
            "invalid AWS_LAMBDA_FUNCTION_MEMORY_SIZE=\"lots\"",
        ),
        (
            "AWS_LAMBDA_RUNTIME_API",
            Some(""),
            "invalid AWS_LAMBDA_RUNTIME_API=\"\": expected HOST:PORT",
        ),
        (
            "AWS_LAMBDA_RUNTIME_API",
            Some("not a host"),
            "invalid AWS_LAMBDA_RUNTIME_API=\"not a host\"",
        ),
        (
            "AWS_LAMBDA_RUNTIME_API",
            Some("127.0.0.1:port"),
            "invalid AWS_LAMBDA_RUNTIME_API=\"127.0.0.1:port\"",
        ),
    ];
    for (name, value, want) in cases {
        let emulator = Emulator::start(vec![("req-1", event("minimal.json"))]);
        let api = emulator.addr.to_string();
        let mut vars: Vec<(&str, &str)> = vec![
            ("AWS_LAMBDA_RUNTIME_API", &api),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ];
        vars.retain(|(k, _)| k != name);
        if let Some(v) = value {
            vars.push((name, v));
        }
        let mut function = Function::spawn(Function::command(&vars));
        let status = function.wait();
        let (_, stderr) = function.finish();
        assert_eq!(status.code(), Some(1), "{name}={value:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with("firehose-enricher: ") && stderr.contains(want),
            "{name}={value:?}: {stderr}"
        );
        assert_eq!(emulator.state.next_calls.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn runtime_api_values_the_runtime_library_accepts() {
    let check = |api: &str| {
        firehose_enricher::lambda::check_runtime_environment(|name| match name {
            "AWS_LAMBDA_RUNTIME_API" => Some(api.to_owned()),
            _ => Some("128".to_owned()),
        })
    };
    // (value, accepted)
    let cases = [
        ("", false),
        (":9001", false),
        ("127.0.0.1:", false),
        ("127.0.0.1:99999", false),
        ("host name:9001", false),
        ("127.0.0.1:9001/\n", false),
        ("127.0.0.1:9001", true),
        ("localhost:9001", true),
        ("localhost", true),
        ("http://127.0.0.1:9001", true),
        ("127.0.0.1:9001/prefix", false),
        ("http://127.0.0.1:9001/prefix", true),
        ("http://", false),
        ("[::1]:9001", true),
    ];
    for (api, ok) in cases {
        assert_eq!(check(api).is_ok(), ok, "{api:?}: {:?}", check(api));
    }
}
