//! How large a Firehose processor buffer a set of sample events allows: the
//! bytes per record in the request and the response, and the largest
//! `ProcessorBufferSizeMB` whose batches still fit in Lambda's response
//! limit with nothing left over to re-ingest.
//!
//! Pure: the events and the configuration in, the numbers out. The samples
//! go through [`batch::process`] with no response limit, so the response
//! sizes are the ones the function would write.

use crate::batch;
use crate::config::Config;
use base64::Engine;
use std::fmt::Write;

/// `ProcessorBufferSizeMB`'s range, per Firehose.
pub const MIN_BUFFER_MB: f64 = 0.2;
pub const MAX_BUFFER_MB: f64 = 3.0;
/// Firehose's record ids: 56 digits and more. The response echoes them, so
/// they count in every record's size.
const RECORD_ID_DIGITS: usize = 56;
/// A buffer "MB" counted as a MiB, the larger reading: the answer stays safe
/// whichever Firehose means.
const MB: f64 = 1024.0 * 1024.0;
/// Arrival time of the sample records: it only matters to events without a
/// usable time of their own, and not to any size.
const ARRIVAL_MS: i64 = 1_795_770_902_000;

/// The numbers `sizing` prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sizing {
    pub events: usize,
    /// Decoded event bytes per record: what fills the processor buffer.
    pub data_bytes_per_record: f64,
    /// The request's bytes per record (base64 data, id, arrival time).
    pub request_bytes_per_record: f64,
    /// The response's bytes per record, enriched.
    pub response_bytes_per_record: f64,
    /// Response bytes over request bytes.
    pub expansion: f64,
    /// Response bytes per buffered data byte.
    pub response_per_data_byte: f64,
    /// The largest `ProcessorBufferSizeMB` (0.2 to 3, in steps of 0.1) whose
    /// batches of these events fit in the response limit; `None` when not
    /// even 0.2 does.
    pub max_buffer_mb: Option<f64>,
}

/// A Firehose request of `events`, with ids as long as Firehose's.
pub fn request(events: &[&[u8]]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = String::from(
        r#"{"invocationId":"sizing","deliveryStreamArn":"arn:aws:firehose:local:000000000000:deliverystream/sizing","region":"local","records":["#,
    );
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"recordId":"{i:0>RECORD_ID_DIGITS$}","approximateArrivalTimestamp":{ARRIVAL_MS},"data":"{}"}}"#,
            b64.encode(e)
        );
    }
    out.push_str("]}");
    out.into_bytes()
}

/// Measures `events` under `config`; `None` for no events.
pub fn measure(events: &[&[u8]], config: &Config) -> Option<Sizing> {
    if events.is_empty() {
        return None;
    }
    let unbounded = Config {
        max_response_bytes: usize::MAX,
        ..config.clone()
    };
    let request = request(events);
    let processed = batch::process(&request, &unbounded).ok()?;
    let n = events.len() as f64;
    // The envelopes (`{"records":[` … `]}` and the request's header) are
    // paid once per batch, not per record.
    const RESPONSE_ENVELOPE: usize = r#"{"records":[]}"#.len();
    let data: usize = events.iter().map(|e| e.len()).sum();
    let response = processed.response.len() - RESPONSE_ENVELOPE;
    let per_data_byte = response as f64 / data.max(1) as f64;
    let limit = (config.max_response_bytes - RESPONSE_ENVELOPE) as f64;
    // The largest buffer whose data, enriched, fits; one record more than
    // the buffer can arrive in a batch, so that much is kept back.
    let largest = (limit - response as f64 / n) / per_data_byte / MB;
    let steps = (largest * 10.0 + 1e-9).floor() / 10.0;
    let max_buffer_mb = (steps >= MIN_BUFFER_MB).then_some(steps.min(MAX_BUFFER_MB));
    Some(Sizing {
        events: events.len(),
        data_bytes_per_record: round(data as f64 / n),
        request_bytes_per_record: round(request.len() as f64 / n),
        response_bytes_per_record: round(response as f64 / n),
        expansion: round(response as f64 / request.len() as f64),
        response_per_data_byte: round(per_data_byte),
        max_buffer_mb,
    })
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
