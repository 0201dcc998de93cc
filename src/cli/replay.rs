//! `replay`: files of events through the same batch path as the Lambda, into a
//! folder laid out as the delivery stream lays out S3; or, with
//! `--to-stream`, the raw events to a delivery stream (redrive, backfill).
//!
//! The adapter: arguments, the progress bar, and printing. Reading,
//! invoking, buffering and writing are in `firehose_enricher::replay`.

use super::{config, print, progress_bar};
use firehose_enricher::replay::input::{self, check_events};
use firehose_enricher::replay::pipeline::{self, Options, Progress};
use firehose_enricher::replay::sink::{self, Destination, DestinationOptions};
use firehose_enricher::replay::summary::{self, plural};
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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

impl From<Arrival> for pipeline::Arrival {
    fn from(a: Arrival) -> Self {
        match a {
            Arrival::Event => pipeline::Arrival::Event,
            Arrival::FileMtime => pipeline::Arrival::FileMtime,
            Arrival::Now => pipeline::Arrival::Now,
        }
    }
}

/// The progress bar, told by the pipeline how reading goes.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn position(&self, bytes: u64) {
        self.0.set_position(bytes);
    }
    fn warn(&self, message: &str) {
        self.0.suspend(|| eprintln!("firehose-enricher: {message}"));
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
    let dest = Destination::new(&DestinationOptions {
        layout: args.layout.clone(),
        prefix: args.prefix.clone(),
        error_prefix: args.error_prefix.clone(),
        object_bytes: args.object_bytes,
        gzip: args.compression == Compression::Gzip,
        stream_name: args.stream_name.clone(),
        stream_version: args.stream_version,
        lambda_arn: args.lambda_arn.clone(),
    })?;
    let batch_bytes = args
        .batch_bytes
        .unwrap_or_else(|| sink::template_mb("ProcessorBufferSizeMB", 1.0));
    if batch_bytes == 0 {
        return Err("--batch-bytes must be at least 1".into());
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);

    let files = input::collect_files(&args.input, Some(out))?;
    let total: u64 = files.iter().map(|(_, len)| len).sum();
    // A fixed-width bar and no file name: the line stays under 80 columns
    // and never wraps.
    let bar = Bar(progress_bar(
        total,
        "{spinner} {elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )?);
    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, |n| n.get());
    let options = Options {
        config: &config,
        dest: &dest,
        batch_bytes,
        arrival: args.arrival.into(),
        now_ms,
        out,
        jobs,
    };
    let stats = pipeline::run(&options, &files, &bar);
    bar.0.finish_and_clear();
    let stats = stats?;
    if stats.records() == 0 {
        eprintln!(
            "firehose-enricher: warning: the input held no events ({} read); nothing was written",
            plural(stats.read.files, "file")
        );
    }
    let text = summary::render(
        &stats,
        &dest,
        options.arrival,
        out,
        started.elapsed().as_secs_f64(),
    );
    print(&text)?;
    check_events(&stats.read)?;
    if stats.read.bad_files.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} input file(s) could not be read completely (see above)",
            stats.read.bad_files.len()
        ))
    }
}
