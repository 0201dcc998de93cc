//! # firehose-enricher
//!
//! The transformation core of a Lambda that Amazon Data Firehose invokes as
//! its data-transformation processor. For each record of a batch it:
//!
//! 1. decodes the base64 data and checks it is one JSON object;
//! 2. sets `event_time` to the event's own time in UTC, formatted
//!    `YYYY-MM-DD HH:MM:SS.mmm` (Athena's TIMESTAMP literal), falling back to
//!    the arrival time when the event's time is missing, unparseable or
//!    implausibly skewed;
//! 3. adds `domain` (the page's normalized host) and `site` (its registrable
//!    domain per the Public Suffix List);
//! 4. returns the object as one newline-terminated JSON line, with partition
//!    keys `site`, `dt` and `hour` for Firehose dynamic partitioning.
//!
//! Everything in this library but its two adapters is pure: bytes and a
//! [`Config`] in, bytes and counts out, with no AWS, IO or clock. The Lambda
//! runtime ([`lambda`], which re-sends overflow through [`reingest`]), the
//! `invoke`, `bench`, `sizing` and `replay` commands are thin adapters over
//! [`batch::process`] and [`record::transform_into`].
//!
//! ```
//! use base64::Engine;
//! use firehose_enricher::{batch, Config};
//! let data = base64::engine::general_purpose::STANDARD.encode(r#"{"ts":1518352207,"url":"https://shop.example.co.uk/"}"#);
//! let request = format!(
//!     r#"{{"invocationId":"i","records":[{{"recordId":"1","approximateArrivalTimestamp":1518352210000,"data":"{data}"}}]}}"#
//! );
//! let out = batch::process(request.as_bytes(), &Config::default()).unwrap();
//! let response: serde_json::Value = serde_json::from_slice(out.response.as_bytes()).unwrap();
//! let record = &response["records"][0];
//! assert_eq!(record["result"], "Ok");
//! assert_eq!(record["metadata"]["partitionKeys"]["site"], "example.co.uk");
//! assert_eq!(record["metadata"]["partitionKeys"]["dt"], "2018-02-11");
//! assert_eq!(record["metadata"]["partitionKeys"]["hour"], "12");
//! ```

// Denied, with one reviewed exception: the geo enricher memory-maps a
// user's database file (src/enrich/geo.rs, `open`).
#![deny(unsafe_code)]

pub mod aws_env;
pub mod batch;
pub mod collector;
pub mod config;
pub mod cost;
pub mod domain;
pub mod enrich;
pub mod json;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "lambda")]
pub mod lambda_collector;
pub mod metrics;
pub mod partition;
pub mod reason;
pub mod record;
#[cfg(feature = "lambda")]
pub mod reingest;
pub mod replay;
pub mod schema;
pub mod settings;
pub mod sizing;
pub mod time;

pub use config::{Config, ConfigError};
