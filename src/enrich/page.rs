//! `domain` and `site`: which website the event came from. Always on: the
//! `site` partition key comes from here, and so does `DROP_DOMAINS`.

use super::{Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, Stage};
use crate::domain;
use crate::reason::DropReason;
use crate::settings::{form, ConfigError, DomainPattern, Env, FieldPath, Variable};
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
        let from_url = url.as_deref().and_then(domain::host_from_url);
        let host = match from_url {
            Some(h) => Some(h.into_owned().into()),
            None => record
                .first_string(&self.host_fields)
                .and_then(|bare| domain::host_from_bare(&bare).map(|h| h.into_owned().into())),
        };
        facts.page_url = url;
        facts.host = host;
        let Some(host) = facts.host.as_deref() else {
            out.null("domain");
            out.null("site");
            return Ok(());
        };
        if self.drop_domains.iter().any(|p| p.matches(host)) {
            return Err(DropReason::Domain);
        }
        // Hosts are made of [a-z0-9._:-] only, so they need no escaping.
        out.string("domain", host);
        let site = domain::site(host);
        facts.site_start = host.len() - site.len();
        facts.site_span = Some(out.string_span("site", site));
        Ok(())
    }
}
