//! `synscope gen`: writes the bundled sample captures and large synthetic captures for benchmarks.

use std::process::ExitCode;

use crate::cli::{GenArgs, GenWhat};

pub fn run(args: &GenArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        GenWhat::Captures { dir } => crate::synth::write_samples(std::path::Path::new(dir))?,
        GenWhat::Bench { out, packets, flood_percent, hosts } => {
            let written = crate::synth::write_bench(std::path::Path::new(out), *packets, *flood_percent, *hosts)?;
            eprintln!("synscope: wrote {written} packets to {out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
