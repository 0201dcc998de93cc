//! The assembled configuration: the core's variables, read and validated
//! once at start-up, and the pipeline of enrichers built from theirs.
//!
//! Reading and validating a variable is [`crate::settings`]' job (the
//! bottom of the crate). Each enricher declares its own variables in the
//! registry ([`crate::enrich::PIPELINE`]); this module adds the few the core
//! reads ([`CORE_VARIABLES`]) and builds [`VARIABLES`], the whole list, from
//! both. Every variable has a default. A set but invalid value is an error
//! that names the variable and the accepted form; nothing falls back
//! silently. [`Config::from_lookup`] takes any lookup function, so tests
//! need no process environment.

use crate::enrich::{Pipeline, PIPELINE};
pub use crate::settings::{form, ConfigError, DomainPattern, Env, FieldPath, Variable};
use std::collections::HashSet;

/// The variables only the core reads: which enrichers run, the partition
/// caps, re-ingestion and metrics. Every other variable is declared by
/// the one enricher it belongs to. Any part may read any declared variable
/// (the core reads the enrichers' field lists, the `bots` stage reads the
/// `user_agent` enricher's `USER_AGENT_FIELDS`, the privacy controls strip
/// the page's and the referrer's URL fields); none may read another name.
pub const CORE_VARIABLES: &[Variable] = &[
    Variable {
        name: "ENRICHMENTS",
        default: "referrer,campaign,fingerprint,user_agent,geo",
        form: ENRICHMENT_LIST,
        meaning: "which optional enrichers run (see [Record fields](output.md#record-fields)); time, `domain`/`site` and the partition keys are always on",
    },
    Variable {
        name: "SITE_ALLOWLIST",
        default: "",
        form: form::SITE_LIST,
        meaning: "empty: off. sites outside it are partitioned as `site=other`",
    },
    Variable {
        name: "MAX_SITES_PER_BATCH",
        default: "0",
        form: form::COUNT,
        meaning: "`0`: off. sites beyond the first N distinct ones of a batch are partitioned as `site=other`",
    },
    Variable {
        name: "REINGEST_OVERFLOW",
        default: "on",
        form: form::SWITCH,
        meaning: "records that do not fit in the 6,000,000-byte response are re-sent to the delivery stream with `PutRecordBatch` and answered `Dropped`; `off` fails them to the error prefix",
    },
    Variable {
        name: "DETAILED_METRICS",
        default: "off",
        form: form::SWITCH,
        meaning: "`off`: at most five CloudWatch metrics (`RecordsOk`, `RecordsDropped`, `RecordsFailed`, and `Reingested` and `IpNotAnonymized` when not zero); `on` adds one per reason, bytes and processing time, each a custom metric billed monthly (see [Metrics](operations.md#metrics))",
    },

];

/// Every variable this function reads, with its default and accepted form:
/// [`CORE_VARIABLES`], then each enricher's in pipeline order. Built at
/// compile time from the registry. The configuration table of
/// `docs/configuration.md` is generated from this list
/// ([`variables_markdown`]), and the SAM template's parameters are checked
/// against it by tests.
pub const VARIABLES: &[Variable] = &ALL_VARIABLES;

const fn variable_count() -> usize {
    let mut n = CORE_VARIABLES.len();
    let mut i = 0;
    while i < PIPELINE.len() {
        n += PIPELINE[i].variables.len();
        i += 1;
    }
    n
}

const ALL_VARIABLES: [Variable; variable_count()] = {
    let mut all = [CORE_VARIABLES[0]; variable_count()];
    let mut n = 0;
    while n < CORE_VARIABLES.len() {
        all[n] = CORE_VARIABLES[n];
        n += 1;
    }
    let mut i = 0;
    while i < PIPELINE.len() {
        let mut j = 0;
        while j < PIPELINE[i].variables.len() {
            all[n] = PIPELINE[i].variables[j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    all
};

/// The accepted form of `ENRICHMENTS`: `none`, or the optional enrichers'
/// names, derived from [`PIPELINE`] at compile time.
pub const ENRICHMENT_LIST: &str = match std::str::from_utf8(&ENRICHMENT_LIST_BYTES) {
    Ok(text) => text,
    Err(_) => panic!("enricher names are UTF-8"),
};

const ENRICHMENT_LIST_PREFIX: &str = "`none`, or a comma-separated list of optional enrichers: ";

/// `ENRICHMENT_LIST`'s text, written into `out` when there is one; its
/// length either way. One function for both, so the two cannot disagree.
const fn enrichment_list(mut out: Option<&mut [u8]>) -> usize {
    const fn put(out: &mut Option<&mut [u8]>, at: usize, text: &str) -> usize {
        let bytes = text.as_bytes();
        if let Some(out) = out {
            let mut i = 0;
            while i < bytes.len() {
                out[at + i] = bytes[i];
                i += 1;
            }
        }
        at + bytes.len()
    }
    let mut at = put(&mut out, 0, ENRICHMENT_LIST_PREFIX);
    let mut first = true;
    let mut i = 0;
    while i < PIPELINE.len() {
        if PIPELINE[i].optional {
            if !first {
                at = put(&mut out, at, ", ");
            }
            at = put(&mut out, at, "`");
            at = put(&mut out, at, PIPELINE[i].name);
            at = put(&mut out, at, "`");
            first = false;
        }
        i += 1;
    }
    at
}

const ENRICHMENT_LIST_BYTES: [u8; enrichment_list(None)] = {
    let mut bytes = [0; enrichment_list(None)];
    enrichment_list(Some(&mut bytes));
    bytes
};

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

/// The validated configuration of the transform. Built only by reading
/// variables ([`Config::from_lookup`] and its siblings), so that its parts
/// agree: the field lists index the pipeline's keys.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// When set, sites outside it are partitioned as `other`.
    pub site_allowlist: Option<HashSet<String>>,
    /// When non-zero, sites beyond the first N distinct ones of a batch are
    /// partitioned as `other`.
    pub max_sites_per_batch: usize,
    /// The enabled enrichers, in the order they run: all of the
    /// configuration the record layer sees (`Config` lends it through
    /// `AsRef<Pipeline>`).
    pub pipeline: Pipeline,
    /// The largest response the function may return. Lambda's synchronous
    /// response limit is 6 MB; AWS's own Firehose blueprint keeps under
    /// 6,000,000 bytes, and so do we.
    pub max_response_bytes: usize,
    /// Records that do not fit in the response are re-sent to the delivery
    /// stream and answered `Dropped`, instead of failing. Only the Lambda
    /// runtime reads it: the local commands never call AWS.
    pub reingest_overflow: bool,
    /// `DETAILED_METRICS`: the per-reason, byte and time metrics too. Only
    /// the Lambda runtime reads it.
    pub detailed_metrics: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_lookup(|_| None).expect("the defaults are valid")
    }
}

impl AsRef<Pipeline> for Config {
    fn as_ref(&self) -> &Pipeline {
        &self.pipeline
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
                    return Err(ConfigError {
                        variable: v.name,
                        value: raw.to_string_lossy().into_owned(),
                        expected: v.form,
                    });
                }
            }
        }
        Config::from_lookup(|name| lookup(name).and_then(|v| v.into_string().ok()))
    }

    /// Reads configuration through `lookup`; unset variables take their
    /// defaults. Only [`VARIABLES`] are read: a read of any other name (a
    /// variable an enricher forgot to declare) is an error.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::assemble(&lookup, PIPELINE, VARIABLES)
    }

    /// Builds the configuration from `enrichers` (the registry, or a test's
    /// own), reading only `declared`.
    fn assemble(
        lookup: &dyn Fn(&str) -> Option<String>,
        enrichers: &[&crate::enrich::Enricher],
        declared: &[Variable],
    ) -> Result<Config, ConfigError> {
        let mut env = Env::new(lookup, declared);
        // The field lists the core keeps first, so that their keys come
        // first in the parser's table, in this order.
        let time_fields = env.fields("TIME_FIELDS")?;
        let url_fields = env.fields("URL_FIELDS")?;
        let host_fields = env.fields("HOST_FIELDS")?;
        let user_agent_fields = env.fields("USER_AGENT_FIELDS")?;
        let max_future_ms = env.duration_ms("MAX_FUTURE")?;
        let max_age_ms = env.duration_ms("MAX_AGE")?;
        let drop_domains = env.domain_patterns("DROP_DOMAINS")?;
        let site_allowlist = env.site_list("SITE_ALLOWLIST")?;
        let max_sites_per_batch = env.count("MAX_SITES_PER_BATCH")?;
        let reingest_overflow = env.switch("REINGEST_OVERFLOW")?;
        let detailed_metrics = env.switch("DETAILED_METRICS")?;
        let enabled = enrichments(&env, enrichers)?;
        let pipeline = Pipeline::build(enrichers, &mut env, &enabled);
        // An undeclared read first: it may be what made a build fail.
        env.check()?;
        let pipeline = pipeline?;
        // The consent enricher's variables are validated even when it is
        // off, as the privacy controls are, on an `Env` of their own: the
        // keys it would read are not looked for.
        let consent_off = enrichers
            .iter()
            .any(|e| e.name == crate::enrich::consent::ENRICHER.name)
            && !enabled.contains(&crate::enrich::consent::ENRICHER.name);
        if consent_off {
            let mut off = Env::new(lookup, declared);
            let checked = crate::enrich::consent::check_disabled(&mut off);
            off.check()?;
            checked?;
        }
        Ok(Config {
            time_fields,
            url_fields,
            host_fields,
            user_agent_fields,
            top_keys: env.top_keys().to_vec(),
            max_future_ms,
            max_age_ms,
            drop_domains,
            site_allowlist,
            max_sites_per_batch,
            pipeline,
            max_response_bytes: 6_000_000,
            reingest_overflow,
            detailed_metrics,
        })
    }

    /// The names of the fields this configuration writes, in output order.
    /// Same-named input fields are replaced.
    pub fn output_fields(&self) -> &[&'static str] {
        self.pipeline.fields()
    }
}

/// `ENRICHMENTS`: `none`, or optional enricher names.
fn enrichments(
    env: &Env<'_>,
    enrichers: &[&crate::enrich::Enricher],
) -> Result<Vec<&'static str>, ConfigError> {
    let (name, value) = env.get("ENRICHMENTS");
    if value.trim() == "none" {
        return Ok(Vec::new());
    }
    let mut enabled = Vec::new();
    for item in crate::settings::items(&value) {
        let known = enrichers
            .iter()
            .find(|e| e.optional && e.name == item)
            .ok_or_else(|| env.error(name, &value))?;
        if !enabled.contains(&known.name) {
            enabled.push(known.name);
        }
    }
    Ok(enabled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::{Enricher, Facts, Fields, Record, Stage};
    use std::sync::Arc;

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
            ("DROP_BOTS", "y"),
            ("DROP_BOTS", "2"),
            ("DROP_BOTS", "enabled"),
            ("REINGEST_OVERFLOW", ""),
            ("REINGEST_OVERFLOW", "of"),
            ("REINGEST_OVERFLOW", "nein"),
            ("DETAILED_METRICS", "detailed"),
            ("ANONYMIZE_IP", "masked"),
            ("STRIP_QUERY", ""),
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
            ["referrer", "campaign", "fingerprint", "user_agent", "geo"]
        );
        assert_eq!(
            Config::default().output_fields().last(),
            Some(&"geo_as_org")
        );
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

    /// Each variable is declared once, by the core or one enricher, and
    /// `VARIABLES` is exactly those declarations.
    #[test]
    fn variables_are_the_core_list_and_the_enrichers_declarations() {
        let declared: Vec<&str> = CORE_VARIABLES
            .iter()
            .chain(crate::enrich::variables().map(|(_, v)| v))
            .map(|v| v.name)
            .collect();
        let names: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
        assert_eq!(names, declared);
        let mut seen = HashSet::new();
        for v in VARIABLES {
            assert!(seen.insert(v.name), "{} is declared twice", v.name);
            assert!(
                v.name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                v.name
            );
            assert!(!v.form.is_empty() && !v.meaning.is_empty(), "{}", v.name);
        }
        // Edges: a core variable and one of each kind of enricher.
        for name in [
            "ENRICHMENTS",
            "TIME_FIELDS",
            "REFERRER_FIELDS",
            "HASH_KEY",
            "COLUMNS",
        ] {
            assert!(seen.contains(name), "{name}");
        }
    }

    #[test]
    fn the_enrichment_list_names_every_optional_enricher() {
        assert_eq!(
            ENRICHMENT_LIST,
            "`none`, or a comma-separated list of optional enrichers: `referrer`, `campaign`, `fingerprint`, `user_agent`, `geo`, `consent`"
        );
        let optional: Vec<&str> = crate::enrich::optional_names().collect();
        assert!(!optional.is_empty());
        for name in optional {
            assert!(ENRICHMENT_LIST.contains(&format!("`{name}`")), "{name}");
            // Every name ENRICHMENTS lists is accepted, alone.
            let c = with(&[("ENRICHMENTS", name)]).unwrap();
            assert_eq!(c.pipeline.enabled(), [name]);
        }
    }

    /// A stage that reads a variable nobody declares.
    fn reads_undeclared(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
        let _ = env.fields("NOT_DECLARED_SWITCH")?;
        unreachable!("an empty, undeclared field list is invalid")
    }

    fn reads_declared(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
        let on = env.switch("DECLARED_SWITCH")?;
        assert!(on, "read through the lookup");
        Ok(Arc::new(Nothing))
    }

    #[derive(Debug)]
    struct Nothing;

    impl Stage for Nothing {
        fn run<'a>(
            &self,
            _: &Record<'a>,
            _: &mut Facts<'a>,
            _: &mut Fields,
        ) -> Result<(), crate::reason::DropReason> {
            Ok(())
        }
    }

    /// The registry is the single declaration: a variable read but declared
    /// by no enricher fails the configuration, naming it, whatever its
    /// value; one declared is read.
    #[test]
    fn an_undeclared_read_fails_the_configuration() {
        const SWITCH: &[Variable] = &[Variable {
            name: "DECLARED_SWITCH",
            default: "off",
            form: form::SWITCH,
            meaning: "a test's",
        }];
        const UNDECLARED: Enricher = Enricher {
            name: "undeclared",
            optional: false,
            summary: "",
            fields: &[],
            variables: &[],
            examples: &[],
            build: reads_undeclared,
        };
        const DECLARED: Enricher = Enricher {
            name: "declared",
            optional: false,
            summary: "",
            fields: &[],
            variables: SWITCH,
            examples: &[],
            build: reads_declared,
        };
        let lookup = |name: &str| match name {
            "ENRICHMENTS" => Some("none".to_owned()),
            _ => name.ends_with("DECLARED_SWITCH").then(|| "on".to_owned()),
        };
        let declared: Vec<Variable> = VARIABLES.iter().chain(SWITCH).copied().collect();
        let err = Config::assemble(&lookup, &[&UNDECLARED], &declared).unwrap_err();
        assert_eq!(err.variable, "NOT_DECLARED_SWITCH");
        assert_eq!(err.expected, crate::settings::UNDECLARED);
        let c = Config::assemble(&lookup, &[&DECLARED], &declared).unwrap();
        assert_eq!(c.pipeline.stages.len(), 1);
        // The same enricher, its variable not among those declared.
        let err = Config::assemble(&lookup, &[&DECLARED], VARIABLES).unwrap_err();
        assert_eq!(err.variable, "DECLARED_SWITCH");
    }

    /// On/off variables share one vocabulary (`form::SWITCH`), and every
    /// spelling of it takes effect.
    #[test]
    fn switches_take_every_spelling() {
        let switches: Vec<&str> = VARIABLES
            .iter()
            .filter(|v| v.form == form::SWITCH)
            .map(|v| v.name)
            .collect();
        assert_eq!(
            switches,
            [
                "REINGEST_OVERFLOW",
                "DETAILED_METRICS",
                "ANONYMIZE_IP",
                "STRIP_QUERY"
            ]
        );
        for v in VARIABLES {
            assert!(
                !v.form.contains("`true`") || v.form == form::SWITCH,
                "{}: a switch states form::SWITCH",
                v.name
            );
            assert!(
                crate::settings::parse_switch(v.default).is_some() == (v.form == form::SWITCH)
                    // A number, a switch or a list of bot categories, a purpose
                    // list whose default happens to spell a switch, and a mode
                    // whose default is `off`.
                    || [
                        "MAX_SITES_PER_BATCH",
                        "DROP_BOTS",
                        "CONSENT_REQUIRED_PURPOSES",
                        "CONSENT_POLICY",
                    ]
                    .contains(&v.name),
                "{}: a switch's default is a switch value",
                v.name
            );
        }
        let ip = br#"{"ip":"203.0.113.7","url":"https://example.com/?q=1"}"#;
        let spellings: &[(&str, bool)] = &[
            ("on", true),
            ("ON", true),
            ("true", true),
            ("True", true),
            ("yes", true),
            ("1", true),
            ("off", false),
            ("OFF", false),
            ("false", false),
            ("FALSE", false),
            ("no", false),
            ("0", false),
        ];
        for (value, on) in spellings {
            for name in &switches {
                let c = with(&[(name, value)]).unwrap_or_else(|e| panic!("{e}"));
                let line = crate::record::transform(ip, 0, &c).data;
                let line = String::from_utf8(line).unwrap();
                let effect = match *name {
                    "REINGEST_OVERFLOW" => c.reingest_overflow,
                    "DETAILED_METRICS" => c.detailed_metrics,
                    "ANONYMIZE_IP" => line.contains(r#""ip":"203.0.113.0""#),
                    "STRIP_QUERY" => line.contains(r#""url":"https://example.com/""#),
                    other => unreachable!("{other}"),
                };
                assert_eq!(effect, *on, "{name}={value}: {line}");
            }
            // `DROP_BOTS` is a switch or a list of categories: every
            // spelling of the switch takes effect too.
            let c = with(&[("DROP_BOTS", value)]).unwrap_or_else(|e| panic!("{e}"));
            let bot = br#"{"user_agent":"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}"#;
            let dropped = matches!(
                crate::record::transform(bot, 0, &c).outcome,
                crate::record::Outcome::Dropped(crate::reason::DropReason::Bot)
            );
            assert_eq!(dropped, *on, "DROP_BOTS={value}");
        }
    }
}
