//! The command-line adapter: `invoke`, `bench`, `replay` and `schema` over the same core
//! as the Lambda function.

mod bench;
mod cost;
mod invoke;
mod replay;
mod schema;
mod serve;
mod sizing;
mod to_stream;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "firehose-enricher",
    version,
    about = "Amazon Data Firehose transformation Lambda: UTC event_time for Athena, domain and site, partition keys.",
    long_about = "Amazon Data Firehose transformation Lambda: UTC event_time for Athena, domain and site, partition keys.\n\n\
        Inside AWS Lambda (AWS_LAMBDA_RUNTIME_API set, no arguments) it serves invocations.\n\
        Elsewhere it runs the same transform from the command line. Configuration comes from\n\
        the same environment variables as in Lambda (see the README)."
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Transform a Firehose request (JSON) and print the response JSON.
    Invoke {
        /// Print each record's id, result, partition keys and decoded JSON
        /// for humans, instead of the response JSON.
        #[arg(long)]
        decode: bool,
        /// The request file; stdin when absent or `-`.
        file: Option<PathBuf>,
    },
    /// Time the full handler path (request bytes to response bytes) in
    /// process, and print one JSON line of results.
    Bench {
        /// The request file.
        file: PathBuf,
        /// How many timed runs (after 3 warm-up runs).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        iterations: u32,
        /// Empty the enrichers' caches (user agents, referrers) before
        /// every run, so that each timed run works out each distinct user
        /// agent and referrer once, as a new container's first batches do
        /// (the parser itself stays built).
        #[arg(long)]
        cold_cache: bool,
        /// Time the floor instead: the same request parse, base64 decode,
        /// response writing and fitting, with each record's decoded bytes
        /// echoed as its output (no per-record transform).
        #[arg(long)]
        floor: bool,
    },
    /// Replay or backfill files of events through the transform into a
    /// folder laid out like the delivery stream's S3 bucket, or send them to
    /// a delivery stream (--to-stream).
    Replay(Box<replay::ReplayArgs>),
    /// From sample events (any format replay reads) and the current
    /// configuration: bytes per record in the request and the response, and
    /// the largest ProcessorBufferSizeMB whose batches fit the response.
    Sizing {
        /// Files or folders (read recursively) of sample events, in any
        /// form `replay` reads.
        #[arg(required = true, value_name = "PATH")]
        files: Vec<PathBuf>,
        /// Print one JSON object (`max_buffer_mb` among its keys).
        #[arg(long)]
        json: bool,
    },
    /// The stack's monthly bill for a traffic, by service, at list prices
    /// kept in data/aws-prices.json, and what each parameter changes.
    Cost(cost::CostArgs),
    /// Infer the Athena/Glue columns of sample events as the function
    /// writes them: the value of COLUMNS and the Glue table's columns for
    /// Parquet output.
    Schema(schema::SchemaArgs),
    /// The collector on a local HTTP server: POST /collect, the tracker at
    /// /tracker.js; accepted events go through the transform into a folder
    /// laid out like the delivery stream's S3 bucket, as replay writes it.
    Serve(serve::ServeArgs),
}

/// Runs a parsed command line.
pub fn run(args: Args) -> ExitCode {
    let result = match args.command {
        None => {
            use clap::CommandFactory;
            let _ = Args::command().print_long_help();
            return ExitCode::SUCCESS;
        }
        Some(Command::Invoke { decode, file }) => invoke::run(file.as_deref(), decode),
        Some(Command::Bench {
            file,
            iterations,
            cold_cache,
            floor,
        }) => bench::run(&file, iterations, cold_cache, floor),
        Some(Command::Replay(args)) => replay::run(&args),
        Some(Command::Sizing { files, json }) => sizing::run(&files, json),
        Some(Command::Schema(args)) => schema::run(&args),
        Some(Command::Cost(args)) => cost::run(&args),
        Some(Command::Serve(args)) => serve::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("firehose-enricher: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads a request from a file, or stdin for `None` or `-`.
fn read_input(file: Option<&std::path::Path>) -> Result<Vec<u8>, String> {
    use std::io::Read;
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(buf)
        }
    }
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
fn progress_bar(total: u64, template: &str) -> Result<indicatif::ProgressBar, String> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return Ok(indicatif::ProgressBar::hidden());
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(indicatif::ProgressStyle::with_template(template).map_err(|e| e.to_string())?);
    Ok(bar)
}

/// Prints `text` on stdout; a closed stdout is an error, not a panic.
fn print(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write stdout: {e}"))
}

/// The configuration from the environment, with the CLI's error wording.
fn config() -> Result<firehose_enricher::Config, String> {
    firehose_enricher::Config::from_env().map_err(|e| e.to_string())
}
