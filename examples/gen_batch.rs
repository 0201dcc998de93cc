//! Writes the benchmark inputs: deterministic Firehose requests, the same
//! bytes on every machine and every run, so numbers can be compared.
//!
//! ```sh
//! cargo run --release --example gen_batch -- target/bench-data
//! ```
//!
//! * `realistic.json`: 5,000 SDK events of about 570 bytes (about 3 MB
//!   decoded), page views and consent events over ten sites (multi-level
//!   suffixes, a private suffix, an IDN), with every common timestamp style.
//! * `tiny.json`: tiny events filling a request to just under Lambda's 6 MB
//!   limit. Their enriched response does not fit in 6 MB, so this batch also
//!   exercises the response-size fitting.
//!
//! The files are a few MB each: they are generated, never committed.

#[path = "shared/visitor_ip.rs"]
mod visitor_ip;
use base64::Engine;
use std::fmt::Write as _;
use std::path::PathBuf;
use visitor_ip::visitor_ip;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// 2026-11-27 10:35:02 UTC, the arrival time of every record.
const ARRIVAL_MS: i64 = 1_795_770_902_000;
const REALISTIC_RECORDS: usize = 5_000;
/// Lambda's synchronous request limit, with room for the closing brackets.
const REQUEST_LIMIT: usize = 6 * 1024 * 1024 - 1024;

/// xorshift64*: deterministic, dependency-free, and plenty for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        for _ in 0..n {
            s.push(char::from(b"0123456789abcdef"[self.below(16)]));
        }
        s
    }
    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(4),
            self.hex(12)
        )
    }
}

/// Ten sites: `(page host, paths)`. Multi-level public suffixes, a private
/// suffix, a gov.uk host that is its own site, an IDN and an upper-case host
/// that take the slow URL path, and a scheme-less URL.
const SITES: &[(&str, &[&str])] = &[
    (
        "https://news.bbc.co.uk",
        &["/sport/football", "/news/world-europe-68123456", "/weather"],
    ),
    (
        "https://shop.example.com.au",
        &["/cart", "/products/kettle-1.7l", "/checkout/payment"],
    ),
    (
        "https://alice.github.io",
        &["/blog/2026/hello-world", "/projects/"],
    ),
    (
        "https://www.example.com",
        &["/pricing", "/docs/getting-started", "/"],
    ),
    (
        "https://münchen.de",
        &["/rathaus/service", "/veranstaltungen"],
    ),
    (
        "https://www.gov.uk",
        &["/browse/tax", "/apply-renew-passport"],
    ),
    (
        "https://blog.example.co.jp",
        &["/entry/2026/11/27/093000", "/archive"],
    ),
    ("https://M.Shop.Example.co.uk", &["/basket", "/search"]),
    (
        "https://static.cdn.example.org:8443",
        &["/landing/black-friday"],
    ),
    (
        "www.city.kawasaki.jp",
        &["/kurashi/category/17-1-0-0-0-0-0-0-0-0.html"],
    ),
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
];
const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.bing.com/search?q=kettle",
    "https://t.co/a1B2c3D4e5",
    "",
];
const TITLES: &[&str] = &[
    "Premier League: live scores, results and fixtures - BBC Sport",
    "Your basket | Example Shop Australia",
    "Hello, world: notes on a first post",
    "Pricing - Example, simple plans for teams of every size",
    "Bürgerservice der Landeshauptstadt München",
];
const LOCALES: &[&str] = &["en-GB", "en-AU", "de-DE", "ja-JP", "en-US", "fr-FR"];
const SCREENS: &[(u32, u32)] = &[(1920, 1080), (390, 844), (1440, 900), (2560, 1440)];

/// One event's time, in one of the styles SDKs send, within a few minutes
/// before arrival; the JSON member as it appears in the event.
fn timestamp(rng: &mut Rng) -> String {
    let ms = ARRIVAL_MS - 1_000 - rng.below(300_000) as i64;
    let (secs, milli) = (ms / 1000, ms % 1000);
    let iso = |ms: i64| {
        let days = ms.div_euclid(86_400_000);
        let in_day = ms.rem_euclid(86_400_000);
        // 2026-11-27 is day 20,419 since the epoch; every generated time is
        // on that day or the one before.
        let day = if days == 20_419 { "27" } else { "26" };
        format!(
            "2026-11-{day}T{:02}:{:02}:{:02}",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60
        )
    };
    match rng.below(10) {
        0..=2 => format!(r#""timestamp":"{}.{milli:03}Z""#, iso(ms)),
        3 => format!(r#""timestamp":"{}.{milli:03}+01:00""#, iso(ms + 3_600_000)),
        4 => format!(r#""timestamp":"{}-0500""#, iso(ms - 5 * 3_600_000)),
        5 | 6 => format!(r#""ts":{ms}"#),
        7 => format!(r#""ts":{secs}"#),
        8 => format!(r#""ts":"{secs}.{milli:03}""#),
        _ => format!(
            r#""time":"{}.{milli:03}123 UTC""#,
            iso(ms).replace('T', " ")
        ),
    }
}

fn page_view(rng: &mut Rng, n: usize) -> String {
    let (origin, paths) = SITES[rng.below(SITES.len())];
    let (w, h) = SCREENS[rng.below(SCREENS.len())];
    format!(
        concat!(
            r#"{{"type":"page_view","event_id":"{}","anonymous_id":"anon-{}","session_id":"sess-{}",{},"#,
            r#""url":"{}{}?utm_source=newsletter&utm_medium=email&utm_campaign=nov-{}","referrer":"{}","#,
            r#""title":"{}","user_agent":"{}","screen":{{"w":{},"h":{}}},"locale":"{}","#,
            r#""sdk":{{"name":"web","version":"2.4.{}"}}}}"#
        ),
        rng.uuid(),
        rng.hex(12),
        rng.hex(8),
        timestamp(rng),
        origin,
        rng.pick(paths),
        n % 30,
        rng.pick(REFERRERS),
        rng.pick(TITLES),
        rng.pick(USER_AGENTS),
        w,
        h,
        rng.pick(LOCALES),
        rng.below(4),
    )
}

fn consent(rng: &mut Rng) -> String {
    let (origin, paths) = SITES[rng.below(SITES.len())];
    let (action, analytics, marketing) = match rng.below(3) {
        0 => ("accept_all", true, true),
        1 => ("reject_all", false, false),
        _ => ("customize", true, false),
    };
    format!(
        concat!(
            r#"{{"type":"consent","event_id":"{}","anonymous_id":"anon-{}","session_id":"sess-{}","#,
            r#""action":"{}","categories":{{"necessary":true,"analytics":{},"marketing":{},"preferences":{}}},"#,
            r#""banner_id":"cmp-2026-q4","banner_version":"4.2.0",{},"page_url":"{}{}","user_agent":"{}","#,
            r#""locale":"{}","sdk":{{"name":"web","version":"2.4.{}"}}}}"#
        ),
        rng.uuid(),
        rng.hex(12),
        rng.hex(8),
        action,
        analytics,
        marketing,
        analytics,
        timestamp(rng),
        origin,
        rng.pick(paths),
        rng.pick(USER_AGENTS),
        rng.pick(LOCALES),
        rng.below(4),
    )
}

fn tiny_event(rng: &mut Rng) -> String {
    let (origin, _) = SITES[rng.below(SITES.len())];
    format!(r#"{{"e":"pv",{},"url":"{origin}/"}}"#, timestamp(rng))
}

/// A Firehose request around the given events, one record each.
pub struct Request {
    pub json: String,
    pub records: usize,
    /// The events' bytes, before base64.
    pub decoded: usize,
}

impl Request {
    fn new() -> Request {
        Request {
            json: concat!(
                r#"{"invocationId":"3f0c1d2e-4b5a-4c6d-8e7f-9a0b1c2d3e4f","#,
                r#""deliveryStreamArn":"arn:aws:firehose:eu-central-1:123456789012:deliverystream/web-events","#,
                r#""region":"eu-central-1","records":["#
            )
            .to_owned(),
            records: 0,
            decoded: 0,
        }
    }
    /// The record's JSON text, with its leading comma when needed.
    fn record(&self, event: &str) -> String {
        let mut r = String::new();
        if self.records > 0 {
            r.push(',');
        }
        let _ = write!(
            r,
            r#"{{"recordId":"4954698668313554428650745793632167567570019247115678{:04}","approximateArrivalTimestamp":{},"data":"{}"}}"#,
            self.records,
            ARRIVAL_MS + (self.records as i64 % 50),
            BASE64.encode(event)
        );
        r
    }
    fn push(&mut self, event: &str) {
        let r = self.record(event);
        self.json.push_str(&r);
        self.records += 1;
        self.decoded += event.len();
    }
    fn finish(mut self) -> Request {
        self.json.push_str("]}");
        self
    }
}

/// The realistic batch: 5,000 SDK events, four page views to one consent
/// event.
pub fn realistic() -> Request {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut request = Request::new();
    for n in 0..REALISTIC_RECORDS {
        let event = if n % 5 == 4 {
            consent(&mut rng)
        } else {
            page_view(&mut rng, n)
        };
        // The address the collector adds, one per visitor of about three
        // events: about 1,700 distinct addresses in the batch.
        let event = format!(
            r#"{},"ip":"{}"}}"#,
            &event[..event.len() - 1],
            visitor_ip((n / 3) as u64)
        );
        request.push(&event);
    }
    request.finish()
}

/// Tiny events up to just under the 6 MB request limit.
pub fn tiny() -> Request {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut request = Request::new();
    loop {
        let event = tiny_event(&mut rng);
        if request.json.len() + request.record(&event).len() + 2 > REQUEST_LIMIT {
            break;
        }
        request.push(&event);
    }
    request.finish()
}

fn main() -> Result<(), String> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/bench-data".into()),
    );
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, request) in [("realistic.json", realistic()), ("tiny.json", tiny())] {
        let path = dir.join(name);
        std::fs::write(&path, &request.json).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "{}: {} records, {} bytes decoded, {} bytes of request",
            path.display(),
            request.records,
            request.decoded,
            request.json.len()
        );
    }
    Ok(())
}
