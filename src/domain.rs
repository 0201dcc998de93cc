//! Hosts and sites: which website an event came from.
//!
//! `domain` is the page's host, normalized: lowercase ASCII (IDN to
//! punycode), no port, no userinfo, no trailing dot. `site` is its registrable
//! domain per the Public Suffix List, private section included.
//!
//! ```
//! use firehose_enricher::domain::{host_from_url, site};
//! let host = host_from_url("https://User@News.BBC.co.uk.:8443/a?b#c").unwrap();
//! assert_eq!(host, "news.bbc.co.uk");
//! assert_eq!(site(&host), "bbc.co.uk");
//! assert_eq!(site("alice.github.io"), "alice.github.io"); // private suffix
//! assert_eq!(site("www.gov.uk"), "www.gov.uk"); // gov.uk is itself a suffix
//! assert_eq!(host_from_url("https://münchen.de/").unwrap(), "xn--mnchen-3ya.de");
//! assert_eq!(site("127.0.0.1"), "127.0.0.1");
//! ```

use std::borrow::Cow;
use url::{Host, Url};

/// Longest host name DNS allows.
const MAX_HOST_LEN: usize = 253;

/// The host of a URL, normalized, or `None` when it has no valid host.
///
/// Absolute URLs are parsed with the WHATWG rules of the `url` crate.
/// Protocol-relative (`//example.com/x`) and scheme-less
/// (`www.example.com/x`) strings are read as `http:` URLs, as a browser's
/// address bar would.
pub fn host_from_url(s: &str) -> Option<Cow<'_, str>> {
    let s = s.trim();
    if let Some(host) = fast_http_host(s).or_else(|| fast_schemeless_host(s)) {
        return Some(host);
    }
    // Scheme-less, as typed in an address bar, port included: checked
    // first, as `www.example.com:8080` would otherwise parse as a URL of
    // scheme `www.example.com`.
    let url = if schemeless_host(s) {
        Url::parse(&format!("http://{s}")).ok()?
    } else {
        match Url::parse(authority_prefix(s)) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) if s.starts_with("//") => {
                Url::parse(&format!("http:{s}")).ok()?
            }
            // Anything else without a scheme: a bare word ("garbage") or a
            // number ("404", which WHATWG would read as IPv4 0.0.1.148).
            Err(_) => return None,
        }
    };
    if url.cannot_be_a_base() {
        return None;
    }
    match url.host()? {
        // Special schemes (http, https, ws, wss, ftp) get full host
        // processing from `url`; other schemes keep an opaque host, so read
        // that as a bare host.
        Host::Domain(d) if is_special(url.scheme()) => {
            valid_domain(d).map(|d| Cow::Owned(d.to_owned()))
        }
        Host::Domain(d) => host_from_bare(d).map(|h| Cow::Owned(h.into_owned())),
        Host::Ipv4(ip) => Some(Cow::Owned(ip.to_string())),
        Host::Ipv6(ip) => Some(Cow::Owned(ip.to_string())),
    }
}

/// What decides [`host_from_url`]'s answer for an `http:` or `https:` URL:
/// the URL (trimmed) up to the end of its authority
/// (`https://Example.com:8080`). Every URL with the same key has the same
/// host, so a cache may keep hosts by key; tests/reference.rs checks this
/// on generated URLs. `None` for other strings, and where the cut would
/// change the parse (an authority ending in a space or control character).
pub fn host_key(s: &str) -> Option<&str> {
    let s = s.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let key = authority_prefix(s);
    // The key must read as the URL did: cut after the authority, and
    // ending in ASCII, so that trimming it takes nothing more (a URL
    // ending in U+2003 keeps it inside the authority; the key alone would
    // lose it).
    (key.len() == s.len() - rest.len() + authority(rest).len()
        && key.as_bytes().last().is_some_and(u8::is_ascii))
    .then_some(key)
}

/// A bare host such as `Example.COM:8080`, `user@host`, `[::1]:443` or
/// `münchen.de.`, normalized; `None` when it is not a valid host. Anything
/// with a path, query, fragment or whitespace is not a bare host.
pub fn host_from_bare(s: &str) -> Option<Cow<'_, str>> {
    let s = s.trim();
    if s.is_empty()
        || s.bytes()
            .any(|b| matches!(b, b'/' | b'\\' | b'?' | b'#') || b.is_ascii_whitespace())
    {
        return None;
    }
    if let Some(host) = fast_authority(s) {
        return Some(host);
    }
    // A bare IPv6 address has more than one colon and no brackets.
    if s.bytes().filter(|&b| b == b':').count() > 1 && !s.starts_with('[') && !s.contains('@') {
        return s
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| Cow::Owned(ip.to_string()));
    }
    let url = Url::parse(&format!("http://{s}/")).ok()?;
    match url.host()? {
        Host::Domain(d) => valid_domain(d).map(|d| Cow::Owned(d.to_owned())),
        Host::Ipv4(ip) => Some(Cow::Owned(ip.to_string())),
        Host::Ipv6(ip) => Some(Cow::Owned(ip.to_string())),
    }
}

fn is_special(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp")
}

/// Whether a string is a scheme-less URL: the text before its first `/`,
/// `?`, `#` or `:` is a dotted name (`www.example.com`), a dotted-quad IPv4
/// address (`127.0.0.1`), or a bracketed IPv6 address (`[::1]`), and a `:`
/// after it is a port's, not a scheme's `://`. So a number (`404`, `2018`,
/// `12/34`, `0x10`), a bare word or a path is not a URL.
pub fn schemeless_host(s: &str) -> bool {
    let end = if s.starts_with('[') {
        match s.find(']') {
            Some(i) => i + 1,
            None => return false,
        }
    } else {
        // A byte loop, as in [`authority`].
        s.bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#' | b':'))
            .unwrap_or(s.len())
    };
    let (host, rest) = s.split_at(end);
    let host_ok = if host.starts_with('[') {
        host.len() > 2
    } else {
        is_dotted_quad(host) || is_dotted_name(host)
    };
    host_ok
        && match rest.strip_prefix(':') {
            Some(after) => !after.starts_with("//"),
            None => rest.is_empty() || rest.starts_with(['/', '?', '#']),
        }
}

/// `a.b.c.d`, each part 1 to 3 decimal digits (`url` checks the values).
fn is_dotted_quad(s: &str) -> bool {
    s.split('.').count() == 4
        && s.split('.')
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Two or more non-empty labels (one trailing dot allowed) whose last label
/// is not a number: WHATWG reads a host "ending in a number" as IPv4.
fn is_dotted_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    let mut labels = s.split('.');
    let Some(last) = labels.next_back() else {
        return false;
    };
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last
            .strip_prefix("0x")
            .or_else(|| last.strip_prefix("0X"))
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    s.contains('.') && !numeric && !last.is_empty() && labels.all(|l| !l.is_empty())
}

/// Fast path for the overwhelmingly common `https://host/…`.
///
/// Hand-written because `Url::parse` allocates and serializes the whole URL,
/// which is most of the cost of a record. It only accepts what `url` would
/// return as the same host (the property test `fast_host_agrees_with_url` in
/// tests/reference.rs checks this), and hands everything else to `url`.
fn fast_http_host(s: &str) -> Option<Cow<'_, str>> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    // After the authority, `url` would percent-encode or reject some bytes,
    // but never change the host: only the authority matters here.
    fast_authority(authority(rest))
}

/// Fast path for a scheme-less `www.example.com/x`. With no colon before
/// the first `/`, `?`, `#` or `\`, `Url::parse` finds no scheme, so
/// [`host_from_url`] reads the string as `http://` + it, when it passes
/// [`schemeless_host`], checked here too.
fn fast_schemeless_host(s: &str) -> Option<Cow<'_, str>> {
    let a = authority(s);
    if !s.as_bytes().first()?.is_ascii_alphanumeric() || a.contains(':') || !schemeless_host(s) {
        return None;
    }
    fast_authority(a)
}

/// The authority of what follows `scheme://`: up to the first `/`, `?`, `#`
/// or `\` (a path separator in special schemes).
fn authority(rest: &str) -> &str {
    // A byte loop: `str::find` with a char array decodes and tests each
    // char in turn, and this runs for the page URL and the referrer of
    // every record.
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// `http(s)://authority` of an http(s) URL, else the URL. Only the
/// authority decides the host, and parsing the path, query and fragment
/// (percent-encoding and copying them) is most of what `Url::parse` costs.
/// Kept whole when the authority ends in a control character or space,
/// which WHATWG would strip from the end of the cut string but not from
/// inside the whole one.
fn authority_prefix(s: &str) -> &str {
    match s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    {
        Some(rest) => {
            let a = authority(rest);
            match a.as_bytes().last() {
                Some(&b) if b > b' ' => &s[..s.len() - rest.len() + a.len()],
                _ => s,
            }
        }
        None => s,
    }
}

/// An authority that `url` would turn into a host name by lowercasing it
/// at most: ASCII letters, digits, hyphens and dots, with an optional port
/// of 1 to 5 digits, a last label that starts with a letter (so WHATWG's
/// IPv4 parsing never applies) and no `xn--` (so no punycode needs
/// validating). A single trailing dot is dropped. One pass, no allocation
/// unless there are capitals to lowercase.
fn fast_authority(a: &str) -> Option<Cow<'_, str>> {
    let host = match a.rsplit_once(':') {
        Some((host, port)) => {
            let ok = (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u32>().is_ok_and(|p| p <= 65_535);
            if !ok {
                return None;
            }
            host
        }
        None => a,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let b = host.as_bytes();
    if b.is_empty() || b.len() > MAX_HOST_LEN {
        return None;
    }
    let mut upper = false;
    let mut label = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'a'..=b'z' | b'0'..=b'9' => {}
            b'A'..=b'Z' => upper = true,
            b'-' => {
                if i >= 3 && b[i - 1] == b'-' && b[i - 2] | 0x20 == b'n' && b[i - 3] | 0x20 == b'x'
                {
                    return None;
                }
            }
            b'.' => {
                if i == label || i - label > 63 {
                    return None;
                }
                label = i + 1;
            }
            _ => return None,
        }
    }
    let last = &b[label..];
    if last.is_empty() || last.len() > 63 || !last[0].is_ascii_alphabetic() {
        return None;
    }
    Some(if upper {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    })
}

/// Checks a domain as `url` returns it, dropping one trailing dot: 1 to 253
/// bytes, labels of 1 to 63 bytes, made of lowercase letters, digits, `-` and
/// `_` (underscores appear in real host names, e.g. some CDN hosts).
fn valid_domain(d: &str) -> Option<&str> {
    let d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() || d.len() > MAX_HOST_LEN {
        return None;
    }
    let labels_ok = d.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    });
    labels_ok.then_some(d)
}

/// The registrable domain ("site") of a normalized host: one label plus its
/// public suffix. IP addresses, single-label hosts and hosts that are
/// themselves a public suffix (`github.io`) are their own site.
pub fn site(host: &str) -> &str {
    if is_ip(host) {
        return host;
    }
    psl::domain_str(host).unwrap_or(host)
}

/// Where [`site`] starts in `host`: the site is always a suffix of it.
pub fn site_start(host: &str) -> usize {
    host.len() - site(host).len()
}

fn is_ip(host: &str) -> bool {
    host.contains(':') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // --- edge cases: no key, the URL is parsed whole ---
            ("", None),
            ("www.example.com/x", None),
            ("//example.com/x", None),
            ("ftp://example.com/x", None),
            ("HTTPS://example.com/x", None),
            ("https://example.com /x", None),
            ("https://example.com\u{1}/x", None),
            ("https://a.com\u{2003}/x", None),
            // --- the scheme and authority ---
            ("http://", Some("http://")),
            ("https://example.com", Some("https://example.com")),
            (
                "  https://Example.com:8080/a?b#c ",
                Some("https://Example.com:8080"),
            ),
            ("https://user@münchen.de/x", Some("https://user@münchen.de")),
            ("https://example.com?q=/x", Some("https://example.com")),
            ("https://example.com#/x", Some("https://example.com")),
            ("https://example.com\\x", Some("https://example.com")),
        ];
        for (url, want) in cases {
            assert_eq!(host_key(url), *want, "{url:?}");
            if let Some(key) = want {
                assert_eq!(host_from_url(key), host_from_url(url), "{url:?}");
            }
        }
    }

    #[test]
    fn url_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // --- edge cases ---
            ("", None),
            ("   ", None),
            ("/relative/path", None),
            ("mailto:someone@example.com", None), // no host
            ("about:blank", None),
            ("data:text/plain,hi", None),
            ("file:///etc/passwd", None),
            ("http://", None),
            ("https://exa mple.com/", None),
            ("https://a..b.com/", None),      // empty label
            ("https://example.com../", None), // two trailing dots
            ("https://-/", Some("-")),        // odd but a valid label per url
            ("https://ex%41mple.com/", Some("example.com")), // percent-decoded by url
            ("https://xn--zz.com/", None),    // invalid punycode
            (&format!("https://{}.com/", "a".repeat(64)), None), // label too long
            (&format!("https://{}.com/", "a.".repeat(130)), None), // host too long
            ("https://example.com./", Some("example.com")),
            ("HTTPS://EXAMPLE.COM/", Some("example.com")),
            ("https://user:pw@example.com:8443/x", Some("example.com")),
            ("https://example.com:99999/", None), // bad port: not a URL
            ("https://127.0.0.1:8080/", Some("127.0.0.1")),
            ("https://0x7f.1/", Some("127.0.0.1")), // WHATWG IPv4 forms
            ("https://[::1]:8080/", Some("::1")),
            ("https://[2001:DB8::1]/", Some("2001:db8::1")),
            ("https://münchen.de/", Some("xn--mnchen-3ya.de")),
            ("https://MÜNCHEN.de/", Some("xn--mnchen-3ya.de")),
            ("https://xn--mnchen-3ya.de/", Some("xn--mnchen-3ya.de")),
            ("https://例え.jp/", Some("xn--r8jz45g.jp")),
            ("https://example.com\\path", Some("example.com")),
            ("https://example.com?q=/x", Some("example.com")),
            ("https://example.com#frag", Some("example.com")),
            ("wss://socket.example.com/", Some("socket.example.com")),
            ("android-app://com.example.app/", Some("com.example.app")),
            // --- scheme-less and protocol-relative ---
            ("//cdn.example.com/x.js", Some("cdn.example.com")),
            ("www.example.com/page", Some("www.example.com")),
            ("example.com", Some("example.com")),
            ("garbage", None), // a bare word is not a host
            ("localhost/x", None),
            ("127.0.0.1/x", Some("127.0.0.1")),
            ("127.0.0.1:8080/x", Some("127.0.0.1")),
            // A number is not a host, though WHATWG would read it as IPv4.
            ("404", None),
            ("1518352207", None),
            ("2018", None),
            ("12/34", None),
            ("0x10", None),
            ("0x10/x", None),
            ("1.5", None),
            ("1.2.3", None),
            ("1.2.3.4.5", None),
            ("0x7f.1/x", None),
            ("example.0x10", None),
            ("-1", None),
            ("3.14?x", None),
            ("1.2.3.4", Some("1.2.3.4")),
            ("1.2.3.256", None), // url rejects the value
            ("[::1]/x", Some("::1")),
            ("[::1]:8080/x", Some("::1")),
            ("[::1", None),
            ("[]", None),
            // With a port: the name before `:` is a host, not a scheme.
            ("www.example.com:8080/page", Some("www.example.com")),
            ("shop.example.co.uk:8443", Some("shop.example.co.uk")),
            ("Shop.Example.co.uk:8443?q", Some("shop.example.co.uk")),
            ("www.example.com:/page", Some("www.example.com")),
            ("www.example.com:99999/page", None), // bad port
            ("www.example.com:abc", None),
            ("localhost:8080/x", None),          // not dotted
            ("com.example.app://x/", Some("x")), // a dotted scheme's authority
            ("example.com./x", Some("example.com")),
            ("a.?", None), // one label and a trailing dot is not a dotted name
            ("¡.?", None),
            ("localhost./x", None),
            ("münchen.de:80/x", Some("xn--mnchen-3ya.de")),
            // --- the plain case ---
            (
                "https://www.example.com/pricing?utm=1",
                Some("www.example.com"),
            ),
            ("http://news.bbc.co.uk/sport", Some("news.bbc.co.uk")),
            ("  https://example.com/  ", Some("example.com")),
        ];
        for (input, want) in cases {
            assert_eq!(host_from_url(input).as_deref(), *want, "url {input:?}");
        }
    }

    #[test]
    fn bare_host_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // --- edge cases ---
            ("", None),
            (" ", None),
            (".", None),
            ("..", None),
            ("example.com/path", None),
            ("example.com?x", None),
            ("exa mple.com", None),
            ("../../etc", None),
            ("example.com..", None),
            ("a\u{0}b.com", None),
            ("[::1]", Some("::1")),
            ("[::1]:443", Some("::1")),
            ("::1", Some("::1")),
            ("2001:DB8::1", Some("2001:db8::1")),
            ("127.0.0.1", Some("127.0.0.1")),
            ("127.0.0.1:80", Some("127.0.0.1")),
            ("localhost", Some("localhost")),
            ("LOCALHOST.", Some("localhost")),
            ("user@Example.COM:8080", Some("example.com")),
            ("münchen.de", Some("xn--mnchen-3ya.de")),
            ("my_host.example.com", Some("my_host.example.com")),
            // --- the plain case ---
            ("example.com", Some("example.com")),
            ("Shop.Example.co.uk", Some("shop.example.co.uk")),
        ];
        for (input, want) in cases {
            assert_eq!(host_from_bare(input).as_deref(), *want, "host {input:?}");
        }
    }

    #[test]
    fn site_table() {
        let cases: &[(&str, &str)] = &[
            // --- edge cases ---
            ("localhost", "localhost"), // single label
            ("127.0.0.1", "127.0.0.1"), // IPv4
            ("::1", "::1"),             // IPv6
            ("2001:db8::1", "2001:db8::1"),
            ("co.uk", "co.uk"),           // itself a public suffix
            ("github.io", "github.io"),   // itself a private suffix
            ("www.gov.uk", "www.gov.uk"), // gov.uk is a suffix
            ("a.b.c.d.example.com", "example.com"),
            ("foo.bar.unknowntld", "bar.unknowntld"), // default rule `*`
            // --- multi-level and private suffixes ---
            ("news.bbc.co.uk", "bbc.co.uk"),
            ("shop.example.com.au", "example.com.au"),
            ("alice.github.io", "alice.github.io"),
            ("x.alice.github.io", "alice.github.io"),
            ("myapp.herokuapp.com", "myapp.herokuapp.com"),
            ("bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"),
            ("www.city.kawasaki.jp", "city.kawasaki.jp"), // exception rule
            ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
            ("www.example.com", "example.com"),
        ];
        for (host, want) in cases {
            assert_eq!(site(host), *want, "host {host:?}");
        }
    }
}
