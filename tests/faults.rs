//! The guard on a bad link and under hostile floods (root; CI runs as root). Issue 14's fault campaign.
//!
//! **Bad links.** A fourth namespace sits between the client and the gateway, and `synscope impair` bridges it with
//! netem's faults in both directions (this CI kernel has no `sch_netem`; the faults mean what they mean to
//! tc-netem(8)). A transfer both ways through the guard must arrive byte for byte (SHA-256 at both ends). CI runs
//! the one the issue names: 5% loss plus 5% reordering, 16 MB each way, cookies mode. `scripts/faults.sh` runs the
//! whole campaign (`--ignored`): every mode under 5% loss, 5% reordering, 5% duplication, 50 ms ± 20 ms of jitter,
//! and all four at once.
//!
//! **Hostile floods.** A moderate flood of one hostile shape runs for 10 s while the prober opens 100 sessions a
//! second: ACKs with random cookies, RSTs, FINs, never-completed fragments, SYNs with hostile options (MSS 0,
//! window scale 255, an option running past the header, a SACK block far outside any window), and frames with
//! 1 byte and with the most payload the link takes. In every mode the listener must accept no connection but the
//! prober's: every connection it accepted is one the prober made. In the modes meant to hold a flood (cookies,
//! auto) the prober must also succeed ≥ 99%; `off` and `limit` are run and reported beside them.
//!
//! Each trial prints one `FAULT` line, which `scripts/faults.sh` gathers into its table.

mod common;

use common::bulk::{CLIENT, SERVER};
use common::netns::have_root;
use common::process::Running;
use common::stderr;
use common::topology::{CLIENT_IP, SERVER_IP, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_synscope");
const PORT: u16 = 9999;
const MODES: [&str; 4] = ["off", "limit", "cookies", "auto"];
/// The modes held to the prober's ≥ 99% under every hostile flood. `off` leaves the listener to the kernel, and
/// `limit` alone, by design, loses sessions to any SYN flood that turns its half-open table over faster than a
/// handshake completes (RFC 4987 §3.2; the lab's guard-limit keeps 0% from 338k SYN/s): the campaign runs them too
/// and prints their figures, but holds them only to admitting no forged connection.
const FLOOD_MODES: [&str; 2] = ["cookies", "auto"];

/// The faults of the campaign, as `synscope impair` options.
const IMPAIRMENTS: [(&str, &[&str]); 5] = [
    ("loss 5%", &["--loss", "5%"]),
    ("reorder 5%", &["--reorder", "5%"]),
    ("duplicate 5%", &["--duplicate", "5%"]),
    ("jitter 50ms±20ms", &["--delay", "50ms", "--jitter", "20ms"]),
    ("all four", &["--loss", "5%", "--reorder", "5%", "--duplicate", "5%", "--delay", "50ms", "--jitter", "20ms"]),
];

/// Moves `bytes` each way through the guard in `mode` with `impair` on the client's link; returns the client's
/// `ok ...` line, having checked every byte, the guard's exit and the impairer's counters.
fn transfer_through_faults(mode: &str, fault: &str, impair: &[&str], bytes: u64) -> String {
    let topology = Topology::with_wan("fl");
    let wan = topology.wan.as_ref().expect("a wan namespace");
    let mut impairer = Running::spawn({
        let mut command = wan.netns.command(BIN);
        command.args(["impair", "--between", &wan.client_side, &wan.gateway_side, "--seed", "14"]).args(impair);
        command
    });
    impairer.wait_for_stderr("impairing");
    let mut server = Running::spawn({
        let mut command = topology.server.command("python3");
        command.args(["-c", SERVER, SERVER_IP, &PORT.to_string()]);
        command
    });
    server.wait_for_stdout("listening");
    let mut guard = Running::spawn(common::guard_lab::guard_command(&topology, mode, &[]));
    guard.wait_for_stderr("guarding");
    let started = std::time::Instant::now();
    let out = topology
        .client
        .command("python3")
        .args(["-c", CLIENT, SERVER_IP, &PORT.to_string(), &bytes.to_string(), CLIENT_IP])
        .output()
        .expect("running the bulk client");
    let seconds = started.elapsed().as_secs_f64();
    let (code, stats, guard_err) = guard.terminate();
    let (_, impaired, impair_err) = impairer.terminate();
    let (_, server_out, server_err) = server.terminate();
    let client_out = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && client_out.starts_with("ok"),
        "{mode} under {fault}: the transfer failed: {}{client_out}\nserver: {server_out}{server_err}\nguard: \
         {guard_err}\n{stats}\nimpair: {impair_err}{impaired}",
        stderr(&out)
    );
    assert_eq!(code, Some(0), "guard failed: {guard_err}");
    let directions: serde_json::Value = serde_json::from_str(&impaired).expect("impair's counters are JSON");
    let faults: Vec<String> = directions
        .as_array()
        .expect("one object per direction")
        .iter()
        .map(|d| {
            format!(
                "{} frames, {} lost, {} duplicated, {} reordered, {} over the limit",
                d["received"], d["lost"], d["duplicated"], d["reordered"], d["overlimit"]
            )
        })
        .collect();
    // The faults must have happened, or the trial proved nothing.
    for (name, key) in [("loss", "lost"), ("duplicate", "duplicated"), ("reorder", "reordered")] {
        if impair.iter().any(|arg| arg.trim_start_matches("--") == name) {
            let total: u64 = directions.as_array().unwrap().iter().map(|d| d[key].as_u64().unwrap_or(0)).sum();
            assert!(total > 0, "{mode} under {fault}: the impairer {key} nothing: {impaired}");
        }
    }
    let line = format!(
        "FAULT transfer mode={mode} fault=\"{fault}\" bytes={bytes} seconds={seconds:.1} result=\"{client_out}\" \
         impair=\"client->server: {}; server->client: {}\"",
        faults[0], faults[1]
    );
    eprintln!("{line}");
    line
}

#[test]
fn cookies_mode_carries_16_mb_each_way_through_loss_and_reordering() {
    if !have_root("cookies_mode_carries_16_mb_each_way_through_loss_and_reordering") {
        return;
    }
    transfer_through_faults("cookies", "loss 5% + reorder 5%", &["--loss", "5%", "--reorder", "5%"], 16 << 20);
}

/// The whole bad-link campaign: every mode under every fault. `scripts/faults.sh` runs it.
#[test]
#[ignore = "the full campaign takes several minutes: scripts/faults.sh"]
fn campaign_every_mode_under_every_fault() {
    if !have_root("campaign_every_mode_under_every_fault") {
        return;
    }
    let bytes: u64 = std::env::var("FAULT_BYTES").ok().and_then(|b| b.parse().ok()).unwrap_or(16 << 20);
    let mut failed = Vec::new();
    for mode in MODES {
        for (fault, impair) in IMPAIRMENTS.into_iter().filter(|(fault, _)| chosen(mode, fault)) {
            if !trial(|| transfer_through_faults(mode, fault, impair, bytes)) {
                failed.push(format!("{mode} under {fault}"));
            }
        }
    }
    assert!(failed.is_empty(), "failed: {failed:?}");
}

/// Whether `FAULT_ONLY` (a substring of a mode or a fault's name, as the FAULT lines spell them) picks this trial;
/// every trial when it is unset.
fn chosen(mode: &str, name: &str) -> bool {
    std::env::var("FAULT_ONLY").map_or(true, |only| mode.contains(&only) || name.contains(&only))
}

/// Runs one trial of a campaign; a failure is printed (its namespaces are gone with the unwinding) and the
/// campaign goes on, to fail at the end with the list.
fn trial(run: impl FnOnce() -> String + std::panic::UnwindSafe) -> bool {
    std::panic::catch_unwind(run).is_ok()
}

/// One hostile flood shape, as `synscope flood` options (the target and rate are added).
struct Hostile {
    name: &'static str,
    flood: &'static [&'static str],
}

const HOSTILE: [Hostile; 10] = [
    Hostile { name: "ACKs with random cookies", flood: &["--flags", "A"] },
    Hostile { name: "RSTs", flood: &["--flags", "R"] },
    Hostile { name: "FINs", flood: &["--flags", "F"] },
    Hostile { name: "fragments", flood: &["--fragment", "--data", "64"] },
    Hostile { name: "SYNs with MSS 0", flood: &["--tcp-options-hex", "02040000"] },
    Hostile { name: "SYNs with window scale 255", flood: &["--tcp-options-hex", "020405b4010303ff"] },
    Hostile { name: "SYNs with an option running past the header", flood: &["--tcp-options-hex", "020405b40428"] },
    // SACK-permitted, then a SACK block (kind 5) whose edges no window can hold.
    Hostile {
        name: "SYNs with a SACK block beyond the window",
        flood: &["--tcp-options-hex", "0402050a7fffffff80000000"],
    },
    Hostile { name: "1-byte ACKs", flood: &["--flags", "PA", "--data", "1"] },
    Hostile { name: "maximum-size ACKs", flood: &["--flags", "PA", "--data", "1460"] },
];

/// Flood rate of the hostile trials: "moderate", a tenth of what the guard answers on its packet rings on this
/// 2-vCPU machine (about 600k SYN/s, scripts/bench-guard.sh).
const HOSTILE_RATE: u64 = 50_000;

/// Runs one hostile flood for `seconds` against the guard in `mode` while the prober runs; returns its line.
fn hostile_flood(mode: &str, hostile: &Hostile, seconds: u64) -> String {
    let held_to_99 = FLOOD_MODES.contains(&mode);
    let topology = Topology::new("hf");
    let mut listener = Running::spawn({
        let mut command = topology.server.command(BIN);
        command.args(["listen", "--tcp", &format!("{SERVER_IP}:{PORT}")]);
        command
    });
    listener.wait_for_stdout("Waiting for connection");
    let mut guard = Running::spawn(common::guard_lab::guard_command(&topology, mode, &[]));
    guard.wait_for_stderr("guarding");
    let target = format!("{SERVER_IP}:{PORT}");
    let duration = format!("{seconds}s");
    let flood = Running::spawn({
        let mut command = topology.client.command(BIN);
        command.args(["flood", "--target", &target, "--rate", &HOSTILE_RATE.to_string(), "--duration", &duration]);
        command.args(["--format", "json", "--seed", "14"]).args(hostile.flood);
        command
    });
    let sessions = (seconds * 100).to_string();
    let probe = topology
        .client
        .command(BIN)
        .args(["connect", &target, "--count", &sessions, "--rate", "100", "--concurrency", "50"])
        .args(["--timeout", "3s", "--format", "json"])
        .output()
        .expect("running the prober");
    let (flood_code, flood_out, flood_err) = flood.wait_exit(std::time::Duration::from_secs(seconds + 30));
    let (guard_code, guard_out, guard_err) = guard.terminate();
    let (_, listener_out, listener_err) = listener.terminate();
    assert_eq!(flood_code, Some(0), "{}: the flood failed: {flood_err}", hostile.name);
    assert_eq!(guard_code, Some(0), "{mode}: the guard failed: {guard_err}");
    let flood: serde_json::Value = serde_json::from_str(flood_out.trim()).expect("flood JSON");
    let report: serde_json::Value = serde_json::from_slice(&probe.stdout)
        .unwrap_or_else(|e| panic!("prober JSON ({e}): {}{}", String::from_utf8_lossy(&probe.stdout), stderr(&probe)));
    let ratio = report["success_ratio"].as_f64().expect("success_ratio");
    let succeeded = report["succeeded"].as_u64().expect("succeeded");
    let session_count = report["sessions"].as_u64().expect("sessions");
    // `synscope listen` says at exit how many connections it accepted (listener/mod.rs).
    let accepted = accepted_connections(&listener_out, &listener_err);
    let line = format!(
        "FAULT flood mode={mode} shape=\"{}\" sent={} rate={:.0} prober={:.2}% ({succeeded}/{session_count}) \
         listener_accepted={accepted} forged_admitted={}",
        hostile.name,
        flood["sent"],
        flood["rate"].as_f64().unwrap_or(0.0),
        ratio * 100.0,
        accepted.saturating_sub(session_count),
    );
    eprintln!("{line}");
    assert!(flood["sent"].as_u64().unwrap_or(0) > HOSTILE_RATE * seconds / 2, "the flood ran short: {flood}");
    assert!(
        !held_to_99 || ratio >= 0.99,
        "{mode} under {}: the prober got {:.2}%: {report}\nguard: {guard_out}",
        hostile.name,
        ratio * 100.0
    );
    // No connection but the prober's reached the listener: it accepted no more than the prober's sessions, and
    // exactly as many as succeeded when none failed.
    assert!(
        accepted <= session_count,
        "{mode} under {}: the listener accepted {accepted} connections for {session_count} sessions",
        hostile.name
    );
    if succeeded == session_count {
        assert_eq!(accepted, succeeded, "{mode} under {}: forged connections reached the listener", hostile.name);
    }
    line
}

fn accepted_connections(stdout: &str, stderr: &str) -> u64 {
    let text = format!("{stdout}\n{stderr}");
    text.lines()
        .filter_map(|line| {
            line.split(" connections accepted").next().filter(|_| line.contains(" connections accepted"))
        })
        .filter_map(|head| head.split_whitespace().last()?.parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("the listener did not say how many connections it accepted:\n{text}"))
}

#[test]
fn cookies_mode_admits_nothing_from_a_random_cookie_ack_flood() {
    if !have_root("cookies_mode_admits_nothing_from_a_random_cookie_ack_flood") {
        return;
    }
    hostile_flood("cookies", &HOSTILE[0], 5);
}

/// The whole hostile-flood campaign: every mode under every shape, 10 s each. `scripts/faults.sh` runs it.
#[test]
#[ignore = "the full campaign takes several minutes: scripts/faults.sh"]
fn campaign_every_mode_under_every_hostile_flood() {
    if !have_root("campaign_every_mode_under_every_hostile_flood") {
        return;
    }
    let mut failed = Vec::new();
    for mode in MODES {
        for hostile in HOSTILE.iter().filter(|hostile| chosen(mode, hostile.name)) {
            if !trial(|| hostile_flood(mode, hostile, 10)) {
                failed.push(format!("{mode} under {}", hostile.name));
            }
        }
    }
    assert!(failed.is_empty(), "failed: {failed:?}");
}
