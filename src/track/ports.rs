//! Zeek's "likely server ports" heuristic: when a connection starts without a SYN, the side whose port looks like
//! a service is taken as the responder (Zeek's TCP analyzer, WantConnection; its `likely_server_ports` set is
//! filled by the analyzers the default scripts load for their well-known ports).

/// Well-known service ports of the protocols Zeek's default scripts analyse, plus common services.
const LIKELY_SERVER_PORTS: [u16; 44] = [
    21, 22, 23, 25, 53, 80, 88, 110, 111, 123, 135, 137, 138, 139, 143, 161, 389, 443, 445, 465, 502, 514, 587, 636,
    993, 995, 1080, 1433, 1521, 1723, 1812, 1883, 2049, 3128, 3306, 3389, 5060, 5222, 5432, 5900, 6379, 6667, 8080,
    8443,
];

pub fn is_likely_server_port(port: u16) -> bool {
    LIKELY_SERVER_PORTS.contains(&port)
}

/// Whether a connection first seen with a packet from `src_port` to `dst_port` (no SYN) should have its roles
/// flipped: yes when only the source looks like a server; when both do, only if the source port is the lower.
pub fn flip_mid_stream(src_port: u16, dst_port: u16) -> bool {
    match (is_likely_server_port(src_port), is_likely_server_port(dst_port)) {
        (true, false) => true,
        (true, true) => src_port < dst_port,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_web_server_answering_first_is_the_responder() {
        assert!(flip_mid_stream(80, 3363));
        assert!(!flip_mid_stream(3363, 80));
        assert!(!flip_mid_stream(40000, 9999));
        assert!(flip_mid_stream(53, 443), "both plausible: the lower port serves");
        assert!(!flip_mid_stream(443, 53));
    }
}
