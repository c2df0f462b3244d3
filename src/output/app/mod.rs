//! What tcpdump prints of a TCP or UDP payload, for the application protocols it decodes by port and synscope
//! follows: DNS (RFC 1035), HTTP, RTSP, FTP, SMTP, WHOIS and the SSH version line. tcpdump picks a printer by the
//! first port in its list that either end uses (print-tcp.c, print-udp.c); the ports of printers synscope does not
//! have are in that list too, so a segment between, say, SSH's port and HTTP's is left as SSH's, unprinted, instead
//! of being shown as HTTP where tcpdump would not.

pub mod dns;
pub mod text_proto;

use text_proto::TextProtocol;

/// An application payload: the bytes captured of it, and its length as the IP and transport headers announce it
/// (which the capture may have cut short).
#[derive(Clone, Copy, Debug)]
pub struct Payload<'a> {
    pub bytes: &'a [u8],
    pub len: u32,
}

impl<'a> Payload<'a> {
    /// `bytes` no longer than `len`: what lies past the announced length (Ethernet padding) is not the payload's.
    pub fn new(bytes: &'a [u8], len: u32) -> Self {
        let bytes = &bytes[..bytes.len().min(len as usize)];
        Payload { bytes, len }
    }
}

/// What tcpdump does with a port's payload.
#[derive(Clone, Copy)]
enum TcpPrinter {
    /// A printer of tcpdump's that synscope does not have: nothing is written, but no later port is tried.
    Unprinted,
    Text(TextProtocol),
    Ssh,
    Dns,
}

/// print-tcp.c's ports, in the order it tries them (either end's port matches), up to DNS's: nothing after it is
/// printed here.
const TCP_PRINTERS: [(u16, TcpPrinter); 18] = [
    (23, TcpPrinter::Unprinted), // Telnet
    (25, TcpPrinter::Text(TextProtocol::Smtp)),
    (43, TcpPrinter::Text(TextProtocol::Whois)),
    (179, TcpPrinter::Unprinted),  // BGP
    (1723, TcpPrinter::Unprinted), // PPTP
    (6379, TcpPrinter::Unprinted), // Redis
    (22, TcpPrinter::Ssh),
    (139, TcpPrinter::Unprinted),   // NetBIOS session
    (445, TcpPrinter::Unprinted),   // SMB
    (10288, TcpPrinter::Unprinted), // BEEP
    (6633, TcpPrinter::Unprinted),  // OpenFlow, old port
    (6653, TcpPrinter::Unprinted),  // OpenFlow, IANA's
    (21, TcpPrinter::Text(TextProtocol::Ftp)),
    (80, TcpPrinter::Text(TextProtocol::Http)),
    (8080, TcpPrinter::Text(TextProtocol::Http)),
    (554, TcpPrinter::Text(TextProtocol::Rtsp)),
    (8554, TcpPrinter::Text(TextProtocol::Rtsp)),
    (53, TcpPrinter::Dns),
];

/// print-tcp.c's dispatch by port, for a segment with a payload. Writes nothing for ports of printers synscope
/// does not have, and for ports of none.
pub fn write_tcp_payload(line: &mut String, sport: u16, dport: u16, payload: Payload<'_>) {
    if !has_printer(sport) && !has_printer(dport) {
        return;
    }
    let Some(&(_, printer)) = TCP_PRINTERS.iter().find(|(port, _)| sport == *port || dport == *port) else {
        return;
    };
    match printer {
        TcpPrinter::Unprinted => {}
        TcpPrinter::Text(protocol) => text_proto::write(line, protocol, payload),
        TcpPrinter::Ssh => text_proto::write_ssh(line, payload),
        TcpPrinter::Dns => dns::write(line, payload, dns::Transport::Tcp),
    }
}

/// Every port in [`TCP_PRINTERS`], one bit each: nearly every segment uses none, and two bit tests answer that
/// for ~6 instructions where the walk of the table costs ~40 (text output's hot path).
static TCP_PRINTER_PORTS: [u64; 1024] = {
    let mut bits = [0u64; 1024];
    let mut i = 0;
    while i < TCP_PRINTERS.len() {
        let port = TCP_PRINTERS[i].0 as usize;
        bits[port / 64] |= 1 << (port % 64);
        i += 1;
    }
    bits
};

fn has_printer(port: u16) -> bool {
    TCP_PRINTER_PORTS[usize::from(port) / 64] & (1 << (port % 64)) != 0
}

/// print-udp.c's dispatch for DNS (port 53) and multicast DNS (5353), which come first in its list after Sun RPC's
/// NFS calls and replies. Returns whether it printed, in place of `UDP, length N`.
pub fn write_udp_payload(line: &mut String, sport: u16, dport: u16, payload: Payload<'_>) -> bool {
    if is_nfs_rpc(sport, dport, payload.bytes) {
        return false;
    }
    let either = |port: u16| sport == port || dport == port;
    if either(53) {
        dns::write(line, payload, dns::Transport::Udp);
    } else if either(5353) {
        dns::write(line, payload, dns::Transport::MulticastUdp);
    } else {
        return false;
    }
    true
}

/// udp_print's test for NFS over Sun RPC (RFC 5531), which it prints before any port's printer: a call to port
/// 2049 or a reply from it.
fn is_nfs_rpc(sport: u16, dport: u16, bytes: &[u8]) -> bool {
    const NFS: u16 = 2049;
    let Some(direction) = bytes.get(4..8) else { return false };
    let direction = u32::from_be_bytes([direction[0], direction[1], direction[2], direction[3]]);
    (dport == NFS && direction == 0) || (sport == NFS && direction == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(sport: u16, dport: u16, bytes: &[u8]) -> String {
        let mut line = String::new();
        write_tcp_payload(&mut line, sport, dport, Payload::new(bytes, bytes.len() as u32));
        line
    }

    #[test]
    fn tcp_ports_pick_the_printer_tcpdump_picks() {
        let get = b"GET / HTTP/1.1\r\n";
        assert_eq!(tcp(40000, 80, get), ": HTTP: GET / HTTP/1.1");
        assert_eq!(tcp(8080, 40000, get), ": HTTP: GET / HTTP/1.1");
        // SSH's port comes before HTTP's in tcpdump's list: not shown as HTTP.
        assert_eq!(tcp(22, 80, get), "");
        // So do Telnet's and BGP's, which synscope does not print.
        assert_eq!(tcp(23, 80, get), "");
        assert_eq!(tcp(179, 80, get), "");
        // FTP comes before HTTP, HTTP before DNS.
        assert_eq!(tcp(21, 80, b"220 ready\r\n"), ": FTP: 220 ready");
        assert_eq!(tcp(80, 53, get), ": HTTP: GET / HTTP/1.1");
        assert_eq!(tcp(40000, 9999, get), "");
    }

    #[test]
    fn padding_past_the_announced_length_is_not_payload() {
        let payload = Payload::new(b"GET / HTTP/1.1\r\n\0\0\0", 16);
        assert_eq!(payload.bytes.len(), 16);
    }

    #[test]
    fn nfs_rpc_comes_before_dns() {
        let call = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut line = String::new();
        assert!(!write_udp_payload(&mut line, 53, 2049, Payload::new(&call, 12)));
        assert!(write_udp_payload(&mut line, 2049, 53, Payload::new(&call, 12)), "a call from 2049 is not NFS's");
    }

    proptest::proptest! {
        /// Any bytes, with any announced length, on every port with a printer: a line, never a panic, and the
        /// line stays on one line.
        #[test]
        fn any_payload_prints_one_line(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            extra in 0u32..64,
            port_index in 0usize..TCP_PRINTERS.len(),
        ) {
            let port = TCP_PRINTERS[port_index].0;
            for len in [bytes.len() as u32, bytes.len() as u32 + extra] {
                let payload = Payload::new(&bytes, len);
                let mut line = String::new();
                write_tcp_payload(&mut line, 40000, port, payload);
                write_udp_payload(&mut line, port, 40000, payload);
                write_udp_payload(&mut line, 5353, 5353, payload);
                proptest::prop_assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
            }
        }
    }
}
