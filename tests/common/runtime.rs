//! The project's Lambda Runtime API emulator on the loopback interface, and
//! the real binary run under it: shared by the runtime and re-ingestion
//! tests.
//!
//! The emulator is a minimal HTTP/1.1 server written here (keep-alive,
//! Content-Length or chunked bodies): the Runtime API is four routes, and
//! doing it by hand keeps the tests free of a server framework and in full
//! control of timing.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_firehose-enricher");
pub const FUNCTION: &str = "firehose-enricher-test";
/// Generous: the machine may be slow and busy. Nothing waits this long
/// unless something is broken.
pub const WAIT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------- emulator

/// What the function posted to the Runtime API.
#[derive(Debug)]
pub struct Posted {
    pub path: String,
    pub body: Vec<u8>,
}

#[derive(Default)]
pub struct State {
    invocations: Mutex<VecDeque<(String, Vec<u8>)>>,
    ready: Condvar,
    pub next_calls: AtomicUsize,
    /// How long each invocation may run (its `Lambda-Runtime-Deadline-Ms`).
    deadline: Mutex<Duration>,
}

pub struct Emulator {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    pub posted: mpsc::Receiver<Posted>,
}

impl Emulator {
    pub fn start(invocations: Vec<(&str, Vec<u8>)>) -> Emulator {
        Emulator::with_deadline(invocations, Duration::from_secs(300))
    }

    /// Invocations that may each run `deadline` (Firehose allows 300 s).
    pub fn with_deadline(invocations: Vec<(&str, Vec<u8>)>, deadline: Duration) -> Emulator {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        *state.deadline.lock().unwrap() = deadline;
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

    pub fn next(&self) -> Posted {
        self.posted
            .recv_timeout(WAIT)
            .expect("the function posted nothing in time")
    }
}

pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body).
pub fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let (mut length, mut chunked) = (0usize, false);
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
        headers.push((name, value.trim().to_owned()));
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
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// Writes one HTTP/1.1 response; false when the peer has gone.
pub fn respond(w: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) -> bool {
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
    // Answers are written as two pieces (head, body): without NODELAY the
    // function's next request can wait 40 ms on a delayed ACK, and small
    // invocations would be timed by the network stack, not the function.
    let _ = stream.set_nodelay(true);
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
                    + state.deadline.lock().unwrap().as_millis();
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
pub struct Function {
    child: Child,
    stdout: Option<JoinHandle<Vec<String>>>,
    stderr: Option<JoinHandle<String>>,
}

impl Function {
    pub fn command(vars: &[(&str, &str)]) -> Command {
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

    pub fn lambda(emulator: &Emulator, extra: &[(&str, &str)]) -> Function {
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

    pub fn spawn(mut cmd: Command) -> Function {
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
    pub fn wait(&mut self) -> ExitStatus {
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
    pub fn finish(mut self) -> (Vec<String>, String) {
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
