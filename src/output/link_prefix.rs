//! The link-level text tcpdump prints before the IP line even without `-e`: radiotap's rate, channel and signal,
//! PPP-in-HDLC's protocol name, PPPoE's session, MPLS's label stack. Everything else about a link header is
//! `-e`'s business (`text::write_link_header`), or not shown, as tcpdump does for VLAN tags.

use std::fmt::Write;

use crate::wire::link::{ppp, radiotap};
use crate::wire::packet::{Encap, Net};
use crate::wire::{LinkType, Packet};

/// Writes the prefix for an IP packet (`frame` is the captured frame, which radiotap's fields are read from).
pub fn write(line: &mut String, packet: &Packet<'_>, frame: &[u8]) {
    if !matches!(packet.net, Net::Ipv4(_) | Net::Ipv6(_)) {
        return;
    }
    match packet.link.link_type {
        LinkType::Radiotap => write_radiotap(line, frame),
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
    write_encaps(line, packet.link.encaps.as_slice());
}

/// print-pppoe.c: `PPPoE`, the code's name (empty for session data), the session if not 0, then the payload
/// after a space; print-mpls.c: `MPLS` and each label entry in parentheses, then a space.
fn write_encaps(line: &mut String, encaps: &[Encap]) {
    let mut in_mpls = false;
    for encap in encaps {
        match *encap {
            Encap::PppoeSession { code: _, session } => {
                line.push_str("PPPoE ");
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
            // tcpdump 4.99 does not decode 802.1ah, VN-Tag or FabricPath (it prints an unknown EtherType and the
            // bytes), and shows PPP's protocol only as above: nothing here, as for VLAN tags.
            Encap::Ppp { .. } | Encap::Pbb { .. } | Encap::VnTag { .. } | Encap::FabricPath { .. } => {}
        }
    }
}

/// print-802_11.c's print_radiotap_field, field by field in presence-bit order, each followed by a space. It
/// stops where tcpdump would print something this does not reproduce (MCS, A-MPDU and VHT details, and dB TX
/// attenuation, which tcpdump 4.99 reads as one byte where radiotap defines two), and prints `[bit N]` and stops
/// at a field tcpdump does not know, as tcpdump does.
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
            radiotap::Field::RxFlags(_) => {}
            radiotap::Field::DbTxAttenuation(_) => return,
            radiotap::Field::Unread { bit: 19..=21 } => return,
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
