//! The real binary against a Lambda Runtime API emulator on the loopback
//! interface: batches round-trip, malformed requests are reported as errors
//! and the process serves the next invocation, each batch prints one EMF
//! line, and an invalid configuration stops init naming the variable.
//!
//! The emulator is a minimal HTTP/1.1 server written here (keep-alive,
//! Content-Length or chunked bodies): the Runtime API is four routes, and
//! doing it by hand keeps the test free of a server framework and in full
//! control of timing.

#[path = "support/oracle.rs"]
mod oracle;

use firehose_enricher::record::DropReason;
use firehose_enricher::{batch, config, metrics, Config};
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_firehose-enricher");
const FUNCTION: &str = "firehose-enricher-test";
/// Generous: the machine may be slow and busy. Nothing waits this long
/// unless something is broken.
const WAIT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------- emulator

/// What the function posted to the Runtime API.
#[derive(Debug)]
struct Posted {
    path: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct State {
    invocations: Mutex<VecDeque<(String, Vec<u8>)>>,
    ready: Condvar,
    next_calls: AtomicUsize,
}

struct Emulator {
    addr: SocketAddr,
    state: Arc<State>,
    posted: mpsc::Receiver<Posted>,
}

impl Emulator {
    fn start(invocations: Vec<(&str, Vec<u8>)>) -> Emulator {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        state.invocations.lock().unwrap().extend(
            invocations
                .into_iter()
                .map(|(id, body)| (id.to_owned(), body)),
        );
        let (tx, posted) = mpsc::channel();
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (state, tx) = (Arc::clone(&shared), tx.clone());
                thread::spawn(move || serve(stream, &state, &tx));
            }
        });
        Emulator {
            addr,
            state,
            posted,
        }
    }

    fn next(&self) -> Posted {
        self.posted
            .recv_timeout(WAIT)
            .expect("the function posted nothing in time")
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            let at = body.len();
            body.resize(at + size, 0);
            r.read_exact(&mut body[at..]).ok()?;
            line.clear();
            r.read_line(&mut line).ok()?; // CRLF after the chunk (or trailers)
            if size == 0 {
                break;
            }
        }
    } else {
        body.resize(length, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some(Request { method, path, body })
}

fn respond(w: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) -> bool {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())
        .and_then(|()| w.write_all(body))
        .and_then(|()| w.flush())
        .is_ok()
}

fn serve(stream: TcpStream, state: &State, tx: &mpsc::Sender<Posted>) {
    let _ = stream.set_read_timeout(Some(WAIT * 2));
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader) {
        const PREFIX: &str = "/2018-06-01/runtime/";
        let route = req.path.strip_prefix(PREFIX).unwrap_or("");
        let ok = match (req.method.as_str(), route) {
            ("GET", "invocation/next") => {
                state.next_calls.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + WAIT * 2;
                let mut queue = state.invocations.lock().unwrap();
                // Long poll, as the real API does; when the test has no more
                // invocations, the function waits here until it is killed.
                let invocation = loop {
                    if let Some(inv) = queue.pop_front() {
                        break Some(inv);
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break None;
                    }
                    queue = state.ready.wait_timeout(queue, left).unwrap().0;
                };
                drop(queue);
                let Some((id, body)) = invocation else { return };
                let deadline_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 300_000;
                respond(
                    &mut writer,
                    "200 OK",
                    &[
                        ("Content-Type", "application/json".into()),
                        ("Lambda-Runtime-Aws-Request-Id", id),
                        ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            format!("arn:aws:lambda:eu-central-1:123456789012:function:{FUNCTION}"),
                        ),
                        (
                            "Lambda-Runtime-Trace-Id",
                            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                                .into(),
                        ),
                    ],
                    &body,
                )
            }
            ("POST", r)
                if r == "init/error"
                    || (r.starts_with("invocation/")
                        && (r.ends_with("/response") || r.ends_with("/error"))) =>
            {
                let _ = tx.send(Posted {
                    path: r.to_owned(),
                    body: req.body,
                });
                respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)
            }
            _ => respond(&mut writer, "404 Not Found", &[], b""),
        };
        if !ok {
            return;
        }
    }
}

// ------------------------------------------------------------- the child

/// The function's process; killed when dropped, so no test leaves one
/// behind.
struct Function {
    child: Child,
    stdout: Option<JoinHandle<Vec<String>>>,
    stderr: Option<JoinHandle<String>>,
}

impl Function {
    fn command(vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        // Only what we set: the test must not depend on the caller's
        // environment (a stray MAX_AGE would change the answers).
        cmd.env_clear()
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn lambda(emulator: &Emulator, extra: &[(&str, &str)]) -> Function {
        let api = emulator.addr.to_string();
        let mut vars = vec![
            ("AWS_LAMBDA_RUNTIME_API", api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/27/[$LATEST]0123456789abcdef",
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/firehose-enricher-test",
            ),
            ("AWS_REGION", "eu-central-1"),
        ];
        vars.extend_from_slice(extra);
        Function::spawn(Function::command(&vars))
    }

    fn spawn(mut cmd: Command) -> Function {
        let mut child = cmd.spawn().expect("start the function");
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        Function {
            child,
            stdout: Some(thread::spawn(move || {
                BufReader::new(out).lines().map_while(Result::ok).collect()
            })),
            stderr: Some(thread::spawn(move || {
                let mut s = String::new();
                let _ = BufReader::new(err).read_to_string(&mut s);
                s
            })),
        }
    }

    /// Waits for the process to exit on its own.
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the function did not exit");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process, then returns everything it wrote.
    fn finish(mut self) -> (Vec<String>, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let out = self.stdout.take().unwrap().join().unwrap();
        let err = self.stderr.take().unwrap().join().unwrap();
        (out, err)
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn event(name: &str) -> Vec<u8> {
    let bytes = std::fs::read(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    // The Runtime API delivers the payload as sent; ours is the file's JSON
    // without its trailing newline.
    String::from_utf8(bytes).unwrap().trim().as_bytes().to_vec()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// The EMF lines among stdout's lines.
fn emf_lines(stdout: &[String]) -> Vec<Value> {
    stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

// ------------------------------------------------------------- the tests

#[test]
fn serves_batches_reports_bad_requests_and_keeps_serving() {
    let page_views = event("page-views.json");
    let failures = event("failures.json");
    let emulator = Emulator::start(vec![
        ("req-1", page_views.clone()),
        // JSON, but not a Firehose request.
        ("req-2", br#"{"hello":"world"}"#.to_vec()),
        // Not even JSON: the runtime library rejects it before our handler.
        ("req-3", b"this is not json".to_vec()),
        ("req-4", failures.clone()),
    ]);
    // A guard and a drop rule, so that SiteOther and Dropped* are not zero.
    let vars = [("MAX_SITES_PER_BATCH", "3"), ("DROP_DOMAINS", "localhost")];
    let function = Function::lambda(&emulator, &vars);
    let posted: Vec<Posted> = (0..4).map(|_| emulator.next()).collect();
    // After the last response it asks for the next invocation: still alive.
    let deadline = Instant::now() + WAIT;
    while emulator.state.next_calls.load(Ordering::SeqCst) < 5 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let (stdout, stderr) = function.finish();
    let context = format!("stderr:\n{stderr}\nstdout:\n{}", stdout.join("\n"));

    let cfg = Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let expected_1 = batch::process(&page_views, &cfg).unwrap();
    let expected_4 = batch::process(&failures, &cfg).unwrap();

    // req-1: the whole batch, exactly as the core answers it.
    assert_eq!(posted[0].path, "invocation/req-1/response", "{context}");
    assert_eq!(json(&posted[0].body), json(&expected_1.response));
    oracle::check_batch(&page_views, &cfg, &Ok(expected_1.clone()));

    // req-2: a clear error, typed for Firehose's logs.
    assert_eq!(posted[1].path, "invocation/req-2/error", "{context}");
    let error = json(&posted[1].body);
    assert_eq!(error["errorType"], "InvalidFirehoseRequest", "{error}");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("not a Firehose transformation request: missing field `records`"),
        "{message}"
    );

    // req-3: an error too, and the process lives on.
    assert_eq!(posted[2].path, "invocation/req-3/error", "{context}");
    assert!(json(&posted[2].body)["errorType"].is_string());

    // req-4: served after both errors.
    assert_eq!(posted[3].path, "invocation/req-4/response", "{context}");
    assert_eq!(json(&posted[3].body), json(&expected_4.response));
    oracle::check_batch(&failures, &cfg, &Ok(expected_4.clone()));
    assert_eq!(
        emulator.state.next_calls.load(Ordering::SeqCst),
        5,
        "{context}"
    );

    // One EMF line per processed batch, in order; a rejected request has
    // none (Lambda's own Errors metric counts it).
    let emf = emf_lines(&stdout);
    assert_eq!(emf.len(), 2, "{context}");
    for (line, (request, expected)) in emf
        .iter()
        .zip([(&page_views, &expected_1), (&failures, &expected_4)])
    {
        let r = &expected.report;
        assert_eq!(line["invocationId"], json(request)["invocationId"]);
        assert_eq!(line["FunctionName"], FUNCTION);
        let declared: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        let names = metrics::metric_names();
        assert_eq!(
            declared,
            names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
        );
        let mut want = vec![
            ("Records", r.records),
            ("RecordsOk", r.ok),
            ("RecordsDropped", r.dropped_total()),
            ("RecordsFailed", r.failed_total()),
            ("SiteOther", r.site_other),
            ("InputBytes", r.input_bytes),
            ("OutputBytes", r.output_bytes),
            ("RequestBytes", request.len()),
            ("ResponseBytes", r.response_bytes),
        ];
        let failed: Vec<(String, usize)> = firehose_enricher::record::FailReason::ALL
            .iter()
            .map(|reason| {
                let code = reason.code();
                let name: String = code
                    .split('_')
                    .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
                    .collect();
                (format!("Failed{name}"), r.failed_count(*reason))
            })
            .collect();
        want.extend(failed.iter().map(|(n, v)| (n.as_str(), *v)));
        want.push(("DroppedDomain", r.dropped_count(DropReason::Domain)));
        want.push(("DroppedBot", r.dropped_count(DropReason::Bot)));
        for (name, value) in want {
            assert_eq!(line[name], value, "{name} in {line}");
        }
        assert!(line["ProcessingTime"].as_f64().unwrap() >= 0.0);
    }
    // The counts checked are not all zero, so the test can tell a metric
    // that is written from one that is merely present.
    let (r1, r4) = (&expected_1.report, &expected_4.report);
    assert!(
        r1.site_other > 0 && r1.dropped_total() > 0 && r1.ok > 0,
        "{r1:?}"
    );
    let reasons = r4.failed.iter().filter(|n| **n > 0).count();
    assert!(reasons >= 5, "{r4:?}");
}

/// Invalid values, one per kind of variable.
const INVALID: &[(&str, &str)] = &[
    ("MAX_AGE", "30 days"),
    ("MAX_FUTURE", "-1d"),
    ("DROP_BOTS", "yes"),
    ("MAX_SITES_PER_BATCH", "many"),
    ("TIME_FIELDS", ""),
    ("URL_FIELDS", "page..url"),
    ("SITE_ALLOWLIST", "Example.COM"),
    ("DROP_DOMAINS", "*."),
    ("ENRICHMENTS", "referer"),
    ("COLUMNS", r#"[{"name":"a","type":"string"}]"#),
];

#[test]
fn invalid_values_are_invalid() {
    // Edge: the table must hold values the configuration really rejects,
    // and it must name every kind of variable (else the tests prove less).
    for (name, value) in INVALID {
        let err = Config::from_lookup(|n| (n == *name).then(|| value.to_string())).unwrap_err();
        assert_eq!(err.variable, *name);
    }
    let forms: std::collections::BTreeSet<&str> =
        config::VARIABLES.iter().map(|v| v.form).collect();
    let covered: std::collections::BTreeSet<&str> = INVALID
        .iter()
        .map(|(n, _)| {
            config::VARIABLES
                .iter()
                .find(|v| v.name == *n)
                .unwrap()
                .form
        })
        .collect();
    assert_eq!(forms, covered);
}

#[test]
fn invalid_configuration_stops_init_naming_the_variable() {
    for (name, value) in INVALID {
        let emulator = Emulator::start(vec![("req-1", event("minimal.json"))]);
        let mut function = Function::lambda(&emulator, &[(name, value)]);
        let status = function.wait();
        let (_, stderr) = function.finish();
        assert_eq!(status.code(), Some(1), "{name}={value:?}: {stderr}");
        let want = format!("firehose-enricher: invalid {name}={value:?}: expected ");
        assert!(stderr.contains(&want), "{name}: {stderr}");
        // It stopped before asking for work: no invocation is lost to it.
        assert_eq!(
            emulator.state.next_calls.load(Ordering::SeqCst),
            0,
            "{name}"
        );
        assert!(emulator.posted.try_recv().is_err(), "{name}");
    }
}

#[test]
fn invoke_cli_stops_on_invalid_configuration() {
    let file = format!("{}/events/minimal.json", env!("CARGO_MANIFEST_DIR"));
    for (name, value) in INVALID {
        let mut cmd = Function::command(&[(name, value)]);
        cmd.args(["invoke", &file]);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
        assert_eq!(
            stderr.trim_end(),
            format!(
                "firehose-enricher: {}",
                Config::from_lookup(|n| (n == *name).then(|| value.to_string())).unwrap_err()
            ),
            "{name}"
        );
    }
    // The same file with a valid configuration answers as the core does.
    let out = Function::command(&[("MAX_AGE", "365d")])
        .args(["invoke", &file])
        .output()
        .unwrap();
    assert!(out.status.success());
    let cfg = Config::from_lookup(|n| (n == "MAX_AGE").then(|| "365d".into())).unwrap();
    let expected = batch::process(&std::fs::read(&file).unwrap(), &cfg).unwrap();
    assert_eq!(json(&out.stdout), json(&expected.response));
    // And a request that is not a Firehose event is a one-line error.
    let mut cmd = Function::command(&[]);
    cmd.args(["invoke", "-"]).stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"hello":"world"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l == "firehose-enricher: not a Firehose transformation request: missing field `records` at line 1 column 17"),
        "{stderr}"
    );
}
