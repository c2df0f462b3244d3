//! What a lab run leaves behind for people: the live progress line, the terminal table, `results.json` and
//! `report.md` (what was run, the table, findings computed from the numbers, the charts, how to reproduce it).
//!
//! Everything here is a pure function of [`LabResults`] except the writers and [`Progress`], which reads the clock:
//! the lab command is an edge, and a trial's wall time is what the user waits for.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use super::results::{LabResults, Trial, percent};
use super::verdict::{HELD, Verdict};

/// An attacker reaching less than this share of the rate asked is reported, so a trial is read at the rate it got.
const SHORTFALL: f64 = 0.9;

// ---------------------------------------------------------------------------------------------------------------
// Progress

/// Prints one line to stderr as each trial starts: which trial, time so far and an estimate of the time left.
/// stderr keeps stdout for the table, so `synscope lab > table.txt` still shows progress.
pub struct Progress {
    total: usize,
    started: usize,
    clock: Instant,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress { total, started: 0, clock: Instant::now() }
    }

    /// Announces the next trial, e.g. `label` = [`trial_label`]`("guard-cookies", 50000)`. Trials run one after
    /// another, so every trial announced before this one has finished.
    pub fn start(&mut self, label: &str) {
        let line = progress_line(self.started, self.total, label, self.clock.elapsed());
        self.started += 1;
        // A closed stderr must not stop the lab.
        let _ = writeln!(io::stderr(), "{line}");
    }

    /// Wall time since [`Progress::new`].
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }
}

/// `"guard-cookies at 50000 SYN/s"`.
pub fn trial_label(scenario: &str, rate: u64) -> String {
    format!("{scenario} at {rate} SYN/s")
}

/// `[3/12] guard-cookies at 50000 SYN/s — elapsed 0:42, remaining ~2:06`: the line for the trial after `done`
/// finished ones. The time left is the average finished trial times the trials not yet finished, this one included;
/// before any trial has finished there is nothing to average and the estimate is left out.
pub fn progress_line(done: usize, total: usize, label: &str, elapsed: Duration) -> String {
    let total = total.max(1);
    let current = (done + 1).min(total);
    let mut line = format!("[{current}/{total}] {label} — elapsed {}", clock(elapsed));
    if done > 0 {
        let left = u32::try_from(total.saturating_sub(done)).unwrap_or(u32::MAX);
        let remaining = (elapsed / u32::try_from(done).unwrap_or(u32::MAX)).saturating_mul(left);
        let _ = write!(line, ", remaining ~{}", clock(remaining));
    }
    line
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Table

/// One column of the table: shared by the terminal and the Markdown renderings.
struct Column {
    header: &'static str,
    /// Text left-aligned, numbers right-aligned.
    left: bool,
    cell: fn(&Trial, &LabResults) -> String,
}

const ALWAYS: &[Column] = &[
    Column { header: "scenario", left: true, cell: |t, _| t.scenario.clone() },
    Column { header: "asked SYN/s", left: false, cell: |t, _| t.rate_requested.to_string() },
    Column { header: "got SYN/s", left: false, cell: |t, _| whole(t.rate_achieved) },
    Column { header: "success", left: false, cell: |t, _| format!("{}%", percent(t.success_ratio)) },
    Column { header: "sessions", left: false, cell: |t, _| format!("{}/{}", t.successes, t.sessions) },
    Column { header: "p50 ms", left: false, cell: |t, _| latency(t, t.latency_p50_ms) },
    Column { header: "p99 ms", left: false, cell: |t, _| latency(t, t.latency_p99_ms) },
    Column {
        header: "SYN-RECV peak",
        left: false,
        cell: |t, _| if t.syn_recv.is_empty() { "-".into() } else { t.syn_recv_peak().to_string() },
    },
    // held, or below 99% because of the defence, or while the machine could not keep up (`lab::verdict`).
    Column { header: "verdict", left: true, cell: |t, results| Verdict::of(t, results.cpus).word().to_string() },
];

/// Kernel columns, shown when some trial read the server's counters (the real lab does; a simulation may not).
const KERNEL: &[Column] = &[
    Column { header: "cookies sent", left: false, cell: |t, _| counter(t, "TcpExtSyncookiesSent") },
    Column { header: "listen drops", left: false, cell: |t, _| counter(t, "TcpExtListenDrops") },
];

/// Success within a shorter patience than the headline's (`lab::patience`), shown when the run recorded it.
const PATIENCE: &[Column] = &[
    Column { header: "in 1 s", left: false, cell: |t, _| super::patience::cell(t, super::patience::SHOWN[0]) },
    Column { header: "in 3 s", left: false, cell: |t, _| super::patience::cell(t, super::patience::SHOWN[1]) },
];

const BULK: Column = Column {
    header: "bulk Gbit/s",
    left: false,
    cell: |t, _| t.bulk_gbit_per_s.filter(|g| g.is_finite()).map_or("-".into(), |g| format!("{g:.2}")),
};

const GUARD_SYNACKS: Column = Column { header: "guard SYN-ACK/s", left: false, cell: |t, _| guard_synacks_per_s(t) };
const GUARD_CPU: Column = Column {
    header: "guard CPU s",
    left: false,
    cell: |t, _| t.guard_cpu_s.filter(|s| s.is_finite()).map_or("-".into(), |s| format!("{s:.2}")),
};

const SOFTIRQ_CPU: Column = Column {
    header: "softirq CPU s",
    left: false,
    cell: |t, _| t.softirq_cpu_s.filter(|s| s.is_finite()).map_or("-".into(), |s| format!("{s:.2}")),
};

/// The columns this run has data for.
fn columns(results: &LabResults) -> Vec<&'static Column> {
    // The shorter patiences sit right after the headline success.
    let split = ALWAYS.iter().position(|c| c.header == "success").map_or(ALWAYS.len(), |i| i + 1);
    let mut cols: Vec<&Column> = ALWAYS[..split].iter().collect();
    if super::patience::recorded(results) {
        cols.extend(PATIENCE);
    }
    cols.extend(&ALWAYS[split..]);
    if results.trials.iter().any(|t| !t.kernel_counters.is_empty()) {
        cols.extend(KERNEL);
    }
    if results.trials.iter().any(|t| t.bulk_gbit_per_s.is_some()) {
        cols.push(&BULK);
    }
    if results.trials.iter().any(|t| t.guard_stats.is_some()) {
        cols.push(&GUARD_SYNACKS);
    }
    if results.trials.iter().any(|t| t.guard_cpu_s.is_some()) {
        cols.push(&GUARD_CPU);
    }
    if results.trials.iter().any(|t| t.softirq_cpu_s.is_some()) {
        cols.push(&SOFTIRQ_CPU);
    }
    cols
}

fn whole(v: f64) -> String {
    if v.is_finite() { format!("{v:.0}") } else { "-".into() }
}

/// Milliseconds with precision to match their size (0.12, 4.5, 1003); none when no session completed.
fn latency(t: &Trial, ms: f64) -> String {
    if t.successes == 0 || !ms.is_finite() {
        return "-".into();
    }
    match ms {
        m if m < 1.0 => format!("{m:.2}"),
        m if m < 100.0 => format!("{m:.1}"),
        m => format!("{m:.0}"),
    }
}

fn counter(t: &Trial, name: &str) -> String {
    t.kernel_counters.get(name).map_or("-".into(), u64::to_string)
}

/// The guard's SYN-ACKs over the trial's length: its answer rate, the cost side of a defence.
/// SYN-ACKs the guard sent a second, from its rings and from its XDP program together.
fn guard_synacks_per_s(t: &Trial) -> String {
    let number = |path: &[&str]| {
        let stats = t.guard_stats.as_ref()?;
        path.iter().try_fold(stats, |value, key| value.get(key)).and_then(serde_json::Value::as_u64)
    };
    let sent =
        number(&["synacks_sent"]).map(|rings| rings + number(&["fast_path", "xdp", "synacks_sent"]).unwrap_or(0));
    match sent {
        Some(n) if t.duration_s > 0.0 => whole(n as f64 / t.duration_s),
        _ => "-".into(),
    }
}

fn cells(results: &LabResults) -> (Vec<&'static Column>, Vec<Vec<String>>) {
    let cols = columns(results);
    let rows = results.trials.iter().map(|t| cols.iter().map(|c| (c.cell)(t, results)).collect()).collect();
    (cols, rows)
}

/// The terminal table: one row per trial, in the run's order (scenario, then rate), columns padded to fit.
pub fn table(results: &LabResults) -> String {
    let (cols, rows) = cells(results);
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| rows.iter().map(|r| r[i].chars().count()).chain([c.header.len()]).max().unwrap_or(0))
        .collect();
    let line = |texts: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = texts
            .zip(cols.iter().zip(&widths))
            .map(|(text, (col, &w))| if col.left { format!("{text:<w$}") } else { format!("{text:>w$}") })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(&mut cols.iter().map(|c| c.header));
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&line(&mut rule.iter().map(String::as_str)));
    out.push('\n');
    for row in &rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no trials)\n");
    }
    out
}

fn markdown_table(results: &LabResults) -> String {
    let (cols, rows) = cells(results);
    let escape = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    let headers: Vec<&str> = cols.iter().map(|c| c.header).collect();
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let aligns: Vec<&str> = cols.iter().map(|c| if c.left { ":---" } else { "---:" }).collect();
    let _ = writeln!(out, "|{}|", aligns.join("|"));
    for row in rows {
        let row: Vec<String> = row.iter().map(|c| escape(c)).collect();
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Findings

/// Scenario names in the run's order, then any that only the trials mention.
pub(crate) fn scenario_names(results: &LabResults) -> Vec<&str> {
    let mut names: Vec<&str> = results.scenarios.iter().map(String::as_str).collect();
    for t in &results.trials {
        if !names.contains(&t.scenario.as_str()) {
            names.push(&t.scenario);
        }
    }
    names
}

/// Sentences computed from the numbers: how far each scenario kept serving, where it fell, how the scenarios
/// ranked at the highest rate, and whether the attacker reached the rates asked.
pub fn findings(results: &LabResults) -> Vec<String> {
    if results.trials.is_empty() {
        return vec!["No trials were run.".to_string()];
    }
    let mut out: Vec<String> =
        scenario_names(results).into_iter().filter_map(|s| scenario_finding(results, s)).collect();
    out.extend(ranking_at_top(results));
    out.extend(super::patience::finding(results));
    out.extend(super::patience::other_clients(results));
    out.extend(bulk_cost(results));
    out.extend(shortfall(results));
    out.extend(super::verdict::findings(results));
    out
}

/// What each guard costs legitimate bulk traffic through the gateway, idle and under the highest flood, beside the
/// kernel bridge the other scenarios run on: "Bulk data through the gateway: the kernel bridge carried 9.10 Gbit/s
/// without attack; guard-cookies 5.20 (57% of it), and 4.80 at 100000 SYN/s."
fn bulk_cost(results: &LabResults) -> Option<String> {
    let bulk = |t: &&Trial| t.bulk_gbit_per_s.filter(|g| g.is_finite());
    let idle_bridge = results
        .trials
        .iter()
        .filter(|t| t.rate_requested == 0 && !t.scenario.starts_with("guard-"))
        .filter_map(|t| bulk(&t))
        .max_by(f64::total_cmp)?;
    let mut parts = Vec::new();
    for scenario in scenario_names(results).into_iter().filter(|s| s.starts_with("guard-")) {
        let mut trials: Vec<&Trial> = results.scenario_trials(scenario).filter(|t| bulk(t).is_some()).collect();
        trials.sort_by_key(|t| t.rate_requested);
        let (Some(first), Some(last)) = (trials.first(), trials.last()) else { continue };
        let first_bulk = bulk(first).unwrap_or(0.0);
        let mut part = format!("{scenario} {first_bulk:.2} at {} SYN/s", first.rate_requested);
        if first.rate_requested == 0 && idle_bridge > 0.0 {
            part.push_str(&format!(" ({:.0}% of the bridge's)", first_bulk / idle_bridge * 100.0));
        }
        if last.rate_requested != first.rate_requested {
            part.push_str(&format!(" and {:.2} at {} SYN/s", bulk(last).unwrap_or(0.0), last.rate_requested));
        }
        parts.push(part);
    }
    let under_flood: Vec<String> = scenario_names(results)
        .into_iter()
        .filter(|s| !s.starts_with("guard-"))
        .filter_map(|s| {
            let top = results.scenario_trials(s).filter(|t| bulk(t).is_some()).max_by_key(|t| t.rate_requested)?;
            (top.rate_requested > 0)
                .then(|| format!("{s} {:.2} at {} SYN/s", bulk(&top).unwrap_or(0.0), top.rate_requested))
        })
        .collect();
    let mut sentence = format!(
        "Legitimate bulk data through the gateway (`connect --bulk`, Gbit/s, while the flood ran): the kernel bridge \
         carried {idle_bridge:.2} without attack"
    );
    if !under_flood.is_empty() {
        sentence.push_str(&format!(" ({})", under_flood.join(", ")));
    }
    if !parts.is_empty() {
        sentence.push_str(&format!("; {}", parts.join("; ")));
    }
    sentence.push('.');
    Some(sentence)
}

fn held(t: &Trial) -> bool {
    t.success_ratio >= HELD
}

/// "(p99 1003 ms, SYN-RECV peak 256)": what the legitimate clients and the listen queue looked like in a trial.
fn detail(t: &Trial) -> String {
    let mut parts = Vec::new();
    if t.successes == 0 {
        parts.push("no session completed".to_string());
    } else {
        parts.push(format!("p99 {} ms", latency(t, t.latency_p99_ms)));
    }
    if !t.syn_recv.is_empty() {
        parts.push(format!("SYN-RECV peak {}", t.syn_recv_peak()));
    }
    format!("({})", parts.join(", "))
}

fn scenario_finding(results: &LabResults, scenario: &str) -> Option<String> {
    let mut trials: Vec<&Trial> = results.scenario_trials(scenario).collect();
    trials.sort_by_key(|t| t.rate_requested);
    let top = *trials.last()?;
    let kept = trials.iter().take_while(|t| held(t)).count();
    // The worst trial; on a tie the highest rate, where the damage is meant to show.
    let worst = trials
        .iter()
        .copied()
        .filter(|t| t.success_ratio.is_finite())
        .min_by(|a, b| a.success_ratio.total_cmp(&b.success_ratio).then(b.rate_requested.cmp(&a.rate_requested)));
    let name = format!("**{scenario}**");
    if kept == trials.len() {
        let span = if trials.len() == 1 {
            format!("at {} SYN/s, the only rate tried", top.rate_requested)
        } else {
            format!("at every rate tried, up to {} SYN/s", top.rate_requested)
        };
        return Some(format!("{name} kept ≥99% success {span} {}.", detail(top)));
    }
    let first_miss = trials[kept];
    let fell = match worst {
        Some(w) if !std::ptr::eq(w, first_miss) => format!(
            "dropped below 99% at {} SYN/s ({}%) and fell to {}% at {} SYN/s {}",
            first_miss.rate_requested,
            percent(first_miss.success_ratio),
            percent(w.success_ratio),
            w.rate_requested,
            detail(w)
        ),
        _ => format!(
            "fell to {}% at {} SYN/s {}",
            percent(first_miss.success_ratio),
            first_miss.rate_requested,
            detail(first_miss)
        ),
    };
    Some(match trials[..kept].last() {
        None => format!("{name} was below 99% success from the lowest rate tried: it {fell}."),
        Some(last) if last.rate_requested == 0 => format!("{name} kept ≥99% success without attack, then {fell}."),
        Some(last) => format!("{name} kept ≥99% success up to {} SYN/s, then {fell}.", last.rate_requested),
    })
}

/// "At 100000 SYN/s: kernel-cookies 99.5%, none 20.0%." Only worth saying with two scenarios or more.
fn ranking_at_top(results: &LabResults) -> Option<String> {
    let top = results.trials.iter().map(|t| t.rate_requested).max()?;
    let mut at_top: Vec<&Trial> = results.trials.iter().filter(|t| t.rate_requested == top).collect();
    if at_top.len() < 2 {
        return None;
    }
    at_top.sort_by(|a, b| b.success_ratio.total_cmp(&a.success_ratio));
    let ranked: Vec<String> = at_top.iter().map(|t| format!("{} {}%", t.scenario, percent(t.success_ratio))).collect();
    Some(format!("At the highest rate, {top} SYN/s: {}.", ranked.join(", ")))
}

fn shortfall(results: &LabResults) -> Option<String> {
    let short: Vec<&Trial> = results
        .trials
        .iter()
        .filter(|t| t.rate_requested > 0 && t.rate_achieved < t.rate_requested as f64 * SHORTFALL)
        .collect();
    let worst = short.iter().min_by(|a, b| {
        (a.rate_achieved / a.rate_requested as f64).total_cmp(&(b.rate_achieved / b.rate_requested as f64))
    })?;
    Some(format!(
        "The attacker reached less than {:.0}% of the rate asked in {} trial(s), at worst {} of {} SYN/s ({}); \
         the table's \"got SYN/s\" is the rate those trials saw, and the charts plot it.",
        SHORTFALL * 100.0,
        short.len(),
        whole(worst.rate_achieved),
        worst.rate_requested,
        worst.scenario
    ))
}

// ---------------------------------------------------------------------------------------------------------------
// Files

/// `results.json`: the whole run, pretty-printed, readable back as [`LabResults`] (or as the
/// [`super::results::ResultsFile`] the lab command writes, with its address family). Errors do not name the file;
/// the caller does.
pub fn write_json<T: serde::Serialize>(results: &T, path: &Path) -> io::Result<()> {
    let mut json = serde_json::to_string_pretty(results).map_err(io::Error::other)?;
    json.push('\n');
    fs::write(path, json)
}

/// `report.md`. `charts` holds each chart's title and its path relative to the report (as [`super::charts`]
/// wrote them), embedded in that order.
pub fn markdown(results: &LabResults, charts: &[(String, String)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# synscope lab report\n");

    let _ = writeln!(md, "## What was run\n");
    let kind = match results.kind.as_str() {
        "simulation" => format!("simulation (`--sim`, seed {}), no packets sent", results.seed),
        "namespaces" => "network namespaces (client, gateway, server), real packets".to_string(),
        other => other.to_string(),
    };
    let _ = writeln!(md, "- Lab: {kind}");
    let _ = writeln!(md, "- Attacker: {}", or_dash(&results.attacker));
    let _ = writeln!(md, "- Scenarios: {}", or_dash(&scenario_names(results).join(", ")));
    let rates: Vec<String> = results.rates.iter().map(u64::to_string).collect();
    let _ = writeln!(md, "- Attack rates asked, SYN/s: {}", or_dash(&rates.join(", ")));
    let _ = writeln!(md, "- Trials: {}, {}\n", results.trials.len(), trial_length(&results.trials));

    let _ = writeln!(md, "## Results\n");
    let _ = writeln!(md, "{}", markdown_table(results));
    let _ = writeln!(md, "{}\n", super::patience::explanation(results));

    let _ = writeln!(md, "## Findings\n");
    for finding in findings(results) {
        let _ = writeln!(md, "- {finding}");
    }
    md.push('\n');

    let goals = super::goals::goals(results);
    if !goals.is_empty() {
        let _ = writeln!(md, "## Performance goals\n");
        for goal in goals {
            let _ = writeln!(md, "- {goal}");
        }
        md.push('\n');
    }

    if !charts.is_empty() {
        let _ = writeln!(md, "## Charts\n");
        for (title, path) in charts {
            let _ = writeln!(md, "### {title}\n\n![{title}]({})\n", path.replace(' ', "%20"));
        }
        let _ = writeln!(md, "Each chart is also saved as SVG beside its PNG.\n");
    }

    if !results.notes.is_empty() {
        let _ = writeln!(md, "## Notes\n");
        for note in &results.notes {
            let _ = writeln!(md, "- {note}");
        }
        md.push('\n');
    }

    let _ = writeln!(md, "## How to reproduce\n");
    let command = if results.kind == "simulation" {
        format!("synscope lab --sim --seed {}", results.seed)
    } else {
        format!("sudo synscope lab{}", if results.over_ipv6() { " --ipv6" } else { "" })
    };
    let _ = writeln!(md, "```sh\n{command}\n```");
    md
}

/// Writes [`markdown`] to `path`.
pub fn write_markdown(results: &LabResults, charts: &[(String, String)], path: &Path) -> io::Result<()> {
    fs::write(path, markdown(results, charts))
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// "10 s each", or "8–12 s each" when trials differed.
fn trial_length(trials: &[Trial]) -> String {
    let lengths = trials.iter().map(|t| t.duration_s).filter(|d| d.is_finite());
    let (lo, hi) = lengths.fold((f64::INFINITY, 0f64), |(lo, hi), d| (lo.min(d), hi.max(d)));
    if !lo.is_finite() {
        "length not recorded".to_string()
    } else if hi - lo < 0.05 {
        format!("{lo:.1} s each")
    } else {
        format!("{lo:.1}–{hi:.1} s each")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn trial(scenario: &str, rate: u64, successes: u64, p99: f64, peak: u64) -> Trial {
        let sessions = 200;
        Trial {
            scenario: scenario.to_string(),
            rate_requested: rate,
            rate_achieved: rate as f64 * 0.97,
            duration_s: 10.0,
            sessions,
            successes,
            success_ratio: successes as f64 / sessions as f64,
            latency_p50_ms: p99 / 3.0,
            latency_p99_ms: p99,
            session_timeout_s: 1.0,
            successes_within: Vec::new(),
            failures: BTreeMap::from([("timeout".to_string(), sessions - successes)]),
            syn_recv: vec![(0.0, 0), (1.0, peak / 2), (2.0, peak)],
            kernel_counters: BTreeMap::from([
                ("TcpExtSyncookiesSent".to_string(), if scenario == "kernel-cookies" { rate * 9 } else { 0 }),
                ("TcpExtListenDrops".to_string(), if scenario == "none" { rate * 5 } else { 0 }),
            ]),
            guard_stats: None,
            guard_cpu_s: None,
            softirq_cpu_s: None,
            top_speed: false,
            bulk_gbit_per_s: None,
        }
    }

    /// Two scenarios × three rates: `none` holds without attack and collapses; `kernel-cookies` holds throughout.
    fn sample() -> LabResults {
        LabResults {
            kind: "simulation".to_string(),
            seed: 42,
            scenarios: vec!["none".to_string(), "kernel-cookies".to_string()],
            rates: vec![0, 10_000, 100_000],
            attacker: "simulated".to_string(),
            trials: vec![
                trial("none", 0, 200, 0.31, 0),
                trial("none", 10_000, 180, 1003.0, 192),
                trial("none", 100_000, 40, 3011.0, 256),
                trial("kernel-cookies", 0, 200, 0.3, 0),
                trial("kernel-cookies", 10_000, 200, 0.9, 256),
                trial("kernel-cookies", 100_000, 199, 1.7, 256),
            ],
            notes: vec!["calibrated against hping3 on this host".to_string()],
            cpus: 0,
            generators: None,
        }
    }

    mod progress {
        use super::*;

        #[test]
        fn first_trial_has_no_estimate() {
            let line = progress_line(0, 12, "none at 0 SYN/s", Duration::ZERO);
            assert_eq!(line, "[1/12] none at 0 SYN/s — elapsed 0:00");
        }

        #[test]
        fn estimates_from_the_average_trial() {
            let line = progress_line(2, 12, &trial_label("guard-cookies", 50_000), Duration::from_secs(42));
            assert_eq!(line, "[3/12] guard-cookies at 50000 SYN/s — elapsed 0:42, remaining ~3:30");
        }

        #[test]
        fn hours_and_overrun() {
            let line = progress_line(5, 6, "x", Duration::from_secs(3 * 3600 + 61));
            assert_eq!(line, "[6/6] x — elapsed 3:01:01, remaining ~36:12");
            assert_eq!(progress_line(9, 6, "x", Duration::from_secs(60)), "[6/6] x — elapsed 1:00, remaining ~0:00");
            assert_eq!(progress_line(0, 0, "x", Duration::ZERO), "[1/1] x — elapsed 0:00");
        }
    }

    mod terminal_table {
        use super::*;

        #[test]
        fn has_a_row_per_trial_and_every_column() {
            let t = table(&sample());
            let lines: Vec<&str> = t.lines().collect();
            assert_eq!(lines.len(), 2 + 6, "{t}");
            for header in ["scenario", "asked SYN/s", "got SYN/s", "success", "sessions", "p50 ms", "p99 ms"] {
                assert!(lines[0].contains(header), "no {header:?} in {t}");
            }
            assert!(lines[0].contains("SYN-RECV peak") && lines[0].contains("cookies sent"));
            assert!(lines[0].contains("listen drops") && !lines[0].contains("guard"));
            assert!(lines[4].starts_with("none") && lines[7].starts_with("kernel-cookies"));
            assert!(lines[4].contains("20.0%") && lines[4].contains("40/200") && lines[4].contains("3011"));
            assert!(lines[7].contains("99.5%") && lines[7].contains("1.7") && lines[7].contains("900000"));
        }

        #[test]
        fn columns_line_up() {
            let t = table(&sample());
            let widths: Vec<usize> = t.lines().map(|l| l.chars().count()).collect();
            assert!(widths.iter().all(|&w| w == widths[0]), "{t}");
        }

        #[test]
        fn patience_columns_follow_the_headline_success_when_recorded() {
            let mut r = sample();
            assert!(!table(&r).contains("in 1 s"), "no levels recorded, no columns to invent");
            for t in &mut r.trials {
                t.session_timeout_s = 7.0;
                t.successes_within = vec![(1.0, t.successes / 4), (3.0, t.successes / 2), (7.0, t.successes)];
            }
            let t = table(&r);
            let header: Vec<&str> =
                t.lines().next().unwrap().split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
            assert_eq!(header[3..6], ["success", "in 1 s", "in 3 s"], "{t}");
            // none at 100000 SYN/s: 40 of 200 within 7 s, 10 within 1 s, 20 within 3 s.
            let row: Vec<&str> = t.lines().nth(4).unwrap().split_whitespace().collect();
            assert_eq!(row[3..7], ["20.0%", "5.0%", "10.0%", "40/200"], "{t}");
            let md = markdown(&r, &[]);
            assert!(md.contains("| success | in 1 s | in 3 s | sessions |"), "{md}");
            assert!(md.contains("none 5.0 / 10.0 / 20.0% at 100000 SYN/s"), "{md}");
            assert!(md.contains("patience, 7 s (the headline"), "{md}");
            r.kind = "namespaces".into();
            assert!(markdown(&r, &[]).contains("```sh\nsudo synscope lab\n```"));
            r.notes.push(format!("{} (`--ipv6`): ...", crate::lab::results::IPV6_NOTE));
            assert!(markdown(&r, &[]).contains("```sh\nsudo synscope lab --ipv6\n```"));
        }

        #[test]
        fn guard_columns_appear_with_guard_data() {
            let mut r = sample();
            r.trials[5].guard_stats = Some(serde_json::json!({ "synacks_sent": 5000, "cookies_sent": 4000 }));
            r.trials[5].guard_cpu_s = Some(1.234);
            let t = table(&r);
            let last = t.lines().last().unwrap();
            assert!(t.contains("guard SYN-ACK/s") && t.contains("guard CPU s"));
            let cells: Vec<&str> = last.split_whitespace().collect();
            assert_eq!(cells[cells.len() - 2..], ["500", "1.23"], "{last}");
        }

        #[test]
        fn missing_data_shows_dashes() {
            let mut r = sample();
            r.trials.truncate(1);
            r.trials[0].successes = 0;
            r.trials[0].syn_recv.clear();
            r.trials[0].kernel_counters.clear();
            r.trials[0].rate_achieved = f64::NAN;
            let t = table(&r);
            assert!(!t.contains("cookies sent"), "{t}");
            assert_eq!(t.lines().last().unwrap().matches(" -").count(), 4, "{t}");
            assert!(table(&LabResults::default()).contains("(no trials)"));
        }

        #[test]
        fn percent_never_rounds_a_failure_up() {
            assert_eq!(percent(0.9996), "99.9");
            assert_eq!(percent(1.0), "100.0");
            assert_eq!(percent(0.0), "0.0");
            assert_eq!(percent(f64::NAN), "-");
        }
    }

    mod findings {
        use super::*;

        #[test]
        fn describes_each_scenario_and_the_ranking() {
            let f = findings(&sample());
            assert_eq!(
                f[0],
                "**none** kept ≥99% success without attack, then dropped below 99% at 10000 SYN/s (90.0%) \
                 and fell to 20.0% at 100000 SYN/s (p99 3011 ms, SYN-RECV peak 256)."
            );
            assert_eq!(
                f[1],
                "**kernel-cookies** kept ≥99% success at every rate tried, up to 100000 SYN/s \
                 (p99 1.7 ms, SYN-RECV peak 256)."
            );
            assert_eq!(f[2], "At the highest rate, 100000 SYN/s: kernel-cookies 99.5%, none 20.0%.");
            assert_eq!(f.len(), 3);
        }

        #[test]
        fn failing_from_the_start_and_a_short_attacker() {
            let mut r = sample();
            r.trials[0].successes = 150;
            r.trials[0].success_ratio = 0.75;
            r.trials[2].rate_achieved = 40_000.0;
            r.trials[2].successes = 0;
            r.trials[2].success_ratio = 0.0;
            let f = findings(&r);
            assert!(f[0].starts_with("**none** was below 99% success from the lowest rate tried"), "{}", f[0]);
            assert!(f[0].ends_with("fell to 0.0% at 100000 SYN/s (no session completed, SYN-RECV peak 256)."));
            assert!(f[3].contains("at worst 40000 of 100000 SYN/s (none)"), "{}", f[3]);
        }

        #[test]
        fn one_trial_and_none() {
            let mut r = sample();
            r.trials.truncate(1);
            assert_eq!(
                findings(&r),
                ["**none** kept ≥99% success at 0 SYN/s, the only rate tried (p99 0.31 ms, SYN-RECV peak 0)."]
            );
            assert_eq!(findings(&LabResults::default()), ["No trials were run."]);
        }
    }

    mod files {
        use super::*;

        /// Equal JSON trees, numbers equal to within a few ulps.
        fn assert_same(a: &serde_json::Value, b: &serde_json::Value) {
            use serde_json::Value;
            match (a, b) {
                (Value::Number(x), Value::Number(y)) => {
                    let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                    assert!((x - y).abs() <= x.abs().max(y.abs()) * 1e-15, "{x} != {y}");
                }
                (Value::Array(x), Value::Array(y)) => {
                    assert_eq!(x.len(), y.len());
                    x.iter().zip(y).for_each(|(x, y)| assert_same(x, y));
                }
                (Value::Object(x), Value::Object(y)) => {
                    assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
                    x.values().zip(y.values()).for_each(|(x, y)| assert_same(x, y));
                }
                _ => assert_eq!(a, b),
            }
        }

        fn charts() -> Vec<(String, String)> {
            vec![
                ("Success ratio".to_string(), "success.png".to_string()),
                ("p99".to_string(), "latency_p99.png".to_string()),
            ]
        }

        #[test]
        fn markdown_has_every_section() {
            let md = markdown(&sample(), &charts());
            for needle in [
                "# synscope lab report",
                "simulation (`--sim`, seed 42)",
                "- Attacker: simulated",
                "- Trials: 6, 10.0 s each",
                "| scenario | asked SYN/s |",
                "|:---|---:|",
                "| kernel-cookies | 100000 | 97000 | 99.5% | 199/200 |",
                "- **kernel-cookies** kept ≥99% success at every rate tried, up to 100000 SYN/s",
                "![Success ratio](success.png)",
                "![p99](latency_p99.png)",
                "- calibrated against hping3 on this host",
                "synscope lab --sim --seed 42",
            ] {
                assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
            }
        }

        #[test]
        fn markdown_for_the_real_lab_and_no_charts() {
            let mut r = sample();
            r.kind = "namespaces".to_string();
            r.notes.clear();
            let md = markdown(&r, &[]);
            assert!(md.contains("network namespaces") && md.contains("sudo synscope lab\n"));
            assert!(!md.contains("## Charts") && !md.contains("## Notes"));
        }

        #[test]
        fn json_round_trips_and_markdown_is_written() {
            let dir = tempfile::tempdir().unwrap();
            let mut r = sample();
            r.trials[1].guard_stats = Some(serde_json::json!({ "mode": "cookies", "synacks_sent": 10 }));
            r.trials[1].guard_cpu_s = Some(0.5);
            let json = dir.path().join("results.json");
            write_json(&r, &json).unwrap();
            let text = fs::read_to_string(&json).unwrap();
            assert!(text.starts_with("{\n  \"kind\": \"simulation\""), "not pretty: {text}");
            let back: LabResults = serde_json::from_str(&text).unwrap();
            // serde_json parses floats to within one ulp unless its `float_roundtrip` feature is on.
            assert_same(&serde_json::to_value(&back).unwrap(), &serde_json::to_value(&r).unwrap());

            let md = dir.path().join("report.md");
            write_markdown(&r, &charts(), &md).unwrap();
            assert_eq!(fs::read_to_string(md).unwrap(), markdown(&r, &charts()));
        }
    }

    #[test]
    fn bulk_data_through_the_gateway_beside_the_bridge() {
        let with_bulk = |scenario: &str, rate: u64, gbit: f64| Trial {
            bulk_gbit_per_s: Some(gbit),
            ..trial(scenario, rate, 200, 1.0, 0)
        };
        let results = LabResults {
            trials: vec![
                with_bulk("kernel-cookies", 0, 8.0),
                with_bulk("kernel-cookies", 100_000, 2.0),
                with_bulk("guard-cookies", 0, 4.0),
                with_bulk("guard-cookies", 100_000, 3.0),
            ],
            ..LabResults::default()
        };
        let finding = bulk_cost(&results).expect("a finding");
        assert_eq!(
            finding,
            "Legitimate bulk data through the gateway (`connect --bulk`, Gbit/s, while the flood ran): the kernel \
             bridge carried 8.00 without attack (kernel-cookies 2.00 at 100000 SYN/s); guard-cookies 4.00 at 0 SYN/s \
             (50% of the bridge's) and 3.00 at 100000 SYN/s."
        );
        assert!(table(&results).contains("bulk Gbit/s"));
        // No measurement (the simulation): no sentence, no column.
        assert_eq!(bulk_cost(&sample()), None);
        assert!(!table(&sample()).contains("bulk Gbit/s"));
    }
}
