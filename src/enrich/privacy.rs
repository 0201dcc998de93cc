//! The privacy controls: the only stage that changes input members. Each
//! control is switched by its own variables. The address the collector
//! adds is personal data, so masking it is on by default (deployers opt
//! out); the others are off, and a record keeps those input bytes unless
//! the operator asks otherwise.
//!
//! - `ANONYMIZE_IP=on` (the default) masks the IP addresses in `IP_FIELDS`
//!   to their network (IPv4 /24, IPv6 /48), after `geo` has read them;
//! - `STRIP_QUERY=on` removes the query parameters outside
//!   `KEEP_QUERY_PARAMS`, and the fragment, from the URL and referrer fields;
//! - `DROP_FIELDS` removes members;
//! - `HASH_FIELDS` replaces values by HMAC-SHA256 under `HASH_KEY`.
//!
//! It runs after every enricher that reads the record (campaign and channel
//! included), so they read it as received, and `event_fingerprint` hashes
//! the bytes Firehose delivered, so redeliveries still deduplicate. Only
//! `extra` runs after it, and it moves members without reading their
//! values' meaning: a member removed here is not moved there, and an
//! edited one moves with its edited value. Nested paths are edited in
//! the member's raw text: only the edited value (or removed member) changes,
//! every other byte of the member is kept.

use super::recent::{self, Recent};
use super::{Edit, Enricher, Example, Expected, Facts, Fields, Record, Stage};
use crate::json::{key_start, member_ranges};
use crate::reason::DropReason;
use crate::settings::{form, ConfigError, Env, Variable};
use hmac::{KeyInit, Mac};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

pub const ENRICHER: Enricher = Enricher {
    name: "privacy",
    optional: false,
    summary: "the privacy controls: masks IPs (on by default), strips query strings, drops and hashes fields (off by default)",
    fields: &[],
    variables: &[
        Variable {
            name: "ANONYMIZE_IP",
            default: "on",
            form: form::SWITCH,
            meaning: "privacy: `on` (the default) replaces each IP address in `IP_FIELDS` by its network (IPv4 /24, IPv6 /48), element by element in a comma list, after `geo` has read it; `off` keeps addresses as received",
        },
        Variable {
            name: "IP_FIELDS",
            default: "ip,client_ip,ip_address,remote_addr,x_forwarded_for",
            form: form::PATH_LIST,
            meaning: "where IP addresses are, for `geo` (the first string; of a comma list, its first element) and `ANONYMIZE_IP` (every one); `ip` is the collector's",
        },
        Variable {
            name: "STRIP_QUERY",
            default: "off",
            form: form::SWITCH,
            meaning: "privacy: `on` removes the fragment and every query parameter outside `KEEP_QUERY_PARAMS` from the `URL_FIELDS` and `REFERRER_FIELDS` values (after the campaign and channel are read)",
        },
        Variable {
            name: "KEEP_QUERY_PARAMS",
            default: DEFAULT_KEEP_QUERY_PARAMS,
            form: "empty (keep none), or a comma-separated list of query parameter names, e.g. `utm_source,page`",
            meaning: "the query parameters `STRIP_QUERY` keeps, matched on the decoded name, ASCII case-insensitively",
        },
        Variable {
            name: "DROP_FIELDS",
            default: "",
            form: form::PATH_LIST,
            meaning: "privacy: these members are removed from the output (duplicates included)",
        },
        Variable {
            name: "HASH_FIELDS",
            default: "",
            form: form::PATH_LIST,
            meaning: "privacy: each string or number value here is replaced by HMAC-SHA256(`HASH_KEY`, value as text), 64 lowercase hex digits",
        },
        Variable {
            name: "HASH_KEY",
            default: "",
            form: "at least 32 bytes when `HASH_FIELDS` is set",
            meaning: "the HMAC key for `HASH_FIELDS`; required with it; never logged (the template reads it from Secrets Manager)",
        },
    ],
    examples: &[
        Example {
            title: "IP addresses masked to their network",
            input: r#"{"ip":"203.0.113.7","x_forwarded_for":"198.51.100.23, 2001:db8:85a3::8a2e:370:7334"}"#,
            variables: &[("ANONYMIZE_IP", "on")],
            output: Expected::Fields(&[
                ("ip", Some(r#""203.0.113.0""#)),
                ("x_forwarded_for", Some(r#""198.51.100.0, 2001:db8:85a3::""#)),
            ]),
        },
        Example {
            title: "Query strings stripped, after the campaign is read",
            input: r#"{"url":"https://example.com/signup?email=a%40example.org&utm_source=news#top"}"#,
            variables: &[("STRIP_QUERY", "on")],
            output: Expected::Fields(&[
                ("url", Some(r#""https://example.com/signup?utm_source=news""#)),
                ("utm_source", Some(r#""news""#)),
            ]),
        },
        Example {
            title: "A nested member dropped, another hashed",
            input: r#"{"user":{"id":7,"email":"a@example.org"}}"#,
            variables: &[
                ("DROP_FIELDS", "user.email"),
                ("HASH_FIELDS", "user.id"),
                ("HASH_KEY", "an example key of at least 32 bytes"),
            ],
            output: Expected::Fields(&[("user", Some(r#"{"id":"437ed2c4c658bf6972b4e87d68e283881b4bf8b5ebc8018be14eca7517fabb9f"}"#))]),
        },
    ],
    build,
};

/// The shortest `HASH_KEY`: HMAC-SHA256's own output length. A shorter key
/// makes the pseudonyms easier to reverse by guessing inputs.
pub const MIN_HASH_KEY_BYTES: usize = 32;

/// What a control does to a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    MaskIp,
    /// `CONSENT_POLICY=anonymize`'s masking: as `MaskIp`, but a value that
    /// is not wholly addresses (a string with any other element, a number,
    /// a list) is removed rather than kept.
    MaskIpOrDrop,
    StripQuery,
    Hash,
    Drop,
}

/// One control on one path: the segments after the top-level key.
#[derive(Debug, Clone)]
struct Rule {
    rest: Vec<String>,
    action: Action,
}

pub(crate) struct Privacy {
    /// The rules by the slot of their top-level key
    /// ([`Env::top_key`]); empty for keys without rules.
    rules: Vec<Vec<Rule>>,
    /// The slots whose rules are not empty, in order.
    ruled: Vec<usize>,
    keep_params: Vec<String>,
    hash_key: Vec<u8>,
}

// By hand: the derived form would print HASH_KEY wherever the configuration
// is debug-printed.
impl fmt::Debug for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Privacy")
            .field("rules", &self.rules)
            .field("keep_params", &self.keep_params)
            .field("hash_key", &"<redacted>")
            .finish()
    }
}

/// The default of `KEEP_QUERY_PARAMS`: the campaign parameters and click
/// identifiers, so stripped URLs still carry their attribution.
/// `tests` check it equals `UTM_PARAMS` and `CLICK_IDS`.
pub const DEFAULT_KEEP_QUERY_PARAMS: &str = "utm_source,utm_medium,utm_campaign,utm_term,utm_content,utm_id,gclid,gbraid,wbraid,dclid,msclkid,fbclid,ttclid,li_fat_id,twclid";

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    let mut listed: Vec<(Vec<String>, Action)> = Vec::new();
    // Validated whether or not their switch is on: a typo is found before
    // the day the control is turned on.
    let ip_fields = env.paths("IP_FIELDS")?;
    if env.switch("ANONYMIZE_IP")? {
        listed.extend(ip_fields.into_iter().map(|p| (p, Action::MaskIp)));
    }
    let keep_params = keep_params(env)?;
    if env.switch("STRIP_QUERY")? {
        // Referrers carry the same personal data as page URLs (the previous
        // page's query and fragment), so both are stripped.
        for var in ["URL_FIELDS", "REFERRER_FIELDS"] {
            listed.extend(env.paths(var)?.into_iter().map(|p| (p, Action::StripQuery)));
        }
    }
    let hash = env.paths("HASH_FIELDS")?;
    let (_, key) = env.get("HASH_KEY");
    if !hash.is_empty() && key.len() < MIN_HASH_KEY_BYTES {
        // Never the key itself: configuration errors are logged.
        return Err(ConfigError {
            variable: "HASH_KEY",
            value: format!("<{} bytes, not shown>", key.len()),
            expected: env.error("HASH_KEY", "").expected,
        });
    }
    listed.extend(hash.into_iter().map(|p| (p, Action::Hash)));
    listed.extend(
        env.paths("DROP_FIELDS")?
            .into_iter()
            .map(|p| (p, Action::Drop)),
    );

    Ok(Arc::new(Privacy::new(
        by_slot(env, listed),
        keep_params,
        key.into_bytes(),
    )))
}

/// `KEEP_QUERY_PARAMS`, validated.
fn keep_params(env: &Env<'_>) -> Result<Vec<String>, ConfigError> {
    let (name, value) = env.get("KEEP_QUERY_PARAMS");
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|p| {
            let p = p.trim();
            if p.is_empty() || p.contains(['=', '&', '#', '?', ' ']) {
                Err(env.error(name, &value))
            } else {
                Ok(p.to_owned())
            }
        })
        .collect()
}

/// The rules by the slot of their top-level key, drops last: a value both
/// hashed and dropped is dropped. The keys join those the record parser
/// looks for, so that the stage finds its members by slot: reading,
/// unescaping and hashing every member's key cost a fifth of
/// `ENRICHMENTS=none` (measured).
fn by_slot(env: &mut Env<'_>, listed: Vec<(Vec<String>, Action)>) -> Vec<Vec<Rule>> {
    let mut rules: Vec<Vec<Rule>> = Vec::new();
    for (mut path, action) in listed {
        let top = env.top_key(&path.remove(0));
        if rules.len() <= top {
            rules.resize(top + 1, Vec::new());
        }
        rules[top].push(Rule { rest: path, action });
    }
    for list in &mut rules {
        list.sort_by_key(|r| r.action == Action::Drop);
    }
    rules
}

/// The edits `CONSENT_POLICY=anonymize` makes to an event without consent,
/// in this order: the addresses in `IP_FIELDS` masked as `ANONYMIZE_IP`
/// masks them (a value that is not wholly addresses removed), the
/// identifiers in `ids` (`ID_FIELDS`) and the raw user agent
/// (`USER_AGENT_FIELDS`) removed, and the URL and referrer fields stripped
/// as `STRIP_QUERY` strips them (keeping `KEEP_QUERY_PARAMS`). The same
/// code as the operator's own controls, run by the consent stage on the
/// records that need it; the controls of this stage still run after it.
pub(crate) fn anonymizer(env: &mut Env<'_>, ids: Vec<Vec<String>>) -> Result<Privacy, ConfigError> {
    let mut listed: Vec<(Vec<String>, Action)> = Vec::new();
    listed.extend(
        env.paths("IP_FIELDS")?
            .into_iter()
            .map(|p| (p, Action::MaskIpOrDrop)),
    );
    listed.extend(ids.into_iter().map(|p| (p, Action::Drop)));
    listed.extend(
        env.paths("USER_AGENT_FIELDS")?
            .into_iter()
            .map(|p| (p, Action::Drop)),
    );
    for var in ["URL_FIELDS", "REFERRER_FIELDS"] {
        listed.extend(env.paths(var)?.into_iter().map(|p| (p, Action::StripQuery)));
    }
    Ok(Privacy::new(
        by_slot(env, listed),
        keep_params(env)?,
        Vec::new(),
    ))
}

impl Stage for Privacy {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        facts: &mut Facts<'a>,
        _: &mut Fields,
    ) -> Result<(), DropReason> {
        // Only a key with a rule gets a slot's entry, so no rules is none.
        if self.rules.is_empty() {
            return Ok(());
        }
        if record.duplicate_keys {
            // Every member, not the configured slot alone: with duplicate
            // keys the earlier members are in the output too.
            for i in 0..record.member_count() {
                if let Some(slot) = record.member_slot(i) {
                    self.member(record, facts, i, slot);
                }
            }
        } else {
            // Each key once: the slots with rules say where their members
            // are, without a look at every member of the record.
            for slot in self.ruled.iter().copied() {
                if let Some(i) = record.slots[slot] {
                    self.member(record, facts, i, slot);
                }
            }
        }
        Ok(())
    }
}

impl Privacy {
    fn new(rules: Vec<Vec<Rule>>, keep_params: Vec<String>, hash_key: Vec<u8>) -> Privacy {
        let ruled = (0..rules.len()).filter(|&s| !rules[s].is_empty()).collect();
        Privacy {
            rules,
            ruled,
            keep_params,
            hash_key,
        }
    }

    /// Applies the rules of `slot` to member `i`, which holds its key.
    fn member<'a>(&self, record: &Record<'a>, facts: &mut Facts<'a>, i: usize, slot: usize) {
        if record.member_is_ours(i) {
            return;
        }
        let Some(rules) = self.rules.get(slot).filter(|r| !r.is_empty()) else {
            return;
        };
        // On top of what an earlier stage (the consent policy) made of
        // the member: a removed member stays removed, an edited one is
        // edited further. The last edit of a member is the one written.
        let original: Cow<str> = match facts.edits.iter().rev().find(|(j, _)| *j == i) {
            Some((_, Edit::Remove)) => return,
            Some((_, Edit::Replace(text))) => Cow::Owned(text.clone()),
            None => Cow::Borrowed(record.member_value(i)),
        };
        if rules
            .iter()
            .any(|r| r.rest.is_empty() && removes(r.action, &original))
        {
            facts.edits.push((i, Edit::Remove));
            return;
        }
        // Copied only when a rule changes it (most records hold one
        // address, masked once).
        let mut text = original.clone();
        for rule in rules {
            if rule.rest.is_empty() {
                if let Some(new) = self.apply(&text, rule.action, &mut facts.not_ip) {
                    text = Cow::Owned(new);
                }
            } else {
                self.edit(text.to_mut(), &rule.rest, rule.action, &mut facts.not_ip);
            }
        }
        if text != original {
            facts.edits.push((i, Edit::Replace(text.into_owned())));
        }
    }

    /// Applies `action` to the value at `path` inside the JSON text `text`
    /// (to `text` itself when the path is empty), in place.
    /// Counts the IP values left alone in `not_ip`.
    fn edit(&self, text: &mut String, path: &[String], action: Action, not_ip: &mut u32) {
        let Some((first, rest)) = path.split_first() else {
            if let Some(new) = self.apply(text, action, not_ip) {
                *text = new;
            }
            return;
        };
        // From the last duplicate back, so earlier ranges stay valid.
        for range in member_ranges(text, first).into_iter().rev() {
            if rest.is_empty() && removes(action, &text[range.clone()]) {
                let cut = member_span(text.as_bytes(), range);
                text.replace_range(cut, "");
            } else {
                let mut inner = text[range.clone()].to_owned();
                self.edit(&mut inner, rest, action, not_ip);
                text.replace_range(range, &inner);
            }
        }
    }

    /// The new JSON text of a value, or `None` to keep it.
    fn apply(&self, raw: &str, action: Action, not_ip: &mut u32) -> Option<String> {
        match action {
            Action::MaskIp => {
                // A visitor's page views in a batch carry one address.
                let (masked, skipped) = recent::through(&MASKED, raw.as_bytes(), || {
                    let s = crate::time::json_string(raw)?;
                    let (masked, skipped) = mask_ips(&s);
                    Some(((masked != s).then(|| quote(&masked)), skipped))
                })?;
                *not_ip = not_ip.saturating_add(skipped);
                masked
            }
            // Values that are not wholly addresses were removed by the
            // caller ([`removes`]).
            Action::MaskIpOrDrop => {
                let s = crate::time::json_string(raw)?;
                let masked = mask_ips(&s).0;
                (masked != s).then(|| quote(&masked))
            }
            Action::StripQuery => {
                let s = crate::time::json_string(raw)?;
                let stripped = strip_query(&s, &self.keep_params);
                (stripped != s).then(|| quote(&stripped))
            }
            Action::Hash => {
                let text = if raw.starts_with('"') {
                    crate::time::json_string(raw)?
                } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                    // A number, as written: `42` and `42.0` are different
                    // texts, and so different pseudonyms.
                    raw.into()
                } else {
                    return None;
                };
                Some(format!("\"{}\"", hmac_hex(&self.hash_key, &text)))
            }
            // Whole members are removed by the caller.
            Action::Drop => None,
        }
    }
}

/// The masked text of a value (`None` when masking changes nothing), and
/// how many of its elements were not addresses; `None` for no string.
type Masked = Option<(Option<String>, u32)>;

thread_local! {
    /// `ANONYMIZE_IP`'s answers by the value's JSON text: parsing and
    /// writing the address was most of the stage (callgrind).
    /// As many slots as geo's cache, for the same addresses.
    static MASKED: RefCell<Recent<Masked>> =
        RefCell::new(Recent::new(super::geo::CACHE_SLOTS));
}

/// Whether `action` removes the value `raw` (JSON text) as a whole.
fn removes(action: Action, raw: &str) -> bool {
    match action {
        Action::Drop => true,
        Action::MaskIpOrDrop => crate::time::json_string(raw).is_none_or(|s| mask_ips(&s).1 > 0),
        _ => false,
    }
}

/// The bytes to cut to remove the member whose value lies at `value` in the
/// object `text`: its key, value and one adjoining comma.
fn member_span(text: &[u8], value: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let start = key_start(text, value.start);
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut end = value.end;
    while end < text.len() && is_space(text[end]) {
        end += 1;
    }
    if text.get(end) == Some(&b',') {
        end += 1;
        while end < text.len() && is_space(text[end]) {
            end += 1;
        }
        return start..end;
    }
    let mut before = start;
    while before > 0 && is_space(text[before - 1]) {
        before -= 1;
    }
    if before > 0 && text[before - 1] == b',' {
        return before - 1..value.end;
    }
    start..value.end
}

/// HMAC-SHA256 of `value` under `key`, as 64 lowercase hex digits.
///
/// ```
/// use firehose_enricher::enrich::privacy::hmac_hex;
/// // RFC 4231 test case 2.
/// assert_eq!(
///     hmac_hex(b"Jefe", "what do ya want for nothing?"),
///     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
/// );
/// ```
pub fn hmac_hex(key: &[u8], value: &str) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An address's network: IPv4 to /24, IPv6 to /48, an IPv4-mapped IPv6
/// address to the /24 of its IPv4 address.
fn network(ip: IpAddr) -> IpAddr {
    let v4 = |a: Ipv4Addr| {
        let [a, b, c, _] = a.octets();
        Ipv4Addr::new(a, b, c, 0)
    };
    match ip {
        IpAddr::V4(a) => IpAddr::V4(v4(a)),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) => IpAddr::V6(v4(m).to_ipv6_mapped()),
            None => {
                let s = a.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
            }
        },
    }
}

/// One address, masked, appended to `out`; `false` (and `out` as it was)
/// when it is not an address. A zone (`fe80::1%eth0`) and a port
/// (`203.0.113.7:443`, `[2001:db8::1]:443`) are dropped with the host
/// part: neither is needed for a network.
fn mask_ip(s: &str, out: &mut String) -> bool {
    let ip = if let Ok(ip) = s.parse::<IpAddr>() {
        ip
    } else if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        sa.ip()
    } else {
        let unbracketed = s
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map_or(s, |(inner, _)| inner);
        match unbracketed
            .split_once('%')
            .map(|(a, _)| a.parse::<Ipv6Addr>())
        {
            Some(Ok(a)) => IpAddr::V6(a),
            _ => return false,
        }
    };
    write_network(network(ip), out);
    true
}

/// Writes a masked network as `Display` does, without its machinery for
/// the two common forms (`a.b.c.0`; `x:y:z::` with no zero among x, y, z):
/// every record from the collector holds an address, and `fmt` took a
/// quarter of the privacy stage's time (measured).
fn write_network(ip: IpAddr, out: &mut String) {
    use std::fmt::Write;
    match ip {
        IpAddr::V4(a) => {
            for (n, octet) in a.octets().into_iter().enumerate() {
                if n > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            if s[..3].iter().all(|&x| x != 0) && s[3..].iter().all(|&x| x == 0) {
                for x in &s[..3] {
                    let digits = 4 - x.leading_zeros() as usize / 4;
                    for shift in (0..digits).rev() {
                        let nibble = (x >> (shift * 4)) & 0xf;
                        out.push(char::from(b"0123456789abcdef"[usize::from(nibble)]));
                    }
                    out.push(':');
                }
                out.push(':');
            } else {
                // Zero compression and IPv4-mapped forms: the standard
                // library's rules. Writing to a String cannot fail.
                let _ = write!(out, "{a}");
            }
        }
    }
}

/// A string as JSON text. The masked and stripped values here rarely hold
/// anything to escape; those that do go through serde_json.
fn quote(s: &str) -> String {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return serde_json::to_string(s).unwrap_or_default();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    q.push_str(s);
    q.push('"');
    q
}

/// Masks every element of a comma list (`X-Forwarded-For`); elements that
/// are not addresses are kept and counted. The separators and spaces stay.
/// Returns the masked text and how many elements were not addresses.
pub fn mask_ips(value: &str) -> (String, u32) {
    let mut skipped = 0u32;
    let mut out = String::with_capacity(value.len());
    for (n, element) in value.split(',').enumerate() {
        if n > 0 {
            out.push(',');
        }
        let core = element.trim_matches(' ');
        let lead = element.len() - element.trim_start_matches(' ').len();
        out.push_str(&element[..lead]);
        if !mask_ip(core, &mut out) {
            skipped = skipped.saturating_add(1);
            out.push_str(core);
        }
        out.push_str(&element[lead + core.len()..]);
    }
    (out, skipped)
}

/// The URL without its fragment and without the query parameters whose
/// decoded name is not in `keep` (ASCII case-insensitively, as the campaign
/// enricher reads them). Kept parameters keep their bytes and order; the
/// `?` goes when none is left. Everything before the query stays as it was.
pub fn strip_query(url: &str, keep: &[String]) -> String {
    let without_fragment = url.split_once('#').map_or(url, |(u, _)| u);
    let Some((base, query)) = without_fragment.split_once('?') else {
        return without_fragment.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            form_urlencoded::parse(pair.as_bytes())
                .next()
                .is_some_and(|(name, _)| keep.iter().any(|k| k.eq_ignore_ascii_case(&name)))
        })
        .collect();
    if kept.len() == query.split('&').count() {
        return without_fragment.to_owned();
    }
    if kept.is_empty() {
        return base.to_owned();
    }
    format!("{base}?{}", kept.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keep_list_is_the_campaign_parameters() {
        let want: Vec<&str> = crate::enrich::campaign::UTM_PARAMS
            .iter()
            .chain(crate::enrich::campaign::CLICK_IDS.iter())
            .copied()
            .collect();
        assert_eq!(DEFAULT_KEEP_QUERY_PARAMS, want.join(","));
        let var = crate::config::VARIABLES
            .iter()
            .find(|v| v.name == "KEEP_QUERY_PARAMS")
            .unwrap();
        assert_eq!(var.default, DEFAULT_KEEP_QUERY_PARAMS);
    }

    #[test]
    fn ip_addresses_are_masked_to_their_network() {
        let cases: &[(&str, &str)] = &[
            // --- edge cases ---
            ("", ""),
            ("unknown", "unknown"),
            ("203.0.113", "203.0.113"),
            ("203.0.113.256", "203.0.113.256"),
            ("0.0.0.0", "0.0.0.0"),
            ("::", "::"),
            ("::1", "::"),
            ("255.255.255.255", "255.255.255.0"),
            ("example.com", "example.com"),
            ("2001:db8::zz", "2001:db8::zz"),
            // Mapped: the IPv4 address's /24, kept in mapped form.
            ("::ffff:203.0.113.77", "::ffff:203.0.113.0"),
            // Zoned and bracketed forms, with and without a port.
            ("fe80::1%eth0", "fe80::"),
            ("fe80:1:2:3::1%25eth0", "fe80:1:2::"),
            ("[2001:db8:85a3:1234::1]:443", "2001:db8:85a3::"),
            ("203.0.113.77:8080", "203.0.113.0"),
            // Lists, element by element, spacing kept.
            ("203.0.113.77, 198.51.100.9", "203.0.113.0, 198.51.100.0"),
            ("203.0.113.77,unknown", "203.0.113.0,unknown"),
            ("2001:db8::1,10.1.2.3", "2001:db8::,10.1.2.0"),
            (" 10.1.2.3 ", " 10.1.2.0 "),
            (",", ","),
            // --- the plain cases ---
            ("203.0.113.77", "203.0.113.0"),
            ("2001:db8:85a3:1234::1", "2001:db8:85a3::"),
            ("2001:db8:85a3:1234:5678:9abc:def0:1", "2001:db8:85a3::"),
            // Written by hand: digits at each width, leading zeros dropped,
            // a zero segment left to the standard library's compression.
            ("1.22.133.4", "1.22.133.0"),
            ("0.9.10.99", "0.9.10.0"),
            ("100.200.255.1", "100.200.255.0"),
            ("0001:00ab:0ABC::1", "1:ab:abc::"),
            ("ffff:FFFF:f::", "ffff:ffff:f::"),
            ("2001:0:85a3::1", "2001:0:85a3::"),
            ("0:0:1::1", "0:0:1::"),
            ("2001:db8:0:1::1", "2001:db8::"),
        ];
        for (value, want) in cases {
            assert_eq!(mask_ips(value).0, *want, "{value:?}");
        }
        let counts: &[(&str, u32)] = &[
            ("10.0.0.1", 0),
            ("", 1),
            ("unknown, 10.0.0.1, n/a", 2),
            ("2001:db8::1,10.1.2.3", 0),
            (",", 2),
        ];
        for (value, want) in counts {
            assert_eq!(mask_ips(value).1, *want, "{value:?}");
        }
    }

    proptest::proptest! {
        /// The hand-written forms read as the standard library writes them.
        #[test]
        fn networks_are_written_as_display_writes_them(v4: u32, v6: u128, mapped: bool) {
            for ip in [
                IpAddr::V4(Ipv4Addr::from(v4)),
                IpAddr::V6(Ipv6Addr::from(v6)),
                IpAddr::V6(if mapped { Ipv4Addr::from(v4).to_ipv6_mapped() } else { Ipv6Addr::from(v6 >> 80 << 80) }),
            ] {
                let mut out = String::new();
                write_network(network(ip), &mut out);
                proptest::prop_assert_eq!(out, network(ip).to_string());
            }
        }

        /// A value quoted by hand is the JSON string serde_json writes.
        #[test]
        fn quote_is_json(s in "\\PC*|[\"\\\\\u{0}-\u{1f}a]*") {
            proptest::prop_assert_eq!(quote(&s), serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn query_parameters_outside_the_allowlist_and_the_fragment_go() {
        let keep: Vec<String> = DEFAULT_KEEP_QUERY_PARAMS
            .split(',')
            .map(str::to_owned)
            .collect();
        let cases: &[(&str, &str)] = &[
            // --- edge cases ---
            ("", ""),
            ("https://a.example.com/p", "https://a.example.com/p"),
            // An empty query has no parameter to keep.
            ("https://a.example.com/p?", "https://a.example.com/p"),
            ("https://a.example.com/p#", "https://a.example.com/p"),
            ("https://a.example.com/p#x?y=1", "https://a.example.com/p"),
            (
                "https://a.example.com/p#access_token=t",
                "https://a.example.com/p",
            ),
            (
                "https://a.example.com/p?email=a%40b.c",
                "https://a.example.com/p",
            ),
            // Encoded names are decoded before matching.
            (
                "https://a.example.com/?utm%5Fsource=x&e=1",
                "https://a.example.com/?utm%5Fsource=x",
            ),
            (
                "https://a.example.com/?UTM_Source=x&e=1",
                "https://a.example.com/?UTM_Source=x",
            ),
            // Repeated keys: each kept or removed alone.
            (
                "https://a.example.com/?gclid=1&e=1&gclid=2",
                "https://a.example.com/?gclid=1&gclid=2",
            ),
            ("https://a.example.com/?e=1&e=2", "https://a.example.com/"),
            (
                "https://a.example.com/?&&utm_id=3&",
                "https://a.example.com/?utm_id=3",
            ),
            // A parameter named like a kept one is not kept.
            (
                "https://a.example.com/?utm_sourcex=1",
                "https://a.example.com/",
            ),
            ("/relative?token=1&utm_term=t", "/relative?utm_term=t"),
            // Bytes of the rest stay as they were.
            (
                "HTTPS://A.example.com:8443/%7Ep?utm_medium=a+b",
                "HTTPS://A.example.com:8443/%7Ep?utm_medium=a+b",
            ),
            // --- the plain case ---
            (
                "https://a.example.com/p?utm_source=x&email=a%40b.c#access_token=t",
                "https://a.example.com/p?utm_source=x",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(strip_query(url, &keep), *want, "{url:?}");
        }
        assert_eq!(strip_query("https://a/?utm_id=1#f", &[]), "https://a/");
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 1: key 0x0b * 20, "Hi There".
        assert_eq!(
            hmac_hex(&[0x0b; 20], "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn member_spans_take_one_comma() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"{"a":1}"#, "a", "{}"),
            (r#"{"a":1,"b":2}"#, "a", r#"{"b":2}"#),
            (r#"{"a":1,"b":2}"#, "b", r#"{"a":1}"#),
            (r#"{ "a" : 1 , "b" : 2 }"#, "b", r#"{ "a" : 1  }"#),
            (r#"{"a":1,"b":2,"c":3}"#, "b", r#"{"a":1,"c":3}"#),
            (r#"{"b":1,"a":2,"b":3}"#, "b", r#"{"a":2}"#),
            (r#"{"a\"b":1,"c":2}"#, "a\"b", r#"{"c":2}"#),
        ];
        for (object, key, want) in cases {
            let mut text = object.to_string();
            for range in member_ranges(&text, key).into_iter().rev() {
                let cut = member_span(text.as_bytes(), range);
                text.replace_range(cut, "");
            }
            assert_eq!(text, *want, "{object} - {key}");
        }
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn line(vars: &[(&str, &str)], input: &str) -> String {
        let config = crate::Config::from_lookup(|name| {
            if name == "ENRICHMENTS" {
                return Some("none".into());
            }
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let t = crate::record::transform(input.as_bytes(), 0, &config);
        let line = String::from_utf8(t.data).unwrap();
        // Our fields follow the input members; compare the members only.
        let cut = line.find(r#""event_time":"#).expect("an Ok record");
        line[..cut].trim_end_matches(',').to_owned()
    }

    #[test]
    fn controls_edit_top_level_and_nested_members() {
        let h = |v: &str| hmac_hex(KEY.as_bytes(), v);
        type Case = (
            &'static [(&'static str, &'static str)],
            &'static str,
            String,
        );
        let cases: Vec<Case> = vec![
            // --- edge cases ---
            (&[("DROP_FIELDS", "a")], r#"{}"#, "{".into()),
            (&[("DROP_FIELDS", "a")], r#"{"a":1}"#, "{".into()),
            (&[("DROP_FIELDS", "a")], r#"{"a":1,"b":2,"a":3}"#, r#"{"b":2"#.into()),
            // Every duplicate of an address is masked, not the last alone.
            (&[], r#"{"ip":"203.0.113.77","x":1,"ip":"198.51.100.9"}"#,
                r#"{"ip":"203.0.113.0","x":1,"ip":"198.51.100.0""#.into()),
            (&[], r#"{"url":"a","ip":"203.0.113.77","url":"b"}"#, r#"{"url":"a","ip":"203.0.113.0","url":"b""#.into()),
            (&[("DROP_FIELDS", "a.b")], r#"{"a":5}"#, r#"{"a":5"#.into()),
            (&[("DROP_FIELDS", "a.b")], r#"{"a":{"b":1,"b":2,"c":3}}"#, r#"{"a":{"c":3}"#.into()),
            (&[("DROP_FIELDS", "a.b.c")], r#"{"a":{"b":{"c":1, "d" : 2}}}"#, r#"{"a":{"b":{"d" : 2}}"#.into()),
            (&[("DROP_FIELDS", "x.y")], r#"{"a" : { "y" : 1 }}"#, r#"{"a" : { "y" : 1 }"#.into()),
            (&[("HASH_FIELDS", "u"), ("HASH_KEY", KEY)], r#"{"u":true,"v":null}"#, r#"{"u":true,"v":null"#.into()),
            (&[("HASH_FIELDS", "u"), ("HASH_KEY", KEY)], r#"{"u":{"id":1}}"#, r#"{"u":{"id":1}"#.into()),
            (&[("HASH_FIELDS", "u"), ("HASH_KEY", KEY)], r#"{"u":"a\u0062"}"#, format!(r#"{{"u":"{}""#, h("ab"))),
            (&[("HASH_FIELDS", "u,u.id"), ("HASH_KEY", KEY), ("DROP_FIELDS", "u")], r#"{"u":"x","k":1}"#, r#"{"k":1"#.into()),
            (&[("HASH_FIELDS", "user.id,user.email"), ("HASH_KEY", KEY), ("DROP_FIELDS", "user.name")],
                r#"{"user":{"id":42,"name":"Ann","email":"a@b.c","age":7}}"#,
                format!(r#"{{"user":{{"id":"{}","email":"{}","age":7}}"#, h("42"), h("a@b.c"))),
            (&[("ANONYMIZE_IP", "on"), ("IP_FIELDS", "ip,ctx.ip")],
                r#"{"ip":"203.0.113.77","ctx":{"ip":"2001:db8:85a3:1234::1"},"ip2":"1.2.3.4"}"#,
                r#"{"ip":"203.0.113.0","ctx":{"ip":"2001:db8:85a3::"},"ip2":"1.2.3.4""#.into()),
            (&[("ANONYMIZE_IP", "on")], r#"{"ip":"n/a","x_forwarded_for":"10.1.2.3, 10.9.9.9"}"#,
                r#"{"ip":"n/a","x_forwarded_for":"10.1.2.0, 10.9.9.0""#.into()),
            (&[("ANONYMIZE_IP", "off")], r#"{"ip":"203.0.113.77"}"#, r#"{"ip":"203.0.113.77""#.into()),
            (&[("STRIP_QUERY", "on")],
                r#"{"url":"https://a.example.com/p?utm_source=x&email=a%40b.c#t","referrer":"https://b.example.org/?q=secret","n":1}"#,
                r#"{"url":"https://a.example.com/p?utm_source=x","referrer":"https://b.example.org/","n":1"#.into()),
            (&[("STRIP_QUERY", "on"), ("KEEP_QUERY_PARAMS", "")], r#"{"url":"https://a.example.com/p?utm_source=x"}"#,
                r#"{"url":"https://a.example.com/p""#.into()),
            // --- the plain case: nothing configured, the address is masked
            // (the default) and nothing else changes ---
            (&[], r#"{"ip":"203.0.113.77","url":"https://a.example.com/?e=1#x"}"#,
                r#"{"ip":"203.0.113.0","url":"https://a.example.com/?e=1#x""#.into()),
        ];
        for (vars, input, want) in &cases {
            assert_eq!(line(vars, input), *want, "{vars:?} {input}");
        }
    }

    #[test]
    fn values_that_are_not_addresses_are_counted_per_record() {
        let config =
            crate::Config::from_lookup(|n| (n == "ANONYMIZE_IP").then(|| "on".to_owned())).unwrap();
        let cases: &[(&str, u32)] = &[
            (r#"{}"#, 0),
            (r#"{"ip":null}"#, 0),
            (r#"{"ip":"10.0.0.1"}"#, 0),
            (r#"{"ip":"unknown","x_forwarded_for":"10.0.0.1, proxy"}"#, 2),
            (r#"{"ip":"n/a","ip":"n/a"}"#, 2),
        ];
        for (input, want) in cases {
            let t = crate::record::transform(input.as_bytes(), 0, &config);
            match t.outcome {
                crate::record::Outcome::Ok(e) => assert_eq!(e.not_ip, *want, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn hash_key_is_required_long_enough_and_never_shown() {
        let build = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            crate::Config::from_lookup(move |n| {
                vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
            })
        };
        let secret = "s3cr3t-but-too-short-31-bytes!!";
        assert_eq!(secret.len(), 31);
        for key in ["", secret] {
            let err = build(&[("HASH_FIELDS", "user_id"), ("HASH_KEY", key)]).unwrap_err();
            assert_eq!(err.variable, "HASH_KEY");
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !key.is_empty() && !shown.contains(key) || key.is_empty(),
                    "{shown}"
                );
                assert!(shown.contains("at least 32 bytes"), "{shown}");
            }
        }
        let config = build(&[("HASH_FIELDS", "user_id"), ("HASH_KEY", KEY)]).unwrap();
        assert!(
            !format!("{config:?}").contains(KEY),
            "the key is not in Debug"
        );
        // Without HASH_FIELDS, no key is needed.
        assert!(build(&[("HASH_KEY", "short")]).is_ok());
        for (name, value) in [
            ("ANONYMIZE_IP", "masked"),
            ("ANONYMIZE_IP", "o"),
            ("STRIP_QUERY", ""),
            ("IP_FIELDS", "ip,,x"),
            ("DROP_FIELDS", "a..b"),
            ("HASH_FIELDS", ".a"),
            ("KEEP_QUERY_PARAMS", "utm_source,,x"),
            ("KEEP_QUERY_PARAMS", "a=b"),
        ] {
            let err = build(&[(name, value)]).expect_err(name);
            assert_eq!(err.variable, name, "{value}");
        }
    }
}
