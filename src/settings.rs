//! Settings: reading and validating configuration variables. The bottom of
//! the crate: it imports nothing of the crate above it.
//!
//! A [`Variable`] is declared once, with its default, accepted form and
//! meaning: by the enricher that reads it (its `variables`) or, for the few
//! the core reads, in `config`'s core list. An [`Env`] reads variables
//! through a lookup function (the process environment, or a test's table)
//! and only those it was given as declared; the parse helpers turn a value
//! into its typed form, or into a [`ConfigError`] that names the variable
//! and its accepted form. Nothing falls back silently.
//!
//! ```
//! use firehose_enricher::settings::{form, Env, Variable};
//! const DECLARED: &[Variable] = &[Variable {
//!     name: "MAX_AGE",
//!     default: "30d",
//!     form: form::DURATION,
//!     meaning: "how old an event may be",
//! }];
//! let lookup = |name: &str| (name == "MAX_AGE").then(|| "12h".to_owned());
//! let env = Env::new(&lookup, DECLARED);
//! assert_eq!(env.duration_ms("MAX_AGE"), Ok(12 * 3_600_000));
//! let lookup = |_: &str| Some("soon".to_owned());
//! let err = Env::new(&lookup, DECLARED).duration_ms("MAX_AGE").unwrap_err();
//! assert_eq!(err.to_string(), format!("invalid MAX_AGE=\"soon\": expected {}", form::DURATION));
//! ```

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

/// One configuration variable, as the docs' table, the error messages and
/// the template's parameters state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// The value when it is unset.
    pub default: &'static str,
    /// The accepted form, as the error message and the docs state it.
    pub form: &'static str,
    /// What it does, for the docs' configuration table.
    pub meaning: &'static str,
}

/// The accepted forms several variables share. A variable whose form is its
/// own (an example naming its own kind of field, a key's length) states it
/// where it is declared.
pub mod form {
    /// A list of field names or dotted paths, at least one.
    pub const FIELD_LIST: &str =
        "a comma-separated list of field names or dotted paths, e.g. `timestamp,event.time`";
    /// A list of field names or dotted paths, possibly empty.
    pub const PATH_LIST: &str =
        "empty, or a comma-separated list of field names or dotted paths, e.g. `email,user.email`";
    pub const DURATION: &str = "a whole number followed by s, m, h or d, e.g. `90s`, `12h`, `30d`";
    /// An on/off switch: one vocabulary for every switch ([`super::Env::switch`]).
    pub const SWITCH: &str =
        "`on` or `off` (also accepted: `true`/`false`, `yes`/`no`, `1`/`0`, in any case)";
    pub const DOMAIN_PATTERNS: &str = "empty, or a comma-separated list of lowercase host names or `*.suffix` wildcards, e.g. `localhost,*.local,*.test`";
    pub const SITE_LIST: &str = "empty, or a comma-separated list of lowercase registrable domains (not public suffixes such as `co.uk`), e.g. `example.com,shop.co.uk`";
    pub const COUNT: &str = "a whole number from 0 (no cap) to 100000";
}

/// The largest value of a [`form::COUNT`] variable.
pub const MAX_COUNT: usize = 100_000;

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

/// What an undeclared read reports: a bug in the reader, found when the
/// configuration is first built (every test builds one), not a user's
/// mistake.
pub const UNDECLARED: &str =
    "a declared variable: it is read but declared by no enricher's `variables` nor the core list";

/// A field path: `time`, or `event.time` for a nested field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// Index of the first segment in the top-level keys the record parser
    /// looks for ([`Env::top_keys`]).
    pub top: usize,
    /// The segments after the first; empty for a top-level field.
    pub nested: Vec<String>,
}

/// A pattern from a [`form::DOMAIN_PATTERNS`] variable.
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

/// Reads declared variables through a lookup function, and collects the
/// top-level keys the record parser looks for (which each field list
/// extends). Enrichers build themselves from it.
pub struct Env<'l> {
    lookup: &'l dyn Fn(&str) -> Option<String>,
    declared: &'l [Variable],
    top_keys: Vec<String>,
    /// The first name read that is not declared ([`Env::check`]).
    undeclared: Cell<Option<&'static str>>,
}

impl<'l> Env<'l> {
    /// An `Env` that reads `declared` through `lookup`; an unset variable
    /// reads as its default.
    pub fn new(lookup: &'l dyn Fn(&str) -> Option<String>, declared: &'l [Variable]) -> Env<'l> {
        Env {
            lookup,
            declared,
            top_keys: Vec::new(),
            undeclared: Cell::new(None),
        }
    }

    /// A declared variable by name.
    pub fn variable(&self, name: &str) -> Option<&'l Variable> {
        self.declared.iter().find(|v| v.name == name)
    }

    /// A variable's value, or its default when unset, with its name for
    /// [`Env::error`]. Reading a name that is not declared is noted, and
    /// [`Env::check`] reports it: the registry lists every variable read.
    pub fn get(&self, name: &'static str) -> (&'static str, String) {
        match self.variable(name) {
            Some(v) => (
                name,
                (self.lookup)(name).unwrap_or_else(|| v.default.to_owned()),
            ),
            None => {
                if self.undeclared.get().is_none() {
                    self.undeclared.set(Some(name));
                }
                (name, String::new())
            }
        }
    }

    /// Whether every name read was declared: an error naming the first that
    /// was not.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self.undeclared.get() {
            Some(variable) => Err(ConfigError {
                variable,
                value: String::new(),
                expected: UNDECLARED,
            }),
            None => Ok(()),
        }
    }

    /// The error for an invalid value of `variable`: its accepted form as
    /// declared.
    pub fn error(&self, variable: &'static str, value: &str) -> ConfigError {
        ConfigError {
            variable,
            value: value.to_owned(),
            expected: self.variable(variable).map_or("", |v| v.form),
        }
    }

    /// The top-level keys the field lists read so far name, in first-read
    /// order; a [`FieldPath::top`] indexes them.
    pub fn top_keys(&self) -> &[String] {
        &self.top_keys
    }

    /// A [`form::FIELD_LIST`] variable, validated; its paths' first segments
    /// join the keys the record parser looks for.
    pub fn fields(&mut self, name: &'static str) -> Result<Vec<FieldPath>, ConfigError> {
        let (name, value) = self.get(name);
        if value.trim().is_empty() {
            return Err(self.error(name, &value));
        }
        let mut paths = Vec::new();
        for item in items(&value) {
            let mut segments = item.split('.');
            let first = segments.next().unwrap_or_default();
            let nested: Vec<String> = segments.map(str::to_owned).collect();
            if first.is_empty() || nested.iter().any(String::is_empty) {
                return Err(self.error(name, &value));
            }
            let top = self.top_key(first);
            paths.push(FieldPath { top, nested });
        }
        Ok(paths)
    }

    /// The index of `key` among the top-level keys the record parser looks
    /// for, added when it is new: the record parser then tells which
    /// member holds it (the member's slot), so a stage need not read keys
    /// itself.
    pub fn top_key(&mut self, key: &str) -> usize {
        match self.top_keys.iter().position(|k| k == key) {
            Some(i) => i,
            None => {
                self.top_keys.push(key.to_owned());
                self.top_keys.len() - 1
            }
        }
    }

    /// A [`form::PATH_LIST`] variable: dotted paths as segment lists,
    /// possibly none. Unlike [`Env::fields`], the paths do not join the
    /// parser's keys: they are for stages that visit every member.
    pub fn paths(&self, name: &'static str) -> Result<Vec<Vec<String>>, ConfigError> {
        let (name, value) = self.get(name);
        if value.trim().is_empty() {
            return Ok(Vec::new());
        }
        items(&value)
            .map(|item| {
                let segments: Vec<String> = item.split('.').map(str::to_owned).collect();
                if segments.iter().any(String::is_empty) {
                    Err(self.error(name, &value))
                } else {
                    Ok(segments)
                }
            })
            .collect()
    }

    /// An on/off variable ([`form::SWITCH`]), validated.
    pub fn switch(&self, name: &'static str) -> Result<bool, ConfigError> {
        let (name, value) = self.get(name);
        parse_switch(&value).ok_or_else(|| self.error(name, &value))
    }

    /// An on/off variable: the same as [`Env::switch`].
    pub fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        self.switch(name)
    }

    /// A [`form::DURATION`] variable, in milliseconds.
    pub fn duration_ms(&self, name: &'static str) -> Result<i64, ConfigError> {
        let (name, value) = self.get(name);
        parse_duration_ms(&value).ok_or_else(|| self.error(name, &value))
    }

    /// A [`form::COUNT`] variable.
    pub fn count(&self, name: &'static str) -> Result<usize, ConfigError> {
        let (name, value) = self.get(name);
        let v = value.trim();
        v.parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_COUNT && v.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| self.error(name, &value))
    }

    /// A [`form::DOMAIN_PATTERNS`] variable.
    pub fn domain_patterns(&self, name: &'static str) -> Result<Vec<DomainPattern>, ConfigError> {
        let (name, value) = self.get(name);
        if value.trim().is_empty() {
            return Ok(Vec::new());
        }
        items(&value)
            .map(|item| match item.strip_prefix("*.") {
                Some(suffix) if is_host_name(suffix) => {
                    Ok(DomainPattern::Suffix(suffix.to_owned()))
                }
                None if is_host_name(item) => Ok(DomainPattern::Exact(item.to_owned())),
                _ => Err(self.error(name, &value)),
            })
            .collect()
    }

    /// A [`form::SITE_LIST`] variable; `None` when it is empty.
    pub fn site_list(&self, name: &'static str) -> Result<Option<HashSet<String>>, ConfigError> {
        let (name, value) = self.get(name);
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
                    Err(self.error(name, &value))
                }
            })
            .collect::<Result<HashSet<_>, _>>()
            .map(Some)
    }

    /// A [`form::SITE_LIST`] variable; empty when it is.
    pub fn sites(&self, name: &'static str) -> Result<HashSet<String>, ConfigError> {
        self.site_list(name).map(Option::unwrap_or_default)
    }
}

/// The items of a comma-separated value, trimmed.
pub fn items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim)
}

/// An on/off value: `on`/`off`, `true`/`false`, `yes`/`no` or `1`/`0`,
/// in any case, surrounding whitespace ignored. One vocabulary for every
/// switch, so that no deployer has to remember which spelling which
/// variable takes.
pub fn parse_switch(value: &str) -> Option<bool> {
    const ON: [&str; 4] = ["on", "true", "yes", "1"];
    const OFF: [&str; 4] = ["off", "false", "no", "0"];
    let v = value.trim();
    if ON.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        Some(true)
    } else if OFF.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        Some(false)
    } else {
        None
    }
}

/// A [`form::DURATION`] value in milliseconds.
pub fn parse_duration_ms(value: &str) -> Option<i64> {
    let v = value.trim();
    // By `char`, not by byte: a value may end in any character (`30é`).
    let mut chars = v.chars();
    let unit_ms: i64 = match chars.next_back() {
        Some('s') => 1_000,
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => return None,
    };
    let digits = chars.as_str();
    digits
        .parse::<u32>()
        .ok()
        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
        .map(|n| i64::from(n) * unit_ms)
}

/// A lowercase host name of `[a-z0-9_-]` labels.
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLARED: &[Variable] = &[
        Variable {
            name: "A",
            default: "x,y",
            form: form::FIELD_LIST,
            meaning: "a",
        },
        Variable {
            name: "B",
            default: "off",
            form: form::SWITCH,
            meaning: "b",
        },
    ];

    #[test]
    fn an_undeclared_read_is_caught() {
        let lookup = |_: &str| Some("on".to_owned());
        let env = Env::new(&lookup, DECLARED);
        assert_eq!(env.check(), Ok(()));
        assert_eq!(env.switch("B"), Ok(true));
        assert_eq!(env.check(), Ok(()), "a declared read is fine");
        // Undeclared: not read from the lookup, and reported by name.
        assert_eq!(env.get("C"), ("C", String::new()));
        let _ = env.get("D");
        let err = env.check().unwrap_err();
        assert_eq!(err.variable, "C", "the first undeclared name");
        assert_eq!(err.expected, UNDECLARED);
    }

    #[test]
    fn unset_reads_as_the_default_and_fields_share_top_keys() {
        let lookup = |_: &str| None;
        let mut env = Env::new(&lookup, DECLARED);
        let a = env.fields("A").unwrap();
        assert_eq!(env.top_keys(), ["x", "y"]);
        assert_eq!(a[1].top, 1);
        // Read again, the same keys keep their indexes.
        assert_eq!(env.fields("A").unwrap(), a);
        assert_eq!(env.top_keys().len(), 2);
        assert_eq!(env.switch("B"), Ok(false));
    }

    /// One vocabulary for every switch.
    #[test]
    fn switches_accept_every_spelling_in_any_case() {
        let cases: &[(&str, Option<bool>)] = &[
            // --- edge cases ---
            ("", None),
            (" ", None),
            ("o", None),
            ("onn", None),
            ("2", None),
            ("-1", None),
            ("01", None),
            ("y", None),
            ("t", None),
            ("enabled", None),
            ("on off", None),
            ("true日", None),
            ("\u{130}", None), // not ASCII-case-equal to anything
            // --- on ---
            ("on", Some(true)),
            ("ON", Some(true)),
            ("On", Some(true)),
            (" on ", Some(true)),
            ("true", Some(true)),
            ("TRUE", Some(true)),
            ("True", Some(true)),
            ("yes", Some(true)),
            ("YES", Some(true)),
            ("1", Some(true)),
            // --- off ---
            ("off", Some(false)),
            ("OFF", Some(false)),
            ("false", Some(false)),
            ("False", Some(false)),
            ("\tfalse\n", Some(false)),
            ("no", Some(false)),
            ("No", Some(false)),
            ("0", Some(false)),
        ];
        for (value, want) in cases {
            assert_eq!(parse_switch(value), *want, "{value:?}");
            let lookup = |_: &str| Some((*value).to_owned());
            let got = Env::new(&lookup, DECLARED).switch("B");
            match want {
                Some(b) => assert_eq!(got, Ok(*b), "{value:?}"),
                None => {
                    let err = got.unwrap_err();
                    assert_eq!(err.variable, "B");
                    assert_eq!(err.expected, form::SWITCH, "{value:?}");
                }
            }
        }
    }
}
