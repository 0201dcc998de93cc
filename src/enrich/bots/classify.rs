//! The bot test (`is_bot`, `bot_category`), for the `user_agent` enricher
//! and the `bots` stage (`DROP_BOTS`).
//!
//! A user agent is a bot when, and only when, it is not a human's app (the
//! policy below) and one of these says so:
//! - crawler-user-agents (`src/bots/crawler-user-agents.txt`, MIT): 1,500
//!   named crawlers, tools and services, each tagged by upstream
//!   (`search-engine`, `ai-crawler`, `seo`, ...); it names bots precisely
//!   and gives most categories;
//! - isbot's pattern list (`src/bots/isbot-patterns.txt`, Unlicense): about
//!   200 generic patterns (`bot`, `crawl`, `spider`, `http` libraries,
//!   headless browsers, `^[\w-]+/[\d.]+$`-style tool agents), written to keep
//!   real browsers out; it catches the long tail the named list lacks.
//!
//! uap-core's `Spider` device is not asked: on every evaluation set of
//! tests/bots.rs it caught no bot the two lists miss, and it called four
//! of isbot's browser fixtures bots (its catch-all rule matches `bot`
//! inside words: `Banca Caboto`, `turbotabbee`). Leaving it out also lets
//! the user-agent parser skip uap-core's 633 device rules
//! (`src/enrich/user_agent.rs`).
//!
//! **Policy: browsers inside apps are humans.** Facebook, Instagram,
//! LinkedIn, TikTok, WeChat and other in-app browsers, Electron desktop apps
//! (Slack, VS Code-style editors, Discord, Teams) and mail clients that
//! render pages are people reading a page; [`HUMAN_APPS`] lists their
//! markers, and a user agent carrying one is not a bot unless it also names
//! itself one (`bot`, `crawler`, `spider`, `externalhit`, `preview`).
//!
//! **Categories.** `bot_category` is, first rule that holds: the
//! [`AGENTS`] table's `ai_agent` (fetches made for a user now, which
//! crawler-user-agents tags `ai-crawler` too); the tags of the
//! crawler-user-agents patterns that match, by [`Category::from_tag`], the
//! highest-ranked category winning; the [`FALLBACK`] keyword table (for
//! what only isbot catches); `other`.

use super::javascript;
use regex_filtered::{LazyRegex, Options};
use std::ops::Range;
use std::sync::LazyLock;

/// What kind of bot a user agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Fetches made on a user's behalf by an AI assistant (ChatGPT-User,
    /// Perplexity-User, Claude-User).
    AiAgent,
    /// Training and indexing crawlers of AI companies (GPTBot, ClaudeBot,
    /// CCBot, Google-Extended, Bytespider).
    AiCrawler,
    /// Search engines' crawlers (Googlebot, bingbot, YandexBot).
    Search,
    /// Link previews (facebookexternalhit, Twitterbot, Slackbot).
    SocialPreview,
    /// Feed readers and podcast fetchers.
    Feed,
    /// Uptime and performance monitors, health checks.
    Monitoring,
    /// SEO and marketing crawlers (AhrefsBot, SemrushBot, MJ12bot).
    Seo,
    /// Libraries, command-line tools and headless browsers (curl,
    /// python-requests, HeadlessChrome).
    HttpClient,
    /// Every other bot (archivers, scanners, ad and academic crawlers).
    Other,
}

impl Category {
    /// In rank order: when a user agent's tags give several, the first wins.
    pub const ALL: [Category; 9] = [
        Category::AiAgent,
        Category::AiCrawler,
        Category::Search,
        Category::SocialPreview,
        Category::Feed,
        Category::Monitoring,
        Category::Seo,
        Category::HttpClient,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Search => "search",
            Category::AiCrawler => "ai_crawler",
            Category::AiAgent => "ai_agent",
            Category::Seo => "seo",
            Category::Monitoring => "monitoring",
            Category::SocialPreview => "social_preview",
            Category::Feed => "feed",
            Category::HttpClient => "http_client",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// A crawler-user-agents tag's category.
    pub fn from_tag(tag: &str) -> Option<Category> {
        Some(match tag {
            "search-engine" => Category::Search,
            "ai-crawler" => Category::AiCrawler,
            "seo" => Category::Seo,
            "monitoring" => Category::Monitoring,
            "social-preview" => Category::SocialPreview,
            "feed-reader" => Category::Feed,
            "http-library" | "browser-automation" => Category::HttpClient,
            "advertising" | "archiver" | "scanner" | "academic" => Category::Other,
            _ => return None,
        })
    }
}

/// Markers of browsers embedded in apps, whose users are people: in-app
/// browsers (Facebook `FBAN`/`FBAV`/`FB_IAB`, Instagram, LinkedIn, TikTok
/// `musical_ly`/`BytedanceWebview`, WeChat `MicroMessenger`, LINE, Snapchat,
/// Pinterest, Twitter, Viber's app and desktop app, not its bare `Viber`
/// link-preview fetcher), the Google app (`GSA`), Electron desktop apps
/// (Slack, Discord, Teams, VS Code-style editors, any `Electron/`), Fluid's
/// site-specific browsers, Firefox for Android's own fetches
/// (`MozacFetch`), and mail clients (Thunderbird, Outlook), the Apple News
/// app; and browsers the lists
/// mistake for bots: Internet Explorer with the Chrome Frame plug-in
/// (isbot's `chromeframe`), Opera Mini and Opera Mobile (whose version
/// numbers hold crawler-user-agents' `008/`, and some of whose agents start
/// with `(`, an isbot pattern).
pub const HUMAN_APPS: &str = r"FBAN/|FBAV/|FB_IAB/|FBIOS|Instagram [0-9]|LinkedInApp|musical_ly|BytedanceWebview|MicroMessenger/|\bLine/[0-9]|Snapchat/?[0-9]|Pinterest for|\[Pinterest/|Twitter for|TwitterAndroid|\bGSA/[0-9]|Electron/[0-9]|Slack_SSB/|\bSlack/[0-9]|discord/[0-9]|Teams/[0-9]|\bCode/[0-9]|Thunderbird/[0-9]|Microsoft Outlook|ms-office|Outlook-iOS|Outlook-Android|AppleNews/[0-9]|Viber/[0-9]|Safari/[0-9.]+ Viber\b|\bFluid/[0-9]|^MozacFetch/[0-9]|; chromeframe|Opera Mini/[0-9]|Opera Mobi/[0-9]";

/// Words by which a user agent names itself a bot, which the human-app
/// markers do not override (`Slackbot`, `facebookexternalhit`): bot words,
/// a contact URL (browsers carry none; crawlers give one to webmasters),
/// and test and monitoring tools built on an app's browser: Pingdom's
/// Electron-based transaction monitor, the Cypress test runner, WeChat's
/// developer tools and Tencent Cloud's CDN probe, which carries them.
const SELF_DECLARED: &str = r"(?i)bot\b|bot/|crawl|spider|externalhit|preview|fetcher|https?://|pingdom|cypress/|wechatdevtools|qcloudcdn";

/// Fetches made for a user by an AI assistant, which crawler-user-agents
/// tags `ai-crawler` with the training crawlers.
pub const AGENTS: &str = r"ChatGPT-User|ChatGPT Agent|Perplexity-User|Claude-User|MistralAI-User|Meta-ExternalFetcher|DuckAssistBot|Google-NotebookLM|Gemini-Deep-Research|Manus-User|Devin|kagi-fetcher|YouBot-User|Cohere-User|Grok-User";

/// The categories of bots no crawler-user-agents tag describes (what only
/// isbot's patterns catch), by keyword, first match wins.
pub const FALLBACK: &[(Category, &str)] = &[
    (
        Category::AiCrawler,
        r"(?i)GPTBot|OAI-SearchBot|ClaudeBot|Claude-SearchBot|anthropic-ai|CCBot|Google-Extended|GoogleOther|PerplexityBot|Bytespider|Amazonbot|Applebot-Extended|meta-externalagent|cohere-ai|Diffbot|YouBot|AI2Bot|Ai2Bot-Dolma|Timpibot|ImagesiftBot|omgili|img2dataset|PetalBot",
    ),
    (
        Category::Search,
        r"(?i)Googlebot|bingbot|msnbot|BingPreview|YandexBot|Yandex[A-Z][a-z]+|Baiduspider|DuckDuckBot|Applebot|Slurp|Sogou|SeznamBot|Qwantify|Qwantbot|Yeti/|NaverBot|coccocbot|Exabot|MojeekBot|Mojeek|ia_archiver|search",
    ),
    (
        Category::SocialPreview,
        r"(?i)facebookexternalhit|facebookcatalog|facebot|Twitterbot|LinkedInBot|Slackbot|Slack-ImgProxy|Discordbot|TelegramBot|WhatsApp/|Pinterestbot|redditbot|Embedly|SkypeUriPreview|vkShare|Iframely|Mastodon/|Bluesky|Snap URL Preview|Google-PageRenderer|link ?preview|W3C_Validator",
    ),
    (
        Category::Feed,
        r"(?i)feed|rss|atom|podcast|NewsBlur|Inoreader|Feedly|Bloglovin|Blogtrottr|Overcast|Pocket Casts|Downcast",
    ),
    (
        Category::Monitoring,
        r"(?i)monitor|uptime|pingdom|StatusCake|Site24x7|Datadog|NewRelic|health ?check|Catchpoint|GTmetrix|Lighthouse|PageSpeed|check_http|Nagios|Zabbix|ApacheBench|collectd|Better Uptime",
    ),
    (
        Category::Seo,
        r"(?i)Ahrefs|Semrush|MJ12bot|DotBot|Screaming Frog|rogerbot|BLEXBot|serpstat|SEOkicks|seo|SiteAudit|DataForSeo|Barkrowler|linkdex|Majestic",
    ),
    (
        Category::HttpClient,
        r"(?i)curl/|Wget/|python-requests|python-urllib|python-httpx|aiohttp|Go-http-client|okhttp|axios|node-fetch|undici|Java/|Apache-HttpClient|libwww-perl|LWP::|HeadlessChrome|PhantomJS|Puppeteer|Playwright|Selenium|Cypress/|Scrapy|http_request|Guzzle|reqwest|PostmanRuntime|insomnia|got \(|^Ruby|Faraday|RestSharp|HTTPie|Dalvik/[0-9.]+ \(Linux; U; Android [0-9.]+; sdk",
    ),
];

fn lines(text: &'static str) -> Vec<&'static str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}

/// The bot list: the patterns of monperrus/crawler-user-agents (MIT,
/// `src/bots/`), one regular expression each, matched case-sensitively as
/// upstream tests them. Built on first use, so a function that never asks
/// (`DROP_BOTS=off`, no user-agent enricher) pays nothing at init.
///
/// A prefiltered set (`regex-filtered`, as the user-agent parser uses):
/// the literal atoms of the patterns, worked out by `build.rs`, select the
/// few patterns a user agent could match, and each is compiled the first
/// time it is selected. Compiling the 1,500 as one alternation took 8 to
/// 12 ms of CPU in every new container (on a loaded 2-core machine), and
/// its lazy DFA 1 to 2 ms more on the first user agent; this reads the
/// precomputed prefilter and builds its Aho-Corasick automaton.
pub(crate) static BOTS: LazyLock<regex_filtered::Regexes> = LazyLock::new(|| {
    let patterns = include_str!("../../bots/crawler-user-agents.txt")
        .lines()
        .filter(|l| !l.is_empty());
    let prefilter = include_str!(concat!(env!("OUT_DIR"), "/bots-prefilter.txt"));
    // Both come from build.rs, from the same file; the tests build it too.
    regex_filtered::Builder::from_precomputed(prefilter)
        .expect("the bundled bot prefilter is readable")
        .one_shot(true)
        .push_all(patterns)
        .expect("the bundled bot prefilter is the bundled patterns'")
        .build()
        .expect("the bundled bot prefilter builds")
});

/// Each crawler-user-agents pattern's categories, from its upstream tags
/// (`src/bots/crawler-user-agents-tags.txt`, a line per pattern).
static TAGS: LazyLock<Vec<Vec<Category>>> = LazyLock::new(|| {
    include_str!("../../bots/crawler-user-agents-tags.txt")
        .lines()
        .map(|l| l.split(',').filter_map(Category::from_tag).collect())
        .collect()
});

/// One of isbot's patterns with JavaScript lookaround, which the `regex`
/// crate does not have: `(?<!A|B)core(?!C)` is matched as `core`, then
/// each match is kept only when the text before it ends in none of the
/// lookbehind's alternatives and the text after it does not start with the
/// lookahead. Six of isbot's patterns have that form (checked when built).
struct Lookaround {
    /// The core's pattern, compiled the first time a user agent holds
    /// `needle` (see [`needle`]).
    core: LazyRegex,
    /// Text every match of the core contains, lowercase: a browser's
    /// agent seldom holds any of these cores' (`google`, `bot`, `scan`,
    /// `http`), so its first user agent compiles none of them (about
    /// 3.3 M instructions for a new container, callgrind).
    needle: String,
    behind: Vec<String>,
    /// The lookahead's pattern, compiled the first time the core matches:
    /// a browser's agent seldom gets that far, and every regex built costs
    /// a new container about 0.4 M instructions (callgrind).
    ahead: Option<LazyRegex>,
}

impl Lookaround {
    fn parse(pattern: &str) -> Option<Lookaround> {
        let mut rest = pattern;
        let mut behind = Vec::new();
        if let Some(after) = rest.strip_prefix("(?<!") {
            let close = after.find(')')?;
            behind = after[..close]
                .split('|')
                .map(str::to_ascii_lowercase)
                .collect();
            rest = &after[close + 1..];
        }
        let mut ahead = None;
        if let Some(i) = rest.find("(?!") {
            let inner = &rest[i + 3..rest.len() - 1];
            if !rest.ends_with(')') {
                return None;
            }
            ahead = Some(ci(&format!("^(?:{inner})")));
            rest = &rest[..i];
        }
        if javascript::has_lookaround(rest) {
            return None;
        }
        Some(Lookaround {
            core: ci(rest),
            needle: needle(rest),
            behind,
            ahead,
        })
    }

    /// Whether the pattern matches `ua`; `lower` is `ua` lowercased when
    /// it is ASCII (see [`ascii_lower`]), made once for all the patterns.
    fn is_match(&self, ua: &str, lower: Option<&str>) -> bool {
        if lower.is_some_and(|lower| !lower.contains(&self.needle)) {
            return false;
        }
        let Ok(core) = self.core.get_for(ua) else {
            return false;
        };
        self.search(ua, |at| core.find_at(ua, at).map(|m| m.range()))
    }

    /// Whether the core matches `ua` with the lookaround holding, the
    /// core's matches found by `find_at` (its leftmost match starting at
    /// or after an offset).
    fn search(&self, ua: &str, find_at: impl Fn(usize) -> Option<Range<usize>>) -> bool {
        let mut at = 0;
        while let Some(m) = find_at(at) {
            let before = ua[..m.start].to_ascii_lowercase();
            let ok_behind = !self.behind.iter().any(|b| before.ends_with(b.as_str()));
            let ok_ahead = self
                .ahead
                .as_ref()
                .is_none_or(|a| !a.is_match(&ua[m.end..]));
            if ok_behind && ok_ahead {
                return true;
            }
            // The next match may start inside this one.
            at = ua[m.start..]
                .char_indices()
                .nth(1)
                .map_or(ua.len() + 1, |(i, _)| m.start + i);
            if at > ua.len() {
                break;
            }
        }
        false
    }
}

/// `ua` lowercased, for the lookaround patterns' needles, when it is
/// ASCII: case-insensitive, their cores also match a few non-ASCII letters
/// (`ſ` for `s`, the Kelvin sign for `k`), so only an ASCII agent is
/// answered by a needle alone.
fn ascii_lower(ua: &str) -> Option<String> {
    ua.is_ascii().then(|| ua.to_ascii_lowercase())
}

/// The literal a pattern starts with, lowercase, up to its first
/// metacharacter (a character a quantifier follows left out): text every
/// match contains. Empty for a pattern that starts with anything else.
fn needle(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii_alphanumeric() && !matches!(c, ' ' | '-' | '/' | '_') {
            break;
        }
        if matches!(chars.peek(), Some('?' | '*' | '{' | '+')) {
            break;
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A bundled pattern, case-insensitive, compiled on first use, for an
/// ASCII agent without Unicode (see [`LazyRegex::new`]; the tests compile
/// every one). With a lazy DFA, as the `regex` crate compiles: these are
/// searched in every agent a list calls a bot, and for those the bounded
/// backtracker took 185 M instructions more than the DFA on 800 distinct
/// user agents (callgrind: 535 M for init and the first invocation).
fn ci(pattern: &str) -> LazyRegex {
    LazyRegex::new(pattern, Options::new().case_insensitive(true), false)
}

/// A bundled pattern, as [`ci`] but case-sensitive unless it says `(?i)`.
fn cs(pattern: &str) -> LazyRegex {
    LazyRegex::new(pattern, &Options::new(), false)
}

/// isbot: its patterns without lookaround as a prefiltered set, like the
/// bot list's, and the six with lookaround one by one.
///
/// The set, not one alternation: a case-insensitive alternation of 200
/// patterns is a large automaton, and its lazy DFA built new states for
/// nearly every new user agent, about 0.4 G instructions for 800 distinct
/// ones in a new container (measured with callgrind). The prefilter's atoms
/// (searched in the lowercased user agent) select the few patterns that can
/// match, plus the 30-odd that have none (`^[<(;]`, `^[^ ]{50,}$`), each
/// compiled on first use.
struct Generic {
    plain: regex_filtered::Regexes,
    lookaround: Vec<Lookaround>,
}

static GENERIC: LazyLock<Generic> = LazyLock::new(|| {
    let patterns: Vec<String> = lines(include_str!("../../bots/isbot-patterns.txt"))
        .into_iter()
        .map(javascript::from_javascript)
        .collect();
    let (around, plain): (Vec<&String>, Vec<&String>) =
        patterns.iter().partition(|p| javascript::has_lookaround(p));
    let prefilter = include_str!(concat!(env!("OUT_DIR"), "/isbot-prefilter.txt"));
    let options = javascript::isbot_options();
    // Both come from build.rs, from the same file; the tests build it too.
    let plain = plain
        .into_iter()
        .try_fold(
            regex_filtered::Builder::from_precomputed(prefilter)
                .expect("the bundled isbot prefilter is readable")
                .one_shot(true),
            |b, p| b.push_opt(p, &options),
        )
        .expect("the bundled isbot prefilter is the bundled patterns'")
        .build()
        .expect("the bundled isbot prefilter builds");
    let lookaround = around
        .iter()
        .map(|p| Lookaround::parse(p).unwrap_or_else(|| panic!("isbot pattern {p:?}")))
        .collect();
    Generic { plain, lookaround }
});

static HUMAN_APP: LazyLock<LazyRegex> = LazyLock::new(|| cs(HUMAN_APPS));

/// Built the first time an app's marker is found: most containers may
/// never see one, and it is a case-insensitive alternation (about 2.5 M
/// instructions to build as a `regex::Regex`, callgrind).
static DECLARED: LazyLock<LazyRegex> = LazyLock::new(|| cs(SELF_DECLARED));

static AGENT: LazyLock<LazyRegex> = LazyLock::new(|| cs(AGENTS));

static FALLBACKS: LazyLock<Vec<(Category, LazyRegex)>> =
    LazyLock::new(|| FALLBACK.iter().map(|(c, p)| (*c, cs(p))).collect());

/// Whether crawler-user-agents names the user agent.
pub fn on_named_list(ua: &str) -> bool {
    BOTS.is_match(ua)
}

/// Whether isbot's patterns match the user agent.
pub fn on_generic_list(ua: &str) -> bool {
    let g = &*GENERIC;
    if g.plain.is_match(ua) {
        return true;
    }
    let lower = ascii_lower(ua);
    g.lookaround
        .iter()
        .any(|l| l.is_match(ua, lower.as_deref()))
}

/// Whether the user agent is a person's app by the policy above.
pub fn is_human_app(ua: &str) -> bool {
    HUMAN_APP.is_match(ua) && !DECLARED.is_match(ua)
}

/// The bot test: `None` for a human, else the bot's category. Uncached:
/// callers go through `user_agent`'s cache.
pub fn classify(ua: &str) -> Option<Category> {
    let ua = ua.trim();
    // A header line pasted whole into the value (`User-Agent:Mozilla/5.0
    // (...`, by a misconfigured client or proxy) is read without its name:
    // isbot's `agent\b` would otherwise call every such browser a bot.
    let ua = match ua.get(..11) {
        Some(name) if name.eq_ignore_ascii_case("user-agent:") => ua[11..].trim_start(),
        _ => ua,
    };
    // A browser's agent URL-encoded on the way (`Mozilla/5.0+(iPhone;+CPU`,
    // by a proxy or a logging SDK) is read with its spaces back: isbot's
    // "50 characters without a space" pattern would call it a tool.
    let decoded;
    let ua = if ua.starts_with("Mozilla/") && !ua.contains(' ') && ua.contains('+') {
        decoded = ua.replace('+', " ");
        decoded.as_str()
    } else {
        ua
    };
    // A browser's agent cut at the front (`(iPhone; CPU iPhone OS 16_4_1
    // ...) AppleWebKit/...`, `; Android 11) AppleWebKit/...`: a length
    // limit or a split log line upstream) is read as the browser it was:
    // isbot's `^[<(;]` is meant for markup and junk, not for these.
    let restored;
    let ua = if ua.starts_with(['(', ';']) && ua.contains(") AppleWebKit/") {
        restored = format!("Mozilla/5.0 {ua}");
        restored.as_str()
    } else {
        ua
    };
    if ua.is_empty() {
        return None;
    }
    // The lists first, the human-app markers only for what they call a
    // bot: the same answer, and a browser's agent, which no list names,
    // never builds the markers' regex (about 2.4 M instructions in a new
    // container, callgrind).
    let named: Vec<usize> = BOTS.matching_indices(ua).collect();
    if named.is_empty() && !on_generic_list(ua) {
        return None;
    }
    if is_human_app(ua) {
        return None;
    }
    if AGENT.is_match(ua) {
        return Some(Category::AiAgent);
    }
    let tags = &*TAGS;
    let tagged = named
        .iter()
        .flat_map(|i| tags.get(*i).into_iter().flatten().copied())
        .min();
    // A tag other than `other` decides; `other` gives way to a keyword.
    if let Some(c) = tagged.filter(|c| *c != Category::Other) {
        return Some(c);
    }
    let keyword = FALLBACKS
        .iter()
        .find(|(_, re)| re.is_match(ua))
        .map(|(c, _)| *c);
    Some(keyword.or(tagged).unwrap_or(Category::Other))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::user_agent::is_bot;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    #[test]
    fn bots_humans_and_categories() {
        use Category::*;
        let cases: &[(&str, Option<Category>)] = &[
            // --- edge cases: phones whose model names hold "bot" ---
            ("Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 Mobile Safari/537.36", None),
            ("Mozilla/5.0 (Linux; Android 9; CUBOT_NOTE_7 Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.106 Mobile Safari/537.36", None),
            ("Mozilla/5.0 (Linux; Android 11; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.45 Mobile Safari/537.36", None),
            ("", None),
            // isbot matches "bot" alone.
            ("bot", Some(Other)),
            // --- edge cases: agents mangled on the way, read as what they were ---
            ("User-Agent:Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", None),
            ("user-agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", None),
            ("User-Agent: curl/8.4.0", Some(HttpClient)),
            ("User-Agent:", None),
            ("(iPhone; CPU iPhone OS 16_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.4 Mobile/15E148 Safari/605.1.15", None),
            ("; Android 11) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/96.0.4664.45 Mobile Safari/537.36", None),
            ("<script>alert(1)</script>", Some(Other)),
            ("(compatible; MSIE 6.0)", Some(Other)),
            // --- humans: real browsers ---
            (CHROME, None),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", None),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", None),
            // --- humans: browsers inside apps (the policy) ---
            ("Mozilla/5.0 (Windows NT 10.0.18362; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.4.2 Chrome/78.0.3904.130 Electron/7.2.1 Safari/537.36 WindowsStore/10.0.18362 Sonic Slack_SSB/4.4.2", None),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Code/1.85.1 Chrome/114.0.5735.289 Electron/25.9.7 Safari/537.36", None),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Atom/1.45.0 Chrome/69.0.3497.128 Electron/4.2.7 Safari/537.36", None),
            ("Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) discord/0.0.306 Chrome/78.0.3904.130 Electron/7.1.11 Safari/537.36", None),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 13_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone11,8;FBMD/iPhone;FBSN/iOS;FBSV/13.3.1;FBSS/2;FBID/phone;FBLC/en_US;FBOP/5;FBCR/]", None),
            ("Mozilla/5.0 (Linux; Android 9; SM-G950U Build/PPR1.180610.011; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/80.0.3987.149 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/263.0.0.46.121;]", None),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 13_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 123.1.0.26.115 (iPhone11,8; iOS 13_3; en_US; en-US; scale=2.00; 828x1792; 190542906)", None),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.27.4361", None),
            ("Mozilla/5.0 (Linux; Android 10; SM-G973F Build/QQ3A.200805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/85.0.4183.101 Mobile Safari/537.36 trill_2021806060 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly app_version/18.6.6", None),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.5.0", None),
            ("Mozilla/5.0 (Linux; Android 7.1.2; G011A Build/N2G48H; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/66.0.3359.158 Safari/537.36 Viber/11.9.5.8", None),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_4) AppleWebKit/537.36 (KHTML, like Gecko) QtWebEngine/5.6.0 Chrome/45.0.2454.101 Safari/537.36 Viber", None),
            ("Viber/12.8.0.1 CFNetwork/1121.2.2 Darwin/19.3.0", None),
            ("MozacFetch/49.0.20200702190156", None),
            ("Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_5_6; en-us) AppleWebKit/528.16 (KHTML, like Gecko) Fluid/0.9.6 Safari/528.16", None),
            // ... unless they call themselves bots.
            ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", Some(SocialPreview)),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Cypress/3.3.2 Chrome/61.0.3163.100 Electron/2.0.18 Safari/537.36", Some(HttpClient)),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 13_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/7.0.12(0x17000c2f) NetType/4G Language/zh_CN wechatdevtools qcloudcdn-xinan", Some(Other)),
            ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", Some(SocialPreview)),
            // Viber's link-preview fetcher sends its name alone.
            ("Viber", Some(SocialPreview)),
            // --- crawlers by category ---
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", Some(Search)),
            ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", Some(Search)),
            ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", Some(AiCrawler)),
            ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", Some(AiCrawler)),
            ("CCBot/2.0 (https://commoncrawl.org/faq/)", Some(AiCrawler)),
            ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ChatGPT-User/1.0; +https://openai.com/bot)", Some(AiAgent)),
            ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Perplexity-User/1.0; +https://perplexity.ai/perplexity-user)", Some(AiAgent)),
            ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-User/1.0; +Claude-User@anthropic.com)", Some(AiAgent)),
            ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", Some(Seo)),
            ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", Some(Seo)),
            ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", Some(Monitoring)),
            ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", Some(Monitoring)),
            ("Twitterbot/1.0", Some(SocialPreview)),
            ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 16 subscribers; )", Some(Feed)),
            ("python-requests/2.31.0", Some(HttpClient)),
            ("curl/8.4.0", Some(HttpClient)),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", Some(HttpClient)),
            // --- not on crawler-user-agents: isbot's ---
            ("Java/1.8.0_25", Some(HttpClient)),
            ("SheenBot/SheenBot-1.0.4 (Sheen web crawler)", Some(Other)),
            ("noobot Spider/Noobot-1.2 (noobot-bot; http://www.noobot.fr)", Some(Other)),
        ];
        for (ua, want) in cases {
            let p = crate::enrich::user_agent::parse(ua);
            assert_eq!(p.bot_category, *want, "{ua}");
            assert_eq!(is_bot(ua), want.is_some(), "{ua}");
        }
        // A phone's model name alone is not on the named list (isbot's
        // one-word-agent pattern does call a bare `CUBOT_X30` a bot: no
        // browser sends that).
        for ua in ["CUBOT_X30", "CUBOT_NOTE_7", "CUBOT_P30"] {
            assert!(!on_named_list(ua), "{ua}");
        }
    }

    /// User agents to hold the prefiltered sets to their patterns as one
    /// alternation: every crawler example, isbot's fixtures, every fourth
    /// user agent of uap-core's test files (an alternation is slow to match
    /// in a debug build), and edge cases.
    fn corpus() -> Vec<&'static str> {
        let uap = [
            include_str!("../../../tests/data/uap-core/test_ua.yaml"),
            include_str!("../../../tests/data/uap-core/test_os.yaml"),
        ];
        let isbot = [
            include_str!("../../../tests/data/isbot/browsers.yml"),
            include_str!("../../../tests/data/isbot/crawlers.yml"),
        ];
        let corpus: Vec<&str> =
            include_str!("../../../tests/data/crawler-user-agents-instances.txt")
                .lines()
                .chain(isbot.iter().flat_map(|f| f.lines()).filter_map(|l| {
                    let ua = l.strip_prefix("  - ")?;
                    Some(ua.trim_matches('"'))
                }))
                .chain(
                    uap.iter()
                        .flat_map(|f| f.lines())
                        .filter_map(|l| {
                            let ua = l.trim().strip_prefix("- user_agent_string: ")?;
                            Some(ua.trim_matches(|c| c == '\'' || c == '"'))
                        })
                        .step_by(4),
                )
                .chain([
                    "",
                    "x",
                    "bot",
                    "Googlebot",
                    "GOOGLEBOT",
                    "googlebot/2.1",
                    "ÄÖÜ/1.0",
                ])
                .collect();
        assert!(corpus.len() > 3_500, "{}", corpus.len());
        corpus
    }

    /// The patterns matched one by one (the human-app markers, the
    /// self-declared words, the agents, the fallback keywords, the
    /// lookaround cores and lookaheads), compiled lazily and without
    /// Unicode for an ASCII agent, answer as the `regex` crate's regex of
    /// each, on the corpus and on agents where Unicode case folding and
    /// word characters would tell (`ſ`, the Kelvin sign, `é` after a word).
    #[test]
    fn the_single_patterns_answer_as_the_regex_crate() {
        let mut agents = corpus();
        agents.extend([
            "\u{17f}eo spider",
            "\u{212a}agi-fetcher",
            "Twitterbot\u{e9}",
            "botévolution",
            "x bot\u{e9}/1.0",
            "CURL/8.0",
            "Dalvik/2.1.0 (Linux; U; Android 13; sdk_gphone64)",
        ]);
        let mut singles: Vec<(&LazyRegex, bool)> =
            vec![(&*HUMAN_APP, false), (&*DECLARED, false), (&*AGENT, false)];
        singles.extend(FALLBACKS.iter().map(|(_, re)| (re, false)));
        for l in &GENERIC.lookaround {
            singles.push((&l.core, true));
            singles.extend(l.ahead.iter().map(|a| (a, true)));
        }
        assert!(singles.len() > 12, "{}", singles.len());
        for (lazy, caseless) in singles {
            let oracle = regex::RegexBuilder::new(lazy.as_str())
                .case_insensitive(caseless)
                .build()
                .unwrap();
            assert!(lazy.get().is_ok(), "{}", lazy.as_str());
            for ua in &agents {
                assert_eq!(
                    lazy.is_match(ua),
                    oracle.is_match(ua),
                    "{} on {ua:?}",
                    lazy.as_str()
                );
            }
        }
    }

    /// The prefiltered set answers as the 1,500 patterns compiled as one
    /// alternation (how the list was matched before).
    #[test]
    fn the_prefiltered_bot_list_answers_as_one_alternation() {
        let alternation: Vec<String> = include_str!("../../bots/crawler-user-agents.txt")
            .lines()
            .filter(|l| !l.is_empty())
            .map(|p| format!("(?:{p})"))
            .collect();
        let one = regex::RegexBuilder::new(&alternation.join("|"))
            .size_limit(64 << 20)
            .build()
            .unwrap();
        let corpus = corpus();
        let mut bots = 0;
        for ua in &corpus {
            let want = one.is_match(ua);
            assert_eq!(on_named_list(ua), want, "{ua}");
            bots += usize::from(want);
        }
        assert!(bots > 1_500 && bots < corpus.len(), "{bots} bots");
    }

    /// isbot's patterns without lookaround, prefiltered, answer as one
    /// case-insensitive alternation (how they were matched before).
    #[test]
    fn the_prefiltered_isbot_set_answers_as_one_alternation() {
        let plain: Vec<String> = lines(include_str!("../../bots/isbot-patterns.txt"))
            .into_iter()
            .map(javascript::from_javascript)
            .filter(|p| !javascript::has_lookaround(p))
            .map(|p| format!("(?:{p})"))
            .collect();
        assert!(plain.len() > 150, "{} patterns", plain.len());
        let one = regex::RegexBuilder::new(&plain.join("|"))
            .case_insensitive(true)
            .size_limit(64 << 20)
            .build()
            .unwrap();
        let corpus = corpus();
        let mut hits = 0;
        for ua in &corpus {
            let want = one.is_match(ua);
            assert_eq!(GENERIC.plain.is_match(ua), want, "{ua}");
            hits += usize::from(want);
        }
        assert!(hits > 1_500 && hits < corpus.len(), "{hits} matched");
    }

    #[test]
    fn a_needle_is_text_every_match_holds() {
        for (pattern, want) in [
            // --- edge cases: nothing literal first, a quantified last letter ---
            ("", ""),
            ("(?:^|[^g])news", ""),
            ("\\bbot", ""),
            ("bots?(?:\\b|_)", "bot"),
            ("s?can", ""),
            ("ab+c", "a"),
            ("x{2}", ""),
            // --- plain words, lowercased, up to the first metacharacter ---
            ("google", "google"),
            ("Java", "java"),
            ("scan", "scan"),
            ("http", "http"),
            ("a b-c/d_e.f", "a b-c/d_e"),
        ] {
            assert_eq!(needle(pattern), want, "{pattern:?}");
        }
    }

    /// Gating a lookaround pattern's core by its needle changes no answer,
    /// on the corpus and on agents with the non-ASCII letters the core's
    /// case folding matches.
    #[test]
    fn the_needle_gate_changes_no_answer() {
        let mut agents = corpus();
        agents.extend([
            "\u{17f}can",
            "ſCAN/1.0",
            "Java/1.8",
            "JAVA;",
            "xhttp",
            "GOOGLE",
            "a google app",
        ]);
        for l in &GENERIC.lookaround {
            // The `regex` crate's regex of the core, as the oracle.
            let core = regex::RegexBuilder::new(l.core.as_str())
                .case_insensitive(true)
                .build()
                .unwrap();
            for ua in &agents {
                assert_eq!(
                    l.is_match(ua, ascii_lower(ua).as_deref()),
                    l.search(ua, |at| core.find_at(ua, at).map(|m| m.range())),
                    "{} on {ua}",
                    l.core.as_str()
                );
            }
        }
        // A browser's agent compiles no core.
        let fresh = Lookaround::parse("(?<!lib)http").unwrap();
        assert!(!fresh.is_match(CHROME, ascii_lower(CHROME).as_deref()));
        assert!(!fresh.core.is_compiled());
    }

    /// isbot's lookaround patterns, ported: each case hangs on the look.
    #[test]
    fn lookaround_patterns_behave_as_in_javascript() {
        let cases: &[(&str, bool)] = &[
            // (?<! cu)bots?(?:\b|_)
            ("Mozilla/5.0 CUBOT_P30", false),
            ("Mozilla/5.0 cubot", false),
            ("somebot/1.0", true),
            ("mybots_x", true),
            ("botany", false),
            // (?<!lib)http
            ("libhttp/1.0", false),
            ("httpclient", true),
            // (?<!cam)scan
            ("camscanner", false),
            ("zgrab scan", true),
            // (?:^|[^g])news(?!sapphire)
            ("newsbeuter", true),
            ("gnews", false),
            ("x newssapphire", false),
            // (?<! channel/|google/)google(?!(?:wv|app|/google| pixel))
            ("x Channel/googleplay", false),
            ("Channel/googleplay", true),
            ("google/google", false),
            ("google pixel", false),
            ("googleweblight", true),
            // java(?!;)
            ("java;", false),
            ("Java/17", true),
        ];
        for (ua, want) in cases {
            let got = GENERIC
                .lookaround
                .iter()
                .any(|l| l.is_match(ua, ascii_lower(ua).as_deref()));
            assert_eq!(got, *want, "{ua}");
        }
        assert_eq!(GENERIC.lookaround.len(), 6, "isbot's lookaround patterns");
    }

    #[test]
    fn every_tag_and_category_is_known() {
        for line in include_str!("../../bots/crawler-user-agents-tags.txt").lines() {
            for tag in line.split(',').filter(|t| !t.is_empty()) {
                assert!(Category::from_tag(tag).is_some(), "tag {tag}");
            }
        }
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        assert!(TAGS.iter().all(|t| !t.is_empty()), "every entry tagged");
        let patterns = include_str!("../../bots/crawler-user-agents.txt")
            .lines()
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(TAGS.len(), patterns, "a tags line per pattern");
        assert_eq!(BOTS.regexes().len(), patterns);
    }
}
