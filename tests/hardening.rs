//! Failure isolation, the response size budget and the partition cardinality
//! guard, proven at the batch level.

#[path = "common/oracle.rs"]
mod oracle;

use base64::Engine;
use firehose_enricher::batch::{self, Processed, RequestError};
use firehose_enricher::record::{self, FailReason, Outcome, Scratch};
use firehose_enricher::{metrics, partition, Config};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const ARRIVAL_MS: i64 = 1_795_770_902_000;
const LIMIT: usize = 6_000_000;

/// A request whose records carry `data` (already JSON text) as base64, with
/// ids `r0`, `r1`, ….
fn request(datas: &[String]) -> Vec<u8> {
    request_with_ids(datas, |i| format!("r{i}"))
}

fn request_with_ids(datas: &[String], id: impl Fn(usize) -> String) -> Vec<u8> {
    let records: Vec<Value> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| {
            serde_json::json!({
                "recordId": id(i),
                "approximateArrivalTimestamp": ARRIVAL_MS,
                "data": BASE64.encode(d),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:eu-central-1:123456789012:deliverystream/web-events",
        "region": "eu-central-1",
        "records": records,
    }))
    .unwrap()
}

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn response(p: &Processed) -> Vec<Value> {
    let v: Value = serde_json::from_slice(p.response.as_bytes()).unwrap();
    v["records"].as_array().unwrap().clone()
}

fn decoded(record: &Value) -> Value {
    let bytes = BASE64.decode(record["data"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// One request record's `data` JSON text, as it appears in the request.
fn request_data_texts(request: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(request).unwrap();
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"].to_string())
        .collect()
}

// ---------------------------------------------------------------- budget

/// ~20,000 tiny events of about 100 bytes: their enriched response is
/// larger than Lambda's 6 MB, though the request is not.
fn tiny_events(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"type":"page_view","ts":{},"url":"https://s{}.example.com/p/{:05}","sid":"s-{:06}"}}"#,
                1_795_770_900 + (i % 60),
                i % 7,
                i,
                i
            )
        })
        .collect()
}

#[test]
fn response_budget_holds_for_a_six_megabyte_request_of_tiny_events() {
    let events = tiny_events(20_000);
    let avg = events.iter().map(String::len).sum::<usize>() / events.len();
    assert!((90..=110).contains(&avg), "events average {avg} bytes");
    // Long ids like Firehose's (56 digits) bring the request near 5.9 MB.
    let request = request_with_ids(&events, |i| format!("{:0>100}", i));
    assert!(
        (5_700_000..=6_000_000).contains(&request.len()),
        "request is {} bytes",
        request.len()
    );
    let cfg = Config::default();
    let result = batch::process(&request, &cfg);
    let results = oracle::check_batch(&request, &cfg, &result);
    let processed = result.unwrap();
    assert!(processed.response.len() <= LIMIT);

    // Ok first, then ProcessingFailed: the earliest records are delivered.
    let ok = results.iter().take_while(|r| *r == "Ok").count();
    assert!(ok > 0 && ok < events.len(), "{ok} of {} Ok", events.len());
    assert!(results[ok..].iter().all(|r| r == "ProcessingFailed"));
    let failed = events.len() - ok;
    let report = &processed.report;
    assert_eq!(report.failed_count(FailReason::ResponseTooLarge), failed);
    assert_eq!(report.failed_total(), failed);
    assert!(report
        .failures
        .iter()
        .all(|(_, r)| *r == FailReason::ResponseTooLarge));
    let emf: Value =
        serde_json::from_str(&metrics::emf_line(report, 1.0, ARRIVAL_MS, "fn", true)).unwrap();
    assert_eq!(emf["FailedResponseTooLarge"], failed);
    assert_eq!(emf["RecordsOk"], ok);

    // The failed records carry the request's data byte for byte (the oracle
    // checked that too); find the first one verbatim in the response.
    let datas = request_data_texts(&request);
    let first_failed = format!(
        r#"{{"recordId":"{:0>100}","result":"ProcessingFailed","data":{}}}"#,
        ok, datas[ok]
    );
    let text = processed.response.as_str();
    assert!(text.contains(&first_failed));

    // As many as possible are Ok: delivering one more would break the limit.
    let alone = batch::process(
        &request_with_ids(&events[ok..=ok], |_| format!("{:0>100}", ok)),
        &cfg,
    )
    .unwrap();
    let ok_entry = alone.response.len() - br#"{"records":[]}"#.len();
    assert!(
        processed.response.len() - first_failed.len() + ok_entry > LIMIT,
        "record {ok} would still have fitted"
    );
}

#[test]
fn a_response_that_fits_is_untouched_by_the_budget() {
    for file in [
        "page-views.json",
        "consent.json",
        "failures.json",
        "kinesis-source.json",
    ] {
        let request =
            std::fs::read(format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let cfg = Config::default();
        let bounded = batch::process(&request, &cfg).unwrap();
        let mut unbounded_cfg = cfg.clone();
        unbounded_cfg.max_response_bytes = usize::MAX;
        let unbounded = batch::process(&request, &unbounded_cfg).unwrap();
        assert_eq!(bounded.response, unbounded.response, "{file}");
        assert_eq!(bounded.report, unbounded.report, "{file}");
        assert_eq!(bounded.report.failed_count(FailReason::ResponseTooLarge), 0);
        // A limit of exactly the response's size still fits it.
        let mut exact = cfg.clone();
        exact.max_response_bytes = bounded.response.len();
        let at_limit = batch::process(&request, &exact).unwrap();
        assert_eq!(
            at_limit.response, bounded.response,
            "{file} at its own size"
        );
    }
}

/// Small limits around a batch's exact size: which records fail, edge
/// cases first.
#[test]
fn budget_fails_the_fewest_records_from_the_end() {
    let datas: Vec<String> = vec![
        r#"{"ts":1795770900,"url":"https://a.example.com/"}"#.into(),
        "not json".into(),
        r#"{"ts":1795770901,"url":"https://b.example.com/"}"#.into(),
        r#"{"ts":1795770902,"url":"https://localhost/"}"#.into(),
        r#"{"ts":1795770903,"url":"https://c.example.com/"}"#.into(),
    ];
    let request = request(&datas);
    // The always-on fields only, so the sizes stay put as enrichers change.
    let cfg = config(&[("DROP_DOMAINS", "localhost"), ("ENRICHMENTS", "none")]);
    let full = batch::process(&request, &cfg).unwrap();
    let size = full.response.len();
    let base = ["Ok", "ProcessingFailed", "Ok", "Dropped", "Ok"];
    assert_eq!(results_of(&full), base);

    let cases: &[(usize, &[&str])] = &[
        (size, &base),
        (
            size - 1,
            &[
                "Ok",
                "ProcessingFailed",
                "Ok",
                "Dropped",
                "ProcessingFailed",
            ],
        ),
        (
            size - 300,
            &[
                "Ok",
                "ProcessingFailed",
                "ProcessingFailed",
                "Dropped",
                "ProcessingFailed",
            ],
        ),
        (
            // Not even the first record's enriched form fits; the failed
            // forms take 486 bytes and the footer 2.
            488,
            &[
                "ProcessingFailed",
                "ProcessingFailed",
                "ProcessingFailed",
                "Dropped",
                "ProcessingFailed",
            ],
        ),
    ];
    for (limit, want) in cases {
        let mut c = cfg.clone();
        c.max_response_bytes = *limit;
        let result = batch::process(&request, &c);
        oracle::check_batch(&request, &c, &result);
        let p = result.unwrap();
        assert!(p.response.len() <= *limit, "limit {limit}");
        assert_eq!(results_of(&p), *want, "limit {limit}");
        let demoted = want.iter().filter(|r| **r == "ProcessingFailed").count() - 1;
        assert_eq!(
            p.report.failed_count(FailReason::ResponseTooLarge),
            demoted,
            "limit {limit}"
        );
    }

    // Below even the every-record-failed size the request is refused whole,
    // rather than answered with a response the runtime would reject.
    let mut c = cfg.clone();
    c.max_response_bytes = 100;
    match batch::process(&request, &c) {
        Err(e @ RequestError::ResponseTooLarge { .. }) => {
            assert_eq!(e.error_type(), "ResponseTooLarge")
        }
        other => panic!("{other:?}"),
    }
}

fn results_of(p: &Processed) -> Vec<String> {
    response(p)
        .iter()
        .map(|r| r["result"].as_str().unwrap().to_owned())
        .collect()
}

// ------------------------------------------------------- cardinality guard

/// 60 records over 12 sites, plus hosts that give no safe site; each of
/// the 60 with a `title` of `pad` bytes.
fn many_sites(pad: usize) -> Vec<String> {
    let title = "t".repeat(pad);
    let mut datas: Vec<String> = (0..60)
        .map(|i| {
            format!(
                r#"{{"ts":1795770900,"url":"https://www.site{}.co.uk/{i}","title":"{title}"}}"#,
                i % 12
            )
        })
        .collect();
    datas.push(r#"{"ts":1795770900}"#.into()); // no host: unknown
    datas.push(r#"{"ts":1795770900,"url":"http://[::1]/"}"#.into()); // IPv6: unknown
    datas.push(r#"{"ts":1795770900,"url":"https://a.site0.co.uk/"}"#.into());
    datas
}

struct GuardRun {
    /// Each Ok record's partition site and its own `site` field.
    sites: Vec<(String, Value)>,
    site_other: usize,
}

fn run_guard(cfg: &Config) -> GuardRun {
    run_guard_padded(cfg, 0)
}

fn run_guard_padded(cfg: &Config, pad: usize) -> GuardRun {
    let request = request(&many_sites(pad));
    let result = batch::process(&request, cfg);
    oracle::check_batch(&request, cfg, &result);
    let p = result.unwrap();
    let sites = response(&p)
        .iter()
        .map(|r| {
            assert_eq!(r["result"], "Ok");
            (
                r["metadata"]["partitionKeys"]["site"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                decoded(r)["site"].clone(),
            )
        })
        .collect();
    GuardRun {
        sites,
        site_other: p.report.site_other,
    }
}

/// Small records, and records of 8 KB whose outputs pass the batch
/// layer's 256 KiB runs several times (the guard's count goes on across
/// runs).
#[test]
fn max_sites_per_batch_bounds_distinct_partitions() {
    for pad in [0, 8_000] {
        max_sites_bound(pad);
    }
}

fn max_sites_bound(pad: usize) {
    let unguarded = run_guard_padded(&Config::default(), pad);
    assert_eq!(unguarded.site_other, 0);
    let all: BTreeSet<&str> = unguarded.sites.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(all.len(), 13, "12 sites and unknown: {all:?}");

    for cap in [1usize, 2, 5, 11, 12, 13, 100] {
        let vars = [("MAX_SITES_PER_BATCH", cap.to_string())];
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = run_guard_padded(&config(&vars), pad);
        let keys: BTreeSet<&str> = run.sites.iter().map(|(k, _)| k.as_str()).collect();
        let real: Vec<&&str> = keys
            .iter()
            .filter(|k| **k != partition::OTHER && **k != partition::UNKNOWN)
            .collect();
        assert!(keys.len() <= cap + 2, "cap {cap}: {keys:?}");
        assert_eq!(real.len(), cap.min(12), "cap {cap}: {keys:?}");
        let others = run
            .sites
            .iter()
            .filter(|(k, _)| k == partition::OTHER)
            .count();
        assert_eq!(run.site_other, others, "cap {cap}: SiteOther counts them");
        assert_eq!(others > 0, cap < 12, "cap {cap}");
        // The first sites in record order keep theirs.
        for (i, (key, _)) in run.sites.iter().take(cap.min(12)).enumerate() {
            assert_eq!(key, &format!("site{i}.co.uk"), "cap {cap}");
        }
        // The record's own `site` field is the real site, guarded or not.
        for ((key, own), (_, unguarded_own)) in run.sites.iter().zip(&unguarded.sites) {
            assert_eq!(own, unguarded_own, "cap {cap}: partition {key}");
        }
    }
}

/// The Lambda path (`batch::process`) writes the response a 256 KiB run of
/// records at a time; the decoded path (`batch::process_decoded`, replay's)
/// transforms the whole batch into one arena first. On batches that span
/// many runs, with the cardinality guard on, records that fail, and
/// responses that overflow, both answer every record alike.
#[test]
fn runs_answer_as_one_arena() {
    // (records, title bytes, MAX_SITES_PER_BATCH)
    let cases = [
        (30, 0, "2"),
        (200, 3_000, "3"),
        (90, 12_000, "1"),
        (1_500, 300, "5"),
        (12_000, 0, "100"),
    ];
    let (mut spanned, mut overflowed, mut guarded) = (false, false, false);
    for (n, pad, cap) in cases {
        let datas: Vec<String> = (0..n)
            .map(|i| match i % 17 {
                5 => "not json".to_owned(),
                _ => format!(
                    r#"{{"ts":1795770900,"url":"https://www.site{}.co.uk/{i}","title":"{}"}}"#,
                    i % 7,
                    "t".repeat(pad + i % 50)
                ),
            })
            .collect();
        let cfg = config(&[("MAX_SITES_PER_BATCH", cap)]);
        // Ids as the decoded path numbers its records, so that both size
        // the response alike.
        let processed = batch::process(&request_with_ids(&datas, |i| i.to_string()), &cfg).unwrap();
        let records: Vec<batch::Decoded> = datas
            .iter()
            .map(|d| batch::Decoded {
                data: d.as_bytes(),
                arrival_ms: ARRIVAL_MS,
            })
            .collect();
        let decoded = batch::process_decoded(&records, &cfg).unwrap();
        let written = response(&processed);
        assert_eq!(written.len(), decoded.answers.len(), "case {n}");
        for (i, (w, answer)) in written.iter().zip(&decoded.answers).enumerate() {
            match answer {
                batch::Answer::Ok { output, keys } => {
                    assert_eq!(w["result"], "Ok", "case {n}: record {i}");
                    let data = BASE64.decode(w["data"].as_str().unwrap()).unwrap();
                    assert!(
                        data == decoded.arena[output.clone()],
                        "case {n}: record {i}: the outputs differ"
                    );
                    let k = &w["metadata"]["partitionKeys"];
                    assert_eq!(k["site"], keys.site.as_str(), "case {n}: record {i}");
                    assert_eq!(k["dt"], keys.dt.as_str(), "case {n}: record {i}");
                    assert_eq!(k["hour"], keys.hour.as_str(), "case {n}: record {i}");
                }
                batch::Answer::Dropped => assert_eq!(w["result"], "Dropped", "case {n}: {i}"),
                batch::Answer::Failed(_) => {
                    assert_eq!(w["result"], "ProcessingFailed", "case {n}: record {i}");
                }
            }
        }
        assert_eq!(
            processed.report.site_other, decoded.report.site_other,
            "case {n}"
        );
        spanned |= decoded.arena.len() > 4 * (256 << 10);
        overflowed |= processed.report.overflow > 0;
        guarded |= processed.report.site_other > 0;
    }
    assert!(
        spanned && overflowed && guarded,
        "{spanned} {overflowed} {guarded}"
    );
}

#[test]
fn site_allowlist_keeps_only_listed_partitions() {
    let unguarded = run_guard(&Config::default());
    let cases: &[(&str, &str)] = &[
        ("site3.co.uk", ""),
        ("site3.co.uk,site7.co.uk,not-seen.com", ""),
        ("site3.co.uk,site7.co.uk", "1"),
        ("site3.co.uk,site7.co.uk", "5"),
    ];
    for (allow, cap) in cases {
        let mut vars = vec![("SITE_ALLOWLIST", *allow)];
        if !cap.is_empty() {
            vars.push(("MAX_SITES_PER_BATCH", cap));
        }
        let run = run_guard(&config(&vars));
        let listed: BTreeSet<&str> = allow.split(',').collect();
        let cap: usize = cap.parse().unwrap_or(usize::MAX);
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for ((key, own), (real, unguarded_own)) in run.sites.iter().zip(&unguarded.sites) {
            assert_eq!(own, unguarded_own, "{allow}: own site field changed");
            *counts.entry(key.as_str()).or_default() += 1;
            if real == partition::UNKNOWN {
                assert_eq!(key, partition::UNKNOWN, "{allow}");
            } else if !listed.contains(real.as_str()) {
                assert_eq!(key, partition::OTHER, "{allow}: {real}");
            } else {
                assert!(key == real || key == partition::OTHER, "{allow}: {real}");
            }
        }
        let kept = counts
            .keys()
            .filter(|k| **k != partition::OTHER && **k != partition::UNKNOWN)
            .count();
        let seen_listed = listed
            .iter()
            .filter(|s| unguarded.sites.iter().any(|(k, _)| k == *s))
            .count();
        assert_eq!(kept, cap.min(seen_listed), "{allow} cap {cap}: {counts:?}");
        assert_eq!(run.site_other, counts[partition::OTHER], "{allow}");
    }
}

// ---------------------------------------------------------------- crashes

/// A transform with a bug: it panics on records holding `boom`, after
/// writing part of a line, so the batch must also discard that part.
fn panics_on_boom(
    data: &[u8],
    arrival_ms: i64,
    config: &Config,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Outcome {
    if data.windows(4).any(|w| w == b"boom") {
        out.extend_from_slice(b"{\"half\":");
        panic!("injected bug");
    }
    record::transform_into(data, arrival_ms, config, scratch, out)
}

#[test]
fn a_panicking_record_fails_alone() {
    let datas: Vec<String> = vec![
        r#"{"boom":true}"#.into(), // edge: the very first record
        r#"{"ts":1795770900,"url":"https://a.example.com/"}"#.into(),
        r#"{"x":"boom"}"#.into(),
        r#"{"x":"boom"}"#.into(), // two in a row
        "not json".into(),
        r#"{"ts":1795770901,"url":"https://b.example.com/"}"#.into(),
        r#"{"last":"boom"}"#.into(), // and the last
    ];
    let request = request(&datas);
    let cfg = Config::default();
    let p = batch::process_with(&request, &cfg, panics_on_boom).unwrap();
    let records = response(&p);
    let texts = request_data_texts(&request);
    let want = [
        (Some(FailReason::InternalError)),
        None,
        Some(FailReason::InternalError),
        Some(FailReason::InternalError),
        Some(FailReason::NotJson),
        None,
        Some(FailReason::InternalError),
    ];
    let mut failures = p.report.failures.iter();
    for (i, (r, want)) in records.iter().zip(want).enumerate() {
        assert_eq!(r["recordId"], format!("r{i}"));
        match want {
            None => {
                assert_eq!(r["result"], "Ok", "record {i}");
                let alone = record::transform(datas[i].as_bytes(), ARRIVAL_MS, &cfg);
                assert_eq!(
                    BASE64.decode(r["data"].as_str().unwrap()).unwrap(),
                    alone.data
                );
            }
            Some(reason) => {
                assert_eq!(r["result"], "ProcessingFailed", "record {i}");
                assert_eq!(r["data"].to_string(), texts[i], "record {i} data");
                assert_eq!(failures.next().unwrap(), &(format!("r{i}"), reason));
            }
        }
    }
    assert_eq!(p.report.failed_count(FailReason::InternalError), 4);
    assert_eq!(p.report.ok, 2);
    // Without the injected bug, the same request fails only the non-JSON one.
    let clean = batch::process(&request, &cfg).unwrap();
    assert_eq!(clean.report.failed_total(), 1);
}

#[test]
fn a_request_that_is_not_a_firehose_event_is_a_clear_error() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "EOF"),
        (b"\xff\xfe", "expected value"),
        (b"null", "invalid type: null"),
        (b"[]", "expected a JSON object"),
        (b"[\"x\",[[\"r1\",1,\"e30=\"]]]", "expected a JSON object"),
        (b"{}", "missing field `records`"),
        (b"{\"records\":{}}", "invalid type: map"),
        (b"{\"records\":[1]}", "invalid type: integer"),
        (b"{\"records\":[{}]}", "missing field `recordId`"),
        (
            b"{\"records\":[{\"recordId\":7}]}",
            "records[0].recordId is not a string",
        ),
        (b"{\"records\":[{\"recordId\":\"a\"}", "EOF"),
        (b"{\"records\":[]} trailing", "trailing characters"),
    ];
    for (request, want) in cases {
        match batch::process(request, &Config::default()) {
            Err(e @ RequestError::Invalid(_)) => {
                assert_eq!(e.error_type(), "InvalidFirehoseRequest");
                let message = e.to_string();
                assert!(
                    message.starts_with("not a Firehose transformation request: ")
                        && message.contains(want),
                    "{:?}: {message}",
                    String::from_utf8_lossy(request)
                );
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(request)),
        }
    }
    // The smallest valid request: no records at all.
    let empty = batch::process(b"{\"records\":[]}", &Config::default()).unwrap();
    assert_eq!(empty.response, "{\"records\":[]}");
}

/// Lines of a Cargo manifest or config that make panics abort: a profile's
/// `panic = "abort"` in any TOML spelling (table, dotted key, inline table,
/// either quote), or `-C panic=abort` in rustflags. `panic` has no other
/// meaning in these files, so a plain scan is exact enough and needs no TOML
/// parser.
fn abort_settings(manifest: &str) -> Vec<usize> {
    manifest
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split('#').next().unwrap_or("");
            let squeezed: String = code
                .chars()
                .filter(|c| !matches!(c, ' ' | '\t' | '"' | '\''))
                .collect();
            squeezed.contains("panic=abort")
        })
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn abort_setting_detection() {
    let cases: &[(&str, &[usize])] = &[
        ("", &[]),
        ("[profile.release]\nlto = true\n", &[]),
        ("[profile.release]\npanic = \"unwind\"\n", &[]),
        ("# panic = \"abort\"\n[profile.release]\n", &[]),
        ("[profile.release]\npanic = \"abort\"\n", &[2]),
        ("[profile.release]\npanic='abort' # no unwinding\n", &[2]),
        ("profile.release.panic = \"abort\"\n", &[1]),
        ("[profile]\nrelease = { panic = \"abort\" }\n", &[2]),
        (
            "[profile.lambda]\ninherits = \"release\"\npanic = \"abort\"\n",
            &[3],
        ),
        ("[build]\nrustflags = [\"-C\", \"panic=abort\"]\n", &[2]),
        ("[build]\nrustflags = [\"-Cpanic=abort\"]\n", &[2]),
    ];
    for (manifest, want) in cases {
        assert_eq!(abort_settings(manifest), *want, "{manifest:?}");
    }
}

#[test]
fn no_profile_aborts_on_panic() {
    // catch_unwind only isolates a record if panics unwind. Cargo's config
    // files can set profiles too.
    let root = env!("CARGO_MANIFEST_DIR");
    for file in ["Cargo.toml", ".cargo/config.toml", ".cargo/config"] {
        let Ok(text) = std::fs::read_to_string(format!("{root}/{file}")) else {
            continue;
        };
        assert_eq!(
            abort_settings(&text),
            Vec::<usize>::new(),
            "lines of {file} make panics abort: one record's bug would kill the whole batch"
        );
    }
}

// ---------------------------------------------------------------- metrics

#[test]
fn docs_name_every_metric() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md"))
        .unwrap();
    let start = page
        .find("## Metrics")
        .expect("docs/operations.md has a Metrics section");
    let section = &page[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    for (name, unit) in metrics::metric_names() {
        let row = section
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`{name}`")))
            .unwrap_or_else(|| panic!("the docs' metrics table lacks {name}"));
        assert!(row.contains(&format!("| {unit} |")), "{name}: {row}");
    }
}
