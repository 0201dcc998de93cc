//! A column list in the forms the `schema` command prints, and the
//! generated blocks of `template.yaml`.

use super::{columns_json, Type};

/// The partition columns a Firehose prefix creates: its
/// `!{partitionKeyFromLambda:NAME}` expressions, in order.
pub fn partition_columns(prefix: &str) -> Vec<String> {
    const KEY: &str = "!{partitionKeyFromLambda:";
    let mut out = Vec::new();
    let mut rest = prefix;
    while let Some(at) = rest.find(KEY) {
        rest = &rest[at + KEY.len()..];
        let end = rest.find('}').unwrap_or(rest.len());
        out.push(rest[..end].to_owned());
        rest = &rest[end..];
    }
    out
}

/// A type as a YAML flow-mapping value: quoted when it holds `,`, which
/// would end the mapping entry (struct types).
fn yaml_type(t: &Type) -> String {
    let text = t.to_string();
    if text.contains([',', '<', '>', ':']) {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// The Glue `Columns` list, one `- { Name: …, Type: … }` per line, without
/// the layout's partition columns (Athena refuses a column that is also a
/// partition key).
pub fn glue_yaml(columns: &[(String, Type)], partitions: &[String], indent: &str) -> String {
    let mut out = String::new();
    for (name, t) in columns {
        if !partitions.contains(name) {
            out.push_str(&format!(
                "{indent}- {{ Name: {name}, Type: {} }}\n",
                yaml_type(t)
            ));
        }
    }
    out
}

/// A `CREATE EXTERNAL TABLE` for Parquet files under `location` (an
/// `s3://…/events/` URL) laid out by `prefix`, with the template's partition
/// projection for that layout: `dt` a date, `hour` an enum of the 24 hours,
/// `site` injected (every query names its sites).
pub fn athena_ddl(columns: &[(String, Type)], table: &str, location: &str, prefix: &str) -> String {
    let partitions = partition_columns(prefix);
    let body: Vec<String> = columns
        .iter()
        .filter(|(n, _)| !partitions.contains(n))
        .map(|(n, t)| format!("  `{n}` {t}"))
        .collect();
    let keys: Vec<String> = partitions.iter().map(|p| format!("`{p}` string")).collect();
    let mut properties = vec![("projection.enabled".to_owned(), "true".to_owned())];
    for p in &partitions {
        let mut add = |k: &str, v: &str| properties.push((format!("projection.{p}.{k}"), v.into()));
        match p.as_str() {
            "dt" => {
                add("type", "date");
                add("format", "yyyy-MM-dd");
                // The template's default start (ProjectionStartDate): a fixed
                // day, so that data does not leave the projection as it ages.
                add("range", "2018-01-01,NOW+1DAYS");
                add("interval", "1");
                add("interval.unit", "DAYS");
            }
            "hour" => {
                let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
                add("type", "enum");
                add("values", &hours.join(","));
            }
            _ => add("type", "injected"),
        }
    }
    // The prefix below `events/`, with `${name}` for each partition key.
    let mut template = prefix.strip_prefix("events/").unwrap_or(prefix).to_owned();
    for p in &partitions {
        template = template.replace(
            &format!("!{{partitionKeyFromLambda:{p}}}"),
            &format!("${{{p}}}"),
        );
    }
    let location = location.trim_end_matches('/');
    properties.push((
        "storage.location.template".into(),
        format!("{location}/{template}"),
    ));
    let properties: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("  '{k}' = '{v}'"))
        .collect();
    format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS `{table}` (\n{}\n)\nPARTITIONED BY ({})\nSTORED AS PARQUET\nLOCATION '{location}/'\nTBLPROPERTIES (\n{}\n);\n",
        body.join(",\n"),
        keys.join(", "),
        properties.join(",\n")
    )
}

/// The marker lines around a generated block of `template.yaml`.
fn markers(name: &str) -> (String, String) {
    (
        format!("# generated:{name} begin (`make schema` writes this block)"),
        format!("# generated:{name} end"),
    )
}

/// The template's generated blocks, by name: the events table's `Columns`
/// (without `site` in the DateSite layout, where it is a partition column)
/// and the column list the function reads in Parquet mode
/// (`COLUMNS=bundled`, [`bundled_columns`]).
pub fn template_blocks(columns: &[(String, Type)]) -> [(&'static str, String); 2] {
    let table = format!(
        "Columns: !If\n  - IsDateSite\n  -\n{}  -\n{}",
        glue_yaml(columns, &["site".into()], "    "),
        glue_yaml(columns, &[], "    ")
    );
    let json = format!("Columns: '{}'\n", columns_json(columns));
    [("columns", table), ("columns-json", json)]
}

/// The template's column list as `COLUMNS=bundled` reads it: the
/// `generated:columns-json` block of the `template.yaml` this binary was
/// built from. Lambda allows 4 KB of environment variables in all, which a
/// column list alone can take, so the function carries it instead; `sam
/// build` compiles the binary from the same checkout as the template it
/// deploys. `None` when the block is missing or not one quoted string.
pub fn bundled_columns() -> Option<&'static str> {
    const TEMPLATE: &str = include_str!("../../template.yaml");
    let (begin, end) = markers("columns-json");
    let start = TEMPLATE.find(&begin)? + begin.len();
    let body = &TEMPLATE[start..start + TEMPLATE[start..].find(&end)?];
    let value = body
        .trim()
        .trim_end_matches('#')
        .trim()
        .strip_prefix("Columns: ")?;
    // A single-quoted YAML scalar; column names and types hold no quote.
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    (!inner.contains('\'')).then_some(inner)
}

/// `text` with the block `name` replaced by `body`, indented as its begin
/// marker is. Fails when the markers are missing.
pub fn replace_block(text: &str, name: &str, body: &str) -> Result<String, String> {
    let (begin, end) = markers(name);
    let b = text
        .find(&begin)
        .ok_or_else(|| format!("no `{begin}` marker"))?;
    let line_start = text[..b].rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[line_start..b];
    let body_start = b + begin.len() + 1;
    let e = text[body_start..]
        .find(&end)
        .map(|i| body_start + i)
        .ok_or_else(|| format!("no `{end}` marker after `{begin}`"))?;
    let e_line = text[..e].rfind('\n').map_or(0, |i| i + 1);
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..body_start]);
    for line in body.lines() {
        if !line.is_empty() {
            out.push_str(indent);
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&text[e_line..]);
    Ok(out)
}

/// `text` with every generated block rewritten for `columns`.
pub fn update_template(text: &str, columns: &[(String, Type)]) -> Result<String, String> {
    template_blocks(columns)
        .iter()
        .try_fold(text.to_owned(), |t, (name, body)| {
            replace_block(&t, name, body)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<(String, Type)> {
        vec![
            ("event_time".into(), Type::Timestamp),
            ("site".into(), Type::String),
            (
                "ctx".into(),
                Type::Struct(vec![("a".into(), Type::Bigint), ("b".into(), Type::String)]),
            ),
            ("extra".into(), Type::String),
        ]
    }

    #[test]
    fn partition_columns_of_prefixes() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("events/", &[]),
            ("events/dt=!{partitionKeyFromLambda:dt}/", &["dt"]),
            (
                "events/dt=!{partitionKeyFromLambda:dt}/site=!{partitionKeyFromLambda:site}/",
                &["dt", "site"],
            ),
            (
                "x/!{timestamp:yyyy}/!{partitionKeyFromLambda:hour}",
                &["hour"],
            ),
            ("!{partitionKeyFromLambda:unclosed", &["unclosed"]),
        ];
        for (prefix, want) in cases {
            assert_eq!(partition_columns(prefix), *want, "{prefix}");
        }
    }

    #[test]
    fn glue_yaml_quotes_struct_types_and_leaves_partitions_out() {
        let yaml = glue_yaml(&cols(), &["site".into()], "  ");
        assert_eq!(
            yaml,
            "  - { Name: event_time, Type: timestamp }\n  - { Name: ctx, Type: \"struct<a:bigint,b:string>\" }\n  - { Name: extra, Type: string }\n"
        );
        let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(parsed[1]["Type"], "struct<a:bigint,b:string>");
    }

    #[test]
    fn ddl_projects_each_layout() {
        let date_site = athena_ddl(
            &cols(),
            "events",
            "s3://bucket/events/",
            "events/dt=!{partitionKeyFromLambda:dt}/site=!{partitionKeyFromLambda:site}/",
        );
        assert!(
            date_site.contains("  `ctx` struct<a:bigint,b:string>,\n"),
            "{date_site}"
        );
        assert!(!date_site.contains("`site` string,"), "{date_site}");
        assert!(date_site.contains("PARTITIONED BY (`dt` string, `site` string)"));
        assert!(date_site.contains("'projection.site.type' = 'injected'"));
        assert!(date_site
            .contains("'storage.location.template' = 's3://bucket/events/dt=${dt}/site=${site}/'"));
        let date_hour = athena_ddl(
            &cols(),
            "t",
            "s3://b/events",
            "events/dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/",
        );
        assert!(
            date_hour.contains("'projection.hour.values' = '00,01,"),
            "{date_hour}"
        );
        assert!(date_hour.contains("  `site` string,\n"), "{date_hour}");
        assert!(
            date_hour.contains("LOCATION 's3://b/events/'"),
            "{date_hour}"
        );
    }

    #[test]
    fn blocks_are_replaced_between_their_markers_only() {
        let (b, e) = markers("columns");
        let text = format!("a:\n  {b}\n  old: 1\n  old: 2\n  {e}\nz: 1\n");
        let out = replace_block(&text, "columns", "new: 3\nx:\n  - y\n").unwrap();
        assert_eq!(
            out,
            format!("a:\n  {b}\n  new: 3\n  x:\n    - y\n  {e}\nz: 1\n")
        );
        // Idempotent, and an empty body leaves the markers together.
        assert_eq!(
            replace_block(&out, "columns", "new: 3\nx:\n  - y\n").unwrap(),
            out
        );
        assert_eq!(
            replace_block(&text, "columns", "").unwrap(),
            format!("a:\n  {b}\n  {e}\nz: 1\n")
        );
        assert!(replace_block("nothing", "columns", "x").is_err());
        assert!(replace_block(&format!("  {b}\n"), "columns", "x").is_err());
    }
}
