use super::*;
use proptest::prelude::*;
use std::io::Write;

fn config(vars: &[(&str, &str)]) -> CollectorConfig {
    CollectorConfig::from_lookup(|n| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn post<'a>(body: &'a [u8], headers: Headers<'a>) -> Request<'a> {
    Request {
        method: "POST",
        path: "/collect",
        headers,
        body,
        peer: Some("198.51.100.7".parse().unwrap()),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[test]
fn status_table() {
    let big_event = format!(r#"{{"pad":"{}"}}"#, "x".repeat(2000));
    let many: String = (0..11).map(|_| "{}\n").collect();
    let bomb = gzip(&vec![b' '; 4 << 20]);
    let ok_gz = gzip(br#"{"a":1}"#);
    let limits = config(&[
        ("COLLECTOR_MAX_BODY_BYTES", "4096"),
        ("COLLECTOR_MAX_EVENTS", "10"),
        ("COLLECTOR_MAX_EVENT_BYTES", "1000"),
    ]);
    let origins = config(&[("ALLOWED_ORIGINS", "https://shop.example")]);
    let any = CollectorConfig::default();
    let h = Headers::default();
    let ct = |t| Headers {
        content_type: Some(t),
        ..h
    };
    let origin = |o| Headers {
        origin: Some(o),
        ..h
    };
    // (case, config, method, path, headers, body, status, body or "")
    type Case<'a> = (
        &'a str,
        &'a CollectorConfig,
        &'a str,
        &'a str,
        Headers<'a>,
        &'a [u8],
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        // --- routes and methods ---
        (
            "unknown path",
            &any,
            "POST",
            "/nope",
            h,
            b"{}",
            404,
            r#"{"error":"not_found"}"#,
        ),
        (
            "path is exact",
            &any,
            "POST",
            "/collect/",
            h,
            b"{}",
            404,
            "",
        ),
        ("root", &any, "GET", "/", h, b"", 404, ""),
        (
            "GET /collect",
            &any,
            "GET",
            "/collect",
            h,
            b"",
            405,
            r#"{"error":"method_not_allowed"}"#,
        ),
        ("PUT /collect", &any, "PUT", "/collect", h, b"{}", 405, ""),
        ("POST /health", &any, "POST", "/health", h, b"", 405, ""),
        (
            "lowercase method",
            &any,
            "post",
            "/collect",
            h,
            b"{}",
            405,
            "",
        ),
        ("health", &any, "GET", "/health", h, b"", 200, "ok\n"),
        ("tracker", &any, "GET", "/tracker.js", h, b"", 200, ""),
        (
            "preflight",
            &any,
            "OPTIONS",
            "/collect",
            origin("https://x.example"),
            b"",
            204,
            "",
        ),
        // --- limits ---
        (
            "body over the cap",
            &limits,
            "POST",
            "/collect",
            h,
            &[b' '; 4097],
            413,
            r#"{"error":"body_too_large"}"#,
        ),
        (
            "gzip bomb",
            &limits,
            "POST",
            "/collect",
            Headers {
                content_encoding: Some("gzip"),
                ..h
            },
            &bomb,
            413,
            "",
        ),
        (
            "too many events",
            &limits,
            "POST",
            "/collect",
            h,
            many.as_bytes(),
            413,
            r#"{"error":"too_many_events"}"#,
        ),
        (
            "event too large",
            &limits,
            "POST",
            "/collect",
            h,
            big_event.as_bytes(),
            413,
            r#"{"error":"event_too_large"}"#,
        ),
        // --- types and encodings ---
        (
            "form body",
            &any,
            "POST",
            "/collect",
            ct("application/x-www-form-urlencoded"),
            b"{}",
            415,
            "",
        ),
        (
            "brotli",
            &any,
            "POST",
            "/collect",
            Headers {
                content_encoding: Some("br"),
                ..h
            },
            b"{}",
            415,
            "",
        ),
        (
            "bad gzip",
            &any,
            "POST",
            "/collect",
            Headers {
                content_encoding: Some("gzip"),
                ..h
            },
            b"{}",
            400,
            r#"{"error":"bad_gzip"}"#,
        ),
        (
            "gzip",
            &any,
            "POST",
            "/collect",
            Headers {
                content_encoding: Some("GZIP"),
                ..h
            },
            &ok_gz,
            204,
            "",
        ),
        (
            "beacon text/plain",
            &any,
            "POST",
            "/collect",
            ct("text/plain;charset=UTF-8"),
            b"{}",
            204,
            "",
        ),
        (
            "json",
            &any,
            "POST",
            "/collect",
            ct("application/json"),
            b"[{}]",
            204,
            "",
        ),
        (
            "ndjson",
            &any,
            "POST",
            "/collect",
            ct("application/x-ndjson"),
            b"{}\n{}\n",
            204,
            "",
        ),
        // --- bodies ---
        (
            "empty",
            &any,
            "POST",
            "/collect",
            h,
            b"",
            400,
            r#"{"error":"no_events"}"#,
        ),
        (
            "empty array",
            &any,
            "POST",
            "/collect",
            h,
            b"[]",
            400,
            r#"{"error":"no_events"}"#,
        ),
        (
            "all bad",
            &any,
            "POST",
            "/collect",
            h,
            b"nope\n[1]",
            400,
            r#"{"accepted":0,"rejected":[{"index":0,"reason":"invalid_json"},{"index":1,"reason":"not_object"}]}"#,
        ),
        (
            "some bad",
            &any,
            "POST",
            "/collect",
            h,
            b"{}\nnope\n{\"a\":1}",
            200,
            r#"{"accepted":2,"rejected":[{"index":1,"reason":"invalid_json"}]}"#,
        ),
        (
            "array with a scalar",
            &any,
            "POST",
            "/collect",
            h,
            b"[{},3]",
            200,
            r#"{"accepted":1,"rejected":[{"index":1,"reason":"not_object"}]}"#,
        ),
        // --- origins ---
        (
            "origin not allowed",
            &origins,
            "POST",
            "/collect",
            origin("https://evil.example"),
            b"{}",
            403,
            r#"{"error":"origin_not_allowed"}"#,
        ),
        (
            "origin not allowed, preflight",
            &origins,
            "OPTIONS",
            "/collect",
            origin("https://evil.example"),
            b"",
            403,
            "",
        ),
        (
            "origin is exact",
            &origins,
            "POST",
            "/collect",
            origin("https://shop.example:443"),
            b"{}",
            403,
            "",
        ),
        (
            "origin allowed",
            &origins,
            "POST",
            "/collect",
            origin("https://shop.example"),
            b"{}",
            204,
            "",
        ),
        ("no origin", &origins, "POST", "/collect", h, b"{}", 204, ""),
    ];
    for (name, config, method, path, headers, body, status, want_body) in cases {
        let request = Request {
            method,
            path,
            headers,
            body,
            peer: Some("198.51.100.7".parse().unwrap()),
        };
        let outcome = handle(&request, config);
        assert_eq!(outcome.response.status, status, "{name}");
        if !want_body.is_empty() {
            assert_eq!(
                String::from_utf8_lossy(&outcome.response.body),
                want_body,
                "{name}"
            );
        }
        if status >= 400 {
            assert!(outcome.events.is_empty(), "{name}");
            assert!(
                outcome.refusal.is_some() || status == 400,
                "{name}: a refusal is counted"
            );
        }
    }
}

#[test]
fn errors_never_echo_the_input() {
    let marker = "<script>alert(1)</script>";
    let bodies = [
        marker.to_string(),
        format!("[\"{marker}\"]"),
        format!("{{\"{marker}\":1}}\n{marker}"),
    ];
    for body in &bodies {
        for (path, method) in [("/collect", "POST"), (marker, "POST"), ("/collect", marker)] {
            let outcome = handle(
                &Request {
                    method,
                    path,
                    headers: Headers {
                        content_type: Some("text/plain"),
                        origin: Some(marker),
                        ..Headers::default()
                    },
                    body: body.as_bytes(),
                    peer: None,
                },
                &config(&[("ALLOWED_ORIGINS", "https://a.example")]),
            );
            let text = String::from_utf8_lossy(&outcome.response.body);
            assert!(!text.contains("script"), "{path} {method}: {text}");
            for (_, v) in &outcome.response.headers {
                assert!(!v.contains("script"), "{v}");
            }
        }
    }
}

#[test]
fn server_fields_win() {
    let ua = "Mozilla/5.0 \"quoted\" \\ é";
    let headers = Headers {
        user_agent: Some(ua),
        ..Headers::default()
    };
    // (case, body, the event as accepted)
    let cases: &[(&str, &str, &str)] = &[
        // --- edges ---
        ("empty object", "{}", r#"{"ip":"198.51.100.7","user_agent":"Mozilla/5.0 \"quoted\" \\ é"}"#),
        ("spaces inside", "{ }", r#"{"ip":"198.51.100.7","user_agent":"Mozilla/5.0 \"quoted\" \\ é"}"#),
        ("only a client ip", r#"{"ip":"6.6.6.6"}"#, r#"{"ip":"198.51.100.7","user_agent":"Mozilla/5.0 \"quoted\" \\ é"}"#),
        ("client ip twice", r#"{"ip":"6.6.6.6","a":1,"ip":"7.7.7.7"}"#, r#"{"a":1,"ip":"198.51.100.7","user_agent":"Mozilla/5.0 \"quoted\" \\ é"}"#),
        ("escaped name", r#"{"\u0069p":"6.6.6.6","b":[1, 2]}"#, r#"{"b":[1, 2],"ip":"198.51.100.7","user_agent":"Mozilla/5.0 \"quoted\" \\ é"}"#),
        ("nested ip stays", r#"{"ctx":{"ip":"6.6.6.6"}}"#, r#"{"ctx":{"ip":"6.6.6.6"},"ip":"198.51.100.7","user_agent":"Mozilla/5.0 \"quoted\" \\ é"}"#),
        ("pretty", "{\n  \"a\" : 1\n}\n", "{\n  \"a\" : 1,\"ip\":\"198.51.100.7\",\"user_agent\":\"Mozilla/5.0 \\\"quoted\\\" \\\\ é\"}"),
        // --- ordinary: bytes kept as sent ---
        ("as sent", r#"{"type":"page_view","n":1.50,"s":"\u00e9"}"#, r#"{"type":"page_view","n":1.50,"s":"\u00e9","ip":"198.51.100.7","user_agent":"Mozilla/5.0 \"quoted\" \\ é"}"#),
        ("client ua", r#"{"user_agent":"fake","type":"x"}"#, r#"{"type":"x","ip":"198.51.100.7","user_agent":"Mozilla/5.0 \"quoted\" \\ é"}"#),
    ];
    for (name, body, want) in cases {
        let outcome = handle(&post(body.as_bytes(), headers), &CollectorConfig::default());
        assert_eq!(outcome.response.status, 204, "{name}");
        let got: Vec<&[u8]> = outcome.events.iter().collect();
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(
            String::from_utf8_lossy(got[0]),
            format!("{want}\n"),
            "{name}"
        );
        let v: serde_json::Value = serde_json::from_slice(got[0]).unwrap();
        assert_eq!(v["ip"], "198.51.100.7", "{name}");
        assert_eq!(v["user_agent"], ua, "{name}");
    }
}

#[test]
fn field_names_and_missing_values() {
    let c = config(&[
        ("COLLECTOR_IP_FIELD", "client_ip"),
        ("COLLECTOR_USER_AGENT_FIELD", "ua"),
    ]);
    let mut request = post(br#"{"ua":"fake","ip":"kept"}"#, Headers::default());
    request.peer = None;
    let outcome = handle(&request, &c);
    let got: Vec<&[u8]> = outcome.events.iter().collect();
    // No address and no User-Agent: the client's `ua` is still removed.
    assert_eq!(got[0], b"{\"ip\":\"kept\"}\n");
    request.peer = Some("::ffff:192.0.2.1".parse().unwrap());
    let outcome = handle(&request, &c);
    let got: Vec<&[u8]> = outcome.events.iter().collect();
    assert_eq!(got[0], b"{\"ip\":\"kept\",\"client_ip\":\"192.0.2.1\"}\n");
}

#[test]
fn address_from_a_header_only_when_configured() {
    let trusted = config(&[("TRUSTED_PROXY_HEADER", "X-Forwarded-For")]);
    let untrusted = CollectorConfig::default();
    let peer: IpAddr = "10.0.0.1".parse().unwrap();
    // (config, header value, address)
    let cases: &[(&CollectorConfig, Option<&str>, &str)] = &[
        (&untrusted, Some("203.0.113.1"), "10.0.0.1"),
        (&trusted, None, "10.0.0.1"),
        (&trusted, Some(""), "10.0.0.1"),
        (&trusted, Some("not an ip"), "10.0.0.1"),
        (&trusted, Some("203.0.113.1"), "203.0.113.1"),
        // The last entry is the one the trusted proxy appended; earlier
        // ones are the client's to forge.
        (&trusted, Some("6.6.6.6, 203.0.113.1"), "203.0.113.1"),
        (&trusted, Some("203.0.113.1:4711"), "203.0.113.1"),
        (&trusted, Some("[2001:db8::1]:443"), "2001:db8::1"),
        (&trusted, Some("2001:db8::2"), "2001:db8::2"),
    ];
    for (c, value, want) in cases {
        let headers = Headers::from_fn(c, |name| match name {
            "x-forwarded-for" => *value,
            _ => None,
        });
        let request = Request {
            method: "POST",
            path: "/collect",
            headers,
            body: b"{}",
            peer: Some(peer),
        };
        assert_eq!(client_ip(&request).unwrap().to_string(), *want, "{value:?}");
    }
}

#[test]
fn cors_headers() {
    let allowed = config(&[("ALLOWED_ORIGINS", "https://a.example,https://b.example")]);
    let h = |o| Headers {
        origin: o,
        ..Headers::default()
    };
    let r = handle(&post(b"{}", h(Some("https://b.example"))), &allowed).response;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://b.example")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    let r = handle(&post(b"{}", h(None)), &allowed).response;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = handle(
        &post(b"{}", h(Some("https://x.example"))),
        &CollectorConfig::default(),
    )
    .response;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let mut pre = post(b"", h(Some("https://a.example")));
    pre.method = "OPTIONS";
    let r = handle(&pre, &allowed).response;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    // Errors carry CORS too, so that the page can read them.
    let r = handle(&post(b"", h(Some("https://a.example"))), &allowed).response;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    let outcome = handle(&post(b"{}", h(Some("https://a.example"))), &allowed);
    let u = outcome.unavailable();
    assert_eq!(u.status, 503);
    assert_eq!(u.header("retry-after"), Some(RETRY_AFTER_SECONDS));
    assert_eq!(
        u.header("access-control-allow-origin"),
        Some("https://a.example")
    );
}

#[test]
fn counts_by_reason() {
    let outcome = handle(
        &post(b"{}\nx\n1\n2\n{}", Headers::default()),
        &CollectorConfig::default(),
    );
    assert_eq!(outcome.events.len(), 2);
    assert_eq!(outcome.rejected[Reason::InvalidJson as usize], 1);
    assert_eq!(outcome.rejected[Reason::NotObject as usize], 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any bytes: no panic, a status from the table, and every accepted
    /// event is one JSON object with the server's address.
    #[test]
    fn any_body(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let outcome = handle(&post(&body, Headers::default()), &CollectorConfig::default());
        prop_assert!([200u16, 204, 400, 413].contains(&outcome.response.status));
        for event in outcome.events.iter() {
            prop_assert!(event.ends_with(b"}\n"), "{:?}", event);
            let v: serde_json::Value = serde_json::from_slice(event).unwrap();
            prop_assert_eq!(&v["ip"], "198.51.100.7");
        }
    }

    /// Objects in any of the three shapes: every one is accepted, in order,
    /// with its members as sent and the server's fields.
    #[test]
    fn objects_in_every_shape(
        objects in proptest::collection::vec(
            proptest::collection::btree_map("[a-z_\\u{e9}\"\\\\]{0,6}", any::<i32>(), 0..4), 1..20),
        shape in 0..3usize,
    ) {
        let texts: Vec<String> = objects.iter().map(|o| serde_json::to_string(o).unwrap()).collect();
        let body = match shape {
            0 => format!("[{}]", texts.join(",")),
            1 => texts.join("\n"),
            _ => texts.join("\r\n") + "\n",
        };
        let body = if shape == 0 || texts.len() > 1 { body } else { texts[0].clone() };
        let outcome = handle(&post(body.as_bytes(), Headers::default()), &CollectorConfig::default());
        prop_assert_eq!(outcome.response.status, 204);
        let events: Vec<&[u8]> = outcome.events.iter().collect();
        prop_assert_eq!(events.len(), objects.len());
        for (event, object) in events.iter().zip(&objects) {
            let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(event).unwrap();
            prop_assert_eq!(v.remove("ip"), Some("198.51.100.7".into()));
            let want: serde_json::Map<String, serde_json::Value> = object
                .iter()
                .filter(|(k, _)| k.as_str() != "ip" && k.as_str() != "user_agent")
                .map(|(k, n)| (k.clone(), (*n).into()))
                .collect();
            prop_assert_eq!(v, want);
        }
    }

    /// A bad line among good ones rejects only itself.
    #[test]
    fn bad_neighbours(good in 1..10usize, bad_at in 0..10usize, bad in "[a-z0-9:,\\[\\]\"]{1,20}") {
        let bad_at = bad_at % (good + 1);
        let mut lines: Vec<String> = (0..good).map(|i| format!("{{\"i\":{i}}}")).collect();
        lines.insert(bad_at, bad.clone());
        let outcome = handle(&post(lines.join("\n").as_bytes(), Headers::default()), &CollectorConfig::default());
        let accepted = outcome.events.len();
        // The "bad" line may happen to be JSON (a number); never an object.
        prop_assert!(accepted == good, "{} accepted of {}", accepted, good);
        prop_assert_eq!(outcome.response.status, 200);
        let body: serde_json::Value = serde_json::from_slice(&outcome.response.body).unwrap();
        prop_assert_eq!(&body["rejected"][0]["index"], bad_at);
    }
}
