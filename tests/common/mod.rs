//! Helpers shared by the integration tests: build requests, read responses,
//! and check the invariants every response must hold.
#![allow(dead_code)]

use base64::Engine;
use firehose_enricher::partition;
use firehose_enricher::record::{transform, Outcome};
use firehose_enricher::Config;
use serde_json::{json, Value};
use std::collections::HashSet;

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// 2026-11-27 09:15:02 UTC, the arrival time of the sample events.
pub const ARRIVAL_MS: i64 = 1_795_770_902_000;

/// A configuration from these variables, the rest at their defaults.
pub fn config(vars: &[(&str, &str)]) -> Config {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .unwrap()
}

/// A record's `Ok` output, parsed; panics on any other outcome.
pub fn enriched(input: &str, config: &Config) -> Value {
    let t = transform(input.as_bytes(), ARRIVAL_MS, config);
    assert!(
        matches!(t.outcome, Outcome::Ok(_)),
        "{input}: {:?}",
        t.outcome
    );
    serde_json::from_slice(&t.data).unwrap()
}

pub fn b64(data: &[u8]) -> String {
    B64.encode(data)
}

/// A request with one record per `(data, arrival)`; ids are `r0`, `r1`, …
pub fn request(records: &[(&[u8], Value)]) -> Vec<u8> {
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, (data, arrival))| {
            json!({"recordId": format!("r{i}"), "approximateArrivalTimestamp": arrival, "data": b64(data)})
        })
        .collect();
    serde_json::to_vec(&json!({
        "invocationId": "test-invocation",
        "deliveryStreamArn": "arn:aws:firehose:eu-central-1:123456789012:deliverystream/test",
        "region": "eu-central-1",
        "records": records,
    }))
    .unwrap()
}

/// Checks what every response must satisfy against its request, and returns
/// the response records:
/// - every request recordId appears exactly once, in order;
/// - `Ok` data is one JSON object on one line ending in exactly one `\n`,
///   keeping every input field (other than the five replaced ones) unchanged;
/// - `ProcessingFailed` data is byte-identical to the request's data;
/// - `Ok` partition keys are exactly site, dt, hour, with safe values;
/// - the result is one of Ok, Dropped, ProcessingFailed.
pub fn check_invariants(request: &Value, response: &Value) -> Vec<Value> {
    let req = request["records"].as_array().expect("request records");
    let res = response["records"].as_array().expect("response records");
    assert_eq!(
        req.len(),
        res.len(),
        "one response record per request record"
    );
    let mut seen = HashSet::new();
    for (q, r) in req.iter().zip(res) {
        assert_eq!(q["recordId"], r["recordId"], "ids in request order");
        assert!(
            seen.insert(r["recordId"].to_string()),
            "duplicate id {}",
            r["recordId"]
        );
        match r["result"].as_str() {
            Some("Ok") => {
                let data = B64
                    .decode(r["data"].as_str().expect("Ok data"))
                    .expect("Ok data is base64");
                assert!(
                    data.ends_with(b"\n") && !data.ends_with(b"\n\n"),
                    "one trailing newline"
                );
                assert_eq!(data.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
                assert!(!data.contains(&b'\r'));
                let out: Value = serde_json::from_slice(&data).expect("Ok data is JSON");
                let input: Value =
                    serde_json::from_slice(&B64.decode(q["data"].as_str().unwrap()).unwrap())
                        .unwrap();
                let config = firehose_enricher::Config::default();
                for (k, v) in input.as_object().unwrap() {
                    // ANONYMIZE_IP is on by default: addresses are masked.
                    let ip_fields = [
                        "ip",
                        "client_ip",
                        "ip_address",
                        "remote_addr",
                        "x_forwarded_for",
                    ];
                    if let (true, Some(ip)) = (ip_fields.contains(&k.as_str()), v.as_str()) {
                        let (masked, _) = firehose_enricher::enrich::privacy::mask_ips(ip);
                        assert_eq!(out[k], masked.as_str(), "field {k} masked");
                        continue;
                    }
                    if !config.output_fields().contains(&k.as_str()) {
                        assert_eq!(&out[k], v, "field {k} kept unchanged");
                    }
                }
                for f in firehose_enricher::record::OUTPUT_FIELDS {
                    assert!(out.get(f).is_some(), "field {f} added");
                }
                let keys = r["metadata"]["partitionKeys"]
                    .as_object()
                    .expect("partition keys");
                let names: Vec<&str> = keys.keys().map(String::as_str).collect();
                let mut sorted = names.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, ["dt", "hour", "site"]);
                for v in keys.values() {
                    assert!(
                        partition::is_safe_value(v.as_str().unwrap()),
                        "unsafe value {v}"
                    );
                }
                assert_eq!(
                    keys["dt"].as_str().unwrap(),
                    &out["event_time"].as_str().unwrap()[..10]
                );
                assert_eq!(
                    keys["hour"].as_str().unwrap(),
                    &out["event_time"].as_str().unwrap()[11..13]
                );
            }
            Some("ProcessingFailed") => {
                let want = q.get("data").and_then(Value::as_str).unwrap_or("");
                assert_eq!(r["data"].as_str(), Some(want), "failed data byte-identical");
            }
            Some("Dropped") => {}
            other => panic!("unexpected result {other:?}"),
        }
    }
    res.clone()
}

/// Decodes an `Ok` record's data as JSON.
pub fn ok_json(record: &Value) -> Value {
    assert_eq!(record["result"], "Ok", "{record}");
    serde_json::from_slice(&B64.decode(record["data"].as_str().unwrap()).unwrap()).unwrap()
}
