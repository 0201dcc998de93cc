//! `event_time`, `event_time_source` and `received_at`: the event's own time
//! in UTC as Athena's TIMESTAMP literal, and when Firehose received it.
//! Always on: the `dt` and `hour` partition keys come from `event_time`.

use super::{Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, Stage};
use crate::reason::DropReason;
use crate::settings::{form, ConfigError, Env, FieldPath, Variable};
use crate::time::{format_millis, parse_json_time};
use std::sync::Arc;

pub const ENRICHER: Enricher = Enricher {
    name: "time",
    optional: false,
    summary: "the event's time in UTC, for Athena and the dt/hour partitions",
    fields: &[
        Field {
            name: "event_time",
            json_type: JsonType::String,
            athena_type: "timestamp",
            presence: Presence::Always,
            description: "the event's own time in UTC, `YYYY-MM-DD HH:MM:SS.mmm`, truncated to milliseconds; the arrival time when the event's is missing, unparseable or out of bounds",
        },
        Field {
            name: "event_time_source",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Always,
            description: "`event` when `event_time` came from the event, `arrival` when it fell back to the arrival time",
        },
        Field {
            name: "received_at",
            json_type: JsonType::String,
            athena_type: "timestamp",
            presence: Presence::Always,
            description: "Firehose's `approximateArrivalTimestamp`, same format",
        },
    ],
    variables: &[
        Variable {
            name: "TIME_FIELDS",
            default: "timestamp,ts,time,created_at",
            form: form::FIELD_LIST,
            meaning: "where the event time is; the first present, non-null field is used",
        },
        Variable {
            name: "MAX_FUTURE",
            default: "1d",
            form: form::DURATION,
            meaning: "an event time further ahead of arrival falls back to arrival",
        },
        Variable {
            name: "MAX_AGE",
            default: "30d",
            form: form::DURATION,
            meaning: "an event time further before arrival falls back to arrival",
        },
    ],
    examples: &[
        Example {
            title: "An ISO 8601 time with an offset",
            input: r#"{"ts":"2024-05-01T13:30:07.5+02:00"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("event_time", Some(r#""2024-05-01 11:30:07.500""#)),
                ("event_time_source", Some(r#""event""#)),
                ("received_at", Some(r#""2024-05-01 12:00:00.000""#)),
            ]),
        },
        Example {
            title: "Epoch seconds, in a nested field",
            input: r#"{"event":{"time":1714564000}}"#,
            variables: &[("TIME_FIELDS", "event.time")],
            output: Expected::Fields(&[
                ("event_time", Some(r#""2024-05-01 11:46:40.000""#)),
                ("event_time_source", Some(r#""event""#)),
            ]),
        },
        Example {
            title: "A time too far ahead of arrival falls back to it",
            input: r#"{"ts":"2024-05-01T18:00:00Z"}"#,
            variables: &[("MAX_FUTURE", "1h")],
            output: Expected::Fields(&[
                ("event_time", Some(r#""2024-05-01 12:00:00.000""#)),
                ("event_time_source", Some(r#""arrival""#)),
            ]),
        },
    ],
    build,
};

#[derive(Debug)]
struct Time {
    fields: Vec<FieldPath>,
    max_future_ms: i64,
    max_age_ms: i64,
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    Ok(Arc::new(Time {
        fields: env.fields("TIME_FIELDS")?,
        max_future_ms: env.duration_ms("MAX_FUTURE")?,
        max_age_ms: env.duration_ms("MAX_AGE")?,
    }))
}

impl Stage for Time {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        facts: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        let arrival = record.arrival_ms;
        // The record layer has checked that the arrival time formats; were
        // it not to, no event_time is set and the record fails.
        let Some(received) = format_millis(arrival) else {
            return Ok(());
        };
        // The first present (non-null) time field, if it parses and lies
        // within the skew bounds; else the arrival time.
        let event = self
            .fields
            .iter()
            .find_map(|p| record.value(p))
            .and_then(|raw| parse_json_time(raw, arrival))
            .filter(|t| t.within(arrival, self.max_future_ms, self.max_age_ms))
            .and_then(|t| format_millis(t.ms));
        let (event_time, source) = match event {
            Some(t) => (t, "event"),
            None => (received, "arrival"),
        };
        out.ascii("event_time", event_time.as_bytes());
        out.string("event_time_source", source);
        out.ascii("received_at", received.as_bytes());
        facts.event_time = Some(event_time);
        Ok(())
    }
}
