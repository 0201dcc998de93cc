//! The README's configuration table lists every variable the code reads, with
//! the code's default, so the two cannot drift apart.

use firehose_enricher::config::VARIABLES;

#[test]
fn readme_lists_every_variable_with_its_default() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
    for v in VARIABLES {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `{}` |", v.name)))
            .unwrap_or_else(|| panic!("README has no configuration row for {}", v.name));
        let default_cell = row.split('|').nth(2).unwrap().trim();
        if v.default.is_empty() {
            assert!(
                default_cell.starts_with("*(empty"),
                "{}: {default_cell}",
                v.name
            );
        } else {
            assert!(
                default_cell.starts_with(&format!("`{}`", v.default)),
                "{}: {default_cell} vs {}",
                v.name,
                v.default
            );
        }
    }
}
