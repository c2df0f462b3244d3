//! The names print-domain.c gives DNS numbers: opcodes, response codes, record types, classes and EDNS options.

use std::fmt::Write as _;

/// print-domain.c's `ns_ops`, indexed by opcode.
pub const OPCODES: [&str; 16] = [
    "",
    " inv_q",
    " stat",
    " op3",
    " notify",
    " update",
    " op6",
    " op7",
    " op8",
    " updateA",
    " updateD",
    " updateDA",
    " updateM",
    " updateMA",
    " zoneInit",
    " zoneRef",
];

/// print-domain.c's `ns_resp`, indexed by response code (the extended code included); 17 and 21 have no space
/// before them there, and so none here.
pub const RCODES: [&str; 24] = [
    "",
    " FormErr",
    " ServFail",
    " NXDomain",
    " NotImp",
    " Refused",
    " YXDomain",
    " YXRRSet",
    " NXRRSet",
    " NotAuth",
    " NotZone",
    " Resp11",
    " Resp12",
    " Resp13",
    " Resp14",
    " NoChange",
    " BadVers",
    "Resp17",
    " Resp18",
    " Resp19",
    " Resp20",
    "Resp21",
    " Resp22",
    " BadCookie",
];

/// ns_type2str: the IANA names of record types tcpdump 4.99 knows, `TypeN` for the others.
pub fn push_type(line: &mut String, kind: u16) {
    match type_name(kind) {
        Some(name) => line.push_str(name),
        None => {
            let _ = write!(line, "Type{kind}");
        }
    }
}

fn type_name(kind: u16) -> Option<&'static str> {
    const LOW: [&str; 49] = [
        "", "A", "NS", "MD", "MF", "CNAME", "SOA", "MB", "MG", "MR", "NULL", "WKS", "PTR", "HINFO", "MINFO", "MX",
        "TXT", "RP", "AFSDB", "X25", "ISDN", "RT", "NSAP", "NSAP_PTR", "SIG", "KEY", "PX", "GPOS", "AAAA", "LOC",
        "NXT", "EID", "NIMLOC", "SRV", "ATMA", "NAPTR", "KX", "CERT", "A6", "DNAME", "SINK", "OPT", "APL", "DS",
        "SSHFP", "IPSECKEY", "RRSIG", "NSEC", "DNSKEY",
    ];
    Some(match kind {
        1..=48 => LOW[usize::from(kind)],
        99 => "SPF",
        100 => "UINFO",
        101 => "UID",
        102 => "GID",
        103 => "UNSPEC",
        104 => "UNSPECA",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        _ => return None,
    })
}

/// ns_class2str, `(Class N)` for the others.
pub fn push_class(line: &mut String, class: u16) {
    match class {
        1 => line.push_str("IN"),
        3 => line.push_str("CHAOS"),
        4 => line.push_str("HS"),
        255 => line.push_str("ANY"),
        _ => {
            let _ = write!(line, "(Class {class})");
        }
    }
}

/// edns_opt2str: the IANA names of the EDNS options tcpdump 4.99 knows.
pub fn edns_option_name(code: u16) -> Option<&'static str> {
    Some(match code {
        1 => "LLQ",
        2 => "UL",
        3 => "NSID",
        5 => "DAU",
        6 => "DHU",
        7 => "N3U",
        8 => "ECS",
        9 => "EXPIRE",
        10 => "COOKIE",
        11 => "KEEPALIVE",
        12 => "PADDING",
        13 => "CHAIN",
        14 => "KEY-TAG",
        16 => "CLIENT-TAG",
        17 => "SERVER-TAG",
        _ => return None,
    })
}
