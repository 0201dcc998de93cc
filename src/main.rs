//! `firehose-enricher`: the Lambda function inside AWS, a local CLI outside.
//!
//! With `AWS_LAMBDA_RUNTIME_API` set and no arguments it runs the Lambda
//! runtime loop; otherwise it is a command-line tool over the same core.

mod cli;

use clap::Parser;
use firehose_enricher::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let in_lambda =
        std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1;
    if in_lambda {
        return run_lambda();
    }
    let args = cli::Args::parse();
    cli::run(args)
}

fn run_lambda() -> ExitCode {
    // Configuration is validated once, before the first invocation: a bad
    // value fails the init phase with a message naming the variable.
    let logging = firehose_enricher::lambda::init_logging(false);
    let config = match logging.and_then(|()| Config::from_env()) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(variable = e.variable, error = %e, "invalid configuration");
            eprintln!("firehose-enricher: {e}");
            return ExitCode::FAILURE;
        }
    };
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
    match runtime.block_on(firehose_enricher::lambda::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firehose-enricher: {e}");
            ExitCode::FAILURE
        }
    }
}
