//! `invoke`: one Firehose request through the handler path, as Lambda would
//! with `REINGEST_OVERFLOW=false`: it never calls AWS, so records that do
//! not fit in the response fail, and the batch line says how many the
//! function would have re-sent (`overflow=`).

use super::{config, read_input};
use base64::Engine;
use firehose_enricher::{batch, lambda};
use std::io::Write;
use std::path::Path;

/// What `invoke` reads, and where to go with anything else.
const EXPECTED: &str = "invoke reads one Firehose transformation request, a JSON object \
{\"records\":[{\"recordId\":\"…\",\"approximateArrivalTimestamp\":…,\"data\":\"BASE64\"}]} \
as in events/minimal.json; for raw events (NDJSON, Firehose output objects, exports) \
use `firehose-enricher replay --input FILE`";

pub fn run(file: Option<&Path>, decode: bool) -> Result<(), String> {
    let config = config()?;
    let request = read_input(file)?;
    lambda::init_logging(true).map_err(|e| e.to_string())?;
    if request.trim_ascii().is_empty() {
        return Err(format!("the input is empty\n  {EXPECTED}"));
    }
    let processed = batch::process(&request, &config).map_err(|e| match e {
        batch::RequestError::Invalid(_) => format!("{e}\n  {EXPECTED}"),
        _ => e.to_string(),
    })?;
    let mut out = std::io::stdout().lock();
    let written = if decode {
        // The log lines come after the records, so that on a terminal they
        // do not interleave with what was asked for.
        let written = print_decoded(&mut out, &processed).and_then(|()| out.flush());
        lambda::log_report(&processed.report);
        written
    } else {
        lambda::log_report(&processed.report);
        out.write_all(processed.response.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
    };
    written.map_err(|e| format!("cannot write stdout: {e}"))
}

/// The bytes as one terminal-safe line: valid UTF-8 as it is, control
/// characters and bytes that are not UTF-8 escaped (`\n`, `\u{1b}`, `\xff`),
/// so failed data can neither garble the terminal nor hide what it holds.
fn escaped(bytes: &[u8]) -> String {
    let mut line = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                line.extend(c.escape_default());
            } else {
                line.push(c);
            }
        }
        for b in chunk.invalid() {
            line.push_str(&format!("\\x{b:02x}"));
        }
    }
    line
}

/// Human-readable: each record's id, result (with reason), partition keys
/// and decoded data.
fn print_decoded(out: &mut impl Write, processed: &batch::Processed) -> std::io::Result<()> {
    let response: serde_json::Value =
        serde_json::from_slice(processed.response.as_bytes()).map_err(std::io::Error::other)?;
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
            Ok(bytes) if bytes.is_empty() => writeln!(out, "    (no data)")?,
            Ok(bytes) => {
                // Ok data ends in the newline Firehose needs; it is not shown.
                let shown = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
                writeln!(out, "    {}", escaped(shown))?
            }
            Err(_) => writeln!(out, "    (not base64) {}", escaped(data.as_bytes()))?,
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

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn escaped_keeps_text_and_escapes_the_rest() {
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"\xff\xfe{\"a\":1}", "\\xff\\xfe{\"a\":1}"),
            (b"{\"a\":1}\n", "{\"a\":1}\\n"),
            (b"\x1b[31mred", "\\u{1b}[31mred"),
            (b"tab\there\r", "tab\\there\\r"),
            ("M\u{fc}nchen \u{65e5}".as_bytes(), "M\u{fc}nchen \u{65e5}"),
            (b"M\xfcnchen", "M\\xfcnchen"),
            (b"\xe6\x97", "\\xe6\\x97"),
        ];
        for (input, want) in cases {
            assert_eq!(escaped(input), *want, "{input:?}");
        }
    }
}
