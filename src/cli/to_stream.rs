//! `replay --to-stream NAME`: the raw events of the inputs to a delivery
//! stream with `PutRecordBatch`, through the same sender (batching, retries)
//! as the Lambda's re-ingestion. The events then go through the deployed
//! pipeline: a redrive after a fix, or a backfill that runs on Firehose and
//! Lambda rather than on one machine.

use super::progress_bar;
use firehose_enricher::aws_env;
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
/// How long the instance metadata service has to accept a connection: it
/// answers in milliseconds on EC2, and off EC2 nothing answers at all.
const IMDS_PROBE: Duration = Duration::from_secs(1);

pub fn run(inputs: &[PathBuf], stream: &str) -> Result<(), String> {
    let started = Instant::now();
    let files = input::collect_files(inputs, None)?;
    check_aws_configuration()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let sender = runtime.block_on(Sender::from_env(None));
    let progress = progress_bar(
        files.len() as u64,
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files {msg}",
    )?;
    // The spinner and the clock keep moving while a round waits on retries.
    progress.enable_steady_tick(Duration::from_millis(200));
    let mut stats = ReadStats::default();
    let mut round = Round::default();
    let mut total = Sent::default();
    let mut stopped = false;
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
        // A file that is not events (a README among the inputs) is not sent
        // to a live stream at all: a first pass counts, without sending.
        let mut counted = ReadStats::default();
        input::events(&file.data, &mut counted, |_, _| true);
        if let Err(why) = input::check_events(&counted) {
            let why = format!("{}: {why}; not sent", path.display());
            progress.suspend(|| eprintln!("firehose-enricher: {why}"));
            stats.bad_files.push(why);
            progress.inc(1);
            continue;
        }
        let going = input::events(&file.data, &mut stats, |event, _| {
            if round.full(event.len()) {
                progress.set_message(format!(
                    "{} sent, sending {}",
                    total.sent,
                    round.events.len()
                ));
                if !round.send(&runtime, &sender, stream, &mut total) {
                    return false;
                }
                progress.set_message(format!("{} sent", total.sent));
            }
            round.push(event.to_vec());
            true
        });
        if !going {
            stopped = true;
            break;
        }
        progress.inc(1);
    }
    // A round of which nothing could be sent stops the run: the cause
    // (permissions, a wrong stream name, an outage) holds for the rest.
    stopped = stopped || !round.send(&runtime, &sender, stream, &mut total);
    progress.finish_and_clear();
    let error = total.last_error.as_deref().unwrap_or("no error given");
    if total.sent == 0 && total.unsent > 0 {
        return Err(format!("nothing could be sent to stream {stream}: {error}"));
    }
    println!(
        "sent {} of {} events from {} files to stream {stream} in {} PutRecordBatch calls ({} records retried) in {:.1} s",
        total.sent,
        total.sent + total.unsent,
        files.len(),
        total.calls,
        total.retried,
        started.elapsed().as_secs_f64()
    );
    if stopped {
        return Err(format!(
            "stopped after {} events could not be sent ({error}); the rest of the input was not sent: \
             run the same command again (events already sent are sent again too)",
            total.unsent
        ));
    }
    if total.unsent > 0 {
        return Err(format!(
            "{} events could not be sent ({error}); run the same command again to retry them (events already sent are sent again too)",
            total.unsent,
        ));
    }
    if !stats.bad_files.is_empty() {
        return Err(format!(
            "{} input file(s) could not be read completely or were not sent (see above)",
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

    /// Sends the round; `false` when nothing of it could be sent.
    fn send(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        sender: &Sender,
        stream: &str,
        total: &mut Sent,
    ) -> bool {
        if self.events.is_empty() {
            return true;
        }
        let records: Vec<&[u8]> = self.events.iter().map(Vec::as_slice).collect();
        let deadline = Instant::now() + ROUND_DEADLINE;
        let sent = runtime.block_on(sender.send(stream, &records, deadline));
        total.sent += sent.sent.len();
        total.unsent += sent.unsent.len();
        total.calls += sent.calls;
        total.retried += sent.retried;
        if let Some(e) = sent.last_error {
            // The SDK's error context spans lines; the first one says it.
            total.last_error = e.lines().next().map(str::to_owned);
        }
        self.events.clear();
        self.bytes = 0;
        !sent.sent.is_empty()
    }
}

/// Fails at once, naming what is missing, when the AWS SDK would find no
/// credentials or no region: it would otherwise retry every call for the
/// round's deadline. The instance metadata service, unless disabled, is
/// probed with one connection attempt.
fn check_aws_configuration() -> Result<(), String> {
    let found = aws_env::check(
        |name| std::env::var(name).ok(),
        |path| std::fs::read_to_string(path).ok(),
    )?;
    let Some(endpoint) = found.imds else {
        return Ok(());
    };
    let answers = std::net::ToSocketAddrs::to_socket_addrs(endpoint.as_str())
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| std::net::TcpStream::connect_timeout(&addr, IMDS_PROBE).is_ok());
    if answers {
        return Ok(());
    }
    let mut missing = Vec::new();
    if found.credentials.is_none() {
        missing
            .push("credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)");
    }
    if found.region.is_none() {
        missing.push("region (set AWS_REGION)");
    }
    Err(format!(
        "no AWS {}; the instance metadata service at {endpoint} did not answer either \
         (AWS_EC2_METADATA_DISABLED=true skips it)",
        missing.join(" and no ")
    ))
}
