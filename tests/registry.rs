//! The field registry drives the docs and the template: the field table of
//! `docs/output.md` is generated from it, and the Glue table declares every
//! field with its registry type. Either drifting from the code fails here.
//!
//! `UPDATE_DOCS=1 cargo test --test registry` rewrites the docs' table.

use firehose_enricher::enrich::{self, Presence};
use serde_yaml::Value;

#[path = "common/generated.rs"]
mod generated;

#[test]
fn docs_field_table_is_the_registry() {
    generated::check_block("docs/output.md", "fields", &enrich::fields_markdown());
}

#[test]
fn generated_table_has_a_row_per_field_and_the_omitted_rule() {
    let md = enrich::fields_markdown();
    let rows = md.lines().count() - 2;
    assert_eq!(rows, enrich::fields().count());
    // Edge: the always-on fields keep their null/always behaviour, and at
    // least one optional field shows the omitted rule.
    assert!(md.contains(
        "| `domain` | page (always) | string | `string` | always, `null` when unknown |"
    ));
    assert!(enrich::fields().any(|(_, f)| f.presence == Presence::Omitted));
}

/// The events table's columns, per branch of its `!If` on the layout.
fn event_columns() -> Vec<Vec<(String, String)>> {
    let t: Value = serde_yaml::from_str(include_str!("../template.yaml")).unwrap();
    let columns =
        &t["Resources"]["EventsTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"];
    let branches: Vec<&Value> = match columns {
        Value::Tagged(tagged) if tagged.tag == "!If" => {
            tagged.value.as_sequence().unwrap()[1..].iter().collect()
        }
        other => vec![other],
    };
    branches
        .into_iter()
        .map(|b| {
            b.as_sequence()
                .expect("a list of columns")
                .iter()
                .map(|c| {
                    (
                        c["Name"].as_str().unwrap().to_owned(),
                        c["Type"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn glue_columns_declare_every_field_with_its_registry_type() {
    let branches = event_columns();
    assert!(!branches.is_empty());
    for columns in &branches {
        // `site` is a partition key in the DateSite layout, so not a column.
        let partitioned_by_site = !columns.iter().any(|(n, _)| n == "site");
        for (_, f) in enrich::fields() {
            if f.name == "site" && partitioned_by_site {
                continue;
            }
            let column = columns.iter().find(|(n, _)| n == f.name);
            assert_eq!(
                column.map(|(_, t)| t.as_str()),
                Some(f.athena_type),
                "template column for {}",
                f.name
            );
        }
    }
}

/// The template's generated blocks (the events table's columns, the
/// function's COLUMNS) are what `schema` infers over `events/`: rerun
/// `make schema` after changing the registry or the sample events.
#[test]
fn template_columns_are_the_schema_of_the_sample_events() {
    use firehose_enricher::schema::{render, sample::Sampler};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = firehose_enricher::Config::from_lookup(|_| None).unwrap();
    let mut sampler = Sampler::new(&config);
    let mut files: Vec<_> = std::fs::read_dir(root.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        sampler.add(&std::fs::read(file).unwrap());
    }
    let sample = sampler.finish();
    // Edge: the sample must hold fields of its own, nested ones included,
    // or the comparison proves little.
    assert!(sample.columns.len() > enrich::fields().count() + 10);
    assert!(sample
        .columns
        .iter()
        .any(|(_, t)| t.to_string().starts_with("struct<")));
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    let want = render::update_template(&template, &sample.columns).unwrap();
    assert!(
        template == want,
        "template.yaml's generated blocks differ from `firehose-enricher schema events/`; run `make schema`"
    );
}

/// The enricher list of `docs/output.md` (summaries, variables, examples)
/// is generated from the registry.
#[test]
fn docs_enricher_list_is_the_registry() {
    generated::check_block("docs/output.md", "enrichers", &enrich::enrichers_markdown());
}

/// The variables an example runs with: its own, on the defaults, with its
/// enricher switched on when it is optional.
fn example_lookup(
    e: &enrich::Enricher,
    x: &enrich::Example,
) -> impl Fn(&str) -> Option<String> + 'static {
    let mut vars: Vec<(String, String)> = x
        .variables
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    if e.optional && !vars.iter().any(|(n, _)| n == "ENRICHMENTS") {
        let default = firehose_enricher::config::VARIABLES
            .iter()
            .find(|v| v.name == "ENRICHMENTS")
            .unwrap()
            .default;
        let mut names: Vec<&str> = default.split(',').collect();
        if !names.contains(&e.name) {
            names.push(e.name);
        }
        vars.push(("ENRICHMENTS".into(), names.join(",")));
    }
    move |name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// Every example of every enricher holds: the docs show what the function
/// does.
#[test]
fn every_example_holds() {
    use enrich::Expected;
    use firehose_enricher::record::{transform, Outcome};
    let mut checked = 0;
    for e in enrich::PIPELINE {
        assert!(!e.examples.is_empty(), "{} has no example", e.name);
        for x in e.examples {
            let at = format!("{}: {}", e.name, x.title);
            let config = firehose_enricher::Config::from_lookup(example_lookup(e, x))
                .unwrap_or_else(|err| panic!("{at}: {err}"));
            let t = transform(x.input.as_bytes(), enrich::EXAMPLE_ARRIVAL_MS, &config);
            match x.output {
                Expected::Dropped(reason) => {
                    assert_eq!(t.outcome, Outcome::Dropped(reason), "{at}");
                }
                Expected::Fields(fields) => {
                    assert!(matches!(t.outcome, Outcome::Ok(_)), "{at}: {:?}", t.outcome);
                    let line: serde_json::Value = serde_json::from_slice(&t.data).unwrap();
                    for (name, want) in fields {
                        let got = line.get(name);
                        let want = want.map(|w| {
                            serde_json::from_str::<serde_json::Value>(w)
                                .unwrap_or_else(|err| panic!("{at}: {name}: {w}: {err}"))
                        });
                        assert_eq!(got, want.as_ref(), "{at}: {name} in {line}");
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn examples_are_written_as_one_json_object_each() {
    for (e, x) in enrich::PIPELINE
        .iter()
        .flat_map(|e| e.examples.iter().map(move |x| (e, x)))
    {
        let value: serde_json::Value = serde_json::from_str(x.input).unwrap();
        assert!(value.is_object(), "{}: {}", e.name, x.title);
        assert!(!x.input.contains('\n'), "{}: one line", e.name);
    }
}
