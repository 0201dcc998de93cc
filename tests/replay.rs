//! `replay` end to end: the binary over files of events, into a folder.

use base64::Engine;
use flate2::read::MultiGzDecoder;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh folder under Cargo's per-test temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("replay-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn replay(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
        .arg("replay")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn gunzip(path: &Path) -> String {
    let mut s = String::new();
    MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// The default layout, read from template.yaml with a scan of its own (not
/// replay's): the `Layout` parameter's `Default`, then that entry's lines
/// under `Mappings`.
fn template_default_layout() -> (String, String) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"))
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let param = lines
        .iter()
        .position(|l| *l == "  Layout:")
        .expect("a Layout parameter");
    let default = lines[param + 1..]
        .iter()
        .find_map(|l| l.trim().strip_prefix("Default:"))
        .unwrap()
        .trim();
    let mappings = lines.iter().position(|l| *l == "Mappings:").unwrap();
    let entry = lines[mappings..]
        .iter()
        .position(|l| l.trim_end() == format!("    {default}:"))
        .unwrap()
        + mappings;
    let value = |key: &str| -> String {
        lines[entry + 1..]
            .iter()
            .take_while(|l| l.starts_with("      "))
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap()
            .trim()
            .to_owned()
    };
    (value("Prefix:"), value("ErrorOutputPrefix:"))
}

#[test]
fn default_layout_is_the_templates() {
    let (prefix, error_prefix) = template_default_layout();
    // The agreed layout, so that a template that loses it fails here too.
    assert!(prefix.contains("!{partitionKeyFromLambda:dt}"), "{prefix}");
    assert!(
        error_prefix.contains("!{firehose:error-output-type}"),
        "{error_prefix}"
    );
    let dir = scratch("layout");
    let input = dir.join("in.ndjson");
    std::fs::write(
        &input,
        "{\"ts\":1518352207,\"url\":\"https://news.bbc.co.uk/\"}\nnot json\n",
    )
    .unwrap();
    let out = dir.join("out");
    let summary = replay(&[
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        summary.contains(&format!(
            "data under   {prefix}\n  errors under {error_prefix}\n"
        )),
        "{summary}"
    );
    // Evaluate the template's expressions by hand for this event.
    let want_data = prefix
        .replace("!{partitionKeyFromLambda:dt}", "2018-02-11")
        .replace("!{partitionKeyFromLambda:site}", "bbc.co.uk")
        .replace("!{partitionKeyFromLambda:hour}", "12");
    let mtime = chrono::DateTime::<chrono::Utc>::from(
        std::fs::metadata(&input).unwrap().modified().unwrap(),
    );
    let want_error = error_prefix
        .replace("!{firehose:error-output-type}", "processing-failed")
        .replace(
            "!{timestamp:yyyy-MM-dd}",
            &mtime.format("%Y-%m-%d").to_string(),
        );
    let written = files(&out);
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(
        written.iter().any(|f| f.starts_with(&want_data)),
        "{written:?} vs {want_data}"
    );
    assert!(
        written.iter().any(|f| f.starts_with(&want_error)),
        "{written:?} vs {want_error}"
    );
}

#[test]
fn every_input_shape_is_split_and_nothing_is_skipped() {
    let dir = scratch("shapes");
    let input = dir.join("in");
    std::fs::create_dir_all(input.join("nested/deeper")).unwrap();
    let ev = |n: u32| {
        format!(r#"{{"n":{n},"ts":"2018-02-11T12:30:{n:02}Z","url":"https://example.com/{n}"}}"#)
    };
    // Newline-delimited, plain.
    std::fs::write(input.join("a.ndjson"), format!("{}\n{}\n", ev(1), ev(2))).unwrap();
    // Concatenated (Firehose), gzip, with a misleading name.
    std::fs::write(
        input.join("nested/b.json"),
        gzip(format!("{}{}", ev(3), ev(4)).as_bytes()),
    )
    .unwrap();
    // Pretty-printed, multi-member gzip, without an extension.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&ev(5)).unwrap())
            .unwrap();
    let mut two = gzip(pretty.as_bytes());
    two.extend(gzip(format!("\n{}", ev(6)).as_bytes()));
    std::fs::write(input.join("nested/deeper/c"), two).unwrap();
    // Bad pieces: garbage, a JSON array, a truncated tail.
    std::fs::write(
        input.join("d.ndjson"),
        format!("{}\ngarbage line\n[1,2]\n{{\"n\":8,\"ts\":", ev(7)),
    )
    .unwrap();
    let out = dir.join("out");
    let summary = replay(&[
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--compression",
        "none",
    ]);
    assert!(
        summary.contains("replayed 10 events from 4 files"),
        "{summary}"
    );
    assert!(
        summary.contains("Ok                         7"),
        "{summary}"
    );
    assert!(
        summary.contains("ProcessingFailed           3  (not_json=2, not_object=1)"),
        "{summary}"
    );
    assert!(summary.contains("1 truncated, 1 garbage"), "{summary}");
    assert!(
        summary.contains("own time for 7; file mtime for 3"),
        "{summary}"
    );

    let written = files(&out);
    let data: Vec<&String> = written
        .iter()
        .filter(|f| f.starts_with("events/"))
        .collect();
    assert_eq!(data.len(), 1, "{written:?}");
    assert!(
        data[0].starts_with(
            "events/dt=2018-02-11/site=example.com/firehose-enricher-events-1-2018-02-11-12-30-01-"
        ),
        "{}",
        data[0]
    );
    let lines = std::fs::read_to_string(out.join(data[0])).unwrap();
    let mut ns: Vec<u64> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    ns.sort();
    assert_eq!(ns, [1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn bad_events_land_in_the_error_output_with_their_bytes() {
    let dir = scratch("errors");
    let bad: [&[u8]; 4] = [b"{\"a\":", b"[1]", b"\xff\xfe", b"plain text"];
    // Good events in the majority: bad ones are data, not the wrong input.
    let mut input = b"{\"ts\":1518352207,\"url\":\"https://example.com/\"}\n".repeat(4);
    for b in bad {
        input.extend_from_slice(b);
        input.push(b'\n');
    }
    std::fs::write(dir.join("in"), &input).unwrap();
    let out = dir.join("out");
    let summary = replay(&[
        "--input",
        dir.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--stream-name",
        "web",
        "--lambda-arn",
        "arn:aws:lambda:eu-west-1:123456789012:function:enricher",
    ]);
    assert!(
        summary.contains("ProcessingFailed           4  (not_utf8=1, not_json=2, not_object=1)"),
        "{summary}"
    );
    let errors: Vec<String> = files(&out)
        .into_iter()
        .filter(|f| f.starts_with("errors/processing-failed/"))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("/web-1-") && errors[0].ends_with(".gz"),
        "{}",
        errors[0]
    );
    let text = gunzip(&out.join(&errors[0]));
    let docs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 4);
    let mut raws: Vec<Vec<u8>> = Vec::new();
    for d in &docs {
        let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "attemptsMade",
            "arrivalTimestamp",
            "errorCode",
            "errorMessage",
            "attemptEndingTimestamp",
            "rawData",
            "lambdaArn",
        ] {
            assert!(keys.contains(&k), "{k} missing in {d}");
        }
        assert_eq!(d["errorCode"], "Lambda.ProcessingFailedStatus");
        assert_eq!(
            d["lambdaArn"],
            "arn:aws:lambda:eu-west-1:123456789012:function:enricher"
        );
        raws.push(
            base64::engine::general_purpose::STANDARD
                .decode(d["rawData"].as_str().unwrap())
                .unwrap(),
        );
    }
    raws.sort();
    let mut want: Vec<Vec<u8>> = bad.iter().map(|b| b.to_vec()).collect();
    want.sort();
    assert_eq!(raws, want, "the original bytes, untouched");
}

#[test]
fn arrival_modes_decide_where_old_events_go() {
    let dir = scratch("arrival");
    std::fs::write(
        dir.join("in"),
        "{\"timestamp\":\"2018-02-11T12:30:07Z\",\"url\":\"https://example.com/\"}\n",
    )
    .unwrap();
    let today = || {
        chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
            .format("dt=%Y-%m-%d")
            .to_string()
    };
    for mode in ["event", "now", "file-mtime"] {
        // Today's date, before and after the run: a run across midnight
        // may see either.
        let before = today();
        let out = dir.join(mode);
        replay(&[
            "--input",
            dir.join("in").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--arrival",
            mode,
        ]);
        let wants = match mode {
            "event" => vec!["dt=2018-02-11".to_owned()],
            _ => vec![before, today()],
        };
        let written = files(&out);
        assert!(
            wants
                .iter()
                .any(|want| written[0].starts_with(&format!("events/{want}/"))),
            "{mode}: {written:?}, expected one of {wants:?}"
        );
    }
}

#[test]
fn overrides_and_bad_layouts() {
    let dir = scratch("overrides");
    std::fs::write(
        dir.join("in"),
        "{\"ts\":1518352207,\"url\":\"https://example.com/\"}\n",
    )
    .unwrap();
    let out = dir.join("out");
    replay(&[
        "--input",
        dir.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--prefix",
        "raw/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/",
        "--compression",
        "none",
    ]);
    assert!(
        files(&out)[0]
            .starts_with("raw/2018/02/11/12/firehose-enricher-events-1-2018-02-11-12-30-07-"),
        "{:?}",
        files(&out)
    );

    for (args, want) in [
        (vec!["--layout", "Nope"], "unknown --layout"),
        (
            vec!["--prefix", "e/!{firehose:error-output-type}/"],
            "error prefix only",
        ),
        (
            vec!["--error-prefix", "e/!{timestamp:yyyy}/"],
            "must contain",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
            .args([
                "replay",
                "--input",
                dir.join("in").to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .args(&args)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn an_event_too_large_for_a_response_fails_its_batch_like_firehose() {
    // 7 MB cannot come back in a 6 MB response, even as a failed record:
    // the function errors, and Firehose writes the batch to the error
    // output as Lambda.FunctionError. The small event before it travels in
    // its own batch (--batch-bytes) and is delivered.
    let dir = scratch("too-large");
    let big = format!(
        "{{\"ts\":1518352207,\"pad\":\"{}\"}}",
        "x".repeat(7_000_000)
    );
    std::fs::write(
        dir.join("in"),
        format!("{{\"ts\":1518352207,\"url\":\"https://example.com/\"}}\n{big}\n"),
    )
    .unwrap();
    let out = dir.join("out");
    let summary = replay(&[
        "--input",
        dir.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--batch-bytes",
        "1000",
    ]);
    assert!(
        summary.contains("Ok                         1"),
        "{summary}"
    );
    assert!(
        summary.contains("Lambda.FunctionError       1"),
        "{summary}"
    );
    let errors: Vec<String> = files(&out)
        .into_iter()
        .filter(|f| f.starts_with("errors/processing-failed/"))
        .collect();
    let doc: serde_json::Value =
        serde_json::from_str(gunzip(&out.join(&errors[0])).trim()).unwrap();
    assert_eq!(doc["errorCode"], "Lambda.FunctionError");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(doc["rawData"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, big.as_bytes());
}

/// Redrive: what Firehose wrote to the error prefix, and Firehose requests,
/// replay as the events they carry.
#[test]
fn error_records_and_requests_replay_the_events_they_carry() {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dir = scratch("redrive");
    // 1. Bad events fail into the error output...
    let bad: [&[u8]; 3] = [b"{\"a\":", b"[1]", b"plain text"];
    let mut input = b"{\"ts\":1518352207,\"url\":\"https://example.com/\"}\n".repeat(3);
    for b in bad {
        input.extend_from_slice(b);
        input.push(b'\n');
    }
    std::fs::write(dir.join("in"), &input).unwrap();
    let first = dir.join("first");
    replay(&[
        "--input",
        dir.join("in").to_str().unwrap(),
        "--out",
        first.to_str().unwrap(),
    ]);
    // 2. ...and replaying that error output replays their raw bytes, which
    // fail the same way: nothing is enriched as an error document.
    let second = dir.join("second");
    let summary = replay(&[
        "--input",
        first.join("errors").to_str().unwrap(),
        "--out",
        second.to_str().unwrap(),
    ]);
    assert!(summary.starts_with("replayed 3 events"), "{summary}");
    assert!(
        summary.contains("3 events from Firehose error records"),
        "{summary}"
    );
    assert!(
        summary.contains("Ok                         0"),
        "{summary}"
    );
    let raws = |out: &Path| -> Vec<String> {
        let mut raws: Vec<String> = files(out)
            .iter()
            .filter(|f| f.starts_with("errors/"))
            .flat_map(|f| {
                gunzip(&out.join(f))
                    .lines()
                    .map(|l| {
                        serde_json::from_str::<serde_json::Value>(l).unwrap()["rawData"].to_string()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        raws.sort();
        raws
    };
    assert_eq!(raws(&second), raws(&first));
    assert_eq!(raws(&second).len(), 3);

    // 3. Error records in the wild: either spelling of the function's ARN,
    // gzip, one per line; a good event in them is enriched.
    let good = br#"{"ts":1518352207,"url":"https://shop.example.co.uk/"}"#;
    let docs = [
        format!(
            r#"{{"attemptsMade":4,"arrivalTimestamp":1518352210000,"errorCode":"Lambda.FunctionError","errorMessage":"timeout","attemptEndingTimestamp":1518352290000,"rawData":"{}","lambdaArn":"arn:aws:lambda:eu-west-1:1:function:f:$LATEST"}}"#,
            b64(good)
        ),
        format!(
            r#"{{"attemptsMade":1,"arrivalTimestamp":1518352210000,"errorCode":"Lambda.ProcessingFailedStatus","errorMessage":"x","attemptEndingTimestamp":1518352290000,"rawData":"{}","lambdaARN":"arn:aws:lambda:eu-west-1:1:function:f:$LATEST"}}"#,
            b64(good)
        ),
    ];
    let wild = dir.join("wild");
    std::fs::create_dir_all(&wild).unwrap();
    std::fs::write(
        wild.join("a"),
        gzip(format!("{}\n{}\n", docs[0], docs[1]).as_bytes()),
    )
    .unwrap();
    // 4. A Firehose request file: its 17 records, not one envelope.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("events/page-views.json"),
        wild.join("request.json"),
    )
    .unwrap();
    let out = dir.join("wild-out");
    let summary = replay(&[
        "--input",
        wild.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(summary.starts_with("replayed 19 events"), "{summary}");
    assert!(
        summary
            .contains("2 events from Firehose error records (rawData), 17 from Firehose requests"),
        "{summary}"
    );
    let lines: Vec<String> = files(&out)
        .iter()
        .filter(|f| f.starts_with("events/"))
        .flat_map(|f| {
            gunzip(&out.join(f))
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let shop = lines
        .iter()
        .filter(|l| l.contains("shop.example.co.uk/\""))
        .count();
    assert_eq!(shop, 2, "{lines:?}");
    assert!(lines
        .iter()
        .all(|l| !l.contains("rawData") && !l.contains("recordId")));
}

/// The summary reads as English at every count, keeps its lines short, and
/// an input with no events says so.
#[test]
fn summary_counts_read_right_and_empty_input_warns() {
    let dir = scratch("grammar");
    let one = dir.join("one.ndjson");
    std::fs::write(
        &one,
        "{\"url\":\"https://a.example.com/\",\"ts\":1795770900}\n",
    )
    .unwrap();
    let empty = dir.join("empty.ndjson");
    std::fs::write(&empty, "\n").unwrap();
    let run = |input: &Path, out: &str| {
        Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
            .args(["replay", "--input"])
            .arg(input)
            .arg("--out")
            .arg(dir.join(out))
            .output()
            .unwrap()
    };
    let single = run(&one, "out-one");
    assert!(single.status.success());
    let summary = String::from_utf8(single.stdout).unwrap();
    let cases = [
        "replayed 1 event from 1 file in 1 invocation\n",
        "written: 1 data object in 1 partition, 0 error objects,",
    ];
    for want in cases {
        assert!(summary.contains(want), "{want:?} in:\n{summary}");
    }
    // Every line fits 100 columns, but the one naming the output folder.
    let out_dir = dir.join("out-one").display().to_string();
    for line in summary.lines().filter(|l| !l.contains(&out_dir)) {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.len()
        );
    }
    assert!(String::from_utf8_lossy(&single.stderr).is_empty());

    let nothing = run(&empty, "out-empty");
    assert!(nothing.status.success(), "no events is not an error");
    let stderr = String::from_utf8_lossy(&nothing.stderr);
    assert!(
        stderr.contains("warning: the input held no events (1 file read); nothing was written"),
        "{stderr}"
    );
    assert!(String::from_utf8(nothing.stdout)
        .unwrap()
        .starts_with("replayed 0 events from 1 file in 0 invocations"));
}

#[test]
fn the_output_is_the_same_for_any_number_of_threads() {
    let dir = scratch("jobs");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    // Several files and shapes, days and sites, bad events among good ones:
    // many batches and many objects, some written before the end.
    for f in 0..6 {
        let mut text = String::new();
        for i in 0..400 {
            let n = f * 400 + i;
            match n % 23 {
                0 => text.push_str("not json\n"),
                1 => text.push_str("{\"url\":\"https://truncated.example/\n"),
                _ => text.push_str(&format!(
                    "{{\"ts\":{},\"url\":\"https://s{}.example{}.com/p/{n}\",\"pad\":\"{}\"}}\n",
                    1_518_352_207 + (n as u64 % 5) * 86_400,
                    n % 7,
                    n % 3,
                    "x".repeat(n % 97),
                )),
            }
        }
        let path = input.join(format!("part-{f}.ndjson"));
        if f % 2 == 0 {
            std::fs::write(path.with_extension("gz"), gzip(text.as_bytes())).unwrap();
        } else {
            std::fs::write(path, text).unwrap();
        }
    }
    let run = |jobs: &str| {
        let out = dir.join(format!("out-{jobs}"));
        let summary = replay(&[
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--batch-bytes",
            "3000",
            "--object-bytes",
            "20000",
            "--jobs",
            jobs,
        ]);
        let tree: Vec<(String, Vec<u8>)> = files(&out)
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(out.join(&f)).unwrap();
                (f, bytes)
            })
            .collect();
        // All but the timing and the output folder.
        let summary: Vec<String> = summary
            .lines()
            .filter(|l| !l.trim_start().starts_with("read:") && !l.contains("under /"))
            .map(str::to_owned)
            .collect();
        (tree, summary)
    };
    let (one, one_summary) = run("1");
    assert!(one.len() > 20, "many objects: {}", one.len());
    assert!(one.iter().any(|(f, _)| f.starts_with("errors/")));
    for jobs in ["2", "5"] {
        let (tree, summary) = run(jobs);
        assert_eq!(
            tree.iter().map(|(f, _)| f).collect::<Vec<_>>(),
            one.iter().map(|(f, _)| f).collect::<Vec<_>>(),
            "--jobs {jobs}: the same objects"
        );
        assert!(tree == one, "--jobs {jobs}: the same bytes");
        assert_eq!(summary, one_summary, "--jobs {jobs}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Input that is mostly not events (a README) is refused with one plain
/// line and a non-zero exit; the output is still written, nothing lost.
/// Bad records below half are ordinary data and exit 0.
#[test]
fn input_that_is_mostly_not_events_is_refused() {
    let dir = scratch("not-events");
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let good = "{\"ts\":1518352207,\"url\":\"https://example.com/\"}\n";
    let half = dir.join("half.ndjson");
    std::fs::write(&half, format!("{good}{good}not json\n{{\"cut\":\n")).unwrap();
    let over = dir.join("over.ndjson");
    std::fs::write(&over, format!("{good}not json\n{{\"cut\":\n")).unwrap();
    // (input, refused)
    let cases: [(&Path, bool); 3] = [(&readme, true), (&over, true), (&half, false)];
    for (input, refused) in cases {
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let run = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
            .args(["replay", "--input"])
            .arg(input)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert_eq!(
            run.status.code(),
            Some(if refused { 1 } else { 0 }),
            "{input:?}: {stderr}"
        );
        assert_eq!(
            stderr.contains("firehose-enricher: the input does not look like events: "),
            refused,
            "{input:?}: {stderr}"
        );
        assert_eq!(
            stderr.lines().count(),
            usize::from(refused),
            "one line: {stderr}"
        );
        // The summary is printed, and the error output holds the pieces.
        assert!(stdout.starts_with("replayed "), "{stdout}");
        assert!(files(&out).iter().any(|f| f.starts_with("errors/")));
    }
}

/// A Firehose request record with no `data` is counted and reported, as
/// the function fails it (`missing_data`), not skipped in silence.
#[test]
fn request_records_without_data_are_counted_and_reported() {
    let dir = scratch("no-data");
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let request = format!(
        r#"{{"invocationId":"i","records":[{{"recordId":"1","approximateArrivalTimestamp":1518352210000}},{{"recordId":"2","approximateArrivalTimestamp":1518352210000,"data":"{}"}}]}}"#,
        b64(br#"{"ts":1518352207,"url":"https://example.com/"}"#)
    );
    std::fs::write(dir.join("request.json"), request).unwrap();
    let out = dir.join("out");
    let summary = replay(&[
        "--input",
        dir.join("request.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let cases = [
        "ProcessingFailed           1  (missing_data=1)",
        "1 request record with no data: counted as missing_data, nothing to write",
        "Ok                         1",
    ];
    for want in cases {
        assert!(summary.contains(want), "{want:?} in:\n{summary}");
    }
    // events/ itself: failures.json holds such a record.
    let summary = replay(&[
        "--input",
        concat!(env!("CARGO_MANIFEST_DIR"), "/events"),
        "--out",
        dir.join("events-out").to_str().unwrap(),
    ]);
    assert!(summary.contains("missing_data=1"), "{summary}");
}

/// `--to-stream` without credentials or a region stops at once with one
/// line naming what is missing, and sends nothing: the SDK would otherwise
/// retry each call until the round's deadline. Only 127.0.0.1 is used:
/// the endpoint and the instance metadata service stand-in.
#[test]
fn to_stream_without_credentials_or_region_fails_at_once() {
    use std::net::TcpListener;
    let dir = scratch("to-stream-config");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let input = dir.join("in.ndjson");
    std::fs::write(
        &input,
        "{\"ts\":1518352207,\"url\":\"https://example.com/\"}\n",
    )
    .unwrap();
    // The stream's endpoint: nothing may connect to it.
    let endpoint = TcpListener::bind("127.0.0.1:0").unwrap();
    endpoint.set_nonblocking(true).unwrap();
    let endpoint_url = format!("http://{}", endpoint.local_addr().unwrap());
    // A port where nothing listens, for the metadata service.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let imds_url = format!("http://{closed}");
    let home_s = home.to_str().unwrap();
    let no_imds = ("AWS_EC2_METADATA_DISABLED", "true");
    let keys = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    // (variables, what the one line says)
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (
            vec![no_imds],
            format!("no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in {home_s}/.aws/credentials or {home_s}/.aws/config with AWS_PROFILE); no AWS region (set AWS_REGION"),
        ),
        (vec![no_imds, keys[0], keys[1]], "no AWS region (set AWS_REGION".into()),
        (vec![no_imds, ("AWS_REGION", "eu-west-1")], "no AWS credentials (set".into()),
        (
            vec![no_imds, ("AWS_REGION", "eu-west-1"), ("AWS_PROFILE", "prod")],
            "AWS_PROFILE=prod names no profile in".into(),
        ),
        (
            vec![("AWS_REGION", "eu-west-1"), ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds_url)],
            format!("no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE); the instance metadata service at {closed} did not answer either"),
        ),
    ];
    for (vars, want) in &cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
            .env_clear()
            .env("HOME", &home)
            .env("AWS_ENDPOINT_URL", &endpoint_url)
            .envs(vars.iter().copied())
            .args(["replay", "--to-stream", "events", "--input"])
            .arg(&input)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A guard against a hang, not a timing test: the check needs no
        // network, where the SDK's retries took minutes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{vars:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{vars:?}: one line: {stderr}");
        assert!(
            stderr.starts_with("firehose-enricher: ") && stderr.contains(want.as_str()),
            "{vars:?}: {stderr}\nwant: {want}"
        );
        assert!(out.stdout.is_empty(), "{vars:?}");
        assert!(endpoint.accept().is_err(), "{vars:?}: nothing was sent");
    }
}
