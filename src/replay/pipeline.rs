//! `replay` over files: read in order, invoked in parallel, written in
//! order, so that the objects, their names and their contents are the same
//! whatever the number of threads.
//!
//! The calling thread reads the files and cuts their events into batches of
//! `batch_bytes` (the processor buffer); worker threads invoke the function
//! on batches and compress and write objects; one collector thread puts the
//! invocations back in input order into the [`Writer`]'s per-prefix buffers.

use super::input::{self, ReadStats};
use super::sink::{self, Counts, Destination, Invocation, Object, Writer, Written};
use super::{arrival_from_event, Event};
use crate::Config;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};

/// The arrival time Firehose would have stamped on each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The event's own time (backfill); its file's mtime when it has none.
    Event,
    FileMtime,
    /// `Options::now_ms`.
    Now,
}

/// One run's settings.
#[derive(Debug)]
pub struct Options<'a> {
    pub config: &'a Config,
    pub dest: &'a Destination,
    /// Event bytes per invocation (one event over it is a batch of its own).
    pub batch_bytes: usize,
    pub arrival: Arrival,
    pub now_ms: i64,
    /// The folder that stands in for the bucket.
    pub out: &'a Path,
    /// Worker threads (at least one).
    pub jobs: usize,
}

/// What a run counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub read: ReadStats,
    pub counts: Counts,
    pub arrival_from_event: usize,
    pub arrival_fallback_mtime: usize,
    pub written: Written,
}

impl Stats {
    /// Records read, request records without `data` among them.
    pub fn records(&self) -> usize {
        self.read.events + self.read.without_data
    }

    /// Records the function failed, request records without `data` (which
    /// it fails as `missing_data`) among them.
    pub fn failed(&self) -> usize {
        self.counts.failed_total() + self.read.without_data
    }

    /// `(reason, count)` of every failure, `missing_data` counting request
    /// records without `data`.
    pub fn fail_reasons(&self) -> Vec<(&'static str, usize)> {
        let mut reasons = self.counts.fail_reasons();
        for (code, n) in &mut reasons {
            if *code == "missing_data" {
                *n += self.read.without_data;
            }
        }
        reasons
    }
}

/// Told how reading goes, for a progress bar.
pub trait Progress {
    /// Input bytes read so far (of the files' sizes on disk).
    fn position(&self, _bytes: u64) {}
    /// A file that could not be read completely; it is also in the
    /// stats' `bad_files`.
    fn warn(&self, _message: &str) {}
}

/// No progress to show.
pub struct Quiet;
impl Progress for Quiet {}

/// Replays `files` (as [`input::collect_files`] lists them) into
/// `options.out`.
pub fn run(
    options: &Options,
    files: &[(PathBuf, u64)],
    progress: &dyn Progress,
) -> Result<Stats, String> {
    let jobs = options.jobs.max(1);
    std::thread::scope(|scope| {
        // Bounded, so that reading stays a few batches ahead of the workers.
        let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Job>(jobs * 2);
        let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
        // Unbounded, so that a worker never waits on the collector while the
        // collector waits to hand it an object: no cycle can block.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Done>();
        for _ in 0..jobs {
            let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
            scope.spawn(move || worker(options, &work_rx, &done_tx));
        }
        drop(work_rx);
        let collector_tx = work_tx.clone();
        let collector = scope.spawn(move || collect(options, done_rx, collector_tx));
        let mut sent = 0u64;
        let stats = read_batches(files, options, progress, &mut |batch| {
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

/// Reads the files in order and hands their events to `send` in batches.
/// The batches depend only on the input, never on timing. Gives the
/// reading's counts.
fn read_batches(
    files: &[(PathBuf, u64)],
    options: &Options,
    progress: &dyn Progress,
    send: &mut dyn FnMut(Batch) -> bool,
) -> Stats {
    let mut stats = Stats::default();
    let read = &mut stats.read;
    let mut batch = Batch::default();
    let mut position = 0u64;
    for (path, len) in files {
        read.files += 1;
        let file = match input::read_file(path, read) {
            Ok(file) => file,
            Err(why) => {
                progress.warn(&why);
                read.bad_files.push(why);
                position += len;
                continue;
            }
        };
        if let Some(why) = &file.damaged {
            progress.warn(why);
        }
        let decoded = file.data.len().max(1) as f64;
        let going = input::events(&file.data, read, |event, end| {
            // Progress inside the file too, as the share of its decoded
            // bytes read so far, so one large file does not hold the ETA at
            // zero until its end.
            progress.position(position + (*len as f64 * end as f64 / decoded) as u64);
            if batch.data.len() + event.len() > options.batch_bytes
                && !batch.events.is_empty()
                && !send(std::mem::take(&mut batch))
            {
                return false;
            }
            batch.push(event, file.mtime_ms);
            true
        });
        if !going {
            return stats;
        }
        position += len;
        progress.position(position);
    }
    if !batch.events.is_empty() {
        send(batch);
    }
    stats
}

enum Job {
    /// The `n`th batch, to invoke the function on.
    Invoke(u64, Batch),
    Write(Object),
}

enum Done {
    /// `None` when the invocation panicked (a bug, caught so that the
    /// collector does not wait for it forever).
    Invoked(u64, Option<Box<Invoked>>),
    /// An object written: its size on disk.
    Written(Result<u64, String>),
    /// The reader is done: how many batches it sent, and its counts.
    Read(u64, Box<Stats>),
}

/// An invocation, and how its events' arrival times were found.
struct Invoked {
    invocation: Invocation,
    from_event: usize,
    fallback_mtime: usize,
}

fn worker(
    options: &Options,
    jobs: &std::sync::Mutex<Receiver<Job>>,
    done: &std::sync::mpsc::Sender<Done>,
) {
    loop {
        // The lock is only held while waiting, never across a job: a
        // poisoned one still guards a sound receiver.
        let job = jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(job) = job else { return };
        // Each record's transform already runs under catch_unwind; this
        // catches a bug in the rest of a job, which would otherwise leave
        // the collector waiting for its result.
        let caught = |f: &mut dyn FnMut() -> Done| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
        };
        let result = match job {
            Job::Invoke(n, batch) => {
                caught(&mut || Done::Invoked(n, Some(Box::new(invoke(options, &batch)))))
                    .unwrap_or(Done::Invoked(n, None))
            }
            Job::Write(object) => {
                let mut object = Some(object);
                caught(&mut || {
                    Done::Written(match object.take() {
                        Some(object) => sink::write_object(options.out, options.dest, object),
                        None => Ok(0),
                    })
                })
                .unwrap_or_else(|| {
                    Done::Written(Err("replay failed writing an object (a bug)".into()))
                })
            }
        };
        if done.send(result).is_err() {
            return;
        }
    }
}

/// One invocation of the function on a batch, each event's arrival time
/// chosen as `options.arrival` says.
fn invoke(options: &Options, batch: &Batch) -> Invoked {
    let (mut from_event, mut fallback_mtime) = (0, 0);
    let events: Vec<Event> = batch
        .events
        .iter()
        .map(|(range, mtime_ms)| {
            let data = &batch.data[range.clone()];
            let arrival_ms = match options.arrival {
                Arrival::Now => options.now_ms,
                Arrival::FileMtime => *mtime_ms,
                Arrival::Event => match arrival_from_event(data, options.config, *mtime_ms) {
                    Some(ms) => {
                        from_event += 1;
                        ms
                    }
                    None => {
                        fallback_mtime += 1;
                        *mtime_ms
                    }
                },
            };
            Event { data, arrival_ms }
        })
        .collect();
    Invoked {
        invocation: sink::invoke(&events, options.config, options.dest),
        from_event,
        fallback_mtime,
    }
}

/// The collector: invocations appended in batch order, full buffers handed
/// to the workers as objects, and every count summed.
fn collect(
    options: &Options,
    done: Receiver<Done>,
    jobs: SyncSender<Job>,
) -> Result<Stats, String> {
    let mut writer = Writer::new(options.dest.object_bytes);
    let mut stats = Stats::default();
    let mut waiting: BTreeMap<u64, Option<Box<Invoked>>> = BTreeMap::new();
    let (mut next, mut total) = (0u64, None);
    let (mut writing, mut finished) = (0usize, false);
    let mut error: Option<String> = None;
    while let Ok(message) = done.recv() {
        match message {
            Done::Invoked(n, invoked) => {
                waiting.insert(n, invoked);
                while let Some(invoked) = waiting.remove(&next) {
                    match invoked {
                        Some(invoked) => {
                            writer.append_all(&invoked.invocation);
                            stats.counts.add(&invoked.invocation.counts);
                            stats.arrival_from_event += invoked.from_event;
                            stats.arrival_fallback_mtime += invoked.fallback_mtime;
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
                stats.written.bytes += bytes;
            }
            Done::Written(Err(why)) => {
                writing -= 1;
                error.get_or_insert(why);
            }
            Done::Read(sent, read) => {
                total = Some(sent);
                let Stats {
                    read,
                    counts,
                    arrival_from_event,
                    arrival_fallback_mtime,
                    written,
                } = *read;
                stats.read.add(read);
                stats.counts.add(&counts);
                stats.arrival_from_event += arrival_from_event;
                stats.arrival_fallback_mtime += arrival_fallback_mtime;
                stats.written.add(written);
            }
        }
        if !finished && total == Some(next) {
            writer.flush();
            finished = true;
        }
        for object in writer.take_ready() {
            stats.written.count(&object);
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
