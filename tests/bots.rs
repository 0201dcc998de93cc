//! The bot list's rates on two evaluation sets, printed for the docs
//! (`cargo test --test bots -- --nocapture`) and held to floors:
//!
//! - crawlers: every `instances` example of crawler-user-agents 1.60.0
//!   (tests/data/crawler-user-agents-instances.txt). These are the list's
//!   own examples, so the rate says the patterns are compiled and matched
//!   as upstream means them, not how many unknown crawlers it finds;
//! - real browsers: the user agents of uap-core's test_ua.yaml whose
//!   expected family is one of [`BROWSERS`], the browsers people use, less
//!   those uap-core itself classes as the `Spider` device (Google Web
//!   Preview reports itself as Chrome).

use firehose_enricher::record::is_bot;

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

fn browsers() -> Vec<String> {
    let text = include_str!("data/uap-core/test_ua.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    doc["test_cases"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|c| BROWSERS.contains(&c["family"].as_str().unwrap_or_default()))
        .filter(|c| {
            !c["user_agent_string"]
                .as_str()
                .unwrap()
                .contains("Google Web Preview")
        })
        .map(|c| c["user_agent_string"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn false_positives_on_real_browsers_stay_below_one_percent() {
    let set = browsers();
    assert!(set.len() > 150, "the set has {} user agents", set.len());
    let flagged: Vec<&String> = set.iter().filter(|ua| is_bot(ua)).collect();
    let rate = flagged.len() as f64 / set.len() as f64;
    println!(
        "false positives: {} of {} real browser user agents ({:.2}%)",
        flagged.len(),
        set.len(),
        100.0 * rate
    );
    for ua in &flagged {
        println!("  flagged: {ua}");
    }
    assert!(rate <= 0.01, "{flagged:#?}");
}

#[test]
fn crawlers_are_found() {
    let set: Vec<&str> = include_str!("data/crawler-user-agents-instances.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    let found = set.iter().filter(|ua| is_bot(ua)).count();
    let rate = found as f64 / set.len() as f64;
    println!(
        "true positives: {found} of {} crawler user agents ({:.2}%)",
        set.len(),
        100.0 * rate
    );
    assert!(
        rate >= 0.99,
        "{:#?}",
        set.iter()
            .filter(|ua| !is_bot(ua))
            .take(20)
            .collect::<Vec<_>>()
    );
}
