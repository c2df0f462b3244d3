//! `synscope harden`: the kernel's SYN-flood sysctls change inside a test namespace, and only there; `--show` and
//! `--format json` report values and counters; errors are one line with the right exit status. Values inside the
//! namespace are checked with `ip netns exec NAME sysctl -n`, a peer that shares no code with synscope. Tests that
//! need root skip loudly without it; every namespace sits in a guard that deletes it, pass or fail.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Output};

use common::netns::{AttachedNetns, Netns, have_root};
use common::{stderr, stdout, synscope};
use synscope::netns::{self as lib, Knob, Namespace, NetnsError, Settings};

const SYSCTLS: [&str; 4] =
    ["net.ipv4.tcp_syncookies", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_synack_retries", "net.core.somaxconn"];

const COUNTERS: [&str; 7] = [
    "TcpExtSyncookiesSent",
    "TcpExtSyncookiesRecv",
    "TcpExtSyncookiesFailed",
    "TcpExtListenOverflows",
    "TcpExtListenDrops",
    "TcpExtTCPReqQFullDrop",
    "TcpExtTCPReqQFullDoCookies",
];

/// What the example sets, in the order of [`SYSCTLS`].
const HARDENED: [i64; 4] = [2, 64, 1, 32];

fn harden_args(netns: &str) -> Vec<String> {
    let mut args = vec!["harden".to_string(), "--netns".into(), netns.into()];
    for (flag, value) in ["--syncookies", "--max-syn-backlog", "--synack-retries", "--somaxconn"].iter().zip(HARDENED) {
        args.push(flag.to_string());
        args.push(value.to_string());
    }
    args
}

fn parse_int(text: &str, what: &str) -> i64 {
    text.trim().parse().unwrap_or_else(|e| panic!("{what}: {text:?} is not an integer: {e}"))
}

/// The four sysctls of the namespace the tests run in (normally the initial one), read by sysctl(8).
fn host_sysctls() -> Vec<i64> {
    SYSCTLS.iter().map(|name| parse_int(&stdout(&common::netns::run("sysctl", &["-n", name])), name)).collect()
}

/// The four sysctls inside `netns`, read by `ip netns exec NAME sysctl -n`.
fn netns_sysctls(netns: &Netns) -> Vec<i64> {
    SYSCTLS.iter().map(|name| parse_int(&stdout(&netns.exec_ok(&["sysctl", "-n", name])), name)).collect()
}

/// The data rows of a text table: first column to the numbers after it.
fn table_rows(text: &str) -> BTreeMap<String, Vec<i64>> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?.to_string();
            let numbers: Result<Vec<i64>, _> = fields.map(str::parse).collect();
            numbers.ok().filter(|n| !n.is_empty()).map(|n| (name, n))
        })
        .collect()
}

fn assert_one_line_error(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stdout: {} stderr: {err}", stdout(out));
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("synscope: "), "{err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    err
}

mod applying {
    use super::*;

    #[test]
    fn harden_changes_the_namespace_only_and_prints_before_and_after() {
        if !have_root("harden_changes_the_namespace_only_and_prints_before_and_after") {
            return;
        }
        let netns = Netns::new("hd");
        let host_before = host_sysctls();
        let inside_before = netns_sysctls(&netns);

        let out = synscope(harden_args(&netns.name));
        assert!(out.status.success(), "harden failed: {}", stderr(&out));
        let text = stdout(&out);
        assert_eq!(text.lines().next(), Some(format!("netns {}", netns.name).as_str()), "{text}");
        let header: Vec<&str> = text.lines().nth(1).unwrap_or_default().split_whitespace().collect();
        assert_eq!(header, ["sysctl", "before", "after"], "{text}");
        let rows = table_rows(&text);
        assert_eq!(rows.len(), 4, "{text}");
        for (i, name) in SYSCTLS.iter().enumerate() {
            assert_eq!(rows[*name], vec![inside_before[i], HARDENED[i]], "{name} in\n{text}");
        }

        assert_eq!(netns_sysctls(&netns), HARDENED, "the values inside the namespace");
        assert_eq!(host_sysctls(), host_before, "the initial namespace's values must not change");
    }

    #[test]
    fn only_the_given_sysctls_change() {
        if !have_root("only_the_given_sysctls_change") {
            return;
        }
        let netns = Netns::new("hd");
        let before = netns_sysctls(&netns);
        let out = synscope(["harden", "--netns", &netns.name, "--synack-retries", "3"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut expected = before.clone();
        expected[2] = 3;
        assert_eq!(netns_sysctls(&netns), expected);
        let rows = table_rows(&stdout(&out));
        assert_eq!(rows["net.ipv4.tcp_syncookies"], vec![before[0], before[0]]);
    }

    #[test]
    fn json_reports_before_and_after() {
        if !have_root("json_reports_before_and_after") {
            return;
        }
        let netns = Netns::new("hd");
        let inside_before = netns_sysctls(&netns);
        let mut args = harden_args(&netns.name);
        args.extend(["--format".into(), "json".into()]);
        let out = synscope(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("harden --format json is JSON");
        assert_eq!(json["netns"], netns.name.as_str());
        for (i, name) in SYSCTLS.iter().enumerate() {
            assert_eq!(json["before"][name], inside_before[i], "{name}: {json}");
            assert_eq!(json["after"][name], HARDENED[i], "{name}: {json}");
        }
    }
}

mod showing {
    use super::*;

    #[test]
    fn show_lists_the_values_and_the_counters() {
        if !have_root("show_lists_the_values_and_the_counters") {
            return;
        }
        let netns = Netns::new("hd");
        let inside = netns_sysctls(&netns);
        let host_before = host_sysctls();
        let out = synscope(["harden", "--netns", &netns.name, "--show"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let rows = table_rows(&text);
        for (i, name) in SYSCTLS.iter().enumerate() {
            assert_eq!(rows.get(*name), Some(&vec![inside[i]]), "{name} in\n{text}");
        }
        for name in COUNTERS {
            let value = rows.get(name).unwrap_or_else(|| panic!("{name} missing from\n{text}"));
            assert_eq!(value.len(), 1, "{name} in\n{text}");
            assert!(value[0] >= 0, "{name} in\n{text}");
        }
        assert_eq!(netns_sysctls(&netns), inside, "--show changes nothing");
        assert_eq!(host_sysctls(), host_before);
    }

    #[test]
    fn show_json_parses_with_numeric_counters() {
        if !have_root("show_json_parses_with_numeric_counters") {
            return;
        }
        let netns = Netns::new("hd");
        let inside = netns_sysctls(&netns);
        let out = synscope(["harden", "--netns", &netns.name, "--show", "--format", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("--show --format json is JSON");
        assert_eq!(json["netns"], netns.name.as_str());
        for (i, name) in SYSCTLS.iter().enumerate() {
            assert_eq!(json["sysctls"][name], inside[i], "{name}: {json}");
        }
        for name in COUNTERS {
            assert!(json["counters"][name].is_u64(), "{name}: {json}");
        }
    }
}

mod library {
    use super::*;

    /// The lab's path: no process is spawned, values change inside the namespace, and this process (whose main
    /// thread never left its namespace) still sees its own values.
    #[test]
    fn apply_and_read_sysctls_act_inside_the_namespace_only() {
        if !have_root("apply_and_read_sysctls_act_inside_the_namespace_only") {
            return;
        }
        let netns = Netns::new("hd");
        let host_before = host_sysctls();
        let settings =
            Settings { syncookies: Some(0), max_syn_backlog: Some(128), synack_retries: Some(2), somaxconn: Some(16) };
        let changes = lib::apply(&netns.name, &settings).expect("apply");
        let wanted = [0, 128, 2, 16];
        for (knob, value) in Knob::ALL.into_iter().zip(wanted) {
            assert_eq!(changes.after.get(knob), value, "{}", knob.name());
        }
        assert_eq!(lib::read_sysctls(&netns.name).expect("read_sysctls"), changes.after);
        assert_eq!(netns_sysctls(&netns), wanted);
        assert_eq!(host_sysctls(), host_before);
        let own = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap();
        assert_eq!(parse_int(&own, "somaxconn"), host_before[3], "the main thread stays in its namespace");
    }

    /// With cookies always on, one connection inside the namespace sends one cookie and receives it back. The
    /// counters read are the namespace's own: exactly one each, whatever the host is doing.
    #[test]
    fn counters_are_the_namespaces_own() {
        if !have_root("counters_are_the_namespaces_own") {
            return;
        }
        let netns = Netns::new("hd");
        lib::apply(&netns.name, &Settings { syncookies: Some(2), ..Settings::default() }).expect("apply");
        let before = lib::read_counters(&netns.name).expect("read_counters");
        assert_eq!(before.syncookies_sent, 0);
        Namespace::open(&netns.name)
            .expect("open")
            .run(|| {
                let io = |e: std::io::Error| NetnsError::Io { context: "loopback connection".into(), cause: e };
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
                let mut client = TcpStream::connect(listener.local_addr().map_err(io)?).map_err(io)?;
                // accept() returns once the cookie ACK has been checked and the connection made from it.
                let (mut server, _) = listener.accept().map_err(io)?;
                client.write_all(b"x").map_err(io)?;
                let mut byte = [0u8; 1];
                server.read_exact(&mut byte).map_err(io)
            })
            .expect("a connection inside the namespace");
        let after = lib::read_counters(&netns.name).expect("read_counters");
        assert_eq!(after.syncookies_sent - before.syncookies_sent, 1, "{after:?}");
        assert_eq!(after.syncookies_recv - before.syncookies_recv, 1, "{after:?}");
        assert_eq!(after.syncookies_failed, 0, "{after:?}");
    }
}

mod refusing {
    use super::*;

    #[test]
    fn an_unknown_namespace_lists_the_existing_ones() {
        let name = "synscope-no-such-namespace";
        let out = synscope(["harden", "--netns", name, "--syncookies", "1"]);
        let err = assert_one_line_error(&out, 1);
        assert!(err.starts_with(&format!("synscope: no network namespace named '{name}'; ")), "{err}");
        if !have_root("an_unknown_namespace_lists_the_existing_ones (with a namespace to list)") {
            return;
        }
        let netns = Netns::new("hd");
        let out = synscope(["harden", "--netns", name, "--show"]);
        let err = assert_one_line_error(&out, 1);
        assert!(err.contains("the namespaces are: ") && err.contains(&netns.name), "{err}");
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let cases: [&[&str]; 10] = [
            &["--syncookies", "3"],
            &["--syncookies", "-1"],
            &["--max-syn-backlog", "0"],
            &["--max-syn-backlog", "2147483648"],
            &["--synack-retries", "0"],
            &["--synack-retries", "256"],
            &["--somaxconn", "0"],
            &["--somaxconn", "lots"],
            &["--show", "--syncookies", "1"],
            &[],
        ];
        for extra in cases {
            let mut args = vec!["harden", "--netns", "synscope-no-such-namespace"];
            args.extend_from_slice(extra);
            let out = synscope(&args);
            assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
            assert!(!stderr(&out).contains("panicked"), "{extra:?}: {}", stderr(&out));
        }
        let out = synscope(["harden", "--netns", "../../proc/1/ns/net", "--syncookies", "1"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("is not a namespace name"), "{}", stderr(&out));
    }

    #[test]
    fn the_initial_namespace_is_refused_whatever_its_name() {
        if !have_root("the_initial_namespace_is_refused_whatever_its_name") {
            return;
        }
        if !matches!(synscope::safety::in_initial_netns(), Ok(true)) {
            eprintln!("SKIPPED the_initial_namespace_is_refused_whatever_its_name: the tests do not run in it");
            return;
        }
        let attached = AttachedNetns::new("hi");
        let host_before = host_sysctls();
        let mut args = harden_args(&attached.name);
        args.extend(["--format".into(), "json".into()]);
        let out = synscope(&args);
        let err = assert_one_line_error(&out, 1);
        assert!(err.contains("it is the initial network namespace"), "{err}");
        assert_eq!(host_sysctls(), host_before);
        let err = lib::apply(&attached.name, &Settings { somaxconn: Some(1), ..Settings::default() }).unwrap_err();
        assert!(matches!(err, NetnsError::Initial { .. }), "{err:?}");
        assert_eq!(host_sysctls(), host_before);
    }

    #[test]
    fn without_privilege_the_error_names_the_capabilities() {
        if !have_root("without_privilege_the_error_names_the_capabilities") {
            return;
        }
        let netns = Netns::new("hd");
        let before = netns_sysctls(&netns);
        // An unprivileged user with no capabilities at all, as `sudo` forgotten would leave us.
        let mut drop_privileges = Command::new("setpriv");
        drop_privileges.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]);
        drop_privileges.args(["--bounding-set=-all", env!("CARGO_BIN_EXE_synscope")]);
        for extra in [&["--syncookies", "0"][..], &["--show"][..]] {
            let mut command = Command::new(drop_privileges.get_program());
            command.args(drop_privileges.get_args()).args(["harden", "--netns", &netns.name]).args(extra);
            let Ok(out) = command.output() else {
                eprintln!("SKIPPED without_privilege_the_error_names_the_capabilities: setpriv(1) is missing");
                return;
            };
            let err = assert_one_line_error(&out, 1);
            assert!(err.contains("CAP_SYS_ADMIN") && err.contains("CAP_NET_ADMIN") && err.contains("sudo"), "{err}");
        }
        assert_eq!(netns_sysctls(&netns), before);
    }
}
