//! The collector's contract over real HTTP: `firehose-enricher serve` on
//! 127.0.0.1, every status of the table and every body shape, then what it
//! wrote: each accepted event once, transformed, with its server fields.

#[path = "common/serve.rs"]
mod serve;

use serve::{data_lines, eventually, objects, request, temp_dir, Serve};
use std::io::Write;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

#[test]
fn contract_over_http() {
    let out = temp_dir("serve-contract");
    let serve = Serve::start(
        &out,
        &[
            ("ALLOWED_ORIGINS", "https://shop.example.com"),
            ("COLLECTOR_MAX_BODY_BYTES", "65536"),
            ("COLLECTOR_MAX_EVENTS", "20"),
        ],
    );
    let addr = serve.addr;
    let ok = "https://shop.example.com";
    let ev = |n: usize| {
        format!(
            r#"{{"type":"page_view","n":{n},"url":"https://shop.example.com/p?utm_source=t","ts":{}}}"#,
            1_795_770_900_000u64 + n as u64
        )
    };
    let ev0 = ev(0);
    let array = format!("[{},{}]", ev(1), ev(2));
    let ndjson = format!("{}\n{}\n", ev(3), ev(4));
    let partial = format!("{}\nnot json\n{}", ev(5), ev(6));
    let gz = gzip(ev(7).as_bytes());
    let bomb = gzip(&vec![b' '; 8 << 20]);
    let too_many: String = (0..21).map(|i| ev(100 + i) + "\n").collect();
    let big = vec![b' '; 70_000];
    let client_ip = r#"{"type":"x","n":8,"ip":"6.6.6.6","user_agent":"forged","url":"https://shop.example.com/"}"#;
    // (case, method, path, headers, body, status, body (or ""), accepted n's)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a [u8],
        u16,
        &'a str,
    );
    let ua = ("User-Agent", UA);
    let origin = ("Origin", ok);
    let text = ("Content-Type", "text/plain;charset=UTF-8");
    let cases: Vec<Case> = vec![
        // --- edges ---
        (
            "unknown path",
            "GET",
            "/nope",
            vec![],
            b"",
            404,
            r#"{"error":"not_found"}"#,
        ),
        (
            "wrong method",
            "GET",
            "/collect",
            vec![],
            b"",
            405,
            r#"{"error":"method_not_allowed"}"#,
        ),
        (
            "other origin",
            "POST",
            "/collect",
            vec![("Origin", "https://evil.example"), text],
            ev0.as_bytes(),
            403,
            r#"{"error":"origin_not_allowed"}"#,
        ),
        (
            "body over the cap",
            "POST",
            "/collect",
            vec![text],
            &big,
            413,
            r#"{"error":"body_too_large"}"#,
        ),
        (
            "gzip bomb",
            "POST",
            "/collect",
            vec![text, ("Content-Encoding", "gzip")],
            &bomb,
            413,
            r#"{"error":"body_too_large"}"#,
        ),
        (
            "too many events",
            "POST",
            "/collect",
            vec![text],
            too_many.as_bytes(),
            413,
            r#"{"error":"too_many_events"}"#,
        ),
        (
            "form type",
            "POST",
            "/collect",
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            ev0.as_bytes(),
            415,
            "",
        ),
        (
            "empty",
            "POST",
            "/collect",
            vec![text],
            b"",
            400,
            r#"{"error":"no_events"}"#,
        ),
        (
            "none good",
            "POST",
            "/collect",
            vec![text],
            b"nope\n42",
            400,
            r#"{"accepted":0,"rejected":[{"index":0,"reason":"invalid_json"},{"index":1,"reason":"not_object"}]}"#,
        ),
        // --- ordinary ---
        ("health", "GET", "/health", vec![], b"", 200, "ok\n"),
        (
            "preflight",
            "OPTIONS",
            "/collect",
            vec![origin, ("Access-Control-Request-Method", "POST")],
            b"",
            204,
            "",
        ),
        (
            "array",
            "POST",
            "/collect",
            vec![origin, ua, ("Content-Type", "application/json")],
            array.as_bytes(),
            204,
            "",
        ),
        (
            "ndjson",
            "POST",
            "/collect",
            vec![origin, ua, ("Content-Type", "application/x-ndjson")],
            ndjson.as_bytes(),
            204,
            "",
        ),
        (
            "partial",
            "POST",
            "/collect",
            vec![origin, ua, text],
            partial.as_bytes(),
            200,
            r#"{"accepted":2,"rejected":[{"index":1,"reason":"invalid_json"}]}"#,
        ),
        (
            "gzip",
            "POST",
            "/collect",
            vec![ua, text, ("Content-Encoding", "gzip")],
            &gz,
            204,
            "",
        ),
        (
            "client fields replaced",
            "POST",
            "/collect",
            vec![ua, ("X-Forwarded-For", "6.6.6.6")],
            client_ip.as_bytes(),
            204,
            "",
        ),
    ];
    for (name, method, path, headers, body, status, want) in &cases {
        let answer = request(addr, method, path, headers, body);
        assert_eq!(
            answer.status,
            *status,
            "{name}: {:?}",
            String::from_utf8_lossy(&answer.body)
        );
        if !want.is_empty() {
            assert_eq!(String::from_utf8_lossy(&answer.body), *want, "{name}");
        }
        if path == &"/collect" && *status != 403 && headers.contains(&origin) {
            assert_eq!(
                answer.header("access-control-allow-origin"),
                Some(ok),
                "{name}"
            );
        }
    }
    let tracker = request(
        addr,
        "GET",
        "/tracker.js",
        &[("Accept-Encoding", "gzip")],
        b"",
    );
    assert_eq!(tracker.status, 200);
    assert_eq!(tracker.header("content-encoding"), Some("gzip"));
    assert!(tracker.body.len() <= 2000, "{} bytes", tracker.body.len());

    // Accepted events reach the folder while serve runs.
    eventually("the accepted events on disk", || {
        data_lines(&out).len() == 8
    });
    let (stopped, log) = serve.stop();
    assert!(stopped, "{log}");
    let lines = data_lines(&out);
    let mut ns: Vec<u64> = lines.iter().map(|l| l["n"].as_u64().unwrap()).collect();
    ns.sort_unstable();
    assert_eq!(ns, [1, 2, 3, 4, 5, 6, 7, 8], "each accepted event once");
    for line in &lines {
        // Masked by default (ANONYMIZE_IP=on), after geo has read it.
        assert_eq!(line["ip"], "127.0.0.0", "{line}");
        assert_eq!(line["user_agent"], UA, "{line}");
        assert_eq!(line["site"], "example.com", "{line}");
        // The transform ran: received_at is the local arrival time.
        assert!(
            line["received_at"].as_str().is_some_and(|t| t.len() == 23),
            "{line}"
        );
        assert_eq!(line["browser"], "Chrome", "{line}");
    }
    // Nothing in the error output: the rejected lines were answered, not
    // delivered.
    assert!(objects(&out, "errors/").is_empty());
}

#[test]
fn sigterm_writes_everything_accepted() {
    let out = temp_dir("serve-sigterm");
    let serve = Serve::start(&out, &[]);
    let mut sent = 0;
    for batch in 0..20 {
        let body: String = (0..25)
            .map(|i| {
                format!(
                    "{{\"type\":\"e\",\"n\":{},\"url\":\"https://a.example.org/\"}}\n",
                    batch * 25 + i
                )
            })
            .collect();
        let answer = request(
            serve.addr,
            "POST",
            "/collect",
            &[("User-Agent", "test")],
            body.as_bytes(),
        );
        assert_eq!(answer.status, 204);
        sent += 25;
    }
    // Stopped at once: what is still queued is written before the exit.
    let (stopped, log) = serve.stop();
    assert!(stopped, "{log}");
    let mut ns: Vec<u64> = data_lines(&out)
        .iter()
        .map(|l| l["n"].as_u64().unwrap())
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..sent as u64).collect::<Vec<_>>());
    assert!(log.contains(&format!("{sent} events written")), "{log}");
}

#[test]
fn bad_configuration_names_the_variable() {
    let out = temp_dir("serve-config");
    let result = std::process::Command::new(serve::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--out"])
        .arg(&out)
        .env_clear()
        .env("COLLECTOR_MAX_EVENTS", "lots")
        .output()
        .unwrap();
    assert!(!result.status.success());
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(err.contains("COLLECTOR_MAX_EVENTS"), "{err}");
}
