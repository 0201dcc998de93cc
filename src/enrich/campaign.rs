//! `utm_*`, `click_network` and `channel`: the campaign in the page URL's
//! query, the ad network of its click identifier, and GA4's default channel
//! group, computed per event. Every rule for `channel` is in this file.
//!
//! `channel` uses GA4's names, plus two of our own: `Internal` (a referrer
//! from the page's own site or `INTERNAL_SITES`, which GA4 hides inside a
//! session) and `AI Assistant` (a referrer or campaign source from the AI
//! assistant list, which GA4 counts as `Referral`).
//!
//! ```
//! use firehose_enricher::enrich::campaign::{channel, Campaign};
//! let c = Campaign { source: Some("Facebook"), medium: Some("cpc"), ..Campaign::default() };
//! assert_eq!(channel(&c, None, None), Some("Paid Social"));
//! ```

use super::referrer::{list_of_source, Medium};
use super::{
    Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, ReferrerFacts,
    Stage,
};
use crate::reason::DropReason;
use crate::settings::{ConfigError, Env};
use std::borrow::Cow;
use std::sync::Arc;

/// The campaign parameters, in the order their fields are written. Names
/// match case-insensitively.
pub const UTM_PARAMS: [&str; 6] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
];

/// The click identifiers `click_network` knows (see [`network`]).
pub const CLICK_IDS: [&str; 9] = [
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "fbclid",
    "ttclid",
    "li_fat_id",
    "twclid",
];

/// The ad network of a click identifier (lowercase name).
pub fn network(click_id: &str) -> Option<&'static str> {
    Some(match click_id {
        "gclid" | "gbraid" | "wbraid" | "dclid" => "google_ads",
        "msclkid" => "microsoft_ads",
        "fbclid" => "meta",
        "ttclid" => "tiktok",
        "li_fat_id" => "linkedin",
        "twclid" => "x",
        _ => return None,
    })
}

const fn utm(name: &'static str, description: &'static str) -> Field {
    Field {
        name,
        json_type: JsonType::String,
        athena_type: "string",
        presence: Presence::Omitted,
        description,
    }
}

pub const ENRICHER: Enricher = Enricher {
    name: "campaign",
    optional: true,
    summary: "UTM parameters, the click identifier's ad network, and the channel",
    fields: &[
        utm("utm_source", "the page URL's `utm_source` query parameter: percent-decoded as UTF-8, `+` as a space, the name matched case-insensitively, the first non-empty occurrence"),
        utm("utm_medium", "`utm_medium`, read as `utm_source` is"),
        utm("utm_campaign", "`utm_campaign`, read as `utm_source` is"),
        utm("utm_term", "`utm_term`, read as `utm_source` is"),
        utm("utm_content", "`utm_content`, read as `utm_source` is"),
        utm("utm_id", "`utm_id`, read as `utm_source` is"),
        utm("click_network", "the ad network of the page URL's first click identifier: `google_ads` (gclid, gbraid, wbraid, dclid), `microsoft_ads` (msclkid), `meta` (fbclid), `tiktok` (ttclid), `linkedin` (li_fat_id) or `x` (twclid)"),
        utm("channel", "GA4's default channel group of the event (`Direct`, `Organic Search`, `Paid Social`, `Email`…), plus `Internal` and `AI Assistant`; without a campaign or click identifier it needs the `referrer` enricher, and is absent without it"),
    ],
    variables: &[],
    examples: &[
        Example {
            title: "UTM parameters",
            input: r#"{"url":"https://example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("utm_source", Some(r#""newsletter""#)),
                ("utm_medium", Some(r#""email""#)),
                ("utm_campaign", Some(r#""spring sale""#)),
                ("channel", Some(r#""Email""#)),
            ]),
        },
        Example {
            title: "A click identifier",
            input: r#"{"url":"https://example.com/?gclid=EAIaIQobChMI"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("click_network", Some(r#""google_ads""#)),
                ("channel", Some(r#""Paid Search""#)),
            ]),
        },
        Example {
            title: "No campaign: the channel from the referrer",
            input: r#"{"url":"https://example.com/","referrer":"https://www.facebook.com/"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("utm_source", None),
                ("channel", Some(r#""Organic Social""#)),
            ]),
        },
    ],
    build,
};

#[derive(Debug)]
struct CampaignStage;

fn build(_: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    Ok(Arc::new(CampaignStage))
}

/// The campaign parameters of one URL, in [`UTM_PARAMS`] order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Campaign<'q> {
    pub source: Option<&'q str>,
    pub medium: Option<&'q str>,
    pub campaign: Option<&'q str>,
    pub term: Option<&'q str>,
    pub content: Option<&'q str>,
    pub id: Option<&'q str>,
}

impl Campaign<'_> {
    fn any(&self) -> bool {
        self.values().iter().any(Option::is_some)
    }

    fn values(&self) -> [Option<&str>; 6] {
        [
            self.source,
            self.medium,
            self.campaign,
            self.term,
            self.content,
            self.id,
        ]
    }
}

/// The query of a URL: after the first `?`, up to a `#`. A `?` inside the
/// fragment (`/#/route?x=1`, hash routing) is not a query, as in WHATWG
/// URLs and GA4.
pub fn query_of(url: &str) -> Option<&str> {
    // memchr, not `str::find` with a char array, which tests each byte in
    // turn: page URLs run to hundreds of bytes, and this runs per record.
    let q = memchr::memchr2(b'?', b'#', url.as_bytes()).filter(|&i| url.as_bytes()[i] == b'?')?;
    let rest = &url[q + 1..];
    Some(&rest[..memchr::memchr(b'#', rest.as_bytes()).unwrap_or(rest.len())])
}

/// The decoded query parameters that matter here: the campaign's values
/// and the first click identifier's network.
#[derive(Debug, Default)]
struct Params<'q> {
    utm: [Option<Cow<'q, str>>; 6],
    click_network: Option<&'static str>,
}

fn params(query: &str) -> Params<'_> {
    let mut p = Params::default();
    // The WHATWG `application/x-www-form-urlencoded` rules, which
    // `form_urlencoded` (the parser `url` uses) implements: pairs split on
    // `&`, name from value on the first `=`, `+` a space, `%XX` bytes
    // decoded, invalid UTF-8 as U+FFFD, as URLSearchParams does. Written
    // out because `form_urlencoded::parse` decodes every name and value,
    // and a page URL carries many parameters we never read: here a name is
    // decoded only when it has a `%` or `+`, and a value only when its
    // name is one we keep. tests/reference.rs checks it against
    // `form_urlencoded` on random queries.
    //
    // One scan of the whole query for `%` and `+` first: most queries have
    // neither, and then no name or value needs a scan of its own.
    let encoded = memchr::memchr2(b'%', b'+', query.as_bytes()).is_some();
    let mut rest = query;
    while !rest.is_empty() {
        // memchr, not `str::split` with a char: this runs for every
        // parameter of every page URL.
        let end = memchr::memchr(b'&', rest.as_bytes()).unwrap_or(rest.len());
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        let mut lower = [0u8; MAX_NAME];
        let (name, value) = if encoded {
            let Some(eq) = memchr::memchr(b'=', pair.as_bytes()) else {
                continue; // no value: an empty value counts as absent
            };
            let name = form_decode(&pair[..eq]);
            if name.len() > MAX_NAME {
                continue; // no name we read is longer
            }
            lower_into(&mut lower, name.as_bytes());
            (&lower[..name.len()], &pair[eq + 1..])
        } else {
            let Some(eq) = lower_name(pair.as_bytes(), &mut lower) else {
                continue; // no value, or a name longer than any we read
            };
            (&lower[..eq], &pair[eq + 1..])
        };
        if value.is_empty() {
            continue;
        }
        if let Some(i) = utm_index(name) {
            if p.utm[i].is_none() {
                p.utm[i] = Some(if encoded {
                    form_decode(value)
                } else {
                    Cow::Borrowed(value)
                });
            }
        } else if p.click_network.is_none() {
            p.click_network = std::str::from_utf8(name).ok().and_then(network);
        }
    }
    p
}

/// The name of an unencoded `name=value` pair, lowercased into `lower`:
/// its length, or `None` when the pair has no `=` among its first
/// `MAX_NAME + 1` bytes (no value, or a name longer than any we read).
/// One short loop finds the `=` and lowercases: names are a few bytes,
/// where memchr's setup and an iterator chain cost more (callgrind: about
/// 190 instructions a parameter, a third of that this way).
fn lower_name(pair: &[u8], lower: &mut [u8; MAX_NAME]) -> Option<usize> {
    for (i, &b) in pair.iter().enumerate() {
        if b == b'=' {
            return Some(i);
        }
        *lower.get_mut(i)? = b.to_ascii_lowercase();
    }
    None
}

/// `name`, at most `MAX_NAME` bytes, lowercased into `lower`.
fn lower_into(lower: &mut [u8; MAX_NAME], name: &[u8]) {
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
}

/// The longest parameter name [`params`] reads (`utm_campaign`).
const MAX_NAME: usize = 12;

/// The index in [`UTM_PARAMS`] of a lowercase parameter name. A `match`, not
/// a search of the list: it compares lengths first, and runs for every
/// parameter of every page URL.
fn utm_index(name: &[u8]) -> Option<usize> {
    match name {
        b"utm_source" => Some(0),
        b"utm_medium" => Some(1),
        b"utm_campaign" => Some(2),
        b"utm_term" => Some(3),
        b"utm_content" => Some(4),
        b"utm_id" => Some(5),
        _ => None,
    }
}

/// One name or value of a query, decoded as `form_urlencoded` does: `+` is a
/// space, `%XX` a byte, and the bytes UTF-8 with U+FFFD for what is not.
/// Borrowed when there is nothing to decode.
fn form_decode(raw: &str) -> Cow<'_, str> {
    // A fold without an early exit, which the compiler vectorizes: names
    // and values are a few bytes long, where memchr2's setup cost more than
    // the scan (callgrind: 139 instructions a call, a quarter less this way).
    let encoded = raw
        .bytes()
        .fold(false, |seen, b| seen | (b == b'%') | (b == b'+'));
    if !encoded {
        return Cow::Borrowed(raw);
    }
    let spaced = raw.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode(spaced.as_bytes())
            .decode_utf8_lossy()
            .into_owned(),
    )
}

impl Stage for CampaignStage {
    fn run<'a>(
        &self,
        _: &Record<'a>,
        facts: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        // The page URL stays in `facts`: the privacy controls, which run
        // later, read it too.
        let p = facts
            .page_url
            .as_deref()
            .and_then(query_of)
            .map(params)
            .unwrap_or_default();
        let [source, medium, campaign, term, content, id] = p.utm.each_ref().map(Option::as_deref);
        let c = Campaign {
            source,
            medium,
            campaign,
            term,
            content,
            id,
        };
        for (name, value) in UTM_PARAMS.iter().zip(c.values()) {
            out.optional(name, value);
        }
        if let Some(network) = p.click_network {
            out.known("click_network", network);
        }
        if let Some(channel) = channel(&c, p.click_network, facts.referrer.as_ref()) {
            out.known("channel", channel);
        }
        Ok(())
    }
}

/// Every value `channel` takes: GA4's default channel groups that a single
/// event can show, and our `Internal` and `AI Assistant`.
pub const CHANNELS: [&str; 19] = [
    "Direct",
    "Internal",
    "Organic Search",
    "Paid Search",
    "Organic Social",
    "Paid Social",
    "Organic Video",
    "Paid Video",
    "Paid Shopping",
    "Display",
    "Paid Other",
    "Email",
    "Affiliates",
    "Referral",
    "Audio",
    "SMS",
    "Mobile Push Notifications",
    "AI Assistant",
    "Unassigned",
];

/// `^(.*cp.*|ppc|retargeting|paid.*)$`, on a lowercase medium.
fn is_paid(medium: &str) -> bool {
    medium.contains("cp")
        || medium == "ppc"
        || medium == "retargeting"
        || medium.starts_with("paid")
}

fn is_email_spelling(s: &str) -> bool {
    matches!(s, "email" | "e-mail" | "e_mail" | "e mail")
}

fn is_social_spelling(medium: &str) -> bool {
    matches!(
        medium,
        "social" | "social-network" | "social-media" | "sm" | "social network" | "social media"
    )
}

/// GA4's short source names that are no list entry's name or host.
const SOCIAL_ALIASES: &[&str] = &["fb", "ig", "tw", "li", "yt"];

/// Video sites, by name and host (GA4's video source category; hand
/// assembled, host names are facts). A host matches itself and its
/// subdomains.
const VIDEO: &[&str] = &[
    "youtube",
    "youtube.com",
    "youtu.be",
    "yt",
    "vimeo",
    "vimeo.com",
    "twitch",
    "twitch.tv",
    "dailymotion",
    "dailymotion.com",
    "dai.ly",
    "wistia",
    "wistia.com",
    "vidyard",
    "vidyard.com",
    "netflix",
    "netflix.com",
    "hulu",
    "hulu.com",
    "disneyplus",
    "disneyplus.com",
    "peacocktv",
    "peacocktv.com",
    "crackle",
    "crackle.com",
    "curiositystream",
    "curiositystream.com",
    "bilibili",
    "bilibili.com",
    "rumble",
    "rumble.com",
    "nicovideo",
    "nicovideo.jp",
];

/// Shopping sites, by name and host (GA4's shopping source category).
const SHOPPING: &[&str] = &[
    "amazon",
    "amazon.com",
    "ebay",
    "ebay.com",
    "etsy",
    "etsy.com",
    "shopify",
    "shopify.com",
    "walmart",
    "walmart.com",
    "aliexpress",
    "aliexpress.com",
    "alibaba",
    "alibaba.com",
    "mercadolibre",
    "mercadolibre.com",
    "rakuten",
    "rakuten.com",
    "zalando",
    "zalando.com",
    "target",
    "target.com",
    "bestbuy",
    "bestbuy.com",
    "shopping.google.com",
    "igshopping",
    "google shopping",
    "shopzilla",
    "shopzilla.com",
    "pricerunner",
    "pricerunner.com",
    "idealo",
    "idealo.de",
    "temu",
    "temu.com",
    "wish",
    "wish.com",
];

/// Whether a lowercase name or host is in a hand-assembled list: equal to
/// an entry, or a subdomain of an entry that is a host (the public suffix
/// of a list host counts too: `amazon.co.uk` is Amazon's).
fn in_list(list: &[&str], s: &str) -> bool {
    list.iter().any(|e| {
        s == *e
            || (e.contains('.')
                && s.len() > e.len()
                && s.ends_with(e)
                && s.as_bytes()[s.len() - e.len() - 1] == b'.')
    }) || site_stem(s).is_some_and(|stem| list.contains(&stem))
}

/// `amazon` for `www.amazon.co.uk`: the registrable domain's first label.
fn site_stem(host: &str) -> Option<&str> {
    if !host.contains('.') {
        return None;
    }
    let suffix = psl::suffix_str(host)?;
    let rest = host.strip_suffix(suffix)?.strip_suffix('.')?;
    Some(&rest[rest.rfind('.').map_or(0, |i| i + 1)..])
}

/// What a campaign's source is, for the channel rules.
struct Source {
    search: bool,
    social: bool,
    ai: bool,
    video: bool,
    shopping: bool,
}

fn classify_source(source: &str) -> Source {
    let list = list_of_source(source);
    let video = in_list(VIDEO, source);
    Source {
        search: list == Some(Medium::Search),
        // Matomo lists YouTube and Vimeo as social networks; GA4 counts
        // them as video, as the channel without a campaign does too.
        social: (list == Some(Medium::Social) || SOCIAL_ALIASES.contains(&source)) && !video,
        ai: list == Some(Medium::Ai),
        video,
        shopping: in_list(SHOPPING, source),
    }
}

/// ASCII-lowercase, borrowing when already lowercase.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// GA4's default channel group for one event: its campaign, the ad network
/// of its click identifier, and what the referrer stage found (`None` when
/// the referrer enricher is off, and then no channel for traffic without a
/// campaign or click identifier). Matching is case-insensitive.
pub fn channel(
    c: &Campaign<'_>,
    click_network: Option<&str>,
    referrer: Option<&ReferrerFacts<'_>>,
) -> Option<&'static str> {
    if c.any() {
        let source = lower(c.source.unwrap_or(""));
        let medium = lower(c.medium.unwrap_or(""));
        let (source, medium) = (source.as_ref(), medium.as_ref());
        if is_email_spelling(source) || is_email_spelling(medium) {
            return Some("Email");
        }
        // After the email rule: newsletters, the commonest campaigns, need
        // no list lookups.
        let s = classify_source(source);
        let paid = is_paid(medium);
        return Some(if s.social && paid {
            "Paid Social"
        } else if s.search && paid {
            "Paid Search"
        } else if s.video && paid {
            "Paid Video"
        } else if s.shopping && paid {
            "Paid Shopping"
        } else if matches!(
            medium,
            "display" | "banner" | "expandable" | "interstitial" | "cpm"
        ) {
            "Display"
        } else if paid {
            "Paid Other"
        } else if s.social || is_social_spelling(medium) {
            "Organic Social"
        } else if s.video || medium.contains("video") {
            "Organic Video"
        } else if s.search || medium == "organic" {
            "Organic Search"
        } else if matches!(medium, "affiliate" | "affiliates") {
            "Affiliates"
        } else if matches!(medium, "referral" | "app" | "link") {
            "Referral"
        } else if medium == "audio" {
            "Audio"
        } else if medium == "sms" {
            "SMS"
        } else if medium.ends_with("push")
            || medium.contains("mobile")
            || medium.contains("notification")
        {
            "Mobile Push Notifications"
        } else if s.ai {
            "AI Assistant"
        } else {
            "Unassigned"
        });
    }
    if matches!(click_network, Some("google_ads" | "microsoft_ads")) {
        return Some("Paid Search");
    }
    let referrer = referrer?;
    let Some(medium) = referrer.medium else {
        return Some("Direct");
    };
    // Looked up only for the mediums where it decides something.
    let video = || referrer.host.as_deref().is_some_and(|h| in_list(VIDEO, h));
    Some(match medium {
        Medium::Internal => "Internal",
        Medium::Search => "Organic Search",
        _ if video() => "Organic Video",
        Medium::Social => "Organic Social",
        Medium::Ai => "AI Assistant",
        Medium::Email => "Email",
        Medium::Unknown => "Referral",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `params` must find, the plain way: every pair decoded by
    /// `form_urlencoded`, then the same rules.
    fn reference(query: &str) -> ([Option<String>; 6], Option<&'static str>) {
        let mut utm: [Option<String>; 6] = Default::default();
        let mut click = None;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let name = name.to_ascii_lowercase();
            if value.is_empty() {
                continue;
            }
            if let Some(i) = UTM_PARAMS.iter().position(|u| *u == name) {
                utm[i].get_or_insert_with(|| value.into_owned());
            } else if click.is_none() {
                click = network(&name);
            }
        }
        (utm, click)
    }

    fn found(query: &str) -> ([Option<String>; 6], Option<&'static str>) {
        let p = params(query);
        (p.utm.map(|v| v.map(Cow::into_owned)), p.click_network)
    }

    #[test]
    fn max_name_is_the_longest_name_read() {
        let longest = UTM_PARAMS.iter().chain(&CLICK_IDS).map(|n| n.len()).max();
        assert_eq!(longest, Some(MAX_NAME));
    }

    #[test]
    fn utm_index_is_the_position_in_utm_params() {
        for (i, name) in UTM_PARAMS.iter().enumerate() {
            assert_eq!(utm_index(name.as_bytes()), Some(i), "{name}");
        }
        for other in [
            "",
            "utm_",
            "utm_sourc",
            "utm_sources",
            "UTM_SOURCE",
            "gclid",
        ] {
            assert_eq!(utm_index(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn params_table() {
        // Edge cases first: empty pieces, `=` in values, encoded names,
        // `+`, invalid percent escapes and UTF-8.
        let cases = [
            "",
            "&",
            "=",
            "&&utm_source=&utm_source=x",
            "utm_source",
            "utm_source=a=b",
            "utm%5Fsource=encoded+name",
            "UTM_Source=Upper&utm_source=second",
            "utm_source=%FF%FE",
            "utm_source=%zz%2",
            "utm_source=caf%C3%A9+cr%C3%A8me",
            "gclid=1&fbclid=2",
            "fbclid=&gclid=1",
            "li%5Ffat%5Fid=3",
            "utm_medium=e-mail&utm_campaign=a%26b&utm_term=x%3Dy",
            "utm_id=%2B1+2",
            // Names around the 12-byte longest, with and without encoding
            // elsewhere in the query (which changes how `=` is found).
            "utm_campaign=twelve&utm_campaign_=thirteen",
            "utm_campaignx=long&utm_campaign=ok",
            "averyverylongparametername=1&utm_source=after",
            "%75tm_source=encoded-first-byte&utm_medium=a+b",
            "%75%74%6d%5f%63%61%6d%70%61%69%67%6e=all-encoded",
            "utm_source=plain&x=%20",
            "UTM_CAMPAIGN=upper&li_fat_id=4",
            "toolongname=&utm_term==",
        ];
        for q in cases {
            assert_eq!(found(q), reference(q), "{q:?}");
        }
    }

    proptest! {
        #[test]
        fn params_agree_with_form_urlencoded(
            q in "((utm_(source|medium|campaign|term|content|id)|UTM_Source|utm%5Fsource|gclid|msclkid|fbclid|li_fat_id|[a-z%+]{0,4})(=[a-zA-Z0-9%+=é ]{0,8})?&?){0,6}"
        ) {
            prop_assert_eq!(found(&q), reference(&q), "{:?}", q);
        }
    }

    #[test]
    fn every_click_id_has_a_network() {
        for id in CLICK_IDS {
            assert!(network(id).is_some(), "{id}");
        }
        assert_eq!(network("utm_source"), None);
    }

    #[test]
    fn query_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // --- edge cases ---
            ("", None),
            ("https://example.com", None),
            ("https://example.com/#/route?utm_source=x", None),
            ("https://example.com/?", Some("")),
            ("https://example.com/?a=1#frag?b=2", Some("a=1")),
            ("https://example.com/p?a=1?b=2", Some("a=1?b=2")),
            ("/relative?utm_source=x", Some("utm_source=x")),
            // --- the plain case ---
            ("https://example.com/p?a=1&b=2", Some("a=1&b=2")),
        ];
        for (url, want) in cases {
            assert_eq!(query_of(url), *want, "{url:?}");
        }
    }

    #[test]
    fn paid_regex_table() {
        let cases: &[(&str, bool)] = &[
            ("", false),
            ("cp", true),
            ("cpc", true),
            ("cpm", true),
            ("xcpx", true),
            ("ppc", true),
            ("ppcx", false),
            ("retargeting", true),
            ("paid", true),
            ("paidsocial", true),
            ("unpaid", false),
            ("c-p", false),
            ("email", false),
        ];
        for (medium, want) in cases {
            assert_eq!(is_paid(medium), *want, "{medium}");
        }
    }

    #[test]
    fn source_lists() {
        let cases: &[(&str, [bool; 5])] = &[
            // search, social, ai, video, shopping
            ("", [false; 5]),
            ("newsletter", [false; 5]),
            ("google", [true, false, false, false, false]),
            ("fb", [false, true, false, false, false]),
            ("ig", [false, true, false, false, false]),
            ("facebook.com", [false, true, false, false, false]),
            ("l.facebook.com", [false, true, false, false, false]),
            ("chatgpt.com", [false, false, true, false, false]),
            ("youtube", [false, false, false, true, false]),
            ("m.youtube.com", [false, false, false, true, false]),
            ("vimeo.com", [false, false, false, true, false]),
            ("twitch.tv", [false, false, false, true, false]),
            ("amazon", [false, false, false, false, true]),
            ("www.amazon.co.uk", [false, false, false, false, true]),
            ("smile.amazon.com", [false, false, false, false, true]),
            ("notamazon.com", [false, false, false, false, false]),
        ];
        for (source, want) in cases {
            let s = classify_source(source);
            assert_eq!(
                [s.search, s.social, s.ai, s.video, s.shopping],
                *want,
                "{source}"
            );
        }
    }
}
