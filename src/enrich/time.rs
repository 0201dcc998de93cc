//! `event_time`, `event_time_source` and `received_at`: the event's own time
//! in UTC as Athena's TIMESTAMP literal, and when Firehose received it.
//! Always on: the `dt` and `hour` partition keys come from `event_time`.

use super::{Enricher, Facts, Field, Fields, JsonType, Presence, Record, Stage};
use crate::config::{Config, ConfigError, Env, FieldPath};
use crate::record::DropReason;
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
    variables: &["TIME_FIELDS", "MAX_FUTURE", "MAX_AGE"],
    build,
};

#[derive(Debug)]
struct Time {
    fields: Vec<FieldPath>,
    max_future_ms: i64,
    max_age_ms: i64,
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    let config: &Config = env.core();
    Ok(Arc::new(Time {
        fields: config.time_fields.clone(),
        max_future_ms: config.max_future_ms,
        max_age_ms: config.max_age_ms,
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
        out.string("event_time", event_time.as_str());
        out.string("event_time_source", source);
        out.string("received_at", received.as_str());
        facts.event_time = Some(event_time);
        Ok(())
    }
}
