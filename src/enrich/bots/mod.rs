//! The `bots` stage: `DROP_BOTS` drops records whose user agent is a bot
//! (all, or those of the listed categories) before the other enrichers
//! run. The bot test itself, which the `user_agent` enricher's `is_bot` and
//! `bot_category` report, is [`classify`]'s (`classify.rs`).

pub mod classify;
pub mod javascript;

use super::{DropReason, Enricher, Example, Expected, Facts, Fields, Record, Stage};
use crate::settings::{items, parse_switch, ConfigError, Env, FieldPath, Variable};
pub use classify::Category;
use std::sync::Arc;

pub const ENRICHER: Enricher = Enricher {
    name: "bots",
    optional: false,
    summary: "drops bots (`DROP_BOTS`: all, or the listed categories) before the other enrichers run; off by default",
    fields: &[],
    // `USER_AGENT_FIELDS`, which it reads too, is the `user_agent`
    // enricher's.
    variables: &[Variable {
        name: "DROP_BOTS",
        default: "off",
        form: DROP_BOTS_FORM,
        meaning: "drop records whose user agent is a bot (the `is_bot` test): `on` all of them, or only those of the listed `bot_category` values; the humans' in-app and desktop-app browsers are never bots",
    }],
    examples: &[
        Example {
            title: "A crawler, with every bot dropped",
            input: r#"{"user_agent":"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}"#,
            variables: &[("DROP_BOTS", "on")],
            output: Expected::Dropped(DropReason::Bot),
        },
        Example {
            title: "An AI crawler, with AI crawlers and SEO tools dropped",
            input: r#"{"user_agent":"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"}"#,
            variables: &[("DROP_BOTS", "ai_crawler,seo")],
            output: Expected::Dropped(DropReason::Bot),
        },
        Example {
            title: "A search engine's crawler, kept when only AI crawlers are dropped",
            input: r#"{"user_agent":"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"}"#,
            variables: &[("DROP_BOTS", "ai_crawler")],
            output: Expected::Fields(&[("is_bot", Some("true")), ("bot_category", Some(r#""search""#))]),
        },
        Example {
            title: "Facebook's in-app browser: a person, never dropped",
            input: r#"{"user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 13_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone11,8;FBMD/iPhone;FBSN/iOS;FBSV/13.3.1;FBSS/2;FBID/phone;FBLC/en_US;FBOP/5;FBCR/]"}"#,
            variables: &[("DROP_BOTS", "on")],
            output: Expected::Fields(&[("is_bot", Some("false")), ("bot_category", None)]),
        },
    ],
    build,
};

/// `DROP_BOTS`'s accepted form.
const DROP_BOTS_FORM: &str = "`on` or `off` (also accepted: the other spellings of a switch), or a comma-separated list of bot categories (`search`, `ai_crawler`, `ai_agent`, `seo`, `monitoring`, `social_preview`, `feed`, `http_client`, `other`), e.g. `ai_crawler,seo,monitoring`";

/// What `DROP_BOTS` drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropBots {
    None,
    All,
    Only(Vec<Category>),
}

/// `DROP_BOTS`: a switch (`on`: every bot, `off`: none), or a comma list
/// of categories.
pub fn parse_drop_bots(value: &str) -> Option<DropBots> {
    match parse_switch(value) {
        Some(true) => return Some(DropBots::All),
        Some(false) => return Some(DropBots::None),
        None => {}
    }
    let mut categories = Vec::new();
    for item in items(value) {
        let c = Category::parse(item)?;
        if !categories.contains(&c) {
            categories.push(c);
        }
    }
    Some(DropBots::Only(categories))
}

#[derive(Debug)]
struct Drop {
    drop: DropBots,
    fields: Vec<FieldPath>,
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    let (name, value) = env.get("DROP_BOTS");
    let drop = parse_drop_bots(&value).ok_or_else(|| env.error(name, &value))?;
    let fields = env.fields("USER_AGENT_FIELDS")?;
    Ok(Arc::new(Drop { drop, fields }))
}

impl Stage for Drop {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        _: &mut Facts<'a>,
        _: &mut Fields,
    ) -> Result<(), DropReason> {
        let Some(ua) = record.first_string(&self.fields) else {
            return Ok(());
        };
        let Some(category) = super::user_agent::parse_cached(&ua).bot_category else {
            return Ok(());
        };
        match &self.drop {
            DropBots::All => Err(DropReason::Bot),
            DropBots::Only(list) if list.contains(&category) => Err(DropReason::Bot),
            _ => Ok(()),
        }
    }

    /// With `DROP_BOTS=off` the stage is left out: it costs nothing.
    fn active(&self) -> bool {
        self.drop != DropBots::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::DropReason;
    use crate::record::{transform, Outcome};

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    #[test]
    fn drop_bots_takes_all_or_categories() {
        let ua_of = |c: Category| match c {
            Category::Search => {
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            }
            Category::AiCrawler => "CCBot/2.0 (https://commoncrawl.org/faq/)",
            Category::Seo => "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            Category::HttpClient => "curl/8.4.0",
            _ => "Twitterbot/1.0",
        };
        let cases: &[(&str, &[Category])] = &[
            ("off", &[]),
            ("false", &[]),
            ("on", &Category::ALL),
            ("true", &Category::ALL),
            ("ai_crawler,seo", &[Category::AiCrawler, Category::Seo]),
            (" seo , seo ", &[Category::Seo]),
            ("http_client", &[Category::HttpClient]),
        ];
        // DROP_BOTS drops by the is_bot test whatever the enrichers.
        for enrichments in ["none", "referrer,campaign,fingerprint", "user_agent"] {
            for (value, dropped) in cases {
                let config = crate::Config::from_lookup(|n| match n {
                    "DROP_BOTS" => Some(value.to_string()),
                    "ENRICHMENTS" => Some(enrichments.into()),
                    _ => None,
                })
                .unwrap();
                let mut uas: Vec<(&str, bool)> = [
                    Category::Search,
                    Category::AiCrawler,
                    Category::Seo,
                    Category::HttpClient,
                    Category::SocialPreview,
                ]
                .iter()
                .map(|c| (ua_of(*c), dropped.contains(c)))
                .collect();
                uas.push((CHROME, false));
                for (ua, want) in uas {
                    let data = serde_json::json!({ "user_agent": ua }).to_string();
                    let t = transform(data.as_bytes(), 0, &config);
                    let got = matches!(t.outcome, Outcome::Dropped(DropReason::Bot));
                    assert_eq!(got, want, "DROP_BOTS={value} {enrichments}: {ua}");
                }
            }
        }
        assert_eq!(
            parse_drop_bots("ai_agent,feed"),
            Some(DropBots::Only(vec![Category::AiAgent, Category::Feed]))
        );
        for bad in ["", "maybe", "seo,", "ai_crawler,robots", "SEO"] {
            assert_eq!(parse_drop_bots(bad), None, "{bad:?}");
        }
    }
}
