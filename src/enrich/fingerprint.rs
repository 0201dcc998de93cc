//! `event_fingerprint`: a stable key to deduplicate on. Firehose delivers at
//! least once, so the same record can reach S3 twice; the same bytes always
//! give the same fingerprint, on every run, version and machine.

use super::{Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, Stage};
use crate::reason::DropReason;
use crate::settings::{ConfigError, Env};
use std::sync::Arc;

pub const ENRICHER: Enricher = Enricher {
    name: "fingerprint",
    optional: true,
    summary: "a hash of the record's bytes, to deduplicate redeliveries",
    fields: &[Field {
        name: "event_fingerprint",
        json_type: JsonType::String,
        athena_type: "string",
        presence: Presence::Omitted,
        description: "XXH3-128 (seed 0) of the record's decoded bytes exactly as received, 32 lowercase hex digits, most significant first; equal for redeliveries of the same record",
    }],
    variables: &[],
    examples: &[Example {
        title: "The hash of the bytes as received",
        input: r#"{"event":"page_view","url":"https://example.com/"}"#,
        variables: &[],
        output: Expected::Fields(&[("event_fingerprint", Some(r#""c178789430cf81a16fde0cd50f02f20d""#))]),
    }],
    build,
};

#[derive(Debug)]
struct Fingerprint;

fn build(_: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    Ok(Arc::new(Fingerprint))
}

/// The fingerprint of a record's bytes, as written.
///
/// ```
/// use firehose_enricher::enrich::fingerprint::fingerprint;
/// assert_eq!(fingerprint(b""), "99aa06d3014798d86001c324468d497f");
/// ```
pub fn fingerprint(data: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(data))
}

impl Stage for Fingerprint {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        _: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        out.hex128(
            "event_fingerprint",
            xxhash_rust::xxh3::xxh3_128(record.data),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XXH3-128 values from an independent implementation (the Python
    /// `xxhash` package, a binding of the reference C library); they pin the
    /// algorithm, the seed and the byte order (most significant first).
    #[test]
    fn known_values() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "99aa06d3014798d86001c324468d497f"),
            (b"a", "a96faf705af16834e6c632b61e964e1f"),
            (
                br#"{"type":"page_view"}"#,
                "a144554460677b84d9d8ed1ce81236e3",
            ),
            (
                br#"{"ts":1518352207,"url":"https://shop.example.co.uk/"}"#,
                "9224e9d25fd7699f5fe2a739629fd939",
            ),
        ];
        for (data, want) in cases {
            assert_eq!(fingerprint(data), *want, "{data:?}");
            // The stage's hand-written hex agrees with `format!`.
            let config = crate::Config::default();
            let mut out = Vec::new();
            let mut scratch = crate::record::Scratch::default();
            let text = std::str::from_utf8(data).unwrap();
            if text.starts_with('{') {
                crate::record::transform_into(data, 0, &config, &mut scratch, &mut out);
                let line = std::str::from_utf8(&out).unwrap();
                assert!(
                    line.ends_with(&format!(",\"event_fingerprint\":\"{want}\"}}\n")),
                    "{line}"
                );
            }
        }
    }
}
