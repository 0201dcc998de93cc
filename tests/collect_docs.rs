//! docs/collect.md against the code: every collector variable with its
//! default, every collector metric, and the README's quick start.

use firehose_enricher::collector::config::VARIABLES;
use firehose_enricher::metrics::COLLECTOR_METRICS;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn page(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(ROOT).join(name)).unwrap()
}

#[test]
fn every_collector_variable_has_its_row_and_default() {
    let doc = page("docs/collect.md");
    for v in VARIABLES {
        let default = if v.default.is_empty() {
            String::new()
        } else {
            format!("`{}`", v.default)
        };
        let row = format!("| `{}` | {default} |", v.name).replace("|  |", "| |");
        assert!(doc.contains(&row), "docs/collect.md has no row {row:?}");
    }
    for extra in ["FUNCTION_ROLE", "COLLECTOR_STREAM"] {
        assert!(doc.contains(&format!("| `{extra}` |")), "{extra}");
    }
}

#[test]
fn every_collector_metric_is_documented() {
    let doc = page("docs/collect.md");
    for name in COLLECTOR_METRICS {
        assert!(doc.contains(&format!("| `{name}` |")), "{name}");
    }
}

#[test]
fn the_readme_shows_serve_and_the_tag() {
    let readme = page("README.md");
    assert!(readme.contains("firehose-enricher serve --listen 127.0.0.1:8080"));
    assert!(readme.contains(r#"<script defer src="http://127.0.0.1:8080/tracker.js""#));
    assert!(readme.contains(r#"data-endpoint="http://127.0.0.1:8080/collect""#));
}
