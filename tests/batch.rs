//! The request/response contract, at the batch level.

mod common;

use common::{b64, check_invariants, ok_json, request, ARRIVAL_MS};
use firehose_enricher::batch::{process, RequestError};
use firehose_enricher::record::FailReason;
use firehose_enricher::Config;
use serde_json::{json, Value};

fn run(request: &[u8]) -> (Value, firehose_enricher::batch::BatchReport) {
    let out = process(request, &Config::default()).expect("a valid request");
    let response: Value =
        serde_json::from_slice(out.response.as_bytes()).expect("the response is JSON");
    let req: Value = serde_json::from_slice(request).unwrap();
    check_invariants(&req, &response);
    (response, out.report)
}

#[test]
fn malformed_requests_get_a_clear_error() {
    let cases: &[(&str, &str)] = &[
        ("", "EOF"),
        ("   ", "EOF"),
        ("not json", "expected"),
        ("[]", "expected a JSON object"),
        ("\"records\"", "expected a JSON object"),
        // serde's derived structs would take arrays of field values
        (
            r#"["x",[["r1",1795770902000,"e30="]]]"#,
            "expected a JSON object",
        ),
        (
            r#"{"records":[["r1",1795770902000,"e30="]]}"#,
            "expected a JSON object",
        ),
        ("{}", "missing field `records`"),
        (r#"{"records":null}"#, "expected a sequence"),
        (r#"{"records":{}}"#, "expected a sequence"),
        (r#"{"records":[1]}"#, "expected a JSON object"),
        (r#"{"records":[{}]}"#, "missing field `recordId`"),
        (
            r#"{"records":[{"data":"e30="}]}"#,
            "missing field `recordId`",
        ),
        (
            r#"{"records":[{"recordId":1,"data":"e30="}]}"#,
            "records[0].recordId is not a string",
        ),
        (
            r#"{"records":[{"recordId":null}]}"#,
            "records[0].recordId is not a string",
        ),
        (r#"{"records":[]} trailing"#, "trailing characters"),
        // A record that cannot be answered by its id fails the request.
        (
            r#"{"records":[{"recordId":"a","recordId":"b","data":"e30="}]}"#,
            "duplicate field `recordId`",
        ),
        (
            r#"{"records":[{"recordId":"a","data":"e30=","record\u0049d":"a"}]}"#,
            "duplicate field `recordId`",
        ),
    ];
    for (input, want) in cases {
        let err = process(input.as_bytes(), &Config::default()).expect_err(input);
        assert!(matches!(err, RequestError::Invalid(_)), "{input}");
        assert_eq!(err.error_type(), "InvalidFirehoseRequest");
        let msg = err.to_string();
        assert!(
            msg.starts_with("not a Firehose transformation request: "),
            "{msg}"
        );
        assert!(msg.contains(want), "{input}: {msg}");
    }
}

#[test]
fn empty_batch() {
    let out = process(br#"{"invocationId":"x","records":[]}"#, &Config::default()).unwrap();
    assert_eq!(out.response, r#"{"records":[]}"#);
    assert_eq!(out.report.records, 0);
    assert_eq!(out.report.invocation_id.as_deref(), Some("x"));
}

/// Records are parsed one by one: an odd record fails alone.
#[test]
fn lenient_record_parsing() {
    let good = b64(br#"{"ts":1795770900,"url":"https://a.example.com/"}"#);
    let req = json!({"records": [
        {"recordId": "bad-b64", "approximateArrivalTimestamp": ARRIVAL_MS, "data": "%%%"},
        {"recordId": "b64-no-padding", "approximateArrivalTimestamp": ARRIVAL_MS, "data": "e30"},
        {"recordId": "data-null", "approximateArrivalTimestamp": ARRIVAL_MS, "data": null},
        {"recordId": "data-number", "approximateArrivalTimestamp": ARRIVAL_MS, "data": 42},
        {"recordId": "no-data", "approximateArrivalTimestamp": ARRIVAL_MS},
        {"recordId": "no-arrival", "data": good},
        {"recordId": "arrival-garbage", "approximateArrivalTimestamp": "soon", "data": good},
        {"recordId": "arrival-object", "approximateArrivalTimestamp": {}, "data": good},
        {"recordId": "arrival-nan", "approximateArrivalTimestamp": "NaN", "data": good},
        {"recordId": "arrival-huge", "approximateArrivalTimestamp": 1e300, "data": good},
        {"recordId": "arrival-fraction", "approximateArrivalTimestamp": 1_795_770_902_000.75, "data": good},
        {"recordId": "arrival-string", "approximateArrivalTimestamp": "1795770902000", "data": good},
        {"recordId": "arrival-exponent", "approximateArrivalTimestamp": 1.795770902e12, "data": good},
        {"recordId": "unknown-fields", "approximateArrivalTimestamp": ARRIVAL_MS, "data": good, "extra": [1, {"x": null}],
         "kinesisRecordMetadata": {"shardId": "s", "partitionKey": "p", "approximateArrivalTimestamp": 1.5, "sequenceNumber": "1", "subsequenceNumber": 0}},
        {"recordId": "escaped-slash", "approximateArrivalTimestamp": ARRIVAL_MS, "data": "SLASH"},
    ]});
    // JSON may escape `/`, which base64 uses: `\/` must still decode.
    // (`{"o":"?>?"}` encodes as eyJvIjoiPz4/In0=.)
    let text = serde_json::to_string(&req)
        .unwrap()
        .replace("SLASH", r"eyJvIjoiPz4\/In0=");
    let bytes = text.into_bytes();
    let (res, report) = run(&bytes);
    let results: Vec<(&str, &str)> = res["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["recordId"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        vec![
            ("bad-b64", "ProcessingFailed"),
            ("b64-no-padding", "ProcessingFailed"),
            ("data-null", "ProcessingFailed"),
            ("data-number", "ProcessingFailed"),
            ("no-data", "ProcessingFailed"),
            ("no-arrival", "ProcessingFailed"),
            ("arrival-garbage", "ProcessingFailed"),
            ("arrival-object", "ProcessingFailed"),
            ("arrival-nan", "ProcessingFailed"),
            ("arrival-huge", "ProcessingFailed"),
            ("arrival-fraction", "Ok"),
            ("arrival-string", "Ok"),
            ("arrival-exponent", "Ok"),
            ("unknown-fields", "Ok"),
            ("escaped-slash", "Ok"),
        ]
    );
    let reasons: Vec<(&str, FailReason)> = report
        .failures
        .iter()
        .map(|(id, r)| (id.as_str(), *r))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("bad-b64", FailReason::BadBase64),
            ("b64-no-padding", FailReason::BadBase64),
            ("data-null", FailReason::MissingData),
            ("data-number", FailReason::MissingData),
            ("no-data", FailReason::MissingData),
            ("no-arrival", FailReason::BadArrivalTime),
            ("arrival-garbage", FailReason::BadArrivalTime),
            ("arrival-object", FailReason::BadArrivalTime),
            ("arrival-nan", FailReason::BadArrivalTime),
            ("arrival-huge", FailReason::BadArrivalTime),
        ]
    );
    assert_eq!(
        (report.ok, report.failed_total(), report.records),
        (5, 10, 15)
    );
    assert_eq!(
        ok_json(&res["records"][10])["received_at"],
        "2026-11-27 09:15:02.000"
    );
    assert_eq!(
        ok_json(&res["records"][11])["received_at"],
        "2026-11-27 09:15:02.000"
    );
    // A number `data` cannot be echoed as a string: it comes back empty.
    assert_eq!(res["records"][3]["data"], "");
}

/// A member given twice in one request record fails that record alone,
/// echoing the last `data` byte for byte (what JSON parsers that allow
/// duplicates keep); the other records are processed.
#[test]
fn duplicated_members_fail_their_record_alone() {
    let good = b64(br#"{"ts":1795770900,"url":"https://a.example.com/"}"#);
    let other = b64(br#"{"url":"https://b.example.com/"}"#);
    let a = ARRIVAL_MS;
    let records = [
        format!(
            r#"{{"recordId":"data-twice","approximateArrivalTimestamp":{a},"data":"{good}","data":"{other}"}}"#
        ),
        format!(
            r#"{{"recordId":"data-twice-same","approximateArrivalTimestamp":{a},"data":"{good}","data":"{good}"}}"#
        ),
        format!(
            r#"{{"recordId":"data-twice-escaped","approximateArrivalTimestamp":{a},"data":"{good}","\u0064ata":"{other}"}}"#
        ),
        format!(
            r#"{{"recordId":"arrival-twice","approximateArrivalTimestamp":{a},"approximateArrivalTimestamp":{a},"data":"{good}"}}"#
        ),
        format!(
            r#"{{"recordId":"both-twice","approximateArrivalTimestamp":1,"data":"{good}","approximateArrivalTimestamp":2,"data":"x"}}"#
        ),
        format!(
            r#"{{"recordId":"unknown-twice","approximateArrivalTimestamp":{a},"data":"{good}","x":1,"x":2}}"#
        ),
        format!(r#"{{"recordId":"fine","approximateArrivalTimestamp":{a},"data":"{good}"}}"#),
    ];
    let request = format!(r#"{{"records":[{}]}}"#, records.join(","));
    let (res, report) = run(request.as_bytes());
    let got: Vec<(&str, &str, &str)> = res["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let result = r["result"].as_str().unwrap();
            let data = if result == "Ok" {
                ""
            } else {
                r["data"].as_str().unwrap()
            };
            (r["recordId"].as_str().unwrap(), result, data)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("data-twice", "ProcessingFailed", other.as_str()),
            ("data-twice-same", "ProcessingFailed", good.as_str()),
            ("data-twice-escaped", "ProcessingFailed", other.as_str()),
            ("arrival-twice", "ProcessingFailed", good.as_str()),
            ("both-twice", "ProcessingFailed", "x"),
            ("unknown-twice", "Ok", ""),
            ("fine", "Ok", ""),
        ]
    );
    let reasons: Vec<(&str, FailReason)> = report
        .failures
        .iter()
        .map(|(id, r)| (id.as_str(), *r))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("data-twice", FailReason::MissingData),
            ("data-twice-same", FailReason::MissingData),
            ("data-twice-escaped", FailReason::MissingData),
            ("arrival-twice", FailReason::BadArrivalTime),
            ("both-twice", FailReason::MissingData),
        ]
    );
}

#[test]
fn response_shape_per_result() {
    let config =
        Config::from_lookup(|n| (n == "DROP_DOMAINS").then(|| "localhost".to_string())).unwrap();
    let req = request(&[
        (br#"{"url":"https://www.example.com/"}"#, json!(ARRIVAL_MS)),
        (br#"{"url":"http://localhost/"}"#, json!(ARRIVAL_MS)),
        (b"[1]", json!(ARRIVAL_MS)),
    ]);
    let out = process(&req, &config).unwrap();
    let res: Value = serde_json::from_slice(out.response.as_bytes()).unwrap();
    let r = res["records"].as_array().unwrap();
    // Ok: data and partition keys.
    assert_eq!(
        r[0]["metadata"]["partitionKeys"],
        json!({"site": "example.com", "dt": "2026-11-27", "hour": "09"})
    );
    // Dropped: empty data (Firehose discards it) and no keys.
    assert_eq!(
        r[1],
        json!({"recordId": "r1", "result": "Dropped", "data": ""})
    );
    // ProcessingFailed: the data as it came, no keys.
    assert_eq!(
        r[2],
        json!({"recordId": "r2", "result": "ProcessingFailed", "data": b64(b"[1]")})
    );
    assert_eq!(out.report.dropped_total(), 1);
    assert_eq!(out.report.failed_count(FailReason::NotObject), 1);
    assert_eq!(out.report.response_bytes, out.response.len());
    assert_eq!(out.report.request_bytes, req.len());
    let decoded =
        r#"{"url":"https://www.example.com/"}"#.len() + r#"{"url":"http://localhost/"}"#.len() + 3;
    assert_eq!(out.report.input_bytes, decoded);
}

/// The record id goes back exactly as it came, escapes and all.
#[test]
fn record_ids_are_echoed_verbatim() {
    let ids = [
        r#""plain""#,
        r#""with \"quotes\" and \\ and \u00e9""#,
        r#""""#,
        r#""\ud83d\ude00""#,
    ];
    for id in ids {
        let req = format!(
            r#"{{"records":[{{"recordId":{id},"approximateArrivalTimestamp":{ARRIVAL_MS},"data":"e30="}}]}}"#
        );
        let out = process(req.as_bytes(), &Config::default()).unwrap();
        let text = out.response;
        assert!(
            text.starts_with(&format!(r#"{{"records":[{{"recordId":{id},"result":"Ok""#)),
            "{text}"
        );
    }
}

/// Every record id of the request comes back exactly once, even repeated
/// ones (Firehose never sends them, but the response must still mirror the
/// request one for one).
#[test]
fn ids_exactly_once_in_order() {
    let mut records = Vec::new();
    for i in 0..500 {
        let data: &[u8] = match i % 5 {
            0 => b"{}",
            1 => b"not json",
            2 => b"",
            3 => br#"{"url":"https://x.example.com/","ts":1795770900}"#,
            _ => b"[1]",
        };
        records.push((data, json!(ARRIVAL_MS)));
    }
    let (res, report) = run(&request(&records));
    assert_eq!(res["records"].as_array().unwrap().len(), 500);
    assert_eq!(
        report.ok + report.failed_total() + report.dropped_total(),
        500
    );
    assert_eq!(report.ok, 200);
}

/// A member given twice fails that record alone, its last `data` echoed
/// byte for byte (the one JSON parsers that allow duplicates keep); the
/// other records are processed.
#[test]
fn a_duplicated_member_fails_its_record_alone() {
    let good = format!(r#""approximateArrivalTimestamp":{ARRIVAL_MS},"data":"e30=""#);
    let cases: &[(&str, Option<FailReason>, &str)] = &[
        // (members after recordId, failure, data echoed)
        // --- edge cases ---
        (
            r#""data":"e30=","data":"e30=""#,
            Some(FailReason::MissingData),
            r#""e30=""#,
        ),
        (
            r#""data":"eyJhIjoxfQ==","data":"e30=""#,
            Some(FailReason::MissingData),
            r#""e30=""#,
        ),
        (
            r#""data":"e30=","data":"eyJhIjoxfQ==""#,
            Some(FailReason::MissingData),
            r#""eyJhIjoxfQ==""#,
        ),
        (
            r#""data":"e30=","d\u0061ta":"e30=""#,
            Some(FailReason::MissingData),
            r#""e30=""#,
        ),
        (
            r#""data":null,"data":"e30=""#,
            Some(FailReason::MissingData),
            r#""e30=""#,
        ),
        (
            r#""data":"e30=","data":null"#,
            Some(FailReason::MissingData),
            r#""""#,
        ),
        (
            &format!(
                r#""approximateArrivalTimestamp":{ARRIVAL_MS},"approximateArrivalTimestamp":{ARRIVAL_MS},"data":"e30=""#
            ),
            Some(FailReason::BadArrivalTime),
            r#""e30=""#,
        ),
        (
            &format!(
                r#""data":"e30=","data":"e30=","approximateArrivalTimestamp":1,"approximateArrivalTimestamp":{ARRIVAL_MS}"#
            ),
            Some(FailReason::MissingData),
            r#""e30=""#,
        ),
        // Unknown members may repeat: they are not read.
        (&format!(r#"{good},"extra":1,"extra":2"#), None, ""),
        // A lone surrogate escape in a member name is valid JSON text.
        (&format!(r#"{good},"\ud800":1"#), None, ""),
        (&format!(r#""\udc00x":[],{good}"#), None, ""),
        // --- the plain case ---
        (&good, None, ""),
    ];
    for (members, failure, echoed) in cases {
        let req = format!(
            r#"{{"records":[{{"recordId":"before",{good}}},{{"recordId":"it",{members}}},{{"recordId":"after",{good}}}]}}"#
        );
        let out = process(req.as_bytes(), &Config::default()).expect(&req);
        let res: Value = serde_json::from_slice(out.response.as_bytes()).unwrap();
        let results: Vec<&str> = res["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["result"].as_str().unwrap())
            .collect();
        let want = if failure.is_some() {
            "ProcessingFailed"
        } else {
            "Ok"
        };
        assert_eq!(results, ["Ok", want, "Ok"], "{members}");
        let reasons: Vec<FailReason> = out.report.failures.iter().map(|(_, r)| *r).collect();
        assert_eq!(
            reasons,
            failure.iter().copied().collect::<Vec<_>>(),
            "{members}"
        );
        if failure.is_some() {
            let text = out.response;
            let want =
                format!(r#"{{"recordId":"it","result":"ProcessingFailed","data":{echoed}}}"#);
            assert!(text.contains(&want), "{members}: {text}");
        }
    }
}

/// JSON text is UTF-8 (RFC 8259, section 8.1) and its strings hold no raw
/// control character (section 7): a member name that breaks either, in the
/// request or one of its records, makes the request malformed, as such
/// bytes in a string value do; escaped lone surrogates and control
/// characters are still accepted.
#[test]
fn member_names_must_be_json_strings() {
    let record =
        format!(r#""recordId":"r","approximateArrivalTimestamp":{ARRIVAL_MS},"data":"e30=""#);
    let request = |before: &[u8], name: &[u8]| -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(b"{");
        r.extend_from_slice(before);
        r.extend_from_slice(b"\"");
        r.extend_from_slice(name);
        r.extend_from_slice(b"\":1,\"records\":[{");
        r.extend_from_slice(record.as_bytes());
        r.extend_from_slice(b"}]}");
        r
    };
    let in_record = |name: &[u8]| -> Vec<u8> {
        let mut r = b"{\"records\":[{\"".to_vec();
        r.extend_from_slice(name);
        r.extend_from_slice(b"\":1,");
        r.extend_from_slice(record.as_bytes());
        r.extend_from_slice(b"}]}");
        r
    };
    let cases: Vec<(Vec<u8>, bool)> = vec![
        // --- edge cases: not UTF-8 ---
        (request(b"", b"invocation\x94Id"), false),
        (request(b"", b"\xff"), false),
        (request(b"\"invocationId\":\"i\",", b"\xc3"), false),
        // A surrogate's three bytes as they are: not UTF-8, unlike its escape.
        (request(b"", b"\xed\xa0\x80"), false),
        // Escaped (so unescaped by serde_json), with a raw bad byte after.
        (request(b"", b"\\u0041\x94"), false),
        (request(b"", b"\\ud800\xff"), false),
        (in_record(b"da\xfeta"), false),
        (in_record(b"\\u0064\x80"), false),
        // A raw control character, which JSON strings may not hold.
        (request(b"", b"delivery\x00Arn"), false),
        (in_record(b"\x1f"), false),
        // --- UTF-8, escaped lone surrogates included ---
        (request(b"", "\\ud800é".as_bytes()), true),
        (request(b"", "日本".as_bytes()), true),
        (request(b"", b"\\udc00\\ud800x"), true),
        (in_record("é\\ud800".as_bytes()), true),
        // An escaped control character is valid.
        (request(b"", b"\\u0000\\u001f"), true),
        // The ends of printable ASCII, which need no UTF-8 check.
        (request(b"", b"del\x7f ete"), true),
        (in_record(b" "), true),
        (in_record(b"\x7f\x1f"), false),
        // --- the plain case ---
        (request(b"", b"extra"), true),
    ];
    for (req, answered) in cases {
        let got = process(&req, &Config::default());
        let shown = String::from_utf8_lossy(&req);
        match got {
            Ok(out) => {
                assert!(answered, "{shown}: answered {}", out.response);
                assert!(out.response.contains(r#""result":"Ok""#), "{shown}");
            }
            Err(e) => {
                assert!(!answered, "{shown}: {e}");
                let e = e.to_string();
                assert!(
                    e.contains("not UTF-8") || e.contains("control character"),
                    "{shown}: {e}"
                );
            }
        }
    }
}

/// A lone surrogate escape in a member name is valid JSON text (RFC 8259's
/// grammar): unknown members so named are passed over, in the request as in
/// its records, and a duplicated known member is still caught.
#[test]
fn member_names_with_lone_surrogates_are_valid_json() {
    let record =
        format!(r#"{{"recordId":"r","approximateArrivalTimestamp":{ARRIVAL_MS},"data":"e30="}}"#);
    let cases: &[(String, Result<&str, &str>)] = &[
        // --- edge cases ---
        (format!(r#"{{"\ud800":1,"records":[{record}]}}"#), Ok("Ok")),
        (format!(r#"{{"records":[{record}],"\udc00":[]}}"#), Ok("Ok")),
        (
            format!(r#"{{"invocationId":"i","\ud800\ud800":{{}},"records":[{record}]}}"#),
            Ok("Ok"),
        ),
        (
            format!(r#"{{"records":[{record}],"records":[]}}"#),
            Err("duplicate field `records`"),
        ),
        (
            r#"{"invocationId":"i","invocationId":"j","records":[]}"#.to_owned(),
            Err("duplicate field `invocationId`"),
        ),
        (r#"{"\ud800":1}"#.to_owned(), Err("missing field `records`")),
        // --- the plain case ---
        (
            format!(r#"{{"invocationId":"i","records":[{record}]}}"#),
            Ok("Ok"),
        ),
    ];
    for (req, want) in cases {
        let got = process(req.as_bytes(), &Config::default());
        match (got, want) {
            (Ok(out), Ok(result)) => {
                let text = out.response;
                assert!(
                    text.contains(&format!(r#""result":"{result}""#)),
                    "{req}: {text}"
                );
            }
            (Err(e), Err(message)) => assert!(e.to_string().contains(message), "{req}: {e}"),
            (got, _) => panic!("{req}: {got:?}"),
        }
    }
}

/// With `Layout=DateSite` the table's `site` is the partition column, so a
/// record partitioned as `other` keeps its real site in `extra`, in JSON
/// and in Parquet mode (`COLUMNS` set) alike.
#[test]
fn records_partitioned_as_other_keep_their_site_in_extra() {
    let columns = r#"[{"name":"event_time","type":"timestamp"},{"name":"site","type":"string"},{"name":"extra","type":"string"}]"#;
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Value);
    let cases: &[Case] = &[
        // --- edge cases first: the input's own `extra` in JSON mode moves
        // under its own key, the function's `extra` gains the site ---
        (
            &[("SITE_ALLOWLIST", "a.com")],
            r#"{"url":"https://b.org/","extra":7}"#,
            json!({"extra": 7, "site": "b.org"}),
        ),
        (
            &[("SITE_ALLOWLIST", "a.com"), ("COLUMNS", columns)],
            r#"{"url":"https://www.b.org/","plan":"pro"}"#,
            json!({"url": "https://www.b.org/", "plan": "pro", "site": "b.org"}),
        ),
        (
            &[("MAX_SITES_PER_BATCH", "1")],
            r#"{"url":"https://c.net/"}"#,
            json!({"site": "c.net"}),
        ),
    ];
    for (vars, event, want_extra) in cases {
        let config = Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        let first: &[u8] = br#"{"url":"https://a.com/"}"#;
        let req = request(&[
            (first, json!(ARRIVAL_MS)),
            (event.as_bytes(), json!(ARRIVAL_MS)),
        ]);
        let out = process(&req, &config).unwrap();
        let response: Value = serde_json::from_slice(out.response.as_bytes()).unwrap();
        // (No check_invariants: an input `extra` moving is the point here.)
        let [kept, other] = [&response["records"][0], &response["records"][1]];
        assert_eq!(kept["metadata"]["partitionKeys"]["site"], "a.com");
        let kept_extra = ok_json(kept)["extra"].as_str().unwrap_or("").to_owned();
        assert!(!kept_extra.contains("\"site\""), "{vars:?}: {kept_extra}");
        assert_eq!(other["metadata"]["partitionKeys"]["site"], "other");
        let record = ok_json(other);
        let extra: Value = serde_json::from_str(record["extra"].as_str().unwrap()).unwrap();
        assert_eq!(&extra, want_extra, "{vars:?} {event}");
        assert_eq!(out.report.site_other, 1);
    }
}
