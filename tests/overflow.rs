//! What does not fit in the response: re-sent and `Dropped`
//! ([`Overflow::Reingest`]), or failed with the data echoed
//! ([`Overflow::Fail`]), and [`batch::settle`] for re-sends that failed.
//! Every record ends up exactly once: `Ok` in the response, in the re-send
//! list with its original bytes, or `ProcessingFailed` with its data.

mod common;

use common::{check_invariants, request};
use firehose_enricher::batch::{self, Overflow, Processed};
use firehose_enricher::record::FailReason;
use firehose_enricher::Config;
use serde_json::{json, Value};

/// `n` small events, one of them (`bad_at`) not JSON, so that failed records
/// stay failed and are never re-sent.
fn events(n: usize, bad_at: Option<usize>) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| match bad_at {
            Some(b) if b == i => b"not json".to_vec(),
            _ => format!(
                r#"{{"ts":1795770900,"url":"https://s{}.example.com/p/{i:05}","sid":"s-{i:06}"}}"#,
                i % 5
            )
            .into_bytes(),
        })
        .collect()
}

fn request_of(events: &[Vec<u8>]) -> Vec<u8> {
    let arrival = json!(1_795_770_902_000i64);
    let records: Vec<(&[u8], Value)> = events.iter().map(|e| (&e[..], arrival.clone())).collect();
    request(&records)
}

fn results(p: &Processed) -> Vec<String> {
    let v: Value = serde_json::from_slice(p.response.as_bytes()).unwrap();
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap().to_owned())
        .collect()
}

fn with_limit(limit: usize) -> Config {
    let mut c = Config::default();
    c.max_response_bytes = limit;
    c
}

#[test]
fn overflow_is_resent_or_failed_never_both_never_lost() {
    // (case, events, bad record, response limit)
    let cases: &[(&str, usize, Option<usize>, usize)] = &[
        // --- edges ---
        ("everything fits", 20, None, 6_000_000),
        ("one record that fits", 1, None, 1_000),
        // Every record failed takes 3,141 bytes.
        ("just room for every record failed", 20, None, 3_150),
        ("room for a few", 20, None, 4_000),
        ("a failed record before the cut", 20, Some(2), 5_000),
        ("a failed record after the cut", 20, Some(17), 5_000),
        // --- ordinary ---
        ("a third overflows", 60, None, 20_000),
        ("most overflow", 300, Some(150), 60_000),
    ];
    let mut bad_past_budget = 0;
    for (name, n, bad, limit) in cases {
        let events = events(*n, *bad);
        let req = request_of(&events);
        let cfg = with_limit(*limit);
        let failing = batch::process_overflow(&req, &cfg, Overflow::Fail).unwrap();
        let p = batch::process_overflow(&req, &cfg, Overflow::Reingest).unwrap();
        assert!(p.response.len() <= *limit, "{name}");
        assert!(failing.response.len() <= *limit, "{name}");
        check_invariants(
            &serde_json::from_slice(&req).unwrap(),
            &serde_json::from_slice(p.response.as_bytes()).unwrap(),
        );
        let got = results(&p);
        // Re-sent records are answered Dropped, carry their original bytes,
        // and come after every Ok record (the earliest are delivered).
        let resent: Vec<usize> = p.reingest.iter().map(|r| r.index).collect();
        for r in &p.reingest {
            assert_eq!(got[r.index], "Dropped", "{name}");
            assert_eq!(r.data, events[r.index], "{name}: {}", r.index);
        }
        if let (Some(first), Some(last_ok)) = (resent.first(), got.iter().rposition(|r| r == "Ok"))
        {
            assert!(last_ok < *first, "{name}");
        }
        // The bad record fails where it is transformed. Past the response
        // budget it is not transformed: re-sent with its bytes like its
        // neighbours, it fails when it comes back. Failing, it fails either
        // way, its data echoed.
        if let Some(b) = bad {
            let past_budget = resent.first().is_some_and(|first| first < b);
            bad_past_budget += usize::from(past_budget);
            let want = if past_budget {
                "Dropped"
            } else {
                "ProcessingFailed"
            };
            assert_eq!(got[*b], want, "{name}");
            assert_eq!(resent.contains(b), past_budget, "{name}");
            assert_eq!(results(&failing)[*b], "ProcessingFailed", "{name}");
        }
        // Counts.
        let r = &p.report;
        assert_eq!(r.reingested, resent.len(), "{name}");
        assert_eq!(r.overflow, resent.len(), "{name}");
        assert_eq!(r.failed_count(FailReason::ResponseTooLarge), 0, "{name}");
        assert_eq!(r.ok + r.dropped_total() + r.failed_total(), *n, "{name}");
        // Failing instead echoes the data, so at least as many overflow;
        // and it says how many re-ingestion would have re-sent.
        let demoted = failing.report.failed_count(FailReason::ResponseTooLarge);
        assert!(
            demoted >= resent.len(),
            "{name}: {demoted} < {}",
            resent.len()
        );
        assert_eq!(failing.report.overflow, resent.len(), "{name}");
        assert_eq!(failing.report.reingested, 0, "{name}");
        assert!(failing.reingest.is_empty(), "{name}");
    }
    // Not a dead table: a bad record fell past the budget, some cases
    // overflow, and re-ingestion saves records that failing would not.
    assert!(bad_past_budget > 0);
    let events = events(300, Some(150));
    let req = request_of(&events);
    let cfg = with_limit(60_000);
    let p = batch::process_overflow(&req, &cfg, Overflow::Reingest).unwrap();
    let f = batch::process(&req, &cfg).unwrap();
    assert!(
        p.report.ok > f.report.ok,
        "{} vs {}",
        p.report.ok,
        f.report.ok
    );
}

#[test]
fn settle_fails_what_could_not_be_sent() {
    let events = events(60, Some(3));
    let req = request_of(&events);
    let cfg = with_limit(12_000);
    let p = batch::process_overflow(&req, &cfg, Overflow::Reingest).unwrap();
    let resent: Vec<usize> = p.reingest.iter().map(|r| r.index).collect();
    assert!(resent.len() >= 6, "{}", resent.len());
    let request_data: Vec<Value> = serde_json::from_slice::<Value>(&req).unwrap()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"].clone())
        .collect();
    // (case, positions in `resent` that were sent)
    let cases: &[(&str, &[usize])] = &[
        ("all sent", &[0, 1, 2, 3, 4, 5]),
        ("none sent", &[]),
        ("every other one", &[0, 2, 4]),
        ("only the last", &[5]),
    ];
    for (name, sent_at) in cases {
        let n = 6.min(resent.len());
        let sent: Vec<usize> = sent_at.iter().map(|&k| resent[k]).collect();
        let unsent: Vec<usize> = (0..n)
            .filter(|k| !sent_at.contains(k))
            .map(|k| resent[k])
            .chain(resent[n..].iter().copied())
            .collect();
        let s = batch::settle(&req, &cfg, &sent, &unsent).unwrap();
        assert!(s.response.len() <= 12_000, "{name}");
        assert!(s.reingest.is_empty(), "{name}");
        let response: Value = serde_json::from_slice(s.response.as_bytes()).unwrap();
        check_invariants(&serde_json::from_slice(&req).unwrap(), &response);
        let got = results(&s);
        for &i in &sent {
            assert_eq!(got[i], "Dropped", "{name}: sent {i}");
        }
        for &i in &unsent {
            assert_eq!(got[i], "ProcessingFailed", "{name}: unsent {i}");
            // The data echoed byte for byte: nothing is lost.
            assert_eq!(response["records"][i]["data"], request_data[i], "{name}");
        }
        // Records answered Ok before are Ok or, when echoing pushed the
        // response over the limit, failed; never Dropped (not sent).
        let before = results(&p);
        for (i, (was, now)) in before.iter().zip(&got).enumerate() {
            if was == "Ok" {
                assert!(
                    now == "Ok" || now == "ProcessingFailed",
                    "{name}: {i} {now}"
                );
            }
        }
        let r = &s.report;
        assert_eq!(r.reingested, sent.len(), "{name}");
        assert_eq!(r.reingest_failed, unsent.len(), "{name}");
        assert!(
            r.failed_count(FailReason::ResponseTooLarge) >= unsent.len(),
            "{name}"
        );
        assert_eq!(r.ok + r.dropped_total() + r.failed_total(), 60, "{name}");
    }
}
