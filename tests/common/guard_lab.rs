//! The guard's test lab, shared by the guard's integration tests: the three namespaces with the echo listener in
//! the server namespace and `synscope guard` in the gateway, a bounded crafted flood to replay from the client
//! namespace, and a sampler of the listener's SYN-RECEIVED count.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use synscope::capture::writer::PcapFileWriter;
use synscope::capture::{Frame, Precision};
use synscope::rng::XorShift;
use synscope::time::Timestamp;
use synscope::wire::LinkType;
use synscope::wire::craft::{EthernetSpec, IpSpec, TcpSpec, tcp_frame};
use synscope::wire::segment::TcpFlags;

use super::process::Running;
use super::stderr;
use super::topology::{SERVER_IP, Topology};

pub const BIN: &str = env!("CARGO_BIN_EXE_synscope");
pub const PORT: u16 = 9999;
/// What the seed's client and ours print for the tutorial's exchange.
pub const TRANSCRIPT: &str = "Welcome!\nHello, Lambda!\nHello, Bond!\nHello, alpha!\n";

/// The topology with the listener in the server namespace and the guard in the gateway.
pub struct Lab {
    pub topology: Topology,
    _listener: Running,
    /// The guard while it runs; a test may take it to kill it.
    pub guard: Option<Running>,
}

impl Lab {
    pub fn start(mode: &str, extra: &[&str]) -> Lab {
        let topology = Topology::new("gd");
        let mut listener = Running::spawn({
            let mut command = topology.server.command(BIN);
            command.args(["listen", "--tcp", &format!("{SERVER_IP}:{PORT}"), "--backlog", "128"]);
            command
        });
        listener.wait_for_stdout("Waiting for connection");
        let guard = spawn_guard(&topology, mode, extra);
        Lab { topology, _listener: listener, guard: Some(guard) }
    }

    /// Starts a new guard in place of one that stopped or was killed.
    pub fn restart_guard(&mut self, mode: &str, extra: &[&str]) {
        assert!(self.guard.is_none(), "a guard is still running");
        self.guard = Some(spawn_guard(&self.topology, mode, extra));
    }

    /// `synscope connect` from the client namespace; returns its stdout.
    pub fn connect(&self) -> String {
        let out = self
            .topology
            .client
            .command(BIN)
            .args(["connect", &format!("{SERVER_IP}:{PORT}"), "--timeout", "5s"])
            .output()
            .expect("running connect");
        assert!(out.status.success(), "connect failed: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The seed's own `tcp_client.py` from the client namespace, checked to print the transcript; `false` when the
    /// seed's programs are not there to run.
    pub fn run_seed_client(&self, what: &str) -> bool {
        let Some(client) = super::seed::seed_program("tcp_client.py") else { return false };
        let out = self
            .topology
            .client
            .command("python3")
            .arg(&client)
            .args([SERVER_IP, &PORT.to_string()])
            .output()
            .expect("running tcp_client.py");
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), TRANSCRIPT, "the seed's client, {what}");
        true
    }

    /// Stops the guard and returns its final JSON statistics.
    pub fn stop_guard(&mut self) -> serde_json::Value {
        let (code, out, err) = self.guard.take().expect("guard running").terminate();
        assert_eq!(code, Some(0), "guard failed: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("guard stats are not JSON ({e}): {out}"))
    }
}

/// `synscope guard` in the gateway, between its two interfaces, once it says it is guarding.
fn spawn_guard(topology: &Topology, mode: &str, extra: &[&str]) -> Running {
    let mut guard = Running::spawn(guard_command(topology, mode, extra));
    guard.wait_for_stderr("guarding");
    guard
}

/// The command line of `synscope guard -q` in the gateway between its two interfaces, protecting the listener.
pub fn guard_command(topology: &Topology, mode: &str, extra: &[&str]) -> std::process::Command {
    let mut command = topology.gateway.command(BIN);
    command.args(["guard", "-q", "--outside", &topology.outside, "--inside", &topology.inside]);
    command.args(["--protect", &format!("{SERVER_IP}:{PORT}"), "--mode", mode]).args(extra);
    command
}

/// A bounded flood: `syns` spoofed SYNs from random sources in 198.18.0.0/15 (RFC 2544's benchmarking range) and
/// `acks` spoofed ACKs with random numbers, all at the listener, written as a pcap for `synscope replay`.
pub fn flood_pcap(path: &Path, topology: &Topology, syns: usize, acks: usize) {
    let src_mac = Topology::mac(&topology.client, &topology.client_if);
    let dst_mac = Topology::mac(&topology.server, &topology.server_if);
    let mut writer = PcapFileWriter::create(path.to_str().unwrap(), Precision::Micro).unwrap();
    let mut rng = XorShift::new(0x5eed);
    let mut frame = Vec::new();
    for i in 0..syns + acks {
        let source =
            std::net::Ipv4Addr::new(198, 18 + (rng.next_u32() & 1) as u8, rng.next_u32() as u8, 1 + (i % 250) as u8);
        let flags = if i < syns { TcpFlags::SYN } else { TcpFlags::ACK };
        frame.clear();
        tcp_frame(
            &mut frame,
            Some(&EthernetSpec { src: src_mac, dst: dst_mac, vlans: &[] }),
            &IpSpec { src: source.into(), dst: SERVER_IP.parse().unwrap(), ttl: 64, id: i as u16 },
            &TcpSpec {
                src_port: 1024 + (rng.next_u32() % 60000) as u16,
                dst_port: PORT,
                seq: rng.next_u32(),
                ack: if flags == TcpFlags::ACK { rng.next_u32() } else { 0 },
                flags: TcpFlags(flags),
                window: 64240,
                options: &[2, 4, 5, 180],
                payload: b"",
            },
        )
        .unwrap();
        let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i as u64 * 1000);
        writer.write(&Frame::whole(ts, LinkType::Ethernet, &frame)).unwrap();
    }
    writer.finish().unwrap();
}

/// Samples the listener's SYN-RECV count while `during` runs; returns the highest seen.
pub fn peak_syn_recv(topology: &Topology, during: impl FnOnce()) -> usize {
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        let (done_flag, peak_seen) = (Arc::clone(&done), Arc::clone(&peak));
        scope.spawn(move || {
            while !done_flag.load(Ordering::Relaxed) {
                peak_seen.fetch_max(topology.syn_recv(), Ordering::Relaxed);
            }
            peak_seen.fetch_max(topology.syn_recv(), Ordering::Relaxed);
        });
        during();
        std::thread::sleep(Duration::from_millis(300));
        done.store(true, Ordering::Relaxed);
    });
    peak.load(Ordering::Relaxed)
}

pub fn replay(topology: &Topology, pcap: &Path) {
    let out = topology
        .client
        .command(BIN)
        .args(["replay", "--top-speed", "-i", &topology.client_if])
        .arg(pcap)
        .output()
        .expect("running replay");
    assert!(out.status.success(), "replay failed: {}", stderr(&out));
}
