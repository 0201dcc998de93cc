//! `replay --to-stream NAME`: the raw events of the inputs to a delivery
//! stream with `PutRecordBatch`, through the same sender (batching, retries)
//! as the Lambda's re-ingestion. The events then go through the deployed
//! pipeline: a redrive after a fix, or a backfill that runs on Firehose and
//! Lambda rather than on one machine.

use super::progress_bar;
use firehose_enricher::reingest::{self, Sender};
use firehose_enricher::replay::input::{self, ReadStats};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Events sent per round: several calls' worth, so that retries of one
/// round overlap nothing, and memory stays bounded on a large backfill.
const ROUND_RECORDS: usize = 8 * reingest::MAX_RECORDS_PER_CALL;
const ROUND_BYTES: usize = 4 * reingest::MAX_BYTES_PER_CALL;
/// How long one round may keep retrying a throttled stream.
const ROUND_DEADLINE: Duration = Duration::from_secs(120);

pub fn run(inputs: &[PathBuf], stream: &str) -> Result<(), String> {
    let started = Instant::now();
    let files = input::collect_files(inputs, None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let sender = runtime.block_on(Sender::from_env(None));
    let progress = progress_bar(
        files.len() as u64,
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files {msg}",
    )?;
    let mut stats = ReadStats::default();
    let mut round = Round::default();
    let mut total = Sent::default();
    for (path, _) in &files {
        progress.set_message(path.display().to_string());
        let file = match input::read_file(path, &mut stats) {
            Ok(file) => file,
            Err(why) => {
                progress.suspend(|| eprintln!("firehose-enricher: {why}"));
                stats.bad_files.push(why);
                continue;
            }
        };
        if let Some(why) = &file.damaged {
            progress.suspend(|| eprintln!("firehose-enricher: {why}"));
        }
        input::events(&file.data, &mut stats, |event, _| {
            if round.full(event.len()) {
                round.send(&runtime, &sender, stream, &mut total);
                progress.set_message(format!("{} sent", total.sent));
            }
            round.push(event.to_vec());
            true
        });
        progress.inc(1);
    }
    round.send(&runtime, &sender, stream, &mut total);
    progress.finish_and_clear();
    println!(
        "sent {} of {} events from {} files to stream {stream} in {} PutRecordBatch calls ({} records retried) in {:.1} s",
        total.sent,
        total.sent + total.unsent,
        files.len(),
        total.calls,
        total.retried,
        started.elapsed().as_secs_f64()
    );
    if total.unsent > 0 {
        return Err(format!(
            "{} events could not be sent ({}); run the same command again to retry them (events already sent are sent again too)",
            total.unsent,
            total.last_error.as_deref().unwrap_or("no error given")
        ));
    }
    if !stats.bad_files.is_empty() {
        return Err(format!(
            "{} input file(s) could not be read completely (see above)",
            stats.bad_files.len()
        ));
    }
    Ok(())
}

#[derive(Default)]
struct Sent {
    sent: usize,
    unsent: usize,
    calls: usize,
    retried: usize,
    last_error: Option<String>,
}

#[derive(Default)]
struct Round {
    events: Vec<Vec<u8>>,
    bytes: usize,
}

impl Round {
    fn full(&self, next: usize) -> bool {
        self.events.len() >= ROUND_RECORDS || self.bytes + next > ROUND_BYTES
    }

    fn push(&mut self, event: Vec<u8>) {
        self.bytes += event.len();
        self.events.push(event);
    }

    fn send(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        sender: &Sender,
        stream: &str,
        total: &mut Sent,
    ) {
        if self.events.is_empty() {
            return;
        }
        let records: Vec<&[u8]> = self.events.iter().map(Vec::as_slice).collect();
        let deadline = Instant::now() + ROUND_DEADLINE;
        let sent = runtime.block_on(sender.send(stream, &records, deadline));
        total.sent += sent.sent.len();
        total.unsent += sent.unsent.len();
        total.calls += sent.calls;
        total.retried += sent.retried;
        if sent.last_error.is_some() {
            total.last_error = sent.last_error;
        }
        self.events.clear();
        self.bytes = 0;
    }
}
