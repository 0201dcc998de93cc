//! The user_agent enricher against uap-core's official test files
//! (tests/data/uap-core/): every case of `test_ua.yaml` (browser family and
//! major version) and `test_os.yaml` (OS family and major version) must
//! agree. `cargo test --test uap_agreement -- --nocapture` prints the
//! rates. Then the lazily compiled parser the enricher uses against an
//! eager one, on a large mixed corpus.

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
    assert_eq!(ua, 1.0, "test_ua.yaml agreement");
    assert_eq!(os, 1.0, "test_os.yaml agreement");
}

/// The user agents of a test file (`user_agent_string` of every case).
fn user_agents(text: &str) -> Vec<String> {
    cases(text).into_iter().map(|(ua, _, _)| ua).collect()
}

/// A large mixed corpus: every user agent of uap-core's test files, every
/// example of the crawler list, the benchmark's user agents with their
/// browser versions rewritten (as `make bench` does for its 800-distinct
/// mix), and edge cases.
fn corpus() -> Vec<String> {
    let mut all = user_agents(include_str!("data/uap-core/test_ua.yaml"));
    all.extend(user_agents(include_str!("data/uap-core/test_os.yaml")));
    all.extend(
        include_str!("data/crawler-user-agents-instances.txt")
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned),
    );
    let bench = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    ];
    for k in 0..800 {
        let ua = bench[k % bench.len()];
        let version = format!("/{}.0.{}", 100 + k % 33, k % 97);
        let rewritten = ["Chrome/", "Firefox/", "Version/"]
            .iter()
            .find_map(|name| {
                let at = ua.find(name)?;
                let end = ua[at + name.len()..]
                    .find(|c: char| !c.is_ascii_digit() && c != '.')
                    .map_or(ua.len(), |e| at + name.len() + e);
                Some(format!(
                    "{}{}{}",
                    &ua[..at + name.len() - 1],
                    version,
                    &ua[end..]
                ))
            })
            .unwrap();
        all.push(rewritten);
    }
    all.extend(
        [
            "",
            " ",
            "x",
            "Mozilla/5.0",
            "Mozilla/5.0 ()",
            "curl/8.5.0",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "MOZILLA/5.0 (WINDOWS NT 10.0) CHROME/120.0",
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
            "Ünïcödé/1.0 (テスト; 中文) ☃",
            "Mozilla/5.0 (X11; Linux x86_64) \u{0}\u{7f}",
        ]
        .map(str::to_owned),
    );
    all
}

/// The lazily compiled parser the enricher uses answers exactly as one
/// built eagerly from the same regexes: every field of all three results
/// (user agent, OS, device), on every user agent of the corpus.
#[test]
fn the_lazy_parser_answers_as_the_eager_one() {
    use firehose_enricher::enrich::user_agent::{bundled_regexes, extractor, parse_with};
    let eager = ua_parser::Extractor::try_from(bundled_regexes()).unwrap();
    let lazy = extractor();
    let corpus = corpus();
    assert!(corpus.len() > 5_000, "{} user agents", corpus.len());
    let mut differ = Vec::new();
    for ua in &corpus {
        let (a, b) = (lazy.extract(ua), eager.extract(ua));
        if a != b {
            differ.push((ua, a, b));
        } else {
            assert_eq!(parse_with(lazy, ua), parse_with(&eager, ua), "{ua}");
        }
    }
    println!(
        "lazy against eager: {} user agents, {} differ",
        corpus.len(),
        differ.len()
    );
    assert!(differ.is_empty(), "{:?}", &differ[..differ.len().min(5)]);
}

/// The same from several threads at once on a fresh lazy parser: the
/// first use of a regex may race, and each is compiled once for all.
#[test]
fn the_lazy_parser_answers_the_same_from_several_threads() {
    use firehose_enricher::enrich::user_agent::bundled_regexes;
    let eager = ua_parser::Extractor::try_from(bundled_regexes()).unwrap();
    let lazy = ua_parser::Extractor::try_from_lazy(bundled_regexes()).unwrap();
    let corpus = corpus();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (lazy, eager, corpus) = (&lazy, &eager, &corpus);
            s.spawn(move || {
                // Each thread walks the corpus from its own offset, so
                // that they reach the same regexes at about the same time.
                for ua in corpus.iter().skip(t * 7).step_by(3) {
                    assert_eq!(lazy.extract(ua), eager.extract(ua), "{ua}");
                }
            });
        }
    });
}
