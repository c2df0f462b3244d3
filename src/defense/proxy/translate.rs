//! Sequence-space translation for a proxied connection (RFC 4987 §3.8; netfilter's SYNPROXY does the same in
//! `synproxy_tstamp_adjust` and the conntrack seqadj helper).
//!
//! The client was answered by the proxy, with the proxy's ISN and timestamp clock; the listener later chose its own.
//! From then on every segment crosses the guard rewritten, so each end sees only the numbers it agreed to:
//!
//! - listener → client: `seq += delta`, `TSval += ts_delta`;
//! - client → listener: `ack -= delta`, every SACK block edge `-= delta`, `TSecr -= ts_delta`.
//!
//! `delta = proxy_isn - listener_isn`, `ts_delta = proxy_tsval - listener_tsval`, both mod 2^32. If the listener's
//! window scale differs from the one the proxy advertised, listener windows are rescaled for the client; if only one
//! half of the connection scales windows, the guard rescales client windows for the listener too
//! ([`rescale_window`], with the shifts the proxy table keeps beside the translation). Checksums are adjusted
//! incrementally (RFC 1624).

use crate::wire::tcp_frame::TcpFrame;
use crate::wire::tcp_options::{MAX_WINDOW_SCALE, OptionWalk};

const OPT_SACK: u8 = 5;
const OPT_TIMESTAMP: u8 = 8;

/// How one proxied connection's numbers differ between its two halves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Translation {
    /// proxy ISN − listener ISN.
    pub seq_delta: u32,
    /// proxy TSval − listener TSval, when both sides use timestamps.
    pub ts_delta: Option<u32>,
    /// The window scale the listener uses and the one the proxy told the client, when they differ.
    pub window_rescale: Option<(u8, u8)>,
}

impl Translation {
    /// Rewrites a listener → client segment in place.
    pub fn to_client<T: AsRef<[u8]> + AsMut<[u8]>>(&self, segment: &mut TcpFrame<T>) {
        segment.update_seq(|seq| seq.wrapping_add(self.seq_delta));
        if let Some((from, to)) = self.window_rescale {
            segment.update_window(|window| rescale(window, from, to));
        }
        if let Some(ts_delta) = self.ts_delta {
            each_option(segment, |segment, kind, at, _| {
                if kind == OPT_TIMESTAMP {
                    segment.update_option_u32(at + 2, |tsval| tsval.wrapping_add(ts_delta));
                }
            });
        }
    }

    /// Rewrites a client → listener segment in place.
    pub fn to_server<T: AsRef<[u8]> + AsMut<[u8]>>(&self, segment: &mut TcpFrame<T>) {
        if segment.flags().ack() {
            segment.update_ack(|ack| ack.wrapping_sub(self.seq_delta));
        }
        let (delta, ts_delta) = (self.seq_delta, self.ts_delta);
        each_option(segment, |segment, kind, at, len| match kind {
            OPT_SACK => {
                let mut edge = at + 2;
                while edge + 4 <= at + len {
                    segment.update_option_u32(edge, |edge| edge.wrapping_sub(delta));
                    edge += 4;
                }
            }
            OPT_TIMESTAMP => {
                if let Some(ts_delta) = ts_delta {
                    segment.update_option_u32(at + 6, |tsecr| tsecr.wrapping_sub(ts_delta));
                }
            }
            _ => {}
        });
    }
}

/// A window sent with shift `from`, for a reader that applies shift `to`: rounded down (never more than the sender
/// offered) and saturated at 16 bits.
pub fn rescale(window: u16, from: u8, to: u8) -> u16 {
    // Both shifts are clamped where options are read; clamp again so no caller can make this shift overflow
    // (RFC 7323 §2.3). 0xFFFF << 14 still fits in 32 bits.
    let (from, to) = (from.min(MAX_WINDOW_SCALE), to.min(MAX_WINDOW_SCALE));
    ((u32::from(window) << from) >> to).min(0xFFFF) as u16
}

/// Rewrites a segment's window, sent with shift `from`, for a reader that applies shift `to` ([`rescale`]).
pub fn rescale_window<T: AsRef<[u8]> + AsMut<[u8]>>(segment: &mut TcpFrame<T>, (from, to): (u8, u8)) {
    segment.update_window(|window| rescale(window, from, to));
}

/// Calls `each(segment, kind, at, len)` for every SACK and timestamp option [`OptionWalk`] frames whose length is
/// right for its kind, `at` being its kind byte's offset in the options. One with a wrong length is skipped,
/// untranslated, and the walk goes on after it (its length byte still says where the next option starts). The walk
/// stops at End of option list and at an option whose length byte is missing, below 2 or past the header: nothing
/// from there on is translated. (The `proxy` fuzz target checks exactly this.)
fn each_option<T: AsRef<[u8]> + AsMut<[u8]>>(
    segment: &mut TcpFrame<T>,
    mut each: impl FnMut(&mut TcpFrame<T>, u8, usize, usize),
) {
    let mut walk = OptionWalk::default();
    // `each` rewrites option values only, never a kind or length byte, so the walk frames the same options from one
    // step to the next.
    while let Some(Ok(span)) = walk.step(segment.options()) {
        let translated = match span.kind {
            OPT_TIMESTAMP => span.len == 10,
            OPT_SACK => span.len >= 10 && (span.len - 2).is_multiple_of(8),
            _ => false,
        };
        if translated {
            each(segment, span.kind, span.offset, span.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::wire::craft::{EthernetSpec, IpSpec, TcpSpec, tcp_frame};
    use crate::wire::decode;
    use crate::wire::segment::TcpFlags;
    use crate::wire::vnet::VnetHeader;

    /// A segment with a timestamp option after a single NOP (an odd offset) and one SACK block.
    fn segment(seq: u32, ack: u32, tsval: u32, tsecr: u32, sack: (u32, u32)) -> Vec<u8> {
        segment_with(seq, ack, tsval, tsecr, sack, b"hello")
    }

    /// [`segment`] with another payload.
    fn segment_with(seq: u32, ack: u32, tsval: u32, tsecr: u32, sack: (u32, u32), payload: &[u8]) -> Vec<u8> {
        let (src, dst): (SocketAddr, SocketAddr) = ("10.0.0.1:4000".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
        let mut options = vec![1, 8, 10];
        options.extend_from_slice(&tsval.to_be_bytes());
        options.extend_from_slice(&tsecr.to_be_bytes());
        options.extend_from_slice(&[1, 1, 1, 5, 10]);
        options.extend_from_slice(&sack.0.to_be_bytes());
        options.extend_from_slice(&sack.1.to_be_bytes());
        assert_eq!(options.len() % 4, 0);
        let mut out = Vec::new();
        tcp_frame(
            &mut out,
            Some(&EthernetSpec { src: [2; 6], dst: [4; 6], vlans: &[] }),
            &IpSpec { src: src.ip(), dst: dst.ip(), ttl: 64, id: 1 },
            &TcpSpec {
                src_port: src.port(),
                dst_port: dst.port(),
                seq,
                ack,
                flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
                window: 512,
                options: &options,
                payload,
            },
        )
        .unwrap();
        out
    }

    /// The frame as it would be crafted with the given numbers: translation must give exactly these bytes,
    /// checksum included.
    fn assert_same(got: &[u8], want: &[u8]) {
        assert_eq!(got, want);
        let packet = decode(crate::wire::LinkType::Ethernet, got);
        assert!(packet.malformed.is_none());
    }

    const T: Translation = Translation { seq_delta: 0x1000_0000, ts_delta: Some(500), window_rescale: None };

    #[test]
    fn client_to_server_rewrites_ack_sack_and_echo() {
        let mut frame = TcpFrame::new_checked(segment(7, 0x1000_0064, 9, 1500, (0x1000_00c8, 0x1000_012c))).unwrap();
        T.to_server(&mut frame);
        assert_same(frame.as_bytes(), &segment(7, 0x64, 9, 1000, (0xc8, 0x12c)));
    }

    /// A client's segment acknowledging `ack`, with `options` (a multiple of 4 bytes).
    fn with_options(ack: u32, options: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        tcp_frame(
            &mut out,
            Some(&EthernetSpec { src: [2; 6], dst: [4; 6], vlans: &[] }),
            &IpSpec { src: "10.0.0.1".parse().unwrap(), dst: "10.0.0.2".parse().unwrap(), ttl: 64, id: 1 },
            &TcpSpec {
                src_port: 4000,
                dst_port: 80,
                seq: 7,
                ack,
                flags: TcpFlags(TcpFlags::ACK),
                window: 512,
                options,
                payload: b"",
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn a_wrong_length_is_skipped_and_a_bad_length_ends_the_rewrite() {
        let ts = |ecr: u32| [&[8, 10, 0, 0, 0, 9][..], &ecr.to_be_bytes()].concat();
        // A SACK option of 11 bytes is skipped, untranslated, and the timestamps after it are translated.
        let skipped = [&[5, 11][..], &[0xee; 9], &ts(1500), &[1, 1, 1]].concat();
        let mut frame = TcpFrame::new_checked(with_options(0x1000_0064, &skipped)).unwrap();
        T.to_server(&mut frame);
        assert_same(frame.as_bytes(), &with_options(0x64, &[&[5, 11][..], &[0xee; 9], &ts(1000), &[1, 1, 1]].concat()));
        // A length below 2 ends the walk: the timestamps before it are translated, those after it are not.
        let ended = [&ts(1500)[..], &[30, 0], &ts(1500), &[1, 1]].concat();
        let mut frame = TcpFrame::new_checked(with_options(0x1000_0064, &ended)).unwrap();
        T.to_server(&mut frame);
        assert_same(frame.as_bytes(), &with_options(0x64, &[&ts(1000)[..], &[30, 0], &ts(1500), &[1, 1]].concat()));
    }

    #[test]
    fn server_to_client_rewrites_seq_and_tsval() {
        let mut frame = TcpFrame::new_checked(segment(0xfff0_0000, 7, 1000, 9, (1, 2))).unwrap();
        T.to_client(&mut frame);
        assert_same(frame.as_bytes(), &segment(0x0ff0_0000, 7, 1500, 9, (1, 2)));
    }

    #[test]
    fn translating_there_and_back_is_the_identity_on_the_numbers() {
        let original = segment(123, 456, 789, 1011, (1213, 1415));
        let mut frame = TcpFrame::new_checked(original.clone()).unwrap();
        let t = Translation { seq_delta: 0xdead_beef, ts_delta: Some(0x8000_0001), window_rescale: None };
        t.to_client(&mut frame);
        // Undo with the inverse deltas on the same fields: seq and TSval come back.
        Translation { seq_delta: 0u32.wrapping_sub(0xdead_beef), ts_delta: Some(0u32.wrapping_sub(0x8000_0001)), ..t }
            .to_client(&mut frame);
        assert_same(frame.as_bytes(), &original);
    }

    #[test]
    fn a_window_scale_mismatch_rescales_listener_windows() {
        let mut frame = TcpFrame::new_checked(segment(1, 2, 3, 4, (5, 6))).unwrap();
        // 512 << 7 >> 9 = 128: the client multiplies by 2^9 and gets the listener's real window back.
        Translation { seq_delta: 0, ts_delta: None, window_rescale: Some((7, 9)) }.to_client(&mut frame);
        assert_eq!(frame.window(), 128);
        assert!(decode(crate::wire::LinkType::Ethernet, frame.as_bytes()).malformed.is_none());
    }

    /// A super-frame: `segment`'s options, 20 KB of payload, as the kernel hands it over from a veth (GSO, and a
    /// partial checksum: only the pseudo-header's sum in the field) or as it would be with a complete checksum.
    fn super_frame(seq: u32, ack: u32, partial: bool) -> (Vec<u8>, VnetHeader) {
        let payload: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
        let mut frame = TcpFrame::new_checked(segment_with(seq, ack, 1000, 2000, (ack + 3000, ack + 4000), &payload))
            .unwrap()
            .with_partial_checksum(partial);
        assert_eq!(frame.payload().len(), 20_000);
        if partial {
            // What Linux leaves in a CHECKSUM_PARTIAL segment: the folded pseudo-header sum, not complemented.
            let pseudo = frame.pseudo_header_sum();
            frame.set_checksum(pseudo as u16);
        }
        let csum_start = frame.as_bytes().len() - frame.tcp_segment().len();
        let vnet = VnetHeader {
            flags: if partial { crate::wire::vnet::F_NEEDS_CSUM } else { 0 },
            gso_type: crate::wire::vnet::GSO_TCPV4,
            gso_size: 1448,
            csum_start: csum_start as u16,
            csum_offset: 16,
            hdr_len: frame.headers_len() as u16,
        };
        (frame.into_inner(), vnet)
    }

    fn segmented(frame: &[u8], vnet: &VnetHeader) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        crate::wire::gso::segment(frame, vnet, &mut out).unwrap();
        out
    }

    /// Translating a super-frame once, then letting it be segmented, gives the bytes that translating every
    /// segment would: segmentation repeats the header with only seq, lengths and checksums changed. With a partial
    /// checksum, the translation leaves the field alone and segmentation completes it.
    #[test]
    fn a_super_frame_translated_whole_equals_its_segments_translated_one_by_one() {
        let rescale = Translation { window_rescale: Some((7, 9)), ..T };
        for partial in [false, true] {
            for (direction, translation) in [("to server", T), ("to client", rescale)] {
                let (whole, vnet) = super_frame(0xffff_f000, 0x1000_0064, partial);
                let (reference, _) = super_frame(0xffff_f000, 0x1000_0064, false);
                let translate = |frame: &mut TcpFrame<Vec<u8>>| {
                    if direction == "to server" { translation.to_server(frame) } else { translation.to_client(frame) }
                };
                let mut whole = TcpFrame::new_checked(whole).unwrap().with_partial_checksum(partial);
                translate(&mut whole);
                // Completing the checksum where the kernel would (skb_checksum_help: the sum from csum_start, the
                // seed in the field included) must give the frame translated with incremental updates.
                let mut completed = whole.clone();
                if partial {
                    let sum = crate::wire::checksum::checksum(0, completed.tcp_segment());
                    completed.set_checksum(sum);
                }
                let mut reference_whole = TcpFrame::new_checked(reference.clone()).unwrap();
                translate(&mut reference_whole);
                assert_eq!(completed.as_bytes(), reference_whole.as_bytes(), "partial {partial}, {direction}");
                let from_whole = segmented(whole.as_bytes(), &vnet);
                let one_by_one: Vec<Vec<u8>> = segmented(&reference, &vnet)
                    .into_iter()
                    .map(|seg| {
                        let mut seg = TcpFrame::new_checked(seg).unwrap();
                        translate(&mut seg);
                        seg.into_inner()
                    })
                    .collect();
                assert_eq!(from_whole.len(), 14);
                assert_eq!(from_whole, one_by_one, "partial {partial}, {direction}");
                for seg in &from_whole {
                    assert!(decode(crate::wire::LinkType::Ethernet, seg).malformed.is_none());
                }
            }
        }
    }
}
