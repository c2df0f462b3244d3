//! What the tracker says about a packet: one or more annotations, printed after the packet's line (and as
//! structured fields in JSON). The wording follows RFC 9293's state names and Wireshark's analysis vocabulary.

use std::fmt;

use serde::Serialize;

use super::record::Role;
use crate::time::Duration;

/// The RFC 9293 §3.3.2 connection states, as we infer them for one endpoint from what crosses the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum TcpState {
    #[default]
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which teardown form a step belongs to: the four-packet FIN, ACK, FIN, ACK or the three-packet FIN, FIN+ACK, ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseForm {
    FourWay,
    ThreeWay,
}

impl CloseForm {
    fn total(self) -> u8 {
        match self {
            CloseForm::FourWay => 4,
            CloseForm::ThreeWay => 3,
        }
    }
}

/// One observation about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Annotation {
    /// The opening SYN; `attempt` > 1 for a retransmission with the same ISN.
    HandshakeSyn {
        attempt: u32,
    },
    /// The SYN-ACK, `since_syn` after the SYN (None when the SYN was not seen); `attempt` > 1 when retransmitted.
    HandshakeSynAck {
        since_syn: Option<Duration>,
        attempt: u32,
    },
    /// The ACK that completes the handshake: round trip SYN→ACK, and SYN-ACK→ACK.
    HandshakeAck {
        rtt: Option<Duration>,
        since_syn_ack: Option<Duration>,
    },
    /// Both ends sent a SYN (RFC 9293 §3.5, figure 8).
    SimultaneousOpen,
    /// A SYN carrying data (TCP Fast Open, RFC 7413, or a crafted packet).
    DataOnSyn {
        len: u32,
    },
    /// A SYN-ACK that acknowledges `len` bytes of data sent on the SYN: the server accepted the SYN's data (TCP Fast
    /// Open, RFC 7413 §4.2.2; a server that ignores it acknowledges only the SYN, ISN+1).
    TfoSynAck {
        len: u32,
    },
    /// The first FIN: its sender moves to FIN-WAIT-1.
    TeardownFin {
        from: Role,
    },
    /// The ACK of the first FIN: its sender moves to CLOSE-WAIT.
    TeardownAckOfFin {
        from: Role,
    },
    /// The second FIN: its sender moves to LAST-ACK. Three-way form when it also acknowledges the first FIN.
    TeardownSecondFin {
        from: Role,
        form: CloseForm,
    },
    /// The last ACK: the first closer enters TIME-WAIT.
    TeardownLastAck {
        closer: Role,
        form: CloseForm,
    },
    /// Both FINs crossed (RFC 9293 §3.6, figure 13): both ends go through CLOSING.
    SimultaneousClose {
        from: Role,
        state: TcpState,
    },
    /// Data still flowing from `from` after the other end's FIN.
    HalfClose {
        from: Role,
    },
    /// An RST answering a SYN: nobody listens on the port.
    Refused,
    /// An RST ending an established connection.
    Abort {
        from: Role,
    },
    /// An RST hitting a connection in TIME-WAIT (RFC 1337 "TIME-WAIT assassination").
    ResetInTimeWait {
        from: Role,
    },
    /// An RST whose sequence number is outside the receiver's window (RFC 5961 §3): possibly injected.
    ResetOutOfWindow {
        from: Role,
    },
    Retransmission,
    OutOfOrder,
    /// A jump forward in sequence space: `missing` bytes were lost or not captured.
    Gap {
        missing: u32,
    },
    DuplicateAck {
        count: u32,
    },
    ZeroWindow,
    WindowUpdate,
    /// Data that ends exactly at the right edge of the receiver's advertised window: the sender can send no more
    /// until the receiver acknowledges or opens its window.
    WindowFull,
    KeepAlive,
    /// A pure ACK answering the peer's keep-alive: it repeats the last ACK and window.
    KeepAliveAck,
    /// One byte at the next sequence number sent into a zero window (RFC 9293 §3.8.6.1), to learn when it opens.
    ZeroWindowProbe,
    /// The receiver's answer to a zero-window probe: its ACK and (still zero, or reopened) window.
    ZeroWindowProbeAck,
    /// An ACK for data the capture never showed.
    AckOfUnseen {
        bytes: u32,
    },
    /// A new SYN on a tuple whose previous connection closed, with a different ISN.
    PortReuse,
    /// Traffic on a connection whose handshake was not seen.
    MidStream,
}

/// Roles as a reader thinks of them: the originator is the client.
fn who(role: Role) -> &'static str {
    match role {
        Role::Orig => "client",
        Role::Resp => "server",
    }
}

/// A duration in milliseconds with microsecond digits, written without allocating (annotations are on the hot
/// path of text output).
struct Ms(Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.as_nanos() / 1_000;
        write!(f, "{}.{:03} ms", micros / 1_000, micros % 1_000)
    }
}

fn ms(d: Duration) -> Ms {
    Ms(d)
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Annotation::HandshakeSyn { attempt: 1 } => write!(f, "[handshake 1/3 SYN]"),
            Annotation::HandshakeSyn { attempt } => write!(f, "[handshake 1/3 SYN, retransmission: try {attempt}]"),
            Annotation::HandshakeSynAck { since_syn, attempt } => {
                write!(f, "[handshake 2/3 SYN-ACK")?;
                match since_syn {
                    Some(d) => write!(f, ": {} after SYN", ms(d))?,
                    None => write!(f, ": SYN not seen")?,
                }
                if attempt > 1 {
                    write!(f, ", retransmission: try {attempt}")?;
                }
                write!(f, "]")
            }
            Annotation::HandshakeAck { rtt, since_syn_ack } => {
                write!(f, "[handshake 3/3 ACK: established")?;
                if let Some(rtt) = rtt {
                    write!(f, ", rtt {}", ms(rtt))?;
                }
                if let Some(d) = since_syn_ack {
                    write!(f, " (SYN-ACK→ACK {})", ms(d))?;
                }
                write!(f, "]")
            }
            Annotation::SimultaneousOpen => write!(f, "[simultaneous open: both ends sent SYN]"),
            Annotation::DataOnSyn { len } => write!(f, "[data on SYN: {len} bytes]"),
            Annotation::TfoSynAck { len } => write!(f, "[TFO: SYN-ACK accepts the SYN's {len} bytes]"),
            Annotation::TeardownFin { from } => write!(f, "[teardown 1/4 FIN from {}: FIN-WAIT-1]", who(from)),
            Annotation::TeardownAckOfFin { from } => {
                write!(f, "[teardown 2/4 ACK of FIN: {} in CLOSE-WAIT]", who(from))
            }
            Annotation::TeardownSecondFin { from, form: CloseForm::FourWay } => {
                write!(f, "[teardown 3/4 FIN from {}: LAST-ACK]", who(from))
            }
            Annotation::TeardownSecondFin { from, form: CloseForm::ThreeWay } => {
                write!(f, "[teardown 2/3 FIN+ACK from {}: LAST-ACK]", who(from))
            }
            Annotation::TeardownLastAck { closer, form } => {
                let n = form.total();
                write!(f, "[teardown {n}/{n} ACK: {} in TIME-WAIT]", who(closer))
            }
            Annotation::SimultaneousClose { from, state } => {
                write!(f, "[simultaneous close: {} {}]", who(from), state)
            }
            Annotation::HalfClose { from } => {
                write!(f, "[half-close: {} still sending after the peer's FIN]", who(from))
            }
            Annotation::Refused => write!(f, "[refused: RST answers SYN]"),
            Annotation::Abort { from } => write!(f, "[reset: {} aborts the connection]", who(from)),
            Annotation::ResetInTimeWait { from } => write!(f, "[RST in TIME-WAIT from {}]", who(from)),
            Annotation::ResetOutOfWindow { from } => {
                write!(f, "[RST from {} out of window: possible injection]", who(from))
            }
            Annotation::Retransmission => write!(f, "[retransmission]"),
            Annotation::OutOfOrder => write!(f, "[out-of-order]"),
            Annotation::Gap { missing } => write!(f, "[previous segment lost: {missing} bytes missing]"),
            Annotation::DuplicateAck { count } => write!(f, "[duplicate ACK #{count}]"),
            Annotation::ZeroWindow => write!(f, "[zero window]"),
            Annotation::WindowUpdate => write!(f, "[window update]"),
            Annotation::WindowFull => write!(f, "[window full]"),
            Annotation::KeepAlive => write!(f, "[keep-alive]"),
            Annotation::KeepAliveAck => write!(f, "[keep-alive ACK]"),
            Annotation::ZeroWindowProbe => write!(f, "[zero-window probe]"),
            Annotation::ZeroWindowProbeAck => write!(f, "[zero-window probe ACK]"),
            Annotation::AckOfUnseen { bytes } => write!(f, "[ACK of {bytes} bytes never seen]"),
            Annotation::PortReuse => write!(f, "[port reuse: new connection on a closed tuple]"),
            Annotation::MidStream => write!(f, "[mid-stream: handshake not seen]"),
        }
    }
}

/// Appends `n` in decimal.
fn push_num(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends what `Ms` displays: milliseconds, a dot, three digits of microseconds, " ms".
fn push_ms(out: &mut String, d: Duration) {
    let micros = d.as_nanos() / 1_000;
    push_num(out, micros / 1_000);
    let frac = micros % 1_000;
    out.push('.');
    for digit in [frac / 100, frac / 10 % 10, frac % 10] {
        out.push(char::from(b'0' + digit as u8));
    }
    out.push_str(" ms");
}

impl Annotation {
    /// Appends the same text as `Display` (a test checks every variant) without `core::fmt`: text output prints an
    /// annotation on most TCP packets, and `write!(line, " {annotation}")` cost ~270 instr/pkt (callgrind, 100k gen
    /// bench file). Variants that are rare in traffic go through `Display`.
    pub fn push_text(&self, out: &mut String) {
        match *self {
            Annotation::HandshakeSyn { attempt: 1 } => out.push_str("[handshake 1/3 SYN]"),
            Annotation::HandshakeSynAck { since_syn, attempt } => {
                out.push_str("[handshake 2/3 SYN-ACK");
                match since_syn {
                    Some(d) => {
                        out.push_str(": ");
                        push_ms(out, d);
                        out.push_str(" after SYN");
                    }
                    None => out.push_str(": SYN not seen"),
                }
                if attempt > 1 {
                    out.push_str(", retransmission: try ");
                    push_num(out, u64::from(attempt));
                }
                out.push(']');
            }
            Annotation::HandshakeAck { rtt, since_syn_ack } => {
                out.push_str("[handshake 3/3 ACK: established");
                if let Some(rtt) = rtt {
                    out.push_str(", rtt ");
                    push_ms(out, rtt);
                }
                if let Some(d) = since_syn_ack {
                    out.push_str(" (SYN-ACK→ACK ");
                    push_ms(out, d);
                    out.push(')');
                }
                out.push(']');
            }
            Annotation::TeardownFin { from } => {
                out.push_str("[teardown 1/4 FIN from ");
                out.push_str(who(from));
                out.push_str(": FIN-WAIT-1]");
            }
            Annotation::TeardownAckOfFin { from } => {
                out.push_str("[teardown 2/4 ACK of FIN: ");
                out.push_str(who(from));
                out.push_str(" in CLOSE-WAIT]");
            }
            Annotation::TeardownSecondFin { from, form } => {
                out.push_str(match form {
                    CloseForm::FourWay => "[teardown 3/4 FIN from ",
                    CloseForm::ThreeWay => "[teardown 2/3 FIN+ACK from ",
                });
                out.push_str(who(from));
                out.push_str(": LAST-ACK]");
            }
            Annotation::TeardownLastAck { closer, form } => {
                out.push_str(match form {
                    CloseForm::FourWay => "[teardown 4/4 ACK: ",
                    CloseForm::ThreeWay => "[teardown 3/3 ACK: ",
                });
                out.push_str(who(closer));
                out.push_str(" in TIME-WAIT]");
            }
            Annotation::Retransmission => out.push_str("[retransmission]"),
            Annotation::OutOfOrder => out.push_str("[out-of-order]"),
            Annotation::DuplicateAck { count } => {
                out.push_str("[duplicate ACK #");
                push_num(out, u64::from(count));
                out.push(']');
            }
            Annotation::MidStream => out.push_str("[mid-stream: handshake not seen]"),
            _ => {
                use fmt::Write as _;
                let _ = write!(out, "{self}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant, with the values that change its wording (attempt 1 or not, a duration or none, both roles,
    /// both close forms, sub-millisecond and long durations).
    fn every_variant() -> Vec<Annotation> {
        let durations = [
            None,
            Some(Duration::from_micros(0)),
            Some(Duration::from_micros(7)),
            Some(Duration::from_micros(210)),
            Some(Duration::from_nanos(1_234_567_891)),
            Some(Duration::from_micros(86_400_000_000)),
        ];
        let mut all = Vec::new();
        for n in [0, 1, 2, 9, 10, 1000, u32::MAX] {
            all.push(Annotation::HandshakeSyn { attempt: n });
            all.push(Annotation::DataOnSyn { len: n });
            all.push(Annotation::TfoSynAck { len: n });
            all.push(Annotation::Gap { missing: n });
            all.push(Annotation::DuplicateAck { count: n });
            all.push(Annotation::AckOfUnseen { bytes: n });
            for since_syn in durations {
                all.push(Annotation::HandshakeSynAck { since_syn, attempt: n });
            }
        }
        for rtt in durations {
            for since_syn_ack in durations {
                all.push(Annotation::HandshakeAck { rtt, since_syn_ack });
            }
        }
        for from in [Role::Orig, Role::Resp] {
            for form in [CloseForm::FourWay, CloseForm::ThreeWay] {
                all.push(Annotation::TeardownSecondFin { from, form });
                all.push(Annotation::TeardownLastAck { closer: from, form });
            }
            all.push(Annotation::SimultaneousClose { from, state: TcpState::Closing });
            all.extend([
                Annotation::TeardownFin { from },
                Annotation::TeardownAckOfFin { from },
                Annotation::HalfClose { from },
                Annotation::Abort { from },
                Annotation::ResetInTimeWait { from },
                Annotation::ResetOutOfWindow { from },
            ]);
        }
        all.extend([
            Annotation::SimultaneousOpen,
            Annotation::Refused,
            Annotation::Retransmission,
            Annotation::OutOfOrder,
            Annotation::ZeroWindow,
            Annotation::WindowUpdate,
            Annotation::WindowFull,
            Annotation::KeepAlive,
            Annotation::KeepAliveAck,
            Annotation::ZeroWindowProbe,
            Annotation::ZeroWindowProbeAck,
            Annotation::PortReuse,
            Annotation::MidStream,
        ]);
        all
    }

    #[test]
    fn push_text_writes_what_display_writes() {
        for annotation in every_variant() {
            let mut pushed = String::from("prefix");
            annotation.push_text(&mut pushed);
            assert_eq!(pushed, format!("prefix{annotation}"), "{annotation:?}");
        }
    }

    #[test]
    fn spelled_as_the_issue_shows_them() {
        let rtt = Some(Duration::from_micros(210));
        assert_eq!(Annotation::HandshakeSyn { attempt: 1 }.to_string(), "[handshake 1/3 SYN]");
        assert_eq!(
            Annotation::HandshakeAck { rtt, since_syn_ack: Some(Duration::from_micros(105)) }.to_string(),
            "[handshake 3/3 ACK: established, rtt 0.210 ms (SYN-ACK→ACK 0.105 ms)]"
        );
        assert_eq!(
            Annotation::TeardownFin { from: Role::Orig }.to_string(),
            "[teardown 1/4 FIN from client: FIN-WAIT-1]"
        );
        assert_eq!(
            Annotation::TeardownLastAck { closer: Role::Orig, form: CloseForm::FourWay }.to_string(),
            "[teardown 4/4 ACK: client in TIME-WAIT]"
        );
        assert_eq!(
            Annotation::TeardownSecondFin { from: Role::Resp, form: CloseForm::ThreeWay }.to_string(),
            "[teardown 2/3 FIN+ACK from server: LAST-ACK]"
        );
    }
}
