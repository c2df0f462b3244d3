//! `synscope replay`: frames from `captures/` go out of one end of a veth in a test namespace and tcpdump, on the
//! other end, must see the same bytes in the same order. Also the safety rule (an interface of the initial namespace
//! is refused, loopback is accepted) and the one-line errors. Tests that send need root and skip loudly without it;
//! every namespace, veth and process they make sits in a guard that removes it, pass or fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::netns::{HostVeth, Netns, have_root};
use common::process::{READY, Running};
use common::{capture, stderr, synscope};

const BIN: &str = env!("CARGO_BIN_EXE_synscope");

/// A capture file's link type and frames, read with the pcap-file crate rather than synscope's own reader.
fn pcap_frames(path: &Path) -> Result<(u32, Vec<Vec<u8>>), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = pcap_file::pcap::PcapReader::new(file).map_err(|e| e.to_string())?;
    let link = u32::from(reader.header().datalink);
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_packet() {
        frames.push(packet.map_err(|e| e.to_string())?.data.into_owned());
    }
    Ok((link, frames))
}

fn file_frames(name: &str) -> (u32, Vec<Vec<u8>>) {
    pcap_frames(&capture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What a frame of `link` should look like on the wire: the network layer behind an Ethernet header with zero MAC
/// addresses. Written from the link-type specifications (tcpdump.org/linktypes), independently of synscope's code.
fn as_ethernet(link: u32, frame: &[u8]) -> Vec<u8> {
    let (ether_type, payload) = match link {
        1 => return frame.to_vec(),
        113 => ([frame[14], frame[15]], &frame[16..]),
        276 => ([frame[0], frame[1]], &frame[20..]),
        0 | 108 | 101 | 228 | 229 => {
            let payload = if link == 0 || link == 108 { &frame[4..] } else { frame };
            (if payload[0] >> 4 == 6 { [0x86, 0xdd] } else { [0x08, 0x00] }, payload)
        }
        other => panic!("link type {other} is not in this test's table"),
    };
    let mut out = vec![0; 12];
    out.extend_from_slice(&ether_type);
    out.extend_from_slice(payload);
    out
}

/// tcpdump writing what one interface receives to a pcap file, packet by packet (`-U`), with no buffering delay
/// (`--immediate-mode`). In immediate mode libpcap sizes each ring slot for the snap length, so the default 256 KiB
/// snap length leaves a 2 MiB ring only 8 slots, and a `--top-speed` burst overflows it: `-s 4096 -B 16384` gives it
/// thousands (our frames are all below 1500 bytes). `-Z root` keeps it from switching to the `tcpdump` user, who
/// could not write our temporary directory.
struct Tcpdump {
    running: Running,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tcpdump {
    /// Starts tcpdump on `iface` (inside `netns` when given) and returns once its socket is open.
    fn start(netns: Option<&Netns>, iface: &str, filter: &[&str]) -> Option<Tcpdump> {
        if Command::new("tcpdump").arg("--version").output().is_err() {
            common::skip_or_fail("tcpdump is not installed; the replay round trip did not run");
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("received.pcap");
        let mut command = match netns {
            Some(netns) => netns.command("tcpdump"),
            None => Command::new("tcpdump"),
        };
        command
            .args(["-i", iface, "-n", "-U", "--immediate-mode", "-s", "4096", "-B", "16384", "-Z", "root", "-w"])
            .arg(&file)
            .args(filter);
        let mut running = Running::spawn(command);
        running.wait_for_stderr("listening on");
        Some(Tcpdump { running, file, _dir: dir })
    }

    /// The frames written so far; a record still being written is left for the next look.
    fn read(path: &Path) -> Vec<Vec<u8>> {
        let Ok(file) = std::fs::File::open(path) else { return Vec::new() };
        let Ok(mut reader) = pcap_file::pcap::PcapReader::new(file) else { return Vec::new() };
        let mut frames = Vec::new();
        while let Some(Ok(packet)) = reader.next_packet() {
            frames.push(packet.data.into_owned());
        }
        frames
    }

    /// Polls the file until `done` holds for its frames (bounded by [`READY`]), then stops tcpdump and returns them.
    fn stop_when(self, done: impl Fn(&[Vec<u8>]) -> bool) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + READY;
        let Tcpdump { running, file, _dir } = self;
        while !done(&Tcpdump::read(&file)) {
            if Instant::now() >= deadline {
                let have = Tcpdump::read(&file).len();
                // Stopped gently, tcpdump says how many frames it saw and how many the kernel dropped.
                let (_, _, err) = running.terminate();
                panic!("tcpdump did not receive the expected frames; it wrote {have}: {err}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = running.terminate();
        Tcpdump::read(&file)
    }

    fn stop_at(self, count: usize) -> Vec<Vec<u8>> {
        self.stop_when(|frames| frames.len() >= count)
    }
}

/// A namespace with a veth pair, both ends up: frames sent on `a` arrive on `b`. IPv6 is off and no address is set,
/// so the kernel itself sends nothing on the link and tcpdump on `b` sees only what replay sent.
struct Link {
    netns: Netns,
    a: String,
    b: String,
}

impl Link {
    fn new() -> Link {
        let netns = Netns::new("rp");
        let (a, b) = netns.veth_pair();
        Link { netns, a, b }
    }

    /// `synscope replay ARGS -i A` inside the namespace.
    fn replay(&self, args: &[&str]) -> Output {
        let mut command = self.netns.command(BIN);
        command.arg("replay").args(args).args(["-i", &self.a]);
        command.output().expect("running synscope replay")
    }

    fn sniff(&self) -> Option<Tcpdump> {
        Tcpdump::start(Some(&self.netns), &self.b, &[])
    }
}

/// The closing report's counts: (replayed, failed, skipped, truncated).
fn report(out: &Output) -> (u64, u64, u64, u64) {
    let err = stderr(out);
    let line = err.lines().find(|l| l.starts_with("synscope: replayed ")).unwrap_or_else(|| panic!("no report: {err}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(4)
        .map(|w| w.parse().expect("a count"))
        .collect();
    assert!(line.contains("failed,") && line.contains("skipped,") && line.contains("truncated)"), "{line}");
    (numbers[0], numbers[1], numbers[2], numbers[3])
}

fn assert_same_frames(got: &[Vec<u8>], want: &[Vec<u8>]) {
    assert_eq!(got.len(), want.len(), "frame count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "frame {} differs", i + 1);
    }
}

mod round_trip {
    use super::*;

    #[test]
    fn synscope_sniff_on_the_other_end_gets_the_same_frames() {
        if !have_root("replay round trip captured by synscope sniff") {
            return;
        }
        let link = Link::new();
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("sniffed.pcap");
        let mut command = link.netns.command(BIN);
        command.args(["sniff", "-q", "-i", &link.b, "-w"]).arg(&file);
        let mut sniffer = Running::spawn(command);
        sniffer.wait_for_stderr("listening on");
        let mut want = Vec::new();
        for name in ["seed-session.pcap", "vlan-session.pcap", "qinq-session.pcap", "syn-unanswered.pcap"] {
            let (_, frames) = file_frames(name);
            let out = link.replay(&[capture(name).to_str().unwrap(), "--top-speed"]);
            assert!(out.status.success(), "{name}: {}", stderr(&out));
            want.extend(frames);
        }
        let deadline = Instant::now() + READY;
        while Tcpdump::read(&file).len() < want.len() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (code, _, err) = sniffer.terminate();
        assert_eq!(code, Some(0), "{err}");
        assert_same_frames(&Tcpdump::read(&file), &want);
        let counts = err.lines().find(|l| l.trim_start().starts_with(&format!("{}:", link.b))).expect("capture line");
        assert!(counts.contains(&format!("{} captured", want.len())), "{counts}");
        assert!(counts.contains("0 dropped by the kernel, 0 dropped by synscope"), "{counts}");
    }

    #[test]
    fn ethernet_captures_arrive_byte_for_byte_in_order() {
        if !have_root("replay round trip over a veth") {
            return;
        }
        let link = Link::new();
        let Some(tcpdump) = link.sniff() else { return };
        let mut want = Vec::new();
        for name in ["seed-session.pcap", "simultaneous-close.pcap", "refused.pcap"] {
            let (_, frames) = file_frames(name);
            let out = link.replay(&[capture(name).to_str().unwrap(), "--top-speed"]);
            assert!(out.status.success(), "{name}: {}", stderr(&out));
            assert_eq!(report(&out), (frames.len() as u64, 0, 0, 0), "{name}: {}", stderr(&out));
            want.extend(frames);
        }
        let got = tcpdump.stop_at(want.len());
        assert_same_frames(&got, &want);
    }

    #[test]
    fn other_link_types_arrive_behind_an_ethernet_header() {
        if !have_root("replay of non-Ethernet captures over a veth") {
            return;
        }
        let link = Link::new();
        let Some(tcpdump) = link.sniff() else { return };
        let mut want = Vec::new();
        for name in ["link-sll.pcap", "link-sll2.pcap", "link-raw.pcap", "link-ipv6.pcap", "link-null.pcap"] {
            let (linktype, frames) = file_frames(name);
            let out = link.replay(&[capture(name).to_str().unwrap(), "--top-speed"]);
            assert!(out.status.success(), "{name}: {}", stderr(&out));
            assert_eq!(report(&out), (frames.len() as u64, 0, 0, 0), "{name}: {}", stderr(&out));
            want.extend(frames.iter().map(|f| as_ethernet(linktype, f)));
        }
        let got = tcpdump.stop_at(want.len());
        assert_same_frames(&got, &want);
    }

    #[test]
    fn odd_frames_are_skipped_or_sent_as_captured() {
        if !have_root("replay of odd frames over a veth") {
            return;
        }
        let link = Link::new();
        let Some(tcpdump) = link.sniff() else { return };
        let (_, frames) = file_frames("odd-frames.pcap");
        let out = link.replay(&[capture("odd-frames.pcap").to_str().unwrap(), "--top-speed"]);
        assert!(out.status.success(), "{}", stderr(&out));
        // Frame 1 is 10 bytes, no whole Ethernet header: skipped. Two others were cut by the snap length.
        let sendable: Vec<Vec<u8>> = frames.into_iter().filter(|f| f.len() >= 14).collect();
        assert_eq!(report(&out), (sendable.len() as u64, 0, 1, 2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("skipped 1 frame; the first: frame 1: 10 bytes, shorter than an Ethernet header")
        );
        let got = tcpdump.stop_at(sendable.len());
        assert_same_frames(&got, &sendable);
    }

    #[test]
    fn loops_repeat_the_file_and_count_cuts_them_short() {
        if !have_root("replay --loop --count over a veth") {
            return;
        }
        let link = Link::new();
        let Some(tcpdump) = link.sniff() else { return };
        let (_, frames) = file_frames("seed-session.pcap");
        let file = capture("seed-session.pcap");
        let out = link.replay(&[file.to_str().unwrap(), "--loop", "3", "--count", "40", "--pps", "2000"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(report(&out), (40, 0, 0, 0), "{}", stderr(&out));
        let want: Vec<Vec<u8>> = frames.iter().cycle().take(40).cloned().collect();
        let got = tcpdump.stop_at(want.len());
        assert_same_frames(&got, &want);
    }
}

mod stopping {
    use super::*;

    #[test]
    fn sigterm_stops_with_the_report() {
        if !have_root("replay interrupted by SIGTERM") {
            return;
        }
        let link = Link::new();
        let Some(tcpdump) = link.sniff() else { return };
        // Recorded timing: the SYN and its retransmissions 1, 2, 4 and 8 s apart, so the replay is still waiting
        // when the first frame has arrived.
        let mut command = link.netns.command(BIN);
        command.arg("replay").arg(capture("syn-unanswered.pcap")).args(["-i", &link.a]);
        let replay = Running::spawn(command);
        let got = tcpdump.stop_at(1);
        let (code, _, err) = replay.terminate();
        assert_eq!(code, Some(0), "{err}");
        let line = err.lines().find(|l| l.starts_with("synscope: replayed ")).unwrap_or_else(|| panic!("{err}"));
        assert!(line.ends_with("; interrupted"), "{line}");
        let sent: usize = line["synscope: replayed ".len()..].split(' ').next().unwrap().parse().unwrap();
        assert!(sent >= got.len() && sent < 5, "{line}, and tcpdump saw {}", got.len());
    }

    #[test]
    fn a_damaged_file_stops_with_one_line_after_reporting_what_was_sent() {
        if !have_root("replay of a damaged file") {
            return;
        }
        // seed-session.pcap cut 20 bytes into its 10th record.
        let whole = std::fs::read(capture("seed-session.pcap")).unwrap();
        let mut offset = 24;
        for _ in 0..9 {
            let len = u32::from_le_bytes(whole[offset + 8..offset + 12].try_into().unwrap()) as usize;
            offset += 16 + len;
        }
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.pcap");
        std::fs::write(&cut, &whole[..offset + 20]).unwrap();

        let netns = Netns::new("rp");
        let out = netns.command(BIN).arg("replay").arg(&cut).args(["-i", "lo", "--top-speed"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(report(&out), (9, 0, 0, 0));
        let err = stderr(&out);
        let last = err.lines().last().unwrap();
        assert!(
            last.contains(&format!("cut.pcap: record 10 at byte offset {offset}: file ends inside a record")),
            "{err}"
        );
        assert_eq!(err.lines().count(), 2, "{err}");
    }
}

mod safety_rule {
    use super::*;

    #[test]
    fn an_interface_of_the_initial_namespace_is_refused() {
        if !have_root("replay refused outside loopback") {
            return;
        }
        match synscope::safety::in_initial_netns() {
            Ok(true) => {}
            other => {
                eprintln!("SKIPPED: these tests do not run in the initial network namespace ({other:?})");
                return;
            }
        }
        let veth = HostVeth::new();
        let before = veth.tx_packets();
        let out = synscope(["replay", capture("refused.pcap").to_str().unwrap(), "-i", &veth.a, "--top-speed"]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("synscope: refusing to send on {}: ", veth.a)), "{err}");
        assert!(err.contains("loopback") && err.contains("ip netns exec NAME"), "{err}");
        assert_eq!(veth.tx_packets(), before);
    }

    #[test]
    fn loopback_of_the_initial_namespace_is_accepted() {
        if !have_root("replay onto lo") {
            return;
        }
        // Only the replayed conversation, in case something else talks on this host's loopback meanwhile.
        let filter = ["host", "192.0.2.10", "and", "host", "192.0.2.20"];
        let Some(tcpdump) = Tcpdump::start(None, "lo", &filter) else { return };
        let (_, want) = file_frames("refused.pcap");
        let out = synscope(["replay", capture("refused.pcap").to_str().unwrap(), "-i", "lo", "--top-speed"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(report(&out), (2, 0, 0, 0));
        assert!(stderr(&out).contains(" on lo in "), "{}", stderr(&out));
        // libpcap hides the outgoing copy on loopback, so each frame shows up once, as it comes back in.
        let got = tcpdump.stop_when(|got| want.iter().all(|w| got.contains(w)));
        let ours: Vec<Vec<u8>> = got.into_iter().filter(|g| want.contains(g)).collect();
        assert_same_frames(&ours, &want);
    }
}

mod initial_loopback {
    use super::*;

    #[test]
    fn frames_the_host_would_route_elsewhere_are_skipped() {
        if !have_root("replay onto lo of frames addressed to the host") {
            return;
        }
        if !matches!(synscope::safety::in_initial_netns(), Ok(true)) {
            eprintln!("SKIPPED: these tests do not run in the initial network namespace");
            return;
        }
        // Raw IP gets zero MAC addresses, lo's own: the host would take these frames for itself and, with
        // forwarding on, route 192.0.2.20 out of a real interface.
        let out = synscope(["replay", capture("link-raw.pcap").to_str().unwrap(), "-i", "lo", "--top-speed"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(report(&out), (0, 0, 19, 0), "{}", stderr(&out));
        assert!(stderr(&out).contains("may route 192.0.2.20 to a real network"), "{}", stderr(&out));
    }
}

/// Errors found before any socket is opened: they need no privileges.
mod errors {
    use super::*;

    fn one_line(out: &Output) -> String {
        let err = stderr(out);
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    }

    #[test]
    fn an_unknown_interface_lists_the_ones_that_exist() {
        let out = synscope(["replay", capture("refused.pcap").to_str().unwrap(), "-i", "nosuch0"]);
        assert_eq!(out.status.code(), Some(1));
        let err = one_line(&out);
        assert!(err.contains("no interface named 'nosuch0'") && err.contains("the ones that exist: lo"), "{err}");
    }

    #[test]
    fn a_duration_over_300s_is_a_usage_error() {
        let out = synscope(["replay", capture("refused.pcap").to_str().unwrap(), "-i", "lo", "--duration", "301s"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(one_line(&out).contains("--duration is at most 300s (got 301s)"));
    }

    #[test]
    fn a_bad_speed_or_looping_stdin_is_a_usage_error() {
        let out = synscope(["replay", capture("refused.pcap").to_str().unwrap(), "-i", "lo", "--speed", "0"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(one_line(&out).contains("--speed must be a number above 0"));
        let out = synscope(["replay", "-", "-i", "lo", "--loop", "2"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(one_line(&out).contains("standard input can be read only once"));
    }

    #[test]
    fn a_missing_file_is_one_line() {
        let out = synscope(["replay", "no-such-file.pcap", "-i", "lo"]);
        assert_eq!(out.status.code(), Some(1));
        let err = one_line(&out);
        assert!(err.starts_with("synscope: no-such-file.pcap: cannot open: "), "{err}");
    }

    #[test]
    fn without_cap_net_raw_the_error_says_how_to_grant_it() {
        // As root, drop CAP_NET_RAW from the bounding set for the child; otherwise we lack it already.
        let mut command = if have_root_quietly() {
            let mut c = Command::new("setpriv");
            c.args(["--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--", BIN]);
            c
        } else {
            Command::new(BIN)
        };
        let out = match command.args(["replay"]).arg(capture("refused.pcap")).args(["-i", "lo"]).output() {
            Ok(out) => out,
            Err(e) => {
                eprintln!("SKIPPED: setpriv is not available ({e})");
                return;
            }
        };
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = one_line(&out);
        assert!(err.contains("CAP_NET_RAW") && err.contains("setcap cap_net_raw+ep"), "{err}");
    }

    fn have_root_quietly() -> bool {
        // SAFETY: geteuid(2) reads a process attribute and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
}
