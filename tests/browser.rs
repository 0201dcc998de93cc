//! The tracker in a real browser: headless Chromium (Debian's `chromium`,
//! installed by `make browser-tools`) opens a search result page that sends
//! it on to a landing page carrying the tag. The page view must arrive in
//! `serve`'s output, enriched: referrer, campaign, channel, browser, os.
//!
//! Ignored by default: `make browser-test` (part of `make test`) runs it
//! with `CHROMIUM` naming the browser. Host names map to 127.0.0.1 inside
//! the browser (`--host-resolver-rules`), so nothing leaves the machine.

#[path = "common/serve.rs"]
mod serve;

use serve::{data_lines, temp_dir, Serve};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// POSTs the flaky endpoint has seen (one test uses it).
static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Serves the two pages. The landing page holds its load event on an
/// image that is answered only once serve has written an event (or after
/// 30 s), so that the browser, which exits after the load event with
/// `--dump-dom`, stays until the tracker's request is through.
/// A consent management platform's `__tcfapi` that answers with a TC
/// string, and Global Privacy Control switched on, before the tag runs.
const CMP_AND_GPC: &str = "window.__tcfapi = function (command, version, callback) { \
    if (command === 'addEventListener') setTimeout(function () { \
      callback({ tcString: 'CPtestTCString', gdprApplies: true, eventStatus: 'tcloaded' }, true); }, 20); }; \
  Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: function () { return true; } });";

/// A single-page-app navigation and a custom event, once the tag has run.
const SPA: &str = "document.addEventListener('DOMContentLoaded', function () { setTimeout(function () { \
    history.pushState({}, '', '/second?utm_source=newsletter&utm_medium=email&utm_campaign=launch'); \
    window.firehoseEnricher.track('signup', { plan: 'pro', type: 'forged' }); }, 200); });";

fn pages(collector: std::net::SocketAddr, out: PathBuf) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let out = out.clone();
            std::thread::spawn(move || page(stream, addr.port(), collector, &out));
        }
    });
    addr
}

fn page(stream: TcpStream, port: u16, collector: std::net::SocketAddr, out: &std::path::Path) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let method = line.split_whitespace().next().unwrap_or("").to_owned();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (mut length, mut agent) = (0usize, String::new());
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "user-agent" => agent = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut posted = vec![0; length];
    let _ = std::io::Read::read_exact(&mut reader, &mut posted);
    if path.starts_with("/flaky") {
        // The first POST is answered 503, as the collector answers when
        // Firehose did not take the events; later ones go on to serve.
        let status = match method.as_str() {
            "POST" if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) == 0 => 503,
            "POST" => {
                let headers = [
                    ("User-Agent", agent.as_str()),
                    ("Content-Type", "text/plain"),
                ];
                serve::request(collector, "POST", "/collect", &headers, &posted).status
            }
            _ => 204,
        };
        let mut w = stream;
        let _ = write!(
            w,
            "HTTP/1.1 {status} X\r\nAccess-Control-Allow-Origin: *\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    let (kind, body) = if path.starts_with("/retry") {
        (
            "text/html",
            format!(
                "<!doctype html><html><head><title>Retry</title>\
                 <script defer src=\"http://{collector}/tracker.js\" data-endpoint=\"/flaky\"></script>\
                 </head><body><img src=\"/hold.gif?n=1\"></body></html>"
            ),
        )
    } else if path.starts_with("/search") {
        let landing = format!(
            "http://shop.example.com:{port}/landing?utm_source=newsletter&utm_medium=email&utm_campaign=launch"
        );
        ("text/html", format!("<!doctype html><title>Results</title><script>location.href = '{landing}';</script>"))
    } else if path.starts_with("/landing") {
        (
            "text/html",
            format!(
                "<!doctype html><html><head><title>Landing</title>\
                 <script>{CMP_AND_GPC}</script>\
                 <script defer src=\"http://{collector}/tracker.js\" data-endpoint=\"http://{collector}/collect\"></script>\
                 <script>{SPA}</script>\
                 </head><body><h1>Hello</h1><img src=\"/hold.gif?n=3\"></body></html>"
            ),
        )
    } else if path.starts_with("/hold") {
        let deadline = Instant::now() + Duration::from_secs(30);
        let want: usize = path
            .split("n=")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        while data_lines(out).len() < want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        ("image/gif", "GIF89a".to_owned())
    } else {
        ("text/plain", String::new())
    };
    let mut w = stream;
    let _ = write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
#[ignore = "needs Chromium: make browser-test"]
fn page_view_arrives_enriched() {
    let out = temp_dir("browser-serve");
    let serve = Serve::start(&out, &[]);
    let site = pages(serve.addr, out.clone());
    chromium_dump(
        "landing",
        &format!("http://www.google.com:{}/search?q=shoes", site.port()),
    );
    let (stopped, log) = serve.stop();
    assert!(stopped, "{log}");
    let lines = data_lines(&out);
    let views: Vec<_> = lines.iter().filter(|l| l["type"] == "page_view").collect();
    assert_eq!(views.len(), 2, "the load and the pushState: {lines:?}");
    let v = views
        .iter()
        .find(|v| v["url"].as_str().unwrap().contains("/landing"))
        .unwrap();
    let spa = views
        .iter()
        .find(|v| v["url"].as_str().unwrap().contains("/second"))
        .unwrap();
    assert_ne!(v["event_id"], spa["event_id"]);
    let custom: Vec<_> = lines.iter().filter(|l| l["type"] == "signup").collect();
    assert_eq!(custom.len(), 1, "{lines:?}");
    assert_eq!(custom[0]["plan"], "pro");
    for event in &lines {
        assert_eq!(event["tcString"], "CPtestTCString", "{event}");
        assert_eq!(event["gpc"], true, "{event}");
    }
    let filled = |name: &str| v[name].as_str().is_some_and(|s| !s.is_empty());
    for field in [
        "event_id",
        "url",
        "referrer",
        "title",
        "language",
        "screen",
        "timezone",
        "referrer_domain",
        "referrer_site",
        "referrer_medium",
        "referrer_source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "channel",
        "browser",
        "os",
        "ip",
        "user_agent",
        "received_at",
    ] {
        assert!(filled(field), "{field} missing in {v}");
    }
    assert!(v["ts"].as_u64().is_some(), "{v}");
    assert_eq!(v["referrer_medium"], "search", "{v}");
    assert_eq!(v["referrer_source"], "Google", "{v}");
    assert_eq!(v["utm_source"], "newsletter");
    assert_eq!(v["utm_campaign"], "launch");
    assert_eq!(v["channel"], "Email");
    assert_eq!(v["title"], "Landing");
    assert_eq!(v["site"], "example.com");
    // Masked by default (ANONYMIZE_IP=on), after geo has read it.
    assert_eq!(v["ip"], "127.0.0.0");
    assert!(v["user_agent"].as_str().unwrap().contains("Chrome"), "{v}");
}

/// Runs headless Chromium on `url` until the page's load event, with the
/// test's host names mapped to 127.0.0.1 and a fresh profile.
fn chromium_dump(name: &str, url: &str) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = temp_dir(&format!("browser-profile-{name}"));
    let status = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--host-resolver-rules=MAP www.google.com 127.0.0.1, MAP shop.example.com 127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {chromium}: {e}; make browser-tools installs it"));
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&profile);
}

#[test]
#[ignore = "needs Chromium: make browser-test"]
fn a_503_is_retried() {
    let out = temp_dir("browser-retry");
    let serve = Serve::start(&out, &[]);
    let site = pages(serve.addr, out.clone());
    chromium_dump(
        "retry",
        &format!("http://shop.example.com:{}/retry", site.port()),
    );
    let (stopped, log) = serve.stop();
    assert!(stopped, "{log}");
    assert!(FLAKY_CALLS.load(Ordering::SeqCst) >= 2, "no retry");
    let lines = data_lines(&out);
    assert_eq!(lines.len(), 1, "the page view, once: {lines:?}");
    assert_eq!(lines[0]["type"], "page_view");
    assert_eq!(lines[0]["title"], "Retry");
}
