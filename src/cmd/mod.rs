//! One module per subcommand. These are the only places that join sources, the pure core and printers.

pub mod connect;
pub mod flood;
pub mod generate;
pub mod guard;
pub mod harden;
pub mod impair;
pub mod lab;
pub mod listen;
pub mod pipeline;
pub mod read;
pub mod replay;
pub mod sniff;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Read(args) => read::run(&args),
        Command::Gen(args) => generate::run(&args),
        Command::Listen(args) => listen::run(&args),
        Command::Connect(args) => connect::run(&args),
        Command::Sniff(args) => sniff::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Harden(args) => harden::run(&args),
        Command::Guard(args) => guard::run(&args),
        Command::Flood(args) => flood::run(&args),
        Command::Impair(args) => impair::run(&args),
        Command::Lab(args) => lab::run(&args),
    }
}
