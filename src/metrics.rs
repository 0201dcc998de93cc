//! Batch metrics as one CloudWatch Embedded Metric Format (EMF) log line.
//!
//! Lambda ships stdout to CloudWatch Logs, which turns an EMF line into
//! metrics with no API call and no extra latency. The line is built here,
//! purely; the caller supplies the clock readings and writes it out.
//!
//! Metric names (namespace [`NAMESPACE`], dimension `FunctionName`):
//!
//! | name | unit | meaning |
//! |---|---|---|
//! | `Records` | Count | records in the batch |
//! | `RecordsOk`, `RecordsDropped`, `RecordsFailed` | Count | by result |
//! | `Dropped<Reason>` | Count | `DroppedDomain`, `DroppedBot` |
//! | `Failed<Reason>` | Count | `FailedBadBase64`, `FailedNotJson`, … one per reason code |
//! | `SiteOther` | Count | `Ok` records partitioned as `site=other` |
//! | `Reingested` | Count | records that did not fit in the response, re-sent to the stream and answered `Dropped` |
//! | `ReingestFailed` | Count | of those, records whose re-send failed: `ProcessingFailed` instead |
//! | `MovedToExtra` | Count | `Ok` records with members moved into `extra` |
//! | `IpNotAnonymized` | Count | `IP_FIELDS` values (list elements) of `Ok` records that `ANONYMIZE_IP` left alone: not IP addresses |
//! | `InputBytes`, `OutputBytes` | Bytes | decoded record bytes in and out |
//! | `RequestBytes`, `ResponseBytes` | Bytes | the invocation's JSON in and out |
//! | `ProcessingTime` | Milliseconds | from request bytes to response bytes |

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

/// Every metric name with its unit, in the order they are written.
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

/// The EMF line for one batch.
pub fn emf_line(
    report: &BatchReport,
    processing_ms: f64,
    timestamp_ms: i64,
    function_name: &str,
) -> String {
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

    let names = metric_names();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": names.iter().map(|(n, u)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        }),
    );
    root.insert("FunctionName".into(), function_name.into());
    for ((name, _), v) in names.into_iter().zip(values) {
        root.insert(name, v);
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
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": COLLECTOR_METRICS.iter().map(|n| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        }),
    );
    root.insert("FunctionName".into(), function_name.into());
    for (name, v) in COLLECTOR_METRICS.iter().zip(values) {
        root.insert((*name).into(), v.into());
    }
    Value::Object(root).to_string()
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
        let line = emf_line(&report, 1.23456, 1_700_000_000_000, "fn");
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

    #[test]
    fn names_are_camel_case() {
        assert_eq!(camel("bad_base64"), "BadBase64");
        assert_eq!(camel("not_utf8"), "NotUtf8");
        assert!(metric_names()
            .iter()
            .any(|(n, _)| n == "FailedResponseTooLarge"));
    }
}
