//! Internet checksum updates without re-summing the packet (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')). A SYN proxy
//! rewrites a few fields of every segment it forwards (sequence numbers, timestamps, SACK blocks); re-summing the
//! whole segment each time would cost as much as the rest of the guard together.
//!
//! Fields may sit at odd offsets (a timestamp option after a single NOP): each byte is weighted by its position
//! within the 16-bit words of the checksummed data, so the update is exact wherever the field lies.

/// The one's-complement sum of `bytes` placed at byte `offset` of the checksummed data, folded to 16 bits.
fn placed_sum(offset: usize, bytes: &[u8]) -> u32 {
    let mut sum: u32 = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        // Even positions are the high byte of their word, odd ones the low byte.
        sum += if (offset + i).is_multiple_of(2) { u32::from(byte) << 8 } else { u32::from(byte) };
    }
    fold(sum)
}

fn fold(mut sum: u32) -> u32 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum
}

/// The TCP/UDP pseudo-header's sum (RFC 9293 §3.1, RFC 8200 §8.1), folded, to start [`checksum`] with.
pub fn pseudo_header_sum(src: &[u8], dst: &[u8], protocol: u8, length: u32) -> u32 {
    fold(placed_sum(0, src) + placed_sum(0, dst) + u32::from(protocol) + fold(length))
}

/// The checksum after the bytes at `offset` changed from `old` to `new` (same length).
pub fn adjust(checksum: u16, offset: usize, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    let old_sum = placed_sum(offset, old);
    let new_sum = placed_sum(offset, new);
    // ~HC + ~m + m', all in one's complement.
    let sum = u32::from(!checksum) + (!old_sum & 0xFFFF) + new_sum;
    !(fold(sum) as u16)
}

/// The checksum after a 32-bit big-endian field at `offset` changed from `old` to `new`.
pub fn adjust_u32(checksum: u16, offset: usize, old: u32, new: u32) -> u16 {
    adjust(checksum, offset, &old.to_be_bytes(), &new.to_be_bytes())
}

/// The checksum after a 16-bit big-endian field at `offset` changed from `old` to `new`.
pub fn adjust_u16(checksum: u16, offset: usize, old: u16, new: u16) -> u16 {
    adjust(checksum, offset, &old.to_be_bytes(), &new.to_be_bytes())
}

/// The full Internet checksum (RFC 1071) of `data` added to `initial` (a pseudo-header sum, say).
///
/// It adds 32-bit big-endian words into 64 bits and folds the carries back in once at the end: since 2^16 ≡ 1 in
/// one's-complement arithmetic, a 32-bit word counts as the sum of its two halves (RFC 1071 §2(B), "parallel
/// summation"). The guard computes two of these for every SYN-ACK it writes.
pub fn checksum(initial: u32, data: &[u8]) -> u16 {
    let mut sum = u64::from(initial);
    let mut words = data.chunks_exact(4);
    for word in &mut words {
        sum += u64::from(u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
    }
    let mut rest = words.remainder().chunks_exact(2);
    for pair in &mut rest {
        sum += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = rest.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// Computes and stores the TCP or UDP checksum of an Ethernet frame (IPv4 or IPv6, behind the VLAN tags
/// [`super::vlan::skip_tags`] looks past) whose checksum field holds something else: a frame a local sender handed
/// to a virtual NIC with the checksum left to hardware (CHECKSUM_PARTIAL) leaves it holding only the pseudo-header
/// sum. Returns false when the frame is not an unfragmented TCP or UDP packet with the whole segment present.
pub fn fill_transport_checksum(frame: &mut [u8]) -> bool {
    let Some((ether_type, ip)) = super::vlan::skip_tags(frame) else {
        return false;
    };
    if frame.len() < ip + 20 {
        return false;
    }
    let (protocol, start, end, pseudo) = match ether_type {
        0x0800 => {
            let header_len = usize::from(frame[ip] & 0x0F) * 4;
            let total = usize::from(u16::from_be_bytes([frame[ip + 2], frame[ip + 3]]));
            let fragment = u16::from_be_bytes([frame[ip + 6], frame[ip + 7]]);
            if fragment & 0x3FFF != 0 || header_len < 20 || total < header_len || ip + total > frame.len() {
                return false;
            }
            let protocol = frame[ip + 9];
            let mut sum = placed_sum(0, &frame[ip + 12..ip + 20]);
            sum += u32::from(protocol) + (total - header_len) as u32;
            (protocol, ip + header_len, ip + total, sum)
        }
        0x86DD => {
            if frame.len() < ip + 40 {
                return false;
            }
            let payload = usize::from(u16::from_be_bytes([frame[ip + 4], frame[ip + 5]]));
            if ip + 40 + payload > frame.len() {
                return false;
            }
            let protocol = frame[ip + 6];
            let mut sum = placed_sum(0, &frame[ip + 8..ip + 40]);
            sum += u32::from(protocol) + payload as u32;
            (protocol, ip + 40, ip + 40 + payload, sum)
        }
        _ => return false,
    };
    let field = match protocol {
        6 if end >= start + 20 => start + 16,
        17 if end >= start + 8 => start + 6,
        _ => return false,
    };
    frame[field..field + 2].copy_from_slice(&[0, 0]);
    let mut value = checksum(fold(pseudo), &frame[start..end]);
    if protocol == 17 && value == 0 {
        // UDP sends a computed zero as all ones; zero means "no checksum" (RFC 768).
        value = 0xFFFF;
    }
    frame[field..field + 2].copy_from_slice(&value.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071 word by word, folding as it goes: what `checksum` must equal.
    fn word_by_word(initial: u32, data: &[u8]) -> u16 {
        let mut sum = fold(initial);
        for pair in data.chunks(2) {
            sum = fold(sum + (u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0))));
        }
        !(sum as u16)
    }

    proptest! {
        #[test]
        fn the_wide_sum_equals_the_word_by_word_one(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            initial in any::<u32>(),
        ) {
            prop_assert_eq!(checksum(initial, &data), word_by_word(initial, &data));
        }

        #[test]
        fn an_adjusted_checksum_equals_a_recomputed_one(
            mut data in proptest::collection::vec(any::<u8>(), 8..80),
            at in 0usize..64,
            new in proptest::collection::vec(any::<u8>(), 1..6),
        ) {
            let at = at % (data.len() - new.len().min(data.len()) + 1);
            let len = new.len().min(data.len() - at);
            let before = checksum(0, &data);
            let old = data[at..at + len].to_vec();
            data[at..at + len].copy_from_slice(&new[..len]);
            let adjusted = adjust(before, at, &old, &new[..len]);
            let recomputed = checksum(0, &data);
            // 0x0000 and 0xFFFF are the same number in one's complement.
            prop_assert!(adjusted == recomputed || (adjusted ^ recomputed) == 0xFFFF, "{adjusted:04x} {recomputed:04x}");
        }
    }

    #[test]
    fn a_pending_checksum_is_filled_in_as_a_sender_would_have() {
        use crate::wire::craft::{EthernetSpec, IpSpec, TcpSpec, tcp_frame, udp_frame};
        use crate::wire::segment::TcpFlags;
        for (src, dst) in [("10.0.0.1", "10.0.0.2"), ("fd00::1", "fd00::2")] {
            let ip = IpSpec { src: src.parse().unwrap(), dst: dst.parse().unwrap(), ttl: 64, id: 9 };
            let eth = EthernetSpec { src: [1; 6], dst: [2; 6], vlans: &[7] };
            let tcp = TcpSpec {
                src_port: 1,
                dst_port: 2,
                seq: 3,
                ack: 4,
                flags: TcpFlags(TcpFlags::ACK),
                window: 5,
                options: &[1, 1, 1, 1],
                payload: b"odd length",
            };
            let mut good = Vec::new();
            tcp_frame(&mut good, Some(&eth), &ip, &tcp).unwrap();
            let mut udp = Vec::new();
            udp_frame(&mut udp, Some(&eth), &ip, 53, 5353, b"query").unwrap();
            let ip_header = if src.contains(':') { 40 } else { 20 };
            // Ethernet and one VLAN tag, the IP header, then the checksum field: TCP's at 16, UDP's at 6.
            for (frame, field) in [(good, 18 + ip_header + 16), (udp, 18 + ip_header + 6)] {
                let mut spoiled = frame.clone();
                spoiled[field] ^= 0x5a;
                assert!(fill_transport_checksum(&mut spoiled));
                assert_eq!(spoiled, frame);
            }
        }
    }

    #[test]
    fn rfc_1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, so the checksum is its complement.
        assert_eq!(checksum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
    }
}
