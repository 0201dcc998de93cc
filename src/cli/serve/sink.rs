//! Where `serve` puts accepted events: through the transform (the same
//! batch path as the Lambda and `replay`) and into a folder laid out as the
//! delivery stream lays out S3, in replay's object format (GZIP JSON lines,
//! Firehose's object names, error documents under the error prefix).
//!
//! The writing is replay's own [`Sink`]: the layouts of template.yaml, the
//! prefixes, one invocation per chunk, error documents, object names and
//! GZIP, so that `serve` and `replay` cannot drift apart.
//!
//! A writer thread takes what the HTTP side accepted from a bounded queue
//! and writes it at least every [`FLUSH_INTERVAL`], so an accepted event is
//! on disk within a second. When every sender is gone (shutdown), it writes
//! what is left and returns.

use firehose_enricher::collector::Events;
use firehose_enricher::replay::sink::{Destination, DestinationOptions, Sink};
use firehose_enricher::replay::{self, Event};
use firehose_enricher::Config;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Accepted events wait at most this long before they are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Events per invocation of the transform, as Firehose's processor buffer
/// (ProcessorBufferSizeMB's default, 1 MB).
const INVOCATION_BYTES: usize = 1 << 20;
/// Events waiting for the writer; beyond this the collector answers 503.
/// Counted in events, not requests: the writer drains nothing while it
/// transforms and writes a flush, so a queue of requests filled during one
/// long flush answered 503 under a load the writer keeps up with on
/// average (measured: half the requests of 10 events at 8 clients). About
/// 60 MB of events of 300 bytes.
pub const MAX_QUEUED_EVENTS: usize = 200_000;

/// One request's accepted events and when they arrived.
pub struct Arrived {
    pub events: Events,
    pub arrival_ms: i64,
}

/// Where and how objects are written: replay's sink into `out`, with the
/// template's layout (`layout_name`, or its default).
pub struct Settings {
    pub layout_name: String,
    sink: Sink,
}

impl Settings {
    pub fn new(out: &Path, layout_name: Option<&str>) -> Result<Settings, String> {
        let dest = Destination::new(&DestinationOptions {
            layout: layout_name.map(str::to_owned),
            ..DestinationOptions::default()
        })?;
        Ok(Settings {
            layout_name: dest.layout_name.clone(),
            sink: Sink::new(out.to_path_buf(), dest),
        })
    }
}

/// What the writer did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub events: usize,
    pub ok: usize,
    pub dropped: usize,
    pub failed: usize,
    pub objects: usize,
    pub bytes: u64,
}

/// The writer's queue: events handed over, counted until written.
#[derive(Clone)]
pub struct Queue {
    tx: Sender<Arrived>,
    queued: Arc<AtomicUsize>,
}

impl Queue {
    /// Hands `arrived` to the writer; `false` (answer 503) when the queue
    /// is full or the writer has stopped.
    pub fn push(&self, arrived: Arrived) -> bool {
        let n = arrived.events.len();
        let before = self.queued.fetch_add(n, Ordering::SeqCst);
        if before + n > MAX_QUEUED_EVENTS || self.tx.send(arrived).is_err() {
            self.queued.fetch_sub(n, Ordering::SeqCst);
            return false;
        }
        true
    }
}

/// Starts the writer thread.
pub fn start(
    config: Config,
    settings: Settings,
) -> (Queue, std::thread::JoinHandle<Result<Written, String>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&queued);
    let handle = std::thread::Builder::new()
        .name("serve-writer".into())
        .spawn(move || run(&rx, &counter, &config, settings))
        .expect("start the writer thread");
    (Queue { tx, queued }, handle)
}

fn run(
    rx: &Receiver<Arrived>,
    queued: &AtomicUsize,
    config: &Config,
    mut settings: Settings,
) -> Result<Written, String> {
    let mut written = Written::default();
    let mut pending: Vec<Arrived> = Vec::new();
    let mut since: Option<Instant> = None;
    let mut error: Option<String> = None;
    // The first user agent builds the user-agent parser (uap-core's
    // regexes, a fraction of a second in a release build): built here,
    // before the first request, so that the first event is written as
    // soon as the rest.
    let warm = br#"{"url":"https://example.com/","user_agent":"Mozilla/5.0 (X11; Linux x86_64)"}"#;
    let _ = replay::invoke_batch(
        &[Event {
            data: warm,
            arrival_ms: 0,
        }],
        config,
    );
    loop {
        let wait = since.map_or(FLUSH_INTERVAL, |t| {
            FLUSH_INTERVAL.saturating_sub(t.elapsed())
        });
        let open = match rx.recv_timeout(wait) {
            Ok(arrived) => {
                since.get_or_insert_with(Instant::now);
                pending.push(arrived);
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        };
        let due = since.is_some_and(|t| t.elapsed() >= FLUSH_INTERVAL);
        if (due || !open) && !pending.is_empty() {
            // A failed write is reported, and the writer goes on: the next
            // objects may well be written (a full disk frees up).
            if let Err(e) = flush(&pending, config, &mut settings.sink, &mut written) {
                eprintln!("firehose-enricher serve: {e}");
                error = Some(e);
            }
            let events: usize = pending.iter().map(|a| a.events.len()).sum();
            queued.fetch_sub(events, Ordering::SeqCst);
            pending.clear();
            since = None;
        }
        if !open {
            return match error {
                Some(e) => Err(e),
                None => Ok(written),
            };
        }
    }
}

/// Runs `pending` through the transform and writes one object per prefix.
fn flush(
    pending: &[Arrived],
    config: &Config,
    sink: &mut Sink,
    written: &mut Written,
) -> Result<(), String> {
    let events: Vec<Event> = pending
        .iter()
        .flat_map(|a| {
            a.events.iter().map(|data| Event {
                data,
                arrival_ms: a.arrival_ms,
            })
        })
        .collect();
    let before = (
        sink.written().data_objects + sink.written().error_objects,
        sink.written().bytes,
    );
    let mut first_error = None;
    for chunk in invocations(&events) {
        written.events += chunk.len();
        match sink.put(chunk, config) {
            Ok(counts) => {
                written.ok += counts.ok;
                written.dropped += counts.dropped_total();
                written.failed += counts.failed_total() + counts.function_error_records;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Err(e) = sink.flush() {
        first_error.get_or_insert(e);
    }
    let after = sink.written();
    written.objects += after.data_objects + after.error_objects - before.0;
    written.bytes += after.bytes - before.1;
    first_error.map_or(Ok(()), Err)
}

/// The events in invocations of up to [`INVOCATION_BYTES`] (an event over
/// it is an invocation of its own).
fn invocations<'e, 'a>(events: &'e [Event<'a>]) -> Vec<&'e [Event<'a>]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, e) in events.iter().enumerate() {
        if i > start && bytes + e.data.len() > INVOCATION_BYTES {
            out.push(&events[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += e.data.len();
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}
