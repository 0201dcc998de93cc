//! `browser`, `os`, `device_type` and `is_bot`: the device dimensions, from
//! the user agent through uap-core's `regexes.yaml` (vendored in
//! `data/uap-core/`, Apache-2.0) and the `ua-parser` crate, the ua-parser
//! specification's Rust implementation.
//!
//! Parsing costs tens of microseconds, so the parser is built on the first
//! record that needs it (a function with the enricher off builds nothing),
//! and results are kept in a bounded cache shared by the container's
//! invocations: user agents repeat heavily.
//!
//! The parser is built lazily too: uap-core has about 1,270 regexes, and
//! compiling them all took about 100 ms of CPU and 29 MiB on the first
//! record of a new container, where a user agent only ever reaches a few
//! dozen. Each regex is compiled the first time the prefilter selects it,
//! and the prefilter itself (which literal atoms select which regexes) is
//! worked out by `build.rs`, not in every container
//! (`ua_parser::Extractor::try_from_precomputed`, a small patch to the
//! vendored crates, `vendor/README.md`). The answers are the same as the
//! eager parser's (`tests/uap_agreement.rs`).
//!
//! Only uap-core's user-agent and OS rules are used (637 regexes). Its 633
//! device rules (phone and tablet models, and a `Spider` device) fed two
//! answers: tablets, which the user agent's own markers give as well
//! ([`device_type`]: the same answer on 5,300 user agents but for a dozen
//! iPad-only apps, which are now tablets), and bots, where they added no
//! bot the bot lists miss (`super::bots::classify`). `build.rs` leaves them
//! out of the bundled rules, which makes the first user agent of a new
//! container and every new one after it cheaper.

use super::recent::{self, Recent};
use super::{Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, Stage};
use crate::reason::DropReason;
use crate::settings::{ConfigError, Env, FieldPath, Variable};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

pub const ENRICHER: Enricher = Enricher {
    name: "user_agent",
    optional: true,
    summary: "browser, OS and device type from the user agent (uap-core), and whether it is a bot",
    fields: &[
        Field {
            name: "browser",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "uap-core's user-agent family as it writes it (`Chrome`, `Mobile Safari`, `Other`)",
        },
        Field {
            name: "browser_version",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "the browser's major version, as a string",
        },
        Field {
            name: "os",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "uap-core's OS family (`Windows`, `iOS`, `Android`, `Other`)",
        },
        Field {
            name: "os_version",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "the OS major version, as a string",
        },
        Field {
            name: "device_type",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "`desktop`, `mobile`, `tablet`, `tv`, `console`, `wearable`, `bot` or `unknown` (see [Device type](#device-type))",
        },
        Field {
            name: "is_bot",
            json_type: JsonType::Boolean,
            athena_type: "boolean",
            presence: Presence::Omitted,
            description: "whether the user agent is a bot: crawler-user-agents or isbot's patterns, less browsers inside apps (see [Bots](#bots)); `DROP_BOTS` drops by the same test",
        },
        Field {
            name: "bot_category",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "only when `is_bot`: `search`, `ai_crawler`, `ai_agent`, `seo`, `monitoring`, `social_preview`, `feed`, `http_client` or `other` (see [Bots](#bots))",
        },
    ],
    variables: &[Variable {
        name: "USER_AGENT_FIELDS",
        default: "user_agent,userAgent,ua",
        // Each field variable's example names fields of its own kind.
        form: "a comma-separated list of field names or dotted paths, e.g. `user_agent,context.userAgent`",
        meaning: "where the user agent is, for `DROP_BOTS` and the `user_agent` enricher",
    }],
    examples: &[
        Example {
            title: "A desktop browser",
            input: r#"{"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("browser", Some(r#""Chrome""#)),
                ("browser_version", Some(r#""120""#)),
                ("os", Some(r#""Windows""#)),
                ("os_version", Some(r#""10""#)),
                ("device_type", Some(r#""desktop""#)),
                ("is_bot", Some("false")),
            ]),
        },
        Example {
            title: "A phone",
            input: r#"{"ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("browser", Some(r#""Mobile Safari""#)),
                ("os", Some(r#""iOS""#)),
                ("device_type", Some(r#""mobile""#)),
                ("is_bot", Some("false")),
            ]),
        },
        Example {
            title: "A crawler",
            input: r#"{"user_agent":"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}"#,
            variables: &[],
            output: Expected::Fields(&[("is_bot", Some("true"))]),
        },
    ],
    build,
};

/// What one user agent parses to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub browser: String,
    pub browser_version: Option<String>,
    pub os: String,
    pub os_version: Option<String>,
    pub device_type: &'static str,
    pub is_bot: bool,
    /// The bot's category; `Some` exactly when `is_bot`.
    pub bot_category: Option<super::bots::classify::Category>,
}

/// The bundled regexes.yaml (as JSON, `build.rs`), parsed anew.
pub fn bundled_regexes() -> ua_parser::Regexes<'static> {
    let json = include_str!(concat!(env!("OUT_DIR"), "/uap-regexes.json"));
    // The bundled file is checked at build time and by the tests below.
    serde_json::from_str(json).expect("the bundled regexes.yaml is valid")
}

/// The parser's prefilters, worked out from the same file by `build.rs`.
const PREFILTER: &str = include_str!(concat!(env!("OUT_DIR"), "/uap-prefilter.txt"));

/// The parser, built on first use from the regexes and their precomputed
/// prefilters, with each regex compiled the first time a user agent needs
/// it.
static EXTRACTOR: LazyLock<ua_parser::Extractor<'static>> = LazyLock::new(|| {
    // Both come from build.rs, from the same file; the tests build it too.
    ua_parser::Extractor::try_from_precomputed(bundled_regexes(), PREFILTER)
        .expect("the bundled prefilter is the bundled regexes'")
});

/// The parser [`parse`] uses (for the tests that compare it with an eager
/// one).
pub fn extractor() -> &'static ua_parser::Extractor<'static> {
    &EXTRACTOR
}

/// How many of the parser's regexes are compiled, and how many there are
/// (nothing is compiled before the parser is first used).
pub fn regexes_compiled() -> (usize, usize) {
    LazyLock::get(&EXTRACTOR).map_or((0, 0), |e| {
        let all = [e.ua.regexes(), e.os.regexes(), e.dev.regexes()];
        (
            all.iter()
                .map(|r| r.iter().filter(|r| r.is_compiled()).count())
                .sum(),
            all.iter().map(|r| r.len()).sum(),
        )
    })
}

/// The most user agents kept. A realistic day has a few thousand distinct
/// ones; beyond this the cache is emptied and refills with what is current.
const CACHE_ENTRIES: usize = 10_000;

static CACHE: LazyLock<Mutex<HashMap<Box<str>, Arc<Parsed>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether the parser has been built in this process (for the init
/// measurements and tests).
pub fn parser_built() -> bool {
    LazyLock::get(&EXTRACTOR).is_some()
}

/// Parses a user agent with uap-core's rules, without the cache.
pub fn parse(ua: &str) -> Parsed {
    parse_with(&EXTRACTOR, ua)
}

/// [`parse`] with a given parser.
pub fn parse_with(extractor: &ua_parser::Extractor<'_>, ua: &str) -> Parsed {
    // The bundled rules have no device section (see the module's header).
    let (agent, os, _) = extractor.extract(ua);
    let browser = agent.as_ref().map_or("Other", |a| &a.family).to_owned();
    let browser_version = agent.as_ref().and_then(|a| a.major).map(str::to_owned);
    let os_family = os.as_ref().map_or("Other", |o| &o.os).to_owned();
    let os_version = os
        .as_ref()
        .and_then(|o| o.major.as_deref())
        .map(str::to_owned);
    let bot_category = super::bots::classify::classify(ua);
    let is_bot = bot_category.is_some();
    let device_type = device_type(ua, &os_family, is_bot);
    Parsed {
        browser,
        browser_version,
        os: os_family,
        os_version,
        device_type,
        is_bot,
        bot_category,
    }
}

/// Empties the shared cache and this thread's (for `bench --cold-cache`).
pub fn clear_cache() {
    if let Ok(mut cache) = CACHE.lock() {
        cache.clear();
    }
    RECENT.with_borrow_mut(Recent::clear);
    WRITTEN.with_borrow_mut(Recent::clear);
}

/// Slots of the per-thread cache in front of [`CACHE`], a power of two.
const RECENT_SLOTS: usize = 1024;

thread_local! {
    /// The user agents seen lately on this thread: a hit costs a fast
    /// hash and a compare, with no lock and no SipHash (which, with the
    /// lock, was most of this stage's time on a warm cache: measured). Two
    /// agents sharing a slot only miss here, and are answered by the
    /// shared cache, whose hashing resists crafted collisions.
    static RECENT: RefCell<Recent<Arc<Parsed>>> = RefCell::new(Recent::new(RECENT_SLOTS));
}

/// Parses through the bounded caches.
pub fn parse_cached(ua: &str) -> Arc<Parsed> {
    recent::through(&RECENT, ua.as_bytes(), || {
        if let Some(hit) = CACHE.lock().ok().and_then(|c| c.get(ua).cloned()) {
            return hit;
        }
        let parsed = Arc::new(parse(ua));
        if let Ok(mut cache) = CACHE.lock() {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(ua.into(), Arc::clone(&parsed));
        }
        parsed
    })
}

/// The one bot test, for `is_bot` and `DROP_BOTS` alike
/// ([`super::bots::classify::classify`]: the bundled lists, less browsers
/// inside apps). Read from the cached parse: a user
/// agent seen before costs a lookup, not another run of the lists.
pub fn is_bot(ua: &str) -> bool {
    parse_cached(ua).is_bot
}

/// The device type, first rule that holds:
/// 1. `bot`: `is_bot`;
/// 2. `tv`, `console`, `wearable`: the user agent names a TV platform
///    (`SmartTV`, `SMART-TV`, `HbbTV`, `Web0S`, `AppleTV`, `tvOS`, `CrKey`,
///    `Roku`, `BRAVIA`, `GoogleTV`, `Android TV`), a console (`PlayStation`,
///    `Xbox`, `Nintendo`) or a watch (`Watch`, `Wear OS`);
/// 3. `tablet`: the user agent names an iPad (`iPad;`, `iPad7,6`, an
///    iPad-only app's `App-iPad/1.0`), a Kindle or Fire tablet (`Kindle`,
///    `Silk/`, a `KFTT Build`-style model code) or Puffin's iPad build
///    (`Puffin/...IT`), or says `Tablet`, or it is Android without `Mobile`
///    (Android's own convention for tablets);
/// 4. `mobile`: the user agent says `Mobi`, or the OS is iOS, Android,
///    Windows Phone, BlackBerry OS, KaiOS or Symbian OS;
/// 5. `desktop`: the OS is Windows, Mac OS X, Linux, Ubuntu, Chrome OS,
///    Fedora, Debian, FreeBSD or OpenBSD;
/// 6. `unknown` otherwise.
pub fn device_type(ua: &str, os: &str, is_bot: bool) -> &'static str {
    let has = |words: &[&str]| words.iter().any(|w| ua.contains(w));
    if is_bot {
        "bot"
    } else if has(&[
        "SmartTV",
        "SMART-TV",
        "HbbTV",
        "Web0S",
        "AppleTV",
        "tvOS",
        "CrKey",
        "Roku",
        "BRAVIA",
        "GoogleTV",
        "Android TV",
    ]) {
        "tv"
    } else if has(&["PlayStation", "Xbox", "Nintendo"]) {
        "console"
    } else if has(&["Watch", "Wear OS"]) {
        "wearable"
    } else if has(&["iPad", "Kindle", "Silk/", "Tablet"])
        || fire_tablet(ua)
        || puffin_ipad(ua)
        || (os == "Android" && !has(&["Mobi"]))
    {
        "tablet"
    } else if has(&["Mobi"])
        || matches!(
            os,
            "iOS" | "Android" | "Windows Phone" | "BlackBerry OS" | "KaiOS" | "Symbian OS"
        )
    {
        "mobile"
    } else if matches!(
        os,
        "Windows"
            | "Mac OS X"
            | "Linux"
            | "Ubuntu"
            | "Chrome OS"
            | "Fedora"
            | "Debian"
            | "FreeBSD"
            | "OpenBSD"
    ) {
        "desktop"
    } else {
        "unknown"
    }
}

/// Whether the user agent holds an Amazon Fire tablet's model code
/// (`KFTT Build`, `KFAPWI Build`: `KF`, two to six capitals, ` Build`), as
/// uap-core's Kindle rules read them. Hand-written: a regex here would be
/// one more to compile in every new container for a six-byte test.
fn fire_tablet(ua: &str) -> bool {
    ua.match_indices("KF").any(|(i, _)| {
        let rest = &ua.as_bytes()[i + 2..];
        let caps = rest.iter().take_while(|b| b.is_ascii_uppercase()).count();
        (2..=6).contains(&caps) && rest[caps..].starts_with(b" Build")
    })
}

/// Whether the user agent is Puffin's iPad build (`Puffin/5.2.2IT`).
fn puffin_ipad(ua: &str) -> bool {
    ua.match_indices("Puffin/").any(|(i, _)| {
        let after = &ua[i + "Puffin/".len()..];
        let rest = after.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        // A version, then `IT`.
        rest.len() < after.len() && rest.starts_with("IT")
    })
}

#[derive(Debug)]
struct UserAgent {
    fields: Vec<FieldPath>,
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    Ok(Arc::new(UserAgent {
        fields: env.fields("USER_AGENT_FIELDS")?,
    }))
}

impl Stage for UserAgent {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        _: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        let Some(ua) = record.first_string(&self.fields).filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        out.write_through(&WRITTEN, ua.as_bytes(), |fields| {
            write(fields, &parse_cached(&ua))
        });
        Ok(())
    }
}

/// The stage's fields for one parse.
fn write(out: &mut Fields, p: &Parsed) {
    out.string("browser", &p.browser);
    out.optional("browser_version", p.browser_version.as_deref());
    out.string("os", &p.os);
    out.optional("os_version", p.os_version.as_deref());
    out.string("device_type", p.device_type);
    out.boolean("is_bot", p.is_bot);
    if let Some(c) = p.bot_category {
        out.known("bot_category", c.as_str());
    }
}

thread_local! {
    /// The stage's fields as written for each user agent seen lately on
    /// this thread: a hit copies them, where writing them anew from the
    /// cached parse (seven fields, each scanned for bytes to escape) was
    /// about 600 instructions a record (callgrind).
    static WRITTEN: RefCell<Recent<Box<[u8]>>> = RefCell::new(Recent::new(RECENT_SLOTS));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_parse_to_device_dimensions() {
        type Case = (
            &'static str,
            &'static str,
            Option<&'static str>,
            &'static str,
            &'static str,
            bool,
        );
        let cases: &[Case] = &[
            // --- edge cases ---
            ("", "Other", None, "Other", "unknown", false),
            // A one-word agent: a tool's, by isbot's patterns.
            ("x", "Other", None, "Other", "bot", true),
            ("Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 Mobile Safari/537.36", "Chrome Mobile", Some("99"), "Android", "mobile", false),
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", Some("2"), "Other", "bot", true),
            ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", "Mobile Safari", Some("16"), "iOS", "tablet", false),
            ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "Chrome", Some("120"), "Android", "tablet", false),
            ("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36", "Samsung Internet", Some("4"), "Tizen", "tv", false),
            ("Mozilla/5.0 (PlayStation 5 3.11) AppleWebKit/605.1.15 (KHTML, like Gecko)", "Apple Mail", Some("605"), "Other", "console", false),
            // --- the plain cases ---
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "Chrome", Some("120"), "Windows", "desktop", false),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "Mobile Safari", Some("17"), "iOS", "mobile", false),
        ];
        assert!(!parser_built() || cfg!(test), "built lazily");
        for (ua, browser, major, os, device, bot) in cases {
            let p = parse_cached(ua);
            assert_eq!(p.browser, *browser, "{ua}");
            assert_eq!(p.browser_version.as_deref(), *major, "{ua}");
            assert_eq!(p.os, *os, "{ua}");
            assert_eq!(p.device_type, *device, "{ua}");
            assert_eq!(p.is_bot, *bot, "{ua}");
            assert_eq!(*p, parse(ua), "the cache answers as the parser");
        }
    }
    /// Tablets by the user agent's markers, as uap-core's iPad and Kindle
    /// device rules gave them.
    #[test]
    fn tablets_are_told_by_their_markers() {
        let cases: &[(&str, &str, &str)] = &[
            // --- edge cases: markers cut short or elsewhere ---
            ("KF", "Other", "unknown"),
            ("Puffin/", "Other", "unknown"),
            ("Puffin/8.4.0IP", "iOS", "mobile"),
            ("x KFT Build/1", "Other", "unknown"),
            ("x KFABCDEFG Build/1", "Other", "unknown"),
            ("Mozilla/5.0 (Linux; Android 9; KFTT Mobile) Chrome/1", "Android", "mobile"),
            // --- iPads ---
            ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", "iOS", "tablet"),
            ("ArcGISRuntime-iOS/100.4 (iOS 11.4; iPad7,6) arcgis-aurora/18.1.0", "iOS", "tablet"),
            ("JDSports-iPad/1.1 CFNetwork/672.0.8 Darwin/14.0.0", "iOS", "tablet"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 12_0 like Mac OS X) AppleWebKit/604.1 (KHTML, like Gecko) Puffin/8.3.0IT Mobile", "iOS", "tablet"),
            // --- Kindles and Fire tablets, which say `Mobile` ---
            ("Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/535.19 (KHTML, like Gecko) Silk/3.4 Mobile Safari/535.19 Silk-Accelerated=true", "Android", "tablet"),
            ("Mozilla/5.0 (Linux; Android 9; KFMAWI Build/PS7326) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36", "Android", "tablet"),
            ("Mozilla/5.0 (X11; U; Linux armv7l like Android; en-us) AppleWebKit/531.2+ (KHTML, like Gecko) Version/5.0 Safari/533.2+ Kindle/3.0+", "Linux", "tablet"),
            // --- phones ---
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "iOS", "mobile"),
        ];
        for (ua, os, want) in cases {
            assert_eq!(device_type(ua, os, false), *want, "{ua}");
        }
    }

    #[test]
    fn the_parser_compiles_only_the_regexes_a_user_agent_reaches() {
        // A parser of its own: the shared one's count depends on the
        // other tests.
        let lazy = ua_parser::Extractor::try_from_lazy(bundled_regexes()).unwrap();
        let count = |e: &ua_parser::Extractor<'_>| {
            [e.ua.regexes(), e.os.regexes(), e.dev.regexes()]
                .iter()
                .map(|r| (r.iter().filter(|r| r.is_compiled()).count(), r.len()))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        };
        let (compiled, all) = count(&lazy);
        assert_eq!(compiled, 0, "nothing compiled before the first parse");
        // uap-core's user-agent and OS rules; no device rules.
        assert!(all > 600, "{all} regexes");
        assert!(lazy.dev.regexes().is_empty(), "no device rules bundled");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        let p = parse_with(&lazy, chrome);
        assert_eq!((p.browser.as_str(), p.os.as_str()), ("Chrome", "Windows"));
        let (compiled, _) = count(&lazy);
        assert!(
            (1..=40).contains(&compiled),
            "{compiled} of {all} compiled for one user agent"
        );
        parse_with(&lazy, chrome);
        assert_eq!(
            count(&lazy).0,
            compiled,
            "the same user agent compiles nothing more"
        );
    }

    #[test]
    fn the_cache_keeps_a_parse_until_it_is_emptied() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:99.0) Gecko/20100101 Firefox/99.0 cache-test";
        let first = parse_cached(ua);
        assert!(
            Arc::ptr_eq(&first, &parse_cached(ua)),
            "a hit is the same parse"
        );
        clear_cache();
        let again = parse_cached(ua);
        assert!(
            !Arc::ptr_eq(&first, &again),
            "emptied, the user agent is parsed anew"
        );
        assert_eq!(*first, *again);
    }

    #[test]
    fn agents_sharing_a_slot_of_the_thread_cache_get_their_own_parse() {
        // Three times as many agents as slots: many share one, and each
        // must still come back as itself, from either cache.
        let agents: Vec<String> = (0..3 * RECENT_SLOTS)
            .map(|n| {
                format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/{n}.0.0.0 Safari/537.36")
            })
            .collect();
        for round in 0..2 {
            for (n, ua) in agents.iter().enumerate().rev() {
                let p = parse_cached(ua);
                assert_eq!(
                    p.browser_version.as_deref(),
                    Some(n.to_string().as_str()),
                    "round {round}"
                );
            }
        }
    }

    #[test]
    fn fields_are_written_only_with_a_user_agent() {
        let config =
            crate::Config::from_lookup(|n| (n == "ENRICHMENTS").then(|| "user_agent".to_owned()))
                .unwrap();
        let cases: &[(&str, &str)] = &[
            (r#"{}"#, ""),
            (r#"{"user_agent":null}"#, ""),
            (r#"{"user_agent":""}"#, ""),
            (r#"{"user_agent":42}"#, ""),
            (
                r#"{"ua":"x"}"#,
                r#","browser":"Other","os":"Other","device_type":"bot","is_bot":true,"bot_category":"other""#,
            ),
            (
                r#"{"userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}"#,
                r#","browser":"Chrome","browser_version":"120","os":"Windows","os_version":"10","device_type":"desktop","is_bot":false"#,
            ),
        ];
        for (input, want) in cases {
            let t = crate::record::transform(input.as_bytes(), 0, &config);
            let line = String::from_utf8(t.data).unwrap();
            let fields = &line[line.find(r#""event_time""#).unwrap()..];
            let after_time = &fields[fields.find(r#","site":"#).unwrap()..];
            let ours = &after_time[after_time
                .find(",\"browser\"")
                .unwrap_or(after_time.len() - 2)
                ..after_time.len() - 2];
            assert_eq!(ours, *want, "{input}: {line}");
        }
    }
}
