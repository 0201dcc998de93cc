//! Generates a realistic, reproducible sample of SDK events for `make demo`:
//! page views and consent-banner interactions over several days and sites,
//! with the time formats real SDKs send, referrers and campaign links of
//! every kind, a share of redelivered duplicates, and a share of bad events.
//!
//! ```sh
//! cargo run --example gen_events -- OUT_DIR [EVENTS] [SEED]
//! ```
//!
//! It writes the shapes a backfill meets:
//! * `OUT_DIR/firehose/YYYY/MM/DD/HH/*.gz`: old Firehose output, records
//!   concatenated with no delimiter, gzip-compressed, one object per hour;
//! * `OUT_DIR/exports/sdk-export.ndjson`: newline-delimited JSON, plain;
//! * `OUT_DIR/exports/pretty.json`: pretty-printed objects, one after another.
//!
//! The same seed always gives the same bytes.

#[path = "shared/visitor_ip.rs"]
mod visitor_ip;
use flate2::write::GzEncoder;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use visitor_ip::visitor_ip;

/// 2026-11-20 00:00:00 UTC.
const START_MS: i64 = 1_795_132_800_000;
const DAYS: i64 = 7;
const HOUR_MS: i64 = 3_600_000;

/// SplitMix64: tiny, good enough for sample data, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut x = self.below(weights.iter().sum());
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// (host, paths, weight, share of visitors who accept all cookies, percent)
const SITES: &[(&str, &[&str], u64, u64)] = &[
    (
        "news.bbc.co.uk",
        &["/", "/sport/football", "/news/world", "/weather"],
        30,
        55,
    ),
    ("www.bbc.co.uk", &["/iplayer", "/sounds"], 8, 55),
    (
        "shop.example.com.au",
        &["/", "/cart", "/product/42", "/checkout"],
        20,
        70,
    ),
    ("www.example.com", &["/", "/pricing", "/docs/start"], 15, 40),
    ("blog.example.com", &["/2026/11/hello", "/about"], 7, 40),
    ("alice.github.io", &["/", "/blog/2026/hello"], 8, 25),
    ("www.gov.uk", &["/browse/tax", "/apply-passport"], 10, 80),
    ("www.münchen.de", &["/rathaus", "/veranstaltungen"], 2, 60),
];

/// Visits by hour of day (UTC): a daily curve, low at night.
const HOURLY: [u64; 24] = [
    2, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 9, 9, 9, 9, 9, 9, 10, 11, 11, 9, 7, 5, 3,
];

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
];

/// Where visits come from: search, social, video, AI assistants, webmail,
/// other sites, the site itself (`SELF`) and no referrer at all.
const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.google.co.uk/",
    "https://duckduckgo.com/",
    "https://www.bing.com/search?q=x",
    "https://t.co/x",
    "https://l.facebook.com/",
    "https://www.youtube.com/",
    "https://chatgpt.com/",
    "https://www.perplexity.ai/",
    "https://mail.google.com/",
    "https://reviews.example.org/best-of-2026",
    SELF,
    SELF,
    "",
    "",
    "",
];
const SELF: &str = "self";

/// Campaign links: (query string, weight); most visits carry none.
const CAMPAIGNS: &[(&str, u64)] = &[
    ("", 80),
    (
        "?utm_source=newsletter&utm_medium=email&utm_campaign=weekly",
        5,
    ),
    (
        "?utm_source=google&utm_medium=cpc&utm_campaign=winter-sale&gclid=x1",
        4,
    ),
    (
        "?utm_source=facebook&utm_medium=paid_social&utm_campaign=winter-sale",
        3,
    ),
    ("?fbclid=IwAR0x", 3),
    (
        "?utm_source=partner&utm_medium=display&utm_content=banner",
        2,
    ),
    ("?utm_source=coupons&utm_medium=affiliate", 2),
    ("?utm_source=app&utm_medium=push", 1),
];

/// The event time in one of the shapes SDKs send, under one of the default
/// `TIME_FIELDS`.
fn time_field(rng: &mut Rng, ms: i64) -> (&'static str, serde_json::Value) {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    match rng.below(6) {
        0 => (
            "timestamp",
            json!(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        ),
        1 => ("ts", json!(ms / 1000)),
        2 => ("ts", json!(ms)),
        3 => (
            "timestamp",
            json!(t
                .with_timezone(
                    &chrono::FixedOffset::east_opt(3600)
                        .unwrap_or(chrono::FixedOffset::east_opt(0).unwrap())
                )
                .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string()),
        ),
        4 => (
            "time",
            json!(t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
        ),
        _ => (
            "created_at",
            json!(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        ),
    }
}

struct Event {
    ms: i64,
    bytes: Vec<u8>,
    bad: bool,
}

fn good_event(rng: &mut Rng, n: u64, ms: i64) -> Vec<u8> {
    let site = rng.weighted(&SITES.iter().map(|s| s.2).collect::<Vec<_>>());
    let (host, paths, _, accept) = SITES[site];
    let page = format!("https://{host}{}", rng.pick(paths));
    let campaign = CAMPAIGNS[rng.weighted(&CAMPAIGNS.iter().map(|c| c.1).collect::<Vec<_>>())].0;
    let url = format!("{page}{campaign}");
    let referrer = match *rng.pick(REFERRERS) {
        SELF => format!("https://{host}/"),
        r => r.to_owned(),
    };
    let visitor = rng.below(900);
    let (field, time) = time_field(rng, ms);
    let mut event = if rng.chance(12) {
        let action = if rng.chance(accept) {
            "accept_all"
        } else {
            *rng.pick(&["reject_all", "customize", "dismiss"])
        };
        json!({
            "type": "consent",
            "event_id": format!("c-{n:08}"),
            "anonymous_id": format!("anon-{visitor:04}"),
            "action": action,
            "categories": {
                "necessary": true,
                "analytics": action == "accept_all" || (action == "customize" && rng.chance(50)),
                "marketing": action == "accept_all",
            },
            "banner_id": "cmp-2026-q4",
            "page_url": url,
            "user_agent": rng.pick(AGENTS),
        })
    } else {
        json!({
            "type": "page_view",
            "event_id": format!("p-{n:08}"),
            "anonymous_id": format!("anon-{visitor:04}"),
            "session_id": format!("sess-{visitor:04}-{}", ms / (6 * HOUR_MS)),
            "url": url,
            "referrer": referrer,
            "title": "Page",
            "user_agent": rng.pick(AGENTS),
        })
    };
    event[field] = time;
    // The address the collector adds: one per visitor, a public one, so the
    // geo enricher finds its country (and the function masks it).
    event["ip"] = json!(visitor_ip(visitor));
    // A field the schema's sample (events/) does not have: in Parquet mode
    // it lands in `extra` (queries/7_fields_in_extra.sql). From the event's
    // number, not the generator, so every other value stays as it was.
    if n.is_multiple_of(5) && event["type"] == "page_view" {
        event["plan"] = json!(["free", "pro", "team"][(n / 5 % 3) as usize]);
    }
    serde_json::to_vec(&event).unwrap_or_default()
}

/// One of the ways events go bad in the wild; each ends in the error output
/// or, for the last two, in `site=unknown` or an arrival-time fallback.
fn bad_event(rng: &mut Rng, n: u64, ms: i64) -> Vec<u8> {
    let good = good_event(rng, n, ms);
    match rng.below(6) {
        // Cut off mid-way, as by a crashed writer.
        0 => good[..good.len() / 2].to_vec(),
        // A log line that is not JSON.
        1 => b"ERROR sdk: queue overflow, dropping beacon".to_vec(),
        // An array of events, which Firehose does not accept as one record.
        2 => [b"[".as_slice(), &good, b"]"].concat(),
        // Latin-1 bytes where UTF-8 belongs.
        3 => b"{\"type\":\"page_view\",\"title\":\"M\xfcnchen\",\"url\":\"https://www.example.com/\"}"
            .to_vec(),
        // No time field at all: arrival time stands in.
        4 => format!(
            r#"{{"type":"page_view","event_id":"p-{n:08}","url":"https://www.example.com/"}}"#
        )
        .into_bytes(),
        // No URL: site is null, partitioned as unknown.
        _ => format!(r#"{{"type":"page_view","event_id":"p-{n:08}","ts":{ms}}}"#).into_bytes(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = Path::new(
        args.get(1)
            .ok_or("usage: gen_events OUT_DIR [EVENTS] [SEED]")?,
    );
    let total: u64 = args.get(2).map_or(Ok(6000), |s| s.parse())?;
    let mut rng = Rng(args.get(3).map_or(Ok(42), |s| s.parse())?);

    let mut events = Vec::with_capacity(total as usize);
    for n in 0..total {
        let day = rng.below(DAYS as u64) as i64;
        let hour = rng.weighted(&HOURLY) as i64;
        let ms = START_MS + day * 24 * HOUR_MS + hour * HOUR_MS + rng.below(HOUR_MS as u64) as i64;
        let bad = rng.chance(2);
        let bytes = if bad {
            bad_event(&mut rng, n, ms)
        } else {
            good_event(&mut rng, n, ms)
        };
        // Firehose delivers at least once: about 1 % of events arrive
        // again, byte for byte, a few minutes later.
        if !bad && rng.chance(1) {
            events.push(Event {
                ms: ms + 5 * 60_000,
                bytes: bytes.clone(),
                bad,
            });
        }
        events.push(Event { ms, bytes, bad });
    }
    events.sort_by_key(|e| e.ms);

    // Most events as old Firehose output, hourly objects; the rest, and every
    // bad one, as exports. (In concatenated output a truncated record takes
    // the records after it along into the error output, up to where the
    // brackets balance again; newline-delimited input loses only the line.)
    let mut hourly: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    let mut ndjson = Vec::new();
    let mut pretty = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match i % 10 {
            _ if e.bad => {
                ndjson.extend_from_slice(&e.bytes);
                ndjson.push(b'\n');
            }
            0 => {
                ndjson.extend_from_slice(&e.bytes);
                ndjson.push(b'\n');
            }
            1 if i % 50 == 1 => {
                match serde_json::from_slice::<serde_json::Value>(&e.bytes) {
                    Ok(v) => pretty.extend_from_slice(&serde_json::to_vec_pretty(&v)?),
                    Err(_) => pretty.extend_from_slice(&e.bytes),
                }
                pretty.push(b'\n');
            }
            _ => hourly
                .entry(e.ms.div_euclid(HOUR_MS))
                .or_default()
                .extend_from_slice(&e.bytes),
        }
    }
    for (hour, data) in &hourly {
        let t = chrono::DateTime::from_timestamp_millis(hour * HOUR_MS).unwrap_or_default();
        let dir = out
            .join("firehose")
            .join(t.format("%Y/%m/%d/%H").to_string());
        std::fs::create_dir_all(&dir)?;
        let name = format!(
            "web-events-1-{}-{hour:08x}.gz",
            t.format("%Y-%m-%d-%H-%M-%S")
        );
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data)?;
        std::fs::write(dir.join(name), gz.finish()?)?;
    }
    std::fs::create_dir_all(out.join("exports"))?;
    std::fs::write(out.join("exports/sdk-export.ndjson"), &ndjson)?;
    std::fs::write(out.join("exports/pretty.json"), &pretty)?;
    let bad = events.iter().filter(|e| e.bad).count();
    println!(
        "wrote {} events to {}: {total} generated plus {} copies redelivered as Firehose retries do, \
         {bad} broken (not JSON, truncated, no time, no URL…)",
        events.len(),
        out.display(),
        events.len() as u64 - total,
    );
    println!(
        "  as {} hourly Firehose objects, an NDJSON export and a pretty-printed export",
        hourly.len()
    );
    Ok(())
}
