//! `invoke`: one Firehose request through the handler path, as Lambda would
//! with `REINGEST_OVERFLOW=false`: it never calls AWS, so records that do
//! not fit in the response fail, and the batch line says how many the
//! function would have re-sent (`overflow=`).

use super::{config, read_input};
use base64::Engine;
use firehose_enricher::{batch, lambda};
use std::io::Write;
use std::path::Path;

pub fn run(file: Option<&Path>, decode: bool) -> Result<(), String> {
    let config = config()?;
    let request = read_input(file)?;
    lambda::init_logging(true);
    let processed = batch::process(&request, &config).map_err(|e| e.to_string())?;
    lambda::log_report(&processed.report);
    let mut out = std::io::stdout().lock();
    let written = if decode {
        print_decoded(&mut out, &processed)
    } else {
        out.write_all(&processed.response)
            .and_then(|()| out.write_all(b"\n"))
    };
    written.map_err(|e| format!("cannot write stdout: {e}"))
}

/// Human-readable: each record's id, result (with reason), partition keys
/// and decoded data.
fn print_decoded(out: &mut impl Write, processed: &batch::Processed) -> std::io::Result<()> {
    let response: serde_json::Value =
        serde_json::from_slice(&processed.response).map_err(std::io::Error::other)?;
    let records = response["records"].as_array().cloned().unwrap_or_default();
    let mut failures = processed.report.failures.iter();
    for record in &records {
        let id = record["recordId"].as_str().unwrap_or("?");
        let result = record["result"].as_str().unwrap_or("?");
        write!(out, "{id}  {result}")?;
        if result == "ProcessingFailed" {
            if let Some((_, reason)) = failures.next() {
                write!(out, " ({reason})")?;
            }
        }
        if let Some(keys) = record["metadata"]["partitionKeys"].as_object() {
            for (k, v) in keys {
                write!(out, "  {k}={}", v.as_str().unwrap_or(""))?;
            }
        }
        writeln!(out)?;
        let data = record["data"].as_str().unwrap_or("");
        match base64::engine::general_purpose::STANDARD.decode(data) {
            Ok(bytes) => writeln!(out, "    {}", String::from_utf8_lossy(&bytes).trim_end())?,
            Err(_) => writeln!(out, "    (not base64) {data}")?,
        }
    }
    let r = &processed.report;
    writeln!(
        out,
        "{} records: {} Ok, {} Dropped, {} ProcessingFailed",
        r.records,
        r.ok,
        r.dropped_total(),
        r.failed_total()
    )?;
    if r.overflow > 0 {
        writeln!(
            out,
            "{} records did not fit in the response; with REINGEST_OVERFLOW the function re-sends them",
            r.overflow
        )?;
    }
    Ok(())
}
