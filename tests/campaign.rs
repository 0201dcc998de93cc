//! The `campaign` enricher through the whole record transform: the UTM
//! fields (percent-encoding, case, repeats, empty values), `click_network`,
//! and every `channel` rule in its order.

mod common;

use firehose_enricher::enrich::campaign::{CHANNELS, UTM_PARAMS};
use firehose_enricher::Config;
use serde_json::Value;

fn config(enrichments: &str) -> Config {
    common::config(&[("ENRICHMENTS", enrichments)])
}

fn output(input: &str, config: &Config) -> Value {
    let out = common::enriched(input, config);
    for (k, v) in out.as_object().unwrap() {
        assert!(
            !v.is_null() || k == "domain" || k == "site",
            "{k} is null: {out}"
        );
    }
    out
}

/// A field of the output, `-` when absent.
fn field(out: &Value, name: &str) -> String {
    out.get(name)
        .map_or("-".to_owned(), |v| v.as_str().unwrap().to_owned())
}

#[test]
fn utm_table() {
    let config = config("campaign");
    // The query, and the six UTM values in order ("-": absent).
    let cases: &[(&str, [&str; 6])] = &[
        // --- edge cases ---
        ("", ["-"; 6]),
        ("?", ["-"; 6]),
        ("?utm_source", ["-"; 6]),
        ("?utm_source=", ["-"; 6]),
        ("?=x&&utm_source&=", ["-"; 6]),
        ("#?utm_source=hash", ["-"; 6]), // in the fragment: no query
        ("?utm_source=a#utm_medium=b", ["a", "-", "-", "-", "-", "-"]),
        ("?utm_sourcex=a&xutm_source=b", ["-"; 6]),
        // Percent-decoding as UTF-8, `+` as a space.
        ("?utm_campaign=black+friday", ["-", "-", "black friday", "-", "-", "-"]),
        ("?utm_campaign=black%20friday%2B", ["-", "-", "black friday+", "-", "-", "-"]),
        ("?utm_term=m%C3%BCnchen", ["-", "-", "-", "münchen", "-", "-"]),
        ("?utm_term=%E2%82%AC%F0%9F%8E%89", ["-", "-", "-", "€🎉", "-", "-"]),
        ("?utm_term=%FF", ["-", "-", "-", "\u{FFFD}", "-", "-"]), // not UTF-8
        ("?utm_term=50%", ["-", "-", "-", "50%", "-", "-"]),      // a lone %
        ("?utm_term=%zz", ["-", "-", "-", "%zz", "-", "-"]),
        ("?utm_content=a%26b%3Dc", ["-", "-", "-", "-", "a&b=c", "-"]),
        ("?utm_content=%22q%22%5C%0A", ["-", "-", "-", "-", "\"q\"\\\n", "-"]),
        ("?utm%5Fsource=encoded", ["encoded", "-", "-", "-", "-", "-"]),
        // Names match case-insensitively; values keep their case.
        ("?UTM_SOURCE=Google&Utm_Medium=CPC", ["Google", "CPC", "-", "-", "-", "-"]),
        // The first occurrence wins; an empty one counts as absent.
        ("?utm_source=a&utm_source=b", ["a", "-", "-", "-", "-", "-"]),
        ("?UTM_SOURCE=a&utm_source=b", ["a", "-", "-", "-", "-", "-"]),
        ("?utm_source=&utm_source=b", ["b", "-", "-", "-", "-", "-"]),
        // --- the plain case ---
        (
            "?utm_source=newsletter&utm_medium=email&utm_campaign=nov&utm_term=kettle&utm_content=hero&utm_id=42",
            ["newsletter", "email", "nov", "kettle", "hero", "42"],
        ),
    ];
    for (query, want) in cases {
        let input =
            serde_json::json!({ "url": format!("https://www.example.com/p{query}") }).to_string();
        let out = output(&input, &config);
        let got = UTM_PARAMS.map(|f| field(&out, f));
        assert_eq!(got, want.map(str::to_owned), "{query}");
    }
}

#[test]
fn page_url_sources() {
    let config = config("campaign");
    let cases: &[(&str, &str)] = &[
        // The URL the page's `domain` comes from (URL_FIELDS), escaped or not.
        (r#"{"url":"https://a.com/?utm_source=x"}"#, "x"),
        (r#"{"url":"https:\/\/a.com\/?utm_source=\u0078"}"#, "x"),
        (r#"{"url":5,"page_url":"https://a.com/?utm_source=y"}"#, "y"),
        (r#"{"url":"/landing?utm_source=rel"}"#, "rel"),
        (r#"{"href":"a.com/x?utm_source=bare"}"#, "bare"),
        // Not a URL field.
        (r#"{"referrer":"https://a.com/?utm_source=x"}"#, "-"),
        (r#"{"link":"https://a.com/?utm_source=x"}"#, "-"),
    ];
    for (input, want) in cases {
        assert_eq!(
            field(&output(input, &config), "utm_source"),
            *want,
            "{input}"
        );
    }
}

#[test]
fn click_network_table() {
    let config = config("campaign");
    let cases: &[(&str, &str)] = &[
        // --- edge cases ---
        ("", "-"),
        ("?gclid=", "-"), // empty counts as absent
        ("?gclidx=1&xgclid=1", "-"),
        ("?utm_source=gclid", "-"),
        ("?GCLID=abc", "google_ads"),
        ("?fbclid=&msclkid=1", "microsoft_ads"),
        ("?fbclid=1&gclid=2", "meta"), // the first in the query
        // --- every identifier ---
        ("?gclid=Cj0", "google_ads"),
        ("?gbraid=0AAA", "google_ads"),
        ("?wbraid=Cl", "google_ads"),
        ("?dclid=CJ", "google_ads"),
        ("?msclkid=9c", "microsoft_ads"),
        ("?fbclid=IwAR", "meta"),
        ("?ttclid=E.C", "tiktok"),
        ("?li_fat_id=1a2b", "linkedin"),
        ("?twclid=2", "x"),
    ];
    for (query, want) in cases {
        let input =
            serde_json::json!({ "url": format!("https://www.example.com/{query}") }).to_string();
        assert_eq!(
            field(&output(&input, &config), "click_network"),
            *want,
            "{query}"
        );
    }
}

/// Every channel rule, each with a case that also meets a later rule, so
/// that the order is tested too.
#[test]
fn channel_table() {
    let with_referrer = config("referrer,campaign");
    // (page query, referrer or "" for none, channel)
    let cases: &[(&str, &str, &str)] = &[
        // --- with a campaign: the rules in order ---
        // 1. Email, by source or medium, before any paid rule.
        ("?utm_source=facebook&utm_medium=email", "", "Email"),
        ("?utm_source=E-Mail&utm_medium=cpc", "", "Email"),
        ("?utm_source=news&utm_medium=e_mail", "", "Email"),
        ("?utm_source=news&utm_medium=e%20mail", "", "Email"),
        ("?utm_source=news&utm_medium=EMAIL", "", "Email"),
        // 2. Paid Social: a social source and a paid medium.
        ("?utm_source=facebook&utm_medium=cpc", "", "Paid Social"),
        ("?utm_source=Facebook&utm_medium=CPC", "", "Paid Social"),
        ("?utm_source=fb&utm_medium=paid_social", "", "Paid Social"),
        ("?utm_source=ig&utm_medium=paid", "", "Paid Social"),
        ("?utm_source=linkedin.com&utm_medium=cpm", "", "Paid Social"), // before Display
        (
            "?utm_source=l.facebook.com&utm_medium=retargeting",
            "",
            "Paid Social",
        ),
        // 3. Paid Search.
        ("?utm_source=google&utm_medium=cpc", "", "Paid Search"),
        ("?utm_source=bing&utm_medium=ppc", "", "Paid Search"),
        ("?utm_source=google.de&utm_medium=cpm", "", "Paid Search"),
        // 4. Paid Video (YouTube is video, not social, here).
        ("?utm_source=youtube&utm_medium=cpv", "", "Paid Video"),
        ("?utm_source=vimeo.com&utm_medium=paid", "", "Paid Video"),
        // 5. Paid Shopping.
        ("?utm_source=amazon&utm_medium=ppc", "", "Paid Shopping"),
        (
            "?utm_source=www.ebay.co.uk&utm_medium=cpc",
            "",
            "Paid Shopping",
        ),
        // 6. Display, before Paid Other (cpm is also paid).
        ("?utm_source=partner&utm_medium=display", "", "Display"),
        ("?utm_source=partner&utm_medium=Banner", "", "Display"),
        ("?utm_source=partner&utm_medium=expandable", "", "Display"),
        ("?utm_source=partner&utm_medium=interstitial", "", "Display"),
        ("?utm_source=partner&utm_medium=cpm", "", "Display"),
        // 7. Paid Other.
        ("?utm_source=partner&utm_medium=cpc", "", "Paid Other"),
        ("?utm_source=chatgpt.com&utm_medium=cpc", "", "Paid Other"),
        ("?utm_medium=paid", "", "Paid Other"),
        // 8. Organic Social, before video and search.
        ("?utm_source=facebook", "", "Organic Social"),
        (
            "?utm_source=facebook&utm_medium=video",
            "",
            "Organic Social",
        ),
        ("?utm_source=google&utm_medium=social", "", "Organic Social"),
        (
            "?utm_source=partner&utm_medium=social-network",
            "",
            "Organic Social",
        ),
        (
            "?utm_source=partner&utm_medium=Social+Media",
            "",
            "Organic Social",
        ),
        ("?utm_source=partner&utm_medium=sm", "", "Organic Social"),
        // 9. Organic Video, before search.
        ("?utm_source=youtube", "", "Organic Video"),
        ("?utm_source=google&utm_medium=video", "", "Organic Video"),
        (
            "?utm_source=partner&utm_medium=pre-roll-video",
            "",
            "Organic Video",
        ),
        // 10. Organic Search.
        ("?utm_source=google", "", "Organic Search"),
        (
            "?utm_source=duckduckgo&utm_medium=referral",
            "",
            "Organic Search",
        ),
        (
            "?utm_source=partner&utm_medium=organic",
            "",
            "Organic Search",
        ),
        // 11. Affiliates.
        ("?utm_source=partner&utm_medium=affiliate", "", "Affiliates"),
        (
            "?utm_source=partner&utm_medium=affiliates",
            "",
            "Affiliates",
        ),
        // 12. Referral, before AI Assistant.
        ("?utm_source=partner&utm_medium=referral", "", "Referral"),
        ("?utm_source=partner&utm_medium=app", "", "Referral"),
        ("?utm_source=partner&utm_medium=link", "", "Referral"),
        (
            "?utm_source=chatgpt.com&utm_medium=referral",
            "",
            "Referral",
        ),
        // 13. Audio.
        ("?utm_source=podcast&utm_medium=audio", "", "Audio"),
        // 14. SMS.
        ("?utm_source=twilio&utm_medium=SMS", "", "SMS"),
        // 15. Mobile Push Notifications.
        (
            "?utm_source=app&utm_medium=push",
            "",
            "Mobile Push Notifications",
        ),
        (
            "?utm_source=app&utm_medium=web-push",
            "",
            "Mobile Push Notifications",
        ),
        (
            "?utm_source=app&utm_medium=mobile-banner",
            "",
            "Mobile Push Notifications",
        ),
        (
            "?utm_source=app&utm_medium=notification",
            "",
            "Mobile Push Notifications",
        ),
        // 16. AI Assistant: the source is on the AI list.
        ("?utm_source=chatgpt.com", "", "AI Assistant"),
        ("?utm_source=perplexity", "", "AI Assistant"),
        ("?utm_source=claude.ai&utm_medium=chat", "", "AI Assistant"),
        // 17. Unassigned.
        ("?utm_source=newsletter&utm_medium=weekly", "", "Unassigned"),
        ("?utm_campaign=spring", "", "Unassigned"),
        ("?utm_id=7", "https://www.google.com/", "Unassigned"), // a campaign beats the referrer
        // A campaign beats a click identifier too.
        ("?utm_source=news&utm_medium=email&gclid=1", "", "Email"),
        // --- without a campaign ---
        // A Google or Microsoft click identifier: Paid Search.
        ("?gclid=1", "", "Paid Search"),
        ("?wbraid=1", "https://www.facebook.com/", "Paid Search"),
        ("?msclkid=1", "", "Paid Search"),
        // Other networks' identifiers decide nothing.
        ("?fbclid=1", "", "Direct"),
        ("?fbclid=1", "https://m.facebook.com/", "Organic Social"),
        ("?ttclid=1&utm_source=", "", "Direct"),
        // No referrer: Direct.
        ("", "", "Direct"),
        ("?utm_source=&utm_medium=", "", "Direct"), // empty values are absent
        // The referrer's medium.
        ("", "https://www.example.com/", "Internal"),
        ("", "https://www.google.com/", "Organic Search"),
        ("", "https://www.bing.com/search?q=x", "Organic Search"),
        ("", "https://www.youtube.com/watch?v=1", "Organic Video"),
        ("", "https://vimeo.com/1", "Organic Video"),
        ("", "https://www.twitch.tv/x", "Organic Video"),
        ("", "https://www.dailymotion.com/video/x", "Organic Video"),
        ("", "https://t.co/abc", "Organic Social"),
        ("", "https://www.reddit.com/r/x", "Organic Social"),
        ("", "https://chatgpt.com/", "AI Assistant"),
        ("", "https://gemini.google.com/app", "AI Assistant"),
        ("", "https://mail.google.com/mail/u/0/", "Email"),
        ("", "https://news.example.org/story", "Referral"),
    ];
    for (query, referrer, want) in cases {
        let mut record = serde_json::json!({ "url": format!("https://shop.example.com/p{query}") });
        if !referrer.is_empty() {
            record["referrer"] = (*referrer).into();
        }
        let input = record.to_string();
        let got = field(&output(&input, &with_referrer), "channel");
        assert_eq!(got, *want, "{input}");
    }
    // Every value the channel takes has a case, and no case expects another.
    for c in CHANNELS {
        assert!(
            cases.iter().any(|(_, _, want)| *want == c),
            "no case for {c}"
        );
    }
    for (_, _, want) in cases {
        assert!(CHANNELS.contains(want), "{want} is not in CHANNELS");
    }
}

#[test]
fn channel_without_the_referrer_enricher() {
    let config = config("campaign");
    let cases: &[(&str, &str)] = &[
        // Without a campaign or a Google/Microsoft click, the channel needs
        // the referrer: absent, never a wrong `Direct`.
        (r#"{"url":"https://a.com/"}"#, "-"),
        (
            r#"{"url":"https://a.com/","referrer":"https://www.google.com/"}"#,
            "-",
        ),
        (r#"{"url":"https://a.com/?fbclid=1"}"#, "-"),
        (r#"{"url":"https://a.com/?gclid=1"}"#, "Paid Search"),
        (
            r#"{"url":"https://a.com/?utm_source=google"}"#,
            "Organic Search",
        ),
    ];
    for (input, want) in cases {
        let out = output(input, &config);
        assert_eq!(field(&out, "channel"), *want, "{input}");
        assert!(out.get("referrer_medium").is_none(), "{out}");
    }
}

#[test]
fn no_campaign_writes_no_field() {
    // Only the always-on fields: the campaign's are omitted, not null.
    let out = output(r#"{"url":"https://a.com/?q=1"}"#, &config("campaign"));
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // (serde_json's map sorts its keys.)
    assert_eq!(
        keys,
        [
            "domain",
            "event_time",
            "event_time_source",
            "received_at",
            "site",
            "url"
        ]
    );
}
