//! The user_agent enricher against uap-core's official test files
//! (tests/data/uap-core/): every case of `test_ua.yaml` (browser family and
//! major version) and `test_os.yaml` (OS family and major version) must
//! agree at 99.5% or more. `cargo test --test uap_agreement -- --nocapture`
//! prints the rates.

use firehose_enricher::enrich::user_agent::parse;

fn cases(text: &str) -> Vec<(String, String, Option<String>)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    doc["test_cases"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            let major = c["major"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| c["major"].as_u64().map(|n| n.to_string()))
                .filter(|m| !m.is_empty());
            (
                c["user_agent_string"].as_str().unwrap().to_owned(),
                c["family"].as_str().unwrap().to_owned(),
                major,
            )
        })
        .collect()
}

fn agreement(name: &str, text: &str, pick: fn(&str) -> (String, Option<String>)) -> f64 {
    let set = cases(text);
    let mut misses = Vec::new();
    for (ua, family, major) in &set {
        let got = pick(ua);
        if got != (family.clone(), major.clone()) {
            misses.push((ua, family, major, got));
        }
    }
    let rate = 1.0 - misses.len() as f64 / set.len() as f64;
    println!(
        "{name}: {} of {} agree ({:.2}%)",
        set.len() - misses.len(),
        set.len(),
        100.0 * rate
    );
    for m in misses.iter().take(10) {
        println!("  {m:?}");
    }
    rate
}

#[test]
fn browser_and_os_agree_with_uap_core() {
    let ua = agreement(
        "test_ua.yaml",
        include_str!("data/uap-core/test_ua.yaml"),
        |ua| {
            let p = parse(ua);
            (p.browser, p.browser_version)
        },
    );
    let os = agreement(
        "test_os.yaml",
        include_str!("data/uap-core/test_os.yaml"),
        |ua| {
            let p = parse(ua);
            (p.os, p.os_version)
        },
    );
    assert!(ua >= 0.995, "test_ua.yaml agreement {ua}");
    assert!(os >= 0.995, "test_os.yaml agreement {os}");
}
