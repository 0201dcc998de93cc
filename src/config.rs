//! Configuration: environment variables, read and validated once at start-up.
//!
//! Every variable has a default. A set but invalid value is an error that
//! names the variable and the accepted form; nothing falls back silently.
//! [`Config::from_lookup`] takes any lookup function, so tests need no
//! process environment.

use std::collections::HashSet;
use std::fmt;

/// Every variable this function reads, with its default and accepted form.
/// The configuration table of `docs/configuration.md` is generated from this
/// list ([`variables_markdown`]), and the SAM template's parameters are
/// checked against it by tests.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "TIME_FIELDS",
        default: "timestamp,ts,time,created_at",
        form: FIELD_LIST,
        meaning: "where the event time is; the first present, non-null field is used",
    },
    Variable {
        name: "URL_FIELDS",
        default: "url,page_url,href,location",
        form: URL_FIELD_LIST,
        meaning: "where the page URL is; the first string field is parsed as a URL",
    },
    Variable {
        name: "HOST_FIELDS",
        default: "domain,hostname,host",
        form: HOST_FIELD_LIST,
        meaning: "used when no URL field yields a host: the first string field, read as a bare host",
    },
    Variable {
        name: "MAX_FUTURE",
        default: "1d",
        form: DURATION,
        meaning: "an event time further ahead of arrival falls back to arrival",
    },
    Variable {
        name: "MAX_AGE",
        default: "30d",
        form: DURATION,
        meaning: "an event time further before arrival falls back to arrival",
    },
    Variable {
        name: "DROP_DOMAINS",
        default: "",
        form: DOMAIN_PATTERNS,
        meaning: "empty: drop nothing. records whose `domain` matches are `Dropped` (`*.local` matches `printer.local`, not `local`)",
    },
    Variable {
        name: "DROP_BOTS",
        default: "false",
        form: BOOLEAN,
        meaning: "drop records whose user agent is a bot: on the bundled bot list (`src/bots/`, monperrus/crawler-user-agents) or uap-core's `Spider` device; the same test as `is_bot`",
    },
    Variable {
        name: "USER_AGENT_FIELDS",
        default: "user_agent,userAgent,ua",
        form: USER_AGENT_FIELD_LIST,
        meaning: "where the user agent is, for `DROP_BOTS` and the `user_agent` enricher",
    },
    Variable {
        name: "SITE_ALLOWLIST",
        default: "",
        form: SITE_LIST,
        meaning: "empty: off. sites outside it are partitioned as `site=other`",
    },
    Variable {
        name: "MAX_SITES_PER_BATCH",
        default: "0",
        form: COUNT,
        meaning: "`0`: off. sites beyond the first N distinct ones of a batch are partitioned as `site=other`",
    },
    Variable {
        name: "ENRICHMENTS",
        default: "referrer,campaign,fingerprint,user_agent",
        form: ENRICHMENT_LIST,
        meaning: "which optional enrichers run (see [Record fields](output.md#record-fields)); time, `domain`/`site` and the partition keys are always on",
    },
    Variable {
        name: "REFERRER_FIELDS",
        default: "referrer,page_referrer,document_referrer,referer",
        form: REFERRER_FIELD_LIST,
        meaning: "where the referrer URL is, for the `referrer` enricher (and `channel`); the first string field is used",
    },
    Variable {
        name: "INTERNAL_SITES",
        default: "",
        form: SITE_LIST,
        meaning: "empty: the page's own site only. referrers from these sites are `internal`, as are those from the page's own site",
    },
    Variable {
        name: "REINGEST_OVERFLOW",
        default: "true",
        form: BOOLEAN,
        meaning: "records that do not fit in the 6,000,000-byte response are re-sent to the delivery stream with `PutRecordBatch` and answered `Dropped`; `false` fails them to the error prefix",
    },
    Variable {
        name: "COLUMNS",
        default: "",
        form: COLUMN_LIST,
        meaning: "empty: off, every field stays where it is (JSON output). The template sets it in Parquet mode to the table's columns: members that are not a column, or whose value does not convert to its column's type, move into `extra` (see [Parquet without loss](deploy.md#parquet-without-loss))",
    },
    Variable {
        name: "ANONYMIZE_IP",
        default: "off",
        form: ON_OFF,
        meaning: "privacy: `on` replaces each IP address in `IP_FIELDS` by its network (IPv4 /24, IPv6 /48), element by element in a comma list",
    },
    Variable {
        name: "IP_FIELDS",
        default: "ip,client_ip,ip_address,remote_addr,x_forwarded_for",
        form: PATH_LIST,
        meaning: "where IP addresses are, for `ANONYMIZE_IP`",
    },
    Variable {
        name: "STRIP_QUERY",
        default: "off",
        form: ON_OFF,
        meaning: "privacy: `on` removes the fragment and every query parameter outside `KEEP_QUERY_PARAMS` from the `URL_FIELDS` and `REFERRER_FIELDS` values (after the campaign and channel are read)",
    },
    Variable {
        name: "KEEP_QUERY_PARAMS",
        default: crate::enrich::privacy::DEFAULT_KEEP_QUERY_PARAMS,
        form: PARAM_LIST,
        meaning: "the query parameters `STRIP_QUERY` keeps, matched on the decoded name, ASCII case-insensitively",
    },
    Variable {
        name: "DROP_FIELDS",
        default: "",
        form: PATH_LIST,
        meaning: "privacy: these members are removed from the output (duplicates included)",
    },
    Variable {
        name: "HASH_FIELDS",
        default: "",
        form: PATH_LIST,
        meaning: "privacy: each string or number value here is replaced by HMAC-SHA256(`HASH_KEY`, value as text), 64 lowercase hex digits",
    },
    Variable {
        name: "HASH_KEY",
        default: "",
        form: HASH_KEY_FORM,
        meaning: "the HMAC key for `HASH_FIELDS`; required with it; never logged (the template reads it from Secrets Manager)",
    },
    // --- the consent enricher (src/enrich/consent.rs, its VARIABLE_NAMES) ---
    Variable {
        name: "CONSENT_FIELDS",
        default: "tcString,gpp,consent.tcString",
        form: "a comma-separated list of field names or dotted paths, e.g. `tcString,consent.gpp`",
        meaning: "where the consent string is, for the `consent` enricher: the first non-empty string, a TC string (TCF v2) or a GPP string",
    },
    Variable {
        name: "GPC_FIELDS",
        default: "gpc",
        form: "a comma-separated list of field names or dotted paths, e.g. `gpc,context.gpc`",
        meaning: "where the Global Privacy Control signal is: `true`, `1`, `\"1\"` or `\"true\"` in any of them makes `consent_status` `gpc`, a refusal",
    },
    Variable {
        name: "CONSENT_REQUIRED_PURPOSES",
        default: "1",
        form: "empty (any valid string grants), or a comma-separated list of TCF purpose ids from 1 to 24, e.g. `1,8,9`",
        meaning: "the purposes that must all have consent for `consent_status` to be `granted`; the default, purpose 1 (store and/or access information on a device), is the one the identifiers in `ID_FIELDS` rely on (see [Consent](privacy.md#consent))",
    },
    Variable {
        name: "CONSENT_VENDOR_ID",
        default: "",
        form: "empty, or a TCF vendor id from 1 to 65534",
        meaning: "empty: off. when set, `consent_vendor` is written and `granted` also needs this vendor's consent",
    },
    Variable {
        name: "CONSENT_POLICY",
        default: "off",
        form: "`off`, `anonymize` or `drop`; other than `off`, `consent` must be in `ENRICHMENTS`",
        meaning: "what happens to an event whose `consent_status` is not `granted`: `anonymize` masks `IP_FIELDS` (as `ANONYMIZE_IP`), removes `ID_FIELDS` and the raw user agent, strips query strings (as `STRIP_QUERY`); `drop` answers `Dropped` (`no_consent`)",
    },
    Variable {
        name: "CONSENT_MISSING",
        default: "allow",
        form: "`allow` or `deny`",
        meaning: "whether `CONSENT_POLICY` also acts on `consent_status` `missing` (`deny`) or lets it through (`allow`)",
    },
    Variable {
        name: "ID_FIELDS",
        default: "anonymous_id,user_id,client_id,session_id,device_id",
        form: "empty, or a comma-separated list of field names or dotted paths, e.g. `email,user.email`",
        meaning: "the identifiers `CONSENT_POLICY=anonymize` removes from events without consent",
    },
];

const FIELD_LIST: &str =
    "a comma-separated list of field names or dotted paths, e.g. `timestamp,event.time`";
// Each field variable's example names fields of its own kind.
const URL_FIELD_LIST: &str =
    "a comma-separated list of field names or dotted paths, e.g. `url,context.page.url`";
const HOST_FIELD_LIST: &str =
    "a comma-separated list of field names or dotted paths, e.g. `hostname,context.page.host`";
const USER_AGENT_FIELD_LIST: &str =
    "a comma-separated list of field names or dotted paths, e.g. `user_agent,context.userAgent`";
const REFERRER_FIELD_LIST: &str =
    "a comma-separated list of field names or dotted paths, e.g. `referrer,context.page.referrer`";
const DURATION: &str = "a whole number followed by s, m, h or d, e.g. `90s`, `12h`, `30d`";
const DOMAIN_PATTERNS: &str =
    "empty, or a comma-separated list of lowercase host names or `*.suffix` wildcards, e.g. `localhost,*.local,*.test`";
const BOOLEAN: &str = "`true` or `false`";
const ON_OFF: &str = "`on` or `off`";
const PATH_LIST: &str =
    "empty, or a comma-separated list of field names or dotted paths, e.g. `email,user.email`";
const PARAM_LIST: &str =
    "empty (keep none), or a comma-separated list of query parameter names, e.g. `utm_source,page`";
const HASH_KEY_FORM: &str = "at least 32 bytes when `HASH_FIELDS` is set";
const SITE_LIST: &str = "empty, or a comma-separated list of lowercase registrable domains (not public suffixes such as `co.uk`), e.g. `example.com,shop.co.uk`";
const COUNT: &str = "a whole number from 0 (no cap) to 100000";
const ENRICHMENT_LIST: &str =
    "`none`, or a comma-separated list of optional enrichers: `referrer`, `campaign`, `fingerprint`, `user_agent`, `consent`";

const COLUMN_LIST: &str = "empty (JSON output), or the JSON array `firehose-enricher schema` prints, `[{\"name\":\"…\",\"type\":\"…\"},…]`, with `{\"name\":\"extra\",\"type\":\"string\"}` among them";
/// The configuration table of `docs/configuration.md`, one row per
/// variable, from [`VARIABLES`].
pub fn variables_markdown() -> String {
    let mut table =
        String::from("| variable | default | accepted form | meaning |\n|---|---|---|---|\n");
    for v in VARIABLES {
        let default = if v.default.is_empty() {
            "*(empty)*".to_owned()
        } else {
            format!("`{}`", v.default)
        };
        table.push_str(&format!(
            "| `{}` | {default} | {} | {} |\n",
            v.name, v.form, v.meaning
        ));
    }
    table
}

/// One configuration variable.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    /// The accepted form, as the error message and the docs state it.
    pub form: &'static str,
    /// What it does, for the docs' configuration table.
    pub meaning: &'static str,
}

/// An invalid configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// A field path: `time`, or `event.time` for a nested field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// Index of the first segment in [`Config::top_keys`].
    pub top: usize,
    /// The segments after the first; empty for a top-level field.
    pub nested: Vec<String>,
}

/// A pattern from `DROP_DOMAINS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPattern {
    /// `localhost`: this host only.
    Exact(String),
    /// `*.local`: any host ending in `.local`.
    Suffix(String),
}

impl DomainPattern {
    pub fn matches(&self, host: &str) -> bool {
        match self {
            DomainPattern::Exact(h) => host == h,
            DomainPattern::Suffix(s) => {
                host.len() > s.len() + 1
                    && host.ends_with(s.as_str())
                    && host.as_bytes()[host.len() - s.len() - 1] == b'.'
            }
        }
    }
}

/// The validated configuration of the transform.
#[derive(Debug, Clone)]
pub struct Config {
    pub time_fields: Vec<FieldPath>,
    pub url_fields: Vec<FieldPath>,
    pub host_fields: Vec<FieldPath>,
    pub user_agent_fields: Vec<FieldPath>,
    /// Distinct first segments of all field paths; the record parser looks
    /// for exactly these keys.
    pub top_keys: Vec<String>,
    /// An event time more than this after arrival falls back to arrival.
    pub max_future_ms: i64,
    /// An event time more than this before arrival falls back to arrival.
    pub max_age_ms: i64,
    pub drop_domains: Vec<DomainPattern>,
    pub drop_bots: bool,
    /// When set, sites outside it are partitioned as `other`.
    pub site_allowlist: Option<HashSet<String>>,
    /// When non-zero, sites beyond the first N distinct ones of a batch are
    /// partitioned as `other`.
    pub max_sites_per_batch: usize,
    /// The enabled enrichers, in the order they run.
    pub pipeline: crate::enrich::Pipeline,
    /// The largest response the function may return. Lambda's synchronous
    /// response limit is 6 MB; AWS's own Firehose blueprint keeps under
    /// 6,000,000 bytes, and so do we.
    pub max_response_bytes: usize,
    /// Records that do not fit in the response are re-sent to the delivery
    /// stream and answered `Dropped`, instead of failing. Only the Lambda
    /// runtime reads it: the local commands never call AWS.
    pub reingest_overflow: bool,
    /// `top_keys` and the output fields, indexed for the record parser.
    pub(crate) key_index: crate::record::KeyIndex,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_lookup(|_| None).expect("the defaults are valid")
    }
}

impl Config {
    /// Reads the process environment. A value that is not UTF-8 is an
    /// error naming its variable, never a silent fall back to the default.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_os_lookup(|name| std::env::var_os(name))
    }

    /// [`Config::from_lookup`] over raw environment values. A value that is
    /// not UTF-8 is an error naming its variable: `std::env::var(..).ok()`
    /// would read it as unset and run with the default.
    pub fn from_os_lookup(
        lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Config, ConfigError> {
        for v in VARIABLES {
            if let Some(raw) = lookup(v.name) {
                if raw.to_str().is_none() {
                    return Err(error(v.name, &raw.to_string_lossy()));
                }
            }
        }
        Config::from_lookup(|name| lookup(name).and_then(|v| v.into_string().ok()))
    }

    /// Reads configuration through `lookup`; unset variables take their
    /// defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &'static str| get(&lookup, name);
        let mut top_keys = Vec::new();
        let time_fields = parse_fields(get("TIME_FIELDS"), &mut top_keys)?;
        let url_fields = parse_fields(get("URL_FIELDS"), &mut top_keys)?;
        let host_fields = parse_fields(get("HOST_FIELDS"), &mut top_keys)?;
        let user_agent_fields = parse_fields(get("USER_AGENT_FIELDS"), &mut top_keys)?;
        let mut config = Config {
            time_fields,
            url_fields,
            host_fields,
            user_agent_fields,
            top_keys: Vec::new(),
            max_future_ms: parse_duration(get("MAX_FUTURE"))?,
            max_age_ms: parse_duration(get("MAX_AGE"))?,
            drop_domains: parse_domain_patterns(get("DROP_DOMAINS"))?,
            drop_bots: parse_bool(get("DROP_BOTS"))?,
            site_allowlist: parse_sites(get("SITE_ALLOWLIST"))?,
            max_sites_per_batch: parse_count(get("MAX_SITES_PER_BATCH"))?,
            pipeline: crate::enrich::Pipeline::default(),
            max_response_bytes: 6_000_000,
            reingest_overflow: parse_bool(get("REINGEST_OVERFLOW"))?,
            key_index: crate::record::KeyIndex::default(),
        };
        let enabled = parse_enrichments(get("ENRICHMENTS"))?;
        let mut env = Env {
            lookup: &lookup,
            top_keys,
            core: &config,
        };
        let pipeline = crate::enrich::Pipeline::build(&mut env, &enabled)?;
        if !enabled.contains(&crate::enrich::consent::ENRICHER.name) {
            // Validated even when off, as the privacy controls are; the
            // keys it would read are not looked for.
            let keys = env.top_keys.len();
            crate::enrich::consent::check_disabled(&mut env)?;
            env.top_keys.truncate(keys);
        }
        config.top_keys = env.top_keys;
        config.pipeline = pipeline;
        config.key_index = crate::record::KeyIndex::new(&config.top_keys, config.output_fields());
        Ok(config)
    }

    /// The names of the fields this configuration writes, in output order.
    /// Same-named input fields are replaced.
    pub fn output_fields(&self) -> &[&'static str] {
        self.pipeline.fields()
    }
}

/// What an enricher's `build` reads its configuration through: the
/// variables, the core configuration, and the top-level keys the record
/// parser looks for (which each field list extends).
pub struct Env<'l> {
    lookup: &'l dyn Fn(&str) -> Option<String>,
    top_keys: Vec<String>,
    core: &'l Config,
}

impl Env<'_> {
    /// The core configuration (fields, bounds, drop rules).
    pub fn core(&self) -> &Config {
        self.core
    }

    /// A variable's value, or its default when unset. The variable must be
    /// listed in [`VARIABLES`].
    pub fn get(&self, name: &'static str) -> (&'static str, String) {
        get(self.lookup, name)
    }

    /// A field-list variable, validated; its paths' first segments join the
    /// keys the record parser looks for.
    pub fn fields(&mut self, name: &'static str) -> Result<Vec<FieldPath>, ConfigError> {
        let value = self.get(name);
        parse_fields(value, &mut self.top_keys)
    }

    /// A `true`/`false` variable, validated.
    pub fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        parse_bool(self.get(name))
    }

    /// A list of lowercase registrable domains (may be empty), validated.
    pub fn sites(&self, name: &'static str) -> Result<HashSet<String>, ConfigError> {
        parse_sites(self.get(name)).map(Option::unwrap_or_default)
    }
}

fn get(lookup: &dyn Fn(&str) -> Option<String>, name: &'static str) -> (&'static str, String) {
    let var = VARIABLES
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} is not in config::VARIABLES"));
    (name, lookup(name).unwrap_or_else(|| var.default.to_owned()))
}

/// `ENRICHMENTS`: `none`, or optional enricher names.
fn parse_enrichments(
    (name, value): (&'static str, String),
) -> Result<Vec<&'static str>, ConfigError> {
    if value.trim() == "none" {
        return Ok(Vec::new());
    }
    let mut enabled = Vec::new();
    for item in items(&value) {
        let known = crate::enrich::optional_names()
            .find(|n| *n == item)
            .ok_or_else(|| error(name, &value))?;
        if !enabled.contains(&known) {
            enabled.push(known);
        }
    }
    Ok(enabled)
}

pub(crate) fn error(variable: &'static str, value: &str) -> ConfigError {
    let expected = VARIABLES
        .iter()
        .find(|v| v.name == variable)
        .map_or("", |v| v.form);
    ConfigError {
        variable,
        value: value.to_owned(),
        expected,
    }
}

fn items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim)
}

fn parse_fields(
    (name, value): (&'static str, String),
    top_keys: &mut Vec<String>,
) -> Result<Vec<FieldPath>, ConfigError> {
    if value.trim().is_empty() {
        return Err(error(name, &value));
    }
    items(&value)
        .map(|item| {
            let mut segments = item.split('.');
            let first = segments.next().unwrap_or_default();
            let nested: Vec<String> = segments.map(str::to_owned).collect();
            if first.is_empty() || nested.iter().any(String::is_empty) {
                return Err(error(name, &value));
            }
            let top = match top_keys.iter().position(|k| k == first) {
                Some(i) => i,
                None => {
                    top_keys.push(first.to_owned());
                    top_keys.len() - 1
                }
            };
            Ok(FieldPath { top, nested })
        })
        .collect()
}

fn parse_duration((name, value): (&'static str, String)) -> Result<i64, ConfigError> {
    let v = value.trim();
    // By `char`, not by byte: a value may end in any character (`30é`).
    let mut chars = v.chars();
    let unit_ms: i64 = match chars.next_back() {
        Some('s') => 1_000,
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => return Err(error(name, &value)),
    };
    let digits = chars.as_str();
    digits
        .parse::<u32>()
        .ok()
        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
        .map(|n| i64::from(n) * unit_ms)
        .ok_or_else(|| error(name, &value))
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

fn parse_domain_patterns(
    (name, value): (&'static str, String),
) -> Result<Vec<DomainPattern>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    items(&value)
        .map(|item| match item.strip_prefix("*.") {
            Some(suffix) if is_host_name(suffix) => Ok(DomainPattern::Suffix(suffix.to_owned())),
            None if is_host_name(item) => Ok(DomainPattern::Exact(item.to_owned())),
            _ => Err(error(name, &value)),
        })
        .collect()
}

fn parse_bool((name, value): (&'static str, String)) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(error(name, &value)),
    }
}

fn parse_sites(
    (name, value): (&'static str, String),
) -> Result<Option<HashSet<String>>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    items(&value)
        .map(|item| {
            // A listed public suffix (`co.uk`, `github.io`) is nobody's
            // site: it would match no partition a real page gets. Names
            // the list does not know (`localhost`, `intranet`) are allowed.
            let public_suffix = psl::suffix(item.as_bytes())
                .is_some_and(|s| s.is_known() && s.as_bytes() == item.as_bytes());
            if is_host_name(item) && !public_suffix {
                Ok(item.to_owned())
            } else {
                Err(error(name, &value))
            }
        })
        .collect::<Result<HashSet<_>, _>>()
        .map(Some)
}

fn parse_count((name, value): (&'static str, String)) -> Result<usize, ConfigError> {
    let v = value.trim();
    v.parse::<usize>()
        .ok()
        .filter(|n| *n <= 100_000 && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| error(name, &value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.max_future_ms, 86_400_000);
        assert_eq!(c.max_age_ms, 30 * 86_400_000);
        assert_eq!(c.time_fields.len(), 4);
        assert_eq!(c.url_fields.len(), 4);
        assert_eq!(c.host_fields.len(), 3);
        assert!(c.drop_domains.is_empty());
        assert!(!c.drop_bots);
        assert!(c.site_allowlist.is_none());
        assert_eq!(c.max_sites_per_batch, 0);
        assert_eq!(c.top_keys[0], "timestamp");
        assert!(c.reingest_overflow);
    }

    /// Every invalid value stops start-up with an error naming the variable.
    #[test]
    fn every_invalid_value_names_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("TIME_FIELDS", ""),
            ("TIME_FIELDS", "  "),
            ("TIME_FIELDS", "ts,,time"),
            ("TIME_FIELDS", "event..time"),
            ("TIME_FIELDS", ".time"),
            ("TIME_FIELDS", "time."),
            ("URL_FIELDS", ""),
            ("URL_FIELDS", "url,"),
            ("HOST_FIELDS", ","),
            ("USER_AGENT_FIELDS", ""),
            ("MAX_FUTURE", ""),
            ("MAX_FUTURE", "1"),
            ("MAX_FUTURE", "d"),
            ("MAX_FUTURE", "1w"),
            ("MAX_FUTURE", "-1d"),
            ("MAX_FUTURE", "+1d"),
            ("MAX_FUTURE", "1.5h"),
            ("MAX_FUTURE", "99999999999d"),
            ("MAX_AGE", "thirty days"),
            ("MAX_AGE", "30D"),
            // A multi-byte last character must not be cut mid-character.
            ("MAX_AGE", "30é"),
            ("MAX_AGE", "µ"),
            ("MAX_AGE", "é"),
            ("MAX_FUTURE", "1日"),
            ("MAX_FUTURE", "日"),
            ("MAX_FUTURE", "1d日"),
            ("MAX_SITES_PER_BATCH", "1日"),
            ("DROP_BOTS", "true日"),
            ("DROP_DOMAINS", "é.com"),
            ("SITE_ALLOWLIST", "*.é"),
            ("ENRICHMENTS", "référer"),
            ("DROP_DOMAINS", "*"),
            ("DROP_DOMAINS", "*."),
            ("DROP_DOMAINS", "Localhost"),
            ("DROP_DOMAINS", "localhost,,x"),
            ("DROP_DOMAINS", "a*.b"),
            ("DROP_BOTS", ""),
            ("DROP_BOTS", "yes"),
            ("DROP_BOTS", "TRUE"),
            ("DROP_BOTS", "1"),
            ("REINGEST_OVERFLOW", ""),
            ("REINGEST_OVERFLOW", "off"),
            ("REINGEST_OVERFLOW", "False"),
            ("SITE_ALLOWLIST", "Example.com"),
            ("SITE_ALLOWLIST", "example.com,"),
            ("SITE_ALLOWLIST", "ex ample.com"),
            // Public suffixes are nobody's site.
            ("SITE_ALLOWLIST", "co.uk"),
            ("SITE_ALLOWLIST", "example.com,co.uk"),
            ("SITE_ALLOWLIST", "com"),
            ("SITE_ALLOWLIST", "github.io"),
            ("INTERNAL_SITES", "com.au"),
            ("MAX_SITES_PER_BATCH", ""),
            ("MAX_SITES_PER_BATCH", "-1"),
            ("MAX_SITES_PER_BATCH", "+5"),
            ("MAX_SITES_PER_BATCH", "100001"),
            ("MAX_SITES_PER_BATCH", "ten"),
            ("ENRICHMENTS", ""),
            ("ENRICHMENTS", "fingerprint,"),
            ("ENRICHMENTS", "none,fingerprint"),
            ("ENRICHMENTS", "Fingerprint"),
            ("ENRICHMENTS", "time"), // always on, not a switch
            ("ENRICHMENTS", "page"),
            ("ENRICHMENTS", "nothing"),
        ];
        for (name, value) in cases {
            let err =
                with(&[(name, value)]).expect_err(&format!("{name}={value:?} must be rejected"));
            assert_eq!(err.variable, *name);
            let msg = err.to_string();
            assert!(msg.contains(name), "{msg}");
            assert!(msg.contains("expected"), "{msg}");
            let form = VARIABLES.iter().find(|v| v.name == *name).unwrap().form;
            assert!(msg.contains(form), "{msg}");
        }
    }

    /// A value that is not UTF-8 stops start-up too, rather than reading as
    /// unset and running with the default.
    #[test]
    fn non_utf8_values_name_their_variable() {
        use std::os::unix::ffi::OsStringExt;
        let cases: &[(&str, &[u8])] = &[
            ("MAX_AGE", b"\xff"),
            ("MAX_FUTURE", b"1d\xff"),
            ("TIME_FIELDS", b"\xff"),
            ("URL_FIELDS", b"url,\xc3"),
            ("DROP_BOTS", b"true\xff"),
            ("SITE_ALLOWLIST", b"example.com\xff"),
            ("DROP_DOMAINS", b"\x80"),
            ("ENRICHMENTS", b"none\xff"),
            ("INTERNAL_SITES", b"\xfe"),
            ("REFERRER_FIELDS", b"referrer\xff"),
        ];
        for (name, raw) in cases {
            let err = Config::from_os_lookup(|n| {
                (n == *name).then(|| std::ffi::OsString::from_vec(raw.to_vec()))
            })
            .expect_err(&format!("{name}={raw:?} must be rejected"));
            assert_eq!(err.variable, *name);
            assert!(err.to_string().contains(name), "{err}");
        }
        // UTF-8 values pass through unchanged.
        let c = Config::from_os_lookup(|n| (n == "MAX_AGE").then(|| "12h".into())).unwrap();
        assert_eq!(c.max_age_ms, 12 * 3_600_000);
    }

    #[test]
    fn valid_values() {
        let c = with(&[
            ("TIME_FIELDS", " event.time , ts "),
            ("MAX_FUTURE", "90s"),
            ("MAX_AGE", "12h"),
            ("DROP_DOMAINS", "localhost, *.local,*.test"),
            ("DROP_BOTS", "true"),
            ("SITE_ALLOWLIST", "example.com,shop.co.uk"),
            ("MAX_SITES_PER_BATCH", "200"),
            ("REINGEST_OVERFLOW", " false "),
        ])
        .unwrap();
        assert!(!c.reingest_overflow);
        // Names no public suffix list knows are allowed as sites.
        for sites in ["localhost", "intranet,alice.github.io", "example.internal"] {
            assert!(with(&[("SITE_ALLOWLIST", sites)]).is_ok(), "{sites}");
        }
        // Each field variable's example names its own kind of field.
        for (name, example) in [
            ("URL_FIELDS", "`url,"),
            ("HOST_FIELDS", "`hostname,"),
            ("USER_AGENT_FIELDS", "`user_agent,"),
            ("REFERRER_FIELDS", "`referrer,"),
        ] {
            let msg = with(&[(name, ",")]).unwrap_err().to_string();
            assert!(msg.contains(example), "{msg}");
        }
        assert_eq!(c.max_future_ms, 90_000);
        assert_eq!(c.max_age_ms, 12 * 3_600_000);
        assert_eq!(c.time_fields[0].nested, vec!["time".to_string()]);
        assert_eq!(c.top_keys[c.time_fields[0].top], "event");
        assert_eq!(c.top_keys[c.time_fields[1].top], "ts");
        assert!(c.drop_bots);
        assert_eq!(c.site_allowlist.as_ref().unwrap().len(), 2);
        assert_eq!(c.max_sites_per_batch, 200);
        assert_eq!(
            c.drop_domains,
            vec![
                DomainPattern::Exact("localhost".into()),
                DomainPattern::Suffix("local".into()),
                DomainPattern::Suffix("test".into())
            ]
        );
        let enrichments = |v: &str| {
            with(&[("ENRICHMENTS", v)])
                .unwrap()
                .pipeline
                .enabled()
                .to_vec()
        };
        assert_eq!(enrichments("none"), Vec::<&str>::new());
        assert_eq!(enrichments(" none "), Vec::<&str>::new());
        assert_eq!(enrichments("fingerprint, fingerprint"), vec!["fingerprint"]);
        // Pipeline order, whatever the order named.
        assert_eq!(
            enrichments("fingerprint,campaign,referrer"),
            vec!["referrer", "campaign", "fingerprint"]
        );
        assert_eq!(
            Config::default().pipeline.enabled(),
            ["referrer", "campaign", "fingerprint", "user_agent"]
        );
        assert_eq!(Config::default().output_fields().last(), Some(&"is_bot"));
        // "0s" is a valid, if strict, bound.
        assert_eq!(with(&[("MAX_FUTURE", "0s")]).unwrap().max_future_ms, 0);
    }

    #[test]
    fn domain_patterns() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.local", "local", false), // the suffix alone is not a subdomain
            ("*.local", "printer.local", true),
            ("*.local", "a.b.local", true),
            ("*.local", "notlocal", false),
            ("*.local", "xlocal", false),
            ("localhost", "localhost", true),
            ("localhost", "a.localhost", false),
            ("localhost", "localhost2", false),
        ];
        for (pattern, host, want) in cases {
            let c = with(&[("DROP_DOMAINS", pattern)]).unwrap();
            assert_eq!(
                c.drop_domains[0].matches(host),
                *want,
                "{pattern} vs {host}"
            );
        }
    }
}
