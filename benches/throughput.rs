//! `cargo bench`: the whole invocation (request bytes to response bytes) on
//! the generated batches, and the per-record parts that dominate it.
//!
//! The batches are built in memory by the same code as
//! `cargo run --release --example gen_batch`, so the numbers here and those of
//! `firehose-enricher bench` on the generated files are for the same bytes.

#[path = "../examples/gen_batch.rs"]
#[allow(dead_code)]
mod gen_batch;

use divan::counter::{BytesCount, ItemsCount};
use divan::{black_box, Bencher};
use firehose_enricher::record::{transform_into, Scratch};
use firehose_enricher::{batch, domain, time, Config};
use std::sync::LazyLock;

static REALISTIC: LazyLock<gen_batch::Request> = LazyLock::new(gen_batch::realistic);
static TINY: LazyLock<gen_batch::Request> = LazyLock::new(gen_batch::tiny);
static CONFIG: LazyLock<Config> = LazyLock::new(Config::default);

fn main() {
    divan::main();
}

/// End to end, as the Lambda handler runs it.
#[divan::bench(args = ["realistic", "tiny"], sample_count = 30)]
fn process(bencher: Bencher, name: &str) {
    let request = match name {
        "realistic" => &*REALISTIC,
        _ => &*TINY,
    };
    bencher
        .counter(ItemsCount::new(request.records))
        .counter(BytesCount::new(request.decoded))
        .bench(|| batch::process(black_box(request.json.as_bytes()), &CONFIG));
}

/// One realistic record's transform, decoded bytes in, enriched line out.
#[divan::bench]
fn transform_record(bencher: Bencher) {
    let event = concat!(
        r#"{"type":"page_view","event_id":"0b7c9f2e-6a41-4e0f-9c3d-5e8f1a2b0001","anonymous_id":"anon-5f3e2a0c91d4","#,
        r#""session_id":"sess-81c2a7f0","timestamp":"2026-11-27T09:14:58.123Z","#,
        r#""url":"https://news.bbc.co.uk/sport/football?utm_source=newsletter&utm_medium=email&utm_campaign=nov-3","#,
        r#""referrer":"https://www.google.com/","title":"Premier League: live scores, results and fixtures - BBC Sport","#,
        r#""user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","#,
        r#""screen":{"w":1920,"h":1080},"locale":"en-GB","sdk":{"name":"web","version":"2.4.1"}}"#
    )
    .as_bytes();
    let mut scratch = Scratch::default();
    let mut out = Vec::with_capacity(1024);
    bencher
        .counter(BytesCount::new(event.len()))
        .bench_local(|| {
            out.clear();
            transform_into(
                black_box(event),
                1_795_770_902_000,
                &*CONFIG,
                &mut scratch,
                &mut out,
            )
        });
}

/// Each time style the generator writes, as the raw JSON value.
#[divan::bench(args = [
    r#""2026-11-27T09:14:58.123Z""#,
    r#""2026-11-27T10:14:58.123+01:00""#,
    r#""2026-11-27 09:14:58.123123 UTC""#,
    "1795770898123",
    "1795770898",
    r#""1795770898.123""#,
    r#""Fri, 27 Nov 2026 09:14:58 GMT""#,
])]
fn parse_time(raw: &str) -> Option<time::Time> {
    time::parse_json_time(black_box(raw), 1_795_770_898_123)
}

#[divan::bench]
fn format_time() -> Option<time::Formatted> {
    time::format_millis(black_box(1_795_770_898_123))
}

/// The fast path (lowercase http(s) host) and the `url` crate's (IDN, upper
/// case, port, scheme-less).
#[divan::bench(args = [
    "https://news.bbc.co.uk/sport/football?utm_source=newsletter",
    "https://münchen.de/rathaus/service?utm_source=newsletter",
    "https://M.Shop.Example.co.uk/basket?utm_source=newsletter",
    "https://static.cdn.example.org:8443/landing/black-friday",
    "www.city.kawasaki.jp/kurashi/category/17-1-0-0-0-0-0-0-0-0.html",
])]
fn host_from_url(url: &str) -> Option<std::borrow::Cow<'_, str>> {
    domain::host_from_url(black_box(url))
}

#[divan::bench(args = [
    "news.bbc.co.uk",
    "shop.example.com.au",
    "alice.github.io",
    "www.gov.uk",
    "xn--mnchen-3ya.de",
    "www.city.kawasaki.jp",
])]
fn site(host: &str) -> &str {
    domain::site(black_box(host))
}
