//! The collector's own variables: read and validated once at start-up, each
//! error naming the variable and the accepted form, as the transform's are.
//! They are only read when the collector runs (`FUNCTION_ROLE=collector` or
//! `serve`), so the transform's configuration table stays its own.

use crate::settings::ConfigError;

/// One variable of the collector: its name, default, accepted form and
/// meaning (docs/collect.md's table is checked against this list).
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub form: &'static str,
    pub meaning: &'static str,
}

/// Firehose's record limit: 1,000 KiB.
pub const FIREHOSE_MAX_RECORD: usize = 1_000 * 1024;

pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "COLLECTOR_IP_FIELD",
        default: "ip",
        form: FIELD_NAME,
        meaning: "the member the client's address is written to; a member so named in the event is replaced",
    },
    Variable {
        name: "COLLECTOR_USER_AGENT_FIELD",
        default: "user_agent",
        form: FIELD_NAME,
        meaning: "the member the request's `User-Agent` header is written to; a member so named in the event is replaced",
    },
    Variable {
        name: "COLLECTOR_MAX_BODY_BYTES",
        default: "1048576",
        form: "a whole number of bytes from 1024 to 6000000",
        meaning: "the largest request body, after gzip decompression; larger is `413`",
    },
    Variable {
        name: "COLLECTOR_MAX_EVENTS",
        default: "500",
        form: "a whole number from 1 to 10000",
        meaning: "the most events in one request; more is `413`",
    },
    Variable {
        name: "COLLECTOR_MAX_EVENT_BYTES",
        default: "1024000",
        form: "a whole number of bytes from 64 to 1024000 (Firehose's 1,000 KiB record limit)",
        meaning: "the largest event, server fields included; larger is `413`",
    },
    Variable {
        name: "ALLOWED_ORIGINS",
        default: "",
        form: "empty (any origin), or a comma-separated list of origins, e.g. `https://example.com,https://www.example.com`",
        meaning: "the pages allowed to send events: a request with another `Origin` is `403`; CORS answers name the exact origin",
    },
    Variable {
        name: "TRUSTED_PROXY_HEADER",
        default: "",
        form: "empty (off), or a header name, e.g. `x-forwarded-for` or `cf-connecting-ip`",
        meaning: "only behind a proxy you run: the client address is read from this header (its last entry) instead of the connection",
    },
];

const FIELD_NAME: &str = "a JSON member name of letters, digits, `_` or `-`, e.g. `client_ip`";

/// The collector's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    pub ip_field: String,
    pub user_agent_field: String,
    pub max_body_bytes: usize,
    pub max_events: usize,
    pub max_event_bytes: usize,
    /// `None`: any origin (`Access-Control-Allow-Origin: *`).
    pub allowed_origins: Option<Vec<String>>,
    /// Lowercase header name.
    pub trusted_proxy_header: Option<String>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig::from_lookup(|_| None).expect("the defaults are valid")
    }
}

impl CollectorConfig {
    pub fn from_env() -> Result<CollectorConfig, ConfigError> {
        CollectorConfig::from_lookup(|name| {
            std::env::var_os(name).map(|v| {
                v.into_string()
                    // Not UTF-8: kept as something no form accepts.
                    .unwrap_or_else(|v| format!("\u{fffd}{}", v.to_string_lossy()))
            })
        })
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<CollectorConfig, ConfigError> {
        let get = |name: &'static str| -> (&'static str, String) {
            let v = VARIABLES.iter().find(|v| v.name == name).expect("declared");
            (name, lookup(name).unwrap_or_else(|| v.default.to_owned()))
        };
        let ip_field = field_name(get("COLLECTOR_IP_FIELD"))?;
        let user_agent_field = field_name(get("COLLECTOR_USER_AGENT_FIELD"))?;
        if ip_field == user_agent_field {
            return Err(error("COLLECTOR_USER_AGENT_FIELD", &user_agent_field));
        }
        Ok(CollectorConfig {
            ip_field,
            user_agent_field,
            max_body_bytes: number(get("COLLECTOR_MAX_BODY_BYTES"), 1024, 6_000_000)?,
            max_events: number(get("COLLECTOR_MAX_EVENTS"), 1, 10_000)?,
            max_event_bytes: number(get("COLLECTOR_MAX_EVENT_BYTES"), 64, FIREHOSE_MAX_RECORD)?,
            allowed_origins: origins(get("ALLOWED_ORIGINS"))?,
            trusted_proxy_header: header_name(get("TRUSTED_PROXY_HEADER"))?,
        })
    }
}

fn error(variable: &'static str, value: &str) -> ConfigError {
    let v = VARIABLES.iter().find(|v| v.name == variable);
    ConfigError {
        variable,
        value: value.to_owned(),
        expected: v.map_or("", |v| v.form),
    }
}

fn field_name((name, value): (&'static str, String)) -> Result<String, ConfigError> {
    let v = value.trim();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(v.to_owned())
    } else {
        Err(error(name, &value))
    }
}

fn number(
    (name, value): (&'static str, String),
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(error(name, &value)),
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, no path.
fn origins((name, value): (&'static str, String)) -> Result<Option<Vec<String>>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let mut list = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parsed = url::Url::parse(item).map_err(|_| error(name, &value))?;
        let origin = parsed.origin().ascii_serialization();
        // Anything beyond the origin (a path, a query, a trailing slash the
        // browser never sends) would never match: say so at start-up.
        if origin == "null" || origin != item.trim_end_matches('/') || item.ends_with('/') {
            return Err(error(name, &value));
        }
        list.push(origin);
    }
    if list.is_empty() {
        return Err(error(name, &value));
    }
    Ok(Some(list))
}

fn header_name((name, value): (&'static str, String)) -> Result<Option<String>, ConfigError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    // RFC 9110 token characters.
    let token = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        Ok(Some(v.to_ascii_lowercase()))
    } else {
        Err(error(name, &value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<CollectorConfig, ConfigError> {
        CollectorConfig::from_lookup(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults() {
        let c = CollectorConfig::default();
        assert_eq!(c.ip_field, "ip");
        assert_eq!(c.user_agent_field, "user_agent");
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert_eq!(c.max_events, 500);
        assert_eq!(c.max_event_bytes, 1_024_000);
        assert_eq!(c.allowed_origins, None);
        assert_eq!(c.trusted_proxy_header, None);
    }

    #[test]
    fn values() {
        // (variables, Ok(check) or Err(variable named))
        type Case = (
            &'static [(&'static str, &'static str)],
            Result<(), &'static str>,
        );
        let cases: &[Case] = &[
            // --- edges ---
            (&[("COLLECTOR_IP_FIELD", "")], Err("COLLECTOR_IP_FIELD")),
            (&[("COLLECTOR_IP_FIELD", "a.b")], Err("COLLECTOR_IP_FIELD")),
            (&[("COLLECTOR_IP_FIELD", "a\"b")], Err("COLLECTOR_IP_FIELD")),
            (
                &[("COLLECTOR_USER_AGENT_FIELD", "ip")],
                Err("COLLECTOR_USER_AGENT_FIELD"),
            ),
            (
                &[("COLLECTOR_MAX_BODY_BYTES", "1023")],
                Err("COLLECTOR_MAX_BODY_BYTES"),
            ),
            (
                &[("COLLECTOR_MAX_BODY_BYTES", "6000001")],
                Err("COLLECTOR_MAX_BODY_BYTES"),
            ),
            (
                &[("COLLECTOR_MAX_BODY_BYTES", "1MB")],
                Err("COLLECTOR_MAX_BODY_BYTES"),
            ),
            (
                &[("COLLECTOR_MAX_EVENTS", "0")],
                Err("COLLECTOR_MAX_EVENTS"),
            ),
            (
                &[("COLLECTOR_MAX_EVENTS", "-1")],
                Err("COLLECTOR_MAX_EVENTS"),
            ),
            (
                &[("COLLECTOR_MAX_EVENT_BYTES", "1024001")],
                Err("COLLECTOR_MAX_EVENT_BYTES"),
            ),
            (
                &[("ALLOWED_ORIGINS", "example.com")],
                Err("ALLOWED_ORIGINS"),
            ),
            (
                &[("ALLOWED_ORIGINS", "https://example.com/")],
                Err("ALLOWED_ORIGINS"),
            ),
            (
                &[("ALLOWED_ORIGINS", "https://example.com/path")],
                Err("ALLOWED_ORIGINS"),
            ),
            (&[("ALLOWED_ORIGINS", ",")], Err("ALLOWED_ORIGINS")),
            (
                &[("TRUSTED_PROXY_HEADER", "x forwarded")],
                Err("TRUSTED_PROXY_HEADER"),
            ),
            (
                &[("TRUSTED_PROXY_HEADER", "x:y")],
                Err("TRUSTED_PROXY_HEADER"),
            ),
            // --- ordinary ---
            (&[("COLLECTOR_IP_FIELD", "client_ip")], Ok(())),
            (&[("COLLECTOR_MAX_EVENTS", " 10 ")], Ok(())),
            (
                &[(
                    "ALLOWED_ORIGINS",
                    "https://example.com, http://localhost:8080",
                )],
                Ok(()),
            ),
            (&[("TRUSTED_PROXY_HEADER", "X-Forwarded-For")], Ok(())),
        ];
        for (vars, want) in cases {
            match (from(vars), want) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(variable)) => {
                    assert_eq!(e.variable, *variable, "{vars:?}");
                    assert!(!e.expected.is_empty(), "{vars:?}");
                }
                (got, _) => panic!("{vars:?}: {got:?}"),
            }
        }
        let c = from(&[
            (
                "ALLOWED_ORIGINS",
                "https://example.com, http://localhost:8080",
            ),
            ("TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
        ])
        .unwrap();
        assert_eq!(
            c.allowed_origins.unwrap(),
            ["https://example.com", "http://localhost:8080"]
        );
        assert_eq!(c.trusted_proxy_header.unwrap(), "x-forwarded-for");
    }
}
