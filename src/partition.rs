//! Partition keys for Firehose dynamic partitioning, and the guard that keeps
//! their number bounded.
//!
//! Values become S3 key segments (`site=…/dt=…/hour=…`), so they are made of
//! `[a-z0-9._-]` only and are never empty, `.` or `..`: no input can steer an
//! object out of its folder. Anything else becomes `unknown`.

use crate::time::Formatted;
use std::collections::HashSet;

/// The site value when a record has no usable site.
pub const UNKNOWN: &str = "unknown";
/// The site value for sites beyond the allowlist or the per-batch cap.
pub const OTHER: &str = "other";
/// The partition key names, in the order they are written.
pub const KEY_NAMES: [&str; 3] = ["site", "dt", "hour"];

/// Longest site value kept; a host name is at most 253 bytes, and Firehose
/// allows 512 bytes for the whole evaluated prefix.
const MAX_VALUE_LEN: usize = 253;

/// Whether `v` may be used as a partition value as it is.
pub fn is_safe_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_VALUE_LEN
        && v != "."
        && v != ".."
        && v.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// A site as a partition value: itself when safe, else `unknown`. IPv6
/// sites (with `:`) and empty sites become `unknown`.
pub fn site_value(site: &str) -> &str {
    if is_safe_value(site) {
        site
    } else {
        UNKNOWN
    }
}

/// The partition keys of one `Ok` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKeys {
    pub site: String,
    /// `YYYY-MM-DD` of `event_time`.
    pub dt: String,
    /// `HH` of `event_time`.
    pub hour: String,
}

impl PartitionKeys {
    pub fn new(site: &str, event_time: &Formatted) -> PartitionKeys {
        PartitionKeys {
            site: site.to_owned(),
            dt: event_time.date().to_owned(),
            hour: event_time.hour().to_owned(),
        }
    }

    /// `(name, value)` pairs in [`KEY_NAMES`] order.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [("site", &self.site), ("dt", &self.dt), ("hour", &self.hour)]
    }
}

/// Bounds the number of distinct `site` partitions. Firehose allows 500
/// active partitions per stream by default; records beyond that limit go to
/// the error prefix. With an allowlist, only listed sites keep their
/// partition; with a cap, only the first N distinct sites of a batch do.
/// Everything else is partitioned as `other` (the record's own `site` field
/// is unchanged).
pub struct SiteGuard<'c> {
    allowlist: Option<&'c HashSet<String>>,
    cap: usize,
    seen: HashSet<String>,
}

impl<'c> SiteGuard<'c> {
    pub fn new(allowlist: Option<&'c HashSet<String>>, cap: usize) -> SiteGuard<'c> {
        SiteGuard {
            allowlist,
            cap,
            seen: HashSet::new(),
        }
    }

    /// The partition value for `site` (already made safe), and whether it was
    /// redirected to `other`.
    pub fn admit<'s>(&mut self, site: &'s str) -> (&'s str, bool) {
        if site == UNKNOWN {
            return (site, false);
        }
        if let Some(allow) = self.allowlist {
            if !allow.contains(site) {
                return (OTHER, true);
            }
        }
        if self.cap > 0 && !self.seen.contains(site) {
            if self.seen.len() >= self.cap {
                return (OTHER, true);
            }
            self.seen.insert(site.to_owned());
        }
        (site, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_values() {
        let cases: &[(&str, &str)] = &[
            // --- edge cases: anything that could leave its folder ---
            ("", UNKNOWN),
            (".", UNKNOWN),
            ("..", UNKNOWN),
            ("../etc", UNKNOWN),
            ("a/b", UNKNOWN),
            ("a\\b", UNKNOWN),
            ("A.com", UNKNOWN),
            ("a b", UNKNOWN),
            ("a=b", UNKNOWN),
            ("::1", UNKNOWN),
            ("é.com", UNKNOWN),
            ("a\u{0}", UNKNOWN),
            ("!{partitionKeyFromLambda:dt}", UNKNOWN),
            // --- fine as they are ---
            ("...", "..."),
            ("-", "-"),
            ("127.0.0.1", "127.0.0.1"),
            ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
            ("my_host.example.com", "my_host.example.com"),
            ("bbc.co.uk", "bbc.co.uk"),
        ];
        for (input, want) in cases {
            assert_eq!(site_value(input), *want, "{input:?}");
        }
        assert_eq!(site_value(&"a".repeat(253)), "a".repeat(253));
        assert_eq!(site_value(&"a".repeat(254)), UNKNOWN);
    }

    #[test]
    fn guard_caps_distinct_sites() {
        let mut g = SiteGuard::new(None, 2);
        let got: Vec<_> = [
            "a.com", "b.com", "a.com", "c.com", "unknown", "b.com", "d.com",
        ]
        .iter()
        .map(|s| g.admit(s))
        .collect();
        assert_eq!(
            got,
            vec![
                ("a.com", false),
                ("b.com", false),
                ("a.com", false),
                ("other", true),
                ("unknown", false),
                ("b.com", false),
                ("other", true)
            ]
        );
    }

    #[test]
    fn guard_allowlist_and_off() {
        let allow: HashSet<String> = ["a.com".to_string()].into();
        let mut g = SiteGuard::new(Some(&allow), 0);
        assert_eq!(g.admit("a.com"), ("a.com", false));
        assert_eq!(g.admit("b.com"), ("other", true));
        assert_eq!(g.admit("unknown"), ("unknown", false));
        let mut off = SiteGuard::new(None, 0);
        for i in 0..1000 {
            let s = format!("s{i}.com");
            assert_eq!(off.admit(&s), (s.as_str(), false));
        }
    }
}
