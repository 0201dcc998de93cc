//! moto's server (from PyPI, installed into `.venv` by `make moto-tools`)
//! as the Firehose and S3 the function re-sends to, started by the test on
//! 127.0.0.1; and a fault-injecting proxy in front of it.
//!
//! moto's Firehose always accepts a `PutRecordBatch` (its answer's
//! `FailedPutCount` is always 0) and writes each call's records, back to
//! back, as one object to the stream's S3 destination. Throttling is what
//! the proxy adds: it answers chosen records of a call
//! `ServiceUnavailableException` and forwards only the others to moto, as
//! Firehose does when a stream is over its limits, so a failed record is
//! never delivered and a retried one is delivered once.
#![allow(dead_code)]

use super::runtime::{read_request, respond, Request};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const REGION: &str = "eu-central-1";
pub const ACCOUNT: &str = "123456789012";

/// The SDK's environment for a test: fixed credentials, `endpoint`, and no
/// instance-metadata probing.
pub fn sdk_env(endpoint: SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ENDPOINT_URL", format!("http://{endpoint}")),
        ("AWS_REGION", REGION.into()),
    ]
}

/// A running `moto_server`, stopped when dropped.
pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
}

impl Moto {
    /// Starts the server named by `MOTO_SERVER` (`make moto-test` sets it)
    /// on a free loopback port, and waits until it answers.
    pub fn start() -> Moto {
        let server = std::env::var("MOTO_SERVER")
            .expect("MOTO_SERVER names moto_server; run these tests with `make moto-test`");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = http(moto.addr, "GET", "/moto-api/", &[], b"") {
                return moto;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// A bucket and a DirectPut stream writing to it under `prefix`.
    pub fn create_stream(&self, stream: &str, bucket: &str, prefix: &str) {
        let location = format!(
            "<CreateBucketConfiguration><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"
        );
        let (status, body) = http(
            self.addr,
            "PUT",
            &format!("/{bucket}"),
            &auth("s3"),
            location.as_bytes(),
        )
        .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let request = json!({
            "DeliveryStreamName": stream,
            "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": {
                "RoleARN": format!("arn:aws:iam::{ACCOUNT}:role/firehose"),
                "BucketARN": format!("arn:aws:s3:::{bucket}"),
                "Prefix": prefix,
            },
        });
        let (status, body) = self.firehose("CreateDeliveryStream", &request);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }

    /// One Firehose API call.
    pub fn firehose(&self, action: &str, request: &Value) -> (u16, Vec<u8>) {
        let mut headers = auth("firehose");
        headers.push(("X-Amz-Target".into(), format!("Firehose_20150804.{action}")));
        headers.push(("Content-Type".into(), "application/x-amz-json-1.1".into()));
        http(
            self.addr,
            "POST",
            "/",
            &headers,
            request.to_string().as_bytes(),
        )
        .unwrap()
    }

    /// The contents of every object under `prefix`, in key order.
    pub fn objects(&self, bucket: &str, prefix: &str) -> Vec<Vec<u8>> {
        let path = format!("/{bucket}?list-type=2&prefix={prefix}&max-keys=1000");
        let (status, body) = http(self.addr, "GET", &path, &auth("s3"), b"").unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let xml = String::from_utf8(body).unwrap();
        assert!(!xml.contains("<IsTruncated>true"), "more than 1000 objects");
        let mut keys: Vec<&str> = xml
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .collect();
        keys.sort_unstable();
        keys.iter()
            .map(|key| {
                let (status, body) = http(
                    self.addr,
                    "GET",
                    &format!("/{bucket}/{key}"),
                    &auth("s3"),
                    b"",
                )
                .unwrap();
                assert_eq!(status, 200, "{key}");
                body
            })
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An unsigned `Authorization` header: moto reads the region from it and
/// checks no signature.
fn auth(service: &str) -> Vec<(String, String)> {
    vec![(
        "Authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential=testing/20261127/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        ),
    )]
}

/// One HTTP/1.1 request on a fresh connection; the status and body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let (status, _, body) = exchange(addr, method, path, headers, body)?;
    Ok((status, body))
}

type Headers = Vec<(String, String)>;

fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<(u16, Headers, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let headers: Headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok((status, headers, body))
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&raw[..eol])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
    out
}

// ------------------------------------------------------------- the proxy

/// What the proxy does to `PutRecordBatch` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwards everything.
    None,
    /// Fails every other record of a call (`ServiceUnavailableException`)
    /// the first time it is seen; its retry goes through.
    ThrottleOnce,
    /// Fails every record, every time: retries run out.
    ThrottleAlways,
    /// Answers the first this many calls as a whole with HTTP 503
    /// `ServiceUnavailableException`, forwarding nothing of them.
    UnavailableFirst(usize),
}

/// What went through the proxy.
#[derive(Default)]
pub struct Seen {
    /// `PutRecordBatch` calls.
    pub puts: AtomicUsize,
    /// Records answered failed.
    pub failed: AtomicUsize,
    /// Records forwarded to moto.
    pub forwarded: AtomicUsize,
    /// The largest call, in records and data bytes (decoded).
    pub largest: Mutex<(usize, usize)>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let failed_once = Arc::new(Mutex::new(HashSet::<String>::new()));
        let shared = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (seen, failed_once) = (Arc::clone(&shared), Arc::clone(&failed_once));
                thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    while let Some(req) = read_request(&mut reader) {
                        let (status, headers, body) =
                            handle(upstream, fault, &seen, &failed_once, req);
                        let headers: Vec<(&str, String)> = headers
                            .iter()
                            .filter(|(n, _)| n == "content-type" || n.starts_with("x-amz"))
                            .map(|(n, v)| (n.as_str(), v.clone()))
                            .collect();
                        let status =
                            format!("{status} {}", if status == 200 { "OK" } else { "Error" });
                        if !respond(&mut writer, &status, &headers, &body) {
                            return;
                        }
                    }
                });
            }
        });
        Proxy { addr, seen }
    }
}

fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn forward(upstream: SocketAddr, req: &Request, body: &[u8]) -> (u16, Headers, Vec<u8>) {
    let headers: Headers = req
        .headers
        .iter()
        .filter(|(n, _)| {
            !matches!(
                n.as_str(),
                "content-length" | "connection" | "transfer-encoding" | "host" | "expect"
            )
        })
        .cloned()
        .collect();
    exchange(upstream, &req.method, &req.path, &headers, body).expect("moto answers")
}

fn handle(
    upstream: SocketAddr,
    fault: Fault,
    seen: &Seen,
    failed_once: &Mutex<HashSet<String>>,
    req: Request,
) -> (u16, Headers, Vec<u8>) {
    let is_put = header(&req, "x-amz-target") == Some("Firehose_20150804.PutRecordBatch");
    if !is_put {
        return forward(upstream, &req, &req.body);
    }
    let nth = seen.puts.fetch_add(1, Ordering::SeqCst);
    if let Fault::UnavailableFirst(n) = fault {
        if nth < n {
            let body = json!({
                "__type": "ServiceUnavailableException",
                "message": "Slow down.",
            });
            let headers = vec![(
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            )];
            return (503, headers, body.to_string().into_bytes());
        }
    }
    let mut call: Value = serde_json::from_slice(&req.body).expect("PutRecordBatch is JSON");
    let records = call["Records"].as_array().cloned().unwrap_or_default();
    let bytes: usize = records
        .iter()
        .map(|r| {
            base64::engine::general_purpose::STANDARD
                .decode(r["Data"].as_str().unwrap_or(""))
                .map_or(0, |d| d.len())
        })
        .sum();
    {
        let mut largest = seen.largest.lock().unwrap();
        largest.0 = largest.0.max(records.len());
        largest.1 = largest.1.max(bytes);
    }
    let fail: Vec<bool> = records
        .iter()
        .enumerate()
        .map(|(i, r)| match fault {
            Fault::None | Fault::UnavailableFirst(_) => false,
            Fault::ThrottleAlways => true,
            Fault::ThrottleOnce => {
                let data = r["Data"].as_str().unwrap_or("").to_owned();
                i % 2 == 1 && failed_once.lock().unwrap().insert(data)
            }
        })
        .collect();
    let kept: Vec<Value> = records
        .iter()
        .zip(&fail)
        .filter(|(_, f)| !**f)
        .map(|(r, _)| r.clone())
        .collect();
    let mut accepted = Vec::new();
    if !kept.is_empty() {
        seen.forwarded.fetch_add(kept.len(), Ordering::SeqCst);
        call["Records"] = Value::Array(kept);
        let (status, _, body) = forward(upstream, &req, call.to_string().as_bytes());
        assert_eq!(status, 200, "moto: {}", String::from_utf8_lossy(&body));
        let answer: Value = serde_json::from_slice(&body).unwrap();
        accepted = answer["RequestResponses"].as_array().cloned().unwrap();
    }
    let mut accepted = accepted.into_iter();
    let failed = fail.iter().filter(|f| **f).count();
    seen.failed.fetch_add(failed, Ordering::SeqCst);
    let responses: Vec<Value> = fail
        .iter()
        .map(|f| match f {
            true => json!({
                "ErrorCode": "ServiceUnavailableException",
                "ErrorMessage": "Slow down.",
            }),
            false => accepted.next().unwrap(),
        })
        .collect();
    let body = json!({
        "FailedPutCount": failed,
        "Encrypted": false,
        "RequestResponses": responses,
    });
    (
        200,
        vec![("content-type".into(), "application/x-amz-json-1.1".into())],
        body.to_string().into_bytes(),
    )
}
