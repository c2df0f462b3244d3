//! The link-level text tcpdump prints before the IP line even without `-e`: radiotap's rate, channel and signal,
//! PPP-in-HDLC's protocol name, PPPoE's session, MPLS's label stack, Frame Relay's pad notes. Everything else about a
//! link header is `-e`'s business ([`super::link_header`]), or not shown, as tcpdump does for VLAN tags; the -e text
//! tcpdump prints after these notes (the 802.11 header after radiotap's fields, PPP's protocol after PPPoE or Frame
//! Relay) is written here, in its place.

use std::fmt::Write;

use crate::wire::link::{ppp, radiotap};
use crate::wire::packet::{Encap, Net};
use crate::wire::{LinkType, Packet};

/// Writes the prefix for an IP packet (`frame` is the captured frame, which radiotap's fields are read from).
/// `link_header` (-e): the parts of the -e text that tcpdump prints after these notes come in their place (the
/// 802.11 header after radiotap's fields, PPP's protocol after PPPoE or Frame Relay).
pub fn write(line: &mut String, packet: &Packet<'_>, frame: &[u8], orig_len: u32, link_header: bool) {
    if !matches!(packet.net, Net::Ipv4(_) | Net::Ipv6(_)) {
        return;
    }
    match packet.link.link_type {
        LinkType::Radiotap => {
            write_radiotap(line, frame);
            if link_header {
                super::link_header::radiotap_inner(line, frame, orig_len);
            }
        }
        // print-ppp.c's ppp_hdlc_if_print names the protocol before the packet; the other PPP printers do not.
        LinkType::PppSerial => {
            if let Some(Encap::Ppp { protocol }) = packet.link.encaps.as_slice().first()
                && let Some(name) = ppp::protocol_name(*protocol)
            {
                let _ = write!(line, "{name}: ");
            }
        }
        _ => {}
    }
    // Bytes of the packet on the wire that the capture cut off (snap length): a PPPoE length is judged against the
    // wire, as tcpdump's is.
    let cut = (orig_len as usize).saturating_sub(frame.len());
    let ppp_shown = link_header.then_some(PppContext { link_type: packet.link.link_type, orig_len });
    write_encaps(line, packet.link.encaps.as_slice(), cut, ppp_shown);
}

/// What -e's PPP text needs to know of where a PPP header sits: on a PPP link it starts the frame.
#[derive(Clone, Copy)]
struct PppContext {
    link_type: LinkType,
    orig_len: u32,
}

/// Writes the whole text for a packet of a protocol `text` shows by EtherType alone but tcpdump decodes and this
/// module can too (PPPoE discovery); `false`, writing nothing, for the others.
pub fn write_undecoded(line: &mut String, packet: &Packet<'_>, frame: &[u8], orig_len: u32) -> bool {
    match packet.net {
        Net::Other { ether_type: 0x8863 } => {
            let at = usize::from(packet.link.header_len);
            let on_wire = (orig_len as usize).saturating_sub(at);
            super::pppoe::write_discovery(line, frame.get(at..).unwrap_or_default(), on_wire);
            true
        }
        _ => false,
    }
}

/// print-pppoe.c: ` [ver N]` and ` [type N]` when not 1, `PPPoE`, the code's name (empty for session data),
/// ` [len N > M!]` when the length field claims more than the wire holds after the header, the session if not 0,
/// then the payload after a space; print-mpls.c: `MPLS` and each label entry in parentheses, then a space. `cut` is
/// how many bytes of the packet the capture did not keep. With `ppp_shown` (-e), print-ppp.c's ppp_print text for a
/// PPP header, with the length the wire holds from that header on: the frame's on a PPP link, the PPPoE payload's
/// (its length field, capped at the wire as pppoe_print caps it), or what follows Frame Relay's header.
fn write_encaps(line: &mut String, encaps: &[Encap], cut: usize, ppp_shown: Option<PppContext>) {
    let mut in_mpls = false;
    // The wire's length from the next header on, where it is known.
    let mut ppp_length = ppp_shown.and_then(|c| (c.link_type == LinkType::Ppp).then_some(c.orig_len));
    for encap in encaps {
        match *encap {
            Encap::PppoeSession { version_type, code: _, session, length, captured_after } => {
                let (version, kind) = (version_type >> 4, version_type & 0x0f);
                if version != 1 {
                    let _ = write!(line, " [ver {version}]");
                }
                if kind != 1 {
                    let _ = write!(line, " [type {kind}]");
                }
                line.push_str("PPPoE ");
                let on_wire = usize::from(captured_after) + cut;
                if usize::from(length) > on_wire {
                    let _ = write!(line, " [len {length} > {on_wire}!]");
                }
                ppp_length = Some(usize::from(length).min(on_wire) as u32);
                if session != 0 {
                    let _ = write!(line, " [ses 0x{session:x}]");
                }
                line.push(' ');
            }
            Encap::Mpls { label, tc, bottom, ttl } => {
                if !in_mpls {
                    line.push_str("MPLS");
                    in_mpls = true;
                }
                let _ = write!(line, " (label {label}, tc {tc}");
                if bottom {
                    line.push_str(", [S]");
                }
                let _ = write!(line, ", ttl {ttl})");
                if bottom {
                    line.push(' ');
                    in_mpls = false;
                }
            }
            // print-fr.c's notes on a pad byte where it expects none, or none where it expects one. Under -e they
            // lead the Frame Relay header's text, which link_header writes with them.
            Encap::FrameRelay { address_len, padded } => {
                let header_len = u32::from(address_len) + if padded { 3 } else { 2 };
                ppp_length = ppp_shown.map(|c| c.orig_len.saturating_sub(header_len));
                let shown_by_link_header = ppp_shown.is_some();
                if !shown_by_link_header && padded && address_len != 3 {
                    line.push_str("Pad! ");
                } else if !shown_by_link_header && !padded && address_len == 3 {
                    line.push_str("No pad! ");
                }
            }
            // ppp_print's `NAME (0xNNNN), length N: ` under -e; PPP-in-HDLC names the protocol its own way (above,
            // and `ff 03 N ` under -e).
            Encap::Ppp { protocol } => {
                if let Some(context) = ppp_shown
                    && context.link_type != LinkType::PppSerial
                    && let Some(length) = ppp_length
                {
                    super::link_header::ppp(line, protocol, length);
                }
                ppp_length = None;
            }
            // tcpdump 4.99 does not decode 802.1ah, VN-Tag or FabricPath (it prints an unknown EtherType and the
            // bytes): nothing here, as for VLAN tags.
            Encap::Pbb { .. } | Encap::VnTag { .. } | Encap::FabricPath { .. } => {}
        }
    }
}

/// print-802_11.c's print_radiotap_field, field by field in presence-bit order, each followed by a space. It
/// stops where tcpdump would print something this does not reproduce (the rate of an unequal-modulation MCS, 33
/// to 76, and dB TX attenuation, which tcpdump 4.99 reads as one byte where radiotap defines two), and prints
/// `[bit N]` and stops at a field tcpdump does not know, as tcpdump does.
fn write_radiotap(line: &mut String, frame: &[u8]) {
    let present = radiotap::present(frame);
    let has = |bit: u32| present & (1 << bit) != 0;
    for field in radiotap::fields(frame) {
        match field {
            radiotap::Field::Tsft(us) => {
                let _ = write!(line, "{us}us tsft ");
            }
            radiotap::Field::Flags(flags) => {
                for (bit, text) in [
                    (radiotap::F_CFP, "cfp "),
                    (radiotap::F_SHORT_PREAMBLE, "short preamble "),
                    (radiotap::F_WEP, "wep "),
                    (radiotap::F_FRAGMENTED, "fragmented "),
                    (radiotap::F_BAD_FCS, "bad-fcs "),
                ] {
                    if flags & bit != 0 {
                        line.push_str(text);
                    }
                }
            }
            // 0x80-0x8f is an MCS index on FreeBSD, tcpdump guesses; otherwise 500 kb/s units.
            radiotap::Field::Rate(rate @ 0x80..=0x8f) => {
                let _ = write!(line, "MCS {} ", rate & 0x7f);
            }
            radiotap::Field::Rate(rate) => {
                let _ = write!(line, "{:.1} Mb/s ", f64::from(rate) * 0.5);
            }
            radiotap::Field::Channel { freq, flags } => {
                // The extended channel field says it better when both are there.
                if !has(radiotap::BIT_XCHANNEL) {
                    write_channel(line, freq, u32::from(flags), has(radiotap::BIT_MCS));
                }
            }
            radiotap::Field::XChannel { flags, freq } => write_channel(line, freq, flags, has(radiotap::BIT_MCS)),
            radiotap::Field::Fhss { hop_set, hop_pattern } => {
                let _ = write!(line, "fhset {hop_set} fhpat {hop_pattern} ");
            }
            radiotap::Field::DbmSignal(dbm) => {
                let _ = write!(line, "{dbm}dBm signal ");
            }
            radiotap::Field::DbmNoise(dbm) => {
                let _ = write!(line, "{dbm}dBm noise ");
            }
            radiotap::Field::LockQuality(q) => {
                let _ = write!(line, "{q} sq ");
            }
            radiotap::Field::TxAttenuation(att) => {
                let _ = write!(line, "{} tx power ", -i32::from(att as i16));
            }
            radiotap::Field::DbmTxPower(dbm) => {
                let _ = write!(line, "{dbm}dBm tx power ");
            }
            radiotap::Field::Antenna(antenna) => {
                let _ = write!(line, "antenna {antenna} ");
            }
            radiotap::Field::DbSignal(db) => {
                let _ = write!(line, "{db}dB signal ");
            }
            radiotap::Field::DbNoise(db) => {
                let _ = write!(line, "{db}dB noise ");
            }
            radiotap::Field::RxFlags(_) | radiotap::Field::AmpduStatus => {}
            radiotap::Field::Mcs { known, flags, index } => {
                if !write_mcs(line, known, flags, index) {
                    return;
                }
            }
            radiotap::Field::Vht { known, flags, bandwidth, mcs_nss, coding } => {
                write_vht(line, known, flags, bandwidth, mcs_nss, coding)
            }
            radiotap::Field::DbTxAttenuation(_) => return,
            radiotap::Field::Unread { bit } => {
                let _ = write!(line, "[bit {bit}] ");
                return;
            }
        }
    }
}

/// Channel flags (net80211's IEEE80211_CHAN_*), as print_chaninfo reads them.
const CHAN_TURBO: u32 = 0x0010;
const CHAN_CCK: u32 = 0x0020;
const CHAN_OFDM: u32 = 0x0040;
const CHAN_2GHZ: u32 = 0x0080;
const CHAN_5GHZ: u32 = 0x0100;
const CHAN_DYN: u32 = 0x0400;
const CHAN_GFSK: u32 = 0x0800;
const CHAN_HALF: u32 = 0x4000;
const CHAN_QUARTER: u32 = 0x8000;
const CHAN_HT20: u32 = 0x1_0000;
const CHAN_HT40U: u32 = 0x2_0000;
const CHAN_HT40D: u32 = 0x4_0000;

/// print_chaninfo: the frequency, the PHY the flags name (11n whenever an MCS field is present), the HT width.
fn write_channel(line: &mut String, freq: u16, flags: u32, mcs: bool) {
    let all = |bits: u32| flags & bits == bits;
    let width = |line: &mut String, phy: &str| {
        line.push_str(phy);
        if flags & CHAN_HALF != 0 {
            line.push_str("/10Mhz");
        } else if flags & CHAN_QUARTER != 0 {
            line.push_str("/5Mhz");
        }
    };
    let _ = write!(line, "{freq} MHz");
    if mcs {
        line.push_str(" 11n");
    } else {
        if all(CHAN_2GHZ | CHAN_GFSK) {
            line.push_str(" FHSS");
        }
        if all(CHAN_5GHZ | CHAN_OFDM) {
            width(line, " 11a");
        }
        if all(CHAN_2GHZ | CHAN_OFDM) || all(CHAN_2GHZ | CHAN_DYN) {
            width(line, " 11g");
        } else if all(CHAN_2GHZ | CHAN_CCK) {
            line.push_str(" 11b");
        }
        if flags & CHAN_TURBO != 0 {
            line.push_str(" Turbo");
        }
    }
    if flags & CHAN_HT20 != 0 {
        line.push_str(" ht/20");
    } else if flags & CHAN_HT40D != 0 {
        line.push_str(" ht/40-");
    } else if flags & CHAN_HT40U != 0 {
        line.push_str(" ht/40+");
    }
    line.push(' ');
}

/// The MCS field's known bits and flags (radiotap.org's MCS field).
const MCS_BANDWIDTH_KNOWN: u8 = 0x01;
const MCS_INDEX_KNOWN: u8 = 0x02;
const MCS_GI_KNOWN: u8 = 0x04;
const MCS_FORMAT_KNOWN: u8 = 0x08;
const MCS_FEC_KNOWN: u8 = 0x10;
const MCS_STBC_KNOWN: u8 = 0x20;
const MCS_SHORT_GI: u8 = 0x04;
const MCS_GREENFIELD: u8 = 0x08;
const MCS_LDPC: u8 = 0x10;

/// The MCS field as tcpdump prints it: the HT data rate and index, bandwidth, guard interval, format, FEC, STBC.
/// `false` when tcpdump would print a rate this does not compute (unequal modulation, MCS 33 to 76).
fn write_mcs(line: &mut String, known: u8, flags: u8, index: u8) -> bool {
    if known & MCS_INDEX_KNOWN != 0 {
        let rate = if known & (MCS_BANDWIDTH_KNOWN | MCS_GI_KNOWN) != 0 {
            match ht_rate(index, flags & 0x03 == 1, flags & MCS_SHORT_GI != 0) {
                Some(rate) => rate,
                None if index <= 76 => return false,
                None => 0.0,
            }
        } else {
            0.0
        };
        if rate != 0.0 {
            let _ = write!(line, "{rate:.1} Mb/s MCS {index} ");
        } else {
            let _ = write!(line, "MCS {index} ");
        }
    }
    if known & MCS_BANDWIDTH_KNOWN != 0 {
        line.push_str(["20 MHz ", "40 MHz ", "20 MHz (L) ", "20 MHz (U) "][usize::from(flags & 0x03)]);
    }
    if known & MCS_GI_KNOWN != 0 {
        line.push_str(if flags & MCS_SHORT_GI != 0 { "short GI " } else { "long GI " });
    }
    if known & MCS_FORMAT_KNOWN != 0 {
        line.push_str(if flags & MCS_GREENFIELD != 0 { "greenfield " } else { "mixed " });
    }
    if known & MCS_FEC_KNOWN != 0 {
        line.push_str(if flags & MCS_LDPC != 0 { "LDPC FEC " } else { "BCC FEC " });
    }
    if known & MCS_STBC_KNOWN != 0 {
        let _ = write!(line, "RX-STBC{} ", (flags & 0x60) >> 5);
    }
    true
}

/// The HT PHY data rate in Mb/s (IEEE 802.11-2020 §19.5, equal modulation): data subcarriers (52 at 20 MHz, 108 at
/// 40) times coded bits per subcarrier per stream, times streams, over the symbol time (4 µs, 3.6 µs with the
/// short guard interval). MCS 32 is 40 MHz only, BPSK 1/2 on 48 subcarriers. `Some(0.0)` where no such rate
/// exists, `None` for unequal modulation (33-76) and beyond.
fn ht_rate(index: u8, wide: bool, short_gi: bool) -> Option<f64> {
    let symbol_us = if short_gi { 3.6 } else { 4.0 };
    if index == 32 {
        return Some(if wide { 48.0 * 0.5 / symbol_us } else { 0.0 });
    }
    if index > 31 {
        return None;
    }
    // Bits per subcarrier times coding rate: BPSK 1/2, QPSK 1/2, QPSK 3/4, 16-QAM 1/2, 16-QAM 3/4, 64-QAM 2/3, 3/4,
    // 5/6.
    let bits = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 5.0][usize::from(index % 8)];
    let streams = f64::from(index / 8 + 1);
    let subcarriers = if wide { 108.0 } else { 52.0 };
    Some(subcarriers * bits * streams / symbol_us)
}

/// The VHT field as tcpdump prints it: each user's MCS and FEC, the bandwidth and the guard interval.
fn write_vht(line: &mut String, known: u16, flags: u8, bandwidth: u8, mcs_nss: [u8; 4], coding: u8) {
    for (user, byte) in mcs_nss.iter().enumerate() {
        if byte & 0x0f == 0 {
            continue;
        }
        let fec = if coding & (1 << user) != 0 { "LDPC" } else { "BCC" };
        let _ = write!(line, "User {user} MCS {} {fec} FEC ", byte >> 4);
    }
    if known & 0x0040 != 0 {
        // tcpdump's names, its repeated "(UUU)" at 21 included.
        const NAMES: [&str; 26] = [
            "20 MHz",
            "40 MHz",
            "20 MHz (L)",
            "20 MHz (U)",
            "80 MHz",
            "80 MHz (L)",
            "80 MHz (U)",
            "80 MHz (LL)",
            "80 MHz (LU)",
            "80 MHz (UL)",
            "80 MHz (UU)",
            "160 MHz",
            "160 MHz (L)",
            "160 MHz (U)",
            "160 MHz (LL)",
            "160 MHz (LU)",
            "160 MHz (UL)",
            "160 MHz (UU)",
            "160 MHz (LLL)",
            "160 MHz (LLU)",
            "160 MHz (LUL)",
            "160 MHz (UUU)",
            "160 MHz (ULL)",
            "160 MHz (ULU)",
            "160 MHz (UUL)",
            "160 MHz (UUU)",
        ];
        let index = bandwidth & 0x1f;
        match NAMES.get(usize::from(index)) {
            Some(name) => {
                let _ = write!(line, "{name} ");
            }
            None => {
                let _ = write!(line, "unknown ({index}) ");
            }
        }
    }
    if known & 0x0004 != 0 {
        line.push_str(if flags & 0x04 != 0 { "short GI " } else { "long GI " });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ht_rates_follow_the_phy_tables() {
        let rate = |index, wide, short| ht_rate(index, wide, short).map(|r| format!("{r:.1}"));
        assert_eq!(rate(0, false, false).as_deref(), Some("6.5"));
        assert_eq!(rate(7, false, false).as_deref(), Some("65.0"));
        assert_eq!(rate(7, false, true).as_deref(), Some("72.2"));
        assert_eq!(rate(7, true, true).as_deref(), Some("150.0"));
        assert_eq!(rate(31, true, true).as_deref(), Some("600.0"));
        assert_eq!(rate(32, true, true).as_deref(), Some("6.7"));
        assert_eq!(rate(32, false, false).as_deref(), Some("0.0"));
        assert_eq!(rate(33, false, false), None);
    }

    #[test]
    fn unequal_modulation_stops_the_radiotap_text() {
        let mut line = String::new();
        assert!(!write_mcs(&mut line, MCS_INDEX_KNOWN | MCS_BANDWIDTH_KNOWN, 0, 40));
        assert!(line.is_empty());
        // Without bandwidth and guard interval tcpdump gives no rate, just the index.
        assert!(write_mcs(&mut line, MCS_INDEX_KNOWN, 0, 40));
        assert_eq!(line, "MCS 40 ");
    }
}
