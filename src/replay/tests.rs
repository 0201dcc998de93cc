use super::*;
use crate::batch::BatchReport;
use crate::partition::PartitionKeys;
use crate::record::FailReason;
use std::collections::HashMap;
use std::fmt::Write;

// The reference route for the tests: events as a Firehose request, and
// [`invoke_batch`]'s answers as owned outcomes.

/// What the function made of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The enriched line (ending in `\n`) and its partition keys.
    Ok {
        line: Vec<u8>,
        keys: PartitionKeys,
    },
    Dropped,
    Failed(FailReason),
}

/// A Firehose transformation request for `events`; record ids are their
/// indexes. [`invoke`] must answer as [`batch::process`] answers this
/// request.
fn request(events: &[Event], invocation_id: &str) -> Vec<u8> {
    let size: usize = events.iter().map(|e| e.data.len() / 3 * 4 + 80).sum();
    let mut out = Vec::with_capacity(size + 256);
    out.extend_from_slice(b"{\"invocationId\":");
    let _ = serde_json::to_writer(&mut out, invocation_id);
    out.extend_from_slice(
        b",\"deliveryStreamArn\":\"arn:aws:firehose:local:000000000000:deliverystream/replay\",\"region\":\"local\",\"records\":[",
    );
    let mut text = String::new();
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        text.clear();
        let _ = write!(
            text,
            "{{\"recordId\":\"{i}\",\"approximateArrivalTimestamp\":{},\"data\":\"",
            e.arrival_ms
        );
        out.extend_from_slice(text.as_bytes());
        let at = out.len();
        out.resize(at + base64::encoded_len(e.data.len(), true).unwrap_or(0), 0);
        let n = BASE64.encode_slice(e.data, &mut out[at..]).unwrap_or(0);
        out.truncate(at + n);
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}");
    out
}

/// A batch the function answered.
#[derive(Debug, Clone)]
struct Invoked {
    /// One outcome per event, in order.
    outcomes: Vec<Outcome>,
    report: BatchReport,
}

/// [`invoke_batch`], with one owned outcome per event.
fn invoke(events: &[Event], config: &Config) -> Result<Invoked, InvokeError> {
    let batch = invoke_batch(events, config)?;
    let outcomes = batch
        .answers
        .into_iter()
        .map(|answer| match answer {
            Answer::Ok { output, keys } => Outcome::Ok {
                line: batch.arena[output].to_vec(),
                keys,
            },
            Answer::Dropped => Outcome::Dropped,
            Answer::Failed(reason) => Outcome::Failed(reason),
        })
        .collect();
    Ok(Invoked {
        outcomes,
        report: batch.report,
    })
}

#[test]
fn object_names_follow_firehose() {
    // 2018-02-04 07:05:09.123 UTC
    let t = 1_517_727_909_123;
    #[rustfmt::skip]
    let cases: &[(&str, u32, bool, &str)] = &[
        ("events", 1, false, "events-1-2018-02-04-07-05-09-ID"),
        ("events", 3, true, "events-3-2018-02-04-07-05-09-ID.gz"),
        ("my-stream_2", 12, false, "my-stream_2-12-2018-02-04-07-05-09-ID"),
    ];
    for (stream, version, gzip, want) in cases {
        assert_eq!(object_name(stream, *version, t, "ID", *gzip), *want);
    }
}

#[test]
fn object_ids_are_uuid_shaped_and_deterministic() {
    let a = object_id(&[b"events/dt=2018-02-04/", b"data"]);
    assert_eq!(a, object_id(&[b"events/dt=2018-02-04/", b"data"]));
    assert_ne!(a, object_id(&[b"events/dt=2018-02-04/", b"data2"]));
    // The parts are not simply concatenated.
    assert_ne!(
        object_id(&[b"ab", b"c"]),
        object_id(&[b"a", b"bc"]),
        "part boundaries matter"
    );
    let groups: Vec<usize> = a.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{a}");
    assert!(a.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
}

#[test]
fn error_records_have_firehose_fields() {
    let mut out = Vec::new();
    error_record(
        &mut out,
        &ErrorRecord {
            attempts_made: 1,
            arrival_ms: 1_517_727_909_123,
            error_code: PROCESSING_FAILED_CODE,
            error_message: "not_json",
            attempt_ending_ms: 1_517_727_910_000,
            raw: b"{\"a\":\n",
            lambda_arn: "arn:aws:lambda:local:000000000000:function:f:$LATEST",
        },
    );
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
    let text = std::str::from_utf8(&out).unwrap();
    assert!(
        text.starts_with(r#"{"attemptsMade":1,"arrivalTimestamp":1517727909123,"errorCode":"#),
        "Firehose's field order: {text}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "attemptsMade": 1,
            "arrivalTimestamp": 1_517_727_909_123_i64,
            "errorCode": "Lambda.ProcessingFailedStatus",
            "errorMessage": "not_json",
            "attemptEndingTimestamp": 1_517_727_910_000_i64,
            "rawData": "eyJhIjoK",
            "lambdaArn": "arn:aws:lambda:local:000000000000:function:f:$LATEST",
        })
    );
}

#[test]
fn arrival_from_event_reads_time_fields_like_the_transform() {
    let default = Config::default();
    let nested =
        Config::from_lookup(|n| (n == "TIME_FIELDS").then(|| "event.time,ts".into())).unwrap();
    #[rustfmt::skip]
    let cases: &[(&str, &Config, &str, Option<i64>)] = &[
        ("ISO string", &default, r#"{"timestamp":"2018-02-11T12:30:07Z"}"#, Some(1_518_352_207_000)),
        ("epoch seconds", &default, r#"{"ts":1518352207}"#, Some(1_518_352_207_000)),
        ("epoch ms string", &default, r#"{"ts":"1518352207123"}"#, Some(1_518_352_207_123)),
        ("nanoseconds", &default, r#"{"ts":1518352207123456789}"#, Some(1_518_352_207_123)),
        ("second field when the first is absent", &default, r#"{"time":"Sun, 11 Feb 2018 12:30:07 GMT"}"#, Some(1_518_352_207_000)),
        ("null is absent", &default, r#"{"timestamp":null,"ts":1518352207}"#, Some(1_518_352_207_000)),
        ("first present field decides, even unparseable", &default, r#"{"timestamp":"soon","ts":1518352207}"#, None),
        ("no time field", &default, r#"{"url":"https://example.com/"}"#, None),
        ("not a time", &default, r#"{"ts":true}"#, None),
        ("not JSON", &default, r#"{"ts":1518352207"#, None),
        ("not an object", &default, r#"[1518352207]"#, None),
        ("escaped key", &default, r#"{"t\u0073":1518352207}"#, Some(1_518_352_207_000)),
        ("nested path", &nested, r#"{"event":{"time":"2018-02-11 12:30:07"}}"#, Some(1_518_352_207_000)),
        ("nested path absent, next field", &nested, r#"{"event":{},"ts":1518352207}"#, Some(1_518_352_207_000)),
        ("beyond year 9999", &default, r#"{"timestamp":"99999-01-01T00:00:00Z"}"#, None),
        // A lone surrogate escape in a key is valid JSON text, as in the transform.
        ("lone surrogate key", &default, r#"{"\ud800":1,"ts":1518352207}"#, Some(1_518_352_207_000)),
        ("lone surrogate nested key", &nested, r#"{"event":{"\udc00":1,"time":1518352207}}"#, Some(1_518_352_207_000)),
        // RFC 850's two-digit year, dated by the reference time (2026 here).
        ("RFC 850 date", &default, r#"{"time":"Sunday, 11-Feb-18 12:30:07 GMT"}"#, Some(1_518_352_207_000)),
    ];
    for (name, config, event, want) in cases {
        assert_eq!(
            arrival_from_event(event.as_bytes(), config, 1_795_770_897_000),
            *want,
            "case: {name}"
        );
    }
}

fn ev(data: &str, arrival_ms: i64) -> Event<'_> {
    Event {
        data: data.as_bytes(),
        arrival_ms,
    }
}

#[test]
fn invoke_goes_through_the_batch_path() {
    let config =
        Config::from_lookup(|n| (n == "DROP_DOMAINS").then(|| "localhost".into())).unwrap();
    let t2018 = 1_518_352_207_000;
    let events = [
        ev(
            r#"{"ts":1518352207,"url":"https://news.bbc.co.uk/"}"#,
            t2018,
        ),
        ev("garbage", t2018),
        ev(r#"{"url":"http://localhost/"}"#, t2018),
        ev(r#"[1,2]"#, t2018),
        ev(r#"{"a":"#, t2018),
    ];
    let invoked = invoke(&events, &config).unwrap();
    assert_eq!(invoked.report.records, 5);
    let Outcome::Ok { line, keys } = &invoked.outcomes[0] else {
        panic!("{:?}", invoked.outcomes[0]);
    };
    let line = std::str::from_utf8(line).unwrap();
    assert!(line.ends_with("}\n"), "{line}");
    assert!(
        line.contains(r#""event_time":"2018-02-11 12:30:07.000","event_time_source":"event""#),
        "{line}"
    );
    assert_eq!(
        keys,
        &PartitionKeys {
            site: "bbc.co.uk".into(),
            dt: "2018-02-11".into(),
            hour: "12".into()
        }
    );
    assert_eq!(
        invoked.outcomes[1..],
        [
            Outcome::Failed(FailReason::NotJson),
            Outcome::Dropped,
            Outcome::Failed(FailReason::NotObject),
            Outcome::Failed(FailReason::NotJson),
        ]
    );
}

#[test]
fn an_old_event_arriving_at_its_own_time_keeps_its_date() {
    // The skew guard compares event time and arrival: backfilled 2018 events
    // must stay in 2018 when their arrival is their own time, and fall back
    // to arrival when it is now.
    let config = Config::default();
    let event = r#"{"timestamp":"2018-02-11T12:30:07.250Z","url":"https://example.com/"}"#;
    let own = arrival_from_event(event.as_bytes(), &config, 0).unwrap();
    let now = 1_795_770_897_000; // 2026-11-27
    for (arrival, dt, source) in [(own, "2018-02-11", "event"), (now, "2026-11-27", "arrival")] {
        let invoked = invoke(&[ev(event, arrival)], &config).unwrap();
        let Outcome::Ok { line, keys } = &invoked.outcomes[0] else {
            panic!("{:?}", invoked.outcomes);
        };
        assert_eq!(keys.dt, dt);
        let line = std::str::from_utf8(line).unwrap();
        assert!(
            line.contains(&format!(r#""event_time_source":"{source}""#)),
            "{line}"
        );
    }
}

#[test]
fn request_round_trips_any_bytes() {
    let data: Vec<u8> = (0..=255u8).collect();
    let events = [Event {
        data: &data,
        arrival_ms: -1,
    }];
    let req: serde_json::Value = serde_json::from_slice(&request(&events, "a\"b")).unwrap();
    assert_eq!(req["invocationId"], "a\"b");
    assert_eq!(req["records"][0]["recordId"], "0");
    assert_eq!(req["records"][0]["approximateArrivalTimestamp"], -1);
    assert_eq!(
        BASE64
            .decode(req["records"][0]["data"].as_str().unwrap())
            .unwrap(),
        data
    );
}

/// The outcomes and report of the request route: [`request`] through
/// [`batch::process`], its response read back as Firehose reads it.
fn through_request(events: &[Event], config: &Config) -> Result<Invoked, RequestError> {
    let processed = batch::process(&request(events, "replay"), config)?;
    let response: serde_json::Value = serde_json::from_str(&processed.response).unwrap();
    let records = response["records"].as_array().unwrap();
    assert_eq!(records.len(), events.len());
    let reasons: HashMap<&str, FailReason> = processed
        .report
        .failures
        .iter()
        .map(|(id, r)| (id.as_str(), *r))
        .collect();
    let outcomes = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            assert_eq!(r["recordId"], i.to_string());
            match r["result"].as_str().unwrap() {
                "Ok" => {
                    let keys = &r["metadata"]["partitionKeys"];
                    let key = |k: &str| keys[k].as_str().unwrap().to_owned();
                    Outcome::Ok {
                        line: BASE64.decode(r["data"].as_str().unwrap()).unwrap(),
                        keys: PartitionKeys {
                            site: key("site"),
                            dt: key("dt"),
                            hour: key("hour"),
                        },
                    }
                }
                "Dropped" => Outcome::Dropped,
                "ProcessingFailed" => Outcome::Failed(reasons[r["recordId"].as_str().unwrap()]),
                other => panic!("result {other}"),
            }
        })
        .collect();
    Ok(Invoked {
        outcomes,
        report: processed.report,
    })
}

/// The events of the equivalence checks: good, dropped, failing, bot and
/// over-cardinality ones, and big enough to overflow a small response.
fn mixed_events(picks: &[(u8, u16)]) -> Vec<(Vec<u8>, i64)> {
    picks
        .iter()
        .map(|&(kind, n)| {
            let data = match kind % 7 {
                0 => format!(
                    r#"{{"ts":1518352207,"url":"https://s{}.example.com/p"}}"#,
                    n % 9
                ),
                1 => format!(
                    r#"{{"ts":{},"url":"http://localhost/{n}"}}"#,
                    1_518_352_207 + u64::from(n)
                ),
                2 => format!("not json {n}"),
                3 => format!("[{n}]"),
                4 => format!(
                    r#"{{"url":"https://news.bbc.co.uk/{}","pad":"{}"}}"#,
                    n,
                    "x".repeat(usize::from(n) % 400)
                ),
                5 => format!(
                    r#"{{"timestamp":"2018-02-11T12:30:07Z","user_agent":"Googlebot/2.1","n":{n}}}"#
                ),
                _ => String::new(),
            };
            (data.into_bytes(), 1_518_352_207_000 + i64::from(n))
        })
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Replay's decoded route answers every event, and counts the batch,
    /// exactly as the Lambda's request route does, response limit and
    /// cardinality guard included.
    #[test]
    fn invoke_answers_as_the_request_route(
        picks in proptest::collection::vec((0u8..7, 0u16..1000), 0..40),
        limit in proptest::option::of(200usize..4000),
        max_sites in 0usize..4,
        drop_bots in proptest::bool::ANY,
    ) {
        let mut config = Config::from_lookup(|n| match n {
            "DROP_DOMAINS" => Some("localhost".into()),
            "MAX_SITES_PER_BATCH" => Some(max_sites.to_string()),
            "DROP_BOTS" => Some(drop_bots.to_string()),
            _ => None,
        })
        .unwrap();
        if let Some(limit) = limit {
            config.max_response_bytes = limit;
        }
        let owned = mixed_events(&picks);
        let events: Vec<Event> = owned
            .iter()
            .map(|(data, arrival_ms)| Event { data, arrival_ms: *arrival_ms })
            .collect();
        let want = through_request(&events, &config);
        let got = invoke(&events, &config);
        match (want, got) {
            (Ok(want), Ok(got)) => {
                proptest::prop_assert_eq!(&got.outcomes, &want.outcomes);
                let mut report = want.report;
                // Only the request route has a request.
                report.invocation_id = None;
                report.delivery_stream_arn = None;
                report.request_bytes = 0;
                report.response_bytes = 0;
                let mut got_report = got.report;
                got_report.response_bytes = 0;
                proptest::prop_assert_eq!(got_report, report);
            }
            (Err(want), Err(InvokeError::Request(got))) => proptest::prop_assert_eq!(got, want),
            (want, got) => proptest::prop_assert!(false, "{:?} against {:?}", want.map(|w| w.outcomes), got.map(|g| g.outcomes)),
        }
    }
}

#[test]
fn invoke_fails_what_would_not_fit_in_the_response_as_the_request_route() {
    let config = Config {
        max_response_bytes: 16_000,
        ..Config::default()
    };
    let picks: Vec<(u8, u16)> = (0..30)
        .map(|n| (if n % 5 == 2 { 2 } else { 4 }, 300 + n))
        .collect();
    let owned = mixed_events(&picks);
    let events: Vec<Event> = owned
        .iter()
        .map(|(data, arrival_ms)| Event {
            data,
            arrival_ms: *arrival_ms,
        })
        .collect();
    let want = through_request(&events, &config).unwrap();
    let got = invoke(&events, &config).unwrap();
    assert_eq!(got.outcomes, want.outcomes);
    assert!(got.report.failed_count(FailReason::ResponseTooLarge) > 0);
    assert!(matches!(got.outcomes[0], Outcome::Ok { .. }));
    assert_eq!(got.report.overflow, want.report.overflow);
}
