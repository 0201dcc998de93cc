//! `firehose-enricher`: the Lambda function inside AWS, a local CLI outside.
//!
//! With `AWS_LAMBDA_RUNTIME_API` set and no arguments it runs the Lambda
//! runtime loop; otherwise it is a command-line tool over the same core.

mod cli;

use clap::Parser;
use firehose_enricher::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    keep_buffers_mapped();
    let in_lambda =
        std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1;
    if in_lambda {
        return run_lambda();
    }
    let args = cli::Args::parse();
    cli::run(args)
}

/// What the function does in Lambda: `FUNCTION_ROLE`.
enum Role {
    Transform,
    Collector(firehose_enricher::collector::CollectorConfig, String),
}

/// `FUNCTION_ROLE` (`transform`, the default, or `collector`) and, for the
/// collector, its configuration.
fn role() -> Result<Role, firehose_enricher::ConfigError> {
    let value = std::env::var_os("FUNCTION_ROLE").unwrap_or_default();
    match value.to_str().map(str::trim) {
        Some("" | "transform") => Ok(Role::Transform),
        Some("collector") => {
            let config = firehose_enricher::collector::CollectorConfig::from_env()?;
            let stream = firehose_enricher::lambda_collector::stream_from_env()?;
            Ok(Role::Collector(config, stream))
        }
        _ => Err(firehose_enricher::ConfigError {
            variable: "FUNCTION_ROLE",
            value: value.to_string_lossy().into_owned(),
            expected: "`transform` (the default: Firehose's processor) or `collector` (behind a Function URL)",
        }),
    }
}

fn run_lambda() -> ExitCode {
    // The runtime library panics on a missing runtime variable: checked
    // first, so that the error names it.
    if let Err(e) =
        firehose_enricher::lambda::check_runtime_environment(|name| std::env::var(name).ok())
    {
        eprintln!("firehose-enricher: {e}");
        return ExitCode::FAILURE;
    }
    // Configuration is validated once, before the first invocation: a bad
    // value fails the init phase with a message naming the variable.
    let logging = firehose_enricher::lambda::init_logging(false);
    let role = match logging.and_then(|()| role()) {
        Ok(role) => role,
        Err(e) => {
            tracing::error!(variable = e.variable, error = %e, "invalid configuration");
            eprintln!("firehose-enricher: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Role::Collector(config, stream) = role {
        return block_on(firehose_enricher::lambda_collector::run(config, stream));
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(variable = e.variable, error = %e, "invalid configuration");
            eprintln!("firehose-enricher: {e}");
            return ExitCode::FAILURE;
        }
    };
    block_on(firehose_enricher::lambda::run(config))
}

/// Runs a Lambda runtime loop on a single-threaded runtime.
fn block_on(run: impl std::future::Future<Output = Result<(), lambda_runtime::Error>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("firehose-enricher: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firehose-enricher: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Keeps freed batch buffers in the process for the next batch. glibc's
/// malloc serves an allocation above its mmap threshold (128 KiB at first,
/// adapting up to 32 MiB) from fresh mmap'd pages and unmaps it on free,
/// and returns freed heap above its trim threshold to the OS. A batch
/// allocates its request, arena and response anew, a few MB each, so every
/// invocation faulted those pages in again: about a third of the time of a
/// 1 to 3 MB batch, measured with `perf` (page faults, brk, munmap). With
/// the thresholds above any one batch's buffers, the pages stay mapped and
/// are reused; the process keeps at most a few times Lambda's 6 MB limit.
/// Tuned in the binary, not the library: it is the process's decision.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_buffers_mapped() {
    // SAFETY: mallopt only sets allocator parameters; this runs first in
    // main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_buffers_mapped() {}
