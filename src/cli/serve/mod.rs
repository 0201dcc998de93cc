//! `serve`: the collector on a local HTTP server. The same core as the
//! Lambda collector answers each request; accepted events go through the
//! transform with `received_at` = the local arrival time, into a folder
//! laid out as `replay` lays it out ([`sink`]). On Ctrl-C or SIGTERM it
//! stops accepting, answers the requests in flight, writes everything
//! accepted and exits.

mod sink;

use bytes::Bytes;
use firehose_enricher::collector::{self, CollectorConfig, Headers, Outcome};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The folder that stands in for the S3 bucket.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A layout of template.yaml (its Layout parameter's default when
    /// absent).
    #[arg(long, value_name = "NAME")]
    layout: Option<String>,
}

/// Shared by every connection.
struct State {
    config: CollectorConfig,
    /// `None` once shutting down.
    sink: Mutex<Option<sink::Queue>>,
    in_flight: AtomicUsize,
}

pub fn run(args: &ServeArgs) -> Result<(), String> {
    let config = super::config()?;
    let collector = CollectorConfig::from_env().map_err(|e| e.to_string())?;
    let settings = sink::Settings::new(&args.out, args.layout.as_deref())?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let layout = settings.layout_name.clone();
    let (tx, writer) = sink::start(config, settings);
    let state = Arc::new(State {
        config: collector,
        sink: Mutex::new(Some(tx)),
        in_flight: AtomicUsize::new(0),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let served = runtime.block_on(serve(args, &layout, Arc::clone(&state)));
    // Every request that was answered 2xx has handed its events over;
    // closing the queue makes the writer write what is left and stop.
    if let Ok(mut sink) = state.sink.lock() {
        sink.take();
    }
    let written = writer
        .join()
        .map_err(|_| "the writer thread failed".to_string())??;
    runtime.shutdown_timeout(Duration::from_millis(100));
    eprintln!(
        "firehose-enricher serve: {} events written ({} Ok, {} dropped, {} failed) in {} objects, {:.1} KiB, under {}",
        written.events,
        written.ok,
        written.dropped,
        written.failed,
        written.objects,
        written.bytes as f64 / 1024.0,
        args.out.display()
    );
    served
}

async fn serve(args: &ServeArgs, layout: &str, state: Arc<State>) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "firehose-enricher serve: http://{local}/collect (tracker: http://{local}/tracker.js), writing layout {layout} under {}",
        args.out.display()
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
        };
        let Ok((stream, peer)) = accepted else {
            // Out of file descriptors and the like: wait, then go on.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Answers are small and sent whole: without this, a keep-alive
        // client's next request waits on delayed ACKs (40 ms).
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(answer(request, peer, &state).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
    drop(listener);
    // Requests being read or answered get a moment to hand their events
    // over; idle keep-alive connections are not waited for.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while state.in_flight.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("firehose-enricher serve: stopping; writing what was accepted");
    Ok(())
}

/// Counts a request in flight while it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    state: &State,
) -> hyper::Response<Full<Bytes>> {
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    let _guard = InFlight(&state.in_flight);
    let arrival_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (parts, body) = request.into_parts();
    // Read at most one byte more than the cap: the core answers 413 for a
    // body over it, and the rest is never read.
    let (body, whole) = read_capped(body, state.config.max_body_bytes + 1).await;
    let get = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let request = collector::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        headers: Headers::from_fn(&state.config, get),
        body: &body,
        peer: Some(peer.ip()),
    };
    let outcome = collector::handle(&request, &state.config);
    let response = deliver(outcome, arrival_ms, state);
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(*name, value.as_ref());
    }
    if !whole {
        builder = builder.header("connection", "close");
    }
    builder
        .body(Full::new(Bytes::from(response.body.into_owned())))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// Hands the accepted events to the writer; a full queue or a writer that
/// stopped is a 503, so the client retries.
fn deliver(outcome: Outcome, arrival_ms: i64, state: &State) -> collector::Response {
    if outcome.events.is_empty() {
        return outcome.response;
    }
    let unavailable = outcome.unavailable();
    let sink = state.sink.lock().ok().and_then(|s| s.clone());
    let Some(sink) = sink else {
        return unavailable;
    };
    let arrived = sink::Arrived {
        events: outcome.events,
        arrival_ms,
    };
    if sink.push(arrived) {
        outcome.response
    } else {
        unavailable
    }
}

/// The body's first `cap` bytes, and whether that was all of it.
async fn read_capped(mut body: Incoming, cap: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return (out, false);
        };
        if let Ok(data) = frame.into_data() {
            let room = cap - out.len();
            if data.len() >= room {
                out.extend_from_slice(&data[..room]);
                return (out, false);
            }
            out.extend_from_slice(&data);
        }
    }
    (out, true)
}
