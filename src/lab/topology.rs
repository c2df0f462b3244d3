//! The lab's namespaces (DESIGN.md, "The lab"): client ── gateway ── server, joined by veths on one subnet so the
//! gateway can be a bump in the wire (the guard) or a plain kernel bridge. Names are unique per run and share a
//! prefix, so `synscope lab --cleanup` can find leftovers of a run that was killed. Dropping a [`Topology`] deletes
//! its namespaces; the veths and processes inside go with them.

use std::net::SocketAddr;
use std::process::{Command, Output};

use anyhow::{Context, bail};

/// Every lab namespace starts with this.
pub const PREFIX: &str = "synlab-";
pub const CLIENT_IP: &str = "10.77.0.1";
pub const SERVER_IP: &str = "10.77.0.2";
pub const PORT: u16 = 9999;
/// The upstream router the spoofed SYNs come through, as a real server sees them: an address on the subnet that no
/// interface has, and a locally administered MAC no interface has. The server's default route points at it (a
/// permanent neighbour entry, so no ARP), and our flood sends from its MAC, so the guard's answers go to it too.
/// Those frames still cross every veth to the client namespace, which discards them at the link layer
/// (`PACKET_OTHERHOST`, ip_rcv_core), as the Internet would swallow them. Without it, every SYN-ACK to a spoofed
/// source went up the client's IP stack to a route lookup that allocates and frees a dst for the drop: a cost of
/// the single-host lab, charged to whichever CPU sent the SYN-ACK, that no real defender pays.
pub const UPSTREAM_IP: &str = "10.77.0.254";
pub const UPSTREAM_MAC: &str = "02:00:00:5b:f0:fe";
/// A sink for comparing generators (`generators.rs`): a veth pair of its own inside the client namespace, on a
/// subnet of its own. The neighbour entry for this address names a MAC no interface has, so frames sent to it
/// arrive on the pair's far end and are discarded there at the link layer (`PACKET_OTHERHOST`), as cheaply as a
/// receiver can: what is measured is the generator.
pub const SINK_IP: &str = "10.79.0.2";
const SINK_LOCAL: &str = "10.79.0.1/24";
pub const SINK_MAC: &str = "02:00:00:5b:f0:fd";
/// The server's MAC, fixed so a flood over IPv6 can name it (`flood --dest-mac`: synscope reads no IPv6 neighbour
/// table). The gateway is a bump in the wire, so the server is the next hop.
pub const SERVER_MAC: &str = "02:00:00:5b:f0:02";

/// IPv6 twins of the addresses above (`lab --ipv6`), in a unique local /64 (RFC 4193).
pub const CLIENT_IP6: &str = "fd00:77::1";
pub const SERVER_IP6: &str = "fd00:77::2";
pub const UPSTREAM_IP6: &str = "fd00:77::fe";

/// The address family every trial of a run speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    V4,
    V6,
}

impl Family {
    /// 4 or 6, as results.json records it.
    pub fn version(self) -> u8 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }

    pub fn server_ip(self) -> &'static str {
        match self {
            Family::V4 => SERVER_IP,
            Family::V6 => SERVER_IP6,
        }
    }

    /// `10.77.0.2:9999` or `[fd00:77::2]:9999`.
    pub fn server(self, port: u16) -> String {
        match self {
            Family::V4 => format!("{SERVER_IP}:{port}"),
            Family::V6 => format!("[{SERVER_IP6}]:{port}"),
        }
    }
}

/// IPv6 off: no chatter on the links (router solicitations, DAD, MLD) to muddy the counts.
const NO_IPV6: [&str; 2] = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"];
/// IPv6 on (`lab --ipv6`, client and server only: the gateway bridges frames and needs no address), and as quiet as
/// it goes: no router advertisements taken or solicited, no duplicate address detection for the link-local
/// addresses (the lab's own are added `nodad`). What is left is neighbour discovery between client and server.
const QUIET_IPV6: [&str; 10] = [
    "net.ipv6.conf.all.disable_ipv6=0",
    "net.ipv6.conf.default.disable_ipv6=0",
    "net.ipv6.conf.all.accept_ra=0",
    "net.ipv6.conf.default.accept_ra=0",
    "net.ipv6.conf.all.router_solicitations=0",
    "net.ipv6.conf.default.router_solicitations=0",
    "net.ipv6.conf.all.dad_transmits=0",
    "net.ipv6.conf.default.dad_transmits=0",
    "net.ipv6.conf.all.autoconf=0",
    "net.ipv6.conf.default.autoconf=0",
];

/// Present from Linux 6.5 on; per namespace.
const SYN_LINEAR_TIMEOUTS: &str = "/proc/sys/net/ipv4/tcp_syn_linear_timeouts";

pub struct Topology {
    pub client: String,
    pub gateway: String,
    pub server: String,
    pub client_if: String,
    pub server_if: String,
    pub outside: String,
    pub inside: String,
    pub bridge: String,
    /// The generators' sink pair in the client namespace: the end they send on, and the end that counts.
    pub sink_tx: String,
    pub sink_rx: String,
    pub family: Family,
}

/// Runs `ip ARGS`, failing with its stderr.
pub fn ip(args: &[&str]) -> anyhow::Result<Output> {
    let out = Command::new("ip").args(args).output().context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out)
}

/// Runs a program inside a namespace, failing with its stderr.
pub fn exec(netns: &str, args: &[&str]) -> anyhow::Result<Output> {
    let mut full = vec!["netns", "exec", netns];
    full.extend_from_slice(args);
    ip(&full)
}

impl Topology {
    /// Builds the three namespaces for this process, their addresses in `family` (and IPv4's always, for the
    /// generators' sink). Half-built ones are removed if a step fails.
    pub fn create(family: Family) -> anyhow::Result<Topology> {
        let id = std::process::id();
        let topology = Topology {
            client: format!("{PREFIX}{id}-client"),
            gateway: format!("{PREFIX}{id}-gateway"),
            server: format!("{PREFIX}{id}-server"),
            // Interface names are at most 15 bytes.
            client_if: format!("sl{id}c"),
            server_if: format!("sl{id}s"),
            outside: format!("sl{id}o"),
            inside: format!("sl{id}i"),
            bridge: format!("sl{id}b"),
            sink_tx: format!("sl{id}x"),
            sink_rx: format!("sl{id}y"),
            family,
        };
        topology.build()?;
        Ok(topology)
    }

    fn build(&self) -> anyhow::Result<()> {
        for ns in [&self.client, &self.gateway, &self.server] {
            ip(&["netns", "add", ns])?;
            exec(ns, &["ip", "link", "set", "lo", "up"])?;
            // Set before the veths exist, so their `default` settings apply to them.
            let ipv6 = self.family == Family::V6 && ns != &self.gateway;
            exec(ns, &[&["sysctl", "-qw"][..], if ipv6 { &QUIET_IPV6[..] } else { &NO_IPV6[..] }].concat())?;
        }
        // Each pair is made with both ends already in their namespaces: nothing is ever left in the host's.
        for (ns, end, peer) in
            [(&self.client, &self.client_if, &self.outside), (&self.server, &self.server_if, &self.inside)]
        {
            ip(&["-n", ns, "link", "add", end, "type", "veth", "peer", "name", peer, "netns", &self.gateway])?;
        }
        ip(&["-n", &self.client, "addr", "add", &format!("{CLIENT_IP}/24"), "dev", &self.client_if])?;
        ip(&["-n", &self.server, "addr", "add", &format!("{SERVER_IP}/24"), "dev", &self.server_if])?;
        ip(&["-n", &self.server, "link", "set", &self.server_if, "address", SERVER_MAC])?;
        if self.family == Family::V6 {
            // No duplicate address detection: nothing else is on the link, and a tentative address refuses binds.
            ip(&["-n", &self.client, "addr", "add", &format!("{CLIENT_IP6}/64"), "dev", &self.client_if, "nodad"])?;
            ip(&["-n", &self.server, "addr", "add", &format!("{SERVER_IP6}/64"), "dev", &self.server_if, "nodad"])?;
        }
        // Every veth keeps its defaults (GSO, GRO, checksum offload): the guard forwards super-frames as they come.
        ip(&["-n", &self.client, "link", "set", &self.client_if, "up"])?;
        ip(&["-n", &self.server, "link", "set", &self.server_if, "up"])?;
        ip(&["-n", &self.gateway, "link", "set", &self.outside, "up"])?;
        ip(&["-n", &self.gateway, "link", "set", &self.inside, "up"])?;
        ip(&["-n", &self.gateway, "link", "add", &self.bridge, "type", "bridge"])?;
        ip(&["-n", &self.gateway, "link", "set", &self.bridge, "up"])?;
        // SYN-ACKs to spoofed sources go to the upstream router, whose frames reach the client namespace and die
        // there, as they would on the Internet (see UPSTREAM_IP). The client does not forward either.
        ip(&[
            "-n",
            &self.server,
            "neigh",
            "add",
            UPSTREAM_IP,
            "lladdr",
            UPSTREAM_MAC,
            "dev",
            &self.server_if,
            "nud",
            "permanent",
        ])?;
        ip(&["-n", &self.server, "route", "add", "default", "via", UPSTREAM_IP])?;
        if self.family == Family::V6 {
            let upstream = ["neigh", "add", UPSTREAM_IP6, "lladdr", UPSTREAM_MAC, "dev", &self.server_if];
            ip(&[&["-6", "-n", &self.server][..], &upstream[..], &["nud", "permanent"][..]].concat())?;
            ip(&["-6", "-n", &self.server, "route", "add", "default", "via", UPSTREAM_IP6])?;
            exec(&self.client, &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=0"])?;
        }
        // The generators' sink (see SINK_IP).
        ip(&["-n", &self.client, "link", "add", &self.sink_tx, "type", "veth", "peer", "name", &self.sink_rx])?;
        ip(&["-n", &self.client, "addr", "add", SINK_LOCAL, "dev", &self.sink_tx])?;
        for end in [&self.sink_tx, &self.sink_rx] {
            ip(&["-n", &self.client, "link", "set", end, "up"])?;
        }
        let sink_neighbour = ["neigh", "add", SINK_IP, "lladdr", SINK_MAC, "dev", &self.sink_tx, "nud", "permanent"];
        ip(&[&["-n", &self.client][..], &sink_neighbour[..]].concat())?;
        exec(&self.client, &["sysctl", "-qw", "net.ipv4.ip_forward=0"])?;
        // The legitimate clients retransmit their SYN as RFC 6298 says, at 1 s and 3 s (initial RTO 1 s, doubled),
        // the schedule the report's 1/3/7 s patience levels and the simulation assume. Linux 6.5 and later default
        // to four linear retries first (`tcp_syn_linear_timeouts=4`, commit ccce324dabfe: SYNs at 1, 2, 3, 4 and
        // 5 s, as macOS does), which would let a client through a full queue sooner than most deployed stacks do.
        if std::path::Path::new(SYN_LINEAR_TIMEOUTS).exists() {
            exec(&self.client, &["sysctl", "-qw", "net.ipv4.tcp_syn_linear_timeouts=0"])?;
        }
        // Trial hygiene: Linux admits clients it has TCP metrics for even with a full queue ("proven" peers).
        for ns in [&self.client, &self.server] {
            exec(ns, &["sysctl", "-qw", "net.ipv4.tcp_no_metrics_save=1"])?;
        }
        Ok(())
    }

    /// The gateway as a plain kernel bridge (scenarios without the guard).
    pub fn bridge_on(&self) -> anyhow::Result<()> {
        for port in [&self.outside, &self.inside] {
            ip(&["-n", &self.gateway, "link", "set", port, "master", &self.bridge])?;
        }
        Ok(())
    }

    /// The gateway's ports off the bridge: only a guard connects them.
    pub fn bridge_off(&self) -> anyhow::Result<()> {
        for port in [&self.outside, &self.inside] {
            ip(&["-n", &self.gateway, "link", "set", port, "nomaster"])?;
        }
        Ok(())
    }

    /// Forgets what the kernels learnt about each other between trials.
    pub fn flush_metrics(&self) {
        for ns in [&self.client, &self.server] {
            let _ = ip(&["-n", ns, "tcp_metrics", "flush", "all"]);
        }
    }

    pub fn server_addr(&self) -> SocketAddr {
        SocketAddr::new(self.family.server_ip().parse().expect("a valid address"), PORT)
    }

    /// Kills what runs inside and deletes the namespaces.
    pub fn destroy(&self) {
        for ns in [&self.client, &self.gateway, &self.server] {
            remove_namespace(ns);
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.destroy();
    }
}

fn remove_namespace(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill(2) on a process inside a namespace this lab made.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
}

/// Removes every namespace whose name starts with the lab's prefix (leftovers of a killed run); returns them.
pub fn cleanup_leftovers() -> anyhow::Result<Vec<String>> {
    let out = ip(&["netns", "list"])?;
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(PREFIX))
        .map(str::to_string)
        .collect();
    for name in &names {
        remove_namespace(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_names_the_server_as_a_socket_address() {
        assert_eq!(Family::V4.server(9999), "10.77.0.2:9999");
        assert_eq!(Family::V6.server(9999), "[fd00:77::2]:9999");
        for family in [Family::V4, Family::V6] {
            let addr: SocketAddr = family.server(10004).parse().unwrap();
            assert_eq!(addr.ip().to_string(), family.server_ip());
            assert_eq!(addr.is_ipv6(), family == Family::V6);
        }
        assert_eq!((Family::V4.version(), Family::V6.version()), (4, 6));
    }
}
