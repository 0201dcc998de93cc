//! `schema`: the Athena/Glue columns of sample events, as the function
//! would write them, for Parquet mode (`COLUMNS` and the Glue table).
//!
//! The adapter part: reading files and printing. Inference and rendering are
//! pure, in `firehose_enricher::schema`.

use firehose_enricher::replay::input::{self, collect_files, decode};
use firehose_enricher::replay::{layout, sink};
use firehose_enricher::schema::{columns_json, render, sample};
use firehose_enricher::Config;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SchemaArgs {
    /// Files or folders (read recursively) of sample events: every form
    /// `replay` reads, and Firehose transformation requests (as in events/).
    #[arg(required = true, num_args = 1.., value_name = "PATH")]
    files: Vec<PathBuf>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// The layout of template.yaml whose partition columns are left out of
    /// glue-yaml and projected by athena-ddl (the template's default when
    /// absent).
    #[arg(long, value_name = "NAME")]
    layout: Option<String>,
    /// The table name of athena-ddl.
    #[arg(long, default_value = "events")]
    table: String,
    /// The table's location in athena-ddl.
    #[arg(long, default_value = "s3://BUCKET/events/", value_name = "URL")]
    location: String,
    /// Instead of printing, rewrite the generated blocks of this template
    /// (the events table's Columns and the function's COLUMNS).
    #[arg(long, value_name = "FILE")]
    write_template: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `[{"name": …, "type": …}]`, the value of COLUMNS.
    Json,
    /// A CREATE EXTERNAL TABLE with the template's partition projection.
    AthenaDdl,
    /// The template's Columns list.
    GlueYaml,
}

pub fn run(args: &SchemaArgs) -> Result<(), String> {
    // The transform as configured, but without COLUMNS: the schema is what
    // the events hold, not what an earlier schema kept of them.
    let config = Config::from_lookup(|name| {
        (name != "COLUMNS")
            .then(|| std::env::var(name).ok())
            .flatten()
    })
    .map_err(|e| e.to_string())?;
    let mut sampler = sample::Sampler::new(&config);
    for (path, _) in collect_files(&args.files, None)? {
        let raw =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (data, damaged) = decode(&path, raw);
        if let Some(why) = damaged {
            eprintln!("firehose-enricher: {why}");
        }
        sampler.add(&data);
    }
    let sample = sampler.finish();
    // Refused before anything is printed or written: a template rewritten
    // from no events would lose every event column.
    if sample.events == 0 {
        return Err("no events in the input: nothing to infer columns from".into());
    }
    if input::mostly_not_events(sample.events, sample.not_json) {
        return Err(input::not_events_message(sample.events, sample.not_json));
    }
    if sample.ok == 0 {
        return Err(format!(
            "none of the {} events transformed Ok: nothing to infer columns from",
            sample.events
        ));
    }
    eprintln!(
        "firehose-enricher: {} events, {} transformed Ok; {} columns",
        sample.events,
        sample.ok,
        sample.columns.len()
    );
    for left in &sample.left_out {
        eprintln!(
            "firehose-enricher: left out, goes to extra: {}: {}",
            left.name, left.why
        );
    }
    if let Some(file) = &args.write_template {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let updated = render::update_template(&text, &sample.columns)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        return std::fs::write(file, updated)
            .map_err(|e| format!("cannot write {}: {e}", file.display()));
    }
    let layouts =
        layout::from_template(sink::TEMPLATE).map_err(|e| format!("template.yaml: {e}"))?;
    let name = args.layout.as_deref().unwrap_or(&layouts.default);
    let chosen = layouts.get(name).ok_or_else(|| {
        format!(
            "unknown --layout {name:?}; template.yaml has {}",
            layouts.names().join(", ")
        )
    })?;
    let text = match args.format {
        Format::Json => columns_json(&sample.columns) + "\n",
        Format::GlueYaml => render::glue_yaml(
            &sample.columns,
            &render::partition_columns(&chosen.prefix),
            "",
        ),
        Format::AthenaDdl => {
            render::athena_ddl(&sample.columns, &args.table, &args.location, &chosen.prefix)
        }
    };
    print!("{text}");
    Ok(())
}
