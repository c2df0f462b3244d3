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

#[cfg(test)]
mod tests {
    use super::*;

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
