//! Property tests: for arbitrary batches of arbitrary bytes and arbitrary
//! JSON, nothing panics, every recordId comes back exactly once and in order,
//! `Ok` data is one JSON line holding every input field, `ProcessingFailed`
//! data is the request's, and partition values are safe. The rules live in
//! tests/common/oracle.rs, shared with the fuzz targets.
//!
//! Records are written as JSON text by hand, not through `Value`, so that
//! they can hold what `Value` cannot: duplicate keys, chosen escapes,
//! whitespace and newlines between tokens.

#[path = "common/oracle.rs"]
mod oracle;

use base64::Engine;
use firehose_enricher::{batch, record, Config};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use std::collections::BTreeSet;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// 2026-11-27T09:15:02Z: the arrival most records are near, so that time
/// fields fall both inside and outside the skew bounds.
const ARRIVAL_MS: i64 = 1_795_770_902_000;

fn cases() -> ProptestConfig {
    // Moderate: the whole file runs in seconds on a busy 2-core machine.
    // PROPTEST_CASES=100000 digs deeper locally.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------ generators

/// A JSON string literal, escaped one of several valid ways.
fn json_string(s: String) -> impl Strategy<Value = String> {
    (0..3u8).prop_map(move |style| match style {
        // serde_json's own escaping: only what must be escaped.
        0 => serde_json::to_string(&s).unwrap(),
        // Every non-ASCII character as \uXXXX (surrogate pairs included).
        1 => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 || !c.is_ascii() => {
                        let mut buf = [0u16; 2];
                        for unit in c.encode_utf16(&mut buf) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        // Gratuitous escapes of plain characters: \/ and \u0061.
        _ => serde_json::to_string(&s)
            .unwrap()
            .replace('/', "\\/")
            .replace('a', "\\u0061"),
    })
}

/// Text for strings: anything, or the characters JSON and URLs care about.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9./:@\\[\\]\\-_%?#=&\\\\\"' \t\n\r\u{0}\u{7f}\u{e9}\u{fc}\u{4f8b}\u{1f600}]{0,24}",
    ]
}

/// Keys: often the ones the function reads or writes, so that duplicates
/// and collisions with our output fields are common.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "ts", "timestamp", "time", "created_at", "url", "page_url", "href", "location",
            "domain", "hostname", "host", "event_time", "event_time_source", "received_at",
            "site", "user_agent", "event", "type", "", "referrer", "document_referrer",
            "referrer_medium", "utm_source", "channel", "event_fingerprint",
        ])
        .prop_map(str::to_owned),
        1 => any_text(),
    ]
}

/// A number as JSON text: integers, fractions, exponents, beyond i64.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
        Just("-0".to_owned()),
        Just("1.0e2".to_owned()),
        Just("1E-7".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
    ]
}

/// Epoch numbers near the arrival in every unit, and far from it.
fn epoch() -> impl Strategy<Value = String> {
    let secs = ARRIVAL_MS / 1000;
    prop_oneof![
        (-200_000i64..200_000).prop_map(move |d| (secs + d).to_string()),
        (-200_000_000i64..200_000_000).prop_map(move |d| (ARRIVAL_MS + d).to_string()),
        (-1_000_000i64..1_000_000).prop_map(move |d| format!(
            "{}{:03}",
            ARRIVAL_MS + d,
            d.rem_euclid(1000)
        )),
        (-1_000_000i64..1_000_000).prop_map(move |d| format!(
            "{}{:06}",
            ARRIVAL_MS + d,
            d.rem_euclid(1000)
        )),
        (0u32..1000).prop_map(move |f| format!("{secs}.{f:03}")),
        (0u32..1000).prop_map(move |f| format!("{secs}{f:03}e-3")),
        number(),
    ]
}

/// Every shape a time field can hold.
fn time_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => epoch(),
        2 => epoch().prop_map(|e| format!("\"{e}\"")),
        3 => (
            2020i32..2030, 1u32..13, 1u32..32, 0u32..25, 0u32..61, 0u32..61,
            prop::sample::select(vec!["", ".5", ".123", ".123456789", ".1234567891"]),
            prop::sample::select(vec!["", "Z", "z", " UTC", "+01:00", "-0530", "+14", "+2400", "-00:00"]),
            prop::sample::select(vec!["T", "t", " "]),
        )
            .prop_map(|(y, mo, d, h, mi, s, frac, off, sep)| {
                format!("\"{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{off}\"")
            }),
        1 => prop::sample::select(vec![
            "\"Fri, 27 Nov 2026 09:14:58 GMT\"",
            "\"Fri, 27 Nov 2026 09:14:58 +0100\"",
            "\"Fri Nov 27 2026 10:14:58 GMT+0100 (Central European Standard Time)\"",
            "\"2026-02-30T00:00:00Z\"",
            "\"2026-11-27T23:59:60Z\"",
            "\"0000-01-01T00:00:00Z\"",
            "\"9999-12-31T23:59:59.999Z\"",
            "\"-1\"", "\"\"", "\" \"", "\"NaN\"", "\"Infinity\"", "\"1e400\"", "1e400", "-1e400",
            "\"now\"", "null", "true", "false", "[]", "{}", "[1795770902]", "{\"t\":1}",
        ])
        .prop_map(str::to_owned),
        1 => any_text().prop_flat_map(json_string),
    ]
}

/// URLs and hosts: real ones, adversarial ones and noise.
fn url_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "https://News.BBC.co.uk/x", "http://alice.github.io/", "https://github.io/",
            "https://münchen.de/", "https://xn--mnchen-3ya.de", "http://[::1]:8080/",
            "http://[fe80::1%25eth0]/", "http://127.0.0.1/", "http://0x7f.1/", "http://2130706433/",
            "www.example.com/x", "//example.com/x", "localhost", "HTTP://EXAMPLE.COM./",
            "https://user:pass@example.co.uk:8443/p?q#f", "javascript:alert(1)",
            "data:text/html,hi", "file:///etc/passwd", "http://a..b/", "http://-a-.com/",
            "http://%00/", "http://exa mple.com/", "http://例子.测试/", "https://xn--/",
            "http://../../etc", "http://.", "http://..", "https://a.b.c.d.e.f.g.h.co.uk/",
            "!{partitionKeyFromLambda:dt}", "https://evil.com/../../x", "http://EXAMPLE.com:99999/",
            "user@host", "[::1]", "Example.COM:8080", "",
            // Referrers on the lists, campaigns and click identifiers.
            "https://www.google.com/search?q=x", "https://chatgpt.com/", "https://t.co/a",
            "https://mail.google.com/mail/u/0/", "https://www.youtube.com/watch?v=1",
            "https://www.example.com/?utm_source=Facebook&utm_medium=CPC&gclid=1",
            "https://news.bbc.co.uk/?fbclid=1&UTM_MEDIUM=e-mail", "/p?msclkid=1",
            "https://example.com/?utm_source=%FF&utm_source=x&utm_campaign=a+b#?utm_id=1",
        ])
        .prop_map(|s| serde_json::to_string(s).unwrap()),
        1 => "[a-z]{1,63}(\\.[a-z]{1,20}){0,4}".prop_map(|h| format!("\"https://{h}/\"")),
        1 => "[a-z]{60,70}\\.[a-z]{60,70}\\.[a-z]{60,70}\\.[a-z]{60,70}\\.com"
            .prop_map(|h| format!("\"https://{h}/\"")),
        2 => any_text().prop_flat_map(json_string),
        1 => Just("null".to_owned()),
        1 => number(),
    ]
}

/// Any JSON value as text, nested.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        number(),
        any_text().prop_flat_map(json_string),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((any_text().prop_flat_map(json_string), inner), 0..4).prop_map(
                |members| {
                    let body: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect();
                    format!("{{{}}}", body.join(","))
                }
            ),
        ]
    })
}

/// Whitespace JSON allows between tokens, newlines included.
fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n", "\r\n", "\t", " \n  "])
}

/// One member: the value fits what the key means to the function.
fn member() -> impl Strategy<Value = String> {
    key().prop_flat_map(|k| {
        let v = match k.as_str() {
            "ts" | "timestamp" | "time" | "created_at" | "event_time" | "received_at" => {
                time_value().boxed()
            }
            "url" | "page_url" | "href" | "location" | "domain" | "hostname" | "host" | "site"
            | "referrer" | "document_referrer" => url_value().boxed(),
            "event" => prop_oneof![
                time_value().prop_map(|t| format!("{{\"time\":{t}}}")),
                value()
            ]
            .boxed(),
            _ => value().boxed(),
        };
        (json_string(k), v, ws(), ws(), ws())
            .prop_map(|(k, v, a, b, c)| format!("{a}{k}{b}:{c}{v}"))
    })
}

/// A JSON object as text, with the quirks real SDKs and proxies produce.
fn object() -> impl Strategy<Value = String> {
    (prop::collection::vec(member(), 0..8), ws(), ws())
        .prop_map(|(members, pre, post)| format!("{pre}{{{}}}{post}", members.join(",")))
}

/// A record's decoded data.
fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => object().prop_map(String::into_bytes),
        1 => value().prop_map(String::into_bytes),
        1 => object().prop_flat_map(|o| {
            let n = o.len();
            (Just(o), 0..=n).prop_map(|(o, cut)| o.as_bytes()[..cut].to_vec())
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop::sample::select(vec!["", " ", "\n", "{}", "{} {}", "{}x", "[{}]", "\u{feff}{}"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

/// The `data` member of a request record, as JSON text, if any.
fn data_member(data: Vec<u8>) -> impl Strategy<Value = Option<String>> {
    let b64 = BASE64.encode(&data);
    prop_oneof![
        24 => Just(Some(format!("\"{b64}\""))),
        1 => Just(Some(format!("\"{}\"", b64.trim_end_matches('=')))),
        1 => Just(Some(format!("\"{b64}!\""))),
        1 => Just(Some(format!("\" {b64}\""))),
        1 => Just(Some(format!("\"{}\"", b64.replace('+', "\\u002b")))),
        1 => any_text().prop_flat_map(json_string).prop_map(Some),
        1 => Just(Some("12".to_owned())),
        1 => Just(Some("null".to_owned())),
        1 => Just(None),
    ]
}

/// `approximateArrivalTimestamp`, sane or absurd, if any.
fn arrival_member() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        24 => (-3_600_000i64..3_600_000).prop_map(|d| Some((ARRIVAL_MS + d).to_string())),
        1 => (0u32..1000).prop_map(|f| Some(format!("{ARRIVAL_MS}.{f}"))),
        1 => Just(Some(format!("\"{ARRIVAL_MS}\""))),
        1 => Just(Some(format!("\"{ARRIVAL_MS}.5\""))),
        1 => Just(Some(format!("{ARRIVAL_MS}e0"))),
        1 => number().prop_map(Some),
        1 => prop::sample::select(vec![
            "null", "true", "\"abc\"", "\"\"", "[]", "{}", "1e400", "-1e30",
            "9223372036854775807", "-9223372036854775808", "253402300800000", "-62167219200001",
        ])
        .prop_map(|s| Some(s.to_owned())),
        1 => Just(None),
    ]
}

/// One request record as JSON text.
fn request_record() -> impl Strategy<Value = String> {
    (
        data(),
        any_text().prop_flat_map(json_string),
        arrival_member(),
        any::<u8>(),
    )
        .prop_flat_map(|(data, id, arrival, order)| {
            data_member(data).prop_map(move |data| {
                let mut members = vec![format!("\"recordId\":{id}")];
                if let Some(a) = &arrival {
                    members.push(format!("\"approximateArrivalTimestamp\":{a}"));
                }
                if let Some(d) = data {
                    members.push(format!("\"data\":{d}"));
                }
                if order % 4 == 0 {
                    members.push(
                        "\"kinesisRecordMetadata\":{\"shardId\":\"s\",\"subsequenceNumber\":0}"
                            .into(),
                    );
                }
                let n = members.len();
                members.rotate_left(usize::from(order) % n);
                format!("{{{}}}", members.join(","))
            })
        })
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(request_record(), 0..8).prop_map(|records| {
        format!(
            "{{\"invocationId\":\"inv\",\"region\":\"eu-central-1\",\"records\":[{}]}}",
            records.join(",")
        )
        .into_bytes()
    })
}

fn configs() -> Vec<Config> {
    let with = |vars: &[(&str, &str)]| {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    };
    vec![
        Config::default(),
        with(&[
            ("TIME_FIELDS", "event.time,ts,timestamp"),
            ("DROP_DOMAINS", "localhost,*.github.io"),
            ("DROP_BOTS", "true"),
            ("MAX_SITES_PER_BATCH", "1"),
        ]),
        with(&[
            ("SITE_ALLOWLIST", "bbc.co.uk,example.com"),
            ("MAX_FUTURE", "0s"),
            ("MAX_AGE", "1h"),
        ]),
        // Parquet mode: members that are no column, or whose value does
        // not convert, move into `extra`; the oracle puts them back.
        with(&[(
            "COLUMNS",
            r#"[{"name":"event_time","type":"timestamp"},{"name":"type","type":"string"},{"name":"ts","type":"bigint"},{"name":"time","type":"double"},{"name":"event","type":"struct<time:string>"},{"name":"url","type":"string"},{"name":"user_agent","type":"string"},{"name":"extra","type":"string"}]"#,
        )]),
    ]
}

/// A page view whose page and referrer hosts come from one small set, so
/// that internal referrers, list referrers, campaigns and click
/// identifiers all meet often.
fn web_record() -> impl Strategy<Value = String> {
    let host = || {
        prop::sample::select(vec![
            "",
            "www.example.com",
            "shop.example.com",
            "www.google.co.uk",
            "chatgpt.com",
            "t.co",
            "mail.google.com",
            "www.youtube.com",
            "news.example.org",
            "partner.example-pay.com",
        ])
    };
    let query = prop::sample::select(vec![
        "",
        "?utm_source=google&utm_medium=cpc",
        "?gclid=1",
        "?fbclid=1",
        "?utm_medium=email",
        "?UTM_SOURCE=fb&utm_medium=paid",
        "?utm_source=&msclkid=",
        "?utm_campaign=x#y",
    ]);
    let field = prop::sample::select(vec!["referrer", "document_referrer", "referer"]);
    (host(), query, host(), field).prop_map(|(page, query, referrer, field)| {
        let referrer = if referrer.is_empty() {
            String::new()
        } else {
            format!("https://{referrer}/x")
        };
        serde_json::json!({ "url": format!("https://{page}/p{query}"), field: referrer })
            .to_string()
    })
}

// ------------------------------------------------------------ properties

proptest! {
    #![proptest_config(cases())]

    /// User agents built from the pieces the bot test and the device type
    /// read by hand (a `User-Agent:` name, a cut-off front, Fire tablet
    /// model codes, Puffin's build suffix) and multi-byte text around
    /// them: the parse never panics, and `bot_category` is there exactly
    /// when `is_bot` is.
    #[test]
    fn hand_read_user_agent_pieces_never_panic(
        parts in prop::collection::vec(
            prop::sample::select(vec![
                "User-Agent:", "user-agent: ", "User-Agen", "Puffin/", "8.3.0", ".", "IT",
                "IP", "KF", "KFTT", "KFABCDEFG", " Build", "(", ";", ") AppleWebKit/",
                "Mozilla/5.0", "+", " ", "iPad", "Kindle", "Silk/", "Viber", "bot", "é",
                "日本", "\u{1F600}", "\t",
            ]),
            0..14,
        )
    ) {
        let ua = parts.concat();
        let p = firehose_enricher::enrich::user_agent::parse(&ua);
        prop_assert_eq!(p.is_bot, p.bot_category.is_some(), "{:?}", ua);
    }

    #[test]
    fn batches_keep_the_contract(request in request(), which in 0..4usize) {
        let config = &configs()[which];
        let result = batch::process(&request, config);
        prop_assert!(result.is_ok(), "{:?}", result.err());
        let results = oracle::check_batch(&request, config, &result);
        let processed = result.unwrap();
        prop_assert_eq!(results.len(), processed.report.records);
        // The cardinality guard: at most N real sites, plus other and unknown.
        if config.max_sites_per_batch > 0 {
            let response: serde_json::Value = serde_json::from_slice(processed.response.as_bytes()).unwrap();
            let sites: BTreeSet<&str> = response["records"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["metadata"]["partitionKeys"]["site"].as_str())
                .collect();
            prop_assert!(sites.len() <= config.max_sites_per_batch + 2, "{:?}", sites);
        }
    }

    /// Overflow, answered either way: every record before the first re-sent
    /// one answers as without a limit; from it on, the records that were
    /// `Ok` without a limit are re-sent, with their original bytes, and the
    /// others answer as without a limit or, past the response budget
    /// (untransformed), are re-sent too; and settling with nothing sent
    /// keeps the contract the oracle checks.
    #[test]
    fn overflow_is_resent_or_settled(request in request(), limit in 200usize..6_000) {
        let with_limit = |limit| {
            let mut c = Config::default();
            c.max_response_bytes = limit;
            c
        };
        let (unbounded, config) = (with_limit(usize::MAX), with_limit(limit));
        let whole = batch::process(&request, &unbounded).unwrap();
        let Ok(p) = batch::process_overflow(&request, &config, batch::Overflow::Reingest) else {
            // Even every record failed would not fit: refused, as Fail is.
            prop_assert!(batch::process(&request, &config).is_err());
            return Ok(());
        };
        prop_assert!(p.response.len() <= limit);
        let parse = |b: &[u8]| -> Vec<serde_json::Value> {
            serde_json::from_slice::<serde_json::Value>(b).unwrap()["records"].as_array().unwrap().clone()
        };
        let (before, after) = (parse(whole.response.as_bytes()), parse(p.response.as_bytes()));
        let resent: BTreeSet<usize> = p.reingest.iter().map(|r| r.index).collect();
        let first = resent.first().copied().unwrap_or(before.len());
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            if i >= first && b["result"] == "Ok" {
                prop_assert!(resent.contains(&i), "{}", i);
            }
            if resent.contains(&i) {
                prop_assert_eq!(&a["result"], "Dropped");
            } else {
                prop_assert_eq!(b, a);
            }
        }
        // The request's own data, read without `Value` (whose numbers
        // cannot hold every arrival time the strategies write).
        #[derive(serde::Deserialize)]
        struct Req { records: Vec<Rec> }
        #[derive(serde::Deserialize)]
        struct Rec { data: Option<Box<serde_json::value::RawValue>> }
        let requested: Req = serde_json::from_slice(&request).unwrap();
        for r in &p.reingest {
            let raw = requested.records[r.index].data.as_ref().unwrap();
            let text: String = serde_json::from_str(raw.get()).unwrap();
            prop_assert_eq!(&BASE64.decode(text).unwrap(), &r.data);
        }
        let unsent: Vec<usize> = resent.iter().copied().collect();
        let settled = batch::settle(&request, &config, &[], &unsent);
        oracle::check_batch(&request, &config, &settled);
        // Settling fails exactly when failing every record would not fit
        // either (a `Dropped` answer is smaller than an echo); the function
        // then reports the invocation as failed, as without re-ingestion.
        let Ok(settled) = settled else {
            prop_assert!(batch::process(&request, &config).is_err());
            return Ok(());
        };
        prop_assert_eq!(settled.report.reingest_failed, unsent.len());
        prop_assert!(settled.response.len() <= limit);
    }

    #[test]
    fn records_keep_the_contract(data in data(), arrival in prop_oneof![
        4 => (-3_600_000i64..3_600_000).prop_map(|d| ARRIVAL_MS + d),
        1 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
    ], which in 0..4usize) {
        let config = &configs()[which];
        let t = record::transform(&data, arrival, config);
        oracle::check_record(&data, arrival, config, &t);
    }

    #[test]
    fn arbitrary_bytes_are_answered_or_rejected(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let config = Config::default();
        let result = batch::process(&bytes, &config);
        oracle::check_batch(&bytes, &config, &result);
    }

    #[test]
    fn web_fields_keep_the_contract(data in web_record(), internal in any::<bool>()) {
        let config = Config::from_lookup(|name| {
            (internal && name == "INTERNAL_SITES").then(|| "example-pay.com".to_owned())
        })
        .unwrap();
        let t = record::transform(data.as_bytes(), ARRIVAL_MS, &config);
        prop_assert!(matches!(t.outcome, record::Outcome::Ok(_)), "{:?}", t.outcome);
        oracle::check_record(data.as_bytes(), ARRIVAL_MS, &config, &t);
    }

    #[test]
    fn well_formed_objects_are_ok(object in object(), arrival in -3_600_000i64..3_600_000) {
        // Valid JSON objects are always Ok under the defaults (no drops),
        // whatever they hold; the record check then holds them to the rest.
        let arrival = ARRIVAL_MS + arrival;
        let config = Config::default();
        let t = record::transform(object.as_bytes(), arrival, &config);
        let parses = serde_json::from_str::<serde_json::Value>(&object).is_ok();
        if parses {
            prop_assert!(matches!(t.outcome, record::Outcome::Ok(_)), "{:?} for {:?}", t.outcome, object);
        }
        oracle::check_record(object.as_bytes(), arrival, &config, &t);
    }
    #[test]
    fn privacy_controls_leave_no_listed_value(
        ip in (1u8..=255, 0u8..=255, 0u8..=255, 1u8..=255),
        ip6 in prop::array::uniform8(1u16..),
        secrets in prop::collection::vec("[g-z]{12}", 6),
        dup in any::<bool>(),
    ) {
        let [token, fragment, email, user_id, name, ref_token] =
            <[String; 6]>::try_from(secrets).unwrap();
        let v4 = format!("{}.{}.{}.{}", ip.0, ip.1, ip.2, ip.3);
        let v6 = std::net::Ipv6Addr::from(ip6).to_string();
        let mut data = serde_json::json!({
            "ip": v4,
            "x_forwarded_for": format!("{v6}, {v4}"),
            "url": format!("https://www.example.com/p?utm_source=x&token={token}#{fragment}"),
            "referrer": format!("https://news.example.org/?q={ref_token}"),
            "user": { "id": user_id, "email": email, "plan": "pro" },
            "name": name,
        })
        .to_string();
        if dup {
            // Duplicate keys: every copy is in the output, so every copy
            // is controlled.
            data = format!(r#"{{"name":"{name}","user":{{"email":"{email}"}},{}"#, &data[1..]);
        }
        let config = Config::from_lookup(|var| {
            Some(match var {
                "ANONYMIZE_IP" | "STRIP_QUERY" => "on",
                "DROP_FIELDS" => "name,user.email",
                "HASH_FIELDS" => "user.id",
                "HASH_KEY" => "0123456789abcdef0123456789abcdef",
                _ => return None,
            }.to_owned())
        })
        .unwrap();
        let t = record::transform(data.as_bytes(), ARRIVAL_MS, &config);
        prop_assert!(matches!(t.outcome, record::Outcome::Ok(_)), "{:?}", t.outcome);
        let line = String::from_utf8(t.data).unwrap();
        let out: serde_json::Value = serde_json::from_str(&line).unwrap();
        for secret in [&v4, &v6, &token, &fragment, &email, &user_id, &name, &ref_token] {
            prop_assert!(!line.contains(secret.as_str()), "{secret} survived in {line}");
        }
        // What is not listed stays, and the campaign was read before stripping.
        prop_assert_eq!(&out["user"]["plan"], "pro");
        prop_assert_eq!(&out["utm_source"], "x");
        prop_assert_eq!(out["user"]["id"].as_str().map(str::len), Some(64));
    }
}

/// Records whose user agent the enricher reads in the less obvious ways,
/// each held to the oracle's rules: of duplicate keys the last is read, and
/// a user agent of any text parses (to `Other` at worst).
#[test]
fn user_agent_edge_cases_keep_the_contract() {
    let cases = [
        // --- edge cases: duplicate keys, the last one read ---
        r#"{"user_agent":"curl/8.0","user_agent":5}"#,
        r#"{"user_agent":5,"user_agent":"curl/8.0"}"#,
        r#"{"user_agent":"curl/8.0","user_agent":""}"#,
        r#"{"user_agent":"","user_agent":"curl/8.0"}"#,
        r#"{"user_agent":"curl/8.0","user_agent":null,"ua":"Googlebot/2.1"}"#,
        // --- text no rule knows ---
        r#"{"user_agent":"mⴧX%&9𛉷ஜୋર{:iவB"}"#,
        r#"{"user_agent":"\u0000"}"#,
        r#"{"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}"#,
    ];
    let config = Config::default();
    for data in cases {
        let t = record::transform(data.as_bytes(), 1_796_576_768_485, &config);
        assert!(matches!(t.outcome, record::Outcome::Ok(_)), "{data}");
        oracle::check_record(data.as_bytes(), 1_796_576_768_485, &config, &t);
    }
}
