//! The listener model's rules, each against the kernel behaviour it copies.

use super::*;

const T0: u64 = 1_700_000_000;

fn at_ms(ms: u64) -> Timestamp {
    Timestamp::from_nanos(T0 * 1_000_000_000 + ms * 1_000_000)
}

fn server() -> SocketAddrV4 {
    "10.77.0.2:9999".parse().unwrap()
}

fn client(n: u32) -> SocketAddrV4 {
    SocketAddrV4::new(std::net::Ipv4Addr::from(0x0B00_0000 + n), 40_000)
}

fn listener(backlog: u32, sysctls: Sysctls) -> KernelListener {
    KernelListener::new(ListenerConfig { addr: server(), backlog, sysctls, accept_cost: Duration::from_micros(20) }, 1)
}

/// Cookies off, on a machine whose `tcp_max_syn_backlog` is the minimum, 128.
fn cookies_off() -> Sysctls {
    Sysctls { syncookies: 0, max_syn_backlog: 128, ..Sysctls::default() }
}

fn syn(n: u32) -> Seg {
    Seg::new(client(n), server(), TcpFlags::SYN, 1000 + n, 0)
}

/// The client's ACK of a SYN-ACK.
fn ack_of(synack: &Seg) -> Seg {
    Seg::new(synack.dst, synack.src, TcpFlags::ACK, synack.ack, synack.seq.wrapping_add(1))
}

fn counters(l: &KernelListener) -> [(&'static str, u64); 7] {
    l.counters().entries()
}

fn count(l: &KernelListener, name: &str) -> u64 {
    counters(l).iter().find(|(n, _)| *n == name).map(|&(_, v)| v).unwrap()
}

/// Runs the listener's timers up to `until`, returning (time, segment) of everything it sent.
fn run_until(l: &mut KernelListener, until: Timestamp) -> Vec<(Timestamp, Seg)> {
    let mut sent = Vec::new();
    let mut out = Vec::new();
    while let Some(at) = l.poll_timeout().filter(|&at| at <= until) {
        l.poll(at, &mut out);
        sent.extend(out.drain(..).map(|s| (at, s)));
    }
    sent
}

mod syn_queue {
    use super::*;

    #[test]
    fn three_quarter_rule_stops_the_queue_at_97_of_128() {
        let mut l = listener(128, cookies_off());
        assert_eq!(l.config().syn_queue_limit(), 97);
        let mut out = Vec::new();
        for n in 0..200 {
            l.on_segment(at_ms(0), &syn(n), &mut out);
        }
        // Admitted while max_syn_backlog - qlen >= max_syn_backlog >> 2, i.e. up to qlen 96, so 97 are queued.
        assert_eq!(l.syn_queue_len(), 97);
        assert_eq!(out.len(), 97);
        assert_eq!(count(&l, "TcpExtListenDrops"), 103);
        // The queue never reached the backlog, so none of these drops is a "request queue full" drop.
        assert_eq!(count(&l, "TcpExtTCPReqQFullDrop"), 0);
        assert_eq!(count(&l, "TcpExtSyncookiesSent"), 0);
    }

    #[test]
    fn a_smaller_backlog_binds_first_and_counts_req_q_full_drops() {
        let mut l = listener(64, cookies_off());
        assert_eq!(l.config().syn_queue_limit(), 64);
        let mut out = Vec::new();
        for n in 0..100 {
            l.on_segment(at_ms(0), &syn(n), &mut out);
        }
        assert_eq!(l.syn_queue_len(), 64);
        assert_eq!(count(&l, "TcpExtTCPReqQFullDrop"), 36);
        assert_eq!(count(&l, "TcpExtListenDrops"), 36);
        // somaxconn caps the backlog.
        let capped = ListenerConfig {
            addr: server(),
            backlog: 4096,
            sysctls: Sysctls { somaxconn: 50, ..cookies_off() },
            accept_cost: Duration::ZERO,
        };
        assert_eq!(capped.syn_queue_limit(), 50);
    }

    #[test]
    fn cookies_on_overflow_fill_the_backlog_then_answer_statelessly() {
        let mut l = listener(128, Sysctls::default());
        assert_eq!(l.config().syn_queue_limit(), 128);
        let mut out = Vec::new();
        for n in 0..200 {
            l.on_segment(at_ms(0), &syn(n), &mut out);
        }
        assert_eq!(l.syn_queue_len(), 128);
        assert_eq!(out.len(), 200, "every SYN is answered");
        assert_eq!(count(&l, "TcpExtTCPReqQFullDoCookies"), 72);
        assert_eq!(count(&l, "TcpExtSyncookiesSent"), 72);
        assert_eq!(count(&l, "TcpExtListenDrops"), 0);

        // The last client answers its cookie: a connection without a request.
        let cookie = out[199];
        l.on_segment(at_ms(1), &ack_of(&cookie), &mut out);
        assert_eq!(count(&l, "TcpExtSyncookiesRecv"), 1);
        assert_eq!(l.accept_queue_len(), 1);
        assert_eq!(l.syn_queue_len(), 128);

        // A forged ACK fails the check and is reset.
        out.clear();
        let forged = Seg::new(client(500), server(), TcpFlags::ACK, 77, 12345);
        l.on_segment(at_ms(1), &forged, &mut out);
        assert_eq!(count(&l, "TcpExtSyncookiesFailed"), 1);
        assert!(out[0].flags.rst() && out[0].seq == 12345);
    }

    #[test]
    fn syncookies_two_queues_nothing() {
        let mut l = listener(128, Sysctls { syncookies: 2, ..Sysctls::default() });
        assert_eq!(l.config().syn_queue_limit(), 0);
        let mut out = Vec::new();
        for n in 0..10 {
            l.on_segment(at_ms(0), &syn(n), &mut out);
        }
        assert_eq!((l.syn_queue_len(), out.len()), (0, 10));
        assert_eq!(count(&l, "TcpExtSyncookiesSent"), 10);
        assert_eq!(count(&l, "TcpExtTCPReqQFullDoCookies"), 10);
    }

    #[test]
    fn a_handshake_moves_the_request_to_the_accept_queue_and_is_greeted() {
        let mut l = listener(128, cookies_off());
        let mut out = Vec::new();
        l.on_segment(at_ms(0), &syn(1), &mut out);
        let synack = out.pop().unwrap();
        assert!(synack.is_synack() && synack.ack == 1002);
        l.on_segment(at_ms(1), &ack_of(&synack), &mut out);
        assert_eq!((l.syn_queue_len(), l.accept_queue_len()), (0, 1));
        let sent = run_until(&mut l, at_ms(2));
        let greeting = sent[0].1;
        assert_eq!((greeting.payload as usize, greeting.seq), (GREETING.len(), synack.seq.wrapping_add(1)));
        assert_eq!(l.stats().accepted, 1);
    }

    #[test]
    fn a_rst_in_window_frees_the_slot() {
        let mut l = listener(128, cookies_off());
        let mut out = Vec::new();
        l.on_segment(at_ms(0), &syn(1), &mut out);
        l.on_segment(at_ms(1), &Seg::new(client(1), server(), TcpFlags::RST, 5, 0), &mut out);
        assert_eq!(l.syn_queue_len(), 1, "out of window");
        l.on_segment(at_ms(1), &Seg::new(client(1), server(), TcpFlags::RST, 1002, 0), &mut out);
        assert_eq!(l.syn_queue_len(), 0);
        assert!(run_until(&mut l, at_ms(100_000)).is_empty(), "its timer died with it");
    }
}

mod retransmissions {
    use super::*;

    #[test]
    fn a_lone_request_is_retried_five_times_and_dropped_at_63_s() {
        let mut l = listener(128, cookies_off());
        let mut out = Vec::new();
        l.on_segment(at_ms(0), &syn(1), &mut out);
        let sent = run_until(&mut l, at_ms(200_000));
        let times: Vec<u64> = sent.iter().map(|(at, _)| (at.as_nanos() / 1_000_000) - T0 * 1000).collect();
        // reqsk_timer_handler: TCP_TIMEOUT_INIT << num_timeout.
        assert_eq!(times, [1_000, 3_000, 7_000, 15_000, 31_000]);
        assert!(sent.iter().all(|(_, s)| s.is_synack()));
        assert_eq!(l.syn_queue_len(), 0);
        assert_eq!(l.stats().requests_expired, 1);
        assert_eq!(l.stats().synack_retransmits, 5);
    }

    #[test]
    fn a_queue_clogged_with_old_requests_cuts_retries_to_two_while_it_stays_over_half_full() {
        let mut l = listener(128, cookies_off());
        let mut out = Vec::new();
        for n in 0..97 {
            l.on_segment(at_ms(0), &syn(n), &mut out);
        }
        run_until(&mut l, at_ms(6_999));
        assert_eq!(l.syn_queue_len(), 97);
        // At 7 s none is young, so while qlen * 2 > max(8, 128) the retries are cut to 2 and the request dies
        // (1 + 2 + 4 s); once 64 are left the queue is no longer over half full and they keep their 5 retries.
        run_until(&mut l, at_ms(7_000));
        assert_eq!(l.syn_queue_len(), 64);
        assert_eq!(l.stats().requests_expired, 33);
        assert_eq!(l.stats().synack_retransmits, 2 * 97 + 64);
        run_until(&mut l, at_ms(62_999));
        assert_eq!(l.syn_queue_len(), 64);
        run_until(&mut l, at_ms(63_000));
        assert_eq!(l.syn_queue_len(), 0);
    }

    #[test]
    fn tuned_retries_drop_a_request_after_one_retry() {
        let mut l = listener(128, Sysctls { synack_retries: 1, ..cookies_off() });
        let mut out = Vec::new();
        l.on_segment(at_ms(0), &syn(1), &mut out);
        run_until(&mut l, at_ms(2_999));
        assert_eq!(l.syn_queue_len(), 1);
        run_until(&mut l, at_ms(3_000));
        assert_eq!((l.syn_queue_len(), l.stats().synack_retransmits), (0, 1));
    }
}

mod accept_queue {
    use super::*;

    /// A listener with a backlog of 2 whose process never calls accept() during the test, its accept queue full
    /// (3 connections: `sk_acceptq_is_full` is `>`) and one more request pending; returns that request's SYN-ACK.
    fn full(sysctls: Sysctls) -> (KernelListener, Seg) {
        let config = ListenerConfig { addr: server(), backlog: 2, sysctls, accept_cost: Duration::from_secs(1_000) };
        let mut l = KernelListener::new(config, 1);
        let mut out = Vec::new();
        for round in 0..2 {
            let mut synacks = Vec::new();
            for n in 0..2 {
                l.on_segment(at_ms(0), &syn(round * 2 + n), &mut synacks);
            }
            for synack in &synacks[..synacks.len() - round as usize] {
                l.on_segment(at_ms(1), &ack_of(synack), &mut out);
            }
            if round == 1 {
                assert_eq!(l.accept_queue_len(), 3, "a backlog of 2 holds 3 connections");
                assert_eq!(count(&l, "TcpExtListenOverflows"), 0);
                return (l, synacks[1]);
            }
        }
        unreachable!()
    }

    #[test]
    fn a_full_accept_queue_drops_the_third_ack_and_keeps_the_request() {
        let (mut l, pending) = full(cookies_off());
        let mut out = Vec::new();
        l.on_segment(at_ms(3), &ack_of(&pending), &mut out);
        assert!(out.is_empty());
        assert_eq!(l.accept_queue_len(), 3);
        assert_eq!(count(&l, "TcpExtListenOverflows"), 1);
        assert_eq!(count(&l, "TcpExtListenDrops"), 1);
        // The request stays, and its SYN-ACK is retransmitted at 1 s so the client ACKs again.
        assert_eq!(l.syn_queue_len(), 1);
        let sent = run_until(&mut l, at_ms(1_000));
        assert!(sent.iter().any(|(_, s)| s.is_synack() && s.dst == pending.dst));
        // With the accept queue full, a new SYN is refused before it is queued.
        l.on_segment(at_ms(1_100), &syn(9), &mut out);
        assert_eq!(count(&l, "TcpExtListenOverflows"), 2);
        assert_eq!(l.syn_queue_len(), 1);
    }

    #[test]
    fn abort_on_overflow_resets_instead() {
        let (mut l, pending) = full(Sysctls { abort_on_overflow: true, ..cookies_off() });
        let mut out = Vec::new();
        l.on_segment(at_ms(3), &ack_of(&pending), &mut out);
        assert_eq!(count(&l, "TcpExtListenOverflows"), 1);
        assert!(out[0].flags.rst() && out[0].dst == pending.dst);
        assert_eq!(l.syn_queue_len(), 0, "the request is gone");
    }

    #[test]
    fn the_listener_accepts_in_turn() {
        let config = ListenerConfig {
            addr: server(),
            backlog: 128,
            sysctls: cookies_off(),
            accept_cost: Duration::from_millis(1),
        };
        let mut l = KernelListener::new(config, 1);
        let mut synacks = Vec::new();
        for n in 0..3 {
            l.on_segment(at_ms(0), &syn(n), &mut synacks);
        }
        let mut out = Vec::new();
        for synack in &synacks {
            l.on_segment(at_ms(0), &ack_of(synack), &mut out);
        }
        let sent = run_until(&mut l, at_ms(10));
        let times: Vec<Timestamp> = sent.iter().map(|&(at, _)| at).collect();
        assert_eq!(times, [at_ms(1), at_ms(2), at_ms(3)]);
        assert_eq!(l.accept_queue_len(), 0);
    }
}
