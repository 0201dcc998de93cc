//! The Lambda collector end to end: the real binary with
//! `FUNCTION_ROLE=collector` under the Runtime API emulator, answering
//! Function URL requests (payload format 2.0) and delivering into moto's
//! Firehose, which writes to S3. Every accepted event arrives byte for byte
//! with its server fields, and an event Firehose did not take is never
//! answered 2xx.
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
use std::time::Duration;

const STREAM: &str = "events";
const BUCKET: &str = "collected";
const PREFIX: &str = "raw/";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SOURCE_IP: &str = "203.0.113.42";

/// A Function URL request as Lambda hands it over (payload format 2.0).
fn url_event(method: &str, path: &str, headers: Value, body: Option<&[u8]>) -> Vec<u8> {
    let (body, b64) = match body {
        None => (Value::Null, false),
        Some(b) => match std::str::from_utf8(b) {
            Ok(text) => (Value::from(text), false),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(b).into(),
                true,
            ),
        },
    };
    let mut headers = headers;
    headers["user-agent"] = UA.into();
    headers["x-forwarded-for"] = "6.6.6.6".into();
    serde_json::to_vec(&json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnopqrstuvwxyz",
            "domainName": "abcdefghijklmnopqrstuvwxyz.lambda-url.eu-central-1.on.aws",
            "domainPrefix": "abcdefghijklmnopqrstuvwxyz",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": SOURCE_IP, "userAgent": UA},
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "07/Dec/2026:09:15:02 +0000",
            "timeEpoch": 1_796_634_902_000i64
        },
        "body": body,
        "isBase64Encoded": b64
    }))
    .unwrap()
}

fn event(n: usize) -> String {
    format!(
        r#"{{"type":"page_view","n":{n},"url":"https://shop.example.com/p/{n}","ts":1796634900000}}"#
    )
}

/// What the function answered to each invocation, and every record moto
/// delivered, with how often.
struct Run {
    answers: Vec<Value>,
    delivered: BTreeMap<Vec<u8>, usize>,
    stdout: Vec<String>,
}

fn run(invocations: Vec<(&str, Vec<u8>)>, fault: Fault, deadline: Duration) -> Run {
    let moto = Moto::start();
    moto.create_stream(STREAM, BUCKET, PREFIX);
    let proxy = Proxy::start(moto.addr, fault);
    let ids: Vec<String> = invocations.iter().map(|(id, _)| id.to_string()).collect();
    let emulator = Emulator::with_deadline(invocations, deadline);
    let env = moto::sdk_env(proxy.addr);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(&[("FUNCTION_ROLE", "collector"), ("COLLECTOR_STREAM", STREAM)]);
    let function = Function::lambda(&emulator, &env);
    let mut answers = Vec::new();
    for id in &ids {
        let posted = emulator.next();
        assert_eq!(
            posted.path,
            format!("invocation/{id}/response"),
            "{}",
            String::from_utf8_lossy(&posted.body)
        );
        answers.push(serde_json::from_slice(&posted.body).unwrap());
    }
    let (stdout, _stderr) = function.finish();
    let mut delivered = BTreeMap::new();
    for object in moto.objects(BUCKET, PREFIX) {
        for line in object.split_inclusive(|b| *b == b'\n') {
            *delivered.entry(line.to_vec()).or_insert(0) += 1;
        }
    }
    Run {
        answers,
        delivered,
        stdout,
    }
}

/// The event as it must arrive: as sent, with the server's fields.
fn arrived(event: &str) -> Vec<u8> {
    let inner = &event[..event.len() - 1];
    format!(r#"{inner},"ip":"{SOURCE_IP}","user_agent":"{UA}"}}"#)
        .into_bytes()
        .into_iter()
        .chain([b'\n'])
        .collect()
}

#[test]
#[ignore = "needs moto: make moto-test"]
fn accepted_events_arrive_byte_for_byte() {
    let text = json!({"content-type": "text/plain;charset=UTF-8"});
    let array = format!("[{},{},{}]", event(0), event(1), event(2));
    let ndjson = format!("{}\nnot json\n{}\n", event(3), event(4));
    let forged = r#"{"type":"x","ip":"6.6.6.6","user_agent":"forged","n":5}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, event(6).as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let too_many: String = (0..501).map(|_| "{}\n").collect();
    let run = run(
        vec![
            (
                "array",
                url_event("POST", "/collect", text.clone(), Some(array.as_bytes())),
            ),
            (
                "ndjson",
                url_event(
                    "POST",
                    "/collect",
                    json!({"content-type": "application/x-ndjson"}),
                    Some(ndjson.as_bytes()),
                ),
            ),
            (
                "forged",
                url_event("POST", "/collect", text.clone(), Some(forged.as_bytes())),
            ),
            (
                "gzip",
                url_event(
                    "POST",
                    "/collect",
                    json!({"content-encoding": "gzip"}),
                    Some(&gz),
                ),
            ),
            (
                "too-many",
                url_event("POST", "/collect", text.clone(), Some(too_many.as_bytes())),
            ),
            ("health", url_event("GET", "/health", json!({}), None)),
            ("tracker", url_event("GET", "/tracker.js", json!({}), None)),
            (
                "preflight",
                url_event(
                    "OPTIONS",
                    "/collect",
                    json!({"origin": "https://shop.example.com"}),
                    None,
                ),
            ),
            ("nowhere", url_event("GET", "/nope", json!({}), None)),
        ],
        Fault::None,
        Duration::from_secs(30),
    );
    let statuses: Vec<u64> = run
        .answers
        .iter()
        .map(|a| a["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [204, 200, 204, 204, 413, 200, 200, 204, 404],
        "{:?}",
        run.answers
    );
    assert_eq!(
        run.answers[1]["body"],
        r#"{"accepted":2,"rejected":[{"index":1,"reason":"invalid_json"}]}"#
    );
    assert!(run.answers[6]["body"]
        .as_str()
        .unwrap()
        .contains("firehoseEnricher"));
    let mut want: BTreeMap<Vec<u8>, usize> = [0, 1, 2, 3, 4, 6]
        .iter()
        .map(|&n| (arrived(&event(n)), 1))
        .collect();
    want.insert(arrived(r#"{"type":"x","n":5}"#), 1);
    assert_eq!(
        run.delivered
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect::<Vec<_>>(),
        want.keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect::<Vec<_>>()
    );
    assert_eq!(run.delivered, want, "each once");
    // One EMF line per counted request: 3 + 2 + 1 + 1 accepted, one
    // rejected event, one 413.
    let emf: Vec<Value> = run
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    let sum = |name: &str| emf.iter().map(|v| v[name].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("Accepted"), 7);
    assert_eq!(sum("RejectedEvents"), 1);
    assert_eq!(sum("RejectedTooLarge"), 1);
    assert_eq!(sum("DeliveryFailed"), 0);
}

#[test]
#[ignore = "needs moto: make moto-test"]
fn throttled_entries_are_retried_and_delivered_once() {
    let body: String = (0..40).map(|n| event(n) + "\n").collect();
    let run = run(
        vec![(
            "throttled",
            url_event("POST", "/collect", json!({}), Some(body.as_bytes())),
        )],
        Fault::ThrottleOnce,
        Duration::from_secs(30),
    );
    assert_eq!(run.answers[0]["statusCode"], 204, "{:?}", run.answers);
    let want: BTreeMap<Vec<u8>, usize> = (0..40).map(|n| (arrived(&event(n)), 1)).collect();
    assert_eq!(run.delivered, want);
}

#[test]
#[ignore = "needs moto: make moto-test"]
fn undelivered_events_are_answered_503_with_retry_after() {
    let body = format!("{}\n{}\n", event(0), event(1));
    let run = run(
        vec![(
            "down",
            url_event(
                "POST",
                "/collect",
                json!({"origin": "https://shop.example.com"}),
                Some(body.as_bytes()),
            ),
        )],
        Fault::ThrottleAlways,
        // Retries stop shortly before the deadline.
        Duration::from_secs(3),
    );
    let answer = &run.answers[0];
    assert_eq!(answer["statusCode"], 503, "{answer}");
    assert_eq!(answer["headers"]["retry-after"], "2");
    assert_eq!(answer["headers"]["access-control-allow-origin"], "*");
    assert!(run.delivered.is_empty());
    let emf: Vec<Value> = run
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(emf[0]["DeliveryFailed"], 2);
    assert_eq!(emf[0]["Accepted"], 0);
}

#[test]
fn a_collector_without_a_stream_fails_at_start_naming_the_variable() {
    let emulator = Emulator::start(vec![]);
    let mut function = Function::lambda(&emulator, &[("FUNCTION_ROLE", "collector")]);
    assert!(!function.wait().success());
    let (_, stderr) = function.finish();
    assert!(stderr.contains("COLLECTOR_STREAM"), "{stderr}");
    let emulator = Emulator::start(vec![]);
    let mut function = Function::lambda(&emulator, &[("FUNCTION_ROLE", "collect")]);
    assert!(!function.wait().success());
    let (_, stderr) = function.finish();
    assert!(stderr.contains("FUNCTION_ROLE"), "{stderr}");
}
