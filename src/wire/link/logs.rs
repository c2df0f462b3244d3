//! Firewall log link types, which carry the logged packet behind the log record: OpenBSD pf's PFLOG and Linux
//! netfilter's NFLOG.

use super::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, Next, header, le16};
use crate::wire::DecodeError;

/// The shortest pflog header tcpdump accepts (print-pflog.c's MIN_PFLOG_HDRLEN: the header before OpenBSD 4.9's
/// additions).
const PFLOG_MIN_LEN: u8 = 45;

/// LINKTYPE_PFLOG: a header whose first byte is its length (padded to 4 bytes, as BPF_WORDALIGN does), the second
/// the address family: AF_INET is 2 everywhere, AF_INET6 is 24 (OpenBSD, NetBSD), 28 (FreeBSD) or 30 (macOS).
pub fn pflog(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let h = header(frame, 2, "pflog header")?;
    if h[0] < PFLOG_MIN_LEN {
        return Err(DecodeError::Invalid(format!("pflog header length {} is below {PFLOG_MIN_LEN}", h[0])));
    }
    let len = usize::from(h[0]).next_multiple_of(4);
    header(frame, len, "pflog header")?;
    let payload = &frame[len..];
    Ok(match h[1] {
        2 => Next::EtherType(ETHERTYPE_IPV4, payload),
        24 | 28 | 30 => Next::EtherType(ETHERTYPE_IPV6, payload),
        _ => Next::Opaque(payload),
    })
}

/// NFLOG's header: address family, version (0), resource ID (https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html).
const NFLOG_HEADER_LEN: usize = 4;
/// A TLV's length (header included, padded to 4 bytes when stepping) and type, in the capturing host's byte order:
/// little-endian, as every Linux host tcpdump is likely to read them on writes them (tcpdump reads host order).
const TLV_HEADER_LEN: usize = 4;
/// NFULA_PAYLOAD: the logged packet.
const NFULA_PAYLOAD: u16 = 9;

/// LINKTYPE_NFLOG: the header, then TLVs up to the payload one; its bytes are IPv4 or IPv6 by the family
/// (Linux's AF_INET 2, AF_INET6 10). The walk is bounded: each TLV steps at least 4 bytes.
pub fn nflog(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let h = header(frame, NFLOG_HEADER_LEN, "NFLOG header")?;
    if h[1] != 0 {
        return Err(DecodeError::Invalid(format!("NFLOG version {} (only 0 is defined)", h[1])));
    }
    let mut rest = &frame[NFLOG_HEADER_LEN..];
    let payload = loop {
        if rest.is_empty() {
            return Ok(Next::Opaque(rest));
        }
        let tlv = header(rest, TLV_HEADER_LEN, "NFLOG TLV header")?;
        let len = usize::from(le16(tlv, 0));
        if len < TLV_HEADER_LEN {
            return Err(DecodeError::Invalid(format!("NFLOG TLV length {len} is below its 4-byte header")));
        }
        if le16(tlv, 2) == NFULA_PAYLOAD {
            // A snap length may have cut the packet: what was captured of it is decoded.
            break &rest[TLV_HEADER_LEN..len.min(rest.len())];
        }
        rest = rest
            .get(len.next_multiple_of(4)..)
            .ok_or_else(|| super::truncated("NFLOG TLV", rest.len(), len.next_multiple_of(4)))?;
    };
    Ok(match h[0] {
        2 => Next::EtherType(ETHERTYPE_IPV4, payload),
        10 => Next::EtherType(ETHERTYPE_IPV6, payload),
        _ => Next::Opaque(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::refuses_every_cut;
    use super::*;

    #[test]
    fn pflog_skips_its_padded_header_and_reads_the_family() {
        let mut frame = vec![61, 2];
        frame.resize(64, 0);
        frame.push(0x45);
        assert_eq!(pflog(&frame), Ok(Next::EtherType(ETHERTYPE_IPV4, &[0x45][..])));
        for family in [24, 28, 30] {
            frame[1] = family;
            assert_eq!(pflog(&frame), Ok(Next::EtherType(ETHERTYPE_IPV6, &[0x45][..])));
        }
        refuses_every_cut(&frame, 64, "pflog header", pflog);
        frame[0] = 44;
        assert!(matches!(pflog(&frame), Err(DecodeError::Invalid(_))));
    }

    fn tlv(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = ((4 + value.len()) as u16).to_le_bytes().to_vec();
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
        out
    }

    #[test]
    fn nflog_walks_its_tlvs_to_the_payload() {
        let frame = [vec![10, 0, 0, 1], tlv(1, &[8, 0, 1]), tlv(10, b"prefix\0"), tlv(9, &[0x60, 0, 0])].concat();
        assert_eq!(nflog(&frame), Ok(Next::EtherType(ETHERTYPE_IPV6, &[0x60, 0, 0][..])));
        refuses_every_cut(&frame, 4, "NFLOG header", nflog);
        // Cut inside a TLV before the payload's.
        for cut in 5..8 {
            assert!(matches!(nflog(&frame[..cut]), Err(DecodeError::Truncated { .. })), "cut {cut}");
        }
        // No payload TLV at all: nothing to decode.
        assert_eq!(nflog(&frame[..12]), Ok(Next::Opaque(&[][..])));
        let zero = [vec![2, 0, 0, 0], vec![0, 0, 9, 0]].concat();
        assert!(matches!(nflog(&zero), Err(DecodeError::Invalid(_))));
        assert!(matches!(nflog(&[2, 1, 0, 0]), Err(DecodeError::Invalid(_))));
    }
}
