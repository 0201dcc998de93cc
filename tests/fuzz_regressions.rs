//! Inputs the fuzz targets once failed on, replayed through the same
//! harness (tests/common/oracle.rs, `fuzz::*_input`) on every `cargo test`.
//!
//! Saved inputs live in tests/fuzz-regressions/<target>/, byte for byte as
//! libFuzzer wrote them; small ones are also inline below, minimized by
//! hand, with what went wrong.

#[path = "common/oracle.rs"]
mod oracle;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// (what it caught, target, input as the fuzzer feeds it)
const INLINE: &[(&str, &str, &[u8])] = &[
    (
        // Not a bug in the function: bytes that are not UTF-8 inside
        // `invocationId` make the request invalid JSON, and the function
        // rejects it. The oracle wrongly called that a well-formed request
        // because its own parser skipped the field unread.
        "invalid UTF-8 in invocationId is rejected, not answered",
        "batch",
        b"\x00{\"invocationId\":\"a\xa1\",\"records\":[{\"recordId\":\"1\",\"approximateArrivalTimestamp\":1795770902000,\"data\":\"e30=\"}]}",
    ),
    (
        // Not a bug in the function: the second record configuration reads
        // user agents from `ua`, so a record's `user_agent` member is not
        // read and no browser is written. The oracle checked the member
        // against the fields whatever USER_AGENT_FIELDS said.
        "a user_agent member that USER_AGENT_FIELDS does not name is not parsed",
        "record",
        b"\x01\x00\x00\x00\x00\x00\x00\x00\x00{\"user_agent\":\"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1\"}",
    ),
    (
        // Not a bug in the function: a member name with a lone surrogate
        // escape is valid JSON text, which the function echoes. The oracle
        // read the output's names as Rust strings, which cannot hold one.
        "a lone surrogate escape in a member name is echoed and read",
        "record",
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00{\"url\":\"https://www.example.com/\",\"referre\\udc00r\":\"https://l.facebook.com/\"}",
    ),
    (
        // Not a bug in the function: ANONYMIZE_IP, on by default, masks the
        // collector's `ip`. The oracle still said every configuration it
        // checks had the privacy controls off (it was written before the
        // default changed, and the fuzz targets had not been run since).
        "an IP field holds its network under the default configuration",
        "record",
        b"\x01\x00\x00\x00\x00\x00\x00\x00\x00{\"url\":\"https://example.com/\",\"ip\":\"193.0.6.139\"}",
    ),
    (
        // Not a bug in the function: the collector accepts an event with a
        // lone surrogate escape, which is valid JSON text (the transform
        // echoes it). The check read each event into a serde_json `Map`,
        // which cannot hold one.
        "an event with a lone surrogate escape is accepted as it is",
        "collector",
        b"\x00{\"type\":\"page_view\",\"k\":\"\\udc00\"}",
    ),
    (
        // A bug in the function: a member name with a byte that is not
        // UTF-8 was read as bytes and passed over, so the request was
        // answered though it is not JSON text; such a byte in a value got
        // the request rejected. Both are rejected now.
        "a member name that is not UTF-8 makes the request malformed",
        "batch",
        b"\x01{\"invocation\x94Id\":\"a\",\"records\":[{\"recordId\":\"1\",\"approximateArrivalTimestamp\":1795770902000,\"data\":\"e30=\"}]}",
    ),
    (
        // The same bug for a raw control character in a member name.
        "a raw control character in a member name makes the request malformed",
        "batch",
        b"\x00{\"invocationId\":\"i\",\"deliveryStream\x00rn\":\"a\",\"records\":[{\"recordId\":\"1\",\"approximateArrivalTimestamp\":1795770902000,\"data\":\"e30=\"}]}",
    ),
    (
        // Not a bug in the function: a record that gives `data` or
        // `approximateArrivalTimestamp` twice fails alone, by design. The
        // oracle's derived record shape rejected the whole request instead.
        "a duplicated member fails its record, not the request",
        "batch",
        b"\x00{\"records\":[{\"recordId\":\"1\",\"approximateArrivalTimestamp\":1795770902000,\"data\":\"e30=\",\"approximateArrivalTimestamp\":1795770902000,\"data\":\"e30=\"},{\"recordId\":\"2\",\"approximateArrivalTimestamp\":1795770902000,\"data\":\"e30=\"}]}",
    ),
    (
        // Not a bug in the function: a lone surrogate escape in a member
        // name is valid JSON text, which the function passes over. The
        // oracle's derived request shape read names as Rust strings.
        "a lone surrogate escape in a request member name is passed over",
        "batch",
        b"\x00{\"\\ud800ti\x7fnId\":\"i\",\"records\":[{\"\\udc00\":1,\"recordId\":\"1\",\"approximateArrivalTimestamp\":1795770902000,\"data\":\"e30=\"}]}",
    ),
    (
        // Not a bug in the function: it reads `deliveryStreamArn` (for
        // re-ingestion), so a request giving it twice is malformed. The
        // oracle's request shape passed the member over.
        "a duplicated deliveryStreamArn makes the request malformed",
        "batch",
        b"\x00{\"deliveryStreamArn\":\"a\",\"deliveryStreamArn\":\"b\",\"records\":[{\"recordId\":\"1\",\"approximateArrivalTimestamp\":1795770902000,\"data\":\"e30=\"}]}",
    ),
];

fn replay(target: &str, input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| match target {
        "batch" => oracle::fuzz::batch_input(input),
        "record" => oracle::fuzz::record_input(input),
        "collector" => oracle::fuzz::collector_input(input),
        other => panic!("unknown fuzz target {other}"),
    }))
    .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn inline_inputs() {
    for (what, target, input) in INLINE {
        if let Err(e) = replay(target, input) {
            panic!("{target}: {what}: {e}");
        }
    }
}

#[test]
fn saved_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut failed = Vec::new();
    let mut replayed = 0;
    for target in ["batch", "record", "collector"] {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in dir {
            let path = entry.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            replayed += 1;
            if let Err(e) = replay(target, &input) {
                failed.push(format!("{}: {e}", path.display()));
            }
        }
    }
    assert!(
        replayed > 0,
        "no saved inputs found under {}",
        root.display()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
