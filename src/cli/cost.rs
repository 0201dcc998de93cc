//! `cost`: the monthly bill of the stack for a given traffic, by service,
//! and what each parameter changes (the arithmetic is `cost` in the library).

use firehose_enricher::cost::{self, Format, Layout, Usage};

#[derive(clap::Args, Debug)]
pub struct CostArgs {
    /// Events a month.
    #[arg(long, default_value_t = 1_000_000.0)]
    events: f64,
    /// Mean size of an event as sent, in bytes (one event per record).
    #[arg(long, default_value_t = 600.0)]
    event_bytes: f64,
    /// Mean size of the enriched line; default: event bytes + 150.
    #[arg(long)]
    output_bytes: Option<f64>,
    /// Layout: DateSite, Date or DateHour.
    #[arg(long, default_value = "DateSite")]
    layout: String,
    /// OutputFormat: JSON or Parquet.
    #[arg(long, default_value = "JSON")]
    format: String,
    /// Sites with traffic.
    #[arg(long, default_value_t = 3.0)]
    sites: f64,
    /// The region whose prices apply (data/aws-prices.json).
    #[arg(long, default_value = "eu-central-1")]
    region: String,
    /// Athena queries a month.
    #[arg(long, default_value_t = 300.0)]
    queries: f64,
    /// Days of data each query reads.
    #[arg(long, default_value_t = 1.0)]
    days_per_query: f64,
    /// DeliveryBufferIntervalSeconds.
    #[arg(long, default_value_t = 300.0)]
    delivery_interval: f64,
    /// DetailedMetrics=on.
    #[arg(long)]
    detailed_metrics: bool,
    /// AnonymizeIp=off (the default is on, with its alarm).
    #[arg(long)]
    no_anonymize_ip: bool,
    /// Print the bill as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &CostArgs) -> Result<(), String> {
    let prices = cost::prices(&args.region)?;
    let layout = match args.layout.as_str() {
        "DateSite" => Layout::DateSite,
        "Date" => Layout::Date,
        "DateHour" => Layout::DateHour,
        other => return Err(format!("--layout {other:?}: DateSite, Date or DateHour")),
    };
    let format = match args.format.as_str() {
        "JSON" => Format::Json,
        "Parquet" => Format::Parquet,
        other => return Err(format!("--format {other:?}: JSON or Parquet")),
    };
    for (name, v) in [
        ("--events", args.events),
        ("--event-bytes", args.event_bytes),
        ("--sites", args.sites),
        ("--queries", args.queries),
        ("--days-per-query", args.days_per_query),
        ("--delivery-interval", args.delivery_interval),
    ] {
        if !v.is_finite() || v < 0.0 || (name == "--delivery-interval" && v < 60.0) {
            return Err(format!("{name} {v}: a number from 0 (60 for the interval)"));
        }
    }
    let usage = Usage {
        events_per_month: args.events,
        event_bytes: args.event_bytes,
        output_bytes: args.output_bytes.unwrap_or(args.event_bytes + 150.0),
        layout,
        format,
        sites: args.sites,
        queries_per_month: args.queries,
        days_per_query: args.days_per_query,
        delivery_interval_s: args.delivery_interval,
        detailed_metrics: args.detailed_metrics,
        anonymize_ip: !args.no_anonymize_ip,
        ..Usage::default()
    };
    if args.json {
        let bill = cost::bill(&usage, &prices);
        let v = serde_json::json!({"region": args.region, "usage": usage, "prices": prices, "bill": bill});
        println!("{v}");
    } else {
        print!("{}", cost::render(&args.region, &usage, &prices));
    }
    Ok(())
}
