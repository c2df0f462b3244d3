//! From what the kernel delivers to the frame a pcap reader expects: the outgoing copy on loopback skipped, a VLAN
//! tag the driver took out put back, a cooked header built for link types we capture in SOCK_DGRAM mode, and the
//! snap length applied. This is what libpcap's Linux backend does to the same frames (pcap-linux.c).

use super::ring::RingFrame;
use super::socket::LinkMode;
use crate::capture::FrameBatch;

/// `sll_pkttype` of a frame this host sent (include/uapi/linux/if_packet.h).
const PACKET_OUTGOING: u8 = 4;
/// Ethernet destination and source MACs: the VLAN tag goes after them.
const MAC_PAIR: usize = 12;
/// LINKTYPE_LINUX_SLL header length.
const SLL_HEADER: usize = 16;

/// What to do with the frames of one interface.
#[derive(Clone, Copy, Debug)]
pub struct Conversion {
    pub mode: LinkMode,
    /// On loopback every frame reaches a packet socket twice, once leaving (PACKET_OUTGOING) and once arriving;
    /// keep only the arriving copy, so each frame is seen once.
    pub skip_outgoing: bool,
    pub snaplen: u32,
}

/// Adds `frame` to `batch`, converted; returns false when it is skipped (the outgoing loopback copy).
pub fn push(conversion: &Conversion, frame: &RingFrame<'_>, batch: &mut FrameBatch) -> bool {
    if conversion.skip_outgoing && frame.packet_type == PACKET_OUTGOING {
        return false;
    }
    let snaplen = conversion.snaplen as usize;
    let link_type = conversion.mode.link_type();
    match conversion.mode {
        LinkMode::Cooked => {
            let header = cooked_header(frame);
            let room = snaplen.saturating_sub(SLL_HEADER);
            let data = &frame.data[..frame.data.len().min(room)];
            let orig_len = frame.len.saturating_add(SLL_HEADER as u32);
            batch.push_parts(frame.ts, link_type, orig_len, &[&header[..snaplen.min(SLL_HEADER)], data]);
        }
        LinkMode::Raw(_) => match frame.vlan {
            Some((tci, tpid)) if frame.data.len() >= MAC_PAIR && link_type == crate::wire::LinkType::Ethernet => {
                let mut tag = [0u8; 4];
                tag[..2].copy_from_slice(&tpid.to_be_bytes());
                tag[2..].copy_from_slice(&tci.to_be_bytes());
                let (macs, rest) = frame.data.split_at(MAC_PAIR);
                let rest = &rest[..rest.len().min(snaplen.saturating_sub(MAC_PAIR + 4))];
                batch.push_parts(frame.ts, link_type, frame.len.saturating_add(4), &[macs, &tag, rest]);
            }
            _ => {
                let data = &frame.data[..frame.data.len().min(snaplen)];
                batch.push_parts(frame.ts, link_type, frame.len, &[data]);
            }
        },
    }
    true
}

/// The 16-byte LINKTYPE_LINUX_SLL header: packet type, ARPHRD_ type, address length, address (padded to 8),
/// protocol; all big-endian (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html).
fn cooked_header(frame: &RingFrame<'_>) -> [u8; SLL_HEADER] {
    let mut header = [0u8; SLL_HEADER];
    header[0..2].copy_from_slice(&u16::from(frame.packet_type).to_be_bytes());
    header[2..4].copy_from_slice(&frame.hardware_type.to_be_bytes());
    header[4..6].copy_from_slice(&(frame.address.len() as u16).to_be_bytes());
    header[6..6 + frame.address.len()].copy_from_slice(frame.address);
    header[14..16].copy_from_slice(&frame.protocol.to_be_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;
    use crate::wire::LinkType;

    fn ring_frame(data: &[u8], packet_type: u8, vlan: Option<(u16, u16)>) -> RingFrame<'_> {
        RingFrame {
            ts: Timestamp::from_nanos(7),
            len: data.len() as u32,
            data,
            packet_type,
            protocol: 0x0800,
            hardware_type: 1,
            address: &[1, 2, 3, 4, 5, 6],
            vlan,
            checksum_pending: false,
        }
    }

    fn raw(skip_outgoing: bool, snaplen: u32) -> Conversion {
        Conversion { mode: LinkMode::Raw(LinkType::Ethernet), skip_outgoing, snaplen }
    }

    fn only(batch: &FrameBatch) -> (Vec<u8>, u32, LinkType) {
        assert_eq!(batch.len(), 1);
        let frame = batch.iter().next().unwrap();
        (frame.data.to_vec(), frame.orig_len, frame.link_type)
    }

    #[test]
    fn the_outgoing_copy_is_skipped_only_where_asked() {
        let data = [0u8; 20];
        let mut batch = FrameBatch::default();
        assert!(!push(&raw(true, 100), &ring_frame(&data, PACKET_OUTGOING, None), &mut batch));
        assert!(push(&raw(true, 100), &ring_frame(&data, 0, None), &mut batch));
        // Off loopback, what this host sends is traffic worth seeing.
        assert!(push(&raw(false, 100), &ring_frame(&data, PACKET_OUTGOING, None), &mut batch));
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn a_stripped_vlan_tag_is_put_back_after_the_macs() {
        let data: Vec<u8> = (0..20).collect();
        let mut batch = FrameBatch::default();
        push(&raw(false, 1000), &ring_frame(&data, 0, Some((0x0064, 0x8100))), &mut batch);
        let (bytes, orig_len, _) = only(&batch);
        assert_eq!(&bytes[..12], &data[..12]);
        assert_eq!(&bytes[12..16], &[0x81, 0x00, 0x00, 0x64]);
        assert_eq!(&bytes[16..], &data[12..]);
        assert_eq!(orig_len, 24);
    }

    #[test]
    fn the_snap_length_cuts_the_data_but_not_the_wire_length() {
        let data = [9u8; 300];
        let mut batch = FrameBatch::default();
        push(&raw(false, 96), &ring_frame(&data, 0, None), &mut batch);
        let (bytes, orig_len, _) = only(&batch);
        assert_eq!((bytes.len(), orig_len), (96, 300));
    }

    #[test]
    fn cooked_frames_get_an_sll_header() {
        let data = [0x45u8; 20];
        let mut batch = FrameBatch::default();
        let conversion = Conversion { mode: LinkMode::Cooked, skip_outgoing: false, snaplen: 1000 };
        push(&conversion, &ring_frame(&data, 0, None), &mut batch);
        let (bytes, orig_len, link) = only(&batch);
        assert_eq!(link, LinkType::LinuxSll);
        assert_eq!(&bytes[..16], &[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00]);
        assert_eq!((bytes.len(), orig_len), (36, 36));
    }
}
