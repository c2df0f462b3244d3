//! Zeek's "likely server ports" heuristic: when a connection starts without a SYN, the side whose port looks like
//! a service is taken as the responder (Zeek's TCP analyzer, WantConnection; its `likely_server_ports` set is
//! filled by the analyzers the default scripts load for their well-known ports). UDP has a rule and a list of its
//! own ([`flip_udp`]).

/// The TCP ports in Zeek's `likely_server_ports` with its default scripts, sorted: the `server_ports` its
/// analyzers register (`Analyzer::register_for_ports`, scripts/base/frameworks/analyzer/main.zeek) in the protocol
/// scripts scripts/base/init-default.zeek loads (zeek/zeek at a13de64, August 2026), each from that protocol's
/// main.zeek:
///
/// - dce-rpc 135; dnp3 20000; dns 53; finger 79; ftp 21, 2811; http 80, 81, 631, 1080, 3128, 8000, 8080, 8888;
///   imap 143; irc 6666-6669; krb 88; ldap 389, 3268; modbus 502; mqtt 1883; mysql 1434, 3306; postgresql 5432;
///   rdp 3389; redis 6379; smb 139, 445; smtp 25, 587; socks 1080; ssh 22; syslog 514; xmpp 5222, 5269;
/// - ssl: 443, 465, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223.
///
/// Not telnet's 23, POP3's 110 or VNC's 5900: the default scripts register no analyzer on them (POP3 and RFB are
/// found by content signatures).
const LIKELY_SERVER_PORTS: [u16; 49] = [
    21, 22, 25, 53, 79, 80, 81, 88, 135, 139, 143, 389, 443, 445, 465, 502, 514, 563, 585, 587, 614, 631, 636, 989,
    990, 992, 993, 995, 1080, 1434, 1883, 2811, 3128, 3268, 3306, 3389, 5222, 5223, 5269, 5432, 6379, 6666, 6667, 6668,
    6669, 8000, 8080, 8888, 20000,
];

pub fn is_likely_server_port(port: u16) -> bool {
    LIKELY_SERVER_PORTS.binary_search(&port).is_ok()
}

/// The UDP ports in Zeek's `likely_server_ports` with its default scripts, sorted. Zeek keys the set by port *and*
/// protocol (53/udp is not 53/tcp), and fills it only from the `server_ports` argument of
/// `Analyzer::register_for_ports` and `PacketAnalyzer::register_for_ports`
/// (scripts/base/frameworks/analyzer/main.zeek, scripts/base/packet-protocols/main.zeek), as the scripts that
/// scripts/base/init-default.zeek and base/packet-protocols load call them (zeek/zeek at a13de64, August 2026):
///
/// - scripts/base/protocols/dhcp/main.zeek: `server_ports` 67 and 4011. 68 is registered as a *client* port
///   (`non_server_ports`), so it is not in the set.
/// - dns/main.zeek: 53, 137 (NetBIOS name service), 5353 (mDNS), 5355 (LLMNR).
/// - dnp3/main.zeek: 20000 (its one set holds 20000/tcp and 20000/udp).
/// - krb/main.zeek: 88. ldap/main.zeek: 389. ntp/main.zeek: 123. radius/main.zeek: 1812. rdp/main.zeek: 3389
///   (RDPEUDP). sip/main.zeek: 5060. snmp/main.zeek: 161, 162. syslog/main.zeek: 514.
/// - quic/main.zeek and ssl/main.zeek (DTLS): 443. DNS over QUIC (853, 784) is registered as non-server on purpose.
/// - scripts/base/packet-protocols: ayiya 5072, geneve 6081, gre 4754, gtpv1 2123 and 2152, teredo 3544,
///   vxlan 4789.
const LIKELY_UDP_SERVER_PORTS: [u16; 24] = [
    53, 67, 88, 123, 137, 161, 162, 389, 443, 514, 1812, 2123, 2152, 3389, 3544, 4011, 4754, 4789, 5060, 5072, 5353,
    5355, 6081, 20000,
];

/// Whether a connection first seen with a packet from `src_port` to `dst_port` (no SYN) should have its roles
/// flipped: yes when only the source looks like a server; when both do, only if the source port is the lower
/// (Zeek's TCP analyzer, src/packet_analysis/protocol/tcp/TCP.cc, `WantConnection`).
pub fn flip_mid_stream(src_port: u16, dst_port: u16) -> bool {
    match (is_likely_server_port(src_port), is_likely_server_port(dst_port)) {
        (true, false) => true,
        (true, true) => src_port < dst_port,
        _ => false,
    }
}

/// Whether a UDP flow whose first datagram goes from `src_port` to `dst_port` should have its roles flipped, as
/// Zeek's UDP analyzer decides (src/packet_analysis/protocol/udp/UDP.cc, `WantConnection`): only when the source
/// port is a likely server port and the destination port is not. When both are, the sender stays the originator
/// (no port comparison, unlike TCP). Zeek also never flips a datagram sent to the IPv4 broadcast address
/// 255.255.255.255 (`NewConn` in src/packet_analysis/protocol/ip/IPBasedAnalyzer.cc): `to_broadcast`.
pub fn flip_udp(src_port: u16, dst_port: u16, to_broadcast: bool) -> bool {
    let likely = |port| LIKELY_UDP_SERVER_PORTS.binary_search(&port).is_ok();
    likely(src_port) && !likely(dst_port) && !to_broadcast
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tcp_list_is_zeeks() {
        assert!(LIKELY_SERVER_PORTS.is_sorted(), "binary search needs the list sorted");
        for server in [21, 22, 25, 53, 80, 443, 445, 993, 3306, 5432, 6379, 8080, 20000] {
            assert!(is_likely_server_port(server), "{server}");
        }
        // The default scripts register no analyzer on these ports.
        for other in [23, 110, 5900, 8443, 9999, 40000] {
            assert!(!is_likely_server_port(other), "{other}");
        }
    }

    #[test]
    fn a_web_server_answering_first_is_the_responder() {
        assert!(flip_mid_stream(80, 3363));
        assert!(!flip_mid_stream(3363, 80));
        assert!(!flip_mid_stream(40000, 9999));
        assert!(flip_mid_stream(53, 443), "both plausible: the lower port serves");
        assert!(!flip_mid_stream(443, 53));
    }

    #[test]
    fn udp_flips_from_a_server_port_to_a_client_port_only() {
        assert!(LIKELY_UDP_SERVER_PORTS.is_sorted(), "binary search needs the list sorted");
        for server in [53, 67, 123, 137, 161, 514, 5353, 5355] {
            assert!(flip_udp(server, 40000, false), "{server}");
            assert!(!flip_udp(40000, server, false), "{server}");
            assert!(!flip_udp(server, 40000, true), "{server} to broadcast");
        }
        // DHCP: 68 is registered as a client port, so the server's 67 -> 68 flips and the client's 68 -> 67 does not.
        assert!(flip_udp(67, 68, false));
        assert!(!flip_udp(68, 67, false));
        // Both likely servers (NTP peers, DNS server to server): the sender stays the originator.
        assert!(!flip_udp(123, 123, false));
        assert!(!flip_udp(53, 123, false));
        // TCP-only services are not UDP servers, nor is DNS over QUIC.
        assert!(!flip_udp(80, 40000, false));
        assert!(!flip_udp(853, 40000, false));
    }
}
