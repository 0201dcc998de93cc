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
    is_safe_bytes(v.as_bytes())
}

/// [`is_safe_value`] of text not yet checked as UTF-8: a safe value is
/// ASCII, so the bytes answer without that check.
pub fn is_safe_bytes(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= MAX_VALUE_LEN
        && v != b"."
        && v != b".."
        && v.iter().all(|&b| {
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

/// A JSON object's members in their order, duplicates kept, values as
/// their JSON text.
struct Members(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn write_members(out: &mut String, members: &[(String, Box<serde_json::value::RawValue>)]) {
    out.push('{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(key.as_str()).to_string());
        out.push(':');
        out.push_str(value.get());
    }
    out.push('}');
}

/// The output line of a record partitioned as [`OTHER`], with its real
/// `site` kept in `extra` (`{"site":"shop.example"}`).
///
/// With `Layout=DateSite` the table's `site` is the partition column: in
/// JSON it shadows the record's own `site`, and in Parquet the member is no
/// column and is not written at all. `extra` is a column in every layout
/// and format, so the real site stays queryable there:
/// `coalesce(json_extract_scalar(extra, '$.site'), site)`.
///
/// `extra_is_ours`: `COLUMNS` is set, so a top-level `extra` is the
/// function's string of moved members, which the site joins. Otherwise a
/// top-level `extra` is the input's own member, and it moves into `extra`
/// under its own key, as the `COLUMNS` stage moves it. `None` when `line`
/// is not one JSON object (never, for the transform's output).
pub fn with_site_in_extra(line: &[u8], site: &str, extra_is_ours: bool) -> Option<Vec<u8>> {
    use serde_json::value::RawValue;
    let text = std::str::from_utf8(line).ok()?;
    let Members(top) = serde_json::from_str(text.trim_end_matches('\n')).ok()?;
    let mut kept = Vec::with_capacity(top.len());
    let mut moved = Vec::new();
    for (key, value) in top {
        if key != "extra" {
            kept.push((key, value));
        } else if extra_is_ours {
            let inner: String = serde_json::from_str(value.get()).ok()?;
            moved.extend(serde_json::from_str::<Members>(&inner).ok()?.0);
        } else {
            moved.push((key, value));
        }
    }
    let site = RawValue::from_string(serde_json::Value::from(site).to_string()).ok()?;
    moved.push(("site".to_owned(), site));
    let mut extra = String::new();
    write_members(&mut extra, &moved);
    let extra = RawValue::from_string(serde_json::Value::from(extra).to_string()).ok()?;
    kept.push(("extra".to_owned(), extra));
    let mut out = String::with_capacity(line.len() + 32);
    write_members(&mut out, &kept);
    out.push('\n');
    Some(out.into_bytes())
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

    #[test]
    fn other_records_keep_their_site_in_extra() {
        let cases: &[(&str, bool, &str)] = &[
            // --- edge cases first ---
            // The input's own `extra` (JSON output) moves under its own key.
            (
                r#"{"extra":{"a":1},"site":"b.com"}"#,
                false,
                r#"{"site":"b.com","extra":"{\"extra\":{\"a\":1},\"site\":\"b.com\"}"}"#,
            ),
            // The function's `extra` (COLUMNS set) gains the site.
            (
                r#"{"site":"b.com","extra":"{\"plan\":\"pro\"}"}"#,
                true,
                r#"{"site":"b.com","extra":"{\"plan\":\"pro\",\"site\":\"b.com\"}"}"#,
            ),
            // Duplicate members and their order survive.
            (
                r#"{"a":1,"a":2,"site":"b.com"}"#,
                false,
                r#"{"a":1,"a":2,"site":"b.com","extra":"{\"site\":\"b.com\"}"}"#,
            ),
            (
                r#"{"site":"b.com"}"#,
                true,
                r#"{"site":"b.com","extra":"{\"site\":\"b.com\"}"}"#,
            ),
        ];
        for (line, ours, want) in cases {
            let got = with_site_in_extra(format!("{line}\n").as_bytes(), "b.com", *ours).unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                format!("{want}\n"),
                "{line}"
            );
        }
        assert_eq!(with_site_in_extra(b"[1]\n", "b.com", false), None);
        assert_eq!(with_site_in_extra(br#"{"extra":1}"#, "b.com", true), None);
    }
}
