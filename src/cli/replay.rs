//! `replay`: files of events through the same batch path as the Lambda, into a
//! folder laid out as the delivery stream lays out S3; or, with
//! `--to-stream`, the raw events to a delivery stream (redrive, backfill).
//!
//! Inputs are read by shape: Firehose error records (`processing-failed/`)
//! and Firehose requests are replayed as the events they carry.
//!
//! The adapter part of replay: walking folders, reading and un-gzipping
//! files, buffering objects per prefix, writing them, the progress bar and
//! the summary. Splitting, prefixes, names, error documents and the
//! invocation itself are pure, in `firehose_enricher::replay`.

use super::config;
use firehose_enricher::partition::PartitionKeys;
use firehose_enricher::record::{DropReason, FailReason};
use firehose_enricher::replay::layout::{self, Layouts};
use firehose_enricher::replay::prefix::{Prefix, PrefixContext, PrefixKind};
use firehose_enricher::replay::redrive::{self, Shape};
use firehose_enricher::replay::split::{split, PieceKind};
use firehose_enricher::replay::{self as core, Answer, DecodedBatch, ErrorRecord, Event};
use firehose_enricher::Config;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The deployed stack's template: replay's defaults (layouts, buffer sizes)
/// are read from it, so that local output matches what the stack writes.
const TEMPLATE: &str = include_str!("../../template.yaml");

/// Files are buffered per prefix in memory, like Firehose's per-partition
/// buffers; past this total, the largest buffer is written early.
const MAX_BUFFERED_BYTES: usize = 512 << 20;

const MIB: f64 = 1024.0 * 1024.0;

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Files or folders (read recursively) of events: newline-delimited,
    /// concatenated (Firehose's own output) or pretty-printed JSON, plain or
    /// gzip (detected by content). Firehose error records (the error
    /// prefix's `processing-failed/` files) replay their `rawData`, and
    /// Firehose requests (`events/*.json`) their records' `data`.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    input: Vec<PathBuf>,
    /// The folder that stands in for the S3 bucket.
    #[arg(long, value_name = "DIR", required_unless_present = "to_stream")]
    out: Option<PathBuf>,
    /// Send the raw events to this delivery stream with PutRecordBatch
    /// instead of writing a folder: they go through the deployed function
    /// again (redrive after a fix, or a backfill run by Firehose and
    /// Lambda). Uses the standard AWS configuration (credentials, region,
    /// AWS_ENDPOINT_URL).
    #[arg(long, value_name = "NAME", conflicts_with = "out")]
    to_stream: Option<String>,
    /// The arrival time Firehose would have stamped: the event's own time
    /// (backfill; events without a usable time take their file's mtime), the
    /// file's modification time, or now.
    #[arg(long, value_enum, default_value_t = Arrival::Event)]
    arrival: Arrival,
    /// A layout of template.yaml (its Layout parameter's default when
    /// absent).
    #[arg(long, value_name = "NAME")]
    layout: Option<String>,
    /// Overrides the layout's Prefix (Firehose expressions allowed).
    #[arg(long, value_name = "EXPR")]
    prefix: Option<String>,
    /// Overrides the layout's ErrorOutputPrefix.
    #[arg(long, value_name = "EXPR")]
    error_prefix: Option<String>,
    /// Event bytes per invocation (default: the template's
    /// ProcessorBufferSizeMB).
    #[arg(long, value_name = "BYTES")]
    batch_bytes: Option<usize>,
    /// Uncompressed bytes per S3 object and prefix before it is written
    /// (default: the template's DeliveryBufferSizeMB).
    #[arg(long, value_name = "BYTES")]
    object_bytes: Option<usize>,
    /// Object compression (the template writes GZIP JSON).
    #[arg(long, value_enum, default_value_t = Compression::Gzip)]
    compression: Compression,
    /// The delivery stream name in object names.
    #[arg(long, default_value = "firehose-enricher-events")]
    stream_name: String,
    /// The delivery stream version in object names (1 after creation).
    #[arg(long, default_value_t = 1)]
    stream_version: u32,
    /// Threads that transform batches and compress objects (default: one
    /// per core). The output is the same whatever the number.
    #[arg(long, value_name = "N")]
    jobs: Option<std::num::NonZeroUsize>,
    /// `lambdaArn` of error records.
    #[arg(
        long,
        default_value = "arn:aws:lambda:local:000000000000:function:firehose-enricher:$LATEST"
    )]
    lambda_arn: String,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Arrival {
    Event,
    FileMtime,
    Now,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    Gzip,
    None,
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
pub(super) fn progress_bar(total: u64, template: &str) -> Result<ProgressBar, String> {
    if !std::io::stderr().is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(template).map_err(|e| e.to_string())?);
    Ok(bar)
}

/// Everything the summary reports.
#[derive(Default)]
pub(super) struct Stats {
    files: usize,
    pub(super) bad_files: Vec<String>,
    bytes_read: u64,
    bytes_decoded: u64,
    events: usize,
    /// Events read from Firehose error records and from Firehose requests.
    from_error_records: usize,
    from_requests: usize,
    not_values: [usize; 2],
    arrival_from_event: usize,
    arrival_fallback_mtime: usize,
    ok: usize,
    dropped: [usize; DropReason::ALL.len()],
    failed: [usize; FailReason::ALL.len()],
    /// Records of batches the function rejected as a whole.
    function_error_records: usize,
    batches: usize,
    data_objects: usize,
    error_objects: usize,
    partitions: BTreeSet<String>,
    bytes_written: u64,
}

impl Stats {
    /// Adds the counts of a part of the run (the reading, one invocation).
    fn add(&mut self, other: Stats) {
        let Stats {
            files,
            bad_files,
            bytes_read,
            bytes_decoded,
            events,
            from_error_records,
            from_requests,
            not_values,
            arrival_from_event,
            arrival_fallback_mtime,
            ok,
            dropped,
            failed,
            function_error_records,
            batches,
            data_objects,
            error_objects,
            partitions,
            bytes_written,
        } = other;
        self.files += files;
        self.bad_files.extend(bad_files);
        self.bytes_read += bytes_read;
        self.bytes_decoded += bytes_decoded;
        self.events += events;
        self.from_error_records += from_error_records;
        self.from_requests += from_requests;
        for (total, n) in self.not_values.iter_mut().zip(not_values) {
            *total += n;
        }
        self.arrival_from_event += arrival_from_event;
        self.arrival_fallback_mtime += arrival_fallback_mtime;
        self.ok += ok;
        for (total, n) in self.dropped.iter_mut().zip(dropped) {
            *total += n;
        }
        for (total, n) in self.failed.iter_mut().zip(failed) {
            *total += n;
        }
        self.function_error_records += function_error_records;
        self.batches += batches;
        self.data_objects += data_objects;
        self.error_objects += error_objects;
        self.partitions.extend(partitions);
        self.bytes_written += bytes_written;
    }
}

pub fn run(args: &ReplayArgs) -> Result<(), String> {
    if let Some(stream) = &args.to_stream {
        return super::to_stream::run(&args.input, stream);
    }
    let out = args
        .out
        .as_deref()
        .ok_or("replay needs --out DIR or --to-stream NAME")?;
    let started = Instant::now();
    let config = config()?;
    let settings = Settings::new(args)?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);

    let files = collect_files(&args.input, Some(out))?;
    let total: u64 = files.iter().map(|(_, len)| len).sum();
    // A fixed-width bar and no file name: the line stays under 80 columns
    // and never wraps.
    let progress = progress_bar(
        total,
        "{spinner} {elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )?;

    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, |n| n.get());
    let work = Work {
        config: &config,
        settings: &settings,
        arrival: args.arrival,
        now_ms,
        out,
    };
    let stats = pipeline(&work, jobs, |send| {
        read_batches(&files, &settings, &progress, send)
    });
    progress.finish_and_clear();
    let stats = stats?;
    if stats.events == 0 {
        eprintln!(
            "firehose-enricher: warning: the input held no events ({} read); nothing was written",
            plural(stats.files, "file")
        );
    }

    print_summary(
        args,
        out,
        &settings,
        &stats,
        started.elapsed().as_secs_f64(),
    )
    .map_err(|e| format!("cannot write stdout: {e}"))?;
    if stats.bad_files.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} input file(s) could not be read completely (see above)",
            stats.bad_files.len()
        ))
    }
}

/// The run's layout and sizes, with the template's defaults filled in.
struct Settings {
    layout_name: String,
    prefix: Prefix,
    error_prefix: Prefix,
    batch_bytes: usize,
    object_bytes: usize,
    gzip: bool,
    stream_name: String,
    stream_version: u32,
    lambda_arn: String,
}

impl Settings {
    fn new(args: &ReplayArgs) -> Result<Settings, String> {
        let layouts: Layouts =
            layout::from_template(TEMPLATE).map_err(|e| format!("template.yaml: {e}"))?;
        let name = args
            .layout
            .clone()
            .unwrap_or_else(|| layouts.default.clone());
        let chosen = layouts.get(&name).ok_or_else(|| {
            format!(
                "unknown --layout {name:?}; template.yaml has {}",
                layouts.names().join(", ")
            )
        })?;
        let prefix = args.prefix.as_deref().unwrap_or(&chosen.prefix);
        let error_prefix = args.error_prefix.as_deref().unwrap_or(&chosen.error_prefix);
        let mb_default = |parameter: &str, fallback: f64| -> usize {
            let mb = layout::parameter_default(TEMPLATE, parameter)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(fallback);
            (mb * MIB) as usize
        };
        let positive = |v: usize, flag: &str| {
            if v == 0 {
                Err(format!("--{flag} must be at least 1"))
            } else {
                Ok(v)
            }
        };
        Ok(Settings {
            layout_name: name.clone(),
            prefix: Prefix::parse(prefix, PrefixKind::Data).map_err(|e| e.to_string())?,
            error_prefix: Prefix::parse(error_prefix, PrefixKind::Error)
                .map_err(|e| e.to_string())?,
            batch_bytes: positive(
                args.batch_bytes
                    .unwrap_or_else(|| mb_default("ProcessorBufferSizeMB", 1.0)),
                "batch-bytes",
            )?,
            object_bytes: positive(
                args.object_bytes
                    .unwrap_or_else(|| mb_default("DeliveryBufferSizeMB", 64.0)),
                "object-bytes",
            )?,
            gzip: args.compression == Compression::Gzip,
            stream_name: args.stream_name.clone(),
            stream_version: args.stream_version,
            lambda_arn: args.lambda_arn.clone(),
        })
    }
}

/// Every regular file under the inputs, sorted so that runs are
/// reproducible, with its size; the output folder is never read back.
pub(super) fn collect_files(
    inputs: &[PathBuf],
    out: Option<&Path>,
) -> Result<Vec<(PathBuf, u64)>, String> {
    let out = out.and_then(|out| std::fs::canonicalize(out).ok());
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .map_err(|e| format!("cannot read --input {}: {e}", input.display()))?;
        if meta.is_dir() {
            stack.push(input.clone());
        } else {
            files.push((input.clone(), meta.len()));
        }
    }
    while let Some(dir) = stack.pop() {
        if out.is_some() && std::fs::canonicalize(&dir).ok() == out {
            continue;
        }
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            let path = entry.path();
            let meta = std::fs::metadata(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                files.push((path, meta.len()));
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// A file's bytes, un-gzipped when they start with gzip's magic number, and
/// its modification time. A damaged gzip stream yields what decoded before
/// the damage, and an error to report.
pub(super) fn read_file(path: &Path, stats: &mut Stats) -> Result<(Vec<u8>, i64), String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mtime_ms = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    stats.bytes_read += raw.len() as u64;
    let (data, damaged) = decode(path, raw);
    stats.bytes_decoded += data.len() as u64;
    if let Some(why) = damaged {
        eprintln!("firehose-enricher: {why}");
        stats.bad_files.push(why);
    }
    Ok((data, mtime_ms))
}

/// A file's bytes, un-gzipped when they start with gzip's magic number. A
/// damaged gzip stream yields what decoded before the damage, and the
/// reason to report.
pub(super) fn decode(path: &Path, raw: Vec<u8>) -> (Vec<u8>, Option<String>) {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return (raw, None);
    }
    let mut data = Vec::with_capacity(raw.len() * 4);
    // `read_to_end` keeps what it decoded before an error: those events are
    // still read, and the file is reported.
    let result = MultiGzDecoder::new(&raw[..]).read_to_end(&mut data);
    let damaged = result.err().map(|e| {
        format!(
            "{}: gzip stream damaged after {} decoded bytes ({e}); the rest of the file cannot be read",
            path.display(),
            data.len()
        )
    });
    (data, damaged)
}

/// Events read, on their way into one invocation: their bytes back to back,
/// each with its file's modification time.
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    events: Vec<(std::ops::Range<usize>, i64)>,
}

impl Batch {
    fn push(&mut self, bytes: &[u8], mtime_ms: i64) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.events.push((start..self.data.len(), mtime_ms));
    }
}

/// Reads the files in order and hands their events to `send` in batches of
/// up to `--batch-bytes` (one event over it is a batch of its own). The
/// batches depend only on the input, never on timing: the output is the
/// same whatever the number of threads. Gives the reading's counts.
fn read_batches(
    files: &[(PathBuf, u64)],
    settings: &Settings,
    progress: &ProgressBar,
    send: &mut dyn FnMut(Batch) -> bool,
) -> Stats {
    let mut stats = Stats::default();
    let mut batch = Batch::default();
    for (path, len) in files {
        stats.files += 1;
        let file_start = progress.position();
        let (data, mtime_ms) = match read_file(path, &mut stats) {
            Ok(read) => read,
            Err(why) => {
                progress.suspend(|| eprintln!("firehose-enricher: {why}"));
                stats.bad_files.push(why);
                continue;
            }
        };
        for piece in split(&data) {
            // Progress inside the file too, as the share of its decoded
            // bytes read so far, so one large file does not hold the ETA at
            // zero until its end.
            let done = piece.bytes.as_ptr() as usize - data.as_ptr() as usize + piece.bytes.len();
            progress.set_position(
                file_start + (*len as f64 * done as f64 / data.len().max(1) as f64) as u64,
            );
            match piece.kind {
                PieceKind::Value => {}
                PieceKind::Truncated => stats.not_values[0] += 1,
                PieceKind::Garbage => stats.not_values[1] += 1,
            }
            let (shape, events) = redrive::events(piece.bytes);
            match shape {
                Shape::Event => {}
                Shape::ErrorRecord => stats.from_error_records += 1,
                Shape::Request => stats.from_requests += events.len(),
            }
            for event in &events {
                stats.events += 1;
                if batch.data.len() + event.len() > settings.batch_bytes
                    && !batch.events.is_empty()
                    && !send(std::mem::take(&mut batch))
                {
                    return stats;
                }
                batch.push(event, mtime_ms);
            }
        }
        progress.set_position(file_start + len);
    }
    if !batch.events.is_empty() {
        send(batch);
    }
    stats
}

/// What every worker needs.
struct Work<'a> {
    config: &'a Config,
    settings: &'a Settings,
    arrival: Arrival,
    now_ms: i64,
    out: &'a Path,
}

enum Job {
    /// The `n`th batch, to invoke the function on.
    Invoke(u64, Batch),
    Write(Object),
}

enum Done {
    /// `None` when the invocation panicked (a bug, caught so that the
    /// collector does not wait for it forever).
    Invoked(u64, Option<Box<Invocation>>),
    /// An object written: its size on disk.
    Written(Result<u64, String>),
    /// The reader is done: how many batches it sent, and its counts.
    Read(u64, Box<Stats>),
}

/// Runs replay on `jobs` worker threads: `read` (on this thread) hands out
/// batches, the workers invoke the function on them and compress and write
/// objects, and one collector thread puts the invocations back in order
/// into the per-prefix buffers. Appending in input order is what keeps the
/// objects, their names and their contents the same for any `jobs`.
fn pipeline(
    work: &Work,
    jobs: usize,
    read: impl FnOnce(&mut dyn FnMut(Batch) -> bool) -> Stats,
) -> Result<Stats, String> {
    let jobs = jobs.max(1);
    std::thread::scope(|scope| {
        // Bounded, so that reading stays a few batches ahead of the workers.
        let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Job>(jobs * 2);
        let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
        // Unbounded, so that a worker never waits on the collector while the
        // collector waits to hand it an object: no cycle can block.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Done>();
        for _ in 0..jobs {
            let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
            scope.spawn(move || loop {
                // The lock is only held while waiting, never across a job:
                // a poisoned one still guards a sound receiver.
                let job = work_rx
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .recv();
                let Ok(job) = job else { return };
                // Each record's transform already runs under catch_unwind;
                // this catches a bug in the rest of a job, which would
                // otherwise leave the collector waiting for its result.
                let caught = |f: &mut dyn FnMut() -> Done| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
                };
                let done = match job {
                    Job::Invoke(n, batch) => {
                        let invoked =
                            caught(&mut || Done::Invoked(n, Some(Box::new(invoke(work, &batch)))));
                        invoked.unwrap_or(Done::Invoked(n, None))
                    }
                    Job::Write(object) => {
                        let mut object = Some(object);
                        let written = caught(&mut || {
                            Done::Written(match object.take() {
                                Some(object) => write_object(work, object),
                                None => Ok(0),
                            })
                        });
                        written.unwrap_or_else(|| {
                            Done::Written(Err("replay failed writing an object (a bug)".into()))
                        })
                    }
                };
                if done_tx.send(done).is_err() {
                    return;
                }
            });
        }
        drop(work_rx);
        let collector_tx = work_tx.clone();
        let collector = scope.spawn(move || collect(work, done_rx, collector_tx));
        let mut sent = 0u64;
        let stats = read(&mut |batch| {
            sent += 1;
            work_tx.send(Job::Invoke(sent - 1, batch)).is_ok()
        });
        let _ = done_tx.send(Done::Read(sent, Box::new(stats)));
        drop((work_tx, done_tx));
        collector
            .join()
            .unwrap_or_else(|_| Err("replay's collector thread failed".into()))
    })
}

/// The collector: invocations appended in batch order, full buffers handed
/// to the workers as objects, and every count summed.
fn collect(
    work: &Work,
    done: std::sync::mpsc::Receiver<Done>,
    jobs: std::sync::mpsc::SyncSender<Job>,
) -> Result<Stats, String> {
    let mut writer = Writer::new(work.settings);
    let mut stats = Stats::default();
    let mut waiting: BTreeMap<u64, Option<Box<Invocation>>> = BTreeMap::new();
    let (mut next, mut total) = (0u64, None);
    let (mut writing, mut finished) = (0usize, false);
    let mut error: Option<String> = None;
    while let Ok(message) = done.recv() {
        match message {
            Done::Invoked(n, invocation) => {
                waiting.insert(n, invocation);
                while let Some(invocation) = waiting.remove(&next) {
                    match invocation {
                        Some(invocation) => {
                            writer.append_all(&invocation);
                            stats.add(invocation.stats);
                        }
                        None => {
                            error.get_or_insert(format!("replay failed on batch {next} (a bug)"));
                        }
                    }
                    next += 1;
                }
            }
            Done::Written(Ok(bytes)) => {
                writing -= 1;
                stats.bytes_written += bytes;
            }
            Done::Written(Err(why)) => {
                writing -= 1;
                error.get_or_insert(why);
            }
            Done::Read(sent, read) => {
                total = Some(sent);
                stats.add(*read);
            }
        }
        if !finished && total == Some(next) {
            writer.finish();
            finished = true;
        }
        for object in writer.ready.drain(..) {
            match object.kind {
                Kind::Data => {
                    stats.data_objects += 1;
                    stats.partitions.insert(object.key.clone());
                }
                Kind::Error => stats.error_objects += 1,
            }
            writing += 1;
            if jobs.send(Job::Write(object)).is_err() {
                return Err("replay's workers stopped".into());
            }
        }
        if finished && writing == 0 {
            return match error {
                Some(why) => Err(why),
                None => Ok(stats),
            };
        }
    }
    Err("replay's workers stopped before the end".into())
}

/// One invocation's results, in event order: `Ok` lines in `batch.arena`,
/// error documents in `errors`.
struct Invocation {
    batch: Option<DecodedBatch>,
    errors: Vec<u8>,
    items: Vec<Item>,
    stats: Stats,
}

/// One line for an object: its prefix and where its bytes are.
struct Item {
    key: String,
    kind: Kind,
    arrival_ms: i64,
    bytes: std::ops::Range<usize>,
}

impl Invocation {
    fn bytes(&self, item: &Item) -> &[u8] {
        match (item.kind, &self.batch) {
            (Kind::Data, Some(batch)) => &batch.arena[item.bytes.clone()],
            _ => &self.errors[item.bytes.clone()],
        }
    }
}

/// One invocation of the function on a batch (a worker's job), with every
/// event's arrival time and object prefix.
fn invoke(work: &Work, batch: &Batch) -> Invocation {
    let settings = work.settings;
    let mut stats = Stats {
        batches: 1,
        ..Stats::default()
    };
    let events: Vec<Event> = batch
        .events
        .iter()
        .map(|(range, mtime_ms)| {
            let data = &batch.data[range.clone()];
            let arrival_ms = match work.arrival {
                Arrival::Now => work.now_ms,
                Arrival::FileMtime => *mtime_ms,
                Arrival::Event => match core::arrival_from_event(data, work.config, *mtime_ms) {
                    Some(ms) => {
                        stats.arrival_from_event += 1;
                        ms
                    }
                    None => {
                        stats.arrival_fallback_mtime += 1;
                        *mtime_ms
                    }
                },
            };
            Event { data, arrival_ms }
        })
        .collect();
    let mut invocation = Invocation {
        batch: None,
        errors: Vec::new(),
        items: Vec::with_capacity(events.len()),
        stats,
    };
    let decoded = match core::invoke_batch(&events, work.config) {
        Ok(decoded) => decoded,
        Err(e) => {
            // The function answered with an error: Firehose retries, then
            // writes the whole batch to the error output as
            // `Lambda.FunctionError`. Only an event too large for Firehose
            // (over 1,000 KiB) can cause this here.
            invocation.stats.function_error_records += events.len();
            let message = e.to_string();
            for event in &events {
                invocation.error(settings, event, "Lambda.FunctionError", &message);
            }
            return invocation;
        }
    };
    let r = &decoded.report;
    let stats = &mut invocation.stats;
    stats.ok += r.ok;
    for (total, n) in stats.dropped.iter_mut().zip(r.dropped) {
        *total += n;
    }
    for (total, n) in stats.failed.iter_mut().zip(r.failed) {
        *total += n;
    }
    for (event, answer) in events.iter().zip(&decoded.answers) {
        match answer {
            Answer::Ok { output, keys } => invocation.items.push(Item {
                key: eval(&settings.prefix, Some(keys), event.arrival_ms),
                kind: Kind::Data,
                arrival_ms: event.arrival_ms,
                bytes: output.clone(),
            }),
            Answer::Dropped => {}
            Answer::Failed(reason) => {
                let code = core::PROCESSING_FAILED_CODE;
                invocation.error(settings, event, code, reason.code());
            }
        }
    }
    invocation.batch = Some(decoded);
    invocation
}

impl Invocation {
    /// `event` for the error output, as a Firehose error record.
    fn error(&mut self, settings: &Settings, event: &Event, error_code: &str, message: &str) {
        let start = self.errors.len();
        core::error_record(
            &mut self.errors,
            &ErrorRecord {
                attempts_made: 1,
                arrival_ms: event.arrival_ms,
                error_code,
                error_message: message,
                // One attempt, at arrival: backfilled arrivals span years,
                // and a batch-wide time would put some attempts years after
                // their record.
                attempt_ending_ms: event.arrival_ms,
                raw: event.data,
                lambda_arn: &settings.lambda_arn,
            },
        );
        self.items.push(Item {
            key: eval(&settings.error_prefix, None, event.arrival_ms),
            kind: Kind::Error,
            arrival_ms: event.arrival_ms,
            bytes: start..self.errors.len(),
        });
    }
}

fn eval(prefix: &Prefix, keys: Option<&PartitionKeys>, arrival_ms: i64) -> String {
    prefix.eval(&PrefixContext {
        keys,
        arrival_ms,
        error_output_type: "processing-failed",
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Error,
}

/// One S3 object being filled.
struct Buffer {
    kind: Kind,
    oldest_arrival_ms: i64,
    data: Vec<u8>,
}

/// A full buffer, to compress and write.
struct Object {
    key: String,
    kind: Kind,
    oldest_arrival_ms: i64,
    data: Vec<u8>,
}

/// Per-prefix buffers; full ones (and all of them at the end) become
/// objects in `ready`.
struct Writer<'s> {
    settings: &'s Settings,
    buffers: BTreeMap<String, Buffer>,
    buffered: usize,
    ready: Vec<Object>,
}

impl<'s> Writer<'s> {
    fn new(settings: &'s Settings) -> Writer<'s> {
        Writer {
            settings,
            buffers: BTreeMap::new(),
            buffered: 0,
            ready: Vec::new(),
        }
    }

    fn append_all(&mut self, invocation: &Invocation) {
        for item in &invocation.items {
            self.append(
                &item.key,
                item.kind,
                item.arrival_ms,
                invocation.bytes(item),
            );
        }
    }

    fn append(&mut self, key: &str, kind: Kind, arrival_ms: i64, bytes: &[u8]) {
        if !self.buffers.contains_key(key) {
            self.buffers.insert(
                key.to_owned(),
                Buffer {
                    kind,
                    oldest_arrival_ms: arrival_ms,
                    data: Vec::new(),
                },
            );
        }
        let Some(buffer) = self.buffers.get_mut(key) else {
            return;
        };
        buffer.oldest_arrival_ms = buffer.oldest_arrival_ms.min(arrival_ms);
        buffer.data.extend_from_slice(bytes);
        self.buffered += bytes.len();
        if buffer.data.len() >= self.settings.object_bytes {
            self.take(key);
        }
        while self.buffered > MAX_BUFFERED_BYTES {
            let largest = self
                .buffers
                .iter()
                .max_by_key(|(_, b)| b.data.len())
                .map(|(k, _)| k.clone());
            match largest {
                Some(k) => self.take(&k),
                None => break,
            }
        }
    }

    fn finish(&mut self) {
        let keys: Vec<String> = self.buffers.keys().cloned().collect();
        for key in keys {
            self.take(&key);
        }
    }

    fn take(&mut self, key: &str) {
        let Some((key, buffer)) = self.buffers.remove_entry(key) else {
            return;
        };
        self.buffered -= buffer.data.len();
        self.ready.push(Object {
            key,
            kind: buffer.kind,
            oldest_arrival_ms: buffer.oldest_arrival_ms,
            data: buffer.data,
        });
    }
}

/// Names, compresses and writes one object (a worker's job); gives its size.
fn write_object(work: &Work, object: Object) -> Result<u64, String> {
    let s = work.settings;
    let id = core::object_id(&[object.key.as_bytes(), &object.data]);
    let name = core::object_name(
        &s.stream_name,
        s.stream_version,
        object.oldest_arrival_ms,
        &id,
        s.gzip,
    );
    let path = work.out.join(format!("{}{name}", object.key));
    let bytes = if s.gzip {
        let mut gz = GzEncoder::new(
            Vec::with_capacity(object.data.len() / 4),
            flate2::Compression::default(),
        );
        gz.write_all(&object.data)
            .and_then(|()| gz.finish())
            .map_err(|e| format!("cannot compress {}: {e}", path.display()))?
    } else {
        object.data
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(bytes.len() as u64)
}

fn print_summary(
    args: &ReplayArgs,
    dir: &Path,
    settings: &Settings,
    stats: &Stats,
    seconds: f64,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let seconds = seconds.max(1e-9);
    let failed: usize = stats.failed.iter().sum();
    let dropped: usize = stats.dropped.iter().sum();
    let reasons = |codes: &mut dyn Iterator<Item = (&'static str, usize)>| -> String {
        let list: Vec<String> = codes
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{c}={n}"))
            .collect();
        if list.is_empty() {
            String::new()
        } else {
            format!("  ({})", list.join(", "))
        }
    };
    writeln!(
        out,
        "replayed {} from {} in {}",
        plural(stats.events, "event"),
        plural(stats.files, "file"),
        plural(stats.batches, "invocation"),
    )?;
    writeln!(out, "  layout {}", settings.layout_name)?;
    writeln!(out, "  data under   {}", settings.prefix.as_str())?;
    writeln!(out, "  errors under {}", settings.error_prefix.as_str())?;
    writeln!(out, "  Ok                {:>10}", stats.ok)?;
    writeln!(
        out,
        "  Dropped           {:>10}{}",
        dropped,
        reasons(
            &mut DropReason::ALL
                .iter()
                .map(|r| (r.code(), stats.dropped[*r as usize]))
        )
    )?;
    writeln!(
        out,
        "  ProcessingFailed  {:>10}{}",
        failed,
        reasons(
            &mut FailReason::ALL
                .iter()
                .map(|r| (r.code(), stats.failed[*r as usize]))
        )
    )?;
    if stats.function_error_records > 0 {
        writeln!(
            out,
            "  Lambda.FunctionError {:>7}  (whole batches the function rejected; see the error output)",
            stats.function_error_records
        )?;
    }
    if stats.from_error_records + stats.from_requests > 0 {
        writeln!(
            out,
            "  read by shape: {} events from Firehose error records (rawData), {} from Firehose requests (records' data)",
            stats.from_error_records, stats.from_requests
        )?;
    }
    let [truncated, garbage] = stats.not_values;
    if truncated + garbage > 0 {
        writeln!(
            out,
            "  input that is not whole JSON: {truncated} truncated, {} (in the error output)",
            plural(garbage, "garbage piece")
        )?;
        writeln!(
            out,
            "    (in concatenated input a truncated record takes the records after it along,"
        )?;
        writeln!(
            out,
            "    up to where the brackets balance again: they count as one event here)"
        )?;
    }
    match args.arrival {
        Arrival::Event => writeln!(
            out,
            "  arrival time: the event's own time for {}; file mtime for {} without a usable time",
            stats.arrival_from_event, stats.arrival_fallback_mtime
        )?,
        Arrival::FileMtime => writeln!(out, "  arrival time: file mtime")?,
        Arrival::Now => writeln!(out, "  arrival time: now")?,
    }
    writeln!(
        out,
        "  written: {} in {}, {}, {:.1} MiB\n    under {}",
        plural(stats.data_objects, "data object"),
        plural(stats.partitions.len(), "partition"),
        plural(stats.error_objects, "error object"),
        stats.bytes_written as f64 / MIB,
        dir.display()
    )?;
    writeln!(
        out,
        "  read: {:.1} MiB ({:.1} MiB decompressed) in {:.2} s: {:.1} MiB/s, {:.0} events/s",
        stats.bytes_read as f64 / MIB,
        stats.bytes_decoded as f64 / MIB,
        seconds,
        stats.bytes_decoded as f64 / MIB / seconds,
        stats.events as f64 / seconds
    )?;
    Ok(())
}

/// `1 event`, `2 events`: the count with its noun, in the number it needs.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
