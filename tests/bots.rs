//! The bot test's rates (`is_bot`, what `DROP_BOTS` uses: crawler-user-agents
//! and isbot's patterns, less browsers inside apps) on five evaluation sets,
//! printed for the docs (`cargo test --test bots -- --nocapture`) and held
//! to floors:
//!
//! - isbot's own fixtures (tests/data/isbot, `browsers.yml` and
//!   `crawlers.yml`): at most 0.5% of its browsers flagged, at least 98% of
//!   its crawlers caught;
//! - crawlers: every `instances` example of crawler-user-agents 1.60.0
//!   (tests/data/crawler-user-agents-instances.txt), at least 99% caught.
//!   These are the list's own examples, so the rate says the patterns are
//!   compiled and matched as upstream means them;
//! - real browsers: the user agents of uap-core's test_ua.yaml whose
//!   expected family is one of [`BROWSERS`], the browsers people use, less
//!   Google Web Preview (a crawler that reports itself as Chrome), at most
//!   1% flagged;
//! - crawlers named by uap-core: its test_ua.yaml user agents whose expected
//!   family names a crawler, a set neither list was written from, at least
//!   98% caught.

use firehose_enricher::enrich::user_agent::is_bot;

/// uap-core families of ordinary browsers.
const BROWSERS: &[&str] = &[
    "Chrome",
    "Chrome Mobile",
    "Chrome Mobile iOS",
    "Chrome Mobile WebView",
    "Chromium",
    "Firefox",
    "Firefox Mobile",
    "Firefox iOS",
    "Safari",
    "Mobile Safari",
    "Mobile Safari UI/WKWebView",
    "Edge",
    "Edge Mobile",
    "IE",
    "IE Mobile",
    "Opera",
    "Opera Mini",
    "Opera Mobile",
    "Samsung Internet",
    "UC Browser",
    "Yandex Browser",
    "Brave",
    "Vivaldi",
    "QQ Browser",
    "QQ Browser Mobile",
    "Whale",
    "Amazon Silk",
    "Puffin",
    "Android",
    "MiuiBrowser",
    "Huawei Browser",
    "Honor Browser",
];

/// The user agents of uap-core's test_ua.yaml whose case `keep` accepts
/// (given its expected family and the user agent).
fn test_ua(keep: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let text = include_str!("data/uap-core/test_ua.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    doc["test_cases"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            let family = c["family"].as_str().unwrap_or_default();
            (family, c["user_agent_string"].as_str().unwrap())
        })
        .filter(|(family, ua)| keep(family, ua))
        .map(|(_, ua)| ua.to_owned())
        .collect()
}

fn browsers() -> Vec<String> {
    test_ua(|family, ua| BROWSERS.contains(&family) && !ua.contains("Google Web Preview"))
}

/// The share of `set` whose `is_bot` answer is `bots`, printed with the
/// user agents that answer otherwise (the rates the docs quote), and
/// those user agents.
fn rate<'a>(what: &str, set: &'a [String], bots: bool) -> (f64, Vec<&'a String>) {
    let (right, wrong): (Vec<&String>, Vec<&String>) =
        set.iter().partition(|ua| is_bot(ua) == bots);
    let share = right.len() as f64 / set.len() as f64;
    let (counted, label) = if bots {
        (right.len(), "true positives")
    } else {
        (wrong.len(), "false positives")
    };
    let shown = if bots { share } else { 1.0 - share };
    println!(
        "{label}: {counted} of {} {what} ({:.2}%)",
        set.len(),
        100.0 * shown
    );
    for ua in &wrong {
        println!("  {}: {ua}", if bots { "missed" } else { "flagged" });
    }
    (share, wrong)
}

#[test]
fn false_positives_on_real_browsers_stay_below_one_percent() {
    let set = browsers();
    assert!(set.len() > 150, "the set has {} user agents", set.len());
    let (humans, flagged) = rate("real browser user agents", &set, false);
    assert!(1.0 - humans <= 0.01, "{flagged:#?}");
}

#[test]
fn crawlers_are_found() {
    let set: Vec<String> = include_str!("data/crawler-user-agents-instances.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let (found, missed) = rate("crawler user agents", &set, true);
    assert!(found >= 0.99, "{missed:#?}");
}

/// A second crawler set, independent of the list: the user agents of
/// uap-core's test_ua.yaml whose expected family names a crawler
/// (`Googlebot`, `YandexBot`, `Baiduspider`, `AhrefsBot`...).
fn uap_crawlers() -> Vec<String> {
    test_ua(|family, _| {
        let family = family.to_lowercase();
        ["bot", "spider", "crawler"]
            .iter()
            .any(|w| family.contains(w))
    })
}

#[test]
fn crawlers_named_by_uap_core_are_found() {
    let set = uap_crawlers();
    assert!(set.len() > 100, "the set has {} user agents", set.len());
    // 581 of 581 with uap-core at the vendored commit.
    let (found, missed) = rate("uap-core crawler user agents", &set, true);
    assert!(found >= 0.98, "{missed:#?}");
}

/// One of isbot's fixture files (tests/data/isbot): a YAML map of a name to
/// its user agents.
fn isbot_fixture(text: &str) -> Vec<String> {
    let doc: std::collections::BTreeMap<String, Vec<String>> = serde_yaml::from_str(text).unwrap();
    doc.into_values().flatten().collect()
}

#[test]
fn isbot_browser_fixtures_stay_humans() {
    let set = isbot_fixture(include_str!("data/isbot/browsers.yml"));
    assert!(set.len() > 500, "the set has {} user agents", set.len());
    // 2 of 545 at the vendored fixtures, both bots by their own account:
    // `Yahoo! Slurp` (which isbot files under "insignificant bots") and the
    // Miniature.io screenshot service, which crawler-user-agents names.
    let (humans, flagged) = rate("isbot browser fixtures", &set, false);
    assert!(1.0 - humans <= 0.005, "{flagged:#?}");
}

#[test]
fn isbot_crawler_fixtures_are_found() {
    let set = isbot_fixture(include_str!("data/isbot/crawlers.yml"));
    assert!(set.len() > 500, "the set has {} user agents", set.len());
    let (found, missed) = rate("isbot crawler fixtures", &set, true);
    assert!(found >= 0.98, "{missed:#?}");
}
