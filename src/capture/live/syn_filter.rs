//! A classic BPF program (Documentation/networking/filter.rst) that splits one interface's frames between two
//! packet sockets: pure SYNs (SYN set, ACK clear) to one, everything else to the other. The guard reads the second
//! first, so a SYN flood can only overflow the ring of SYNs: the ACKs that complete cookie handshakes and the data of
//! connections already proxied never wait behind, or get dropped with, the flood's SYNs. Commercial SYN-flood
//! mitigators separate their queues the same way; Linux itself prefers established sockets to the listener's queue.
//!
//! The two programs are one program with its two return values swapped, so every frame goes to exactly one of the
//! sockets. A classic BPF load past the end of the frame ends the program with 0 (drop), which would drop a short
//! frame from both; so the length is checked before every load, and short or odd frames are "everything else",
//! where the guard sees them and counts them.

/// Which frames a socket with this filter receives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SynSplit {
    /// IPv4 or IPv6 TCP segments with SYN set and ACK clear (no IPv4 fragments, no IPv6 extension headers).
    PureSyns,
    /// Every other frame.
    AllButPureSyns,
}

// Classic BPF opcodes: class | size | mode (include/uapi/linux/bpf_common.h, filter.h).
const LD_W_LEN: u16 = 0x80; // BPF_LD (0) | BPF_W (0) | BPF_LEN (0x80)
const LD_H_ABS: u16 = 0x28; // BPF_LD | BPF_H (0x08) | BPF_ABS (0x20)
const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B (0x10) | BPF_ABS
const LD_B_IND: u16 = 0x50; // BPF_LD | BPF_B | BPF_IND (0x40)
const LDX_B_MSH: u16 = 0xb1; // BPF_LDX (1) | BPF_B | BPF_MSH (0xa0): X = 4 * (P[k] & 0xf)
const ALU_ADD_K: u16 = 0x04; // BPF_ALU (4) | BPF_ADD (0) | BPF_K (0)
const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND (0x50) | BPF_K
const MISC_TAX: u16 = 0x07; // BPF_MISC (7) | BPF_TAX (0)
const MISC_TXA: u16 = 0x87; // BPF_MISC | BPF_TXA (0x80)
const JMP_JA: u16 = 0x05; // BPF_JMP (5) | BPF_JA (0)
const JMP_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ (0x10) | BPF_K
const JMP_JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE (0x30) | BPF_K
const JMP_JGE_X: u16 = 0x3d; // BPF_JMP | BPF_JGE | BPF_X (0x08)
const JMP_JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET (0x40) | BPF_K
const RET_K: u16 = 0x06; // BPF_RET (6) | BPF_K

/// Accept the whole frame (the ring's slot size still bounds what is copied).
const ACCEPT: u32 = u32::MAX;
const REJECT: u32 = 0;

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const PROTOCOL_TCP: u32 = 6;
/// TCP flags SYN (0x02) and ACK (0x10): a pure SYN has the first without the second.
const SYN_AND_ACK: u32 = 0x12;
const SYN: u32 = 0x02;
/// Ethernet + minimal IPv4 + minimal TCP; nothing shorter is a SYN.
const MIN_IPV4_SEGMENT: u32 = 14 + 20 + 20;
/// Ethernet + IPv6 + minimal TCP.
const MIN_IPV6_SEGMENT: u32 = 14 + 40 + 20;

/// Where control goes after a test: on to the next instruction, or to a labelled one.
#[derive(Copy, Clone)]
enum To {
    Next,
    Ipv6,
    Flags,
    Syn,
    Other,
}

enum Step {
    Do(u16, u32),
    Jump(u16, u32, To, To),
    Label(To),
}

/// The program for one side of the split.
pub fn program(split: SynSplit) -> Vec<libc::sock_filter> {
    use Step::{Do, Jump, Label};
    use To::{Flags, Ipv6, Next, Other, Syn};
    let steps = [
        Do(LD_W_LEN, 0),
        Jump(JMP_JGE_K, MIN_IPV4_SEGMENT, Next, Other),
        Do(LD_H_ABS, 12),
        Jump(JMP_JEQ_K, ETHERTYPE_IPV4, Next, Ipv6),
        // IPv4: TCP, and not a later fragment (offset bits of byte 20-21), whose byte 13 is not a TCP header's.
        Do(LD_B_ABS, 14 + 9),
        Jump(JMP_JEQ_K, PROTOCOL_TCP, Next, Other),
        Do(LD_H_ABS, 14 + 6),
        Jump(JMP_JSET_K, 0x1fff, Other, Next),
        // The TCP header starts after IHL * 4 bytes of IP header: check it is all there before reading it.
        Do(LDX_B_MSH, 14),
        Do(MISC_TXA, 0),
        Do(ALU_ADD_K, 14 + 20),
        Do(MISC_TAX, 0),
        Do(LD_W_LEN, 0),
        Jump(JMP_JGE_X, 0, Next, Other),
        Do(LDX_B_MSH, 14),
        Do(LD_B_IND, 14 + 13),
        Jump(JMP_JA, 0, Flags, Flags),
        Label(Ipv6),
        Jump(JMP_JEQ_K, ETHERTYPE_IPV6, Next, Other),
        Do(LD_W_LEN, 0),
        Jump(JMP_JGE_K, MIN_IPV6_SEGMENT, Next, Other),
        Do(LD_B_ABS, 14 + 6),
        Jump(JMP_JEQ_K, PROTOCOL_TCP, Next, Other),
        Do(LD_B_ABS, 14 + 40 + 13),
        Label(Flags),
        Do(ALU_AND_K, SYN_AND_ACK),
        Jump(JMP_JEQ_K, SYN, Syn, Other),
        Label(Syn),
        Do(RET_K, if split == SynSplit::PureSyns { ACCEPT } else { REJECT }),
        Label(Other),
        Do(RET_K, if split == SynSplit::PureSyns { REJECT } else { ACCEPT }),
    ];
    assemble(&steps)
}

/// A program that takes every frame (`accept`) or none: a socket starts with none until it has joined its fanout
/// group, so it never receives a frame meant for another member.
pub fn constant(accept: bool) -> Vec<libc::sock_filter> {
    vec![libc::sock_filter { code: RET_K, jt: 0, jf: 0, k: if accept { ACCEPT } else { REJECT } }]
}

/// Resolves the labels into the relative offsets classic BPF jumps take (from the instruction after the jump).
fn assemble(steps: &[Step]) -> Vec<libc::sock_filter> {
    let mut position = 0usize;
    let mut labels = [0usize; 5];
    for step in steps {
        match step {
            Step::Label(label) => labels[*label as usize] = position,
            _ => position += 1,
        }
    }
    let mut program = Vec::with_capacity(position);
    for step in steps {
        let here = program.len();
        let offset = |to: &To| -> u8 {
            match to {
                To::Next => 0,
                label => u8::try_from(labels[*label as usize] - here - 1).expect("a short forward jump"),
            }
        };
        match step {
            Step::Do(code, k) => program.push(libc::sock_filter { code: *code, jt: 0, jf: 0, k: *k }),
            // BPF_JA jumps by k; the conditional jumps by jt or jf.
            Step::Jump(JMP_JA, _, to, _) => {
                program.push(libc::sock_filter { code: JMP_JA, jt: 0, jf: 0, k: u32::from(offset(to)) })
            }
            Step::Jump(code, k, jt, jf) => {
                program.push(libc::sock_filter { code: *code, jt: offset(jt), jf: offset(jf), k: *k })
            }
            Step::Label(_) => {}
        }
    }
    program
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TcpFlags;
    use crate::wire::craft::{EthernetSpec, TcpSpec, ip_between, tcp_frame};

    /// Runs a classic BPF program the way the kernel does for the instructions used here: a load past the end of
    /// the frame ends it with 0.
    fn run(program: &[libc::sock_filter], frame: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let byte = |at: u32| frame.get(at as usize).copied().map(u32::from);
        loop {
            let i = program[pc];
            pc += 1;
            let jump = |taken: bool| if taken { usize::from(i.jt) } else { usize::from(i.jf) };
            match i.code {
                LD_W_LEN => a = frame.len() as u32,
                LD_H_ABS => match (byte(i.k), byte(i.k + 1)) {
                    (Some(hi), Some(lo)) => a = hi << 8 | lo,
                    _ => return 0,
                },
                LD_B_ABS => match byte(i.k) {
                    Some(value) => a = value,
                    None => return 0,
                },
                LD_B_IND => match byte(x + i.k) {
                    Some(value) => a = value,
                    None => return 0,
                },
                LDX_B_MSH => match byte(i.k) {
                    Some(value) => x = 4 * (value & 0xf),
                    None => return 0,
                },
                ALU_ADD_K => a = a.wrapping_add(i.k),
                ALU_AND_K => a &= i.k,
                MISC_TAX => x = a,
                MISC_TXA => a = x,
                JMP_JA => pc += i.k as usize,
                JMP_JEQ_K => pc += jump(a == i.k),
                JMP_JGE_K => pc += jump(a >= i.k),
                JMP_JGE_X => pc += jump(a >= x),
                JMP_JSET_K => pc += jump(a & i.k != 0),
                RET_K => return i.k,
                other => panic!("opcode {other:#x} is not interpreted here"),
            }
        }
    }

    fn syn_split(frame: &[u8]) -> (bool, bool) {
        (run(&program(SynSplit::PureSyns), frame) != 0, run(&program(SynSplit::AllButPureSyns), frame) != 0)
    }

    const ETH: EthernetSpec<'static> = EthernetSpec { src: [2, 0, 0, 0, 0, 1], dst: [2, 0, 0, 0, 0, 2], vlans: &[] };

    fn segment(src: &str, dst: &str, flags: u16) -> Vec<u8> {
        let ip = ip_between(src.parse().unwrap(), dst.parse().unwrap(), 64, 1);
        let tcp = TcpSpec {
            src_port: 40000,
            dst_port: 9999,
            seq: 1,
            ack: 0,
            flags: TcpFlags(flags),
            window: 64240,
            options: &[],
            payload: &[],
        };
        let mut frame = Vec::new();
        tcp_frame(&mut frame, Some(&ETH), &ip, &tcp).unwrap();
        frame
    }

    fn v4(flags: u16) -> Vec<u8> {
        segment("10.0.0.1:40000", "10.0.0.2:9999", flags)
    }

    fn v6(flags: u16) -> Vec<u8> {
        segment("[2001:db8::1]:40000", "[2001:db8::2]:9999", flags)
    }

    /// The same IPv4 frame with four bytes of IP options (NOPs and an end), so the TCP header moves.
    fn with_ip_options(mut frame: Vec<u8>) -> Vec<u8> {
        frame.splice(34..34, [1, 1, 1, 0]);
        frame[14] = 0x46;
        frame
    }

    #[test]
    fn opcodes_are_the_kernels() {
        use libc::*;
        let expected = [
            (LD_W_LEN, BPF_LD | BPF_W | BPF_LEN),
            (LD_H_ABS, BPF_LD | BPF_H | BPF_ABS),
            (LD_B_ABS, BPF_LD | BPF_B | BPF_ABS),
            (LD_B_IND, BPF_LD | BPF_B | BPF_IND),
            (LDX_B_MSH, BPF_LDX | BPF_B | BPF_MSH),
            (ALU_ADD_K, BPF_ALU | BPF_ADD | BPF_K),
            (ALU_AND_K, BPF_ALU | BPF_AND | BPF_K),
            (MISC_TAX, BPF_MISC | BPF_TAX),
            (MISC_TXA, BPF_MISC | BPF_TXA),
            (JMP_JA, BPF_JMP | BPF_JA),
            (JMP_JEQ_K, BPF_JMP | BPF_JEQ | BPF_K),
            (JMP_JGE_K, BPF_JMP | BPF_JGE | BPF_K),
            (JMP_JGE_X, BPF_JMP | BPF_JGE | BPF_X),
            (JMP_JSET_K, BPF_JMP | BPF_JSET | BPF_K),
            (RET_K, BPF_RET | BPF_K),
        ];
        for (ours, kernels) in expected {
            assert_eq!(u32::from(ours), kernels);
        }
    }

    #[test]
    fn pure_syns_go_to_one_socket_and_everything_else_to_the_other() {
        use TcpFlags as F;
        let syns = [v4(F::SYN), v4(F::SYN | F::ECE | F::CWR), with_ip_options(v4(F::SYN)), v6(F::SYN)];
        for syn in &syns {
            assert_eq!(syn_split(syn), (true, false), "{syn:02x?}");
        }
        let others = [v4(F::SYN | F::ACK), v4(F::ACK), v4(F::FIN | F::ACK), with_ip_options(v4(F::ACK)), v6(F::ACK)];
        for other in &others {
            assert_eq!(syn_split(other), (false, true), "{other:02x?}");
        }
    }

    #[test]
    fn odd_and_short_frames_are_never_dropped_by_both() {
        let syn = v4(TcpFlags::SYN);
        let mut later_fragment = syn.clone();
        later_fragment[14 + 7] = 0x10; // fragment offset 16 (x8 bytes)
        let mut udp = syn.clone();
        udp[14 + 9] = 17;
        let mut arp = syn.clone();
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        // An IHL claiming 60 bytes of header in a 54-byte frame: the TCP flags are not in the frame.
        let mut long_header = syn.clone();
        long_header[14] = 0x4f;
        let mut odd =
            vec![later_fragment, udp, arp, long_header, vec![], vec![0xff; 13], v6(TcpFlags::SYN)[..70].to_vec()];
        odd.extend((0..syn.len()).map(|cut| syn[..cut].to_vec()));
        for frame in &odd {
            assert_eq!(syn_split(frame), (false, true), "{} bytes: {frame:02x?}", frame.len());
        }
    }
}
