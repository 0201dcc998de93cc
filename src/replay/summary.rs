//! The summary `replay` prints: what was read, what the function answered,
//! where it went, and how fast.

use super::pipeline::{Arrival, Stats};
use super::sink::Destination;
use crate::record::DropReason;
use std::fmt::Write as _;
use std::path::Path;

const MIB: f64 = 1024.0 * 1024.0;

/// The summary of a run into `dir` that took `seconds`.
pub fn render(
    stats: &Stats,
    dest: &Destination,
    arrival: Arrival,
    dir: &Path,
    seconds: f64,
) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write(&mut out, stats, dest, arrival, dir, seconds);
    out
}

fn write(
    out: &mut String,
    stats: &Stats,
    dest: &Destination,
    arrival: Arrival,
    dir: &Path,
    seconds: f64,
) -> std::fmt::Result {
    let seconds = seconds.max(1e-9);
    let (read, counts) = (&stats.read, &stats.counts);
    let reasons = |codes: Vec<(&'static str, usize)>| -> String {
        let list: Vec<String> = codes
            .into_iter()
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
        plural(read.events, "event"),
        plural(read.files, "file"),
        plural(counts.batches, "invocation"),
    )?;
    writeln!(out, "  layout {}", dest.layout_name)?;
    writeln!(out, "  data under   {}", dest.prefix.as_str())?;
    writeln!(out, "  errors under {}", dest.error_prefix.as_str())?;
    writeln!(out, "  Ok                {:>10}", counts.ok)?;
    writeln!(
        out,
        "  Dropped           {:>10}{}",
        counts.dropped_total(),
        reasons(
            DropReason::ALL
                .iter()
                .map(|r| (r.code(), counts.dropped[*r as usize]))
                .collect()
        )
    )?;
    let mut fails = stats.fail_reasons();
    fails.retain(|(code, _)| *code != "Lambda.FunctionError");
    writeln!(
        out,
        "  ProcessingFailed  {:>10}{}",
        stats.failed() - counts.function_error_records,
        reasons(fails)
    )?;
    if counts.function_error_records > 0 {
        writeln!(
            out,
            "  Lambda.FunctionError {:>7}  (whole batches the function rejected; see the error output)",
            counts.function_error_records
        )?;
    }
    if read.from_error_records + read.from_requests > 0 {
        writeln!(
            out,
            "  read by shape: {} events from Firehose error records (rawData), {} from Firehose requests (records' data)",
            read.from_error_records, read.from_requests
        )?;
    }
    if read.without_data > 0 {
        writeln!(
            out,
            "  {} with no data: counted as missing_data, nothing to write",
            plural(read.without_data, "request record")
        )?;
    }
    let [truncated, garbage] = read.not_values;
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
    match arrival {
        Arrival::Event => writeln!(
            out,
            "  arrival time: the event's own time for {}; file mtime for {} without a usable time",
            stats.arrival_from_event, stats.arrival_fallback_mtime
        )?,
        Arrival::FileMtime => writeln!(out, "  arrival time: file mtime")?,
        Arrival::Now => writeln!(out, "  arrival time: now")?,
    }
    let w = &stats.written;
    writeln!(
        out,
        "  written: {} in {}, {}, {:.1} MiB\n    under {}",
        plural(w.data_objects, "data object"),
        plural(w.partitions.len(), "partition"),
        plural(w.error_objects, "error object"),
        w.bytes as f64 / MIB,
        dir.display()
    )?;
    writeln!(
        out,
        "  read: {:.1} MiB ({:.1} MiB decompressed) in {:.2} s: {:.1} MiB/s, {:.0} events/s",
        read.bytes_read as f64 / MIB,
        read.bytes_decoded as f64 / MIB,
        seconds,
        read.bytes_decoded as f64 / MIB / seconds,
        read.events as f64 / seconds
    )
}

/// `1 event`, `2 events`: the count with its noun, in the number it needs.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
