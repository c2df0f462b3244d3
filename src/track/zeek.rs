//! Zeek's view of a connection: the two TCP endpoint states, the `history` letters and the `conn_state` summary that
//! conn.log reports. Pure: fed one packet at a time, no I/O, no clock.
//!
//! What this models, and where it comes from (facts, not code; everything here is written from scratch):
//!
//! - Field meanings, the `conn_state` values and the history letters with their repetition rules:
//!   <https://docs.zeek.org/en/current/scripts/base/protocols/conn/main.zeek.html> (`Conn::Info`).
//! - How `conn_state` is derived from the two endpoint states (`conn_state` in `base/protocols/conn/main.zeek`,
//!   including the RSTOS0 history pattern `^?S[^HAFGIQ]*R.*`), and how the TCP analyzer moves each endpoint between
//!   TCP_INACTIVE .. TCP_RESET on SYN, SYN-ACK, ACK, data, FIN and RST (Zeek's TCP analyzer, `UpdateStateMachine`
//!   and `update_history`, read for behaviour).
//!
//! Bounded: [`ZeekTcp`] is at most 48 bytes, so one sits in every tracked connection. That budget forces two
//! deliberate approximations, both documented where they apply:
//!
//! - The logarithmic letters (C G T W) count in a `u8`, so they appear at the 1st, 10th and 100th occurrence; Zeek
//!   would add a fourth at the 1000th.
//! - S/H, F and R repeat when the sequence number differs from the last one of that kind; we remember an 8-bit
//!   fingerprint of it (7 bits for RST), so a different number that hashes alike is missed (≈1/256).

use std::fmt;

use crate::wire::TcpFlags;

/// One endpoint's state as Zeek's TCP analyzer names it (`TCP_INACTIVE` .. `TCP_RESET`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ZeekState {
    /// Nothing seen from this endpoint yet (or only an early ACK of a SYN).
    #[default]
    Inactive,
    /// Sent a SYN.
    SynSent,
    /// Sent a SYN-ACK without having been sent a SYN (only an originator gets here).
    SynAckSent,
    /// Sent traffic without a SYN: we joined mid-stream.
    Partial,
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
}

/// Capacity of the history string.
const HISTORY_CAP: usize = 32;

/// Index into [`History::counts`] for each logarithmic letter; responder counters follow at `+4`.
const C_IDX: usize = 0;
const G_IDX: usize = 1;
const T_IDX: usize = 2;
const W_IDX: usize = 3;

/// Zeek's `history` string, inline and bounded: at most 32 letters, no heap. Letters past the cap are dropped.
///
/// Uppercase letters are the originator's, lowercase the responder's. The unused tail of the buffer is zero, so the
/// length needs no field of its own.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct History {
    letters: [u8; HISTORY_CAP],
    /// Occurrence counters for C G T W (originator), then c g t w, saturating.
    counts: [u8; 8],
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "History({:?})", self.as_str())
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl History {
    pub fn new() -> Self {
        History { letters: [0; HISTORY_CAP], counts: [0; 8] }
    }

    /// A history that starts with '^': Zeek flipped the roles because the first packet seen was a SYN-ACK, so the
    /// SYN-ACK's sender is the responder.
    pub fn flipped() -> Self {
        let mut h = History::new();
        h.push(b'^');
        h
    }

    /// The letters as bytes: only ASCII letters and '^' are ever stored.
    pub fn letters(&self) -> &[u8] {
        &self.letters[..self.len()]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters and '^' are ever stored.
        std::str::from_utf8(&self.letters[..self.len()]).unwrap_or_default()
    }

    /// The letters end at the first zero byte, found a word at a time: `ZeekTcp::packet` asks for the length (or
    /// whether a letter is there) a few times per packet, and the byte-by-byte search and `memchr` cost about 30
    /// instructions per packet of `read -q` (callgrind).
    pub fn len(&self) -> usize {
        for (i, word) in self.words().enumerate() {
            let zeros = zero_bytes(word);
            if zeros != 0 {
                // The lowest flagged byte is exact (see `zero_bytes`), and little-endian puts it first.
                return i * 8 + (zeros.trailing_zeros() / 8) as usize;
            }
        }
        HISTORY_CAP
    }

    /// The letters as little-endian words, eight at a time.
    fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.letters.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
    }

    pub fn is_empty(&self) -> bool {
        self.letters[0] == 0
    }

    /// A packet carrying retransmitted payload: 'T'/'t', logarithmic.
    pub fn retransmission(&mut self, from_orig: bool) {
        self.scaled(from_orig, T_IDX, b'T');
    }

    /// A content gap (bytes acknowledged but never seen): 'G'/'g', logarithmic.
    pub fn gap(&mut self, from_orig: bool) {
        self.scaled(from_orig, G_IDX, b'G');
    }

    /// A packet with a bad checksum: 'C'/'c', logarithmic (applies to UDP too).
    pub fn bad_checksum(&mut self, from_orig: bool) {
        self.scaled(from_orig, C_IDX, b'C');
    }

    /// A zero-window advertisement: 'W'/'w', logarithmic. [`ZeekTcp::packet`] decides when one counts.
    fn zero_window(&mut self, from_orig: bool) {
        self.scaled(from_orig, W_IDX, b'W');
    }

    fn push(&mut self, letter: u8) {
        let len = self.len();
        if len < HISTORY_CAP {
            self.letters[len] = letter;
        }
    }

    /// Every byte after the letters is zero and a letter never is, so the whole array can be searched, a word at a
    /// time: a byte equal to `letter` is a zero byte of the word XOR `letter` repeated.
    fn contains(&self, letter: u8) -> bool {
        debug_assert_ne!(letter, 0);
        let repeated = u64::from(letter) * ONES;
        self.words().any(|word| zero_bytes(word ^ repeated) != 0)
    }

    /// Records `upper` (or its lowercase form for the responder) unless that direction already has it: the
    /// once-per-direction rule for A, D, I and Q.
    pub(super) fn once(&mut self, from_orig: bool, upper: u8) {
        let letter = case(from_orig, upper);
        if !self.contains(letter) {
            self.push(letter);
        }
    }

    /// Zeek's logarithmic letters: recorded at the 1st, 10th, 100th ... occurrence. Our `u8` counter saturates, so
    /// the 1000th is never reached (see the module docs).
    fn scaled(&mut self, from_orig: bool, idx: usize, upper: u8) {
        let i = if from_orig { idx } else { idx + 4 };
        let n = self.counts[i].saturating_add(1);
        self.counts[i] = n;
        if matches!(n, 1 | 10 | 100) {
            self.push(case(from_orig, upper));
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `word` that is zero (Mycroft's test, as in "Bit Twiddling Hacks"). A borrow can also
/// flag a 0x01 byte above a zero byte, never below one, so the lowest flag is exact, and any flag at all means the
/// word holds a zero byte.
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & (ONES << 7)
}

fn case(from_orig: bool, upper: u8) -> u8 {
    if from_orig { upper } else { upper.to_ascii_lowercase() }
}

/// Zeek's summary of how a connection went (`conn_state` in conn.log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected.
    REJ,
    /// Established, close attempt by the originator seen (no reply from the responder).
    S2,
    /// Established, close attempt by the responder seen (no reply from the originator).
    S3,
    /// Established, originator aborted (sent a RST).
    RSTO,
    /// Responder sent a RST.
    RSTR,
    /// Originator sent a SYN then a RST; no SYN-ACK seen.
    RSTOS0,
    /// Responder sent a SYN-ACK then a RST; no SYN seen from the (purported) originator.
    RSTRH,
    /// Originator sent a SYN then a FIN; no SYN-ACK seen ("half" open).
    SH,
    /// Responder sent a SYN-ACK then a FIN; no SYN seen from the originator.
    SHR,
    /// No SYN seen, just midstream traffic.
    OTH,
}

impl ConnState {
    const NAMES: [&'static str; 13] =
        ["S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ConnState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `conn_state` for UDP, where Zeek only knows whether each side sent anything.
pub fn udp_conn_state(orig_seen: bool, resp_seen: bool) -> ConnState {
    match (orig_seen, resp_seen) {
        (true, true) => ConnState::SF,
        (true, false) => ConnState::S0,
        (false, true) => ConnState::SHR,
        (false, false) => ConnState::OTH,
    }
}

/// Per-direction memory for the S/H, F and R repetition rule: fingerprints of the last sequence number recorded for
/// each kind. Bit 7 of `rst` instead says whether this endpoint went CLOSED → RESET (a FIN, then a RST).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct RepeatMemory {
    syn: u8,
    fin: u8,
    rst: u8,
}

const CLOSED_THEN_RESET: u8 = 0x80;

/// Fibonacci hashing: nearby sequence numbers (a FIN one byte later) land far apart, so they rarely collide.
fn fingerprint(seq: u32) -> u8 {
    (seq.wrapping_mul(0x9E37_79B9) >> 24) as u8
}

/// Zeek's per-connection TCP view: both endpoint states plus the history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ZeekTcp {
    pub orig: ZeekState,
    pub resp: ZeekState,
    pub history: History,
    sides: [RepeatMemory; 2],
}

impl ZeekTcp {
    /// `flipped`: the first packet was a SYN-ACK, so the caller made its sender the responder (history starts '^').
    pub fn new(flipped: bool) -> Self {
        let history = if flipped { History::flipped() } else { History::new() };
        ZeekTcp { orig: ZeekState::Inactive, resp: ZeekState::Inactive, history, sides: [RepeatMemory::default(); 2] }
    }

    /// One TCP packet: updates both endpoint states and the history letters derived from the flags (S H A D F R W I
    /// Q). Retransmissions, gaps and bad checksums need sequence analysis and are reported through [`History`].
    pub fn packet(&mut self, from_orig: bool, flags: TcpFlags, seq: u32, payload_len: u32, window: u16) {
        self.letters(from_orig, flags, seq, payload_len);

        // Zero windows are boring with or after our own RST, or once the peer has sent a FIN. Zeek checks this
        // before the packet moves the state machine.
        let (me, peer) = self.pair(from_orig);
        if window == 0 && !flags.rst() && peer != ZeekState::Closed && me != ZeekState::Reset {
            self.history.zero_window(from_orig);
        }

        self.transition(from_orig, flags, payload_len);
    }

    /// The flag letters of one packet. SYN, FIN and RST are counted; two or more of them make one multi-flag letter
    /// (I for FIN+RST, else Q). Exactly one: S/H (SYN without/with ACK), F, R, repeated only for a new sequence
    /// number (for a FIN, the number after its payload). None: D for payload, else A for a pure ACK.
    fn letters(&mut self, from_orig: bool, flags: TcpFlags, seq: u32, payload_len: u32) {
        let side = usize::from(!from_orig);
        let bits = u8::from(flags.syn()) + u8::from(flags.fin()) + u8::from(flags.rst());
        if bits > 1 {
            let letter = if flags.fin() && flags.rst() { b'I' } else { b'Q' };
            self.history.once(from_orig, letter);
        } else if flags.syn() {
            let letter = if flags.ack() { b'H' } else { b'S' };
            // S and H share one "seen" flag and one last number per direction, as in Zeek.
            let seen = self.history.contains(case(from_orig, b'S')) || self.history.contains(case(from_orig, b'H'));
            let fp = fingerprint(seq);
            if !seen || self.sides[side].syn != fp {
                self.history.push(case(from_orig, letter));
            }
            self.sides[side].syn = fp;
        } else if flags.fin() {
            let fp = fingerprint(seq.wrapping_add(payload_len));
            if !self.history.contains(case(from_orig, b'F')) || self.sides[side].fin != fp {
                self.history.push(case(from_orig, b'F'));
            }
            self.sides[side].fin = fp;
        } else if flags.rst() {
            let fp = fingerprint(seq) >> 1;
            let rst = &mut self.sides[side].rst;
            let seen = self.history.contains(case(from_orig, b'R'));
            if !seen || *rst & !CLOSED_THEN_RESET != fp {
                self.history.push(case(from_orig, b'R'));
            }
            *rst = (*rst & CLOSED_THEN_RESET) | fp;
        } else if payload_len > 0 {
            self.history.once(from_orig, b'D');
        } else if flags.ack() {
            self.history.once(from_orig, b'A');
        }
    }

    fn pair(&self, from_orig: bool) -> (ZeekState, ZeekState) {
        if from_orig { (self.orig, self.resp) } else { (self.resp, self.orig) }
    }

    fn set(&mut self, orig_side: bool, new: ZeekState) {
        let (state, side) = if orig_side { (&mut self.orig, 0) } else { (&mut self.resp, 1) };
        let old = *state;
        if old == new {
            return;
        }
        *state = new;
        let rst = &mut self.sides[side].rst;
        if old == ZeekState::Closed && new == ZeekState::Reset {
            *rst |= CLOSED_THEN_RESET;
        } else {
            *rst &= !CLOSED_THEN_RESET;
        }
    }

    fn closed_then_reset(&self, orig_side: bool) -> bool {
        self.sides[usize::from(!orig_side)].rst & CLOSED_THEN_RESET != 0
    }

    /// Moves the sender (and sometimes its peer) as Zeek's TCP analyzer does. Later flags win within one packet:
    /// SYN, then FIN (→ Closed), then RST (→ Reset).
    fn transition(&mut self, from_orig: bool, flags: TcpFlags, payload_len: u32) {
        use ZeekState::*;
        let me = from_orig;
        let peer = !from_orig;
        let (state, peer_state) = self.pair(from_orig);
        match state {
            Inactive => {
                if flags.syn() {
                    if from_orig {
                        self.set(me, if flags.ack() { SynAckSent } else { SynSent });
                    } else {
                        // The reply to a SYN establishes both sides. (Zeek's SYN/SYN-ACK role reversal is the
                        // caller's job: it flips roles up front when the first packet is a SYN-ACK.)
                        if peer_state == SynSent {
                            self.set(peer, Established);
                        }
                        self.set(me, Established);
                    }
                }
                if flags.fin() {
                    self.set(me, Closed);
                }
                if flags.rst() {
                    self.set(me, Reset);
                }
                if self.pair(from_orig).0 == Inactive {
                    if !from_orig && payload_len == 0 && self.orig == SynSent {
                        // Some stacks ACK a SYN before answering it: not a partial connection.
                    } else if flags.ack() && peer_state == Established {
                        // SYN-ACK seen, SYN missed, and now the ACK: treat as established, not partial.
                        self.set(me, Established);
                    } else {
                        self.set(me, Partial);
                    }
                }
            }
            SynSent | SynAckSent => {
                if flags.fin() {
                    self.set(me, Closed);
                }
                if flags.rst() {
                    self.set(me, Reset);
                }
            }
            Established | Partial => {
                if flags.syn() && state == Partial && peer_state == Inactive && !flags.ack() {
                    self.set(me, SynSent);
                }
                if flags.fin() && !flags.rst() {
                    self.set(me, Closed);
                    // The peer sent a FIN and then a RST: that was a normal termination after all.
                    if peer_state == Reset && self.closed_then_reset(peer) {
                        self.set(peer, Closed);
                    }
                }
                if flags.rst() {
                    self.set(me, Reset);
                }
            }
            Closed => {
                // After a full FIN exchange a RST changes nothing.
                if flags.rst() && peer_state != Closed {
                    self.set(me, Reset);
                }
            }
            Reset => {}
        }
    }

    /// Zeek's `conn_state`. `orig_bytes`/`resp_bytes` are the payload sizes (they tell a REJ from an RST exchange).
    pub fn conn_state(&self, orig_bytes: u64, resp_bytes: u64) -> ConnState {
        use ZeekState::*;
        let (os, rs) = (self.orig, self.resp);
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);
        if rs == Reset {
            if matches!(os, SynSent | SynAckSent) || (os == Reset && orig_bytes == 0 && resp_bytes == 0) {
                ConnState::REJ
            } else if o_inactive {
                ConnState::RSTRH
            } else {
                ConnState::RSTR
            }
        } else if os == Reset {
            if !r_inactive {
                ConnState::RSTO
            } else if syn_then_rst(self.history.as_str()) {
                ConnState::RSTOS0
            } else {
                ConnState::OTH
            }
        } else if os == Closed && rs == Closed {
            ConnState::SF
        } else if os == Closed {
            if r_inactive { ConnState::SH } else { ConnState::S2 }
        } else if rs == Closed {
            if o_inactive { ConnState::SHR } else { ConnState::S3 }
        } else if os == SynSent && rs == Inactive {
            ConnState::S0
        } else if os == Established && rs == Established {
            ConnState::S1
        } else {
            ConnState::OTH
        }
    }
}

/// Zeek's RSTOS0 test, the whole history matching `^?S[^HAFGIQ]*R.*`: the originator's SYN, then its RST, with no
/// originator SYN-ACK, ACK, FIN, gap, FIN+RST or multi-flag packet between.
fn syn_then_rst(history: &str) -> bool {
    let rest = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = rest.strip_prefix('S') else { return false };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnState::*;

    #[test]
    fn word_at_a_time_length_and_search_match_the_bytes() {
        let mut state = 3;
        for round in 0..5_000 {
            let mut h = History::new();
            let fill = round % (HISTORY_CAP + 1);
            for _ in 0..fill {
                // Any non-zero byte, 0x01 and 0x80..0xff included (the borrow cases of `zero_bytes`).
                h.push((crate::hash_key::splitmix64(&mut state) % 255 + 1) as u8);
            }
            let naive_len = h.letters.iter().position(|&b| b == 0).unwrap_or(HISTORY_CAP);
            assert_eq!(h.len(), naive_len, "{:?}", h.letters);
            for letter in 1..=255u8 {
                assert_eq!(h.contains(letter), h.letters[..naive_len].contains(&letter), "{letter} in {:?}", h.letters);
            }
        }
    }

    const SYN: u16 = TcpFlags::SYN;
    const ACK: u16 = TcpFlags::ACK;
    const FIN: u16 = TcpFlags::FIN;
    const RST: u16 = TcpFlags::RST;
    const PSH: u16 = TcpFlags::PSH;
    /// Who sends: the originator or the responder.
    const O: bool = true;
    const R: bool = false;

    /// One scripted packet, smoltcp style: (sender, flags, seq, payload length), window 65535.
    type Pkt = (bool, u16, u32, u32);

    /// Scripts an exchange on top of `z`.
    fn feed(mut z: ZeekTcp, script: &[Pkt]) -> ZeekTcp {
        for &(from_orig, flags, seq, len) in script {
            z.packet(from_orig, TcpFlags(flags), seq, len, 65535);
        }
        z
    }

    fn run(flipped: bool, script: &[Pkt]) -> ZeekTcp {
        feed(ZeekTcp::new(flipped), script)
    }

    /// Fixture: a connection through the three-way handshake (client ISN 100, server ISN 500).
    fn established(script: &[Pkt]) -> ZeekTcp {
        feed(run(false, &[(O, SYN, 100, 0), (R, SYN | ACK, 500, 0), (O, ACK, 101, 0)]), script)
    }

    fn check(z: &ZeekTcp, history: &str, state: ConnState) {
        assert_eq!(z.history.as_str(), history);
        assert_eq!(z.conn_state(0, 0), state, "history {history}");
    }

    #[test]
    fn fits_the_per_connection_budget() {
        assert!(std::mem::size_of::<ZeekTcp>() <= 48, "{}", std::mem::size_of::<ZeekTcp>());
    }

    // Tests for attempts (S0, REJ, RSTOS0, SH).

    #[test]
    fn unanswered_syn_is_s0() {
        let z = run(false, &[(O, SYN, 100, 0)]);
        check(&z, "S", S0);
        assert_eq!((z.orig, z.resp), (ZeekState::SynSent, ZeekState::Inactive));
    }

    #[test]
    fn syn_repeats_only_with_a_new_seq() {
        check(&run(false, &[(O, SYN, 100, 0), (O, SYN, 100, 0), (O, SYN, 100, 0)]), "S", S0);
        check(&run(false, &[(O, SYN, 100, 0), (O, SYN, 101, 0), (O, SYN, 101, 0)]), "SS", S0);
    }

    #[test]
    fn refused_syn_is_rej() {
        check(&run(false, &[(O, SYN, 100, 0), (R, RST | ACK, 0, 0)]), "Sr", REJ);
    }

    #[test]
    fn both_sides_reset_without_payload_is_rej() {
        let z = run(false, &[(O, SYN, 100, 0), (O, RST, 101, 0), (R, RST, 0, 0)]);
        assert_eq!(z.conn_state(0, 0), REJ);
        assert_eq!(z.conn_state(5, 0), RSTR);
    }

    #[test]
    fn syn_then_own_rst_is_rstos0() {
        check(&run(false, &[(O, SYN, 100, 0), (O, RST, 101, 0)]), "SR", RSTOS0);
    }

    #[test]
    fn rst_after_an_ack_is_oth_not_rstos0() {
        check(&run(false, &[(O, SYN, 100, 0), (O, ACK, 101, 0), (O, RST, 101, 0)]), "SAR", OTH);
    }

    #[test]
    fn syn_then_fin_is_sh() {
        check(&run(false, &[(O, SYN, 100, 0), (O, FIN | ACK, 101, 0)]), "SF", SH);
    }

    #[test]
    fn syn_fin_in_one_packet_is_q_and_sh() {
        check(&run(false, &[(O, SYN | FIN, 100, 0), (O, SYN | FIN, 100, 0)]), "Q", SH);
        // SYN+RST is Q too; with no plain 'S' before the RST it is not RSTOS0.
        let z = run(false, &[(O, SYN | RST, 100, 0)]);
        check(&z, "Q", OTH);
        assert_eq!(z.orig, ZeekState::Reset);
    }

    // Tests for ESTABLISHED (S1, and the once-only letters).

    #[test]
    fn handshake_is_s1() {
        let z = established(&[]);
        check(&z, "ShA", S1);
        assert_eq!((z.orig, z.resp), (ZeekState::Established, ZeekState::Established));
    }

    #[test]
    fn a_and_d_are_recorded_once_per_direction() {
        let mut script = Vec::new();
        for i in 0..5 {
            script.extend([(O, ACK | PSH, 101 + i * 10, 10), (R, ACK, 501, 0)]);
            script.extend([(R, ACK | PSH, 501 + i * 10, 10), (O, ACK, 151, 0)]);
        }
        check(&established(&script), "ShADad", S1);
    }

    #[test]
    fn early_ack_of_a_syn_does_not_make_the_responder_partial() {
        let z = run(false, &[(O, SYN, 100, 0), (R, ACK, 500, 0)]);
        assert_eq!(z.resp, ZeekState::Inactive);
        check(&feed(z, &[(R, SYN | ACK, 500, 0)]), "Sah", S1);
    }

    // Tests for closing (SF, S2, S3).

    #[test]
    fn normal_session_with_client_close_is_sf() {
        let z = established(&[
            (R, ACK | PSH, 501, 20), // server data: d
            (O, ACK, 101, 0),        // client ACK: A already recorded
            (O, ACK | PSH, 101, 30), // client data: D
            (R, ACK | PSH, 521, 20), // server data: d already recorded
            (O, FIN | ACK, 131, 0),  // F
            (R, ACK, 541, 0),        // the server's first pure ACK: a
            (R, FIN | ACK, 541, 0),  // f
            (O, ACK, 132, 0),        // A already recorded
        ]);
        check(&z, "ShAdDFaf", SF);
    }

    #[test]
    fn one_sided_closes_are_s2_and_s3() {
        check(&established(&[(O, FIN | ACK, 101, 0)]), "ShAF", S2);
        check(&established(&[(R, FIN | ACK, 501, 0)]), "ShAf", S3);
    }

    #[test]
    fn fin_repeats_only_at_a_new_sequence_number() {
        let z = established(&[(O, FIN | ACK, 101, 5), (O, FIN | ACK, 101, 5)]);
        assert_eq!(z.history.as_str(), "ShAF");
        // Same start, more payload: the FIN sits one byte later.
        assert_eq!(feed(z, &[(O, FIN | ACK, 101, 6)]).history.as_str(), "ShAFF");
    }

    #[test]
    fn fin_then_rst_then_peer_fin_is_still_sf() {
        let z = established(&[(O, FIN | ACK, 101, 0), (O, RST, 102, 0)]);
        assert_eq!(z.orig, ZeekState::Reset);
        check(&feed(z, &[(R, FIN | ACK, 501, 0)]), "ShAFRf", SF);
    }

    #[test]
    fn rst_after_both_fins_changes_nothing() {
        check(&established(&[(O, FIN | ACK, 101, 0), (R, FIN | ACK, 501, 0), (O, RST, 102, 0)]), "ShAFfR", SF);
    }

    // Tests for resets (RSTO, RSTR, I).

    #[test]
    fn aborts_are_rsto_and_rstr() {
        check(&established(&[(O, RST | ACK, 101, 0)]), "ShAR", RSTO);
        check(&established(&[(R, RST, 501, 0)]), "ShAr", RSTR);
    }

    #[test]
    fn r_repeats_only_for_a_new_sequence_number() {
        let z = established(&[(R, RST, 501, 0), (R, RST, 501, 0), (R, RST, 502, 0), (R, RST, 1501, 0)]);
        check(&z, "ShArrr", RSTR);
    }

    #[test]
    fn fin_rst_packet_is_i_once() {
        check(&established(&[(O, FIN | RST, 101, 0), (O, FIN | RST, 101, 0)]), "ShAI", RSTO);
    }

    // Tests for flipped and partial connections (SHR, RSTRH, OTH, '^').

    #[test]
    fn syn_ack_first_flips_and_ack_establishes() {
        check(&run(true, &[(R, SYN | ACK, 500, 0), (O, ACK, 101, 0)]), "^hA", S1);
    }

    #[test]
    fn syn_ack_then_rst_is_rstrh_then_fin_is_shr() {
        check(&run(true, &[(R, SYN | ACK, 500, 0), (R, RST, 501, 0)]), "^hr", RSTRH);
        check(&run(true, &[(R, SYN | ACK, 500, 0), (R, FIN | ACK, 501, 0)]), "^hf", SHR);
    }

    #[test]
    fn midstream_traffic_is_partial_and_oth() {
        let z = run(false, &[(O, ACK | PSH, 1000, 100), (R, ACK | PSH, 9000, 50)]);
        check(&z, "Dd", OTH);
        assert_eq!((z.orig, z.resp), (ZeekState::Partial, ZeekState::Partial));
    }

    #[test]
    fn syn_after_partial_starts_over() {
        let z = run(false, &[(O, ACK | PSH, 1000, 100), (O, SYN, 5000, 0)]);
        assert_eq!(z.orig, ZeekState::SynSent);
        check(&z, "DS", S0);
    }

    // Tests for the logarithmic letters and the bound.

    #[test]
    fn retransmissions_are_logged_at_1_10_100() {
        let mut z = established(&[]);
        for n in 1..=300u32 {
            z.history.retransmission(true);
            let want = match n {
                1..=9 => "ShAT",
                10..=99 => "ShATT",
                _ => "ShATTT", // the u8 counter saturates quietly
            };
            assert_eq!(z.history.as_str(), want, "after {n}");
        }
        z.history.retransmission(false);
        assert_eq!(z.history.as_str(), "ShATTTt", "each direction counts on its own");
        // Gaps and bad checksums have counters of their own.
        let mut h = History::new();
        for _ in 0..10 {
            h.gap(false);
            h.bad_checksum(true);
        }
        assert_eq!(h.as_str(), "gCgC");
    }

    #[test]
    fn zero_window_is_logarithmic_w_unless_peer_closed_or_rst() {
        let mut z = established(&[]);
        z.packet(false, TcpFlags(ACK), 501, 0, 0);
        assert_eq!(z.history.as_str(), "ShAaw");
        z.packet(true, TcpFlags(RST), 101, 0, 0);
        assert_eq!(z.history.as_str(), "ShAawR", "a RST's zero window is not counted");

        let mut z = established(&[(O, FIN | ACK, 101, 0)]);
        z.packet(false, TcpFlags(ACK), 501, 0, 0);
        assert_eq!(z.history.as_str(), "ShAFa", "after the peer's FIN a zero window is not counted");
        // Logarithmic, like T.
        let mut z = established(&[]);
        for _ in 0..10 {
            z.packet(false, TcpFlags(ACK), 501, 0, 0);
        }
        assert_eq!(z.history.as_str(), "ShAaww");
    }

    #[test]
    fn history_is_bounded_at_32_letters() {
        let script: Vec<Pkt> = (0..100u32).map(|i| (R, RST, 1000 + i * 7919, 0)).collect();
        let z = established(&script);
        assert_eq!(z.history.len(), 32);
        assert!(z.history.as_str().starts_with("ShArrr"));
        let mut h = History::flipped();
        assert_eq!(h.as_str(), "^");
        h.bad_checksum(false);
        assert_eq!(h.to_string(), "^c");
    }

    #[test]
    fn rstos0_pattern_follows_zeek() {
        for yes in ["SR", "^SR", "SdtR", "SRr", "ShR"] {
            assert!(syn_then_rst(yes), "{yes}");
        }
        for no in ["SHR", "SAR", "DSR", "S", ""] {
            assert!(!syn_then_rst(no), "{no}");
        }
    }

    #[test]
    fn udp_states() {
        assert_eq!(udp_conn_state(true, true), SF);
        assert_eq!(udp_conn_state(true, false), S0);
        assert_eq!(udp_conn_state(false, true), SHR);
        assert_eq!(udp_conn_state(false, false), OTH);
        assert_eq!(RSTOS0.to_string(), "RSTOS0");
        assert_eq!(serde_json::to_string(&REJ).unwrap(), "\"REJ\"");
    }
}
