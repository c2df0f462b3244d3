//! The synscope binary: parse arguments, run the subcommand, map errors to exit codes (see DESIGN.md).

use std::process::ExitCode;

use clap::Parser;
use synscope::cli::Cli;
use synscope::cli::parse::UsageError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match synscope::cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                // `synscope read x.pcap | head`: the reader went away; that is not an error.
                return ExitCode::SUCCESS;
            }
            eprintln!("synscope: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() { ExitCode::from(2) } else { ExitCode::from(1) }
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
