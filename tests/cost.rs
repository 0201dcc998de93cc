//! `cost`: the monthly bill, against bills worked out by hand from the
//! price list (the arithmetic is written out in each comment).

use firehose_enricher::cost::{self, Format, Layout, Usage};

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() < 1e-6, "{what}: {got} != {want}");
}

fn line(bill: &cost::Bill, item_starts: &str) -> f64 {
    bill.lines
        .iter()
        .find(|l| l.item.starts_with(item_starts))
        .unwrap_or_else(|| panic!("no line {item_starts}"))
        .usd
}

#[test]
fn every_region_has_every_price_and_a_date() {
    let regions = cost::regions();
    for region in ["eu-central-1", "eu-west-1", "us-east-1"] {
        assert!(regions.contains(&region.to_owned()), "{region}");
    }
    for region in &regions {
        let p = cost::prices(region).unwrap();
        assert!(
            p.written.len() == 7 && p.written.starts_with("20"),
            "{region}"
        );
        let json = serde_json::to_value(&p).unwrap();
        for (name, v) in json.as_object().unwrap() {
            if name != "written" {
                assert!(v.as_f64().unwrap() > 0.0, "{region} {name}");
            }
        }
    }
    let e = cost::prices("mars-north-1").unwrap_err();
    assert!(e.contains("eu-central-1"), "{e}");
    let about: serde_json::Value = serde_json::from_str(cost::PRICES_JSON).unwrap();
    for service in ["firehose", "lambda", "s3", "cloudwatch", "athena"] {
        assert!(about["sources"][service]
            .as_str()
            .unwrap()
            .starts_with("https://"));
    }
}

/// The template's defaults, a million 600-byte events on three sites, in
/// eu-central-1: the target is at most $3 a month.
#[test]
fn a_million_events_in_frankfurt_by_hand() {
    let p = cost::prices("eu-central-1").unwrap();
    let b = cost::bill(&Usage::default(), &p);
    // 1e6 records x 5,120 bytes = 5.12 GB x $0.034
    close(line(&b, "ingestion"), 0.17408, "ingestion");
    // 1e6 x 750 bytes = 0.75 GB x $0.024
    close(
        line(&b, "dynamic partitioning, data"),
        0.018,
        "partitioning data",
    );
    // 2,592,000 s / 300 s = 8,640 flushes x 3 sites = 25,920 objects x $0.006/1,000
    close(
        line(&b, "dynamic partitioning, objects"),
        0.15552,
        "objects",
    );
    // 2,592,000 s / 60 s = 43,200 invocations x $0.20/1e6
    close(line(&b, "requests"), 0.00864, "lambda requests");
    // 23.15 records: (0.5 + 0.0045 x 23.15) ms / (512/1769) = 2.09 -> 3 ms;
    // 43,200 x 0.003 s x 0.5 GB = 64.8 GB-s x $0.0000133334
    close(line(&b, "duration"), 0.000864004, "lambda duration");
    // 25,920 PUTs x $0.0054/1,000
    close(line(&b, "PUT"), 0.139968, "puts");
    // 0.75 GB / 8 = 0.09375 GB x $0.0245
    close(line(&b, "storage"), 0.002296875, "storage");
    // 3 default metrics x $0.30; 7 alarms x $0.10 (IpNotAnonymized with the
    // default AnonymizeIp=on)
    close(line(&b, "custom metrics"), 0.9, "metrics");
    close(line(&b, "alarms"), 0.7, "alarms");
    // 43,200 x 1,200 bytes = 0.05184 GB x $0.63; stored /6 x $0.0324
    close(line(&b, "logs ingested"), 0.0326592, "logs");
    close(line(&b, "logs stored"), 0.000279936, "log storage");
    // a day is 3.125 MB, below the 10 MB minimum: 300 x 10 MB = 0.003 TB x $5
    close(line(&b, "data scanned"), 0.015, "athena scan");
    // 300 queries x 864 objects a day = 259,200 GETs x $0.00043/1,000
    close(line(&b, "S3 GET"), 0.111456, "gets");
    // 300 x 3 site partitions = 900 LISTs x $0.0054/1,000
    close(line(&b, "S3 LIST"), 0.00486, "lists");
    close(b.total, 2.263624015, "total");
    assert!(b.total <= 3.0, "the target: {}", b.total);
    // CloudWatch's fixed items are most of it.
    assert!(b.service("CloudWatch") > b.total / 2.0);
}

/// 100 M events, Parquet, Date layout, us-east-1: Parquet conversion is
/// billed on the same 5 KB steps as ingestion ($9.22, not $1.35).
#[test]
fn a_hundred_million_parquet_events_in_virginia_by_hand() {
    let p = cost::prices("us-east-1").unwrap();
    let u = Usage {
        events_per_month: 1e8,
        layout: Layout::Date,
        format: Format::Parquet,
        sites: 200.0,
        ..Usage::default()
    };
    let b = cost::bill(&u, &p);
    // 1e8 x 5,120 bytes = 512 GB x $0.029, and x $0.018
    close(line(&b, "ingestion"), 14.848, "ingestion");
    close(line(&b, "format conversion"), 9.216, "conversion");
    // 75 GB x $0.020
    close(
        line(&b, "dynamic partitioning, data"),
        1.5,
        "partitioning data",
    );
    // Date: one partition per flush, 8,640 objects (75 GB / 64 MiB = 1,118
    // would be fewer) x $0.005/1,000
    close(line(&b, "dynamic partitioning, objects"), 0.0432, "objects");
    // 60 GB / 0.8 MB = 75,000 buffers, more than 43,200 intervals
    close(line(&b, "requests"), 0.015, "requests");
    // 1,333 records: (0.5 + 6.0) / 0.2894 = 22.46 -> 23 ms;
    // 75,000 x 0.023 s x 0.5 GB = 862.5 GB-s
    close(line(&b, "duration"), 0.0115000575, "duration");
    // 4 + re-ingestion + conversion + IpNotAnonymized alarms
    close(line(&b, "alarms"), 0.7, "alarms");
    // 9.375 GB / 30 days x 25% of the columns x 300 queries = 23.4375 GB
    close(line(&b, "data scanned"), 0.1171875, "scan");
    // 288 objects a day x 2 GETs x 300 queries
    close(line(&b, "S3 GET"), 0.06912, "gets");
    close(b.total, 27.7257825575, "total");
}

#[test]
fn edge_cases() {
    let p = cost::prices("eu-central-1").unwrap();
    // No traffic: only the fixed items and Athena's minimum.
    let idle = cost::bill(
        &Usage {
            events_per_month: 0.0,
            ..Usage::default()
        },
        &p,
    );
    assert_eq!(idle.service("Firehose"), 0.0);
    assert_eq!(idle.service("Lambda"), 0.0);
    assert_eq!(idle.service("S3"), 0.0);
    close(idle.service("CloudWatch"), 1.6, "fixed CloudWatch");
    // 5,120 bytes is one step, 5,121 two.
    for (bytes, steps) in [(1.0, 1.0), (5_120.0, 1.0), (5_121.0, 2.0), (10_240.0, 2.0)] {
        let b = cost::bill(
            &Usage {
                event_bytes: bytes,
                ..Usage::default()
            },
            &p,
        );
        close(line(&b, "ingestion"), steps * 5.12 * 0.034, "steps");
    }
    // Fewer events than sites in a flush: an object per event, not per site.
    let sparse = Usage {
        events_per_month: 1_000.0,
        sites: 50.0,
        ..Usage::default()
    };
    close(cost::objects_per_month(&sparse), 1_000.0, "sparse objects");
    // DetailedMetrics: every metric the function can declare, and its alarms.
    let detailed = Usage {
        detailed_metrics: true,
        site_cap: true,
        ..Usage::default()
    };
    assert_eq!(
        cost::custom_metrics(&detailed),
        firehose_enricher::metrics::metric_names().len()
    );
    assert_eq!(cost::alarm_metrics(&detailed), 7 + 4);
    assert!(cost::custom_metrics(&Usage::default()) <= 5);
}

#[test]
fn the_report_names_every_service_and_each_parameter() {
    let p = cost::prices("eu-central-1").unwrap();
    let text = cost::render("eu-central-1", &Usage::default(), &p);
    for needle in [
        "eu-central-1",
        "written 2025-",
        "| **Firehose** |",
        "| **Lambda** |",
        "| **S3** |",
        "| **CloudWatch** |",
        "| **Athena** |",
        "| **total** | | | **$2.26** |",
        "| Layout=Date |",
        "| OutputFormat=Parquet |",
        "| DeliveryBufferIntervalSeconds=900 |",
        "| DetailedMetrics=on |",
        "| sites x10",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
}

/// docs/deploy.md quotes `make cost`'s default output as it is.
#[test]
fn the_docs_quote_the_default_bill() {
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy.md")).unwrap();
    let p = cost::prices("eu-central-1").unwrap();
    let text = cost::render("eu-central-1", &Usage::default(), &p);
    let begin = "<!-- cost:begin (firehose-enricher cost) -->\n";
    let start = page.find(begin).expect("a cost block in docs/deploy.md") + begin.len();
    let end = page[start..].find("<!-- cost:end -->").unwrap() + start;
    assert_eq!(
        &page[start..end],
        text,
        "docs/deploy.md: rerun `make cost` and paste its output"
    );
}
