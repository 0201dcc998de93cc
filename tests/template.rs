//! The SAM template and the code must agree: the stream invokes this function,
//! its prefixes use only partition keys the function returns, the Glue table's
//! projection matches the values the function writes, the function's
//! environment is its configuration with the same defaults, and the alarms
//! watch metrics the function emits. A change on either side that breaks the
//! wiring fails here, not in an AWS account.
//!
//! CloudFormation's short-form tags (`!Ref`, `!If` …) arrive from serde_yaml as
//! `Value::Tagged`; the long forms (`Ref:`, `Fn::If:`) are accepted too.

use base64::Engine;
use firehose_enricher::{batch, config, metrics, partition, Config};
use serde_yaml::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};

const TEMPLATE: &str = include_str!("../template.yaml");

/// The layout the local `replay` command reproduces; its strings are part of
/// an agreed interface and must not change silently.
const DEFAULT_LAYOUT: &str = "DateSite";
const DEFAULT_PREFIX: &str =
    "events/dt=!{partitionKeyFromLambda:dt}/site=!{partitionKeyFromLambda:site}/";
const DEFAULT_ERROR_PREFIX: &str =
    "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/";

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE).expect("template.yaml is YAML")
}

fn get<'v>(v: &'v Value, path: &[&str]) -> &'v Value {
    path.iter().fold(v, |v, key| match v.get(*key) {
        Some(next) => next,
        None => panic!("template has no {}", path.join(".")),
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

/// The argument of an intrinsic function, short form (`!Ref X`) or long
/// form (`{Ref: X}`, `{Fn::GetAtt: …}`).
fn intrinsic<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    match v {
        Value::Tagged(t) if t.tag == format!("!{name}") => Some(&t.value),
        Value::Mapping(m) if m.len() == 1 => {
            let long = if name == "Ref" {
                name.to_string()
            } else {
                format!("Fn::{name}")
            };
            m.get(long.as_str())
        }
        _ => None,
    }
}

/// Every value `v` can take: both branches of each `!If`, recursively.
fn branches(v: &Value) -> Vec<&Value> {
    match intrinsic(v, "If") {
        Some(Value::Sequence(args)) if args.len() == 3 => {
            let mut out = branches(&args[1]);
            out.extend(branches(&args[2]));
            out
        }
        _ => vec![v],
    }
}

fn resources_of_type<'v>(t: &'v Value, kind: &str) -> Vec<(String, &'v Value)> {
    get(t, &["Resources"])
        .as_mapping()
        .expect("Resources is a map")
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
        .map(|(name, r)| (text(name), r))
        .collect()
}

/// The transformation function (the collector, `Collector=on`, is the other
/// `AWS::Serverless::Function`).
fn enricher(t: &Value) -> (String, &Value) {
    (
        "EnricherFunction".into(),
        get(t, &["Resources", "EnricherFunction"]),
    )
}

fn single<'v>(t: &'v Value, kind: &str) -> (String, &'v Value) {
    let mut all = resources_of_type(t, kind);
    assert_eq!(all.len(), 1, "expected exactly one {kind}");
    all.remove(0)
}

/// The strings `v` can evaluate to: a literal, or every entry a
/// `!FindInMap [Map, !Ref Param, Key]` can select.
fn possible_strings(t: &Value, v: &Value) -> Vec<(String, String)> {
    if let Some(s) = v.as_str() {
        return vec![("literal".into(), s.to_owned())];
    }
    let args = intrinsic(v, "FindInMap")
        .and_then(Value::as_sequence)
        .unwrap_or_else(|| panic!("expected a string or !FindInMap, got {v:?}"));
    let map = get(t, &["Mappings", args[0].as_str().expect("map name")]);
    let key = args[2].as_str().expect("second-level key");
    map.as_mapping()
        .expect("mapping")
        .iter()
        .map(|(top, entry)| (text(top), text(get(entry, &[key]))))
        .collect()
}

/// `!{namespace:name}` expressions of a Firehose prefix.
fn expressions(prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = prefix;
    while let Some(start) = rest.find("!{") {
        let end = rest[start..]
            .find('}')
            .unwrap_or_else(|| panic!("unclosed expression in {prefix}"));
        let inner = &rest[start + 2..start + end];
        let (ns, name) = inner
            .split_once(':')
            .unwrap_or_else(|| panic!("expression without namespace in {prefix}"));
        out.push((ns.to_owned(), name.to_owned()));
        rest = &rest[start + end + 1..];
    }
    out
}

fn s3_destination(t: &Value) -> &Value {
    let (_, stream) = single(t, "AWS::KinesisFirehose::DeliveryStream");
    get(
        stream,
        &["Properties", "ExtendedS3DestinationConfiguration"],
    )
}

/// Runs the real core on one record and returns its partition keys.
fn keys_for(ts: &str) -> BTreeMap<String, String> {
    let data = base64::engine::general_purpose::STANDARD.encode(format!(
        r#"{{"ts":"{ts}","url":"https://www.example.co.uk/"}}"#
    ));
    let request = format!(
        r#"{{"invocationId":"i","records":[{{"recordId":"1","approximateArrivalTimestamp":1795770000000,"data":"{data}"}}]}}"#
    );
    let out = batch::process(request.as_bytes(), &Config::default()).expect("valid request");
    let response: serde_json::Value = serde_json::from_slice(out.response.as_bytes()).unwrap();
    let record = &response["records"][0];
    assert_eq!(record["result"], "Ok", "{record}");
    record["metadata"]["partitionKeys"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// Whether `value` has the shape of a Java date pattern made of the letters
/// y, M, d, H (each one digit) and literals.
fn matches_java_pattern(pattern: &str, value: &str) -> bool {
    pattern.len() == value.len()
        && pattern.chars().zip(value.chars()).all(|(p, v)| match p {
            'y' | 'M' | 'd' | 'H' => v.is_ascii_digit(),
            'a'..='z' | 'A'..='Z' => false,
            _ => p == v,
        })
}

#[test]
fn java_pattern_matcher_edge_cases() {
    let cases: &[(&str, &str, bool)] = &[
        ("yyyy-MM-dd", "2026-11-27", true),
        ("yyyy-MM-dd", "2026-1-27", false),
        ("yyyy-MM-dd", "2026/11/27", false),
        ("yyyy-MM-dd", "2026-11-2x", false),
        ("yyyy-MM-dd", "", false),
        ("HH", "05", true),
        ("HH", "5", false),
        // An unknown pattern letter never matches: the test would rather
        // fail than guess what `mm` or `a` mean.
        ("yyyy-MM-dd-a", "2026-11-27-1", false),
    ];
    for (pattern, value, want) in cases {
        assert_eq!(
            matches_java_pattern(pattern, value),
            *want,
            "{pattern} ~ {value}"
        );
    }
}

#[test]
fn the_stream_invokes_this_function_and_no_delimiter_processor() {
    let t = template();
    let (function, resource) = enricher(&t);
    assert_eq!(
        text(get(resource, &["Metadata", "BuildMethod"])),
        "rust-cargolambda"
    );
    assert_eq!(
        text(get(resource, &["Metadata", "BuildProperties", "Binary"])),
        env!("CARGO_PKG_NAME"),
        "sam build must build this crate's binary"
    );
    assert_eq!(
        text(get(resource, &["Properties", "Runtime"])),
        "provided.al2023"
    );
    assert_eq!(
        text(get(resource, &["Properties", "LoggingConfig", "LogFormat"])),
        "JSON",
        "the function's tracing subscriber reads AWS_LAMBDA_LOG_FORMAT=JSON"
    );

    let processing = get(s3_destination(&t), &["ProcessingConfiguration"]);
    assert_eq!(get(processing, &["Enabled"]), &Value::Bool(true));
    let processors = get(processing, &["Processors"]).as_sequence().unwrap();
    let types: Vec<String> = processors.iter().map(|p| text(get(p, &["Type"]))).collect();
    assert_eq!(
        types,
        ["Lambda"],
        "the function appends \\n itself; an AppendDelimiterToRecord processor would add empty lines"
    );
    let params = get(&processors[0], &["Parameters"]).as_sequence().unwrap();
    let param = |name: &str| {
        params
            .iter()
            .find(|p| text(get(p, &["ParameterName"])) == name)
            .map(|p| get(p, &["ParameterValue"]))
            .unwrap_or_else(|| panic!("processor has no {name}"))
    };
    let target = intrinsic(param("LambdaArn"), "GetAtt").expect("LambdaArn is !GetAtt");
    let target = match target {
        Value::String(s) => s.clone(),
        Value::Sequence(parts) => parts.iter().map(text).collect::<Vec<_>>().join("."),
        other => panic!("unexpected GetAtt {other:?}"),
    };
    assert_eq!(target, format!("{function}.Arn"));

    // The processor buffer: never above Firehose's 3 MB; its default is
    // checked against the samples in tests/sizing.rs.
    let size = intrinsic(param("BufferSizeInMBs"), "Ref").expect("a parameter");
    let size = get(&t, &["Parameters", size.as_str().unwrap()]);
    assert_eq!(text(get(size, &["MaxValue"])), "3");
    param("NumberOfRetries");
}

#[test]
fn default_layout_is_the_agreed_one() {
    let t = template();
    assert_eq!(
        text(get(&t, &["Parameters", "Layout", "Default"])),
        DEFAULT_LAYOUT
    );
    let layout = get(&t, &["Mappings", "Layouts", DEFAULT_LAYOUT]);
    assert_eq!(text(get(layout, &["Prefix"])), DEFAULT_PREFIX);
    assert_eq!(
        text(get(layout, &["ErrorOutputPrefix"])),
        DEFAULT_ERROR_PREFIX
    );
}

#[test]
fn prefixes_use_only_keys_the_function_returns() {
    let t = template();
    let dest = s3_destination(&t);
    let prefixes = possible_strings(&t, get(dest, &["Prefix"]));
    let errors = possible_strings(&t, get(dest, &["ErrorOutputPrefix"]));
    assert!(prefixes.len() >= 2, "one prefix per layout");
    let returned: BTreeSet<&str> = partition::KEY_NAMES.into_iter().collect();
    for (layout, prefix) in &prefixes {
        let used: Vec<_> = expressions(prefix);
        assert!(!used.is_empty(), "{layout}: prefix {prefix} is not dynamic");
        for (ns, name) in used {
            assert_eq!(ns, "partitionKeyFromLambda", "{layout}: {prefix}");
            assert!(
                returned.contains(name.as_str()),
                "{layout}: {prefix} uses {name}, which the function does not return"
            );
        }
        assert!(prefix.starts_with("events/") && prefix.ends_with('/'));
    }
    for (layout, prefix) in &errors {
        assert!(
            prefix.contains("!{firehose:error-output-type}"),
            "{layout}: Firehose requires the error type in an expression prefix"
        );
        assert!(
            !prefix.starts_with("events/"),
            "{layout}: errors must stay outside the table's location"
        );
    }
}

#[test]
fn table_locations_follow_the_stream_prefixes() {
    let t = template();
    let layouts = get(&t, &["Mappings", "Layouts"]).as_mapping().unwrap();
    for (name, layout) in layouts {
        let prefix = text(get(layout, &["Prefix"]));
        let mut expected = prefix.clone();
        for key in partition::KEY_NAMES {
            expected = expected.replace(
                &format!("!{{partitionKeyFromLambda:{key}}}"),
                &format!("${{{key}}}"),
            );
        }
        assert_eq!(
            text(get(layout, &["LocationTemplate"])),
            expected,
            "{}: the table must read where the stream writes",
            text(name)
        );
    }
}

#[test]
fn the_errors_table_reads_where_every_layout_writes_failed_records() {
    let t = template();
    assert_eq!(resources_of_type(&t, "AWS::Glue::Table").len(), 3);
    // Each error table reads the folder of one `error-output-type`.
    for (resource, output_type) in [
        ("ErrorsTable", "processing-failed"),
        ("ConversionErrorsTable", "format-conversion-failed"),
    ] {
        let input = get(&t, &["Resources", resource, "Properties", "TableInput"]);
        let params = get(input, &["Parameters"]);
        assert_eq!(text(get(params, &["projection.dt.format"])), "yyyy-MM-dd");
        let location = intrinsic(get(params, &["storage.location.template"]), "Sub")
            .map(text)
            .expect("a !Sub over the bucket");
        // `${!dt}` is !Sub's escape for a literal `${dt}`.
        let location = location.replace("${!dt}", "${dt}");
        let layouts = get(&t, &["Mappings", "Layouts"]).as_mapping().unwrap();
        for (name, layout) in layouts {
            // Firehose's `yyyy-MM-dd` timestamp is the projection's `yyyy-MM-dd`.
            let expected = text(get(layout, &["ErrorOutputPrefix"]))
                .replace("!{firehose:error-output-type}", output_type)
                .replace("!{timestamp:yyyy-MM-dd}", "${dt}");
            assert_eq!(
                location,
                format!("s3://${{DataBucket}}/{expected}"),
                "{resource}, {}",
                text(name)
            );
        }
    }
}

#[test]
fn projection_matches_the_values_the_function_writes() {
    let t = template();
    let input = get(
        &t,
        &["Resources", "EventsTable", "Properties", "TableInput"],
    );

    // Values from the real core: a late-evening and an early-morning event.
    let samples = [
        keys_for("2026-11-26T23:59:59Z"),
        keys_for("2026-11-27T05:01:02Z"),
    ];
    assert_eq!(samples[0]["dt"], "2026-11-26");
    assert_eq!(samples[1]["hour"], "05");

    let variants = branches(get(input, &["Parameters"]));
    assert!(variants.len() >= 3, "one projection per layout");
    let mut saw_hour = false;
    for params in variants {
        let p = |key: &str| params.get(key).map(text);
        assert_eq!(p("projection.enabled").as_deref(), Some("true"));
        assert!(params.get("storage.location.template").is_some());

        assert_eq!(p("projection.dt.type").as_deref(), Some("date"));
        let format = p("projection.dt.format").expect("dt format");
        assert_eq!(format, "yyyy-MM-dd");
        for keys in &samples {
            assert!(
                matches_java_pattern(&format, &keys["dt"]),
                "dt {} does not match projection format {format}",
                keys["dt"]
            );
        }
        assert_eq!(p("projection.dt.interval.unit").as_deref(), Some("DAYS"));

        if let Some(kind) = p("projection.hour.type") {
            saw_hour = true;
            assert_eq!(kind, "enum");
            let values: Vec<String> = p("projection.hour.values")
                .unwrap()
                .split(',')
                .map(str::to_owned)
                .collect();
            let every_hour: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
            assert_eq!(values, every_hour, "every hour the function can write");
            for keys in &samples {
                assert!(matches_java_pattern("HH", &keys["hour"]));
                assert!(values.contains(&keys["hour"]));
            }
        }
        if let Some(kind) = p("projection.site.type") {
            assert!(kind == "enum" || kind == "injected", "site: {kind}");
            if kind == "enum" {
                // The allowlist plus the two values the function falls back to.
                let values = intrinsic(get(params, &["projection.site.values"]), "Sub")
                    .map(text)
                    .expect("site values come from SiteAllowlist");
                for fallback in [partition::OTHER, partition::UNKNOWN] {
                    assert!(values.split(',').any(|v| v == fallback), "{values}");
                }
            }
        }
    }
    assert!(saw_hour, "the DateHour layout projects hour");

    // Partition columns are strings, so `dt BETWEEN '…' AND '…'` compares
    // the same text the folders hold.
    for keys in branches(get(input, &["PartitionKeys"])) {
        for column in keys.as_sequence().unwrap() {
            let name = text(get(column, &["Name"]));
            assert!(partition::KEY_NAMES.contains(&name.as_str()), "{name}");
            assert_eq!(text(get(column, &["Type"])), "string");
        }
    }
    // The timestamps the function writes are TIMESTAMP columns.
    for columns in branches(get(input, &["StorageDescriptor", "Columns"])) {
        let types: BTreeMap<String, String> = columns
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| (text(get(c, &["Name"])), text(get(c, &["Type"]))))
            .collect();
        assert_eq!(types["event_time"], "timestamp");
        assert_eq!(types["received_at"], "timestamp");
    }
}

#[test]
fn environment_is_the_configuration_with_the_same_defaults() {
    let t = template();
    let (_, function) = enricher(&t);
    let env: &Mapping = get(function, &["Properties", "Environment", "Variables"])
        .as_mapping()
        .expect("a map of variables");
    let names: BTreeSet<String> = env.keys().map(text).collect();
    let expected: BTreeSet<String> = config::VARIABLES.iter().map(|v| v.name.into()).collect();
    assert_eq!(names, expected, "the environment is exactly VARIABLES");

    let mut lookup = BTreeMap::new();
    for var in config::VARIABLES {
        let value = &env[var.name];
        if var.name == "HASH_KEY" {
            // A secret: from Secrets Manager through a dynamic reference,
            // only when HASH_FIELDS is set; empty (its default) otherwise.
            let branches = intrinsic(value, "If")
                .and_then(Value::as_sequence)
                .expect("HASH_KEY is chosen by a condition");
            assert_eq!(text(&branches[0]), "HasHashFields");
            let secret = intrinsic(&branches[1], "Sub").map(text).unwrap_or_default();
            assert!(
                secret.starts_with("{{resolve:secretsmanager:"),
                "HASH_KEY must be a Secrets Manager dynamic reference: {secret}"
            );
            assert_eq!(text(&branches[2]), var.default);
            lookup.insert(var.name, var.default.to_owned());
            continue;
        }
        if intrinsic(value, "If").is_some() {
            // Set only under a condition (COLUMNS in Parquet mode): one
            // branch leaves it unset, so its default applies, and the other
            // is a literal the function accepts.
            let values = branches(value);
            assert_eq!(values.len(), 2, "{}", var.name);
            assert!(
                values
                    .iter()
                    .any(|v| intrinsic(v, "Ref").and_then(Value::as_str) == Some("AWS::NoValue")),
                "{}: one branch leaves it unset",
                var.name
            );
            let literals = values.iter().filter(|v| !matches!(v, Value::Tagged(_)));
            for v in literals.map(|v| v.as_str().expect("a literal string")) {
                Config::from_lookup(|name| (name == var.name).then(|| v.to_owned()))
                    .unwrap_or_else(|e| panic!("{}: {e}", var.name));
            }
            continue;
        }
        let param = intrinsic(value, "Ref")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{} must be fed by a parameter", var.name));
        let default = get(&t, &["Parameters", param, "Default"]);
        assert_eq!(
            text(default),
            var.default,
            "parameter {param} must default to {}'s default",
            var.name
        );
        lookup.insert(var.name, text(default));
    }
    // And the template's defaults, as Lambda would pass them, are accepted.
    Config::from_lookup(|name| lookup.get(name).cloned()).expect("defaults are valid");
}

/// The metrics an alarm reads: `(namespace, name, dimension names)`, from
/// its own properties or from each `MetricStat` of a metric-math alarm.
fn alarm_metrics(props: &Value) -> Vec<(String, String, Vec<String>)> {
    let one = |m: &Value| {
        let dims = m["Dimensions"].as_sequence().expect("dimensions");
        (
            text(&m["Namespace"]),
            text(&m["MetricName"]),
            dims.iter().map(|d| text(get(d, &["Name"]))).collect(),
        )
    };
    match props.get("Metrics").and_then(Value::as_sequence) {
        Some(queries) => queries
            .iter()
            .filter_map(|q| q.get("MetricStat"))
            .map(|stat| one(get(stat, &["Metric"])))
            .collect(),
        None => vec![one(props)],
    }
}

/// The alarm reading `namespace`/`metric`, and its condition if any.
fn alarm_on<'v>(t: &'v Value, namespace: &str, metric: &str) -> (String, &'v Value) {
    resources_of_type(t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .find(|(_, a)| {
            alarm_metrics(&a["Properties"])
                .iter()
                .any(|(ns, m, _)| ns == namespace && m == metric)
        })
        .unwrap_or_else(|| panic!("no alarm on {namespace} {metric}"))
}

#[test]
fn alarms_watch_metrics_the_function_emits() {
    let t = template();
    let emitted: BTreeSet<String> = metrics::metric_names()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let mut watched = BTreeSet::new();
    for (name, alarm) in resources_of_type(&t, "AWS::CloudWatch::Alarm") {
        let props = get(alarm, &["Properties"]);
        assert!(props.get("AlarmActions").is_some(), "{name} can notify");
        for (namespace, metric, dims) in alarm_metrics(props) {
            if namespace != metrics::NAMESPACE {
                continue;
            }
            assert!(emitted.contains(&metric), "{name}: {metric} is not emitted");
            assert_eq!(dims, ["FunctionName"], "{name}: EMF dimension");
            // A metric outside the default set exists only with
            // DetailedMetrics=on, so its alarm must need that too.
            if !metrics::DEFAULT_METRICS.contains(&metric.as_str()) {
                let condition = text(&alarm["Condition"]);
                let defined = format!("{:?}", get(&t, &["Conditions", &condition]));
                assert!(
                    condition == "IsDetailed" || defined.contains("IsDetailed"),
                    "{name} watches {metric}, a detailed metric, under {condition}"
                );
            }
            watched.insert(metric);
        }
    }
    for required in [
        "RecordsFailed",
        "FailedInternalError",
        "FailedResponseTooLarge",
        "SiteOther",
        "Reingested",
        "IpNotAnonymized",
    ] {
        assert!(watched.contains(required), "no alarm on {required}");
    }
    // Unmasked values matter only when masking is on.
    let (_, ip) = resources_of_type(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .find(|(_, a)| a["Properties"]["MetricName"] == "IpNotAnonymized")
        .unwrap();
    assert_eq!(ip["Condition"], "AnonymizesIp");
    let condition = format!("{:?}", get(&t, &["Conditions", "AnonymizesIp"]));
    assert!(
        condition.contains("AnonymizeIp") && condition.contains("\"on\""),
        "AnonymizesIp is AnonymizeIp = on: {condition}"
    );
}

/// Every string a policy `Resource` can be: literals, and the text of
/// `!Sub` / `!GetAtt` (as `Name.Attr`), in both branches of `!If`.
fn resource_strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().flat_map(resource_strings).collect(),
        Value::String(s) => vec![s.clone()],
        _ => {
            if let Some(args) = intrinsic(v, "If").and_then(Value::as_sequence) {
                return args[1..].iter().flat_map(resource_strings).collect();
            }
            if let Some(s) = intrinsic(v, "Sub") {
                return vec![text(s)];
            }
            if let Some(s) = intrinsic(v, "GetAtt") {
                return vec![text(s)];
            }
            panic!("unexpected Resource {v:?}")
        }
    }
}

/// (role, action, resource) for every Allow statement of the stack's roles.
fn allowed(t: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (role, r) in resources_of_type(t, "AWS::IAM::Role") {
        let policies = get(r, &["Properties", "Policies"]).as_sequence().unwrap();
        for policy in policies.iter().flat_map(branches) {
            if policy.as_mapping().is_none() {
                continue; // the !Ref AWS::NoValue branch
            }
            let statements = get(policy, &["PolicyDocument", "Statement"]);
            for st in statements.as_sequence().unwrap().iter().flat_map(branches) {
                if st.as_mapping().is_none() {
                    continue; // the !Ref AWS::NoValue branch
                }
                assert_eq!(text(get(st, &["Effect"])), "Allow", "{role}");
                let actions: Vec<String> = match get(st, &["Action"]) {
                    Value::Sequence(a) => a.iter().map(text).collect(),
                    one => vec![text(one)],
                };
                for action in actions {
                    for res in resource_strings(get(st, &["Resource"])) {
                        out.push((role.clone(), action.clone(), res));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn roles_reach_only_this_stacks_resources() {
    let t = template();
    let grants = allowed(&t);
    assert!(!grants.is_empty());
    for (role, action, resource) in &grants {
        assert!(!action.contains('*'), "{role}: wildcard action {action}");
        assert!(resource != "*", "{role}: {action} on every resource");
        let service = action.split(':').next().unwrap();
        let ok = match service {
            // Only the two prefixes the stream writes, or the bucket itself
            // for the bucket-level calls.
            "s3" => {
                resource == "DataBucket.Arn"
                    || resource == "${DataBucket.Arn}/events/*"
                    || resource == "${DataBucket.Arn}/errors/*"
            }
            "lambda" => {
                resource.starts_with("EnricherFunction.Arn")
                    || resource.starts_with("${EnricherFunction.Arn}")
            }
            "logs" => {
                resource.starts_with("${EnricherLogGroup.Arn}")
                    || resource.starts_with("${CollectorLogGroup.Arn}")
                    || resource.starts_with("${DeliveryLogGroup.Arn}")
            }
            "glue" => resource.contains("${GlueDatabase}") || resource.ends_with(":catalog"),
            // The collector sends to this stack's stream, by its ARN.
            "firehose" => action == "firehose:PutRecordBatch" && resource == "DeliveryStream.Arn",
            _ => false,
        };
        assert!(ok, "{role}: {action} on {resource}");
    }
    let function_role = text(
        intrinsic(
            get(&t, &["Resources", "EnricherFunction", "Properties", "Role"]),
            "GetAtt",
        )
        .unwrap(),
    );
    let function_role = function_role.trim_end_matches(".Arn");
    for (role, action, resource) in &grants {
        if role == function_role {
            assert!(
                action.starts_with("logs:"),
                "the role itself only logs: {action}"
            );
            assert!(
                resource.starts_with("${EnricherLogGroup.Arn}"),
                "{resource}"
            );
        }
    }
    // Re-ingestion: PutRecordBatch on this stack's stream only, by its ARN
    // (whatever its name), and only with ReingestOverflow.
    let (_, policy) = single(&t, "AWS::IAM::Policy");
    assert_eq!(policy["Condition"], "Reingests");
    let roles = format!("{:?}", policy["Properties"]["Roles"]);
    assert!(roles.contains(function_role), "{roles}");
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"], "firehose:PutRecordBatch");
    assert_eq!(
        intrinsic(&statements[0]["Resource"], "GetAtt").map(text),
        Some("DeliveryStream.Arn".into())
    );
    for required in ["lambda:InvokeFunction", "s3:PutObject", "logs:PutLogEvents"] {
        assert!(grants.iter().any(|(_, a, _)| a == required), "{required}");
    }
}

/// Lambda refuses a function whose environment variables exceed 4 KB in
/// total (names and values). Every variable is counted at its largest: a
/// parameter at its `MaxLength` (or its longest allowed value), a literal
/// as it is. So every parameter feeding the environment must be bounded,
/// and the bounds together must fit, whatever the deployer enters.
#[test]
fn the_largest_environment_fits_lambdas_4_kb() {
    let t = template();
    let (_, function) = enricher(&t);
    let env = get(function, &["Properties", "Environment", "Variables"])
        .as_mapping()
        .unwrap();
    let mut total = 0;
    for (name, value) in env {
        let name = text(name);
        let largest = branches(value)
            .into_iter()
            .map(|v| match intrinsic(v, "Ref").and_then(Value::as_str) {
                Some("AWS::NoValue") => 0,
                Some(param) => {
                    let p = get(&t, &["Parameters", param]);
                    match (p.get("MaxLength"), p.get("AllowedValues")) {
                        (Some(max), _) => text(max).parse().unwrap(),
                        (None, Some(values)) => values
                            .as_sequence()
                            .unwrap()
                            .iter()
                            .map(|v| text(v).len())
                            .max()
                            .unwrap(),
                        (None, None) => panic!("{param} ({name}) has no MaxLength"),
                    }
                }
                // HASH_KEY's Secrets Manager reference resolves to the key:
                // counted as up to 128 bytes (docs/deploy.md, Several regions).
                None if intrinsic(v, "Sub").is_some() => 128,
                None => text(v).len(),
            })
            .max()
            .unwrap();
        total += name.len() + largest;
    }
    assert!(
        total > 2000,
        "the lists are counted at their maxima: {total}"
    );
    assert!(
        total <= 4096,
        "{total} bytes of 4096 at the parameters' maxima"
    );
}

/// `COLUMNS=bundled` reads the list the template holds, compiled into the
/// function, and the template passes exactly that in Parquet mode.
#[test]
fn parquet_columns_come_from_the_package_not_the_environment() {
    let t = template();
    let listed = text(get(&t, &["Metadata", "FirehoseEnricher", "Columns"]));
    let bundled = firehose_enricher::schema::render::bundled_columns().expect("the block");
    assert_eq!(bundled, listed);
    let columns = firehose_enricher::schema::parse_columns(bundled).expect("a column list");
    assert!(columns.iter().any(|(n, _)| n == "extra"));
    let (_, function) = enricher(&t);
    let env = get(
        function,
        &["Properties", "Environment", "Variables", "COLUMNS"],
    );
    assert!(branches(env).iter().any(|v| v.as_str() == Some("bundled")));
    let config = Config::from_lookup(|n| (n == "COLUMNS").then(|| "bundled".into())).unwrap();
    assert_eq!(config.output_fields().last(), Some(&"extra"));
}

// ------------------------------------------------------------ deploy wiring

/// A Makefile target's recipe lines.
fn recipe(target: &str) -> Vec<String> {
    let makefile = include_str!("../Makefile");
    let mut lines = makefile.lines().skip_while(|l| {
        !l.split(':')
            .next()
            .is_some_and(|names| names.split_whitespace().any(|n| n == target))
            || !l.contains(':')
            || l.starts_with('\t')
    });
    assert!(lines.next().is_some(), "Makefile has no {target} target");
    lines
        .take_while(|l| l.starts_with('\t'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn build_and_deploy_see_the_same_parameters() {
    // The builder picks the binary's architecture from the parameters it
    // is given: every sam build and sam deploy gets samconfig's overrides.
    for target in ["sam-build", "deploy", "deploy-ci"] {
        let lines = recipe(target);
        let sam: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("sam build") || l.contains("sam deploy"))
            .collect();
        assert!(!sam.is_empty() || target == "deploy", "{target}: {lines:?}");
        for line in sam {
            assert!(line.contains("$(SAM_PARAMS)"), "{target}: {line}");
        }
    }
    // CI deploys through the same target, never with a bare sam command,
    // to each region of its list.
    let workflow = include_str!("../.github/workflows/deploy.yml");
    assert!(workflow.contains("make deploy-ci REGION=\"$region\""));
    assert!(workflow.contains("for region in"));
    // Every deploy ends with the smoke invoke, which fails the deploy.
    for target in ["deploy", "deploy-ci"] {
        assert!(
            recipe(target).iter().any(|l| l.contains("smoke")),
            "{target} does not run the smoke invoke"
        );
    }
    let smoke = recipe("smoke").join("\n");
    assert!(smoke.contains("--event-file $(SMOKE_EVENT)"), "{smoke}");
    assert!(smoke.contains("tools/smoke_check.py"), "{smoke}");
    assert!(include_str!("../Makefile").contains("SMOKE_EVENT := events/minimal.json"));
    for bare in ["run: sam ", "sam build", "sam deploy"] {
        assert!(!workflow.contains(bare), "deploy.yml runs `{bare}` itself");
    }
    // The merge: later sections win per key, list and string forms alike.
    let dir = std::env::temp_dir().join(format!("fe-samconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[(&str, &str)] = &[
        // Architecture always: the default when samconfig names none.
        ("version = 0.1\n", "Architecture=arm64"),
        (
            "[default.global.parameters]\nparameter_overrides = \"Architecture=\\\"x86_64\\\"\"\n",
            "Architecture=x86_64",
        ),
        (
            "[default.global.parameters]\nparameter_overrides = \"Architecture=arm64 TimeFields=\\\"ts,time\\\"\"\n\
             [default.deploy.parameters]\nparameter_overrides = [\"Architecture=x86_64\"]\n",
            "Architecture=x86_64 TimeFields=ts,time",
        ),
        (
            "[default.deploy.parameters]\nparameter_overrides = \"TimeFields=ts\"\n",
            "TimeFields=ts Architecture=arm64",
        ),
    ];
    for (i, (toml, want)) in cases.iter().enumerate() {
        let path = dir.join(format!("{i}.toml"));
        std::fs::write(&path, toml).unwrap();
        let out = std::process::Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tools/sam_overrides.py"
            ))
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            *want,
            "{toml}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_level_keeps_the_metrics_line() {
    // Lambda reads the EMF line (no level) as INFO; a higher
    // ApplicationLogLevel would filter it out.
    let t = template();
    let allowed = get(&t, &["Parameters", "LogLevel", "AllowedValues"])
        .as_sequence()
        .unwrap();
    for level in allowed {
        assert!(
            ["TRACE", "DEBUG", "INFO"].contains(&text(level).as_str()),
            "LogLevel allows {level:?}"
        );
    }
}

#[test]
fn alarms_notify_a_topic_in_their_own_region() {
    let t = template();
    assert!(t["Parameters"].get("AlarmTopicArn").is_none());
    for (name, alarm) in resources_of_type(&t, "AWS::CloudWatch::Alarm") {
        for key in ["AlarmActions", "OKActions"] {
            let actions = format!("{:?}", alarm["Properties"][key]);
            assert!(
                actions.contains("${AWS::Region}") && actions.contains("${AlarmTopicName}"),
                "{name}.{key}: {actions}"
            );
        }
    }
}

/// An alarm on a metric of the AWS/Firehose namespace, with its condition.
fn firehose_alarm<'v>(t: &'v Value, metric: &str) -> &'v Value {
    alarm_on(t, "AWS/Firehose", metric).1
}

#[test]
fn throttling_and_conversion_failures_have_alarms() {
    let t = template();
    let throttled = firehose_alarm(&t, "ThrottledRecords");
    assert_eq!(
        throttled["Properties"]["ComparisonOperator"],
        "GreaterThanThreshold"
    );
    assert!(throttled.get("Condition").is_none(), "always on");
    let conversion = firehose_alarm(&t, "FailedConversion.Records");
    assert_eq!(conversion["Condition"], "IsParquet");
}

#[test]
fn switching_back_to_json_turns_conversion_off() {
    // UpdateDestination keeps what is left out: the JSON branch must say
    // Enabled: false, not AWS::NoValue.
    let t = template();
    let conversion = &s3_destination(&t)["DataFormatConversionConfiguration"];
    let args = intrinsic(conversion, "If").expect("an !If on IsParquet");
    let args = args.as_sequence().unwrap();
    assert_eq!(args[0], "IsParquet");
    assert_eq!(args[1]["Enabled"], true);
    assert_eq!(args[2]["Enabled"], false, "{:?}", args[2]);
}

#[test]
fn conversion_errors_have_a_table_over_their_prefix() {
    let t = template();
    let (_, table) = resources_of_type(&t, "AWS::Glue::Table")
        .into_iter()
        .find(|(_, r)| r["Properties"]["TableInput"]["Name"] == "conversion_errors")
        .expect("a conversion_errors table");
    assert_eq!(table["Condition"], "IsParquet");
    let location = format!(
        "{:?}",
        table["Properties"]["TableInput"]["StorageDescriptor"]["Location"]
    );
    assert!(
        location.contains("/errors/format-conversion-failed/"),
        "{location}"
    );
    let columns = format!(
        "{:?}",
        table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    );
    for field in ["errorcode", "errormessage", "rawdata", "datacatalogtable"] {
        assert!(columns.contains(field), "{field}: {columns}");
    }
}

/// `30d`, `12h`, `90s` in milliseconds.
fn duration_ms(s: &str) -> i64 {
    let (n, unit) = s.split_at(s.len() - 1);
    let n: i64 = n.parse().unwrap();
    n * match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => panic!("{s}"),
    }
}

/// `NOW-5YEARS,NOW+1DAYS` as (past, future) in milliseconds, a year as 365
/// days (the shorter reading, so the check errs on the safe side).
fn projection_bounds(range: &str) -> (i64, i64) {
    let bound = |part: &str, sign: char| -> i64 {
        let rest = part
            .strip_prefix("NOW")
            .unwrap()
            .strip_prefix(sign)
            .unwrap();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let n: i64 = digits.parse().unwrap();
        let day = 86_400_000;
        n * match &rest[digits.len()..] {
            "YEARS" => 365 * day,
            "MONTHS" => 28 * day,
            "DAYS" => day,
            "HOURS" => 3_600_000,
            other => panic!("{other}"),
        }
    };
    let (past, future) = range.split_once(',').unwrap();
    (bound(past, '-'), bound(future, '+'))
}

#[test]
fn skew_bounds_stay_inside_the_projection_range() {
    let t = template();
    assert_eq!(
        projection_bounds("NOW-5YEARS,NOW+1DAYS"),
        (1825 * 86_400_000, 86_400_000)
    );
    assert_eq!(projection_bounds("NOW-0DAYS,NOW+1DAYS").1, 86_400_000);
    let values = |name: &str| -> Vec<i64> {
        get(&t, &["Parameters", name, "AllowedValues"])
            .as_sequence()
            .unwrap_or_else(|| panic!("{name} is bounded by AllowedValues"))
            .iter()
            .map(|v| duration_ms(&text(v)))
            .collect()
    };
    let (max_future, max_age) = (
        values("MaxFuture").into_iter().max().unwrap(),
        values("MaxAge").into_iter().max().unwrap(),
    );
    // The projection starts on a fixed day: every table's range is
    // `${ProjectionStartDate},NOW+1DAYS`, and the default start is before
    // what MaxAge allows from 2026 on, and before replay's oldest samples.
    let start = text(get(&t, &["Parameters", "ProjectionStartDate", "Default"]));
    assert!(start.as_str() <= "2018-02-11", "{start}");
    let mut tables = 0;
    for (name, table) in resources_of_type(&t, "AWS::Glue::Table") {
        for params in branches(&table["Properties"]["TableInput"]["Parameters"]) {
            let Some(range) = params.get("projection.dt.range") else {
                continue;
            };
            tables += 1;
            let range = intrinsic(range, "Sub").map(text).unwrap_or_default();
            assert_eq!(range, "${ProjectionStartDate},NOW+1DAYS", "{name}");
            let (_, future) =
                projection_bounds(&format!("NOW-0DAYS,{}", range.split_once(',').unwrap().1));
            assert!(
                max_future <= future,
                "{name}: MaxFuture reaches past {range:?}"
            );
        }
    }
    assert!(tables >= 6, "every layout's table and the error tables");
    let max_age_days = max_age / 86_400_000;
    assert!(max_age_days <= (2026 - 2018) * 365, "{max_age_days}");
}

// ------------------------------------------- parameters the function accepts

/// Whether CloudFormation accepts `value` for the parameter `p`: its
/// `AllowedValues`, `AllowedPattern` (a whole-string match, evaluated here),
/// `MinLength` and `MaxLength`.
fn template_accepts(p: &Value, value: &str) -> bool {
    if let Some(values) = p.get("AllowedValues").and_then(Value::as_sequence) {
        if !values.iter().any(|v| text(v) == value) {
            return false;
        }
    }
    if let Some(pattern) = p.get("AllowedPattern") {
        let pattern = text(pattern);
        let re = regex::Regex::new(&format!("^(?:{pattern})$"))
            .unwrap_or_else(|e| panic!("{pattern}: {e}"));
        if !re.is_match(value) {
            return false;
        }
    }
    let len = value.chars().count();
    let bound = |key: &str| p.get(key).map(|v| text(v).parse::<usize>().unwrap());
    bound("MinLength").is_none_or(|min| len >= min)
        && bound("MaxLength").is_none_or(|max| len <= max)
}

/// Whether the function starts with `value` in `variable` (the others at
/// their defaults): the one place this file asks the configuration.
fn function_accepts(variable: &str, value: &str) -> Result<(), String> {
    // HASH_FIELDS comes with its key: the template's Rules demand the
    // secret, and the smoke invoke checks its length. CONSENT_POLICY comes
    // with its enricher: a policy other than `off` needs `consent` in
    // ENRICHMENTS, which no rule over a comma list can check (the smoke
    // invoke fails on it instead).
    let key = "k".repeat(32);
    let enrichments = "referrer,campaign,fingerprint,user_agent,consent";
    Config::from_lookup(|name| match name {
        _ if name == variable => Some(value.to_owned()),
        "HASH_KEY" => Some(key.clone()),
        "ENRICHMENTS" if variable == "CONSENT_POLICY" => Some(enrichments.into()),
        _ => None,
    })
    .map(drop)
    .map_err(|e| e.to_string())
}

/// Every `(variable, parameter)` pair where a parameter feeds the function's
/// environment directly (`VAR: !Ref Param`).
fn environment_parameters(t: &Value) -> Vec<(String, String)> {
    let (_, function) = enricher(t);
    get(function, &["Properties", "Environment", "Variables"])
        .as_mapping()
        .unwrap()
        .iter()
        .filter_map(|(name, value)| {
            let param = intrinsic(value, "Ref")?.as_str()?;
            Some((text(name), param.to_owned()))
        })
        .collect()
}

/// Values a deployer might enter. Every one the template accepts for a
/// parameter must start the function, for every parameter that feeds it,
/// today's and those added later alike.
fn candidate_values() -> Vec<String> {
    let mut values: Vec<String> = [
        // --- edge cases first: empty, separators, spaces, case, signs
        "",
        " ",
        ",",
        ",,",
        "a,",
        ",a",
        "a,,b",
        "a b",
        " a",
        "a ",
        "a\tb",
        ".",
        "a.",
        ".a",
        "a..b",
        "*",
        "*.",
        "*.local",
        "a*.b",
        "A",
        "Example.com",
        "é.com",
        "日本",
        "-1",
        "+5",
        "1.5",
        "1e3",
        "0x10",
        "TRUE",
        "True",
        "ON",
        "yes",
        "30D",
        "1w",
        "a=b",
        "x?y",
        "a&b",
        "none,referrer",
        "referrer,page",
        "Fingerprint",
        "time",
        // public suffixes: nobody's site
        "co.uk",
        "com",
        "github.io",
        "example.com,co.uk",
        // --- well-formed values
        "a",
        "a.b",
        "ts,time",
        "event.time",
        "user.email,ip",
        "localhost",
        "example.com",
        "example.com,shop.co.uk",
        "printer.local,*.test",
        "utm_source,page",
        "none",
        "referrer",
        "fingerprint,fingerprint",
        "0",
        "1",
        "3",
        "99999",
        "100000",
        "100001",
        "200000",
        "true",
        "false",
        "on",
        "off",
        "0s",
        "90s",
        "1d",
        "30d",
        "1825d",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Long lists, around the parameters' MaxLength values.
    for n in [30, 60, 70, 200] {
        let sites: Vec<String> = (0..n).map(|i| format!("site{i}.example")).collect();
        values.push(sites.join(","));
    }
    values
}

/// Values the function rejects but no pattern can: a public suffix is only
/// known from the Public Suffix List. The smoke invoke after every deploy
/// (`make deploy`, the deploy workflow) fails on them instead.
fn beyond_a_pattern(variable: &str, value: &str) -> bool {
    matches!(variable, "SITE_ALLOWLIST" | "INTERNAL_SITES")
        && value
            .split(',')
            .any(|site| ["co.uk", "github.io"].contains(&site))
}

#[test]
fn the_template_rejects_what_the_function_rejects() {
    let t = template();
    let pairs = environment_parameters(&t);
    assert!(pairs.len() >= 20, "{pairs:?}");
    let variables: BTreeSet<&str> = config::VARIABLES.iter().map(|v| v.name).collect();
    let mut checked = 0;
    for (variable, param) in &pairs {
        assert!(
            variables.contains(variable.as_str()),
            "{variable} is no variable"
        );
        let p = get(&t, &["Parameters", param]);
        // Every such parameter is bounded: a list of values, or a pattern
        // with a length (the 4 KB environment test counts it).
        assert!(
            p.get("AllowedValues").is_some()
                || (p.get("AllowedPattern").is_some() && p.get("MaxLength").is_some()),
            "{param} ({variable}) needs AllowedValues, or AllowedPattern and MaxLength"
        );
        let mut values = candidate_values();
        values.push(text(get(p, &["Default"])));
        if let Some(allowed) = p.get("AllowedValues").and_then(Value::as_sequence) {
            values.extend(allowed.iter().map(text));
        }
        for value in values {
            if !template_accepts(p, &value) {
                continue;
            }
            checked += 1;
            let verdict = function_accepts(variable, &value);
            if beyond_a_pattern(variable, &value) {
                assert!(verdict.is_err(), "{variable}={value:?} is a listed gap");
                continue;
            }
            if let Err(e) = verdict {
                panic!("{param} accepts {value:?}, the function does not: {e}");
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn values_that_stopped_the_function_stop_the_deploy() {
    let t = template();
    let param = |name: &str| get(&t, &["Parameters", name]).clone();
    let cases: &[(&str, &str)] = &[
        ("MaxSitesPerBatch", "200000"),
        ("MaxSitesPerBatch", "1.5"),
        ("Enrichments", "referrer,page"),
        ("Enrichments", ""),
        ("TimeFields", ""),
        ("UrlFields", ""),
        ("HostFields", ""),
        ("UserAgentFields", ""),
        ("ReferrerFields", ""),
        ("TimeFields", "ts,,time"),
        ("DropDomains", "Example.com"),
        ("SiteAllowlist", "Example.com"),
        ("SiteAllowlist", "com"),
        ("InternalSites", "page"),
        ("KeepQueryParams", "utm_source,a=b"),
        ("IpFields", "ip,"),
        ("StreamName", &"s".repeat(65)),
        ("DatabaseName", "Events"),
        ("ProjectionStartDate", "NOW-5YEARS"),
    ];
    for (name, value) in cases {
        assert!(!template_accepts(&param(name), value), "{name}={value:?}");
    }
    // Each optional enricher the function knows is a value the template
    // takes, alone and all together.
    let enrichments = param("Enrichments");
    let all: Vec<&str> = firehose_enricher::enrich::optional_names().collect();
    for name in &all {
        assert!(template_accepts(&enrichments, name), "{name}");
    }
    assert!(template_accepts(&enrichments, &all.join(",")));
}

/// The Rules section, evaluated for a set of parameter values: the
/// assertions of every rule whose condition holds. Only the rule functions
/// the template uses (Equals, Not, And, Or, Ref).
fn rules_pass(t: &Value, params: &BTreeMap<&str, &str>) -> Result<(), String> {
    fn eval(v: &Value, params: &BTreeMap<&str, &str>) -> Value {
        if let Some(name) = intrinsic(v, "Ref").and_then(Value::as_str) {
            return Value::String(params.get(name).copied().unwrap_or("").to_owned());
        }
        let args = |name: &str| {
            intrinsic(v, name)
                .and_then(Value::as_sequence)
                .map(|a| a.iter().map(|x| eval(x, params)).collect::<Vec<_>>())
        };
        if let Some(a) = args("Equals") {
            return Value::Bool(text(&a[0]) == text(&a[1]));
        }
        if let Some(a) = args("Not") {
            return Value::Bool(a[0] == Value::Bool(false));
        }
        if let Some(a) = args("And") {
            return Value::Bool(a.iter().all(|x| *x == Value::Bool(true)));
        }
        if let Some(a) = args("Or") {
            return Value::Bool(a.iter().any(|x| *x == Value::Bool(true)));
        }
        v.clone()
    }
    for (name, rule) in get(t, &["Rules"]).as_mapping().unwrap() {
        if let Some(c) = rule.get("RuleCondition") {
            if eval(c, params) != Value::Bool(true) {
                continue;
            }
        }
        for a in rule["Assertions"].as_sequence().unwrap() {
            if eval(&a["Assert"], params) != Value::Bool(true) {
                return Err(format!("{}: {}", text(name), text(&a["AssertDescription"])));
            }
        }
    }
    Ok(())
}

#[test]
fn hash_fields_need_a_secret_before_anything_is_deployed() {
    let t = template();
    let cases: &[(&[(&str, &str)], bool)] = &[
        // --- edge case first: the dynamic reference would read no secret
        (&[("HashFields", "email"), ("HashKeySecret", "")], false),
        (
            &[("HashFields", "email"), ("HashKeySecret", "prod/hash-key")],
            true,
        ),
        (&[("HashFields", ""), ("HashKeySecret", "")], true),
        (
            &[("LakeFormationGrants", "on"), ("OutputFormat", "JSON")],
            false,
        ),
        (
            &[("LakeFormationGrants", "on"), ("OutputFormat", "Parquet")],
            true,
        ),
        (&[], true),
    ];
    for (values, ok) in cases {
        let mut params: BTreeMap<&str, &str> = BTreeMap::new();
        for name in [
            "HashFields",
            "HashKeySecret",
            "LakeFormationGrants",
            "OutputFormat",
        ] {
            params.insert(name, t["Parameters"][name]["Default"].as_str().unwrap());
        }
        params.extend(values.iter().copied());
        assert_eq!(rules_pass(&t, &params).is_ok(), *ok, "{values:?}");
    }
    // The dynamic reference itself names the secret parameter.
    let (_, function) = enricher(&t);
    let key = format!(
        "{:?}",
        get(
            function,
            &["Properties", "Environment", "Variables", "HASH_KEY"]
        )
    );
    assert!(key.contains("${HashKeySecret}"), "{key}");
}

// ------------------------------------------------ names, grants, freshness

#[test]
fn names_fit_firehose_and_differ_between_stacks() {
    let t = template();
    // The stream: a parameter of at most 64 characters, or a name
    // CloudFormation generates within the limit; never the stack's name
    // plus a suffix, which a stack name over 57 characters pushes past 64.
    let stream = get(&t, &["Resources", "DeliveryStream", "Properties"]);
    let name = &stream["DeliveryStreamName"];
    let args = intrinsic(name, "If")
        .and_then(Value::as_sequence)
        .expect("!If");
    assert_eq!(
        intrinsic(&args[1], "Ref").map(text),
        Some("StreamName".into())
    );
    assert_eq!(
        intrinsic(&args[2], "Ref").map(text),
        Some("AWS::NoValue".into())
    );
    assert_eq!(
        text(get(&t, &["Parameters", "StreamName", "MaxLength"])),
        "64"
    );
    // The Glue database: the parameter, else the stack's name, so two
    // stacks in one region never collide on a fixed name.
    let db = get(
        &t,
        &[
            "Resources",
            "GlueDatabase",
            "Properties",
            "DatabaseInput",
            "Name",
        ],
    );
    let db = format!("{db:?}");
    assert!(
        db.contains("DatabaseName") && db.contains("AWS::StackName"),
        "{db}"
    );
    assert_eq!(
        text(get(&t, &["Parameters", "DatabaseName", "Default"])),
        ""
    );
}

#[test]
fn lake_formation_grants_the_delivery_role_before_the_stream() {
    let t = template();
    let (name, grant) = single(&t, "AWS::LakeFormation::Permissions");
    assert_eq!(grant["Condition"], "GrantsLakeFormation");
    let props = &grant["Properties"];
    assert_eq!(
        intrinsic(
            &props["DataLakePrincipal"]["DataLakePrincipalIdentifier"],
            "GetAtt"
        )
        .map(text),
        Some("DeliveryRole.Arn".into())
    );
    let table = &props["Resource"]["TableResource"];
    assert_eq!(
        intrinsic(&table["Name"], "Ref").map(text),
        Some("EventsTable".into())
    );
    let permissions = format!("{:?}", props["Permissions"]);
    assert!(permissions.contains("SELECT") && permissions.contains("DESCRIBE"));
    // The stream waits for it through a handle that always exists.
    let stream = get(&t, &["Resources", "DeliveryStream"]);
    let handle = text(&stream["DependsOn"]);
    let metadata = format!("{:?}", get(&t, &["Resources", &handle, "Metadata"]));
    assert!(metadata.contains(&name), "{metadata}");
}

#[test]
fn data_freshness_alarm_follows_the_buffer_intervals() {
    let t = template();
    let (name, alarm) = alarm_on(&t, "AWS/Firehose", "DeliveryToS3.DataFreshness");
    assert!(alarm.get("Condition").is_none(), "{name}: always on");
    let props = &alarm["Properties"];
    let expression = props["Metrics"]
        .as_sequence()
        .unwrap()
        .iter()
        .find_map(|q| q.get("Expression"))
        .and_then(|e| intrinsic(e, "Sub"))
        .map(text)
        .expect("a metric-math expression over the intervals");
    for param in [
        "ProcessorBufferIntervalSeconds",
        "DeliveryBufferIntervalSeconds",
    ] {
        assert!(
            expression.contains(&format!("${{{param}}}")),
            "{expression}"
        );
    }
    // With the defaults (60 s and 300 s) the bound is 60 + 450 + 600 s.
    let bound = expression
        .replace("${ProcessorBufferIntervalSeconds}", "60")
        .replace("${DeliveryBufferIntervalSeconds}", "300");
    assert!(bound.ends_with("(60 + 1.5 * 300 + 600)"), "{bound}");
    assert_eq!(text(&props["Threshold"]), "1");
    assert_eq!(props["ComparisonOperator"], "GreaterThanThreshold");
}

#[test]
fn alarms_exist_only_where_they_can_fire() {
    let t = template();
    for (metric, condition) in [
        ("Reingested", "Reingests"),
        ("IpNotAnonymized", "AnonymizesIp"),
        ("FailedInternalError", "IsDetailed"),
        ("FailedResponseTooLarge", "IsDetailed"),
        ("SiteOther", "WatchesSiteOther"),
    ] {
        let (name, alarm) = alarm_on(&t, metrics::NAMESPACE, metric);
        assert_eq!(alarm["Condition"], condition, "{name}");
    }
    assert_eq!(
        alarm_on(&t, "AWS/Firehose", "PartitionCountExceeded").1["Condition"],
        "IsDateSite"
    );
    // SiteOther: a share of the Ok records, not any record at all.
    let (_, site_other) = alarm_on(&t, metrics::NAMESPACE, "SiteOther");
    let names: Vec<String> = alarm_metrics(&site_other["Properties"])
        .into_iter()
        .map(|(_, m, _)| m)
        .collect();
    assert_eq!(names, ["SiteOther", "RecordsOk"]);
    let threshold: f64 = text(&site_other["Properties"]["Threshold"])
        .parse()
        .unwrap();
    assert!(threshold > 0.0 && threshold < 1.0, "{threshold}");
    // With the defaults: DataFreshness, Processing, PartitionCountExceeded,
    // ThrottledRecords, RecordsFailed and Reingested.
    let unconditional = resources_of_type(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| {
            a.get("Condition")
                .is_none_or(|c| ["IsDateSite", "Reingests"].contains(&text(c).as_str()))
        })
        .count();
    assert!(
        unconditional <= 6,
        "{unconditional} alarms with the defaults"
    );
}

#[test]
fn the_collector_is_off_by_default_and_reaches_only_the_stream() {
    use firehose_enricher::collector::CollectorConfig;
    let t = template();
    assert_eq!(
        text(get(&t, &["Parameters", "Collector", "Default"])),
        "off"
    );
    let collector = get(&t, &["Resources", "CollectorFunction"]);
    assert_eq!(text(&collector["Condition"]), "CollectorOn");
    let props = get(collector, &["Properties"]);
    let url = get(props, &["FunctionUrlConfig"]);
    assert_eq!(text(get(url, &["AuthType"])), "NONE");
    assert!(url["Cors"].get("AllowOrigins").is_some());
    let env = get(props, &["Environment", "Variables"]);
    assert_eq!(text(get(env, &["FUNCTION_ROLE"])), "collector");
    assert_eq!(
        text(intrinsic(get(env, &["COLLECTOR_STREAM"]), "Ref").unwrap()),
        "DeliveryStream"
    );
    assert_eq!(
        text(intrinsic(get(env, &["ALLOWED_ORIGINS"]), "Ref").unwrap()),
        "AllowedOrigins"
    );
    // Its role: its own logs and PutRecordBatch on this stack's stream.
    let role = text(intrinsic(get(props, &["Role"]), "GetAtt").unwrap());
    let role = role.trim_end_matches(".Arn");
    let grants: Vec<_> = allowed(&t)
        .into_iter()
        .filter(|(r, _, _)| r == role)
        .collect();
    assert!(!grants.is_empty());
    for (_, action, resource) in &grants {
        match action.as_str() {
            "firehose:PutRecordBatch" => assert_eq!(resource, "DeliveryStream.Arn"),
            "logs:CreateLogStream" | "logs:PutLogEvents" => {
                assert!(
                    resource.starts_with("${CollectorLogGroup.Arn}"),
                    "{resource}"
                )
            }
            other => panic!("the collector may not {other}"),
        }
    }
    // Alarms on its errors and throttles, and its URL as an output, all
    // only when it exists.
    for metric in ["Errors", "Throttles"] {
        let found = resources_of_type(&t, "AWS::CloudWatch::Alarm")
            .into_iter()
            .any(|(_, a)| {
                a["Condition"] == "CollectorOn"
                    && a["Properties"]["MetricName"] == metric
                    && format!("{:?}", a["Properties"]["Dimensions"]).contains("CollectorFunction")
            });
        assert!(found, "no collector alarm on {metric}");
    }
    assert_eq!(
        text(get(&t, &["Outputs", "CollectorUrl", "Condition"])),
        "CollectorOn"
    );
    // The template rejects the AllowedOrigins the function would reject.
    let pattern = text(get(&t, &["Parameters", "AllowedOrigins", "AllowedPattern"]));
    let pattern = regex::Regex::new(&pattern).unwrap();
    let cases = [
        "",
        "https://example.com",
        "https://example.com,https://www.example.com",
        "http://localhost:8080",
        "example.com",
        "https://example.com/",
        "https://example.com/path",
        "https://example.com, https://b.example",
        "ftp://example.com",
        ",",
        "null",
    ];
    for value in cases {
        if pattern.is_match(value) {
            CollectorConfig::from_lookup(|n| (n == "ALLOWED_ORIGINS").then(|| value.to_owned()))
                .unwrap_or_else(|e| {
                    panic!("the template accepts {value:?}, the function not: {e}")
                });
        }
    }
    assert!(pattern.is_match("https://example.com,https://www.example.com"));
}

/// The consent parameters: whatever a parameter's `AllowedPattern` or
/// `AllowedValues` lets through, the function accepts at start-up, so a
/// stack never deploys a configuration its function refuses.
#[test]
fn consent_parameters_reject_what_the_function_rejects() {
    let t = template();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "ConsentFields",
            "CONSENT_FIELDS",
            &[
                "tcString",
                "tcString,gpp,consent.tcString",
                "",
                ",",
                "a,,b",
                "a..b",
                ".a",
                "a.",
                " a",
                "a b",
            ],
        ),
        (
            "GpcFields",
            "GPC_FIELDS",
            &["gpc", "gpc,context.gpc", "", "gpc,"],
        ),
        (
            "ConsentRequiredPurposes",
            "CONSENT_REQUIRED_PURPOSES",
            &[
                "", "1", "1,8,9", "24", "0", "25", "1,", "01", "+1", " 1", "1,,2", "100",
            ],
        ),
        (
            "ConsentVendorId",
            "CONSENT_VENDOR_ID",
            &[
                "", "1", "755", "9999", "10000", "59999", "64999", "65499", "65529", "65534",
                "65535", "0", "070", "99999", "-1", "x",
            ],
        ),
        (
            "ConsentPolicy",
            "CONSENT_POLICY",
            &["off", "anonymize", "drop", "on", "Drop", ""],
        ),
        (
            "ConsentMissing",
            "CONSENT_MISSING",
            &["allow", "deny", "", "yes"],
        ),
        (
            "IdFields",
            "ID_FIELDS",
            &["", "user_id", "user_id,ctx.device_id", ",", "a..b"],
        ),
    ];
    for (param, var, values) in cases {
        let p = get(&t, &["Parameters", param]);
        let pattern = p
            .get("AllowedPattern")
            .and_then(Value::as_str)
            .map(|re| regex::Regex::new(re).expect("a valid pattern"));
        let listed = p.get("AllowedValues").and_then(Value::as_sequence);
        assert!(
            pattern.is_some() || listed.is_some(),
            "{param} must be bounded"
        );
        let default = text(get(p, &["Default"]));
        for value in values.iter().copied().chain([default.as_str()]) {
            let allowed = pattern.as_ref().is_none_or(|re| re.is_match(value))
                && listed.is_none_or(|l| l.iter().any(|v| text(v) == value));
            let accepted = Config::from_lookup(|n| match n {
                "ENRICHMENTS" => Some("consent".into()),
                n if n == *var => Some(value.to_owned()),
                _ => None,
            })
            .is_ok();
            assert!(
                !allowed || accepted,
                "{param} allows {value:?}, which {var} rejects"
            );
        }
    }
}
