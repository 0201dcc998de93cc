//! `domain` and `site`: which website the event came from. Always on: the
//! `site` partition key comes from here, and so does `DROP_DOMAINS`.

use super::recent::{self, Recent};
use super::{Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, Stage};
use crate::domain;
use crate::reason::DropReason;
use crate::settings::{form, ConfigError, DomainPattern, Env, FieldPath, Variable};
use std::cell::RefCell;
use std::sync::Arc;

pub const ENRICHER: Enricher = Enricher {
    name: "page",
    optional: false,
    summary: "the page's host and registrable domain, for the site partition",
    fields: &[
        Field {
            name: "domain",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Nullable,
            description: "the page's host: lowercase ASCII, IDN as punycode, no port, userinfo or trailing dot; IP addresses kept (IPv6 without brackets); `null` when there is no valid host",
        },
        Field {
            name: "site",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Nullable,
            description: "the registrable domain of `domain` per the Public Suffix List, private section included; an IP address, a single-label host or a public suffix is its own site; `null` when `domain` is",
        },
    ],
    variables: &[
        Variable {
            name: "URL_FIELDS",
            default: "url,page_url,href,location",
            // Each field variable's example names fields of its own kind.
            form: "a comma-separated list of field names or dotted paths, e.g. `url,context.page.url`",
            meaning: "where the page URL is; the first string field is parsed as a URL",
        },
        Variable {
            name: "HOST_FIELDS",
            default: "domain,hostname,host",
            form: "a comma-separated list of field names or dotted paths, e.g. `hostname,context.page.host`",
            meaning: "used when no URL field yields a host: the first string field, read as a bare host",
        },
        Variable {
            name: "DROP_DOMAINS",
            default: "",
            form: form::DOMAIN_PATTERNS,
            meaning: "empty: drop nothing. records whose `domain` matches are `Dropped` (`*.local` matches `printer.local`, not `local`)",
        },
    ],
    examples: &[
        Example {
            title: "A page URL",
            input: r#"{"url":"https://News.BBC.co.uk:443/news?id=1"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("domain", Some(r#""news.bbc.co.uk""#)),
                ("site", Some(r#""bbc.co.uk""#)),
            ]),
        },
        Example {
            title: "No URL: a bare host, internationalized",
            input: r#"{"hostname":"Bücher.example.de."}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("domain", Some(r#""xn--bcher-kva.example.de""#)),
                ("site", Some(r#""example.de""#)),
            ]),
        },
        Example {
            title: "No host at all",
            input: r#"{"event":"page_view"}"#,
            variables: &[],
            output: Expected::Fields(&[("domain", Some("null")), ("site", Some("null"))]),
        },
        Example {
            title: "A dropped domain",
            input: r#"{"url":"http://printer.local/status"}"#,
            variables: &[("DROP_DOMAINS", "localhost,*.local")],
            output: Expected::Dropped(DropReason::Domain),
        },
    ],
    build,
};

#[derive(Debug)]
struct Page {
    url_fields: Vec<FieldPath>,
    host_fields: Vec<FieldPath>,
    drop_domains: Vec<DomainPattern>,
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    Ok(Arc::new(Page {
        url_fields: env.fields("URL_FIELDS")?,
        host_fields: env.fields("HOST_FIELDS")?,
        drop_domains: env.domain_patterns("DROP_DOMAINS")?,
    }))
}

impl Stage for Page {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        facts: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        // The first string URL field, parsed as a URL; failing that, the
        // first string host field, read as a bare host.
        let url = record.first_string(&self.url_fields);
        let found = url.as_deref().and_then(host_and_site).or_else(|| {
            let bare = record.first_string(&self.host_fields)?;
            let host = domain::host_from_bare(&bare)?.into_owned();
            let site_start = domain::site_start(&host);
            Some((host, site_start))
        });
        facts.page_url = url;
        let Some((host, site_start)) = found else {
            facts.host = None;
            out.null("domain");
            out.null("site");
            return Ok(());
        };
        if self.drop_domains.iter().any(|p| p.matches(&host)) {
            return Err(DropReason::Domain);
        }
        // Hosts are made of [a-z0-9._:-] only, so they need no escaping.
        out.string("domain", &host);
        facts.site_span = Some(out.string_span("site", &host[site_start..]));
        facts.site_start = site_start;
        facts.host = Some(host.into());
        Ok(())
    }
}

/// Slots of the per-thread host cache: a batch holds the pages of a few
/// sites, seldom more than a handful of hosts.
const RECENT_SLOTS: usize = 256;

/// A host and where its site starts; `None` for no valid host.
type Found = Option<(Box<str>, usize)>;

thread_local! {
    /// Page hosts by their [`domain::host_key`], and where their sites
    /// start. A hit costs the key's scan, a hash and a compare, where a
    /// miss costs the host's normalization and a Public Suffix List
    /// lookup.
    static RECENT: RefCell<Recent<Found>> =
        RefCell::new(Recent::new(RECENT_SLOTS));
}

/// Empties this thread's host cache (for `bench --cold-cache`).
pub fn clear_cache() {
    RECENT.with_borrow_mut(Recent::clear);
}

/// The page URL's normalized host and where its site starts in it.
fn host_and_site(url: &str) -> Option<(String, usize)> {
    let compute = |url: &str| {
        let host = domain::host_from_url(url)?;
        let site_start = domain::site_start(&host);
        Some((Box::<str>::from(host), site_start))
    };
    let found = match domain::host_key(url) {
        Some(key) => recent::through(&RECENT, key.as_bytes(), || compute(url)),
        None => compute(url),
    };
    found.map(|(host, site_start)| (host.into(), site_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the cache, cold and warm, and with more keys than slots,
    /// every URL gets the host and site it gets uncached.
    #[test]
    fn the_host_cache_answers_as_the_parser() {
        let mut urls: Vec<String> = [
            "https://News.BBC.co.uk:443/news?id=1",
            "https://news.bbc.co.uk/other",
            "https://alice.github.io/x",
            "http://münchen.de/",
            "https://xn--zz.com/",
            "https://exa mple.com/",
            "https://127.0.0.1:8080/",
            "https://[::1]/",
            "www.example.co.jp/x",
            "//cdn.example.com/x",
            "not a url",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        urls.extend(
            (0..3 * RECENT_SLOTS).map(|n| format!("https://host{n}.example.co.uk/p?q={n}")),
        );
        clear_cache();
        for round in 0..2 {
            for url in urls.iter().rev() {
                let want = domain::host_from_url(url).map(|h| {
                    let site = domain::site(&h).to_string();
                    (h.into_owned(), site)
                });
                let got = host_and_site(url).map(|(h, at)| {
                    let site = h[at..].to_string();
                    (h, site)
                });
                assert_eq!(got, want, "{url:?} in round {round}");
            }
        }
    }
}
