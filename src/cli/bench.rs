//! `bench`: the full handler path, timed in process, so users can size Lambda
//! memory on their own data.

use super::{config, read_input};
use firehose_enricher::batch;
use firehose_enricher::enrich::{geo, page, referrer, user_agent};
use std::path::Path;
use std::time::Instant;

const WARM_UP: u32 = 3;

/// With `floor`, each batch goes through [`batch::echo_into`] instead of the
/// transform: the batch layer's own cost, which the transform's is measured
/// against.
/// With `cold_cache`, the enrichers' caches (page hosts, user agents, referrers, geo) are
/// emptied before every run.
pub fn run(file: &Path, iterations: u32, cold_cache: bool, floor: bool) -> Result<(), String> {
    let config = config()?;
    let request = read_input(Some(file))?;
    let mut report = None;
    let mut response_bytes = 0;
    let mut times = Vec::with_capacity(iterations as usize);
    let mut cpu_times = Vec::with_capacity(iterations as usize);
    for i in 0..WARM_UP + iterations {
        if cold_cache {
            user_agent::clear_cache();
            page::clear_cache();
            referrer::clear_cache();
            geo::clear_cache();
        }
        let cpu_started = thread_cpu_s();
        let started = Instant::now();
        let processed = if floor {
            batch::process_with(&request, &config, batch::echo_into)
        } else {
            batch::process(&request, &config)
        }
        .map_err(|e| e.to_string())?;
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = thread_cpu_s()
            .zip(cpu_started)
            .map(|(end, start)| end - start);
        if i >= WARM_UP {
            times.push(elapsed);
            cpu_times.extend(cpu);
        }
        std::hint::black_box(&processed.response);
        response_bytes = processed.response.len();
        report = Some(processed.report);
    }
    let report = report.ok_or("no iteration ran")?;
    if report.overflow > 0 {
        // Timed as `REINGEST_OVERFLOW=false` answers: bench never calls AWS.
        eprintln!(
            "firehose-enricher: {} records did not fit in the response; the function would re-send them",
            report.overflow
        );
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    cpu_times.sort_by(f64::total_cmp);
    let cpu_median = cpu_times.get(cpu_times.len() / 2);
    let line = Line {
        records: report.records,
        decoded_bytes: report.input_bytes,
        iterations,
        median_ms: (median * 1e6).round() / 1e3,
        records_per_s: (report.records as f64 / median).round() as u64,
        mb_per_s: (report.input_bytes as f64 / 1e6 / median * 10.0).round() / 10.0,
        response_bytes,
        cpu_median_ms: cpu_median.map(|s| (s * 1e6).round() / 1e3),
    };
    println!(
        "{}",
        serde_json::to_string(&line).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// The result line. A struct, so that the keys keep this order (the one the
/// Node.js peer in tools/bench/ prints too, up to `mb_per_s`) and the line reads
/// the same every time.
#[derive(serde::Serialize)]
struct Line {
    records: usize,
    decoded_bytes: usize,
    iterations: u32,
    median_ms: f64,
    records_per_s: u64,
    mb_per_s: f64,
    /// The response's size, which Lambda caps at 6 MB: what the enabled
    /// enrichers cost in payload.
    response_bytes: usize,
    /// The median CPU time of this thread per batch: unlike `median_ms`,
    /// not lengthened when a busy machine runs something else meanwhile.
    /// `null` where the thread's CPU clock cannot be read.
    cpu_median_ms: Option<f64>,
}

/// This thread's CPU time in seconds.
#[cfg(unix)]
fn thread_cpu_s() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

#[cfg(not(unix))]
fn thread_cpu_s() -> Option<f64> {
    None
}
