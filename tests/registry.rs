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
