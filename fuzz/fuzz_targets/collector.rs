//! The collector's request handling on arbitrary bodies: the first byte
//! picks the content encoding and the limits, the rest is the body. No
//! panic; every answer is from the status table; every accepted event is
//! one JSON object carrying the server's address, under the size limit.
#![no_main]

use firehose_enricher::collector::{handle, CollectorConfig, Headers, Request};
use std::sync::OnceLock;

fn configs() -> &'static [CollectorConfig; 2] {
    static C: OnceLock<[CollectorConfig; 2]> = OnceLock::new();
    C.get_or_init(|| {
        let small = CollectorConfig::from_lookup(|name| match name {
            "COLLECTOR_MAX_BODY_BYTES" => Some("1024".into()),
            "COLLECTOR_MAX_EVENTS" => Some("5".into()),
            "COLLECTOR_MAX_EVENT_BYTES" => Some("200".into()),
            _ => None,
        })
        .expect("valid");
        [CollectorConfig::default(), small]
    })
}

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let config = &configs()[usize::from(selector & 1)];
    let headers = Headers {
        content_encoding: (selector & 2 != 0).then_some("gzip"),
        user_agent: (selector & 4 != 0).then_some("Mozilla/5.0 \"x\""),
        ..Headers::default()
    };
    let request = Request {
        method: "POST",
        path: "/collect",
        headers,
        body,
        peer: Some(std::net::IpAddr::from([192, 0, 2, 1])),
    };
    let outcome = handle(&request, config);
    assert!([200, 204, 400, 413].contains(&outcome.response.status));
    let mut n = 0;
    for event in outcome.events.iter() {
        n += 1;
        assert!(event.len() <= config.max_event_bytes);
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(event).expect("an accepted event is a JSON object");
        assert_eq!(v.get("ip").and_then(|ip| ip.as_str()), Some("192.0.2.1"));
    }
    assert!(n <= config.max_events);
    if outcome.response.status == 204 {
        assert!(n > 0);
    }
});
