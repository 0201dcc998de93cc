//! The writer's buffering, the sink's output, and the destination's names.

use super::*;

fn dest(object_bytes: usize, gzip: bool) -> Destination {
    Destination::new(&DestinationOptions {
        object_bytes: Some(object_bytes),
        gzip,
        ..DestinationOptions::default()
    })
    .unwrap()
}

/// `(key, oldest arrival, contents)` of each object.
fn summary(objects: &[Object]) -> Vec<(&str, i64, &str)> {
    objects
        .iter()
        .map(|o| {
            (
                o.key.as_str(),
                o.oldest_arrival_ms,
                std::str::from_utf8(&o.data).unwrap(),
            )
        })
        .collect()
}

#[test]
fn writer_cuts_objects_at_the_size_and_keeps_line_order() {
    // (case, object bytes, memory limit, appends (key, arrival, line),
    //  objects ready before the flush, objects after it)
    type Append = (&'static str, i64, &'static str);
    type Want = &'static [(&'static str, i64, &'static str)];
    type Case = (&'static str, usize, usize, &'static [Append], Want, Want);
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("nothing appended", 10, 100, &[], &[], &[]),
        ("a line exactly the size is an object at once", 3, 100,
            &[("a/", 5, "ab\n")], &[("a/", 5, "ab\n")], &[]),
        ("a line over the size is an object of its own", 3, 100,
            &[("a/", 5, "abcdef\n")], &[("a/", 5, "abcdef\n")], &[]),
        ("under the size: nothing until the flush", 10, 100,
            &[("a/", 5, "x\n"), ("a/", 6, "y\n")], &[], &[("a/", 5, "x\ny\n")]),
        ("the oldest arrival names the object, whatever the order", 100, 1000,
            &[("a/", 9, "x\n"), ("a/", 3, "y\n"), ("a/", 7, "z\n")], &[], &[("a/", 3, "x\ny\nz\n")]),
        ("prefixes fill apart; the flush goes in prefix order", 100, 1000,
            &[("b/", 1, "1\n"), ("a/", 2, "2\n"), ("b/", 3, "3\n")], &[],
            &[("a/", 2, "2\n"), ("b/", 1, "1\n3\n")]),
        ("a full buffer starts a new object with the next line", 4, 100,
            &[("a/", 1, "12\n"), ("a/", 2, "34\n"), ("a/", 3, "5\n")],
            &[("a/", 1, "12\n34\n")], &[("a/", 3, "5\n")]),
        ("over the memory limit the largest buffer goes early", 100, 5,
            &[("a/", 1, "aaa\n"), ("b/", 2, "b\n")],
            &[("a/", 1, "aaa\n")], &[("b/", 2, "b\n")]),
    ];
    for (name, object_bytes, limit, appends, before, after) in cases {
        let mut w = Writer::with_limit(*object_bytes, *limit);
        for (key, arrival, line) in *appends {
            w.append(key, Kind::Data, *arrival, line.as_bytes());
        }
        let ready = w.take_ready();
        assert_eq!(summary(&ready), *before, "{name}: before the flush");
        let held: usize = appends.iter().map(|(_, _, l)| l.len()).sum::<usize>()
            - ready.iter().map(|o| o.data.len()).sum::<usize>();
        assert_eq!(w.buffered_bytes(), held, "{name}: bytes held");
        w.flush();
        assert_eq!(summary(&w.take_ready()), *after, "{name}: after the flush");
        assert_eq!(w.buffered_bytes(), 0, "{name}");
        assert!(w.take_ready().is_empty(), "{name}: the queue empties");
    }
}

#[test]
fn writer_flushes_by_age() {
    let mut w = Writer::new(1 << 20);
    w.append("old/", Kind::Data, 1_000, b"o\n");
    w.append("new/", Kind::Data, 5_000, b"n\n");
    w.append("err/", Kind::Error, 2_000, b"e\n");
    // Strictly older than the cut: a buffer that arrived at it stays.
    w.flush_older_than(2_000);
    assert_eq!(summary(&w.take_ready()), [("old/", 1_000, "o\n")]);
    w.flush_older_than(5_001);
    let ready = w.take_ready();
    assert_eq!(
        summary(&ready),
        [("err/", 2_000, "e\n"), ("new/", 5_000, "n\n")]
    );
    assert_eq!(ready[0].kind, Kind::Error);
    assert_eq!(w.buffered_bytes(), 0);
}

#[test]
fn object_paths_are_firehose_names_and_deterministic() {
    let object = Object {
        key: "events/site=a.com/".into(),
        kind: Kind::Data,
        oldest_arrival_ms: 1_518_352_207_000,
        data: b"{}\n".to_vec(),
    };
    let gz = dest(100, true).object_path(&object);
    assert!(
        gz.starts_with("events/site=a.com/firehose-enricher-events-1-2018-02-11-12-30-07-"),
        "{gz}"
    );
    assert!(gz.ends_with(".gz"), "{gz}");
    assert_eq!(gz, dest(100, true).object_path(&object.clone()));
    let plain = dest(100, false).object_path(&object);
    assert_eq!(plain, gz.trim_end_matches(".gz"));
    let other = Object {
        data: b"{\"a\":1}\n".to_vec(),
        ..object
    };
    assert_ne!(
        dest(100, false).object_path(&other),
        plain,
        "the id follows the bytes"
    );
}

#[test]
fn destination_options_are_checked() {
    let bad = |options: DestinationOptions| Destination::new(&options).unwrap_err();
    assert!(bad(DestinationOptions {
        layout: Some("Weekly".into()),
        ..DestinationOptions::default()
    })
    .starts_with("unknown --layout \"Weekly\"; template.yaml has "));
    assert_eq!(
        bad(DestinationOptions {
            object_bytes: Some(0),
            ..DestinationOptions::default()
        }),
        "--object-bytes must be at least 1"
    );
    let d = Destination::new(&DestinationOptions::default()).unwrap();
    assert_eq!(d.object_bytes, template_mb("DeliveryBufferSizeMB", 0.0));
    assert!(d.object_bytes > 0);
}

#[test]
fn sink_writes_what_replay_writes_and_flushes_on_demand() {
    let dir = std::env::temp_dir().join(format!("sink-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::default();
    let mut sink = Sink::new(dir.clone(), dest(1 << 20, false));
    let events = [
        Event {
            data: br#"{"ts":1518352207,"url":"https://news.bbc.co.uk/a"}"#,
            arrival_ms: 1_518_352_210_000,
        },
        Event {
            data: b"not json",
            arrival_ms: 1_518_352_211_000,
        },
        Event {
            data: br#"{"ts":1518352207,"url":"https://www.bbc.co.uk/b"}"#,
            arrival_ms: 1_518_352_212_000,
        },
    ];
    let counts = sink.put(&events, &config).unwrap();
    assert_eq!((counts.batches, counts.ok), (1, 2));
    assert_eq!(counts.failed[FailReason::NotJson as usize], 1);
    // Nothing is written before a flush while the buffers are small.
    assert!(!dir.exists());
    assert!(sink.buffered_bytes() > 0);
    sink.flush().unwrap();
    assert_eq!(sink.buffered_bytes(), 0);
    let written = sink.written();
    assert_eq!((written.data_objects, written.error_objects), (1, 1));
    let partition = written.partitions.iter().next().unwrap().clone();
    assert!(partition.contains("bbc.co.uk"), "{partition}");
    // The data object holds both Ok lines, in order; the error object the
    // bad event's bytes as rawData.
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let text: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let data = text.iter().find(|t| t.contains("/a\"")).unwrap();
    assert_eq!(data.lines().count(), 2);
    assert!(data.find("/a\"").unwrap() < data.find("/b\"").unwrap());
    let error = text.iter().find(|t| t.contains("rawData")).unwrap();
    assert!(error.contains("\"errorCode\":\"Lambda.ProcessingFailedStatus\""));
    assert!(error.contains("\"errorMessage\":\"not_json\""));
    assert!(error.contains("\"rawData\":\"bm90IGpzb24=\""), "{error}");
    // A second flush has nothing to write.
    sink.flush().unwrap();
    assert_eq!(sink.written().data_objects, 1);
    assert_eq!(sink.counts().ok, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
