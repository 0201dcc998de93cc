//! Events in, a folder laid out like the delivery stream's S3 bucket out.
//!
//! * [`Destination`]: what the stack's S3 destination decides (prefixes,
//!   object size, compression, object names), with `template.yaml`'s
//!   defaults;
//! * [`invoke`]: one batch of events through the function, each answer
//!   given its object prefix, failed records made Firehose error documents;
//! * [`Writer`]: per-prefix buffers that become [`Object`]s when full, or
//!   when flushed (pure: no IO);
//! * [`write_object`]: names, compresses and writes one object;
//! * [`Sink`]: the three together, for a caller that receives events over
//!   time (a local collector) rather than reading files: `put` batches as
//!   they come, `flush` on a timer and at shutdown.
//!
//! `replay` uses the same parts on several threads (the `pipeline` module).

use super::layout::{self, Layouts};
use super::prefix::{Prefix, PrefixContext, PrefixKind};
use super::{error_record, invoke_batch, object_id, object_name, Answer, DecodedBatch};
use super::{ErrorRecord, Event, PROCESSING_FAILED_CODE};
use crate::partition::PartitionKeys;
use crate::record::{DropReason, FailReason};
use crate::Config;
use flate2::write::GzEncoder;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The deployed stack's template: the defaults (layouts, buffer sizes) are
/// read from it, so that local output matches what the stack writes.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// Buffers are kept per prefix in memory, like Firehose's per-partition
/// buffers; past this total, the largest buffer is written early.
pub const MAX_BUFFERED_BYTES: usize = 512 << 20;

const MIB: f64 = 1024.0 * 1024.0;

/// A `*SizeMB` parameter's default in `template.yaml`, in bytes (`fallback`
/// MB when the template has none).
pub fn template_mb(parameter: &str, fallback: f64) -> usize {
    let mb = layout::parameter_default(TEMPLATE, parameter)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(fallback);
    (mb * MIB) as usize
}

/// What is asked of a [`Destination`]; `None` takes the template's value.
#[derive(Debug, Clone)]
pub struct DestinationOptions {
    /// A layout of template.yaml (its `Layout` parameter's default).
    pub layout: Option<String>,
    /// Overrides the layout's `Prefix` (Firehose expressions allowed).
    pub prefix: Option<String>,
    /// Overrides the layout's `ErrorOutputPrefix`.
    pub error_prefix: Option<String>,
    /// Uncompressed bytes per object and prefix (`DeliveryBufferSizeMB`).
    pub object_bytes: Option<usize>,
    pub gzip: bool,
    pub stream_name: String,
    pub stream_version: u32,
    /// `lambdaArn` of error documents.
    pub lambda_arn: String,
}

impl Default for DestinationOptions {
    fn default() -> Self {
        DestinationOptions {
            layout: None,
            prefix: None,
            error_prefix: None,
            object_bytes: None,
            gzip: true,
            stream_name: "firehose-enricher-events".into(),
            stream_version: 1,
            lambda_arn: "arn:aws:lambda:local:000000000000:function:firehose-enricher:$LATEST"
                .into(),
        }
    }
}

/// The S3 destination as the stack configures it.
#[derive(Debug, Clone)]
pub struct Destination {
    pub layout_name: String,
    pub prefix: Prefix,
    pub error_prefix: Prefix,
    pub object_bytes: usize,
    pub gzip: bool,
    pub stream_name: String,
    pub stream_version: u32,
    pub lambda_arn: String,
}

impl Destination {
    /// `options` over template.yaml's defaults; an unknown layout, a bad
    /// prefix or a zero size is an error naming the option.
    pub fn new(options: &DestinationOptions) -> Result<Destination, String> {
        let layouts: Layouts =
            layout::from_template(TEMPLATE).map_err(|e| format!("template.yaml: {e}"))?;
        let name = options
            .layout
            .clone()
            .unwrap_or_else(|| layouts.default.clone());
        let chosen = layouts.get(&name).ok_or_else(|| {
            format!(
                "unknown --layout {name:?}; template.yaml has {}",
                layouts.names().join(", ")
            )
        })?;
        let prefix = options.prefix.as_deref().unwrap_or(&chosen.prefix);
        let error_prefix = options
            .error_prefix
            .as_deref()
            .unwrap_or(&chosen.error_prefix);
        let object_bytes = options
            .object_bytes
            .unwrap_or_else(|| template_mb("DeliveryBufferSizeMB", 64.0));
        if object_bytes == 0 {
            return Err("--object-bytes must be at least 1".into());
        }
        Ok(Destination {
            layout_name: name.clone(),
            prefix: Prefix::parse(prefix, PrefixKind::Data).map_err(|e| e.to_string())?,
            error_prefix: Prefix::parse(error_prefix, PrefixKind::Error)
                .map_err(|e| e.to_string())?,
            object_bytes,
            gzip: options.gzip,
            stream_name: options.stream_name.clone(),
            stream_version: options.stream_version,
            lambda_arn: options.lambda_arn.clone(),
        })
    }

    /// An object's path under the bucket: its prefix and Firehose's name.
    /// The same key and bytes always give the same path.
    pub fn object_path(&self, object: &Object) -> String {
        let id = object_id(&[object.key.as_bytes(), &object.data]);
        let name = object_name(
            &self.stream_name,
            self.stream_version,
            object.oldest_arrival_ms,
            &id,
            self.gzip,
        );
        format!("{}{name}", object.key)
    }

    fn eval(&self, kind: Kind, keys: Option<&PartitionKeys>, arrival_ms: i64) -> String {
        let prefix = match kind {
            Kind::Data => &self.prefix,
            Kind::Error => &self.error_prefix,
        };
        prefix.eval(&PrefixContext {
            keys,
            arrival_ms,
            error_output_type: "processing-failed",
        })
    }
}

/// Data (transformed events) or error documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Data,
    Error,
}

/// What the function answered, summed over invocations.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub batches: usize,
    pub ok: usize,
    pub dropped: [usize; DropReason::ALL.len()],
    pub failed: [usize; FailReason::ALL.len()],
    /// Records of batches the function rejected as a whole.
    pub function_error_records: usize,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.batches += other.batches;
        self.ok += other.ok;
        for (total, n) in self.dropped.iter_mut().zip(other.dropped) {
            *total += n;
        }
        for (total, n) in self.failed.iter_mut().zip(other.failed) {
            *total += n;
        }
        self.function_error_records += other.function_error_records;
    }

    pub fn dropped_total(&self) -> usize {
        self.dropped.iter().sum()
    }

    /// Failed records, whole-batch failures among them.
    pub fn failed_total(&self) -> usize {
        self.failed.iter().sum::<usize>() + self.function_error_records
    }

    /// `(reason code, count)` of every failure reason.
    pub fn fail_reasons(&self) -> Vec<(&'static str, usize)> {
        let mut reasons: Vec<(&'static str, usize)> = FailReason::ALL
            .iter()
            .map(|r| (r.code(), self.failed[*r as usize]))
            .collect();
        reasons.push(("Lambda.FunctionError", self.function_error_records));
        reasons
    }
}

/// One line of an object: its prefix and where its bytes are.
#[derive(Debug, Clone)]
struct Item {
    key: String,
    kind: Kind,
    arrival_ms: i64,
    bytes: std::ops::Range<usize>,
}

/// One invocation's results, in event order: `Ok` lines in the batch's
/// arena, error documents in `errors`, each with its prefix.
#[derive(Debug)]
pub struct Invocation {
    batch: Option<DecodedBatch>,
    errors: Vec<u8>,
    items: Vec<Item>,
    pub counts: Counts,
}

impl Invocation {
    fn bytes(&self, item: &Item) -> &[u8] {
        match (item.kind, &self.batch) {
            (Kind::Data, Some(batch)) => &batch.arena[item.bytes.clone()],
            _ => &self.errors[item.bytes.clone()],
        }
    }

    /// `event` for the error output, as a Firehose error record.
    fn error(&mut self, dest: &Destination, event: &Event, error_code: &str, message: &str) {
        let start = self.errors.len();
        error_record(
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
                lambda_arn: &dest.lambda_arn,
            },
        );
        self.items.push(Item {
            key: dest.eval(Kind::Error, None, event.arrival_ms),
            kind: Kind::Error,
            arrival_ms: event.arrival_ms,
            bytes: start..self.errors.len(),
        });
    }
}

/// One invocation of the function on `events`, as Firehose makes it: `Ok`
/// records go under the data prefix their keys give, failed ones become
/// error documents under the error prefix, and a batch the function rejects
/// as a whole goes to the error output as `Lambda.FunctionError`.
pub fn invoke(events: &[Event], config: &Config, dest: &Destination) -> Invocation {
    let mut invocation = Invocation {
        batch: None,
        errors: Vec::new(),
        items: Vec::with_capacity(events.len()),
        counts: Counts {
            batches: 1,
            ..Counts::default()
        },
    };
    let decoded = match invoke_batch(events, config) {
        Ok(decoded) => decoded,
        Err(e) => {
            // Firehose retries, then writes the whole batch to the error
            // output. Only an event too large for a response causes this.
            invocation.counts.function_error_records += events.len();
            let message = e.to_string();
            for event in events {
                invocation.error(dest, event, "Lambda.FunctionError", &message);
            }
            return invocation;
        }
    };
    let r = &decoded.report;
    let counts = &mut invocation.counts;
    counts.ok += r.ok;
    for (total, n) in counts.dropped.iter_mut().zip(r.dropped) {
        *total += n;
    }
    for (total, n) in counts.failed.iter_mut().zip(r.failed) {
        *total += n;
    }
    for (event, answer) in events.iter().zip(&decoded.answers) {
        match answer {
            Answer::Ok { output, keys } => invocation.items.push(Item {
                key: dest.eval(Kind::Data, Some(keys), event.arrival_ms),
                kind: Kind::Data,
                arrival_ms: event.arrival_ms,
                bytes: output.clone(),
            }),
            Answer::Dropped => {}
            Answer::Failed(reason) => {
                invocation.error(dest, event, PROCESSING_FAILED_CODE, reason.code());
            }
        }
    }
    invocation.batch = Some(decoded);
    invocation
}

/// One S3 object's contents, uncompressed, ready to name and write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The prefix, ending in `/` for the layouts of the template.
    pub key: String,
    pub kind: Kind,
    /// The arrival time of its oldest record: the time in its name.
    pub oldest_arrival_ms: i64,
    pub data: Vec<u8>,
}

/// One object being filled.
#[derive(Debug)]
struct Buffer {
    kind: Kind,
    oldest_arrival_ms: i64,
    data: Vec<u8>,
}

/// Per-prefix buffers, filled in the order lines are appended. A buffer
/// that reaches `object_bytes` becomes an [`Object`] in the ready queue; so
/// does the largest one while all of them hold more than the memory limit;
/// and so does every one on [`flush`](Writer::flush). No IO: the caller
/// takes the ready objects and writes them.
#[derive(Debug)]
pub struct Writer {
    object_bytes: usize,
    max_buffered: usize,
    buffers: BTreeMap<String, Buffer>,
    buffered: usize,
    ready: Vec<Object>,
}

impl Writer {
    /// A writer cutting objects at `object_bytes`, with at most
    /// [`MAX_BUFFERED_BYTES`] held.
    pub fn new(object_bytes: usize) -> Writer {
        Writer::with_limit(object_bytes, MAX_BUFFERED_BYTES)
    }

    /// A writer holding at most `max_buffered` bytes in all its buffers.
    pub fn with_limit(object_bytes: usize, max_buffered: usize) -> Writer {
        Writer {
            object_bytes: object_bytes.max(1),
            max_buffered,
            buffers: BTreeMap::new(),
            buffered: 0,
            ready: Vec::new(),
        }
    }

    /// Appends every line of `invocation`, in order.
    pub fn append_all(&mut self, invocation: &Invocation) {
        for item in &invocation.items {
            self.append(
                &item.key,
                item.kind,
                item.arrival_ms,
                invocation.bytes(item),
            );
        }
    }

    /// Appends one line (its newline included) to the buffer of `key`.
    pub fn append(&mut self, key: &str, kind: Kind, arrival_ms: i64, bytes: &[u8]) {
        let buffer = match self.buffers.get_mut(key) {
            Some(buffer) => buffer,
            None => self.buffers.entry(key.to_owned()).or_insert(Buffer {
                kind,
                oldest_arrival_ms: arrival_ms,
                data: Vec::new(),
            }),
        };
        buffer.oldest_arrival_ms = buffer.oldest_arrival_ms.min(arrival_ms);
        buffer.data.extend_from_slice(bytes);
        self.buffered += bytes.len();
        if buffer.data.len() >= self.object_bytes {
            self.take(key);
        }
        while self.buffered > self.max_buffered {
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

    /// Every buffer becomes an object, in prefix order.
    pub fn flush(&mut self) {
        let keys: Vec<String> = self.buffers.keys().cloned().collect();
        for key in keys {
            self.take(&key);
        }
    }

    /// The buffers whose oldest line arrived before `arrival_ms` become
    /// objects: Firehose's buffering interval, for a caller that receives
    /// events over time.
    pub fn flush_older_than(&mut self, arrival_ms: i64) {
        let keys: Vec<String> = self
            .buffers
            .iter()
            .filter(|(_, b)| b.oldest_arrival_ms < arrival_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            self.take(&key);
        }
    }

    /// The objects ready to write, oldest first; the queue is left empty.
    pub fn take_ready(&mut self) -> Vec<Object> {
        std::mem::take(&mut self.ready)
    }

    /// Bytes held in buffers (not counting ready objects).
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
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

/// Names, compresses and writes one object under `dir`, creating its
/// folders; gives its size on disk.
pub fn write_object(dir: &Path, dest: &Destination, object: Object) -> Result<u64, String> {
    let path = dir.join(dest.object_path(&object));
    let bytes = if dest.gzip {
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
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    // The object appears whole: written under a dot-name that readers
    // (Trino, DuckDB's globs over `serve`'s live output) skip, then renamed.
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let temp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&temp, &bytes)
        .and_then(|()| std::fs::rename(&temp, &path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(bytes.len() as u64)
}

/// What has been written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    pub data_objects: usize,
    pub error_objects: usize,
    /// The data prefixes written to.
    pub partitions: BTreeSet<String>,
    pub bytes: u64,
}

impl Written {
    /// Counts `object` (before it is written).
    pub fn count(&mut self, object: &Object) {
        match object.kind {
            Kind::Data => {
                self.data_objects += 1;
                self.partitions.insert(object.key.clone());
            }
            Kind::Error => self.error_objects += 1,
        }
    }

    pub fn add(&mut self, other: Written) {
        self.data_objects += other.data_objects;
        self.error_objects += other.error_objects;
        self.partitions.extend(other.partitions);
        self.bytes += other.bytes;
    }
}

/// A folder that stands in for the delivery stream's bucket, filled as
/// events arrive: the same layout, names and format as `replay` writes.
///
/// ```no_run
/// use firehose_enricher::replay::sink::{Destination, DestinationOptions, Sink};
/// use firehose_enricher::replay::Event;
/// use firehose_enricher::Config;
/// let config = Config::from_env().unwrap();
/// let dest = Destination::new(&DestinationOptions::default()).unwrap();
/// let mut sink = Sink::new("local-s3".into(), dest);
/// // Each batch received, with its arrival time:
/// let events = [Event { data: br#"{"url":"https://example.com/"}"#, arrival_ms: 1_795_770_902_000 }];
/// sink.put(&events, &config).unwrap();
/// // On a timer (the buffering interval), and at shutdown:
/// sink.flush_older_than(1_795_770_902_000 - 60_000).unwrap();
/// sink.flush().unwrap();
/// ```
#[derive(Debug)]
pub struct Sink {
    dir: PathBuf,
    dest: Destination,
    writer: Writer,
    counts: Counts,
    written: Written,
}

impl Sink {
    pub fn new(dir: PathBuf, dest: Destination) -> Sink {
        let writer = Writer::new(dest.object_bytes);
        Sink {
            dir,
            dest,
            writer,
            counts: Counts::default(),
            written: Written::default(),
        }
    }

    /// Runs `events` through the function as one invocation, buffers what
    /// it answered, and writes the objects that filled up. Gives this
    /// invocation's counts.
    pub fn put(&mut self, events: &[Event], config: &Config) -> Result<Counts, String> {
        let invocation = invoke(events, config, &self.dest);
        self.writer.append_all(&invocation);
        self.counts.add(&invocation.counts);
        self.write_ready()?;
        Ok(invocation.counts)
    }

    /// Writes every buffer as an object now.
    pub fn flush(&mut self) -> Result<(), String> {
        self.writer.flush();
        self.write_ready()
    }

    /// Writes the buffers whose oldest event arrived before `arrival_ms`.
    pub fn flush_older_than(&mut self, arrival_ms: i64) -> Result<(), String> {
        self.writer.flush_older_than(arrival_ms);
        self.write_ready()
    }

    /// Bytes received but not yet written.
    pub fn buffered_bytes(&self) -> usize {
        self.writer.buffered_bytes()
    }

    /// What the function answered so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// What was written so far.
    pub fn written(&self) -> &Written {
        &self.written
    }

    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    fn write_ready(&mut self) -> Result<(), String> {
        for object in self.writer.take_ready() {
            self.written.count(&object);
            self.written.bytes += write_object(&self.dir, &self.dest, object)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
