//! The collector: the HTTP front door that takes events from web pages.
//!
//! Pure, like the transform: a [`Request`] (method, path, the few headers
//! it reads, body bytes, the client's address) and a [`CollectorConfig`] in,
//! an [`Outcome`] out: the response to send and the accepted events, each
//! one JSON line with the server-side fields added. No socket, clock or
//! AWS in here. Two adapters host it: the Lambda collector behind a
//! Function URL (`FUNCTION_ROLE=collector`, delivering with
//! `PutRecordBatch`) and `firehose-enricher serve` (a local HTTP server
//! delivering into the transform and a folder).
//!
//! | route | methods | answer |
//! |---|---|---|
//! | `/collect` | `POST` | `204` all accepted; `200` some, `400` none (`{"accepted":N,"rejected":[{"index":I,"reason":"…"}]}`); `413` over a limit; `415` unsupported type or encoding; `403` origin not allowed |
//! | `/collect` | `OPTIONS` | `204`, the CORS preflight |
//! | `/tracker.js` | `GET`, `HEAD` | `200`, the tracker |
//! | `/health` | `GET`, `HEAD` | `200` |
//! | other paths | | `404`; a known path with another method is `405` |
//!
//! ```
//! use firehose_enricher::collector::{handle, CollectorConfig, Headers, Request};
//! let config = CollectorConfig::default();
//! let request = Request {
//!     method: "POST",
//!     path: "/collect",
//!     headers: Headers { user_agent: Some("Mozilla/5.0"), ..Headers::default() },
//!     body: br#"[{"type":"page_view","ip":"6.6.6.6"},{"type":"click"}]"#,
//!     peer: Some("203.0.113.9".parse().unwrap()),
//! };
//! let outcome = handle(&request, &config);
//! assert_eq!(outcome.response.status, 204);
//! let events: Vec<&[u8]> = outcome.events.iter().collect();
//! assert_eq!(events[0], br#"{"type":"page_view","ip":"203.0.113.9","user_agent":"Mozilla/5.0"}
//! "#);
//! assert_eq!(events[1], br#"{"type":"click","ip":"203.0.113.9","user_agent":"Mozilla/5.0"}
//! "#);
//! ```

pub mod body;
pub mod config;
pub mod tracker;

use body::{BodyError, Piece, Reason};
pub use config::CollectorConfig;
use std::borrow::Cow;
use std::net::IpAddr;

/// The headers the collector reads, looked up by the adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub accept_encoding: Option<&'a str>,
    /// The value of `TRUSTED_PROXY_HEADER`, when configured and present.
    pub forwarded_for: Option<&'a str>,
}

impl<'a> Headers<'a> {
    /// The headers through a lookup by lowercase name.
    pub fn from_fn(config: &CollectorConfig, get: impl Fn(&str) -> Option<&'a str>) -> Headers<'a> {
        Headers {
            content_type: get("content-type"),
            content_encoding: get("content-encoding"),
            origin: get("origin"),
            user_agent: get("user-agent"),
            accept_encoding: get("accept-encoding"),
            forwarded_for: config.trusted_proxy_header.as_deref().and_then(&get),
        }
    }
}

/// One HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path, without the query string.
    pub path: &'a str,
    pub headers: Headers<'a>,
    pub body: &'a [u8],
    /// The connection's peer, or the Function URL's `sourceIp`.
    pub peer: Option<IpAddr>,
}

/// The response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    pub body: Cow<'static, [u8]>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// Accepted events, each a JSON object and a newline, back to back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Events {
    pub data: Vec<u8>,
    ends: Vec<usize>,
}

impl Events {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Each event's bytes, its newline included.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(s, &e)| &self.data[s..e])
    }

    fn push_end(&mut self) {
        self.ends.push(self.data.len());
    }
}

/// Why a whole request was refused; each is counted (a metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `413`: a size or count limit.
    TooLarge,
    /// `403`: an `Origin` outside `ALLOWED_ORIGINS`.
    Origin,
    /// `400`, `415`: no events, bad gzip, unsupported type or encoding.
    BadRequest,
    /// `404`, `405`.
    Route,
}

/// What [`handle`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The answer once every accepted event is delivered; when delivery
    /// fails, answer [`Outcome::unavailable`] instead.
    pub response: Response,
    pub events: Events,
    /// Events rejected, by [`Reason`] (indexed as [`Reason::ALL`]).
    pub rejected: [usize; Reason::ALL.len()],
    pub refusal: Option<Refusal>,
}

impl Outcome {
    /// `503` with `Retry-After`: the events were not all delivered, so the
    /// client must send them again. CORS headers are kept, so that the
    /// tracker can read the status.
    pub fn unavailable(&self) -> Response {
        let mut headers: Vec<_> = self
            .response
            .headers
            .iter()
            .filter(|(n, _)| n.starts_with("access-control-") || *n == "vary")
            .cloned()
            .collect();
        headers.push(("retry-after", RETRY_AFTER_SECONDS.into()));
        headers.push(("content-type", JSON.into()));
        headers.push(("cache-control", "no-store".into()));
        Response {
            status: 503,
            headers,
            body: Cow::Borrowed(br#"{"error":"unavailable"}"#),
        }
    }
}

/// What `Retry-After` says when delivery failed.
pub const RETRY_AFTER_SECONDS: &str = "2";
const JSON: &str = "application/json";

/// Handles one request.
pub fn handle(request: &Request, config: &CollectorConfig) -> Outcome {
    let route = match request.path {
        "/collect" => Route::Collect,
        "/tracker.js" => Route::Tracker,
        "/health" => Route::Health,
        _ => return refused(error(404, "not_found"), Refusal::Route),
    };
    let method = request.method;
    match (route, method) {
        (Route::Collect, "POST") => collect(request, config),
        (Route::Collect, "OPTIONS") => preflight(request, config),
        (Route::Tracker, "GET" | "HEAD") => plain(tracker::response(
            request.headers.accept_encoding,
            method == "HEAD",
        )),
        (Route::Health, "GET" | "HEAD") => plain(Response {
            status: 200,
            headers: vec![
                ("content-type", "text/plain; charset=utf-8".into()),
                ("cache-control", "no-store".into()),
            ],
            body: Cow::Borrowed(if method == "HEAD" { b"" } else { b"ok\n" }),
        }),
        _ => {
            let allow = match route {
                Route::Collect => "POST, OPTIONS",
                Route::Tracker | Route::Health => "GET, HEAD",
            };
            let mut response = error(405, "method_not_allowed");
            response.headers.push(("allow", allow.into()));
            refused(response, Refusal::Route)
        }
    }
}

#[derive(Clone, Copy)]
enum Route {
    Collect,
    Tracker,
    Health,
}

fn plain(response: Response) -> Outcome {
    Outcome {
        response,
        events: Events::default(),
        rejected: [0; Reason::ALL.len()],
        refusal: None,
    }
}

fn refused(response: Response, refusal: Refusal) -> Outcome {
    Outcome {
        refusal: Some(refusal),
        ..plain(response)
    }
}

/// An error answer: a fixed code, never any of the input.
fn error(status: u16, code: &'static str) -> Response {
    Response {
        status,
        headers: vec![
            ("content-type", JSON.into()),
            ("cache-control", "no-store".into()),
        ],
        body: Cow::Owned(format!(r#"{{"error":"{code}"}}"#).into_bytes()),
    }
}

/// The CORS headers for `/collect`: `*` when any origin may send; the exact
/// origin when `ALLOWED_ORIGINS` lists it. `Err` when it does not.
fn cors(
    origin: Option<&str>,
    config: &CollectorConfig,
) -> Result<Vec<(&'static str, Cow<'static, str>)>, ()> {
    let Some(allowed) = &config.allowed_origins else {
        return Ok(vec![("access-control-allow-origin", "*".into())]);
    };
    match origin {
        // No Origin: not a browser's cross-origin request (curl, a server);
        // the answer still varies by Origin for caches.
        None => Ok(vec![("vary", "Origin".into())]),
        Some(o) if allowed.iter().any(|a| a == o) => Ok(vec![
            ("access-control-allow-origin", Cow::Owned(o.to_owned())),
            ("vary", "Origin".into()),
        ]),
        Some(_) => Err(()),
    }
}

fn with_cors(mut response: Response, cors: &[(&'static str, Cow<'static, str>)]) -> Response {
    response.headers.extend(cors.iter().cloned());
    response
}

fn preflight(request: &Request, config: &CollectorConfig) -> Outcome {
    let Ok(cors) = cors(request.headers.origin, config) else {
        return refused(error(403, "origin_not_allowed"), Refusal::Origin);
    };
    let mut response = Response {
        status: 204,
        headers: vec![
            ("access-control-allow-methods", "POST, OPTIONS".into()),
            (
                "access-control-allow-headers",
                "Content-Type, Content-Encoding".into(),
            ),
            ("access-control-max-age", "86400".into()),
        ],
        body: Cow::Borrowed(b""),
    };
    response = with_cors(response, &cors);
    plain(response)
}

fn collect(request: &Request, config: &CollectorConfig) -> Outcome {
    let h = &request.headers;
    let Ok(cors) = cors(h.origin, config) else {
        return refused(error(403, "origin_not_allowed"), Refusal::Origin);
    };
    let fail = |status, code, refusal| refused(with_cors(error(status, code), &cors), refusal);
    if !content_type_ok(h.content_type) {
        return fail(415, "unsupported_content_type", Refusal::BadRequest);
    }
    let gzip = match h.content_encoding.map(str::trim) {
        None | Some("") => false,
        Some(e) if e.eq_ignore_ascii_case("identity") => false,
        Some(e) if e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip") => true,
        Some(_) => return fail(415, "unsupported_content_encoding", Refusal::BadRequest),
    };
    let decoded = match body::decode(request.body, gzip, config.max_body_bytes) {
        Ok(d) => d,
        Err(e) => return body_error(e, &fail),
    };
    let pieces = match body::split(&decoded, config.max_events) {
        Ok(p) => p,
        Err(e) => return body_error(e, &fail),
    };
    let fields = ServerFields::new(request, config);
    let mut events = Events {
        data: Vec::with_capacity(decoded.len() + pieces.len() * fields.suffix.len()),
        ends: Vec::with_capacity(pieces.len()),
    };
    let mut rejected_list: Vec<(usize, Reason)> = Vec::new();
    let mut rejected = [0; Reason::ALL.len()];
    for (index, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Event(object) => {
                let start = events.data.len();
                fields.write(object, &mut events.data);
                if events.data.len() - start > config.max_event_bytes {
                    return fail(413, "event_too_large", Refusal::TooLarge);
                }
                events.push_end();
            }
            Piece::Rejected(reason) => {
                rejected[*reason as usize] += 1;
                rejected_list.push((index, *reason));
            }
        }
    }
    let response = if rejected_list.is_empty() {
        Response {
            status: 204,
            headers: vec![("cache-control", "no-store".into())],
            body: Cow::Borrowed(b""),
        }
    } else {
        let status = if events.is_empty() { 400 } else { 200 };
        let mut body = format!(r#"{{"accepted":{},"rejected":["#, events.len());
        for (k, (index, reason)) in rejected_list.iter().enumerate() {
            if k > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"index":{index},"reason":"{}"}}"#,
                reason.code()
            ));
        }
        body.push_str("]}");
        Response {
            status,
            headers: vec![
                ("content-type", JSON.into()),
                ("cache-control", "no-store".into()),
            ],
            body: Cow::Owned(body.into_bytes()),
        }
    };
    Outcome {
        response: with_cors(response, &cors),
        events,
        rejected,
        refusal: None,
    }
}

fn body_error(e: BodyError, fail: &dyn Fn(u16, &'static str, Refusal) -> Outcome) -> Outcome {
    match e {
        BodyError::TooLarge => fail(413, "body_too_large", Refusal::TooLarge),
        BodyError::TooManyEvents => fail(413, "too_many_events", Refusal::TooLarge),
        BodyError::BadGzip => fail(400, "bad_gzip", Refusal::BadRequest),
        BodyError::Empty => fail(400, "no_events", Refusal::BadRequest),
    }
}

/// `text/plain` (what `sendBeacon` sends for a string, with no preflight),
/// JSON, NDJSON, or none; parameters such as `charset` are ignored.
fn content_type_ok(value: Option<&str>) -> bool {
    let Some(value) = value else { return true };
    let media = value.split(';').next().unwrap_or("").trim();
    [
        "text/plain",
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "",
    ]
    .iter()
    .any(|t| media.eq_ignore_ascii_case(t))
}

/// The server-side members, written once per request: `,"ip":"…","user_agent":"…"`.
struct ServerFields<'c> {
    ip_field: &'c str,
    user_agent_field: &'c str,
    /// The members as JSON, with a leading comma.
    suffix: String,
}

impl<'c> ServerFields<'c> {
    fn new(request: &Request, config: &'c CollectorConfig) -> ServerFields<'c> {
        let mut suffix = String::new();
        let mut member = |name: &str, value: &str| {
            suffix.push(',');
            // Names are validated at start-up (no character to escape);
            // values are escaped by serde_json.
            suffix.push('"');
            suffix.push_str(name);
            suffix.push_str("\":");
            suffix.push_str(&serde_json::Value::from(value).to_string());
        };
        if let Some(ip) = client_ip(request) {
            member(&config.ip_field, &ip.to_string());
        }
        if let Some(ua) = request.headers.user_agent {
            member(&config.user_agent_field, ua);
        }
        ServerFields {
            ip_field: &config.ip_field,
            user_agent_field: &config.user_agent_field,
            suffix,
        }
    }

    /// Appends `object` with the server's members and a newline. The
    /// client's own members keep their bytes; members named like the
    /// server's are removed first, so the request's values win (and no
    /// reader sees two).
    fn write(&self, object: &body::Object, out: &mut Vec<u8>) {
        let ours = |name: &str| name == self.ip_field || name == self.user_agent_field;
        let empty = object.members.is_empty();
        if !object.members.iter().any(|(n, _)| ours(n)) {
            // The object's text up to its closing brace, as sent.
            let inner =
                object.raw[..object.raw.len() - 1].trim_end_matches([' ', '\t', '\n', '\r']);
            out.extend_from_slice(inner.as_bytes());
            self.close(out, empty);
            return;
        }
        out.push(b'{');
        let mut first = true;
        for (name, value) in object.members.iter().filter(|(n, _)| !ours(n)) {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(
                serde_json::Value::from(name.as_ref())
                    .to_string()
                    .as_bytes(),
            );
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
        }
        self.close(out, first);
    }

    fn close(&self, out: &mut Vec<u8>, empty: bool) {
        let suffix = self.suffix.as_bytes();
        match (empty, suffix.is_empty()) {
            (_, true) => {}
            (true, false) => out.extend_from_slice(&suffix[1..]),
            (false, false) => out.extend_from_slice(suffix),
        }
        out.extend_from_slice(b"}\n");
    }
}

/// The client's address: the connection's, or, only when
/// `TRUSTED_PROXY_HEADER` is configured, the last entry of that header
/// (the one the proxy in front added). IPv4-mapped IPv6 addresses (from
/// dual-stack sockets) are written as IPv4.
pub fn client_ip(request: &Request) -> Option<IpAddr> {
    let forwarded = request.headers.forwarded_for.and_then(|v| {
        let last = v.rsplit(',').next()?.trim();
        last.parse::<IpAddr>()
            .ok()
            .or_else(|| last.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
    });
    forwarded.or(request.peer).map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests;
