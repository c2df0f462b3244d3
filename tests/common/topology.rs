//! The lab's three namespaces for tests (DESIGN.md, "The lab"): client ── gateway ── server, joined by veths, on one
//! subnet, so the gateway can be a bump in the wire. The server's default route points back at the client side:
//! SYN-ACKs to spoofed sources leave the server and die in the client namespace, which does not forward. Dropping
//! the topology deletes the namespaces, and with them every veth and process inside.

use std::net::SocketAddr;

use super::netns::{Netns, run};

pub const CLIENT_IP: &str = "10.77.0.1";
pub const SERVER_IP: &str = "10.77.0.2";

/// A fourth namespace between the client and the gateway, whose two interfaces `synscope impair` bridges: a bad
/// link on the client's side, as `tc netem` on the client's interface would be on a kernel that has it.
pub struct Wan {
    pub netns: Netns,
    /// Towards the client, and towards the gateway.
    pub client_side: String,
    pub gateway_side: String,
}

pub struct Topology {
    pub client: Netns,
    pub gateway: Netns,
    pub server: Netns,
    /// The client's and the server's veth ends, and the gateway's two.
    pub client_if: String,
    pub server_if: String,
    pub outside: String,
    pub inside: String,
    pub wan: Option<Wan>,
}

impl Topology {
    /// Builds it. The gateway's interfaces carry no address and it does not forward: only a guard (or a bridge)
    /// connects the two sides. Every veth keeps the defaults users have: GSO, GRO, checksum offload, VLAN
    /// offload, MTU 1500, so TCP hands the links 64 KB super-frames with partial checksums.
    pub fn new(prefix: &str) -> Topology {
        Topology::build(prefix, false)
    }

    /// The same with a [`Wan`] namespace between the client and the gateway, its interfaces up and unbridged
    /// until `synscope impair` runs there.
    pub fn with_wan(prefix: &str) -> Topology {
        Topology::build(prefix, true)
    }

    fn build(prefix: &str, with_wan: bool) -> Topology {
        let client = Netns::new(&format!("{prefix}c"));
        let gateway = Netns::new(&format!("{prefix}g"));
        let server = Netns::new(&format!("{prefix}s"));
        let (client_if, outside) = (super::netns::unique_name("tc"), super::netns::unique_name("to"));
        let (server_if, inside) = (super::netns::unique_name("ts"), super::netns::unique_name("ti"));
        let veth = |a: &str, a_ns: &Netns, b: &str, b_ns: &Netns| {
            run("ip", &["link", "add", a, "netns", &a_ns.name, "type", "veth", "peer", "name", b, "netns", &b_ns.name]);
        };
        let wan = with_wan.then(|| {
            let wan = Wan {
                netns: Netns::new(&format!("{prefix}w")),
                client_side: super::netns::unique_name("tw"),
                gateway_side: super::netns::unique_name("tv"),
            };
            veth(&client_if, &client, &wan.client_side, &wan.netns);
            veth(&wan.gateway_side, &wan.netns, &outside, &gateway);
            for interface in [&wan.client_side, &wan.gateway_side] {
                wan.netns.exec_ok(&["ip", "link", "set", interface, "up"]);
            }
            wan
        });
        if wan.is_none() {
            veth(&client_if, &client, &outside, &gateway);
        }
        veth(&server_if, &server, &inside, &gateway);
        client.exec_ok(&["ip", "addr", "add", &format!("{CLIENT_IP}/24"), "dev", &client_if]);
        server.exec_ok(&["ip", "addr", "add", &format!("{SERVER_IP}/24"), "dev", &server_if]);
        for (ns, interface) in [(&client, &client_if), (&server, &server_if)] {
            ns.exec_ok(&["ip", "link", "set", interface, "up"]);
        }
        for interface in [&outside, &inside] {
            gateway.exec_ok(&["ip", "link", "set", interface, "up"]);
        }
        server.exec_ok(&["ip", "route", "add", "default", "via", CLIENT_IP]);
        Topology { client, gateway, server, client_if, server_if, outside, inside, wan }
    }

    pub fn server_addr(&self, port: u16) -> SocketAddr {
        format!("{SERVER_IP}:{port}").parse().expect("address")
    }

    /// The MAC address of an interface inside a namespace.
    pub fn mac(netns: &Netns, interface: &str) -> [u8; 6] {
        let out = netns.exec_ok(&["cat", &format!("/sys/class/net/{interface}/address")]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut mac = [0u8; 6];
        for (byte, part) in mac.iter_mut().zip(text.trim().split(':')) {
            *byte = u8::from_str_radix(part, 16).expect("hex");
        }
        mac
    }

    /// SYN-RECEIVED sockets of the server right now (`ss`, as the issue asks).
    pub fn syn_recv(&self) -> usize {
        let out = self.server.exec_ok(&["ss", "-Htn", "state", "syn-recv"]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}
