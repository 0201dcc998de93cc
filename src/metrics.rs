//! Batch metrics as one CloudWatch Embedded Metric Format (EMF) log line.
//!
//! Lambda ships stdout to CloudWatch Logs, which turns an EMF line into
//! metrics with no API call and no extra latency. The line is built here,
//! purely; the caller supplies the clock readings and writes it out.
//!
//! Every distinct metric is a CloudWatch custom metric, billed by the month
//! whatever the traffic (about $0.30 each), so by default a line declares at
//! most [`DEFAULT_METRICS`]: three counts by result, always, and two that
//! record exceptions, only in batches where they are not zero (a metric is
//! billed by the hour it receives data, so they cost nothing while nothing
//! goes wrong). `DETAILED_METRICS=on` adds the per-reason, byte and time
//! metrics. The batch's log line carries the counts by reason either way
//! (`reasons`), for a CloudWatch Logs Insights query (docs/operations.md).
//!
//! Metric names (namespace [`NAMESPACE`], dimension `FunctionName`):
//!
//! | name | unit | meaning |
//! |---|---|---|
//! | `RecordsOk`, `RecordsDropped`, `RecordsFailed` | Count | by result (default) |
//! | `Reingested` | Count | records that did not fit in the response, re-sent to the stream and answered `Dropped` (default, when not zero) |
//! | `IpNotAnonymized` | Count | `IP_FIELDS` values (list elements) of `Ok` records that `ANONYMIZE_IP` left alone: not IP addresses (default, when not zero) |
//! | `Records` | Count | records in the batch (detailed) |
//! | `Dropped<Reason>` | Count | `DroppedDomain`, `DroppedBot`, `DroppedNoConsent` (detailed) |
//! | `Failed<Reason>` | Count | `FailedBadBase64`, `FailedNotJson`, … one per reason code (detailed) |
//! | `SiteOther` | Count | `Ok` records partitioned as `site=other` (detailed) |
//! | `ReingestFailed` | Count | of the re-sent records, those whose re-send failed: `ProcessingFailed` instead (detailed) |
//! | `MovedToExtra` | Count | `Ok` records with members moved into `extra` (detailed) |
//! | `InputBytes`, `OutputBytes` | Bytes | decoded record bytes in and out (detailed) |
//! | `RequestBytes`, `ResponseBytes` | Bytes | the invocation's JSON in and out (detailed) |
//! | `ProcessingTime` | Milliseconds | from request bytes to response bytes (detailed; Lambda's own `Duration` is free) |
//!
//! With the `consent` enricher on, the line also carries a `Consent` member
//! that is not a metric (it is not declared under `CloudWatchMetrics`, so it
//! costs no custom metric; CloudWatch Logs Insights reads it): the batch's
//! records by `consent_status` and the `invalid` ones by reason, e.g.
//! `{"granted":40,"denied":3,"missing":5,"invalid":2,"gpc":0,"invalid_reasons":{"bad_base64":1,"truncated":1}}`.

use crate::batch::BatchReport;
use crate::record::{DropReason, FailReason};
use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "FirehoseEnricher";

/// `bad_base64` → `BadBase64`.
fn camel(code: &str) -> String {
    code.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect()
}

/// The metrics a line may declare without `DETAILED_METRICS`: at most five
/// custom metrics per function. `Reingested` and `IpNotAnonymized` only in
/// batches where they are not zero.
pub const DEFAULT_METRICS: [&str; 5] = [
    "RecordsOk",
    "RecordsDropped",
    "RecordsFailed",
    "Reingested",
    "IpNotAnonymized",
];

/// Every metric name with its unit, in the order they are written with
/// `DETAILED_METRICS=on`; without it, only those in [`DEFAULT_METRICS`].
pub fn metric_names() -> Vec<(String, &'static str)> {
    let mut names: Vec<(String, &'static str)> =
        ["Records", "RecordsOk", "RecordsDropped", "RecordsFailed"]
            .iter()
            .map(|n| (n.to_string(), "Count"))
            .collect();
    names.extend(
        DropReason::ALL
            .iter()
            .map(|r| (format!("Dropped{}", camel(r.code())), "Count")),
    );
    names.extend(
        FailReason::ALL
            .iter()
            .map(|r| (format!("Failed{}", camel(r.code())), "Count")),
    );
    names.push(("SiteOther".into(), "Count"));
    names.push(("Reingested".into(), "Count"));
    names.push(("ReingestFailed".into(), "Count"));
    names.push(("MovedToExtra".into(), "Count"));
    names.push(("IpNotAnonymized".into(), "Count"));
    for n in ["InputBytes", "OutputBytes", "RequestBytes", "ResponseBytes"] {
        names.push((n.into(), "Bytes"));
    }
    names.push(("ProcessingTime".into(), "Milliseconds"));
    names
}

/// The metrics one batch's line declares, with their values.
pub fn values(
    report: &BatchReport,
    processing_ms: f64,
    detailed: bool,
) -> Vec<(String, &'static str, Value)> {
    let mut values: Vec<Value> = vec![
        report.records.into(),
        report.ok.into(),
        report.dropped_total().into(),
        report.failed_total().into(),
    ];
    values.extend(report.dropped.iter().map(|&n| Value::from(n)));
    values.extend(report.failed.iter().map(|&n| Value::from(n)));
    values.push(report.site_other.into());
    values.push(report.reingested.into());
    values.push(report.reingest_failed.into());
    values.push(report.moved_to_extra.into());
    values.push(report.not_anonymized.into());
    values.extend(
        [
            report.input_bytes,
            report.output_bytes,
            report.request_bytes,
            report.response_bytes,
        ]
        .map(Value::from),
    );
    values.push(json!((processing_ms * 1000.0).round() / 1000.0));
    metric_names()
        .into_iter()
        .zip(values)
        .filter(|((name, _), value)| {
            detailed
                || match name.as_str() {
                    "Reingested" | "IpNotAnonymized" => value.as_u64() != Some(0),
                    other => DEFAULT_METRICS.contains(&other),
                }
        })
        .map(|((name, unit), value)| (name, unit, value))
        .collect()
}

/// The EMF line for one batch: the default metrics, or every one with
/// `detailed` (`DETAILED_METRICS=on`).
pub fn emf_line(
    report: &BatchReport,
    processing_ms: f64,
    timestamp_ms: i64,
    function_name: &str,
    detailed: bool,
) -> String {
    let metrics = values(report, processing_ms, detailed);
    let mut root = emf_root(timestamp_ms, function_name, metrics);
    if !report.consent.is_empty() {
        root.insert("Consent".into(), consent_counts(&report.consent));
    }
    if let Some(id) = &report.invocation_id {
        root.insert("invocationId".into(), id.as_str().into());
    }
    Value::Object(root).to_string()
}

/// What one collector request counted (`FUNCTION_ROLE=collector`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorCounts {
    /// Events delivered to the stream.
    pub accepted: usize,
    /// Events of a request answered one by one (`invalid_json`,
    /// `not_object`).
    pub rejected_events: usize,
    /// Requests refused whole: `413`,
    pub too_large: usize,
    /// `403`,
    pub origin: usize,
    /// `400` or `415` (no events, bad gzip, unsupported type or encoding).
    pub bad_request: usize,
    /// Events Firehose did not take, answered `503`.
    pub delivery_failed: usize,
}

/// The collector's metrics, few on purpose (each is a custom metric billed
/// monthly): name and meaning.
///
/// | name | unit | meaning |
/// |---|---|---|
/// | `Accepted` | Count | events delivered to the stream |
/// | `RejectedEvents` | Count | events answered as rejected (`invalid_json`, `not_object`) |
/// | `RejectedTooLarge` | Count | requests answered `413` |
/// | `RejectedOrigin` | Count | requests answered `403` |
/// | `RejectedBadRequest` | Count | requests answered `400` or `415` |
/// | `DeliveryFailed` | Count | events Firehose did not take, answered `503` |
pub const COLLECTOR_METRICS: [&str; 6] = [
    "Accepted",
    "RejectedEvents",
    "RejectedTooLarge",
    "RejectedOrigin",
    "RejectedBadRequest",
    "DeliveryFailed",
];

/// The EMF line for one collector request (namespace [`NAMESPACE`],
/// dimension `FunctionName`).
pub fn collector_emf_line(
    counts: &CollectorCounts,
    timestamp_ms: i64,
    function_name: &str,
) -> String {
    let values = [
        counts.accepted,
        counts.rejected_events,
        counts.too_large,
        counts.origin,
        counts.bad_request,
        counts.delivery_failed,
    ];
    let metrics = COLLECTOR_METRICS
        .iter()
        .zip(values)
        .map(|(name, v)| ((*name).to_owned(), "Count", v.into()))
        .collect();
    Value::Object(emf_root(timestamp_ms, function_name, metrics)).to_string()
}

/// An EMF document: the `_aws` block declaring `metrics` under
/// [`NAMESPACE`] with the `FunctionName` dimension, then the dimension's
/// value and each metric's value. The transform's and the collector's lines
/// share it, so both declare metrics the same way.
fn emf_root(
    timestamp_ms: i64,
    function_name: &str,
    metrics: Vec<(String, &'static str, Value)>,
) -> Map<String, Value> {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": metrics.iter().map(|(n, u, _)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        }),
    );
    root.insert("FunctionName".into(), function_name.into());
    for (name, _, v) in metrics {
        root.insert(name, v);
    }
    root
}

/// The `Consent` member: counts by status, and the invalid reasons seen.
fn consent_counts(counts: &crate::enrich::consent::Counts) -> Value {
    use crate::enrich::consent::{Invalid, Status};
    let mut o = Map::new();
    for (s, n) in Status::ALL.iter().zip(counts.status) {
        o.insert(s.code().into(), n.into());
    }
    let reasons: Map<String, Value> = Invalid::ALL
        .iter()
        .zip(counts.invalid)
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| (r.code().into(), n.into()))
        .collect();
    o.insert("invalid_reasons".into(), Value::Object(reasons));
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_line_is_valid_emf() {
        let counts = CollectorCounts {
            accepted: 7,
            rejected_events: 2,
            delivery_failed: 1,
            ..Default::default()
        };
        let line = collector_emf_line(&counts, 1_700_000_000_000, "c");
        let v: Value = serde_json::from_str(&line).unwrap();
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert_eq!(declared.len(), COLLECTOR_METRICS.len());
        for m in declared {
            assert!(v[m["Name"].as_str().unwrap()].is_number());
        }
        assert_eq!(v["Accepted"], 7);
        assert_eq!(v["RejectedEvents"], 2);
        assert_eq!(v["DeliveryFailed"], 1);
        assert_eq!(v["RejectedOrigin"], 0);
    }

    #[test]
    fn line_is_valid_emf_with_every_metric() {
        let mut report = BatchReport {
            records: 9,
            ok: 3,
            site_other: 1,
            reingested: 2,
            reingest_failed: 1,
            moved_to_extra: 2,
            input_bytes: 100,
            ..Default::default()
        };
        report.dropped[DropReason::Bot as usize] = 1;
        report.failed[FailReason::NotJson as usize] = 2;
        report.failed[FailReason::BadBase64 as usize] = 1;
        let line = emf_line(&report, 1.23456, 1_700_000_000_000, "fn", true);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert_eq!(declared.len(), metric_names().len());
        for m in declared {
            let name = m["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name} has no value");
        }
        assert_eq!(v["Records"], 9);
        assert_eq!(v["RecordsFailed"], 3);
        assert_eq!(v["Reingested"], 2);
        assert_eq!(v["ReingestFailed"], 1);
        assert_eq!(v["FailedNotJson"], 2);
        assert_eq!(v["FailedBadBase64"], 1);
        assert_eq!(v["DroppedBot"], 1);
        // Re-sent records are Dropped answers too.
        assert_eq!(v["RecordsDropped"], 3);
        assert_eq!(v["SiteOther"], 1);
        assert_eq!(v["MovedToExtra"], 2);
        assert_eq!(v["ProcessingTime"], 1.235);
        assert_eq!(v["FunctionName"], "fn");
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }

    /// Without `DETAILED_METRICS` a line declares at most the five default
    /// metrics, and the two exception counts only when they are not zero.
    #[test]
    fn default_lines_declare_at_most_five_metrics() {
        let declared = |report: &BatchReport| -> Vec<String> {
            let v: Value = serde_json::from_str(&emf_line(report, 1.0, 0, "fn", false)).unwrap();
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap().to_owned())
                .collect()
        };
        let quiet = BatchReport {
            records: 3,
            ok: 3,
            ..Default::default()
        };
        assert_eq!(
            declared(&quiet),
            ["RecordsOk", "RecordsDropped", "RecordsFailed"]
        );
        let mut busy = BatchReport {
            records: 9,
            ok: 3,
            reingested: 2,
            not_anonymized: 1,
            site_other: 1,
            ..Default::default()
        };
        busy.failed[FailReason::NotJson as usize] = 4;
        let names = declared(&busy);
        assert_eq!(names, DEFAULT_METRICS);
        assert!(DEFAULT_METRICS.len() <= 5);
        // Every default metric is one the detailed line declares too.
        for name in DEFAULT_METRICS {
            assert!(metric_names().iter().any(|(n, _)| n == name), "{name}");
        }
        let detailed = serde_json::from_str::<Value>(&emf_line(&busy, 1.0, 0, "fn", true)).unwrap();
        assert_eq!(detailed["FailedNotJson"], 4);
        assert_eq!(
            detailed["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            metric_names().len()
        );
    }

    /// Consent counts ride in the line as a plain member, not as metrics:
    /// one per reason would multiply the custom metrics billed.
    #[test]
    fn consent_counts_are_in_the_line_not_metrics() {
        use crate::enrich::consent::{Invalid, Note, Status};
        let mut report = BatchReport::default();
        let v: Value = serde_json::from_str(&emf_line(&report, 0.0, 0, "fn", true)).unwrap();
        assert!(v.get("Consent").is_none(), "absent without the enricher");
        report.consent.add(Note {
            status: Status::Granted,
            invalid: None,
        });
        for _ in 0..2 {
            report.consent.add(Note {
                status: Status::Invalid,
                invalid: Some(Invalid::Truncated),
            });
        }
        report.consent.add(Note {
            status: Status::Gpc,
            invalid: Some(Invalid::BadBase64),
        });
        let v: Value = serde_json::from_str(&emf_line(&report, 0.0, 0, "fn", true)).unwrap();
        assert_eq!(
            v["Consent"],
            json!({"granted":1,"denied":0,"missing":0,"invalid":2,"gpc":1,
                   "invalid_reasons":{"truncated":2,"bad_base64":1}})
        );
        let declared: Vec<&str> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert!(!declared.contains(&"Consent"), "{declared:?}");
        assert!(declared.contains(&"DroppedNoConsent"), "{declared:?}");
        // Without DETAILED_METRICS neither the member nor the reason adds a
        // metric: the default line stays within five.
        let v: Value = serde_json::from_str(&emf_line(&report, 0.0, 0, "fn", false)).unwrap();
        assert_eq!(v["Consent"]["gpc"], 1);
        let declared: Vec<&str> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert!(!declared.contains(&"DroppedNoConsent"), "{declared:?}");
        assert!(declared.len() <= 5, "{declared:?}");
    }

    #[test]
    fn names_are_camel_case() {
        assert_eq!(camel("bad_base64"), "BadBase64");
        assert_eq!(camel("not_utf8"), "NotUtf8");
        assert!(metric_names()
            .iter()
            .any(|(n, _)| n == "FailedResponseTooLarge"));
    }
}
