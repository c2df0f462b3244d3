//! `synscope flood`: a bounded SYN flood generator (stub; being written).

use std::process::ExitCode;

use clap::Args;

#[derive(Args, Debug)]
pub struct FloodArgs {}

pub fn run(_args: &FloodArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("flood is not built yet")
}
