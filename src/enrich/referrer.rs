//! `referrer_domain`, `referrer_site`, `referrer_medium` and
//! `referrer_source`: where the visit came from.
//!
//! The referrer's host is normalized as `domain` is. Its medium is
//! `internal` when its site is the page's own (or listed in
//! `INTERNAL_SITES`); else `search`, `social` or `ai` from Matomo's
//! community lists, `email` from our webmail list (`data/webmail.yml`), and
//! `unknown` for any other referrer. A referrer host matches a list host
//! when it equals it or is a subdomain of it; the most specific list host
//! wins (`gemini.google.com` is an AI assistant, `www.google.com` a search
//! engine, `mail.google.com` webmail).
//!
//! ```
//! use firehose_enricher::enrich::referrer::{classify, Medium};
//! assert_eq!(classify("www.google.co.uk", "/search"), Some((Medium::Search, "Google")));
//! assert_eq!(classify("l.facebook.com", "/l.php"), Some((Medium::Social, "Facebook")));
//! assert_eq!(classify("chatgpt.com", "/"), Some((Medium::Ai, "ChatGPT")));
//! assert_eq!(classify("mail.google.com", "/mail/u/0/"), Some((Medium::Email, "Gmail")));
//! assert_eq!(classify("x.com", "/i/grok"), Some((Medium::Ai, "Grok")));
//! assert_eq!(classify("x.com", "/home"), Some((Medium::Social, "Twitter")));
//! assert_eq!(classify("example.org", "/"), None);
//! ```

use super::{
    Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, ReferrerFacts,
    Stage,
};
use crate::domain;
use crate::reason::DropReason;
use crate::settings::{form, ConfigError, Env, FieldPath, Variable};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

pub const ENRICHER: Enricher = Enricher {
    name: "referrer",
    optional: true,
    summary: "the referrer's host, site, medium and source",
    fields: &[
        Field {
            name: "referrer_domain",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "the referrer's host, normalized as `domain` is; absent when there is no referrer with a valid host",
        },
        Field {
            name: "referrer_site",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "the registrable domain of `referrer_domain`, as `site` is of `domain`",
        },
        Field {
            name: "referrer_medium",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "`internal` (the page's own site or one of `INTERNAL_SITES`), `search`, `social`, `ai` (an AI assistant), `email` (webmail) or `unknown`; absent when there is no referrer",
        },
        Field {
            name: "referrer_source",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "the list's name for a `search`, `social`, `ai` or `email` referrer (`Google`, `Facebook`, `ChatGPT`, `Gmail`…)",
        },
    ],
    variables: &[
        Variable {
            name: "REFERRER_FIELDS",
            default: "referrer,page_referrer,document_referrer,referer",
            form: "a comma-separated list of field names or dotted paths, e.g. `referrer,context.page.referrer`",
            meaning: "where the referrer URL is, for the `referrer` enricher (and `channel`); the first string field is used",
        },
        Variable {
            name: "INTERNAL_SITES",
            default: "",
            form: form::SITE_LIST,
            meaning: "empty: the page's own site only. referrers from these sites are `internal`, as are those from the page's own site",
        },
    ],
    examples: &[
        Example {
            title: "A search engine",
            input: r#"{"url":"https://example.com/","referrer":"https://www.google.de/"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("referrer_domain", Some(r#""www.google.de""#)),
                ("referrer_site", Some(r#""google.de""#)),
                ("referrer_medium", Some(r#""search""#)),
                ("referrer_source", Some(r#""Google""#)),
            ]),
        },
        Example {
            title: "Another page of the same site",
            input: r#"{"url":"https://shop.example.com/cart","referrer":"https://www.example.com/"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("referrer_site", Some(r#""example.com""#)),
                ("referrer_medium", Some(r#""internal""#)),
                ("referrer_source", None),
            ]),
        },
        Example {
            title: "A sister site, listed as internal",
            input: r#"{"url":"https://example.com/","referrer":"https://blog.example.net/post"}"#,
            variables: &[("INTERNAL_SITES", "example.net")],
            output: Expected::Fields(&[("referrer_medium", Some(r#""internal""#))]),
        },
        Example {
            title: "No referrer",
            input: r#"{"url":"https://example.com/"}"#,
            variables: &[],
            output: Expected::Fields(&[("referrer_domain", None), ("referrer_medium", None)]),
        },
    ],
    build,
};

/// The class of a referrer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Medium {
    Internal,
    Search,
    Social,
    Ai,
    Email,
    Unknown,
}

impl Medium {
    pub const ALL: [Medium; 6] = [
        Medium::Internal,
        Medium::Search,
        Medium::Social,
        Medium::Ai,
        Medium::Email,
        Medium::Unknown,
    ];

    /// The value of `referrer_medium`.
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Internal => "internal",
            Medium::Search => "search",
            Medium::Social => "social",
            Medium::Ai => "ai",
            Medium::Email => "email",
            Medium::Unknown => "unknown",
        }
    }
}

// SOURCES (name, medium), HOSTS and STEMS (host or stem, path, source),
// NAMES (lowercase name or host, source), generated by build.rs.
include!(concat!(env!("OUT_DIR"), "/referrer_lists.rs"));

#[derive(Debug)]
struct Referrer {
    fields: Vec<FieldPath>,
    internal: HashSet<String>,
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    Ok(Arc::new(Referrer {
        fields: env.fields("REFERRER_FIELDS")?,
        internal: env.sites("INTERNAL_SITES")?,
    }))
}

impl Stage for Referrer {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        facts: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        let mut found = ReferrerFacts::default();
        // An empty string is what browsers send for no referrer; a string
        // with no valid host counts as none too.
        if let Some(url) = record.first_string(&self.fields).filter(|u| !u.is_empty()) {
            let internal = |site: &str| facts.site() == Some(site) || self.internal.contains(site);
            if let Some((host, site_start, medium, source)) =
                SEEN.with_borrow_mut(|seen| seen.look_up(url, internal))
            {
                out.string("referrer_domain", &host);
                out.string("referrer_site", &host[site_start..]);
                out.known("referrer_medium", medium.as_str());
                if let Some(source) = source {
                    out.known("referrer_source", source);
                }
                found.medium = Some(medium);
                found.source = source;
                found.host = Some(host);
            }
        }
        facts.referrer = Some(found);
        Ok(())
    }
}

/// The longest referrer [`Seen`] keeps, in bytes: an origin or a page URL
/// with a short query. Longer ones are worked out every time.
const SEEN_MAX_LEN: usize = 256;

/// How many referrers [`Seen`] keeps per thread. Beyond this it is emptied
/// and refills with what is current, as the user agent cache does.
const SEEN_ENTRIES: usize = 10_000;

thread_local! {
    static SEEN: std::cell::RefCell<Seen> = std::cell::RefCell::default();
}

/// What each referrer string seen lately came to: its host, its site and
/// the lists' answer.
///
/// Browsers send a cross-site referrer as its origin alone
/// (`https://www.google.com/`, the default `strict-origin-when-cross-origin`
/// policy), and a few sources bring most visits, so the same strings come
/// again and again. Normalizing the host, finding its public suffix and
/// searching the lists cost about two thousand instructions a referrer
/// (callgrind), three quarters of the stage; a lookup here costs a tenth
/// of that. Per thread, with no lock: the Lambda runs one, replay one per
/// job.
///
/// The strings are kept end to end in one buffer and indexed by a
/// `hashbrown` table, so that a new referrer costs one hash and a copy, not
/// an allocation of its own (a miss cost about 670 instructions more than
/// no cache with a `HashMap<Box<str>, _>`). Keys are hashed with std's
/// randomly seeded SipHash, as they come from the web.
#[derive(Debug, Default)]
struct Seen {
    table: hashbrown::HashTable<Known>,
    /// The referrer strings, end to end.
    text: String,
    hasher: std::hash::RandomState,
}

#[derive(Debug)]
struct Known {
    hash: u64,
    /// The referrer string, in [`Seen::text`].
    key: Range<usize>,
    /// `referrer_domain`: a slice of the referrer string when it was
    /// written there as it is, else the normalized text.
    host: Result<Range<usize>, Box<str>>,
    /// Where `referrer_site` starts in the host.
    site_start: usize,
    /// The lists' answer for a referrer that is not internal, once asked.
    class: Option<Class>,
}

/// The lists' answer for a referrer host: its medium and source, `None`
/// when no list has it.
type Class = Option<(Medium, &'static str)>;

/// A referrer's host, where its site starts in it, its medium and its
/// source.
type Found<'a> = (Cow<'a, str>, usize, Medium, Option<&'static str>);

impl Seen {
    fn clear(&mut self) {
        self.table.clear();
        self.text.clear();
    }

    /// What a referrer comes to, given whether a site is internal to the
    /// record's page; `None` without a valid host. The lists are searched
    /// only for a referrer that is not internal.
    fn look_up<'a>(
        &mut self,
        url: Cow<'a, str>,
        internal: impl Fn(&str) -> bool,
    ) -> Option<Found<'a>> {
        let answer = |host: &str, site_start: usize, class: &mut Option<Class>, url: &str| {
            if internal(&host[site_start..]) {
                return (Medium::Internal, None);
            }
            let class = *class.get_or_insert_with(|| {
                classify_with(
                    host,
                    suffix_len_of(host, &host[site_start..]),
                    &mut Path::Url(url),
                )
            });
            class.map_or((Medium::Unknown, None), |(medium, name)| {
                (medium, Some(name))
            })
        };
        // A string too long to keep is neither hashed nor looked for.
        let hash = (url.len() <= SEEN_MAX_LEN).then(|| self.hasher.hash_one(url.as_ref()));
        let text = &self.text;
        let found = hash.and_then(|hash| {
            self.table
                .find_mut(hash, |k| text.get(k.key.clone()) == Some(url.as_ref()))
        });
        if let Some(known) = found {
            let host = match (&known.host, &url) {
                (Ok(range), Cow::Borrowed(u)) => Cow::Borrowed(&u[range.clone()]),
                (Ok(range), Cow::Owned(u)) => Cow::Owned(u[range.clone()].to_owned()),
                (Err(text), _) => Cow::Owned(text.to_string()),
            };
            let (medium, source) = answer(&host, known.site_start, &mut known.class, &url);
            return Some((host, known.site_start, medium, source));
        }
        let (host, url) = host_of(url)?;
        let site_start = domain::site_start(&host);
        let mut class = None;
        let (medium, source) = answer(&host, site_start, &mut class, &url);
        if let Some(hash) = hash {
            if self.table.len() >= SEEN_ENTRIES {
                self.clear();
            }
            let host = match &host {
                Cow::Borrowed(h) => range_in(&url, h).ok_or_else(|| Box::from(*h)),
                Cow::Owned(h) => Err(h.as_str().into()),
            };
            let key = self.text.len()..self.text.len() + url.len();
            self.text.push_str(&url);
            let known = Known {
                hash,
                key,
                host,
                site_start,
                class,
            };
            self.table.insert_unique(hash, known, |k| k.hash);
        }
        Some((host, site_start, medium, source))
    }
}

/// Empties this thread's referrer cache (for `bench --cold-cache`).
pub fn clear_cache() {
    SEEN.with_borrow_mut(Seen::clear);
}

/// Where `part`, a slice of `whole`, lies in it.
fn range_in(whole: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let range = start..start + part.len();
    (whole.get(range.clone()) == Some(part)).then_some(range)
}

/// The normalized host of a referrer URL, and the URL; `None` without a
/// valid host.
fn host_of(url: Cow<'_, str>) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    match url {
        Cow::Borrowed(s) => Some((domain::host_from_url(s)?, url)),
        // Escaped in the JSON text, so unescaped into a String of its own.
        Cow::Owned(_) => {
            let host = domain::host_from_url(&url)?.into_owned();
            Some((Cow::Owned(host), url))
        }
    }
}

/// A referrer's path, found from its URL only when a list entry for its
/// host names a path: few do, and finding it cost a fifth of the stage.
enum Path<'u> {
    Url(&'u str),
    Known(&'u str),
}

impl<'u> Path<'u> {
    fn get(&mut self) -> &'u str {
        if let Path::Url(url) = *self {
            *self = Path::Known(path_of(url));
        }
        match *self {
            Path::Known(path) | Path::Url(path) => path,
        }
    }
}

/// The path of a URL (absolute, protocol-relative or scheme-less): from the
/// end of the authority to the query or fragment; empty when there is none.
pub fn path_of(url: &str) -> &str {
    let s = url.trim();
    // Byte loops, not memchr or `str::find`: a referrer is a few dozen
    // bytes, where their setup cost more than the scans (callgrind: about
    // 400 instructions a URL, a quarter of that this way).
    //
    // The scheme is the scheme characters up to the first other byte,
    // which must start `://`.
    let scheme = s
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        .unwrap_or(s.len());
    let rest = match s[scheme..].strip_prefix("://") {
        Some(rest) => rest,
        None => s.strip_prefix("//").unwrap_or(s),
    };
    let Some(start) = rest.bytes().position(|b| matches!(b, b'/' | b'?' | b'#')) else {
        return "";
    };
    let after = &rest[start..];
    &after[..after
        .bytes()
        .position(|b| matches!(b, b'?' | b'#'))
        .unwrap_or(after.len())]
}

/// Every name `referrer_source` can take.
#[cfg(test)]
pub(crate) fn source_names() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().map(|s| s.0)
}

/// The list medium and name of a referrer host (normalized, as
/// `referrer_domain`), given its URL's path for the few list entries that
/// name one; `None` when no list has it. The most specific entry wins: the
/// host's longest suffix that a list names, and there an entry with a
/// matching path before one without.
pub fn classify(host: &str, path: &str) -> Option<(Medium, &'static str)> {
    classify_with(host, suffix_len(host), &mut Path::Known(path))
}

/// The length of a host's public suffix (the whole host when none is known).
fn suffix_len(host: &str) -> usize {
    psl::suffix_str(host).map_or(host.len(), str::len)
}

/// The length of a host's public suffix, from its site (one label before
/// the suffix, unless the host is itself a suffix): one list lookup less
/// than [`suffix_len`] for a host longer than its site.
fn suffix_len_of(host: &str, site: &str) -> usize {
    match site.find('.') {
        Some(dot) if site.len() < host.len() || psl::domain_str(host).is_some() => {
            site.len() - dot - 1
        }
        _ => suffix_len(host),
    }
}

/// [`classify`], given the length of the host's public suffix, which the
/// stage knows from the site it computed already.
fn classify_with(
    host: &str,
    suffix_len: usize,
    path: &mut Path<'_>,
) -> Option<(Medium, &'static str)> {
    if host.contains(':') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None; // IP addresses are in no list
    }
    // `google.{}` entries (stems) match a host minus its public suffix.
    let mut candidate = host;
    let (host_index, stem_index) = indexes();
    loop {
        let stem = (candidate.len() > suffix_len + 1)
            .then(|| &candidate[..candidate.len() - suffix_len - 1]);
        let hosts = host_index.entries(candidate);
        let stems = stem.map_or(&[][..], |s| stem_index.entries(s));
        let found = with_path(hosts, path)
            .or_else(|| with_path(stems, path))
            .or_else(|| without_path(hosts))
            .or_else(|| without_path(stems));
        if let Some(id) = found {
            let (name, medium) = SOURCES[usize::from(id)];
            return Some((medium, name));
        }
        candidate = &candidate[candidate.find('.')? + 1..];
    }
}

type Table = [(&'static str, &'static str, u16)];

/// A hash index over a sorted table: where each key's run of entries
/// (longest path first) starts, and its length. Each referrer tries every
/// suffix of its host in both tables, and a binary search over a few
/// thousand entries cost as much as the rest of the stage; the index,
/// built on first use (about a thousand entries), finds a run in one lookup.
struct Index {
    table: &'static Table,
    runs: HashMap<&'static str, (usize, usize), BuildHasherDefault<Fnv>>,
}

/// FNV-1a, for the index. Hand-written (a few lines) because std's SipHash
/// was a tenth of the stage's time: its resistance to chosen collisions buys
/// nothing here, where the keys are a fixed, compiled-in set, and a host
/// colliding with one can only make its own lookup compare a few more keys.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Index {
    fn new(table: &'static Table) -> Index {
        let mut runs: HashMap<&'static str, (usize, usize), BuildHasherDefault<Fnv>> =
            HashMap::with_capacity_and_hasher(table.len(), BuildHasherDefault::default());
        for (i, e) in table.iter().enumerate() {
            runs.entry(e.0).or_insert((i, 0)).1 += 1;
        }
        Index { table, runs }
    }

    fn entries(&self, key: &str) -> &'static Table {
        self.runs
            .get(key)
            .map_or(&[][..], |&(start, len)| &self.table[start..start + len])
    }
}

/// The indexes of [`HOSTS`] and [`STEMS`].
fn indexes() -> &'static (Index, Index) {
    static INDEXES: OnceLock<(Index, Index)> = OnceLock::new();
    INDEXES.get_or_init(|| (Index::new(&HOSTS), Index::new(&STEMS)))
}

/// The first (longest) entry path that starts the referrer's path at a
/// segment boundary.
fn with_path(entries: &Table, path: &mut Path<'_>) -> Option<u16> {
    entries
        .iter()
        .filter(|e| !e.1.is_empty())
        .find(|e| {
            let path = path.get();
            path.starts_with(e.1) && matches!(path.as_bytes().get(e.1.len()), None | Some(b'/'))
        })
        .map(|e| e.2)
}

/// The entry without a path.
fn without_path(entries: &Table) -> Option<u16> {
    entries.iter().find(|e| e.1.is_empty()).map(|e| e.2)
}

/// The list medium of a campaign source (`utm_source`), lowercase: a
/// search, social or AI list entry whose name or host it equals
/// (`facebook`, `facebook.com`); a host-like source (with a dot) is also
/// matched as a referrer host is (`m.facebook.com`, `google.co.uk`). Our
/// webmail list is not consulted: a campaign is email by its spelling.
pub fn list_of_source(source: &str) -> Option<Medium> {
    if let Ok(i) = NAMES.binary_search_by(|e| e.0.cmp(source)) {
        return Some(SOURCES[usize::from(NAMES[i].1)].1);
    }
    if source.contains('.') {
        return classify(source, "")
            .map(|(m, _)| m)
            .filter(|m| *m != Medium::Email);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stages_suffix_length_is_the_lists() {
        // The stage derives the suffix from the site it computed; it must
        // be what the list says, for every kind of host.
        let hosts = [
            "google.com",
            "www.google.com",
            "www.google.co.uk",
            "co.uk",
            "github.io",
            "alice.github.io",
            "localhost",
            "intranet.local",
            "xn--mnchen-3ya.de",
            "t.co",
            "a.b.c.d.example.com.au",
            "com",
        ];
        for host in hosts {
            let site = crate::domain::site(host);
            assert_eq!(suffix_len_of(host, site), suffix_len(host), "{host}");
        }
    }

    #[test]
    fn generated_tables_are_sorted_and_well_formed() {
        for table in [&HOSTS[..], &STEMS[..]] {
            assert!(table.len() > 10);
            for pair in table.windows(2) {
                assert!(pair[0].0 <= pair[1].0, "{pair:?} out of order");
                if pair[0].0 == pair[1].0 {
                    assert!(
                        pair[0].1.len() >= pair[1].1.len(),
                        "{pair:?}: longest path first"
                    );
                }
            }
            for (host, path, id) in table {
                assert!(usize::from(*id) < SOURCES.len());
                assert!(!host.starts_with("www.") && !host.contains('{'), "{host}");
                assert!(path.is_empty() || path.starts_with('/'), "{path}");
            }
        }
        for pair in NAMES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{pair:?} out of order");
        }
        for medium in [Medium::Search, Medium::Social, Medium::Ai, Medium::Email] {
            assert!(SOURCES.iter().any(|s| s.1 == medium), "{medium:?}");
        }
        assert!(
            SOURCES.iter().any(|s| s.0 == "Google+"),
            "names are decoded"
        );
    }

    type Worked = (String, usize, Medium, Option<&'static str>);

    /// What a referrer comes to, worked out without the cache.
    fn worked_out(url: &str, internal: bool) -> Option<Worked> {
        let host = domain::host_from_url(url)?;
        let site = domain::site(&host);
        let (medium, source) = if internal {
            (Medium::Internal, None)
        } else {
            classify(&host, path_of(url)).map_or((Medium::Unknown, None), |(m, n)| (m, Some(n)))
        };
        Some((host.to_string(), host.len() - site.len(), medium, source))
    }

    fn looked_up(seen: &mut Seen, url: &str, internal: bool) -> Option<Worked> {
        seen.look_up(Cow::Borrowed(url), |_| internal)
            .map(|(h, start, m, s)| (h.into_owned(), start, m, s))
    }

    proptest::proptest! {
        /// Random referrers, each looked up twice (the second time from the
        /// cache when it was kept), one cache for the whole run.
        #[test]
        fn seen_agrees_on_any_referrer(
            urls in proptest::collection::vec(
                "(https?://|//)?([A-Za-z0-9-]{1,8}\\.){0,3}(google|bing|x|t|facebook|example)\\.(com|co|co\\.uk|de)(:[0-9]{1,5})?(/[a-z/]{0,12})?(\\?q=[a-z]{0,4})?|\\PC{0,40}",
                1..20,
            ),
            internal: bool,
        ) {
            let mut seen = Seen::default();
            for url in &urls {
                for _ in 0..2 {
                    proptest::prop_assert_eq!(looked_up(&mut seen, url, internal), worked_out(url, internal), "{:?}", url);
                }
            }
        }
    }

    /// The cache answers as working it out does, whatever came first:
    /// each case is looked up cold, then from the cache, under each
    /// verdict on internal, in both orders.
    #[test]
    fn seen_answers_as_worked_out() {
        let long = format!(
            "https://www.google.com/search?q={}",
            "x".repeat(SEEN_MAX_LEN)
        );
        let urls: Vec<Cow<'_, str>> = vec![
            // --- edge cases ---
            Cow::Borrowed("garbage"),
            Cow::Borrowed("https://"),
            Cow::Borrowed(&long),
            // Normalized, so not a slice of the string: kept as text.
            Cow::Borrowed("https://WWW.Google.COM/"),
            Cow::Borrowed("https://xn--mnchen-3ya.de/"),
            Cow::Borrowed("https://münchen.de/"),
            // An unescaped (owned) string finds what a borrowed one left.
            Cow::Owned("https://x.com/i/grok".to_owned()),
            Cow::Borrowed("https://x.com/i/grok"),
            Cow::Borrowed("https://x.com/home"),
            Cow::Borrowed("//l.facebook.com/l.php?u=1"),
            Cow::Borrowed("https://user@mail.google.com:443/mail/u/0/"),
            // --- the plain cases ---
            Cow::Borrowed("https://www.google.com/"),
            Cow::Borrowed("https://news.example.org/story"),
        ];
        for order in [[false, true], [true, false]] {
            let mut seen = Seen::default();
            for url in &urls {
                for internal in order.into_iter().chain(order) {
                    let got = seen
                        .look_up(url.clone(), |_| internal)
                        .map(|(h, start, m, s)| (h.into_owned(), start, m, s));
                    assert_eq!(
                        got,
                        worked_out(url, internal),
                        "{url:?} internal={internal}"
                    );
                }
            }
            assert!(!seen.contains(&long), "too long to keep");
            assert!(seen.contains("https://www.google.com/"));
        }
    }

    impl Seen {
        fn contains(&self, url: &str) -> bool {
            self.table.iter().any(|k| &self.text[k.key.clone()] == url)
        }
    }

    #[test]
    fn seen_is_bounded() {
        let mut seen = Seen::default();
        for i in 0..=SEEN_ENTRIES {
            let url = format!("https://site{i}.example/");
            assert!(seen.look_up(Cow::Borrowed(&url), |_| false).is_some());
            assert!(seen.table.len() <= SEEN_ENTRIES);
        }
        assert_eq!(seen.table.len(), 1, "emptied when full, then refilled");
        assert_eq!(seen.text, format!("https://site{SEEN_ENTRIES}.example/"));
    }

    #[test]
    fn path_table() {
        let cases: &[(&str, &str)] = &[
            // --- edge cases ---
            ("", ""),
            ("https://example.com", ""),
            ("https://example.com?q=/x", ""),
            ("https://example.com#/a/b", ""),
            ("https://example.com/?q=1", "/"),
            ("https://example.com/a/b?c=/d#e", "/a/b"),
            ("//example.com/a", "/a"),
            ("example.com/a/b", "/a/b"),
            ("android-app://com.google.android.gm/", "/"),
            (" https://x.com/i/grok ", "/i/grok"),
            ("https://user:pw@example.com:8443/p", "/p"),
            (":x/y", "/y"),
            ("://h/p", "/p"),
            ("a:b/c", "/c"),
            ("mailto:x@y/z", "/z"),
            ("ht tp://h/p", "//h/p"),
            ("x+y.z-w://h/p?q", "/p"),
            ("https:/h/p", "/h/p"),
            ("https://h", ""),
            ("https://", ""),
            ("?q=1", ""),
            ("#/route?x", ""),
            ("/relative/path", "/relative/path"),
            ("\t//h/p\n", "/p"),
            // --- the plain case ---
            ("https://www.google.com/search?q=kettle", "/search"),
        ];
        for (url, want) in cases {
            assert_eq!(path_of(url), *want, "{url:?}");
            assert_eq!(path_of(url), path_of_spec(url), "{url:?}");
        }
    }

    /// `path_of` as first written, with `str` searches: the definition the
    /// byte loops are held to.
    fn path_of_spec(url: &str) -> &str {
        let s = url.trim();
        let rest = match s.find(':') {
            Some(i)
                if s[i..].starts_with("://")
                    && s[..i]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
            {
                &s[i + 3..]
            }
            _ => s.strip_prefix("//").unwrap_or(s),
        };
        let after = rest.find(['/', '?', '#']).map_or("", |i| &rest[i..]);
        &after[..after.find(['?', '#']).unwrap_or(after.len())]
    }

    proptest::proptest! {
        #[test]
        fn path_of_agrees_with_its_spec(url in "[a-z+.:/?#@ -]{0,24}|\\PC{0,24}") {
            proptest::prop_assert_eq!(path_of(&url), path_of_spec(&url));
        }
    }

    #[test]
    fn classify_table() {
        use Medium::*;
        type Case = (&'static str, &'static str, Option<(Medium, &'static str)>);
        let cases: &[Case] = &[
            // --- edge cases ---
            ("", "", None),
            ("com", "", None),
            ("127.0.0.1", "/", None),
            ("::1", "/", None),
            ("localhost", "/", None),
            ("google", "/", None), // a stem alone is no host
            ("notgoogle.com", "/", None),
            ("google.com.evil.example", "/", None),
            // `{}` as the public suffix, at any depth of subdomain.
            ("google.co.uk", "/", Some((Search, "Google"))),
            ("www.google.com.au", "/", Some((Search, "Google"))),
            ("images.google.de", "/", Some((Search, "Google Images"))),
            // A path entry beats the host's own entry, at a segment boundary.
            ("www.google.fr", "/imgres", Some((Search, "Google Images"))),
            (
                "www.google.fr",
                "/imgres/x",
                Some((Search, "Google Images")),
            ),
            ("www.google.fr", "/imgresx", Some((Search, "Google"))),
            ("google.com", "/cse", Some((Search, "Google Custom Search"))),
            (
                "www.bing.com",
                "/images/search",
                Some((Search, "Bing Images")),
            ),
            (
                "de.bing.com",
                "/images/search",
                Some((Search, "Bing Images")),
            ),
            ("www.bing.com", "/search", Some((Search, "Bing"))),
            ("x.com", "/i/grok", Some((Ai, "Grok"))),
            ("x.com", "/i/grokking", Some((Social, "Twitter"))),
            // The most specific host wins across lists.
            ("gemini.google.com", "/app", Some((Ai, "Gemini"))),
            ("mail.google.com", "/mail/u/0/", Some((Email, "Gmail"))),
            ("plus.google.com", "/", Some((Social, "Google+"))),
            ("uk.mail.yahoo.com", "/", Some((Email, "Yahoo! Mail"))),
            // A host in two lists: AI before social before search.
            ("chatgpt.com", "/", Some((Ai, "ChatGPT"))),
            ("www.perplexity.ai", "/search", Some((Ai, "Perplexity"))),
            ("www.facebook.com", "/", Some((Social, "Facebook"))),
            // Leading `www.` is dropped on the list's side, so both match.
            ("abacho.de", "/", Some((Search, "Abacho"))),
            ("www.abacho.de", "/", Some((Search, "Abacho"))),
            // Android app ids are hosts.
            (
                "com.google.android.googlequicksearchbox",
                "/",
                Some((Search, "Google")),
            ),
            ("com.reddit.frontpage", "/", Some((Social, "reddit"))),
            // Webmail `{}` stems.
            ("deref-gmx.net", "/mail/client/x", Some((Email, "GMX"))),
            ("lightmailer.gmx.co.uk", "/", Some((Email, "GMX"))),
            ("www.icloud.com", "/mail/", Some((Email, "iCloud Mail"))),
            ("www.icloud.com", "/photos/", None),
            // --- the plain case ---
            ("www.google.com", "/", Some((Search, "Google"))),
            ("duckduckgo.com", "/", Some((Search, "DuckDuckGo"))),
            ("t.co", "/abc", Some((Social, "Twitter"))),
            ("www.linkedin.com", "/feed/", Some((Social, "LinkedIn"))),
            ("claude.ai", "/chat/1", Some((Ai, "Claude"))),
            ("outlook.live.com", "/mail/0/", Some((Email, "Outlook.com"))),
            ("news.ycombinator.com", "/", Some((Social, "Hacker News"))),
            ("blog.example.org", "/post", None),
        ];
        for (host, path, want) in cases {
            assert_eq!(classify(host, path), *want, "{host} {path}");
        }
    }

    #[test]
    fn campaign_sources() {
        use Medium::*;
        let cases: &[(&str, Option<Medium>)] = &[
            // --- edge cases ---
            ("", None),
            ("gmail", None), // webmail names are not campaign lists
            ("mail.google.com", None),
            ("newsletter", None),
            // --- names and hosts ---
            ("google", Some(Search)),
            ("google.com", Some(Search)),
            ("google.co.uk", Some(Search)),
            ("bing", Some(Search)),
            ("facebook", Some(Social)),
            ("facebook.com", Some(Social)),
            ("m.facebook.com", Some(Social)),
            ("linkedin", Some(Social)),
            ("chatgpt.com", Some(Ai)),
            ("chatgpt", Some(Ai)),
            ("perplexity", Some(Ai)),
        ];
        for (source, want) in cases {
            assert_eq!(list_of_source(source), *want, "{source}");
        }
    }
}
