//! What a month of the stack costs: usage in, a bill by service out.
//!
//! Pure arithmetic over list prices kept as data (`data/aws-prices.json`,
//! one entry per region, each with the month it was written down and the
//! pages it came from). `firehose-enricher cost` (`make cost`) prints the
//! bill and what each parameter changes; docs/deploy.md quotes it.
//!
//! The model, per 30-day month:
//! - **Firehose ingestion** bills every record rounded up to 5 KB (5,120
//!   bytes), so a 600-byte event costs as much as a 5 KB one; **format
//!   conversion** (Parquet) bills the same rounded volume.
//! - **Dynamic partitioning** bills the GB delivered and every S3 object: one
//!   object per active partition per delivery buffer flush (one per site
//!   with `DateSite`, one otherwise), never more than there are events, and
//!   more when a partition's data passes the 64 MB buffer.
//! - **S3**: a PUT per object, storage of the compressed month.
//! - **Lambda**: one invocation per processor interval while data arrives,
//!   or per buffer of data when that is more; CPU time in proportion to
//!   memory (one vCPU at 1,769 MB), billed by the millisecond.
//! - **CloudWatch**: the custom metrics the function declares (three by
//!   default; [`crate::metrics`]), one alarm metric per alarm metric the
//!   template creates for this configuration, and the function's log lines.
//! - **Athena**: each query scans one day of every site (at least 10 MB),
//!   and reads each object of that day with S3 GETs (two per Parquet file:
//!   footer and columns) after a LIST per partition.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The price list, compiled in.
pub const PRICES_JSON: &str = include_str!("../data/aws-prices.json");

const SECONDS_PER_MONTH: f64 = 30.0 * 86_400.0;
/// Firehose's billing step per record.
pub const RECORD_STEP_BYTES: f64 = 5_120.0;
const GB: f64 = 1e9;
const TB: f64 = 1e12;
/// Athena's minimum scan per query.
const ATHENA_MIN_BYTES: f64 = 10e6;
/// Firehose's delivery buffer with dynamic partitioning (the template's
/// `DeliveryBufferSizeMB` default and minimum).
const DELIVERY_BUFFER_BYTES: f64 = 64.0 * 1024.0 * 1024.0;
/// One vCPU, in MB of Lambda memory.
const FULL_CORE_MB: f64 = 1_769.0;
/// The function's time on one full core: per invocation, and per record
/// (`firehose-enricher bench`: about 22 ms for 5,000 SDK events, docs/deploy.md).
const INVOCATION_MS: f64 = 0.5;
const RECORD_MS: f64 = 0.0045;
/// Log bytes per invocation: Lambda's START/END/REPORT lines, the batch
/// line and the EMF line; the detailed EMF line is about 1.1 KB longer.
const LOG_BYTES: f64 = 1_200.0;
const DETAILED_LOG_BYTES: f64 = 1_100.0;
/// CloudWatch Logs stores data compressed, about 6 times smaller.
const LOG_STORAGE_RATIO: f64 = 6.0;

/// One region's prices, in USD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// When these figures were written down (`YYYY-MM`).
    pub written: String,
    pub firehose_ingest_gb: f64,
    pub firehose_conversion_gb: f64,
    pub firehose_partitioning_gb: f64,
    pub firehose_partitioning_1k_objects: f64,
    pub lambda_gb_second: f64,
    pub lambda_1m_requests: f64,
    pub s3_gb_month: f64,
    pub s3_1k_put: f64,
    pub s3_1k_get: f64,
    pub cw_metric_month: f64,
    pub cw_alarm_metric_month: f64,
    pub cw_logs_ingest_gb: f64,
    pub cw_logs_store_gb_month: f64,
    pub athena_tb: f64,
}

#[derive(Deserialize)]
struct PriceFile {
    regions: std::collections::BTreeMap<String, Prices>,
}

fn price_file() -> PriceFile {
    serde_json::from_str(PRICES_JSON).expect("data/aws-prices.json is valid (tests/cost.rs)")
}

/// The regions the price list has.
pub fn regions() -> Vec<String> {
    price_file().regions.into_keys().collect()
}

/// A region's prices; an error names the regions there are.
pub fn prices(region: &str) -> Result<Prices, String> {
    let mut file = price_file();
    file.regions.remove(region).ok_or_else(|| {
        format!(
            "no prices for {region:?} in data/aws-prices.json; it has {}",
            regions().join(", ")
        )
    })
}

/// The template's `Layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Layout {
    DateSite,
    Date,
    DateHour,
}

/// The template's `OutputFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    Json,
    Parquet,
}

/// A month of traffic and the parameters that price it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub events_per_month: f64,
    /// Mean event size as sent (one event per record).
    pub event_bytes: f64,
    /// Mean size of the enriched line the function writes.
    pub output_bytes: f64,
    pub layout: Layout,
    pub format: Format,
    /// Sites with traffic (each a partition with `DateSite`).
    pub sites: f64,
    pub delivery_interval_s: f64,
    pub processor_interval_s: f64,
    pub processor_buffer_mb: f64,
    pub memory_mb: f64,
    pub detailed_metrics: bool,
    pub reingest: bool,
    pub anonymize_ip: bool,
    /// With `DetailedMetrics=on`: `SiteAllowlist` or `MaxSitesPerBatch` set
    /// (the SiteOther alarm).
    pub site_cap: bool,
    pub queries_per_month: f64,
    /// Days of data each query reads (all sites).
    pub days_per_query: f64,
    /// Output bytes over stored bytes (GZIP JSON lines, or Parquet).
    pub compression: f64,
    /// The share of a Parquet file a query reads (its columns).
    pub parquet_column_share: f64,
}

impl Default for Usage {
    /// A million SDK events a month on three sites, with the template's
    /// defaults.
    fn default() -> Usage {
        Usage {
            events_per_month: 1e6,
            event_bytes: 600.0,
            output_bytes: 750.0,
            layout: Layout::DateSite,
            format: Format::Json,
            sites: 3.0,
            delivery_interval_s: 300.0,
            processor_interval_s: 60.0,
            processor_buffer_mb: 0.8,
            memory_mb: 512.0,
            detailed_metrics: false,
            reingest: true,
            // The template's default: addresses are masked.
            anonymize_ip: true,
            site_cap: false,
            queries_per_month: 300.0,
            days_per_query: 1.0,
            compression: 8.0,
            parquet_column_share: 0.25,
        }
    }
}

/// One line of the bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub service: &'static str,
    pub item: &'static str,
    pub quantity: f64,
    pub unit: &'static str,
    pub usd: f64,
}

/// A month's bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bill {
    pub lines: Vec<Line>,
    pub total: f64,
}

impl Bill {
    /// The sum of one service's lines.
    pub fn service(&self, service: &str) -> f64 {
        self.lines
            .iter()
            .filter(|l| l.service == service)
            .map(|l| l.usd)
            .sum()
    }
}

/// The S3 objects the stream writes in a month.
pub fn objects_per_month(u: &Usage) -> f64 {
    if u.events_per_month <= 0.0 {
        return 0.0;
    }
    let flushes = SECONDS_PER_MONTH / u.delivery_interval_s;
    let events_per_flush = u.events_per_month / flushes;
    let partitions = match u.layout {
        Layout::DateSite => u.sites.max(1.0),
        Layout::Date | Layout::DateHour => 1.0,
    };
    let by_time = flushes * partitions.min(events_per_flush);
    let by_size = u.events_per_month * u.output_bytes / DELIVERY_BUFFER_BYTES;
    by_time.max(by_size)
}

/// The function's invocations in a month.
pub fn invocations_per_month(u: &Usage) -> f64 {
    let by_time = (SECONDS_PER_MONTH / u.processor_interval_s).min(u.events_per_month);
    let by_size = u.events_per_month * u.event_bytes / (u.processor_buffer_mb * 1e6);
    by_time.max(by_size)
}

/// The custom metrics the function declares in a month: the default set's
/// three counts (`Reingested` and `IpNotAnonymized` only in hours they are
/// not zero: none, in a month without overflow or unmasked values), or
/// every metric with `DetailedMetrics=on`.
pub fn custom_metrics(u: &Usage) -> usize {
    if u.detailed_metrics {
        crate::metrics::metric_names().len()
    } else {
        crate::metrics::DEFAULT_METRICS.len() - 2
    }
}

/// The metrics the template's alarms read for this configuration (each
/// billed as one alarm metric).
pub fn alarm_metrics(u: &Usage) -> usize {
    // DataFreshness, Processing, ThrottledRecords, RecordsFailed.
    let mut n = 4;
    n += usize::from(u.layout == Layout::DateSite); // PartitionCountExceeded
    n += usize::from(u.reingest); // Reingested
    n += usize::from(u.format == Format::Parquet); // FailedConversion
    n += usize::from(u.anonymize_ip); // IpNotAnonymized
    if u.detailed_metrics {
        n += 2; // FailedInternalError, FailedResponseTooLarge
        n += 2 * usize::from(u.site_cap); // SiteOther over RecordsOk
    }
    n
}

/// The month's bill for `u` at `p`.
pub fn bill(u: &Usage, p: &Prices) -> Bill {
    let mut lines = Vec::new();
    let mut add = |service, item, quantity: f64, unit, usd: f64| {
        lines.push(Line {
            service,
            item,
            quantity,
            unit,
            usd,
        })
    };
    let events = u.events_per_month;
    let billed_gb = events * (u.event_bytes / RECORD_STEP_BYTES).ceil() * RECORD_STEP_BYTES / GB;
    add(
        "Firehose",
        "ingestion, records rounded up to 5 KB",
        billed_gb,
        "GB",
        billed_gb * p.firehose_ingest_gb,
    );
    if u.format == Format::Parquet {
        add(
            "Firehose",
            "format conversion (Parquet), same 5 KB steps",
            billed_gb,
            "GB",
            billed_gb * p.firehose_conversion_gb,
        );
    }
    let out_gb = events * u.output_bytes / GB;
    add(
        "Firehose",
        "dynamic partitioning, data",
        out_gb,
        "GB",
        out_gb * p.firehose_partitioning_gb,
    );
    let objects = objects_per_month(u);
    add(
        "Firehose",
        "dynamic partitioning, objects",
        objects,
        "objects",
        objects / 1e3 * p.firehose_partitioning_1k_objects,
    );

    let invocations = invocations_per_month(u);
    let records_per_invocation = if invocations > 0.0 {
        events / invocations
    } else {
        0.0
    };
    let cpu_share = (u.memory_mb / FULL_CORE_MB).min(1.0);
    let ms = ((INVOCATION_MS + RECORD_MS * records_per_invocation) / cpu_share).ceil();
    let gb_seconds = invocations * ms / 1e3 * u.memory_mb / 1024.0;
    add(
        "Lambda",
        "requests",
        invocations,
        "invocations",
        invocations / 1e6 * p.lambda_1m_requests,
    );
    add(
        "Lambda",
        "duration (billed by the ms)",
        gb_seconds,
        "GB-s",
        gb_seconds * p.lambda_gb_second,
    );

    let stored_gb = out_gb / u.compression;
    add(
        "S3",
        "PUT requests (one per object)",
        objects,
        "requests",
        objects / 1e3 * p.s3_1k_put,
    );
    add(
        "S3",
        "storage of the month's data, per month kept",
        stored_gb,
        "GB-month",
        stored_gb * p.s3_gb_month,
    );

    let metrics = custom_metrics(u) as f64;
    add(
        "CloudWatch",
        "custom metrics (EMF)",
        metrics,
        "metrics",
        metrics * p.cw_metric_month,
    );
    let alarms = alarm_metrics(u) as f64;
    add(
        "CloudWatch",
        "alarms",
        alarms,
        "alarm metrics",
        alarms * p.cw_alarm_metric_month,
    );
    let log_bytes = LOG_BYTES
        + if u.detailed_metrics {
            DETAILED_LOG_BYTES
        } else {
            0.0
        };
    let log_gb = invocations * log_bytes / GB;
    add(
        "CloudWatch",
        "logs ingested",
        log_gb,
        "GB",
        log_gb * p.cw_logs_ingest_gb,
    );
    add(
        "CloudWatch",
        "logs stored (30 days)",
        log_gb / LOG_STORAGE_RATIO,
        "GB-month",
        log_gb / LOG_STORAGE_RATIO * p.cw_logs_store_gb_month,
    );

    let days = u.days_per_query;
    let share = match u.format {
        Format::Json => 1.0,
        Format::Parquet => u.parquet_column_share,
    };
    let scanned = (stored_gb * GB / 30.0 * days * share).max(ATHENA_MIN_BYTES);
    let scanned_tb = u.queries_per_month * scanned / TB;
    add(
        "Athena",
        "data scanned (at least 10 MB a query)",
        scanned_tb * 1e3,
        "GB",
        scanned_tb * p.athena_tb,
    );
    let gets_per_object = match u.format {
        Format::Json => 1.0,
        Format::Parquet => 2.0,
    };
    let gets = u.queries_per_month * objects / 30.0 * days * gets_per_object;
    let partitions_per_day = match u.layout {
        Layout::DateSite => u.sites.max(1.0),
        Layout::Date => 1.0,
        Layout::DateHour => 24.0,
    };
    let lists = u.queries_per_month * partitions_per_day * days;
    add(
        "Athena",
        "S3 GET requests (each object read)",
        gets,
        "requests",
        gets / 1e3 * p.s3_1k_get,
    );
    add(
        "Athena",
        "S3 LIST requests (one per partition)",
        lists,
        "requests",
        lists / 1e3 * p.s3_1k_put,
    );
    let total = lines.iter().map(|l| l.usd).sum();
    Bill { lines, total }
}

/// What changing one parameter does to the total: `(change, total)`.
pub fn variants(u: &Usage, p: &Prices) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut try_one = |label: String, change: &dyn Fn(&mut Usage)| {
        let mut v = u.clone();
        change(&mut v);
        if v != *u {
            out.push((label, bill(&v, p).total));
        }
    };
    for layout in [Layout::DateSite, Layout::Date, Layout::DateHour] {
        try_one(format!("Layout={layout:?}"), &|v| v.layout = layout);
    }
    let other = match u.format {
        Format::Json => Format::Parquet,
        Format::Parquet => Format::Json,
    };
    try_one(format!("OutputFormat={}", format_name(other)), &|v| {
        v.format = other
    });
    try_one("DeliveryBufferIntervalSeconds=900".into(), &|v| {
        v.delivery_interval_s = 900.0
    });
    try_one("DeliveryBufferIntervalSeconds=60".into(), &|v| {
        v.delivery_interval_s = 60.0
    });
    try_one(
        format!("DetailedMetrics={}", on_off(!u.detailed_metrics)),
        &|v| v.detailed_metrics = !u.detailed_metrics,
    );
    try_one(format!("sites x10 ({})", u.sites * 10.0), &|v| {
        v.sites = u.sites * 10.0
    });
    try_one(
        format!("events x10 ({})", u.events_per_month * 10.0),
        &|v| v.events_per_month = u.events_per_month * 10.0,
    );
    try_one(
        format!(
            "events of {} bytes (over one 5 KB step)",
            RECORD_STEP_BYTES + 1.0
        ),
        &|v| {
            v.event_bytes = RECORD_STEP_BYTES + 1.0;
            v.output_bytes = u.output_bytes - u.event_bytes + RECORD_STEP_BYTES + 1.0;
        },
    );
    try_one(format!("AnonymizeIp={}", on_off(!u.anonymize_ip)), &|v| {
        v.anonymize_ip = !u.anonymize_ip
    });
    try_one(format!("ReingestOverflow={}", !u.reingest), &|v| {
        v.reingest = !u.reingest
    });
    out
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Json => "JSON",
        Format::Parquet => "Parquet",
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Dollars with cents, or more digits below a cent.
fn usd(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.01 {
        format!("${x:.4}")
    } else {
        format!("${x:.2}")
    }
}

fn quantity(x: f64) -> String {
    if x >= 1000.0 {
        let whole = x.round() as u64;
        let digits = whole.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if x >= 10.0 || x == x.round() {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// The bill and the variants as text (a Markdown table), as `make cost`
/// prints them.
pub fn render(region: &str, u: &Usage, p: &Prices) -> String {
    let b = bill(u, p);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Monthly bill in {region} (list prices written {}, data/aws-prices.json): {} events of {} bytes ({} written), Layout={:?}, OutputFormat={}, {} sites, {} queries of {} day(s)",
        p.written,
        quantity(u.events_per_month),
        u.event_bytes,
        u.output_bytes,
        u.layout,
        format_name(u.format),
        u.sites,
        u.queries_per_month,
        u.days_per_query
    );
    out.push('\n');
    out.push_str("| service | item | quantity | USD |\n|---|---|---|---|\n");
    for l in &b.lines {
        let _ = writeln!(
            out,
            "| {} | {} | {} {} | {} |",
            l.service,
            l.item,
            quantity(l.quantity),
            l.unit,
            usd(l.usd)
        );
    }
    for service in ["Firehose", "Lambda", "S3", "CloudWatch", "Athena"] {
        let _ = writeln!(
            out,
            "| **{service}** | | | **{}** |",
            usd(b.service(service))
        );
    }
    let _ = writeln!(out, "| **total** | | | **{}** |", usd(b.total));
    out.push_str("\nWhat each parameter changes (the rest as above):\n\n| change | total | difference |\n|---|---|---|\n");
    for (label, total) in variants(u, p) {
        let diff = total - b.total;
        let sign = if diff >= 0.0 { "+" } else { "-" };
        let _ = writeln!(
            out,
            "| {label} | {} | {sign}{} |",
            usd(total),
            usd(diff.abs())
        );
    }
    out
}
