//! `synscope lab`: the SYN-flood lab (stub; being written).

use std::process::ExitCode;

use clap::Args;

#[derive(Args, Debug)]
pub struct LabArgs {}

pub fn run(_args: &LabArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("lab is not built yet")
}
