//! EDNS option data (RFC 6891 §6.1.2) as print-domain.c's `eopt_print` shows it without `-v`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::output::fast::push_ipv4;

/// eopt_print's data, for an option whose bytes were all captured.
pub fn write_edns_value(line: &mut String, code: u16, value: &[u8]) {
    let invalid = |line: &mut String| line.push_str(" (invalid)");
    match code {
        8 => write_client_subnet(line, value),
        10 if value.len() < 8 || (value.len() > 8 && value.len() < 16) || value.len() > 40 => invalid(line),
        10 => {
            for (i, byte) in value.iter().enumerate() {
                if i == 8 {
                    line.push(' ');
                }
                let _ = write!(line, "{byte:02x}");
            }
        }
        11 if value.len() != 2 => invalid(line),
        11 => {
            let _ = write!(line, "{:.1} sec", f64::from(u16::from_be_bytes([value[0], value[1]])) / 10.0);
        }
        9 if value.len() != 4 => invalid(line),
        9 => {
            let _ = write!(line, "{} sec", u32::from_be_bytes([value[0], value[1], value[2], value[3]]));
        }
        12 => {
            let _ = write!(line, "({})", value.len());
        }
        14 if !value.len().is_multiple_of(2) => invalid(line),
        14 => {
            for (i, pair) in value.chunks_exact(2).enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                let _ = write!(line, "{}", u16::from_be_bytes([pair[0], pair[1]]));
            }
        }
        5..=7 => {
            for (i, &alg) in value.iter().enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                match algorithm_name(code, alg) {
                    Some(name) => line.push_str(name),
                    None => {
                        let _ = write!(line, "Alg_{alg}");
                    }
                }
            }
        }
        // NSID and options tcpdump has no printer for, as hex. So is CHAIN (RFC 7901) here, a difference: tcpdump
        // prints its closest-trust-point name, against a base it sets past the option.
        _ => {
            for byte in value {
                let _ = write!(line, "{byte:02x}");
            }
        }
    }
}

/// DAU, DHU and N3U's algorithm numbers (RFC 6975).
fn algorithm_name(code: u16, alg: u8) -> Option<&'static str> {
    Some(match (code, alg) {
        (5, 0) => "DELETE",
        (5, 1) => "RSAMD5",
        (5, 2) => "DH",
        (5, 3) => "DS",
        (5, 5) => "RSASHA1",
        (5, 6) => "DSA-NSEC3-SHA1",
        (5, 7) => "RSASHA1-NSEC3-SHA1",
        (5, 8) => "RSASHA256",
        (5, 10) => "RSASHA512",
        (5, 12) => "ECC-GOST",
        (5, 13) => "ECDSAP256SHA256",
        (5, 14) => "ECDSAP384SHA384",
        (5, 15) => "ED25519",
        (5, 16) => "ED448",
        (5, 252) => "INDIRECT",
        (5, 253) => "PRIVATEDNS",
        (5, 254) => "PRIVATEOID",
        (6, 1) => "SHA-1",
        (6, 2) => "SHA-256",
        (6, 3) => "GOST_R_34.11-94",
        (6, 4) => "SHA-384",
        (7, 1) => "SHA-1",
        _ => return None,
    })
}

/// ECS (RFC 7871 §6): `address/source/scope`, the address padded with zeros.
fn write_client_subnet(line: &mut String, value: &[u8]) {
    let invalid = |line: &mut String| line.push_str(" (invalid)");
    if value.len() < 4 {
        return invalid(line);
    }
    let family = u16::from_be_bytes([value[0], value[1]]);
    let (source, scope) = (value[2], value[3]);
    let address = &value[4..];
    let bits: usize = match family {
        1 => 32,
        2 => 128,
        _ => return invalid(line),
    };
    if address.len() > bits / 8
        || usize::from(source) > bits
        || usize::from(scope) > bits
        || usize::from(source).div_ceil(8) != address.len()
    {
        return invalid(line);
    }
    let mut padded = [0u8; 16];
    padded[..address.len()].copy_from_slice(address);
    if family == 1 {
        push_ipv4(line, Ipv4Addr::new(padded[0], padded[1], padded[2], padded[3]));
    } else {
        let _ = write!(line, "{}", Ipv6Addr::from(padded));
    }
    let _ = write!(line, "/{source}/{scope}");
}
