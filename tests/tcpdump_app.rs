//! Application payloads tcpdump decodes by port, line for line against `tcpdump -nn`: DNS over UDP, TCP and
//! multicast (queries, responses with every record type tcpdump prints data for, compression pointers good and bad,
//! EDNS, odd flags and counts, messages cut short by the snap length or by their own lengths), and the line-based
//! protocols (HTTP requests, responses and bodies, RTSP, FTP, SMTP, WHOIS, SSH version lines), with the port order
//! tcpdump picks a printer by. Frames are crafted byte by byte here and written with the project's writer; both
//! tools read the file.
//!
//! Without tcpdump 4.99 the test prints a loud SKIPPED note and passes, unless `SYNSCOPE_REQUIRE_PEERS=1` is set.

mod common;

use common::crafted::{Case, assert_same_as_tcpdump, case, ethernet};
use common::tcpdump::tcpdump_4_99;
use synscope::wire::checksum::checksum;

const CLIENT: [u8; 4] = [192, 0, 2, 1];
const SERVER: [u8; 4] = [192, 0, 2, 53];

/// An IPv4 packet from the client to the server (RFC 5737 addresses), with a correct header checksum.
fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut header = vec![0x45, 0];
    header.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    header.extend_from_slice(&[0, 1, 0x40, 0, 64, protocol, 0, 0]);
    header.extend_from_slice(&CLIENT);
    header.extend_from_slice(&SERVER);
    let sum = checksum(0, &header);
    header[10..12].copy_from_slice(&sum.to_be_bytes());
    header.extend_from_slice(payload);
    header
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut datagram = sport.to_be_bytes().to_vec();
    datagram.extend_from_slice(&dport.to_be_bytes());
    datagram.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(payload);
    ethernet(0x0800, &ipv4(17, &datagram))
}

/// A PSH-ACK segment carrying `payload`, without options.
fn tcp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut segment = sport.to_be_bytes().to_vec();
    segment.extend_from_slice(&dport.to_be_bytes());
    segment.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0x10, 0x00, 0, 0, 0, 0]);
    segment.extend_from_slice(payload);
    ethernet(0x0800, &ipv4(6, &segment))
}

/// A DNS message: id, flags, the four counts, then `body`.
fn dns(id: u16, flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    for count in counts {
        m.extend_from_slice(&count.to_be_bytes());
    }
    m.extend_from_slice(body);
    m
}

/// A name in labels.
fn name(labels: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for label in labels {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn question(qname: &[u8], kind: u16, class: u16) -> Vec<u8> {
    [qname, &kind.to_be_bytes(), &class.to_be_bytes()].concat()
}

/// A resource record whose owner is a pointer to the question's name (offset 12).
fn record(kind: u16, class: u16, data: &[u8]) -> Vec<u8> {
    let mut rr = vec![0xc0, 12];
    rr.extend_from_slice(&kind.to_be_bytes());
    rr.extend_from_slice(&class.to_be_bytes());
    rr.extend_from_slice(&300u32.to_be_bytes());
    rr.extend_from_slice(&(data.len() as u16).to_be_bytes());
    rr.extend_from_slice(data);
    rr
}

/// An OPT pseudo-record (RFC 6891) in the additional section.
fn opt(udp_size: u16, extended_rcode: u8, flags: u16, options: &[u8]) -> Vec<u8> {
    let mut rr = vec![0, 0, 41];
    rr.extend_from_slice(&udp_size.to_be_bytes());
    rr.extend_from_slice(&[extended_rcode, 0]);
    rr.extend_from_slice(&flags.to_be_bytes());
    rr.extend_from_slice(&(options.len() as u16).to_be_bytes());
    rr.extend_from_slice(options);
    rr
}

fn example() -> Vec<u8> {
    name(&["example", "com"])
}

/// A response to an A query for example.com with `answers`.
fn response(flags: u16, answers: &[Vec<u8>]) -> Vec<u8> {
    let body = [question(&example(), 1, 1), answers.concat()].concat();
    dns(0xbeef, flags, [1, answers.len() as u16, 0, 0], &body)
}

fn dns_cases() -> Vec<Case> {
    let q = |kind: u16| dns(0x1234, 0x0100, [1, 0, 0, 0], &question(&example(), kind, 1));
    let mut cases = vec![
        case("A query", udp(40000, 53, &q(1))),
        case("AAAA query", udp(40000, 53, &q(28))),
        case("ANY query from port 53", udp(53, 40000, &q(255))),
        case("unknown type", udp(40000, 53, &q(4242))),
        case("CHAOS TXT", udp(40000, 53, &dns(7, 0, [1, 0, 0, 0], &question(&name(&["version", "bind"]), 16, 3)))),
        case("class 77", udp(40000, 53, &dns(7, 0, [1, 0, 0, 0], &question(&example(), 1, 77)))),
        case("root name", udp(40000, 53, &dns(8, 0x0100, [1, 0, 0, 0], &question(&[0], 2, 1)))),
        case(
            "query with EDNS and CD",
            udp(
                40000,
                53,
                &dns(9, 0x0110, [1, 0, 0, 1], &[question(&example(), 1, 1), opt(1232, 0, 0x8000, &[])].concat()),
            ),
        ),
        case("odd query bits", udp(40000, 53, &dns(10, 0x0580, [1, 0, 0, 0], &question(&example(), 1, 1)))),
        case(
            "two questions",
            udp(
                40000,
                53,
                &dns(11, 0x0100, [2, 0, 0, 0], &[question(&example(), 1, 1), question(&[0xc0, 12], 28, 1)].concat()),
            ),
        ),
        case("inverse query", udp(40000, 53, &dns(12, 0x0800, [0, 1, 0, 0], &record(1, 1, &[192, 0, 2, 9])[..]))),
        case("notify", udp(40000, 53, &dns(13, 0x2400, [1, 0, 0, 0], &question(&example(), 6, 1)))),
        case("no questions", udp(40000, 53, &dns(14, 0x0100, [0, 0, 0, 0], &[]))),
        case("short message", udp(40000, 53, &[0, 1, 1, 0, 0])),
    ];
    let a = record(1, 1, &[192, 0, 2, 80]);
    let aaaa = record(28, 1, &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    let cname = record(5, 1, &[3, b'w', b'w', b'w', 0xc0, 12]);
    let mx = record(15, 1, &[0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 12]);
    let txt = record(16, 1, b"\x05hello\x03a\"b\x02\x01\xff");
    let srv = record(33, 1, &[0, 1, 0, 5, 0x01, 0xbb, 3, b's', b'r', b'v', 0xc0, 12]);
    let soa =
        record(6, 1, &[2, b'n', b's', 0xc0, 12, 0xc0, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]);
    let ptr = record(12, 1, &[0xc0, 12]);
    let dnskey = record(48, 1, &[1, 1, 3, 8, 0xaa, 0xbb]);
    let ns_chaos = record(2, 3, &[0xc0, 12]);
    let unknown = record(999, 1, &[1, 2, 3]);
    cases.extend([
        case("A answer", udp(53, 40000, &response(0x8180, std::slice::from_ref(&a)))),
        case("CNAME then A", udp(53, 40000, &response(0x8180, &[cname.clone(), a.clone()]))),
        case("AAAA, MX, SRV", udp(53, 40000, &response(0x8580, &[aaaa, mx, srv]))),
        case("TXT, SOA, PTR", udp(53, 40000, &response(0x8180, &[txt, soa, ptr]))),
        case("DNSKEY, CHAOS NS, unknown type", udp(53, 40000, &response(0x8180, &[dnskey, ns_chaos, unknown]))),
        case("NXDomain, no recursion", udp(53, 40000, &response(0x8003, &[]))),
        case("truncated, authenticated", udp(53, 40000, &response(0x8220 | 0x80, std::slice::from_ref(&a)))),
        case("refused", udp(53, 40000, &response(0x8185, &[]))),
        case(
            "extended rcode BADVERS from OPT",
            udp(
                53,
                40000,
                &dns(15, 0x8180, [1, 0, 0, 1], &[question(&example(), 1, 1), opt(1232, 1, 0, &[])].concat()),
            ),
        ),
        case("forward pointer", udp(53, 40000, &response(0x8180, &[record(5, 1, &[0xc0, 200])]))),
        case("pointer loop to itself", udp(53, 40000, &response(0x8180, &[record(5, 1, &[1, b'x', 0xc0, 41])]))),
        case("reserved label type", udp(53, 40000, &response(0x8180, &[record(5, 1, &[0x80, 1])]))),
        case(
            "answer count beyond the message",
            udp(53, 40000, &dns(16, 0x8180, [1, 3, 0, 0], &[question(&example(), 1, 1), a.clone()].concat())),
        ),
        case(
            "OPT as an answer with options",
            udp(
                53,
                40000,
                &response(
                    0x8180,
                    &[opt(
                        4096,
                        0,
                        0x8000,
                        &[
                            &[0, 10, 0, 8][..],
                            &[1, 2, 3, 4, 5, 6, 7, 8],
                            &[0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100],
                            &[0, 12, 0, 3, 0, 0, 0],
                            &[0, 3, 0, 2, 0xab, 0xcd],
                            &[0, 11, 0, 2, 1, 44],
                            &[0, 5, 0, 3, 8, 13, 99],
                            &[0, 99, 0, 1, 0x42],
                        ]
                        .concat(),
                    )],
                ),
            ),
        ),
        case(
            "label with odd bytes",
            udp(40000, 53, &dns(17, 0x0100, [1, 0, 0, 0], &question(b"\x04a\x01\x7f\xc3\x00", 1, 1))),
        ),
        case(
            "multicast DNS query, QU",
            udp(5353, 5353, &dns(0, 0, [1, 0, 0, 0], &question(&name(&["printer", "local"]), 12, 0x8001))),
        ),
        case(
            "multicast DNS answer, cache flush",
            udp(
                5353,
                5353,
                &dns(
                    0,
                    0x8400,
                    [0, 1, 0, 0],
                    &[name(&["printer", "local"]), vec![0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 192, 0, 2, 7]].concat(),
                ),
            ),
        ),
    ]);
    // Over TCP: the length prefix, matching or not, and a segment too short for it.
    let m = q(1);
    let mut framed = (m.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&m);
    cases.push(case("DNS over TCP", tcp(40000, 53, &framed)));
    let mut wrong = framed.clone();
    wrong[1] ^= 1;
    cases.push(case("DNS over TCP, wrong prefix", tcp(40000, 53, &wrong)));
    cases.push(case("DNS over TCP, one byte", tcp(53, 40000, &[0])));
    // Cut by the snap length: in the header, in the question, in an answer.
    let answer = udp(53, 40000, &response(0x8180, &[cname, a]));
    for cut in [60, 48, 12] {
        let mut c = case(&format!("response cut {cut} bytes short"), answer.clone());
        c.cut = cut;
        cases.push(c);
    }
    cases
}

fn text_cases() -> Vec<Case> {
    let get = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let mut cases = vec![
        case("HTTP request", tcp(40000, 80, get)),
        case("HTTP response", tcp(80, 40000, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")),
        case("HTTP body", tcp(80, 40000, b"<html><body>hi</body></html>\n")),
        case("HTTP binary body", tcp(80, 40000, &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0])),
        case("HTTP on 8080, lower-case method", tcp(40000, 8080, b"post /form HTTP/1.0\n")),
        case("HTTP request line without end", tcp(40000, 80, b"GET /a-very-long-path")),
        case("HTTP line with a tab", tcp(40000, 80, b"GET\t/ HTTP/1.1\r\n")),
        case("HTTP CR without LF", tcp(40000, 80, b"GET / HTTP/1.1\rmore")),
        case("HTTP WebDAV", tcp(40000, 80, b"PROPFIND /dav/ HTTP/1.1\r\n")),
        case("RTSP", tcp(40000, 554, b"DESCRIBE rtsp://example.com/s RTSP/1.0\r\n")),
        case("RTSP reply", tcp(8554, 40000, b"RTSP/1.0 200 OK\r\n")),
        case("FTP", tcp(21, 40000, b"220 Service ready\r\n")),
        case("FTP binary", tcp(21, 40000, &[0, 1, 2])),
        case("SMTP", tcp(40000, 25, b"EHLO client.example\r\n")),
        case("WHOIS", tcp(40000, 43, b"example.com\r\n")),
        case("SSH version", tcp(22, 40000, b"SSH-2.0-OpenSSH_9.6\r\n")),
        case("SSH binary", tcp(22, 40000, &[0, 0, 1, 0x2c, 10, 20])),
        case("SSH before HTTP", tcp(22, 80, get)),
        case("Telnet before HTTP", tcp(23, 80, get)),
        case("FTP before HTTP", tcp(21, 80, b"220 ready\r\n")),
        case("HTTP before DNS", tcp(80, 53, get)),
        case("no printer", tcp(40000, 9999, get)),
    ];
    let mut cut = case("HTTP request cut by the snap length", tcp(40000, 80, get));
    cut.cut = 40;
    cases.push(cut);
    cases
}

#[test]
fn dns_messages_print_as_tcpdump_prints_them() {
    if !tcpdump_4_99("the DNS messages") {
        return;
    }
    let all = assert_same_as_tcpdump(&dns_cases(), "dns.pcap");
    for needle in [
        "192.0.2.1.40000 > 192.0.2.53.53: 4660+ A? example.com. (29)\n",
        " 2/0/0 CNAME www.example.com., A 192.0.2.80 (",
        "AAAA 2001:db8::80, MX mail.example.com. 10, SRV srv.example.com.:443 1 5 (",
        "TXT \"hello\" \"a\"b\" \"^AM-^?\", SOA, PTR example.com. (",
        " BadVers 0/0/1 (",
        "<BAD PTR>",
        "[|domain]",
        "(QU)? printer.local.",
        "(Cache flush) A 192.0.2.7",
        "UDPsize=4096 DO [COOKIE",
        "length 31 4660+ A? example.com. (29)\n",
        "[prefix length(",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}

#[test]
fn line_based_protocols_print_as_tcpdump_prints_them() {
    if !tcpdump_4_99("the HTTP, FTP, SMTP and SSH lines") {
        return;
    }
    let all = assert_same_as_tcpdump(&text_cases(), "text.pcap");
    for needle in [
        ": HTTP: GET /index.html HTTP/1.1\n",
        ": HTTP: HTTP/1.1 200 OK\n",
        ": HTTP\n",
        ": HTTP: GET /a-very-long-path [|http]\n",
        ": RTSP: RTSP/1.0 200 OK\n",
        ": FTP: 220 Service ready\n",
        ": SMTP: EHLO client.example\n",
        ": SSH: SSH-2.0-OpenSSH_9.6\n",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}
