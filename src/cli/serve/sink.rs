//! Where `serve` puts accepted events: through the transform (the same
//! batch path as the Lambda and `replay`) and into a folder laid out as the
//! delivery stream lays out S3, in replay's object format (GZIP JSON lines,
//! Firehose's object names, error documents under the error prefix).
//!
//! The narrow interface to replay's output, kept in one place: the layouts
//! of template.yaml ([`layout::from_template`]), the prefixes
//! ([`Prefix::eval`]), one invocation ([`replay::invoke_batch`]), and the
//! object's name and bytes ([`replay::object_name`], [`replay::object_id`],
//! [`replay::error_record`]); [`write_object`] writes an object as replay's
//! writer does.
//!
//! A writer thread takes what the HTTP side accepted from a bounded queue
//! and writes it at least every [`FLUSH_INTERVAL`], so an accepted event is
//! on disk within a second. When every sender is gone (shutdown), it writes
//! what is left and returns.

use firehose_enricher::collector::Events;
use firehose_enricher::partition::PartitionKeys;
use firehose_enricher::replay::layout;
use firehose_enricher::replay::prefix::{Prefix, PrefixContext, PrefixKind};
use firehose_enricher::replay::{self, Answer, ErrorRecord, Event};
use firehose_enricher::Config;
use flate2::write::GzEncoder;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The deployed stack's template: the layouts come from it, so local
/// output matches what the stack writes.
const TEMPLATE: &str = include_str!("../../../template.yaml");

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

/// Where and how objects are written.
pub struct Settings {
    pub out: PathBuf,
    pub layout_name: String,
    pub prefix: Prefix,
    pub error_prefix: Prefix,
    pub stream_name: String,
    pub lambda_arn: String,
}

impl Settings {
    pub fn new(out: &Path, layout_name: Option<&str>) -> Result<Settings, String> {
        let layouts = layout::from_template(TEMPLATE).map_err(|e| format!("template.yaml: {e}"))?;
        let name = layout_name.unwrap_or(&layouts.default).to_owned();
        let chosen = layouts.get(&name).ok_or_else(|| {
            format!(
                "unknown --layout {name:?}; template.yaml has {}",
                layouts.names().join(", ")
            )
        })?;
        Ok(Settings {
            out: out.to_path_buf(),
            prefix: Prefix::parse(&chosen.prefix, PrefixKind::Data).map_err(|e| e.to_string())?,
            error_prefix: Prefix::parse(&chosen.error_prefix, PrefixKind::Error)
                .map_err(|e| e.to_string())?,
            layout_name: name,
            stream_name: "firehose-enricher-events".into(),
            lambda_arn: "arn:aws:lambda:local:000000000000:function:firehose-enricher:$LATEST"
                .into(),
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
        .spawn(move || run(&rx, &counter, &config, &settings))
        .expect("start the writer thread");
    (Queue { tx, queued }, handle)
}

fn run(
    rx: &Receiver<Arrived>,
    queued: &AtomicUsize,
    config: &Config,
    settings: &Settings,
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
            if let Err(e) = flush(&pending, config, settings, &mut written) {
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

/// One object being filled.
struct Buffer {
    oldest_ms: i64,
    data: Vec<u8>,
}

/// Runs `pending` through the transform and writes one object per prefix.
fn flush(
    pending: &[Arrived],
    config: &Config,
    settings: &Settings,
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
    let mut buffers: BTreeMap<String, Buffer> = BTreeMap::new();
    let mut append = |key: String, arrival_ms: i64, bytes: &[u8]| {
        let buffer = buffers.entry(key).or_insert_with(|| Buffer {
            oldest_ms: arrival_ms,
            data: Vec::new(),
        });
        buffer.oldest_ms = buffer.oldest_ms.min(arrival_ms);
        buffer.data.extend_from_slice(bytes);
    };
    let eval = |prefix: &Prefix, keys: Option<&PartitionKeys>, arrival_ms| {
        prefix.eval(&PrefixContext {
            keys,
            arrival_ms,
            error_output_type: "processing-failed",
        })
    };
    let error_doc =
        |event: &Event, code: &str, message: &str, append: &mut dyn FnMut(String, i64, &[u8])| {
            let mut doc = Vec::new();
            replay::error_record(
                &mut doc,
                &ErrorRecord {
                    attempts_made: 1,
                    arrival_ms: event.arrival_ms,
                    error_code: code,
                    error_message: message,
                    attempt_ending_ms: event.arrival_ms,
                    raw: event.data,
                    lambda_arn: &settings.lambda_arn,
                },
            );
            append(
                eval(&settings.error_prefix, None, event.arrival_ms),
                event.arrival_ms,
                &doc,
            );
        };
    for chunk in invocations(&events) {
        written.events += chunk.len();
        match replay::invoke_batch(chunk, config) {
            Ok(decoded) => {
                for (event, answer) in chunk.iter().zip(&decoded.answers) {
                    match answer {
                        Answer::Ok { output, keys } => {
                            written.ok += 1;
                            let key = eval(&settings.prefix, Some(keys), event.arrival_ms);
                            append(key, event.arrival_ms, &decoded.arena[output.clone()]);
                        }
                        Answer::Dropped => written.dropped += 1,
                        Answer::Failed(reason) => {
                            written.failed += 1;
                            error_doc(
                                event,
                                replay::PROCESSING_FAILED_CODE,
                                reason.code(),
                                &mut append,
                            );
                        }
                    }
                }
            }
            Err(e) => {
                written.failed += chunk.len();
                let message = e.to_string();
                for event in chunk {
                    error_doc(event, "Lambda.FunctionError", &message, &mut append);
                }
            }
        }
    }
    let mut first_error = None;
    for (key, buffer) in buffers {
        match write_object(settings, &key, buffer.oldest_ms, &buffer.data) {
            Ok(bytes) => {
                written.objects += 1;
                written.bytes += bytes;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
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

/// Names, compresses and writes one object as replay does (GZIP, Firehose's
/// object name under its prefix); gives its size. The object appears whole:
/// it is written under a dot-name that readers skip, then renamed.
pub fn write_object(
    settings: &Settings,
    key: &str,
    oldest_ms: i64,
    data: &[u8],
) -> Result<u64, String> {
    let id = replay::object_id(&[key.as_bytes(), data]);
    let name = replay::object_name(&settings.stream_name, 1, oldest_ms, &id, true);
    let path = settings.out.join(format!("{key}{name}"));
    let mut gz = GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::default(),
    );
    let bytes = gz
        .write_all(data)
        .and_then(|()| gz.finish())
        .map_err(|e| format!("cannot compress {}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(&settings.out);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let temp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temp, &bytes)
        .and_then(|()| std::fs::rename(&temp, &path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(bytes.len() as u64)
}
