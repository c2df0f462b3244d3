//! `synscope lab`: every defence under floods of rising rate, measured by a legitimate prober, reported as a table,
//! `results.json`, `report.md` and charts. As root it runs for real in network namespaces; otherwise it says why and
//! runs the same scenarios in the deterministic simulation (`--sim`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use clap::{Args, ValueEnum};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::parse::{UsageError, parse_duration};
use crate::lab::real::{self, RealConfig};
use crate::lab::results::{LabResults, ResultsFile};
use crate::lab::scenario::{self, Scenario};
use crate::lab::topology::Family;
use crate::lab::trial::{Attacker, Rate};
use crate::lab::{charts, report, sim, topology};
use crate::time::Duration;

const LAB_EXAMPLES: &str = "\
Examples:
  sudo synscope lab                                   # every scenario, rates 0 up to the attacker's maximum
  sudo synscope lab --quick                           # none, kernel-cookies, guard-cookies at 0 and 30k SYN/s
  sudo synscope lab --scenarios none,guard-cookies --rates 0,20000,max --duration 5s
  sudo synscope lab --attacker hping3
  sudo synscope lab --quick --ipv6                    # every scenario over IPv6
  synscope lab --sim --seed 7                         # no root needed: the deterministic simulation
  sudo synscope lab --cleanup                         # remove namespaces left by a killed run

Topology: client ── gateway ── server namespaces. The server runs `synscope listen`; the gateway runs the guard
of the scenario, or a plain bridge; the client runs the flood and the legitimate prober (the seed's protocol, paced,
7 s of patience per session: the kernel's connect retries its SYN at 1 s and 3 s; success is reported within 1 s,
3 s and 7 s). Scenarios: none, kernel-cookies, kernel-tuned, guard-limit, guard-cookies (SYNs
answered by the guard's XDP program), guard-cookies-rings (from its packet rings), guard-auto. Nothing is pinned to
a CPU; at top speed the flood has two threads. Output in --out: results.json, report.md, charts (PNG and SVG), and per trial a short annotated
capture from the server side (trials/*.pcap, trials/*-sniff.out).";

#[derive(Args, Debug)]
#[command(after_help = LAB_EXAMPLES)]
pub struct LabArgs {
    /// Scenarios to run, comma-separated (default: all six; with --quick: none, kernel-cookies, guard-cookies).
    #[arg(long, value_name = "LIST")]
    pub scenarios: Option<String>,

    /// Flood rates in SYN/s, comma-separated; `max` is as fast as the attacker goes (default: 0, max/8, max/2,
    /// max, after a 2 s calibration).
    #[arg(long, value_name = "LIST")]
    pub rates: Option<String>,

    /// Length of each trial (at most 60s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Who floods: synscope's own generator, or hping3 when it is installed.
    #[arg(long, value_enum, default_value_t = AttackerArg::Synscope)]
    pub attacker: AttackerArg,

    /// Legitimate sessions started per second during each trial.
    #[arg(long, value_name = "R", default_value_t = 50.0)]
    pub legit_rate: f64,

    /// Directory for results.json, report.md, the charts and the trials' captures.
    #[arg(long, value_name = "DIR", default_value = "lab-results")]
    pub out: PathBuf,

    /// A subset that runs in under a minute: for CI, and for a first look.
    #[arg(long)]
    pub quick: bool,

    /// Run every scenario over IPv6: the namespaces' addresses, listener, prober, flood and guard.
    #[arg(long)]
    pub ipv6: bool,

    /// Run the deterministic simulation instead of namespaces (no privileges needed).
    #[arg(long)]
    pub sim: bool,

    /// The simulation's seed: the same seed gives the same results.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Remove namespaces left behind by a lab run that was killed, and exit.
    #[arg(long)]
    pub cleanup: bool,

    /// Redraw the table, report and charts from a results.json written by an earlier run, into --out.
    #[arg(long, value_name = "RESULTS.json")]
    pub replot: Option<PathBuf>,

    /// With --sim: simulate the trials of a real run's results.json at the rates its flood reached, with its
    /// session patience, and print real against simulated success (also written to --out/compare.md).
    #[arg(long, value_name = "REAL.json", requires = "sim")]
    pub compare: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum AttackerArg {
    Synscope,
    Hping3,
}

/// `--quick`'s rates (see [`rates`]).
const QUICK_RATES: &str = "0,30000";

/// The longest trial: the flood is bounded, and a lab run should stay a coffee break.
const MAX_TRIAL: Duration = Duration::from_secs(60);

pub fn run(args: &LabArgs) -> anyhow::Result<ExitCode> {
    if args.cleanup {
        let removed = topology::cleanup_leftovers()?;
        eprintln!("synscope: removed {} lab namespace(s){}", removed.len(), list(&removed));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.replot {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file: ResultsFile =
            serde_json::from_str(&text).with_context(|| format!("{} is not a lab results.json", path.display()))?;
        write_outputs(&file.results, file.ip_version, &args.out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.compare {
        return compare(args, path);
    }
    let scenarios = scenarios(args)?;
    let duration = args.duration.unwrap_or(if args.quick { Duration::from_secs(4) } else { Duration::from_secs(10) });
    if duration > MAX_TRIAL || duration < Duration::from_secs(2) {
        return Err(UsageError("--duration must be between 2s and 60s".into()).into());
    }
    if !(args.legit_rate > 0.0 && args.legit_rate <= 1000.0) {
        return Err(UsageError("--legit-rate must be between 0 and 1000 sessions per second".into()).into());
    }
    let rates = rates(args)?;
    let family = if args.ipv6 { Family::V6 } else { Family::V4 };
    if args.ipv6 && args.sim {
        return Err(UsageError("--ipv6 is for the real lab: the simulation models no address family".into()).into());
    }
    if args.ipv6 && args.attacker == AttackerArg::Hping3 {
        return Err(UsageError("--attacker hping3 floods IPv4 only; drop it for --ipv6".into()).into());
    }
    // SAFETY: geteuid(2) cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let results = if args.sim || !root {
        if !args.sim {
            eprintln!(
                "synscope: the real lab needs root (it makes network namespaces and raw sockets); running the \
                 simulation instead (--sim). Run `sudo synscope lab` for the real one."
            );
        }
        simulate(args, &scenarios, rates.as_deref(), duration)
    } else {
        if args.attacker == AttackerArg::Hping3 && !command_exists("hping3") {
            return Err(anyhow::anyhow!("--attacker hping3: hping3 is not installed (apt install hping3)"));
        }
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the Ctrl-C handler")?;
        }
        // A full run (rates found by calibration) also measures our generator against hping3 for the report.
        let compare_generators = rates.is_none() && command_exists("hping3");
        let config = RealConfig {
            scenarios,
            rates,
            duration: std::time::Duration::from_nanos(duration.as_nanos()),
            legit_rate: args.legit_rate,
            attacker: match args.attacker {
                AttackerArg::Synscope => Attacker::Synscope,
                AttackerArg::Hping3 => Attacker::Hping3,
            },
            work: real::work_dir(&args.out)?,
            binary: real::own_binary()?,
            compare_generators,
            family,
        };
        real::run(&config, &stop, &mut |line| eprintln!("{line}"))?
    };
    // A simulation, or the fallback to one without root, has no address family: it is recorded as 4.
    let ip_version = if args.sim || !root { 4 } else { family.version() };
    write_outputs(&results, ip_version, &args.out)?;
    Ok(ExitCode::SUCCESS)
}

fn list(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) }
}

fn command_exists(name: &str) -> bool {
    std::process::Command::new(name).arg("--version").output().is_ok()
}

fn scenarios(args: &LabArgs) -> Result<Vec<Scenario>, UsageError> {
    let default: &[&str] = if args.quick { &scenario::QUICK } else { &scenario::ALL };
    let text = args.scenarios.clone().unwrap_or_else(|| default.join(","));
    let list = scenario::parse_list(&text).map_err(UsageError)?;
    if list.is_empty() {
        return Err(UsageError("--scenarios names no scenario".into()));
    }
    Ok(list)
}

/// `--rates 0,20000,max`; `None` when absent (calibrate). `--quick` runs 0 and a fixed 30000 SYN/s: over two
/// hundred times what a 128-entry SYN queue holds per second, so every defence is really under attack, yet a rate a
/// 2-vCPU machine sustains while it also runs the defence, so the trial measures the defence and not the machine.
fn rates(args: &LabArgs) -> Result<Option<Vec<Rate>>, UsageError> {
    let text = match (&args.rates, args.quick) {
        (Some(text), _) => text.clone(),
        (None, true) => QUICK_RATES.to_string(),
        (None, false) => return Ok(None),
    };
    let parsed: Result<Vec<Rate>, UsageError> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item {
            "max" => Ok(Rate::Max),
            number => parse_rate(number).map(Rate::PerSecond),
        })
        .collect();
    let parsed = parsed?;
    if parsed.is_empty() {
        return Err(UsageError("--rates names no rate".into()));
    }
    Ok(Some(parsed))
}

/// `20000`, `20k`, `1.5M`.
fn parse_rate(text: &str) -> Result<u64, UsageError> {
    let (number, scale) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1e3),
        Some('m' | 'M') => (&text[..text.len() - 1], 1e6),
        _ => (text, 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0 && n * scale <= 10e6)
        .map(|n| (n * scale) as u64)
        .ok_or_else(|| UsageError(format!("'{text}' is not a rate (SYN/s, e.g. 20000, 20k or max; at most 10M)")))
}

fn simulate(args: &LabArgs, scenarios: &[Scenario], rates: Option<&[Rate]>, duration: Duration) -> LabResults {
    let mut config = sim::SimConfig {
        seed: args.seed,
        scenarios: scenarios.iter().map(|s| s.name.to_string()).collect(),
        duration,
        legit_rate: args.legit_rate,
        ..sim::SimConfig::default()
    };
    if let Some(rates) = rates {
        let max = config.rates.iter().copied().max().unwrap_or(150_000);
        config.rates = rates.iter().map(|r| if let Rate::PerSecond(n) = r { *n } else { max }).collect();
    }
    sim::run(&config, &mut |line| eprintln!("{line}"))
}

/// `--sim --compare REAL.json` (`lab::sim::compare`).
fn compare(args: &LabArgs, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let real: LabResults =
        serde_json::from_str(&text).with_context(|| format!("{} is not a lab results.json", path.display()))?;
    if real.kind != "namespaces" {
        return Err(UsageError(format!("{} is not a real run (kind {:?})", path.display(), real.kind)).into());
    }
    let base = sim::SimConfig { seed: args.seed, ..sim::SimConfig::default() };
    let comparison = sim::compare::compare(&real, args.legit_rate, &base, &mut |line| eprintln!("{line}"));
    let table = sim::compare::table(&comparison);
    println!("{table}");
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let file = args.out.join("compare.md");
    std::fs::write(&file, format!("# synscope lab: simulation against {}\n\n{table}", path.display()))
        .with_context(|| format!("writing {}", file.display()))?;
    eprintln!("synscope: comparison in {}", file.display());
    Ok(ExitCode::SUCCESS)
}

fn write_outputs(results: &LabResults, ip_version: u8, out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    println!("{}", report::table(results));
    let file = ResultsFile { ip_version, results: results.clone() };
    report::write_json(&file, &out.join("results.json")).context("writing results.json")?;
    let charts = charts::write_charts(results, out).context("drawing the charts")?;
    if let Some(warning) = charts::font_warning() {
        eprintln!("synscope: {warning}");
    }
    let relative: Vec<(String, String)> = charts
        .iter()
        .map(|(title, path)| {
            let name = path.strip_prefix(out).unwrap_or(path).display().to_string();
            (title.clone(), name)
        })
        .collect();
    report::write_markdown(results, &relative, &out.join("report.md")).context("writing report.md")?;
    eprintln!("synscope: results in {} (results.json, report.md, charts)", out.display());
    Ok(())
}
