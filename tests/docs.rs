//! The docs kept in step with the code and with themselves: the
//! configuration table is generated from `config::VARIABLES`, every relative
//! link in README.md and docs/ resolves (file and heading), and the README
//! stays a front door.

#[path = "common/generated.rs"]
mod generated;

use firehose_enricher::config::{self, VARIABLES};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn configuration_table_is_the_variables_list() {
    generated::check_block(
        "docs/configuration.md",
        "variables",
        &config::variables_markdown(),
    );
}

#[test]
fn every_variable_has_a_meaning_and_a_row() {
    let table = config::variables_markdown();
    for v in VARIABLES {
        assert!(!v.meaning.trim().is_empty(), "{} has no meaning", v.name);
        assert_eq!(
            table.matches(&format!("| `{}` |", v.name)).count(),
            1,
            "{}",
            v.name
        );
    }
}

#[test]
fn readme_is_a_front_door() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines; details go to docs/"
    );
}

/// The pages: README.md and every Markdown file under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// GitHub's anchor for a heading: lowercase, punctuation other than `-`
/// and `_` removed, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings, outside code fences.
fn anchors(text: &str) -> HashSet<String> {
    let mut fence = false;
    let mut found = HashSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fence = !fence;
        } else if !fence && line.starts_with('#') {
            found.insert(slug(line.trim_start_matches('#')));
        }
    }
    found
}

/// The targets of a page's Markdown links `[text](target)`, outside code
/// fences and code spans.
fn links(text: &str) -> Vec<String> {
    let mut fence = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        // Code spans can hold `](`; drop them first.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn link_checker_reads_links_and_anchors() {
    // Edge cases first: code spans and fences hide links; anchors drop
    // punctuation.
    let text = "# A `b`, c!\n[x](d.md#e) `[no](f.md)`\n```\n[no](g.md)\n```\n[y](#a-b-c)";
    assert_eq!(links(text), ["d.md#e", "#a-b-c"]);
    assert!(anchors(text).contains("a-b-c"));
    assert_eq!(
        slug("Replay, backfill and a local Athena preview"),
        "replay-backfill-and-a-local-athena-preview"
    );
    assert_eq!(
        slug("`make demo`: the whole pipeline"),
        "make-demo-the-whole-pipeline"
    );
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
                continue;
            }
            let is_page = target.extension().is_some_and(|e| e == "md");
            if !anchor.is_empty() && is_page {
                let headings = anchors(&std::fs::read_to_string(&target).unwrap());
                if !headings.contains(anchor) {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The README's command lines run as written: every file they name is in
/// the repository, the replay example succeeds on it, and its output
/// folder is git-ignored.
#[test]
fn readme_examples_name_files_that_exist_and_replay_runs() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let commands: Vec<Vec<&str>> = readme
        .lines()
        .filter_map(|l| l.split('#').next())
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.first() == Some(&"firehose-enricher"))
        .collect();
    assert!(commands.len() >= 3, "{commands:?}");
    let mut replays = 0;
    for words in &commands {
        let out = words
            .iter()
            .position(|w| *w == "--out")
            .map(|i| words[i + 1]);
        let listen = words
            .iter()
            .position(|w| *w == "--listen")
            .map(|i| words[i + 1]);
        for word in &words[2..] {
            if !word.starts_with('-')
                && word.contains('.')
                && Some(*word) != out
                && Some(*word) != listen
            {
                assert!(
                    Path::new(ROOT).join(word).is_file(),
                    "{word} in {words:?} does not exist"
                );
            }
        }
        if words[1] != "replay" {
            continue;
        }
        replays += 1;
        let out = out.expect("replay --out");
        let ignored = std::fs::read_to_string(Path::new(ROOT).join(".gitignore")).unwrap();
        assert!(
            ignored
                .lines()
                .any(|l| l.trim_matches('/') == out.trim_matches('/')),
            "{out} is not in .gitignore"
        );
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-replay");
        let _ = std::fs::remove_dir_all(&tmp);
        let args: Vec<&str> = words[1..]
            .iter()
            .map(|w| if *w == out { tmp.to_str().unwrap() } else { w })
            .collect();
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
            .args(&args)
            .current_dir(ROOT)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let summary = String::from_utf8_lossy(&run.stdout);
        assert!(
            summary.contains("Ok                         9"),
            "{summary}"
        );
    }
    assert_eq!(replays, 1, "{commands:?}");
}

/// The README states the minimum Rust version Cargo.toml declares.
#[test]
fn readme_states_the_minimum_rust_version() {
    let manifest = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap();
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version in Cargo.toml")
        .trim_matches('"');
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let want = format!("**Rust {version}** or newer");
    assert!(readme.contains(&want), "README.md does not say {want}");
}
