//! The `schema` command end to end: the forms it prints, what it reports,
//! rewriting a template, and its errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn schema(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"));
    cmd.arg("schema").args(args).current_dir(ROOT);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> (String, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8(out.stdout.clone()).unwrap(), stderr)
}

fn dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn prints_each_form_and_reports_what_it_leaves_out() {
    let d = dir("schema-forms");
    let sample = d.join("sample.ndjson");
    std::fs::write(
        &sample,
        [
            r#"{"ts":1795770902,"url":"https://example.com/","userId":"a","n":1,"ctx":{"ok":true}}"#,
            r#"{"ts":1795770903,"url":"https://example.com/","userid":"b","n":2.5,"a-b":1,"dt":"x"}"#,
            "not json",
        ]
        .join("\n"),
    )
    .unwrap();
    let path = sample.to_str().unwrap();
    // COLUMNS is ignored: the schema is of the events, not of an earlier one.
    let (json, stderr) = ok(&schema(&[path], &[("COLUMNS", "garbage")]));
    let columns: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let get = |name: &str| {
        columns
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["type"].as_str().unwrap().to_owned())
    };
    assert_eq!(get("event_time").as_deref(), Some("timestamp"));
    assert_eq!(get("extra").as_deref(), Some("string"));
    assert_eq!(get("ts").as_deref(), Some("bigint"));
    assert_eq!(get("n").as_deref(), Some("double"));
    assert_eq!(get("ctx").as_deref(), Some("struct<ok:boolean>"));
    for gone in ["userid", "a-b", "dt"] {
        assert_eq!(get(gone), None, "{gone}");
    }
    assert!(stderr.contains("3 events, 2 transformed Ok"), "{stderr}");
    assert!(
        stderr.contains("userid: spellings collide after lowercasing: userId, userid"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a-b: not a valid Athena column name"),
        "{stderr}"
    );
    assert!(stderr.contains("dt: a partition column"), "{stderr}");

    let (yaml, _) = ok(&schema(&[path, "--format", "glue-yaml"], &[]));
    let list: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    let names: Vec<&str> = list
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"site"),
        "site is DateSite's partition column"
    );
    assert_eq!(names.len(), columns.len() - 1);
    let (yaml, _) = ok(&schema(
        &[path, "--format", "glue-yaml", "--layout", "Date"],
        &[],
    ));
    assert!(yaml.contains("- { Name: site, Type: string }"), "{yaml}");

    let (ddl, _) = ok(&schema(
        &[
            path,
            "--format",
            "athena-ddl",
            "--layout",
            "DateHour",
            "--table",
            "t",
        ],
        &[],
    ));
    assert!(
        ddl.starts_with("CREATE EXTERNAL TABLE IF NOT EXISTS `t` ("),
        "{ddl}"
    );
    assert!(
        ddl.contains("PARTITIONED BY (`dt` string, `hour` string)"),
        "{ddl}"
    );
    assert!(ddl.contains("  `ctx` struct<ok:boolean>\n)"), "{ddl}");
    assert!(
        ddl.contains("'s3://BUCKET/events/dt=${dt}/hour=${hour}/'"),
        "{ddl}"
    );
}

#[test]
fn rewrites_a_templates_generated_blocks() {
    let d = dir("schema-template");
    let committed = std::fs::read_to_string(Path::new(ROOT).join("template.yaml")).unwrap();
    // Blank the generated blocks: the command must restore them exactly.
    let mut blank = String::new();
    let mut inside = false;
    for line in committed.lines() {
        if line.trim_start().starts_with("# generated:") && line.ends_with(" end") {
            inside = false;
        }
        if !inside {
            blank.push_str(line);
            blank.push('\n');
        }
        if line.contains("# generated:") && line.contains(" begin ") {
            inside = true;
        }
    }
    assert!(
        blank.len() < committed.len() - 1000,
        "the blocks were blanked"
    );
    let file = d.join("template.yaml");
    std::fs::write(&file, &blank).unwrap();
    ok(&schema(
        &["events", "--write-template", file.to_str().unwrap()],
        &[],
    ));
    assert!(std::fs::read_to_string(&file).unwrap() == committed);
}

#[test]
fn errors_are_clear() {
    let d = dir("schema-errors");
    let no_markers = d.join("t.yaml");
    std::fs::write(&no_markers, "Resources: {}\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["no/such/dir"], "cannot read --input no/such/dir"),
        (
            &["events", "--layout", "Weekly"],
            "unknown --layout \"Weekly\"",
        ),
        (&["events", "--format", "csv"], "invalid value 'csv'"),
        (
            &["events", "--write-template", no_markers.to_str().unwrap()],
            "no `# generated:columns begin",
        ),
    ];
    for (args, want) in cases {
        let out = schema(args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = schema(&["events"], &[("TIME_FIELDS", "")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid TIME_FIELDS"));
}

/// Input with nothing to learn from (empty, only failures, not events) is
/// refused: exit 1, one line saying why, and a template given to
/// --write-template left byte for byte as it was.
#[test]
fn refuses_input_with_no_events_and_leaves_the_template_alone() {
    let d = dir("schema-refuse");
    let empty_file = d.join("empty.ndjson");
    std::fs::write(&empty_file, "").unwrap();
    let blank_file = d.join("blank.ndjson");
    std::fs::write(&blank_file, "\n \n").unwrap();
    let empty_dir = d.join("empty-dir");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let only_failures = d.join("failures.ndjson");
    std::fs::write(&only_failures, "[1]\n[2]\n").unwrap();
    let readme = Path::new(ROOT).join("README.md");
    let template = std::fs::read(Path::new(ROOT).join("template.yaml")).unwrap();
    // (input, what stderr says)
    let cases: [(&Path, &str); 5] = [
        (&empty_file, "no events in the input"),
        (&blank_file, "no events in the input"),
        (&empty_dir, "no events in the input"),
        (&only_failures, "none of the 2 events transformed Ok"),
        (&readme, "the input does not look like events: "),
    ];
    for (input, want) in cases {
        for write in [false, true] {
            let file = d.join("template.yaml");
            std::fs::write(&file, &template).unwrap();
            let mut args = vec![input.to_str().unwrap()];
            if write {
                args.extend(["--write-template", file.to_str().unwrap()]);
            }
            let out = schema(&args, &[]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{input:?}: {stderr}");
            let last = stderr.lines().last().unwrap_or("");
            assert!(
                last.starts_with("firehose-enricher: ") && last.contains(want),
                "{input:?}: {stderr}"
            );
            assert!(out.stdout.is_empty(), "{input:?}: nothing printed");
            assert!(
                std::fs::read(&file).unwrap() == template,
                "{input:?}: the template is untouched"
            );
        }
    }
}
