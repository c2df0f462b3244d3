//! `synscope lab --sim --compare REAL.json` from the command line, and `lab --sim --seed N` repeating itself
//! byte for byte. No privileges needed.

use std::process::Command;

use synscope::lab::results::{LabResults, Trial};

const BIN: &str = env!("CARGO_BIN_EXE_synscope");

fn real_trial(scenario: &str, rate: u64, success: f64) -> Trial {
    Trial {
        scenario: scenario.into(),
        rate_requested: rate,
        rate_achieved: rate as f64,
        duration_s: 2.0,
        sessions: 50,
        successes: (success * 50.0) as u64,
        success_ratio: success,
        session_timeout_s: 1.0,
        ..Trial::default()
    }
}

/// A small "real" run: kernel cookies held at 20k SYN/s (the simulation agrees), and the ring guard at 1.3M SYN/s
/// starved of CPU (its verdict is `machine`, so it is shown and excluded).
fn real_run() -> LabResults {
    let mut starved = real_trial("guard-cookies-rings", 1_300_000, 0.5);
    starved.guard_cpu_s = Some(1.0);
    starved.guard_stats = Some(serde_json::json!({"threads": 1, "ring_drops": {"outside_syns": 900_000}}));
    LabResults {
        kind: "namespaces".into(),
        cpus: 2,
        trials: vec![real_trial("kernel-cookies", 20_000, 1.0), starved],
        ..LabResults::default()
    }
}

#[test]
fn compare_prints_the_table_writes_it_and_leaves_machine_limited_trials_out() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json");
    std::fs::write(&real, serde_json::to_string(&real_run()).unwrap()).unwrap();
    let out = dir.path().join("out");
    let run = Command::new(BIN).args(["lab", "--sim", "--compare"]).arg(&real).arg("--out").arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("| kernel-cookies | 20000 | 100.0% | 100.0% | +0.0 pp |"), "{stdout}");
    assert!(stdout.contains("| guard-cookies-rings | 1300000 | 50.0% |"), "{stdout}");
    assert!(stdout.contains("machine: excluded"), "{stdout}");
    assert!(stdout.contains("**guard-cookies-rings** at 1300000 SYN/s: the simulation cannot follow"), "{stdout}");
    assert!(
        stdout.contains("(verdict not `machine`): 0.0 percentage points, kernel-cookies at 20000 SYN/s"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(written.contains(stdout.trim()), "compare.md holds the printed table");

    // Bad input: one line, no panic.
    let missing = Command::new(BIN)
        .args(["lab", "--sim", "--compare", "/nonexistent/real.json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot read /nonexistent/real.json"), "{stderr}");
    // --compare is a simulation's: without --sim it is a usage error.
    let no_sim = Command::new(BIN).args(["lab", "--compare"]).arg(&real).output().unwrap();
    assert_eq!(no_sim.status.code(), Some(2));
}

#[test]
fn the_same_seed_writes_the_same_results_json() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let status = Command::new(BIN)
            .args(["lab", "--sim", "--seed", "7", "--scenarios", "none,guard-limit", "--rates", "0,30000"])
            .args(["--duration", "2s", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        std::fs::read(out.join("results.json")).unwrap()
    };
    let (a, b) = (run("a"), run("b"));
    assert_eq!(a, b);
    let results: LabResults = serde_json::from_slice(&a).unwrap();
    assert_eq!((results.kind.as_str(), results.seed, results.trials.len()), ("simulation", 7, 4));
}
