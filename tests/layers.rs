//! The crate's layers, enforced: each library module imports only modules
//! of lower layers (the map below, which `docs/development.md` shows), so
//! there is no import cycle; and the core builds without the `lambda`
//! feature's Lambda runtime, tokio and AWS SDK.
//!
//! `UPDATE_DOCS=1 cargo test --test layers` rewrites the docs' map.

#[path = "common/generated.rs"]
mod generated;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The map of the crate: each library module, its layer and what it is. A
/// module may import the modules of lower layers only (and its own files).
/// The binary (`src/main.rs`, `src/cli/`) is above them all.
const MAP: &[(&str, u8, &str)] = &[
    ("settings", 0, "configuration variables: `Variable`, `Env`, `ConfigError`, the parse helpers"),
    ("reason", 0, "why a record failed or was dropped: `FailReason`, `DropReason`"),
    ("time", 0, "event times: parsing every timestamp form, Athena's TIMESTAMP text"),
    ("domain", 0, "hosts and sites: URL host normalization, the Public Suffix List"),
    ("json", 0, "reading raw JSON text in place: a member's key or value"),
    ("aws_env", 0, "whether the AWS SDK will find credentials and a region, from the environment and shared files alone"),
    ("collector", 1, "the collector's core: an HTTP request (method, path, headers, body, address) in, a status and the accepted events out"),
    ("partition", 1, "partition keys (`site`, `dt`, `hour`) and the site cardinality guard"),
    ("schema", 1, "Athena column types and the template's generated blocks (`schema` command's core)"),
    ("enrich", 2, "the registry (`PIPELINE`) and one file per enricher: fields, variables, examples, stage"),
    ("record", 3, "one record: decoded bytes and a pipeline in, an enriched line or a reason out"),
    ("config", 3, "the assembled `Config`: core variables, `VARIABLES`, the pipeline built from the registry"),
    ("batch", 4, "one Firehose request: parsing (`request.rs`), the passes, the response and its fitting (`response.rs`)"),
    ("metrics", 5, "CloudWatch embedded metrics of a batch report"),
    ("sizing", 5, "how large responses get, for `sizing`"),
    ("cost", 6, "the monthly bill `make cost` prints, at the prices in `data/aws-prices.json`"),
    ("replay", 6, "events in, Hive-partitioned objects out: the local pipeline `replay` runs"),
    ("reingest", 6, "re-sending overflow to the delivery stream (AWS SDK; `lambda` feature)"),
    ("schema::sample", 7, "inferring columns from sample events (replays them)"),
    ("lambda_collector", 7, "the collector behind a Function URL: payload 2.0 in and out, delivery with `PutRecordBatch` (`lambda` feature)"),
    ("lambda", 7, "the Lambda adapter: runtime loop, logging, re-ingestion (`lambda` feature)"),
];

/// The module a source file belongs to, as [`MAP`] names it; `None` for
/// the binary's files and test-only files.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(Path::new(ROOT).join("src")).ok()?;
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    match parts.as_slice() {
        [one] if one == "main" || one == "lib" => None,
        [first, ..] if first == "cli" => None,
        [.., last] if last == "tests" => None,
        [first, second] if first == "schema" && second == "sample" => Some("schema::sample".into()),
        [first, ..] => Some(first.clone()),
        [] => None,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a file's code names through `crate::` paths: outside
/// line comments and its unit tests (`#[cfg(test)] mod tests`), which may
/// look anywhere. `crate::{a, b::c}` names `a` and `b`; the root's
/// re-exports `Config` and `ConfigError` are `config`'s.
fn imports(text: &str) -> Vec<String> {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `mycrate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The group's top-level items, nested braces skipped.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.push(item);
        } else {
            found.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect(),
            );
        }
    }
    found
        .into_iter()
        .filter_map(|item| {
            let item = item.trim();
            let first: String = item
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            match first.as_str() {
                "" | "self" => None,
                "Config" | "ConfigError" => Some("config".to_owned()),
                "schema" if item.starts_with("schema::sample") => Some("schema::sample".into()),
                _ => Some(first),
            }
        })
        .collect()
}

#[test]
fn import_reader_reads_paths_groups_and_reexports() {
    let text = "use crate::{enrich::{A, B}, time};\n// crate::batch in a comment\nfn f() { crate::record::transform(); mycrate::x(); let _ = crate::Config::default(); }\nuse crate::schema::sample::Sampler;\n#[cfg(test)]\nmod tests { use crate::lambda; }";
    assert_eq!(
        imports(text),
        ["enrich", "time", "record", "config", "schema::sample"]
    );
}

/// Every library module is on the map, and imports only modules of lower
/// layers: the crate has no import cycle, and the core (layers 0 to 4)
/// never reaches an adapter.
#[test]
fn modules_import_only_lower_layers() {
    let layer: BTreeMap<&str, u8> = MAP.iter().map(|(m, l, _)| (*m, *l)).collect();
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let rel = file.strip_prefix(ROOT).unwrap().display().to_string();
        let Some(&own) = layer.get(module.as_str()) else {
            wrong.push(format!(
                "{rel}: module `{module}` is not on the crate map (tests/layers.rs MAP, docs/development.md)"
            ));
            continue;
        };
        seen.insert(module.clone());
        for import in imports(&std::fs::read_to_string(file).unwrap()) {
            let top = import.split("::").next().unwrap_or_default();
            if import == module || (top == module && import != "schema::sample") {
                continue;
            }
            match layer.get(import.as_str()) {
                Some(&l) if l < own => {}
                Some(&l) => wrong.push(format!(
                    "{rel}: `{module}` (layer {own}) imports `{import}` (layer {l})"
                )),
                None => wrong.push(format!("{rel}: imports `{import}`, not on the crate map")),
            }
        }
    }
    assert!(wrong.is_empty(), "layering:\n{}", wrong.join("\n"));
    // Edge: the map names no module that is gone.
    for (m, _, _) in MAP {
        assert!(seen.contains(*m), "{m} is on the map but not in src/");
    }
}

/// The map as `docs/development.md` shows it.
fn map_markdown() -> String {
    let mut md = String::from("| layer | module | what it is | may import |\n|---|---|---|---|\n");
    for (module, l, what) in MAP {
        let may = match *l {
            0 => "nothing of the crate".to_owned(),
            1 => "layer 0".to_owned(),
            _ => format!("layers 0 to {}", l - 1),
        };
        md.push_str(&format!("| {l} | `{module}` | {what} | {may} |\n"));
    }
    md
}

#[test]
fn docs_crate_map_is_the_enforced_one() {
    generated::check_block("docs/development.md", "crate-map", &map_markdown());
}

/// The crates a build of the library pulls in, per `cargo tree`.
fn library_crates(features: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--edges", "normal", "--prefix", "none", "--offline"])
        .args(features)
        .current_dir(ROOT)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The core builds without the Lambda runtime, tokio and the AWS SDK
/// (`make core` compiles it so); the default build has them.
#[test]
fn core_needs_no_tokio_or_aws_sdk() {
    let adapter = |name: &str| {
        name == "tokio"
            || name.starts_with("tokio-")
            || name.starts_with("aws-")
            || name.starts_with("lambda_runtime")
            || name == "hyper"
    };
    let core = library_crates(&["--no-default-features"]);
    assert!(core.iter().any(|c| c == "serde_json"), "{core:?}");
    let pulled: Vec<&String> = core.iter().filter(|c| adapter(c)).collect();
    assert!(pulled.is_empty(), "the core pulls in {pulled:?}");
    let full = library_crates(&[]);
    for name in ["tokio", "aws-sdk-firehose", "lambda_runtime"] {
        assert!(full.iter().any(|c| c == name), "{name} is the adapter's");
    }
}
