//! One checked view of a TCP segment inside an Ethernet frame, owning or borrowing its bytes, as smoltcp's
//! `Packet<T: AsRef<[u8]>>` does: [`TcpFrame::new_checked`] lays the frame out once ([`TcpLayout::of`], VLAN tags
//! walked by [`super::vlan`]), the getters read fields for any `T: AsRef<[u8]>`, and the edits the guard and its
//! proxy make (`update_*`) need `T: AsMut<[u8]>` and keep the TCP checksum right (RFC 1624 incremental updates).
//! The offsets never leave `wire`: no caller holds a layout apart from the bytes it describes, so none can apply
//! one frame's offsets to another.

use std::net::{IpAddr, SocketAddr};

use super::checksum::{adjust_u16, adjust_u32, checksum, pseudo_header_sum};
use super::segment::TcpFlags;
use super::tcp_layout::TcpLayout;

/// The bytes are not a whole, unfragmented TCP segment over IPv4 or IPv6 in an Ethernet frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a whole, unfragmented TCP segment over IPv4 or IPv6")]
pub struct NotTcp;

/// A TCP segment in an Ethernet frame, laid out once. `T` is `&[u8]`, `&mut [u8]`, `Vec<u8>`...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFrame<T> {
    bytes: T,
    layout: TcpLayout,
    /// The checksum field holds only the pseudo-header sum, to be completed on egress (a frame received with
    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`, see [`super::vnet`]): edits leave it alone, since the sum over the edited bytes
    /// is taken later. The bytes cannot tell; the caller says so ([`TcpFrame::with_partial_checksum`]).
    checksum_partial: bool,
}

/// Offsets of fields in the TCP header (RFC 9293 §3.1).
const SEQ: usize = 4;
const ACK: usize = 8;
const FLAGS: usize = 13;
const WINDOW: usize = 14;
const CHECKSUM: usize = 16;
const OPTIONS: usize = 20;

impl<T: AsRef<[u8]>> TcpFrame<T> {
    /// Lays out `bytes`; refused unless every header is whole and the IP packet is one unfragmented TCP segment.
    /// The checksum is taken to be complete.
    pub fn new_checked(bytes: T) -> Result<TcpFrame<T>, NotTcp> {
        let layout = TcpLayout::of(bytes.as_ref()).ok_or(NotTcp)?;
        Ok(TcpFrame { bytes, layout, checksum_partial: false })
    }

    /// Says whether the checksum field holds only the pseudo-header sum (see the field's doc).
    pub fn with_partial_checksum(mut self, partial: bool) -> TcpFrame<T> {
        self.checksum_partial = partial;
        self
    }

    pub fn checksum_partial(&self) -> bool {
        self.checksum_partial
    }

    pub fn into_inner(self) -> T {
        self.bytes
    }

    /// The whole frame, Ethernet header to padding.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// The Ethernet destination.
    pub fn dst_mac(&self) -> [u8; 6] {
        self.array(0)
    }

    /// The Ethernet source.
    pub fn src_mac(&self) -> [u8; 6] {
        self.array(6)
    }

    /// Whether VLAN tags sit between the Ethernet header and the IP header.
    pub fn tagged(&self) -> bool {
        self.layout.tagged()
    }

    pub fn is_ipv6(&self) -> bool {
        self.layout.ipv6
    }

    pub fn src_ip(&self) -> IpAddr {
        self.layout.src_ip(self.as_bytes())
    }

    pub fn dst_ip(&self) -> IpAddr {
        self.layout.dst_ip(self.as_bytes())
    }

    pub fn src(&self) -> SocketAddr {
        self.layout.src(self.as_bytes())
    }

    pub fn dst(&self) -> SocketAddr {
        self.layout.dst(self.as_bytes())
    }

    pub fn seq(&self) -> u32 {
        self.layout.seq(self.as_bytes())
    }

    pub fn ack(&self) -> u32 {
        self.layout.ack(self.as_bytes())
    }

    pub fn flags(&self) -> TcpFlags {
        self.layout.flags(self.as_bytes())
    }

    pub fn window(&self) -> u16 {
        self.layout.window(self.as_bytes())
    }

    /// The checksum field as it stands (complete, or the pseudo-header sum when partial).
    pub fn checksum(&self) -> u16 {
        let at = self.layout.tcp + CHECKSUM;
        u16::from_be_bytes(self.array(at))
    }

    /// The option bytes after the fixed 20-byte header (padding included).
    pub fn options(&self) -> &[u8] {
        self.layout.options(self.as_bytes())
    }

    /// The TCP payload, without the Ethernet padding after the IP packet.
    pub fn payload(&self) -> &[u8] {
        &self.as_bytes()[self.headers_len()..self.layout.end]
    }

    pub fn payload_len(&self) -> usize {
        self.layout.payload_len()
    }

    /// Bytes from the start of the frame to the end of the TCP header: where the payload begins.
    pub fn headers_len(&self) -> usize {
        self.layout.tcp + self.layout.tcp_header_len
    }

    /// The TCP segment, header and payload: what the checksum covers besides the pseudo-header.
    pub fn tcp_segment(&self) -> &[u8] {
        &self.as_bytes()[self.layout.tcp..self.layout.end]
    }

    /// The pseudo-header's sum for this segment (RFC 9293 §3.1, RFC 8200 §8.1).
    pub fn pseudo_header_sum(&self) -> u32 {
        let (ip, frame) = (self.layout.ip, self.as_bytes());
        let (src, dst) =
            if self.layout.ipv6 { (ip + 8..ip + 24, ip + 24..ip + 40) } else { (ip + 12..ip + 16, ip + 16..ip + 20) };
        pseudo_header_sum(&frame[src], &frame[dst], 6, self.tcp_segment().len() as u32)
    }

    /// Whether the TCP checksum is complete and right.
    pub fn checksum_is_valid(&self) -> bool {
        checksum(self.pseudo_header_sum(), self.tcp_segment()) == 0
    }

    /// The IPv4 identification; `None` for IPv6.
    pub(super) fn ipv4_id(&self) -> Option<u16> {
        (!self.layout.ipv6).then(|| u16::from_be_bytes(self.array(self.layout.ip + 4)))
    }

    /// The same headers as `self`, over `bytes` that start with a copy of them and go on with another payload (no
    /// padding): for segmentation, which then sets the lengths ([`TcpFrame::set_ip_length`]).
    pub(super) fn same_headers<U: AsRef<[u8]>>(&self, bytes: U) -> TcpFrame<U> {
        debug_assert_eq!(bytes.as_ref()[..self.headers_len()], self.as_bytes()[..self.headers_len()]);
        let layout = TcpLayout { end: bytes.as_ref().len(), ..self.layout };
        TcpFrame { bytes, layout, checksum_partial: self.checksum_partial }
    }

    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0; N];
        out.copy_from_slice(&self.as_bytes()[at..at + N]);
        out
    }
}

impl<'a> TcpFrame<&'a [u8]> {
    /// [`TcpFrame::options`], borrowed for as long as the frame is rather than the view.
    pub fn into_options(self) -> &'a [u8] {
        &self.bytes[self.layout.tcp + OPTIONS..self.headers_len()]
    }

    /// [`TcpFrame::payload`], borrowed for as long as the frame is rather than the view.
    pub fn into_payload(self) -> &'a [u8] {
        &self.bytes[self.headers_len()..self.layout.end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpFrame<T> {
    /// Replaces the sequence number with `new(seq)`, adjusting the checksum.
    pub fn update_seq(&mut self, new: impl FnOnce(u32) -> u32) {
        self.update_u32(SEQ, new);
    }

    /// Replaces the acknowledgment number with `new(ack)`, adjusting the checksum.
    pub fn update_ack(&mut self, new: impl FnOnce(u32) -> u32) {
        self.update_u32(ACK, new);
    }

    /// Replaces the window with `new(window)`, adjusting the checksum.
    pub fn update_window(&mut self, new: impl FnOnce(u16) -> u16) {
        self.update_u16(WINDOW, new);
    }

    /// Replaces the 32-bit value `at` bytes into [`TcpFrame::options`] with `new(value)`, adjusting the checksum:
    /// for option values (a TSval, a SACK edge). Panics if the four bytes are not all in the options.
    pub fn update_option_u32(&mut self, at: usize, new: impl FnOnce(u32) -> u32) {
        assert!(OPTIONS + at + 4 <= self.layout.tcp_header_len, "an option value past the TCP header");
        self.update_u32(OPTIONS + at, new);
    }

    /// Writes the checksum field as given (no other byte changes): to seed a partial checksum, or spoil one.
    pub fn set_checksum(&mut self, value: u16) {
        let at = self.layout.tcp + CHECKSUM;
        self.bytes.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    /// Computes the whole TCP checksum afresh, over the pseudo-header and the segment, and marks it complete.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum(self.pseudo_header_sum(), self.tcp_segment());
        self.set_checksum(sum);
        self.checksum_partial = false;
    }

    /// Sets the sequence number alone: the checksum is left stale, for [`TcpFrame::fill_checksum`] to redo.
    pub(super) fn set_seq_unchecked(&mut self, seq: u32) {
        let at = self.layout.tcp + SEQ;
        self.bytes.as_mut()[at..at + 4].copy_from_slice(&seq.to_be_bytes());
    }

    /// Clears the flags of `mask` (the low byte: CWR to FIN) alone: the checksum is left stale.
    pub(super) fn clear_flags_unchecked(&mut self, mask: u8) {
        self.bytes.as_mut()[self.layout.tcp + FLAGS] &= !mask;
    }

    /// Sets the IPv4 identification and redoes the IPv4 header checksum; nothing for IPv6, which has none.
    pub(super) fn set_ipv4_id(&mut self, id: u16) {
        if self.layout.ipv6 {
            return;
        }
        let ip = self.layout.ip;
        self.bytes.as_mut()[ip + 4..ip + 6].copy_from_slice(&id.to_be_bytes());
        self.fill_ipv4_header_checksum();
    }

    /// Writes the IP length (IPv4 total length, with the header checksum redone; IPv6 payload length) for a packet
    /// that ends where the frame does.
    pub(super) fn set_ip_length(&mut self) {
        let (ip, end) = (self.layout.ip, self.layout.end);
        if self.layout.ipv6 {
            let payload = (end - ip - 40) as u16;
            self.bytes.as_mut()[ip + 4..ip + 6].copy_from_slice(&payload.to_be_bytes());
        } else {
            let total = (end - ip) as u16;
            self.bytes.as_mut()[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
            self.fill_ipv4_header_checksum();
        }
    }

    fn fill_ipv4_header_checksum(&mut self) {
        let (ip, tcp) = (self.layout.ip, self.layout.tcp);
        let bytes = self.bytes.as_mut();
        bytes[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
        let sum = checksum(0, &bytes[ip..tcp]);
        bytes[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
    }

    /// `at` is a field's offset in the TCP header: its parity places the bytes in the checksum's 16-bit words.
    fn update_u32(&mut self, at: usize, new: impl FnOnce(u32) -> u32) {
        let field = &mut self.bytes.as_mut()[self.layout.tcp + at..][..4];
        let old = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
        let new = new(old);
        field.copy_from_slice(&new.to_be_bytes());
        self.adjust_checksum(|checksum| adjust_u32(checksum, at, old, new));
    }

    fn update_u16(&mut self, at: usize, new: impl FnOnce(u16) -> u16) {
        let field = &mut self.bytes.as_mut()[self.layout.tcp + at..][..2];
        let old = u16::from_be_bytes([field[0], field[1]]);
        let new = new(old);
        field.copy_from_slice(&new.to_be_bytes());
        self.adjust_checksum(|checksum| adjust_u16(checksum, at, old, new));
    }

    /// Applies an incremental update (RFC 1624) to the checksum field. A partial checksum (the pseudo-header sum
    /// only) is left alone: the bytes are summed on egress, after the edit, and no edit here touches the
    /// pseudo-header's fields (addresses, protocol, length).
    fn adjust_checksum(&mut self, adjust: impl FnOnce(u16) -> u16) {
        if self.checksum_partial {
            return;
        }
        let adjusted = adjust(self.checksum());
        self.set_checksum(adjusted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::craft::{EthernetSpec, TcpSpec, ip_between, linux_syn_options, tcp_frame, timestamp_option};

    fn frame(src: &str, dst: &str, vlans: &[u16], options: &[u8], payload: &[u8]) -> Vec<u8> {
        let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        let mut out = Vec::new();
        tcp_frame(
            &mut out,
            Some(&EthernetSpec { src: [2; 6], dst: [4; 6], vlans }),
            &ip_between(src, dst, 64, 1),
            &TcpSpec {
                src_port: src.port(),
                dst_port: dst.port(),
                seq: 1000,
                ack: 2000,
                flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
                window: 501,
                options,
                payload,
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn getters_read_owned_and_borrowed_frames_alike() {
        let options = linux_syn_options(1460, 7, 0, 7);
        for (src, dst, vlans) in [
            ("10.0.0.1:4000", "10.0.0.2:80", &[][..]),
            ("10.0.0.1:4000", "10.0.0.2:80", &[5, 6][..]),
            ("[fd00::1]:4000", "[fd00::2]:80", &[7][..]),
        ] {
            let mut bytes = frame(src, dst, vlans, &options, b"hello");
            bytes.extend_from_slice(&[0; 6]); // Ethernet padding: not payload
            let borrowed = TcpFrame::new_checked(bytes.as_slice()).unwrap();
            assert_eq!((borrowed.src(), borrowed.dst()), (src.parse().unwrap(), dst.parse().unwrap()));
            assert_eq!((borrowed.src_mac(), borrowed.dst_mac()), ([2; 6], [4; 6]));
            assert_eq!((borrowed.seq(), borrowed.ack(), borrowed.window()), (1000, 2000, 501));
            assert_eq!(borrowed.flags(), TcpFlags(TcpFlags::ACK | TcpFlags::PSH));
            assert_eq!((borrowed.options(), borrowed.payload()), (&options[..], &b"hello"[..]));
            assert_eq!((borrowed.tagged(), borrowed.is_ipv6()), (!vlans.is_empty(), src.starts_with('[')));
            assert_eq!(borrowed.headers_len() + 5 + 6, bytes.len());
            assert_eq!((borrowed.into_options(), borrowed.into_payload()), (borrowed.options(), borrowed.payload()));
            assert!(borrowed.checksum_is_valid());
            let owned = TcpFrame::new_checked(bytes.clone()).unwrap();
            assert_eq!((owned.src(), owned.payload()), (borrowed.src(), borrowed.payload()));
            assert_eq!(owned.into_inner(), bytes);
        }
    }

    #[test]
    fn anything_but_a_whole_tcp_segment_is_refused() {
        let bytes = frame("10.0.0.1:4000", "10.0.0.2:80", &[], &[], b"");
        for cut in [0, 13, 33, bytes.len() - 1] {
            assert_eq!(TcpFrame::new_checked(&bytes[..cut]).err(), Some(NotTcp), "cut at {cut}");
        }
        let mut short_offset = bytes.clone();
        short_offset[14 + 20 + 12] = 4 << 4; // a data offset of 16 bytes: shorter than the fixed header
        assert_eq!(TcpFrame::new_checked(short_offset).err(), Some(NotTcp));
    }

    #[test]
    fn updates_keep_the_checksum_valid_and_a_partial_one_untouched() {
        let options = timestamp_option(5, 6);
        for (src, dst) in [("10.0.0.1:4000", "10.0.0.2:80"), ("[fd00::1]:4000", "[fd00::2]:80")] {
            let bytes = frame(src, dst, &[3], &options, b"odd");
            let mut edited = TcpFrame::new_checked(bytes.clone()).unwrap();
            edited.update_seq(|seq| seq.wrapping_add(0xdead_beef));
            edited.update_ack(|ack| ack - 1);
            edited.update_window(|window| window * 2);
            // The TSval sits 4 bytes into the options (after NOP, NOP, kind, length): an even offset; TSecr at 8.
            edited.update_option_u32(4, |tsval| tsval + 1);
            edited.update_option_u32(8, |tsecr| tsecr + 1);
            assert_eq!((edited.seq(), edited.ack(), edited.window()), (1000u32.wrapping_add(0xdead_beef), 1999, 1002));
            assert_eq!(edited.options(), &timestamp_option(6, 7));
            assert!(edited.checksum_is_valid(), "{src}: the incremental updates");

            let mut partial = TcpFrame::new_checked(bytes.clone()).unwrap().with_partial_checksum(true);
            partial.update_seq(|seq| seq + 1);
            assert_eq!((partial.seq(), partial.checksum()), (1001, TcpFrame::new_checked(&bytes).unwrap().checksum()));
            partial.fill_checksum();
            assert!(partial.checksum_is_valid() && !partial.checksum_partial());
        }
    }

    #[test]
    #[should_panic(expected = "past the TCP header")]
    fn an_option_update_stays_in_the_options() {
        let mut edited = TcpFrame::new_checked(frame("10.0.0.1:4000", "10.0.0.2:80", &[], &[1; 8], b"data")).unwrap();
        edited.update_option_u32(5, |value| value);
    }
}
