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
//! | `Dropped<Reason>` | Count | `DroppedDomain`, `DroppedBot`, `DroppedNoConsent` |
//! | `Failed<Reason>` | Count | `FailedBadBase64`, `FailedNotJson`, … one per reason code |
//! | `SiteOther` | Count | `Ok` records partitioned as `site=other` |
//! | `Reingested` | Count | records that did not fit in the response, re-sent to the stream and answered `Dropped` |
//! | `ReingestFailed` | Count | of those, records whose re-send failed: `ProcessingFailed` instead |
//! | `MovedToExtra` | Count | `Ok` records with members moved into `extra` |
//! | `IpNotAnonymized` | Count | `IP_FIELDS` values (list elements) of `Ok` records that `ANONYMIZE_IP` left alone: not IP addresses |
//! | `InputBytes`, `OutputBytes` | Bytes | decoded record bytes in and out |
//! | `RequestBytes`, `ResponseBytes` | Bytes | the invocation's JSON in and out |
//! | `ProcessingTime` | Milliseconds | from request bytes to response bytes |
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
    if !report.consent.is_empty() {
        root.insert("Consent".into(), consent_counts(&report.consent));
    }
    if let Some(id) = &report.invocation_id {
        root.insert("invocationId".into(), id.as_str().into());
    }
    Value::Object(root).to_string()
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

    /// Consent counts ride in the line as a plain member, not as metrics:
    /// one per reason would multiply the custom metrics billed.
    #[test]
    fn consent_counts_are_in_the_line_not_metrics() {
        use crate::enrich::consent::{Invalid, Note, Status};
        let mut report = BatchReport::default();
        let v: Value = serde_json::from_str(&emf_line(&report, 0.0, 0, "fn")).unwrap();
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
        let v: Value = serde_json::from_str(&emf_line(&report, 0.0, 0, "fn")).unwrap();
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
