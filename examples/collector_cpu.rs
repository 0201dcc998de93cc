//! CPU per warm Lambda collector invocation, excluding the PutRecordBatch
//! call: a Function URL request (payload format 2.0) of N events parsed,
//! answered by the collector core, the response serialized and the EMF
//! line written, as `FUNCTION_ROLE=collector` does per invocation. Prints
//! one JSON line per batch size: CPU µs per invocation (getrusage, user +
//! system, over many iterations after a warm-up).
//!
//! ```sh
//! cargo run --release --example collector_cpu
//! ```

use firehose_enricher::collector::CollectorConfig;
use firehose_enricher::lambda_collector::{emf, outcome, url_response, UrlRequest};

fn cpu_us() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 * 1e6 + tv.tv_usec as f64;
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn request(events: usize) -> Vec<u8> {
    let body: Vec<String> = (0..events)
        .map(|i| format!(
            r#"{{"type":"page_view","event_id":"0000-{i:04}","ts":1796634900000,"url":"https://shop.example.com/p/{i}?utm_source=newsletter","referrer":"https://www.google.com/","title":"Product {i}","language":"en-US","screen":"1920x1080","timezone":"Europe/Berlin"}}"#
        ))
        .collect();
    let body = format!("[{}]", body.join(","));
    serde_json::to_vec(&serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/collect", "rawQueryString": "",
        "headers": {
            "content-type": "text/plain;charset=UTF-8",
            "origin": "https://shop.example.com",
            "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https", "host": "abc.lambda-url.eu-central-1.on.aws",
            "accept": "*/*", "accept-language": "en-US,en;q=0.9", "sec-fetch-mode": "no-cors"
        },
        "requestContext": {
            "accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.eu-central-1.on.aws",
            "http": {"method": "POST", "path": "/collect", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "Mozilla/5.0"},
            "requestId": "id", "routeKey": "$default", "stage": "$default", "time": "07/Dec/2026:09:15:02 +0000", "timeEpoch": 1796634902000i64
        },
        "body": body,
        "isBase64Encoded": false
    }))
    .unwrap()
}

fn main() {
    let config = CollectorConfig::from_lookup(|name| {
        (name == "ALLOWED_ORIGINS").then(|| "https://shop.example.com".to_owned())
    })
    .unwrap();
    for events in [1usize, 10, 100] {
        let raw = request(events);
        let mut sink = 0usize;
        let mut run = || {
            let parsed: UrlRequest = serde_json::from_slice(&raw).unwrap();
            let o = outcome(&parsed, &config);
            let records: Vec<&[u8]> = o.events.iter().collect();
            sink += records.len();
            let response = serde_json::to_vec(&url_response(&o.response)).unwrap();
            sink += response.len() + emf(&o, 0, "collector").map_or(0, |l| l.len());
        };
        for _ in 0..1000 {
            run();
        }
        let iterations = 20_000;
        let before = cpu_us();
        for _ in 0..iterations {
            run();
        }
        let per = (cpu_us() - before) / iterations as f64;
        println!(
            r#"{{"events":{events},"cpu_us_per_invocation":{per:.1},"cpu_us_per_event":{:.2},"checksum":{}}}"#,
            per / events as f64,
            sink % 7
        );
    }
}
