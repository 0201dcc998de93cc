//! Blocks of the docs generated from the code: the text between
//! `<!-- NAME:begin … -->` and `<!-- NAME:end -->` must equal what the code
//! generates. With `UPDATE_DOCS=1` set, a differing block is rewritten
//! instead, so `UPDATE_DOCS=1 cargo test` brings every page up to date.

use std::path::Path;

/// Checks (or, with `UPDATE_DOCS`, rewrites) block `name` of `file`, a path
/// relative to the repository root.
pub fn check_block(file: &str, name: &str, want: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let begin = format!("<!-- {name}:begin");
    let end_marker = format!("<!-- {name}:end -->");
    let start = text
        .find(&begin)
        .and_then(|i| text[i..].find("-->\n").map(|j| i + j + "-->\n".len()))
        .unwrap_or_else(|| panic!("{file} has no `{begin} … -->` line"));
    let end = start
        + text[start..]
            .find(&end_marker)
            .unwrap_or_else(|| panic!("{file} has no `{end_marker}` after its begin marker"));
    if text[start..end] == *want {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{want}{}", &text[..start], &text[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        text[start..end],
        *want,
        "{file}: the {name} block differs from the code; run UPDATE_DOCS=1 cargo test"
    );
}
