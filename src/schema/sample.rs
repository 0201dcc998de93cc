//! The sample the `schema` command reads: events in every form `replay`
//! reads, plus Firehose transformation requests (the files in `events/`),
//! run through the configured transform, so that the columns are those of
//! what the function writes.

use super::{Inference, LeftOut, Type};
use crate::record::{transform_into, Outcome, Scratch};
use crate::replay::split::{split, PieceKind};
use crate::Config;
use base64::Engine;

/// A schema inferred from a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Every registry field with its registry type, in output order, then
    /// the events' own fields, in first-seen order.
    pub columns: Vec<(String, Type)>,
    /// Fields of the events left out (their values go to `extra`).
    pub left_out: Vec<LeftOut>,
    /// Events read, and how many of them the transform returned `Ok`.
    pub events: usize,
    pub ok: usize,
    /// Pieces of the input that are not JSON at all (text, or JSON cut
    /// short), counted among `events`.
    pub not_json: usize,
}

/// Infers a schema from sample files, one file's bytes at a time.
pub struct Sampler<'c> {
    config: &'c Config,
    inference: Inference,
    scratch: Scratch,
    line: Vec<u8>,
    events: usize,
    not_json: usize,
}

impl<'c> Sampler<'c> {
    pub fn new(config: &'c Config) -> Sampler<'c> {
        Sampler {
            config,
            inference: Inference::default(),
            scratch: Scratch::default(),
            line: Vec::new(),
            events: 0,
            not_json: 0,
        }
    }

    /// Adds a file's (decompressed) bytes. A piece that is a Firehose
    /// transformation request (the files in `events/`) goes through the
    /// batch path exactly as Lambda runs it, and its `Ok` records count;
    /// every other piece is one event, split as `replay` splits, arriving at
    /// its own time (or the epoch: only `event_time`'s value depends on it,
    /// never a type).
    pub fn add(&mut self, input: &[u8]) {
        for piece in split(input) {
            if let Ok(processed) = crate::batch::process(piece.bytes, self.config) {
                self.add_response(processed.response.as_bytes());
                continue;
            }
            self.events += 1;
            if piece.kind != PieceKind::Value {
                self.not_json += 1;
            }
            // The event's own time stands in for its arrival (as in replay);
            // no clock here, so an event without one takes the epoch, which
            // changes no field's type.
            let arrival =
                crate::replay::arrival_from_event(piece.bytes, self.config, 0).unwrap_or(0);
            self.line.clear();
            let outcome = transform_into(
                piece.bytes,
                arrival,
                self.config,
                &mut self.scratch,
                &mut self.line,
            );
            if let Outcome::Ok(_) = outcome {
                // The transform writes one JSON object: this cannot fail.
                let _ = self.inference.add(&String::from_utf8_lossy(&self.line));
            }
        }
    }

    fn add_response(&mut self, response: &[u8]) {
        let Ok(response) = serde_json::from_slice::<serde_json::Value>(response) else {
            return;
        };
        for record in response["records"].as_array().into_iter().flatten() {
            self.events += 1;
            let line = record["data"]
                .as_str()
                .filter(|_| record["result"] == "Ok")
                .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok());
            if let Some(line) = line {
                let _ = self.inference.add(&String::from_utf8_lossy(&line));
            }
        }
    }

    /// The schema of what was added. Our fields take their registry types
    /// whatever the sample holds; the partition columns (`dt`, `hour`;
    /// `site` is ours) cannot also be data columns, so input fields of those
    /// names are left out.
    pub fn finish(self) -> Sample {
        let inference = self.inference;
        let mut skip: Vec<&str> = crate::enrich::fields().map(|(_, f)| f.name).collect();
        skip.extend(crate::partition::KEY_NAMES);
        let mut columns: Vec<(String, Type)> = crate::enrich::fields()
            .map(|(_, f)| {
                let t = Type::parse(f.athena_type).unwrap_or(Type::String);
                (f.name.to_owned(), t)
            })
            .collect();
        columns.extend(inference.columns(&skip));
        let mut left_out = inference.left_out(&skip);
        for name in crate::partition::KEY_NAMES {
            if crate::enrich::field(name).is_none() && inference.has(name) {
                left_out.push(LeftOut {
                    name: name.to_owned(),
                    why: "a partition column of a layout".into(),
                });
            }
        }
        left_out.sort();
        Sample {
            columns,
            left_out,
            events: self.events,
            ok: inference.objects,
            not_json: self.not_json,
        }
    }
}
