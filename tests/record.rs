//! The rules of one record's transform, table by table, edge cases first.

mod common;

use common::{config, enriched, ARRIVAL_MS};
use firehose_enricher::record::{transform, DropReason, FailReason, Outcome};
use firehose_enricher::Config;
use serde_json::Value;

/// The always-on enrichers only: for tables that pin exact output bytes.
fn core() -> Config {
    config(&[("ENRICHMENTS", "none")])
}

#[test]
fn event_time_table() {
    const ARRIVAL: &str = "2026-11-27 09:15:02.000";
    let default = Config::default();
    let dotted = config(&[("TIME_FIELDS", "event.time,ts")]);
    let tight = config(&[("MAX_FUTURE", "5m"), ("MAX_AGE", "1h")]);
    let zero = config(&[("MAX_FUTURE", "0s"), ("MAX_AGE", "0s")]);
    let cases: &[(&Config, &str, &str, &str)] = &[
        // --- fallbacks to arrival ---
        (&default, r#"{}"#, ARRIVAL, "arrival"),
        // Bounds compare at full precision, before truncating: 1 day +
        // 0.5 ms after arrival is more than MAX_FUTURE=1d.
        (
            &default,
            r#"{"timestamp":"2026-11-28T09:15:02.0005Z"}"#,
            ARRIVAL,
            "arrival",
        ),
        (
            &default,
            r#"{"timestamp":1795857302000900}"#,
            ARRIVAL,
            "arrival",
        ), // µs
        (&zero, r#"{"ts":"1795770902000.5"}"#, ARRIVAL, "arrival"),
        (&zero, r#"{"ts":1795770902000}"#, ARRIVAL, "event"),
        // Leap seconds, in every form.
        (
            &default,
            r#"{"time":"Fri, 27 Nov 2026 08:59:60 GMT"}"#,
            ARRIVAL,
            "arrival",
        ),
        (
            &default,
            r#"{"time":"Fri Nov 27 2026 08:59:60 GMT+0000"}"#,
            ARRIVAL,
            "arrival",
        ),
        (
            &default,
            r#"{"time":"Fri Nov 27 08:59:60 2026"}"#,
            ARRIVAL,
            "arrival",
        ),
        (
            &default,
            r#"{"other":"2026-11-27T09:00:00Z"}"#,
            ARRIVAL,
            "arrival",
        ),
        (&default, r#"{"timestamp":true}"#, ARRIVAL, "arrival"),
        (&default, r#"{"timestamp":{"t":1}}"#, ARRIVAL, "arrival"),
        (
            &default,
            r#"{"timestamp":[1795770900]}"#,
            ARRIVAL,
            "arrival",
        ),
        (&default, r#"{"timestamp":""}"#, ARRIVAL, "arrival"),
        (&default, r#"{"timestamp":"soon"}"#, ARRIVAL, "arrival"),
        (
            &default,
            r#"{"timestamp":"2026-02-30T00:00:00Z"}"#,
            ARRIVAL,
            "arrival",
        ), // Feb 30
        (
            &default,
            r#"{"timestamp":"2026-11-27T25:00:00Z"}"#,
            ARRIVAL,
            "arrival",
        ),
        (
            &default,
            r#"{"timestamp":"2026-11-28T09:15:02.001Z"}"#,
            ARRIVAL,
            "arrival",
        ), // 1 ms past MAX_FUTURE
        (
            &default,
            r#"{"timestamp":"2026-10-28T09:15:01.999Z"}"#,
            ARRIVAL,
            "arrival",
        ), // 1 ms past MAX_AGE
        (&default, r#"{"timestamp":0}"#, ARRIVAL, "arrival"),
        (&default, r#"{"timestamp":-1795770902}"#, ARRIVAL, "arrival"),
        (&default, r#"{"timestamp":1e300}"#, ARRIVAL, "arrival"),
        (
            &tight,
            r#"{"ts":"2026-11-27T09:20:03Z"}"#,
            ARRIVAL,
            "arrival",
        ),
        (
            &tight,
            r#"{"ts":"2026-11-27T08:15:01Z"}"#,
            ARRIVAL,
            "arrival",
        ),
        // the first present field decides, even if it is unusable
        (
            &default,
            r#"{"timestamp":"garbage","ts":1795770900}"#,
            ARRIVAL,
            "arrival",
        ),
        // --- bounds are inclusive ---
        (
            &default,
            r#"{"timestamp":"2026-11-28T09:15:02Z"}"#,
            "2026-11-28 09:15:02.000",
            "event",
        ),
        (
            &default,
            r#"{"timestamp":"2026-10-28T09:15:02Z"}"#,
            "2026-10-28 09:15:02.000",
            "event",
        ),
        (
            &tight,
            r#"{"ts":"2026-11-27T09:20:02Z"}"#,
            "2026-11-27 09:20:02.000",
            "event",
        ),
        // --- null counts as absent: the next field is used ---
        (
            &default,
            r#"{"timestamp":null,"ts":1795770900}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        // --- field order follows TIME_FIELDS, not the object ---
        (
            &default,
            r#"{"created_at":1795770800,"ts":1795770900}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        // --- dotted paths ---
        (
            &dotted,
            r#"{"event":{"time":"2026-11-27T09:14:00Z"},"ts":1795770900}"#,
            "2026-11-27 09:14:00.000",
            "event",
        ),
        (
            &dotted,
            r#"{"event":{"other":1},"ts":1795770900}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        (
            &dotted,
            r#"{"event":"not an object","ts":1795770900}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        (
            &dotted,
            r#"{"event":{"time":null},"ts":1795770900}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        // --- every shape ---
        (
            &default,
            r#"{"ts":1795770900}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        (
            &default,
            r#"{"ts":1795770900.9876}"#,
            "2026-11-27 09:15:00.987",
            "event",
        ),
        (
            &default,
            r#"{"ts":1795770900123}"#,
            "2026-11-27 09:15:00.123",
            "event",
        ),
        (
            &default,
            r#"{"ts":1795770900123456}"#,
            "2026-11-27 09:15:00.123",
            "event",
        ),
        (
            &default,
            r#"{"ts":1795770900123456789}"#,
            "2026-11-27 09:15:00.123",
            "event",
        ),
        (
            &default,
            r#"{"ts":"1795770900123"}"#,
            "2026-11-27 09:15:00.123",
            "event",
        ),
        (
            &default,
            r#"{"ts":1.795770900123e12}"#,
            "2026-11-27 09:15:00.123",
            "event",
        ),
        (
            &default,
            r#"{"time":"2026-11-27T10:15:00.5+01:00"}"#,
            "2026-11-27 09:15:00.500",
            "event",
        ),
        (
            &default,
            r#"{"time":"2026-11-27 04:15:00-0500"}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        (
            &default,
            r#"{"time":"Fri, 27 Nov 2026 09:00:00 UTC"}"#,
            "2026-11-27 09:00:00.000",
            "event",
        ), // Go's time.RFC1123
        (
            &default,
            r#"{"time":"Friday, 27-Nov-26 09:00:00 GMT"}"#,
            "2026-11-27 09:00:00.000",
            "event",
        ), // RFC 850
        (
            &default,
            r#"{"time":"Fri Nov 27 09:00:00 2026"}"#,
            "2026-11-27 09:00:00.000",
            "event",
        ), // asctime
        (
            &default,
            r#"{"time":"2026-11-27T09:15:00"}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        (
            &default,
            r#"{"time":"Fri, 27 Nov 2026 09:15:00 GMT"}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        (
            &default,
            r#"{"time":"Fri, 27 Nov 2026 10:15:00 +0100"}"#,
            "2026-11-27 09:15:00.000",
            "event",
        ),
        (
            &default,
            r#"{"created_at":"2026-11-27T09:15:00.123456789Z"}"#,
            "2026-11-27 09:15:00.123",
            "event",
        ),
    ];
    for (config, input, want_time, want_source) in cases {
        let out = enriched(input, config);
        assert_eq!(out["event_time"], *want_time, "{input}");
        assert_eq!(out["event_time_source"], *want_source, "{input}");
        assert_eq!(out["received_at"], ARRIVAL, "{input}");
    }
}

#[test]
fn domain_and_site_table() {
    let default = Config::default();
    let custom = config(&[("URL_FIELDS", "page.url"), ("HOST_FIELDS", "ctx.host")]);
    // (config, input, domain, site, site partition value)
    type Case<'a> = (
        &'a Config,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
    );
    let cases: &[Case] = &[
        // --- no usable host: null, still Ok, partition `unknown` ---
        (&default, r#"{}"#, None, None, "unknown"),
        (&default, r#"{"url":"not a url"}"#, None, None, "unknown"),
        (&default, r#"{"url":""}"#, None, None, "unknown"),
        (&default, r#"{"url":"/relative"}"#, None, None, "unknown"),
        (
            &default,
            r#"{"url":"https://../etc/passwd"}"#,
            None,
            None,
            "unknown",
        ),
        (&default, r#"{"host":"a/b"}"#, None, None, "unknown"),
        // The first string URL field is the one parsed, even when it cannot
        // be unescaped (a lone surrogate): no host, and the host fields are
        // tried next, not the other URL fields.
        (
            &default,
            r#"{"url":"\ud800","page_url":"https://c.example.com/"}"#,
            None,
            None,
            "unknown",
        ),
        (
            &default,
            r#"{"url":"https://a.example.com/\ud800","page_url":"https://c.example.com/"}"#,
            None,
            None,
            "unknown",
        ),
        (
            &default,
            r#"{"url":"\ud800","page_url":"https://c.example.com/","host":"h.example.org"}"#,
            Some("h.example.org"),
            Some("example.org"),
            "example.org",
        ),
        (
            &default,
            r#"{"url":"https://c.example.com/","host":"\ud800"}"#,
            Some("c.example.com"),
            Some("example.com"),
            "example.com",
        ),
        // A number is not a URL, though WHATWG would read it as IPv4.
        (&default, r#"{"url":"404"}"#, None, None, "unknown"),
        (&default, r#"{"url":"1518352207"}"#, None, None, "unknown"),
        (&default, r#"{"url":"2018"}"#, None, None, "unknown"),
        (&default, r#"{"url":"12/34"}"#, None, None, "unknown"),
        (&default, r#"{"url":"0x10"}"#, None, None, "unknown"),
        // A scheme-less URL with a port.
        (
            &default,
            r#"{"url":"www.example.com:8080/page"}"#,
            Some("www.example.com"),
            Some("example.com"),
            "example.com",
        ),
        (
            &default,
            r#"{"url":"shop.example.co.uk:8443"}"#,
            Some("shop.example.co.uk"),
            Some("example.co.uk"),
            "example.co.uk",
        ),
        (
            &default,
            r#"{"url":"127.0.0.1:8080/x"}"#,
            Some("127.0.0.1"),
            Some("127.0.0.1"),
            "127.0.0.1",
        ),
        (
            &default,
            r#"{"url":123,"host":"Example.org"}"#,
            Some("example.org"),
            Some("example.org"),
            "example.org",
        ),
        // a non-string URL field is skipped; the next string one is used
        (
            &default,
            r#"{"url":null,"href":"https://b.example.com/"}"#,
            Some("b.example.com"),
            Some("example.com"),
            "example.com",
        ),
        // a URL that yields no host falls back to the host fields
        (
            &default,
            r#"{"url":"garbage","hostname":"shop.example.co.uk"}"#,
            Some("shop.example.co.uk"),
            Some("example.co.uk"),
            "example.co.uk",
        ),
        // the URL wins over the host fields
        (
            &default,
            r#"{"domain":"stale.example.net","url":"https://fresh.example.org/"}"#,
            Some("fresh.example.org"),
            Some("example.org"),
            "example.org",
        ),
        // IP hosts are kept; IPv6 has no safe partition value
        (
            &default,
            r#"{"url":"http://192.168.0.1:8080/"}"#,
            Some("192.168.0.1"),
            Some("192.168.0.1"),
            "192.168.0.1",
        ),
        (
            &default,
            r#"{"url":"http://[::1]/"}"#,
            Some("::1"),
            Some("::1"),
            "unknown",
        ),
        (
            &default,
            r#"{"url":"http://localhost:3000/"}"#,
            Some("localhost"),
            Some("localhost"),
            "localhost",
        ),
        // escaped JSON strings are unescaped before parsing
        (
            &default,
            r#"{"url":"https:\/\/www.example.com\/x"}"#,
            Some("www.example.com"),
            Some("example.com"),
            "example.com",
        ),
        (
            &default,
            r#"{"url":"https://m\u00fcnchen.de/"}"#,
            Some("xn--mnchen-3ya.de"),
            Some("xn--mnchen-3ya.de"),
            "xn--mnchen-3ya.de",
        ),
        // --- the issue's examples ---
        (
            &default,
            r#"{"url":"https://news.bbc.co.uk/"}"#,
            Some("news.bbc.co.uk"),
            Some("bbc.co.uk"),
            "bbc.co.uk",
        ),
        (
            &default,
            r#"{"page_url":"https://alice.github.io/"}"#,
            Some("alice.github.io"),
            Some("alice.github.io"),
            "alice.github.io",
        ),
        (
            &default,
            r#"{"href":"https://www.gov.uk/"}"#,
            Some("www.gov.uk"),
            Some("www.gov.uk"),
            "www.gov.uk",
        ),
        (
            &default,
            r#"{"location":"https://münchen.de/"}"#,
            Some("xn--mnchen-3ya.de"),
            Some("xn--mnchen-3ya.de"),
            "xn--mnchen-3ya.de",
        ),
        (
            &default,
            r#"{"url":"https://USER:pw@WWW.Example.COM.:443/a"}"#,
            Some("www.example.com"),
            Some("example.com"),
            "example.com",
        ),
        // --- configured dotted paths ---
        (
            &custom,
            r#"{"page":{"url":"https://a.example.com/"}}"#,
            Some("a.example.com"),
            Some("example.com"),
            "example.com",
        ),
        (
            &custom,
            r#"{"url":"https://ignored.com/","ctx":{"host":"b.example.com"}}"#,
            Some("b.example.com"),
            Some("example.com"),
            "example.com",
        ),
    ];
    for (config, input, want_domain, want_site, want_key) in cases {
        let t = transform(input.as_bytes(), ARRIVAL_MS, config);
        // serde_json's `Value` cannot hold the lone surrogates some rows
        // pass through; only the fields we add are read here.
        let text = String::from_utf8(t.data)
            .unwrap()
            .replace(r"\ud800", r"\ufffd");
        let out: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{input}: {e} {:?}", t.outcome));
        assert_eq!(out["domain"].as_str(), *want_domain, "{input}");
        assert_eq!(out["site"].as_str(), *want_site, "{input}");
        assert_eq!(t.partition_keys.unwrap().site, *want_key, "{input}");
    }
}

#[test]
fn failure_table() {
    let cases: &[(&[u8], FailReason)] = &[
        (b"", FailReason::Empty),
        (b" \t\r\n ", FailReason::Empty),
        (b"\xff", FailReason::NotUtf8),
        (b"{\"a\":\"\xc3\x28\"}", FailReason::NotUtf8),
        (b"\xef\xbb\xbf{}", FailReason::NotJson), // a BOM is not JSON whitespace
        (b"{", FailReason::NotJson),
        (b"{\"a\":1", FailReason::NotJson),
        (b"{\"a\":1}}", FailReason::NotJson),
        (b"{\"a\":1}{\"b\":2}", FailReason::NotJson),
        (b"{\"a\":1}\n{\"b\":2}\n", FailReason::NotJson),
        (b"{'a':1}", FailReason::NotJson),
        (b"{\"a\":NaN}", FailReason::NotJson),
        (b"{\"a\":\"\x01\"}", FailReason::NotJson), // raw control character in a string
        // Raw control characters in keys, which keys read as bytes let
        // through until the text is checked again.
        (b"{\"\x01\":1}", FailReason::NotJson),
        (b"{\"a\x1f\":1}", FailReason::NotJson),
        (b"{\"\\u0001\":1,\"b\x01\":2}", FailReason::NotJson),
        (b"{\"a\":{\"\x01\":1}}", FailReason::NotJson),
        (b"{\"\\ud800\":1,\"\x01\":2}", FailReason::NotJson),
        (b"{\"\\x\":1}", FailReason::NotJson), // invalid escape in a key
        (b"{\"\\ud800\\u\":1}", FailReason::NotJson),
        (b"{a:1}", FailReason::NotJson),
        (b"[1,2", FailReason::NotJson),
        (b"nul", FailReason::NotJson),
        (b"[]", FailReason::NotObject),
        (b"[{\"a\":1}]", FailReason::NotObject),
        (b"\"text\"", FailReason::NotObject),
        (b"42", FailReason::NotObject),
        (b"null", FailReason::NotObject),
        (b"true", FailReason::NotObject),
    ];
    for (input, want) in cases {
        let t = transform(input, ARRIVAL_MS, &Config::default());
        assert_eq!(
            t.outcome,
            Outcome::Failed(*want),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(t.data.is_empty());
        assert!(t.partition_keys.is_none());
    }
    // Deep nesting is valid JSON: it is validated without recursion, so it
    // neither overflows the stack nor fails.
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let t = transform(deep.as_bytes(), ARRIVAL_MS, &core());
    assert!(matches!(t.outcome, Outcome::Ok(_)));
    assert!(t.data.starts_with(&deep.as_bytes()[..deep.len() - 1]) && t.data.ends_with(b"null}\n"));
    let unclosed = "[".repeat(100_000);
    let t = transform(unclosed.as_bytes(), ARRIVAL_MS, &Config::default());
    assert_eq!(t.outcome, Outcome::Failed(FailReason::NotJson));
    // An arrival time that cannot be formatted fails the record.
    for arrival in [i64::MIN, i64::MAX, 253_402_300_800_000] {
        assert_eq!(
            transform(b"{}", arrival, &Config::default()).outcome,
            Outcome::Failed(FailReason::BadArrivalTime)
        );
    }
}

#[test]
fn drop_table() {
    let default = Config::default();
    let domains = config(&[("DROP_DOMAINS", "localhost,*.local,*.test")]);
    let bots = config(&[("DROP_BOTS", "true")]);
    let bots_custom = config(&[("DROP_BOTS", "true"), ("USER_AGENT_FIELDS", "context.ua")]);
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    let cubot = "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    let cases: Vec<(&Config, String, Option<DropReason>)> = vec![
        // --- default: drop nothing ---
        (&default, r#"{"url":"http://localhost/"}"#.into(), None),
        (&default, format!(r#"{{"user_agent":"{googlebot}"}}"#), None),
        // --- domains ---
        (
            &domains,
            r#"{"url":"http://localhost:3000/"}"#.into(),
            Some(DropReason::Domain),
        ),
        (
            &domains,
            r#"{"url":"http://printer.local/"}"#.into(),
            Some(DropReason::Domain),
        ),
        (
            &domains,
            r#"{"host":"staging.shop.test"}"#.into(),
            Some(DropReason::Domain),
        ),
        (
            &domains,
            r#"{"url":"http://LOCALHOST./"}"#.into(),
            Some(DropReason::Domain),
        ),
        (&domains, r#"{"url":"http://local/"}"#.into(), None),
        (
            &domains,
            r#"{"url":"http://localhost.example.com/"}"#.into(),
            None,
        ),
        (&domains, r#"{"url":"http://mytest/"}"#.into(), None),
        (&domains, r#"{}"#.into(), None),
        // --- bots ---
        (
            &bots,
            format!(r#"{{"user_agent":"{googlebot}"}}"#),
            Some(DropReason::Bot),
        ),
        (
            &bots,
            r#"{"userAgent":"curl/8.5.0"}"#.into(),
            Some(DropReason::Bot),
        ),
        (
            &bots,
            r#"{"ua":"Mozilla/5.0 HeadlessChrome/120.0"}"#.into(),
            Some(DropReason::Bot),
        ),
        (
            &bots,
            r#"{"ua":"facebookexternalhit/1.1"}"#.into(),
            Some(DropReason::Bot),
        ),
        (&bots, format!(r#"{{"user_agent":"{chrome}"}}"#), None),
        (&bots, format!(r#"{{"user_agent":"{cubot}"}}"#), None),
        (&bots, r#"{"user_agent":null}"#.into(), None),
        (&bots, r#"{"user_agent":42}"#.into(), None),
        (&bots, r#"{}"#.into(), None),
        (
            &bots_custom,
            r#"{"context":{"ua":"python-requests/2.31"}}"#.into(),
            Some(DropReason::Bot),
        ),
        (
            &bots_custom,
            r#"{"user_agent":"python-requests/2.31"}"#.into(),
            None,
        ),
    ];
    for (config, input, want) in cases {
        let t = transform(input.as_bytes(), ARRIVAL_MS, config);
        match want {
            Some(reason) => {
                assert_eq!(t.outcome, Outcome::Dropped(reason), "{input}");
                assert!(t.data.is_empty());
            }
            None => assert!(
                matches!(t.outcome, Outcome::Ok(_)),
                "{input}: {:?}",
                t.outcome
            ),
        }
    }
}

/// The output is the input's bytes with the fields spliced in: nothing else
/// changes, except newlines in whitespace, and the result is one line.
#[test]
fn output_shape_table() {
    const TAIL: &str = r#""event_time":"2026-11-27 09:15:02.000","event_time_source":"arrival","received_at":"2026-11-27 09:15:02.000","domain":null,"site":null}"#;
    let cases: &[(&str, String)] = &[
        // --- edge cases ---
        ("{}", format!("{{{TAIL}\n")),
        ("  {  }  ", format!("{{  {TAIL}\n")),
        ("\n{\n}\n", format!("{{ {TAIL}\n")),
        ("{\r\n\"a\" : 1\r\n}", format!("{{  \"a\" : 1  ,{TAIL}\n")),
        // numbers, escapes, key order and duplicate keys stay as they were
        (
            r#"{"n":1.0e2,"big":123456789012345678901234567890}"#,
            format!(r#"{{"n":1.0e2,"big":123456789012345678901234567890,{TAIL}"#) + "\n",
        ),
        (
            r#"{"s":"\u00e9\n\"x\"","z":1,"a":2}"#,
            format!(r#"{{"s":"\u00e9\n\"x\"","z":1,"a":2,{TAIL}"#) + "\n",
        ),
        (
            r#"{"a":1,"a":2}"#,
            format!(r#"{{"a":1,"a":2,{TAIL}"#) + "\n",
        ),
        // our fields in the input are replaced, wherever they are
        (r#"{"site":"x","a":1}"#, format!(r#"{{"a":1,{TAIL}"#) + "\n"),
        (
            r#"{"a":1,"event_time":"old"}"#,
            format!(r#"{{"a":1,{TAIL}"#) + "\n",
        ),
        // (`domain` is also a host field, so it feeds the new `domain`)
        (
            r#"{"domain":"d","site":"s","event_time":1,"event_time_source":2,"received_at":3}"#,
            format!(
                "{{{}\"d\",\"site\":\"d\"}}\n",
                TAIL.strip_suffix("null,\"site\":null}").unwrap()
            ),
        ),
        (
            r#"{"a":{"site":"nested is kept"},"site":"x"}"#,
            format!(r#"{{"a":{{"site":"nested is kept"}},{TAIL}"#) + "\n",
        ),
        (
            r#"{ "k\"ey" : [1, 2] , "site" : "x" , "b":"\\" }"#,
            format!(r#"{{"k\"ey" : [1, 2],"b":"\\",{TAIL}"#) + "\n",
        ),
        (
            r#"{"\u0073ite":"escaped key is still ours","a":1}"#,
            format!(r#"{{"a":1,{TAIL}"#) + "\n",
        ),
        // Lone surrogates are valid JSON text (RFC 8259's grammar), in keys
        // as in values, top-level or nested, and pass byte for byte.
        (r#"{"\ud800":1}"#, format!(r#"{{"\ud800":1,{TAIL}"#) + "\n"),
        (
            r#"{"\udc00x":1,"a\ud800\ud800":2}"#,
            format!(r#"{{"\udc00x":1,"a\ud800\ud800":2,{TAIL}"#) + "\n",
        ),
        (
            r#"{"a":"\ud800"}"#,
            format!(r#"{{"a":"\ud800",{TAIL}"#) + "\n",
        ),
        (
            r#"{"a":{"\ud800":1}}"#,
            format!(r#"{{"a":{{"\ud800":1}},{TAIL}"#) + "\n",
        ),
        (
            r#"{"\u0001":1}"#, // a control character, escaped: valid
            format!(r#"{{"\u0001":1,{TAIL}"#) + "\n",
        ),
        // A lone surrogate key beside one of ours: ours is still replaced.
        (
            r#"{"\ud800":1,"site":"x"}"#,
            format!(r#"{{"\ud800":1,{TAIL}"#) + "\n",
        ),
        // --- the plain case ---
        (
            r#"{"type":"page_view"}"#,
            format!(r#"{{"type":"page_view",{TAIL}"#) + "\n",
        ),
    ];
    for (input, want) in cases {
        let t = transform(input.as_bytes(), ARRIVAL_MS, &core());
        assert_eq!(String::from_utf8(t.data).unwrap(), *want, "{input:?}");
    }
}

#[test]
fn partition_keys_follow_event_time() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            r#"{"ts":"2026-11-27T00:30:00+01:00","url":"https://a.example.com"}"#,
            "example.com",
            "2026-11-26",
            "23",
        ),
        (
            r#"{"ts":"2026-11-27T09:00:00Z"}"#,
            "unknown",
            "2026-11-27",
            "09",
        ),
        (
            r#"{"url":"https://[2001:db8::1]/"}"#,
            "unknown",
            "2026-11-27",
            "09",
        ),
        (
            r#"{"url":"https://xn--mnchen-3ya.de/"}"#,
            "xn--mnchen-3ya.de",
            "2026-11-27",
            "09",
        ),
    ];
    for (input, site, dt, hour) in cases {
        let keys = transform(input.as_bytes(), ARRIVAL_MS, &Config::default())
            .partition_keys
            .unwrap();
        assert_eq!(
            (keys.site.as_str(), keys.dt.as_str(), keys.hour.as_str()),
            (*site, *dt, *hour),
            "{input}"
        );
    }
}
