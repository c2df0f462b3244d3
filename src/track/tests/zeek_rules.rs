//! Issue 13: where conn.log follows Zeek's own rules (read from Zeek's TCP analyzer; see zeek_stream.rs and
//! `Conn::clock_stopped`): which segments are a `T`, when bytes are a content gap (`G`, `missed_bytes`), what the
//! byte counts span, and where the duration ends.

use super::*;

/// Client payload cut by a snap length: the headers only, the IP length counting `len` payload bytes.
fn truncated(seq: u32, ack: u32, len: u16) -> Vec<u8> {
    claiming(tcp_frame(CLIENT, SERVER, "PA", seq, ack, 0, 65535), HDRS as u16 + len)
}

mod retransmission {
    use super::*;

    #[test]
    fn resent_payload_is_t_resent_bare_fin_is_not() {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40);
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 50), ["[retransmission]"]);
        send!(t, client, "FA", seq = 1101, ack = 5001, at = 60);
        assert_eq!(send!(t, client, "FA", seq = 1101, ack = 5001, at = 70), ["[retransmission]"]);
        // One T for the payload; the resent FIN (no payload) adds none, nor an F (same sequence number).
        check(&finish(t), ConnState::S2, "ShADTF", EndReason::EndOfInput);
    }

    #[test]
    fn a_segment_carrying_new_bytes_past_the_highest_seen_is_no_t() {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40);
        // Overlaps 50 old bytes and brings 50 new ones: Wireshark's retransmission, not Zeek's.
        assert_eq!(send!(t, client, "PA", seq = 1051, ack = 5001, len = 100, at = 50), ["[retransmission]"]);
        let r = finish(t);
        check(&r, ConnState::S1, "ShAD", EndReason::EndOfInput);
        assert_eq!(r.orig_bytes, Some(150));
    }

    #[test]
    fn nothing_after_the_senders_own_rst_is_a_t() {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40);
        send!(t, client, "RA", seq = 1101, ack = 5001, at = 50);
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 60);
        check(&finish(t), ConnState::RSTO, "ShADR", EndReason::Reset);
    }

    #[test]
    fn payload_below_what_the_peer_acknowledged_unseen_is_t() {
        let mut t = established();
        // The server acknowledges 100 bytes the capture never saw, then the client resends them.
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1101, at = 40), ["[ACK of 100 bytes never seen]"]);
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 50), ["[retransmission]"]);
        let r = finish(t);
        check(&r, ConnState::S1, "ShAaGDT", EndReason::EndOfInput);
        assert_eq!((r.missed_bytes, r.orig_bytes), (100, Some(100)));
    }
}

mod content_gap {
    use super::*;

    #[test]
    fn a_hole_filled_later_is_a_t_on_the_fill_and_no_gap() {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40);
        assert_eq!(
            send!(t, client, "PA", seq = 1201, ack = 5001, len = 100, at = 41),
            ["[previous segment lost: 100 bytes missing]"]
        );
        assert_eq!(send!(t, client, "PA", seq = 1101, ack = 5001, len = 100, at = 42), ["[out-of-order]"]);
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1301, at = 50), NOTHING);
        let r = finish(t);
        check(&r, ConnState::S1, "ShADTa", EndReason::EndOfInput);
        assert_eq!((r.missed_bytes, r.orig_bytes), (0, Some(300)));
    }

    #[test]
    fn a_hole_the_peer_acknowledges_unseen_is_a_gap_of_what_is_still_missing() {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40);
        // 1101..1401 skipped; 1101..1151 arrives late, at the hole's start; 1351..1401 at its end.
        send!(t, client, "PA", seq = 1401, ack = 5001, len = 100, at = 41);
        assert_eq!(send!(t, client, "PA", seq = 1101, ack = 5001, len = 50, at = 42), ["[out-of-order]"]);
        assert_eq!(send!(t, client, "PA", seq = 1351, ack = 5001, len = 50, at = 43), ["[out-of-order]"]);
        // The server acknowledges everything: 1151..1351 was never seen.
        send!(t, server, "A", seq = 5001, ack = 1501, at = 50);
        let r = finish(t);
        check(&r, ConnState::S1, "ShADTaG", EndReason::EndOfInput);
        // Bytes count the whole sequence span, the gap included (Zeek's Size()), the gap also in missed_bytes.
        assert_eq!((r.missed_bytes, r.orig_bytes), (200, Some(500)));
    }

    #[test]
    fn an_ack_inside_the_hole_settles_only_the_part_below_it() {
        let mut t = established();
        send!(t, client, "PA", seq = 1201, ack = 5001, len = 100, at = 40);
        send!(t, server, "A", seq = 5001, ack = 1101, at = 50);
        let r = {
            let mut t = t;
            // The rest of the hole arrives: no more gap.
            send!(t, client, "PA", seq = 1101, ack = 5001, len = 100, at = 60);
            finish(t)
        };
        assert_eq!(r.missed_bytes, 100, "{r:#?}");
        assert_eq!(r.history.as_str(), "ShADaGT");
    }

    #[test]
    fn a_truncated_payload_is_a_gap_once_acknowledged() {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40);
        assert_eq!(feed_frame(&mut t, at(41), &truncated(1101, 5001, 200)), NOTHING);
        assert_eq!(feed_frame(&mut t, at(42), &truncated(1301, 5001, 200)), NOTHING);
        // Not yet a gap: nothing acknowledged it.
        assert_eq!(t.table.get(t.table.find(&tcp_key()).unwrap()).missed_bytes, 0);
        send!(t, server, "A", seq = 5001, ack = 1501, at = 50);
        let r = finish(t);
        check(&r, ConnState::S1, "ShADaG", EndReason::EndOfInput);
        assert_eq!((r.missed_bytes, r.orig_bytes), (400, Some(500)));
    }

    #[test]
    fn a_full_copy_of_a_truncated_segment_is_a_retransmission() {
        let mut t = established();
        assert_eq!(feed_frame(&mut t, at(41), &truncated(1001, 5001, 100)), NOTHING);
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 42), ["[retransmission]"]);
        send!(t, server, "A", seq = 5001, ack = 1101, at = 50);
        let r = finish(t);
        assert_eq!((r.missed_bytes, r.history.as_str()), (0, "ShADTa"));
    }

    #[test]
    fn mid_stream_connections_report_no_gap() {
        // Zeek reports content gaps only between established (or cleanly closing) ends; a partial connection's
        // ends never are.
        let mut t = tracker();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 0);
        send!(t, server, "A", seq = 5001, ack = 1301, at = 10);
        let r = finish(t);
        assert_eq!((r.conn_state, r.missed_bytes, r.history.as_str()), (ConnState::OTH, 0, "Da"));
    }
}

mod duration {
    use super::*;

    #[test]
    fn late_ack_resent_fin_and_trailing_rst_do_not_lengthen_it() {
        let mut t = time_wait(); // FINs at 100 and 120 ms, the last ACK at 130
        send!(t, server, "FA", seq = 5001, ack = 1002, at = 300);
        send!(t, client, "A", seq = 1002, ack = 5002, at = 310);
        send!(t, client, "R", seq = 1002, at = 400);
        let r = finish(t);
        check(&r, ConnState::SF, "ShAFafR", EndReason::Close);
        assert_eq!(r.duration, Some(ms(120)));
        assert_eq!((r.orig_pkts, r.resp_pkts), (6, 4), "trailing packets are still counted");
    }

    #[test]
    fn one_rst_closes_one_end_the_other_still_counts_until_it_closes() {
        let mut t = established();
        send!(t, server, "RA", seq = 5001, ack = 1001, at = 40);
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 50);
        send!(t, client, "R", seq = 1011, at = 60);
        send!(t, server, "R", seq = 5001, at = 70);
        send!(t, client, "PA", seq = 1011, ack = 5001, len = 10, at = 80);
        let r = finish(t);
        assert_eq!(r.duration, Some(ms(60)), "{r:#?}");
        assert_eq!((r.orig_pkts, r.resp_pkts), (5, 3));
    }

    #[test]
    fn both_fins_without_the_last_ack_end_the_clock_and_close_after_the_delay() {
        let mut t = established();
        send!(t, client, "FA", seq = 1001, ack = 5001, at = 100);
        send!(t, server, "FA", seq = 5001, ack = 1001, at = 120); // does not acknowledge the client's FIN
        assert_eq!(phase(&t), Phase::Active, "the tracker still waits for the ACKs of the FINs");
        t.handle_timeout(Timestamp::from_nanos(at(5120).as_nanos() - 1));
        assert!(records(&mut t).is_empty());
        t.handle_timeout(at(5120));
        let r = records(&mut t);
        assert_eq!(r.len(), 1, "due at the second FIN + tcp_close_delay, as Zeek's ConnDeleteTimer");
        check(&r[0], ConnState::SF, "ShAFf", EndReason::Close);
        assert_eq!(r[0].duration, Some(ms(120)));
    }

    /// The reverted f52050c re-queued a connection whose clock had stopped at a list's tail with its old time when a
    /// later packet changed its phase, and the timer walk (which stops at the first head not yet due) then kept
    /// records behind it past their deadlines.
    #[test]
    fn a_stopped_connection_changing_phase_keeps_the_timer_lists_in_order() {
        let mut t = established();
        send!(t, client, "FA", seq = 1001, ack = 5001, at = 100);
        send!(t, server, "FA", seq = 5001, ack = 1001, at = 120); // both closed: the clock stops at 120 ms
        // A second connection closes by RST at 2 s, due at 7 s.
        let other = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 11), 40001));
        feed_frame(&mut t, at(1000), &tcp_frame(other, SERVER, "S", 1, 0, 0, 65535));
        feed_frame(&mut t, at(1010), &tcp_frame(SERVER, other, "SA", 9, 2, 0, 65535));
        feed_frame(&mut t, at(2000), &tcp_frame(other, SERVER, "R", 2, 0, 0, 65535));
        // Now the first connection's ACKs of the FINs arrive, moving it to the Closed phase at 3 s.
        send!(t, server, "A", seq = 5002, ack = 1002, at = 3000);
        send!(t, client, "A", seq = 1002, ack = 5002, at = 3010);
        assert_eq!(phase(&t), Phase::Closed);
        // Due at 5.12 s (its clock stopped at 120 ms), before the other one's 7 s.
        t.handle_timeout(at(5120));
        let r = records(&mut t);
        assert_eq!(r.len(), 1, "{r:#?}");
        assert_eq!((r[0].orig, r[0].duration), (client(), Some(ms(120))));
        t.handle_timeout(at(7000));
        assert_eq!(records(&mut t).len(), 1);
    }

    #[test]
    fn a_refusal_reopened_by_a_syn_ack_restarts_the_clock() {
        let mut t = half_open();
        // A RST refuses the SYN, the client gives up with a FIN, then the server's SYN-ACK contradicts the RST.
        assert_eq!(send!(t, server, "RA", seq = 0, ack = 1001, at = 10), ["[refused: RST answers SYN]"]);
        send!(t, client, "FA", seq = 1001, ack = 0, at = 20);
        send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 30);
        for i in 0..4u64 {
            send!(t, server, "PA", seq = 5001 + 100 * i as u32, ack = 1002, len = 100, at = 60_000 * (i + 1));
        }
        assert!(records(&mut t).is_empty(), "expired while the server was still sending");
        let r = finish(t);
        assert_eq!(r.duration, Some(ms(240_000)), "{r:#?}");
    }

    #[test]
    fn the_handshake_is_never_longer_than_the_connection() {
        let mut t = half_open();
        send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10);
        send!(t, client, "F", seq = 1001, at = 20);
        send!(t, server, "F", seq = 5001, at = 30);
        // The ACK completing the handshake comes after both FINs.
        send!(t, client, "A", seq = 1002, ack = 5001, at = 50);
        let r = finish(t);
        assert_eq!(r.handshake_rtt, Some(ms(50)));
        assert_eq!(r.duration, Some(ms(50)));
    }
}

mod reuse {
    use super::*;

    #[test]
    fn a_syn_after_the_originators_fin_is_a_new_connection_even_with_the_same_isn() {
        let mut t = fin_wait_1(); // the client's FIN at 100 ms; the server has not closed
        assert_eq!(send!(t, client, "S", seq = C_ISN, at = 200), ["[handshake 1/3 SYN, retransmission: try 2]"]);
        let old = records(&mut t);
        assert_eq!(old.len(), 1, "{old:#?}");
        check(&old[0], ConnState::S2, "ShAF", EndReason::Reuse);
        check(&finish(t), ConnState::S0, "S", EndReason::EndOfInput);
    }

    #[test]
    fn a_syn_with_a_new_isn_on_an_established_connection_is_a_new_connection() {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 40);
        send!(t, client, "S", seq = 77_000, at = 50);
        let old = records(&mut t);
        assert_eq!(old.len(), 1);
        check(&old[0], ConnState::S1, "ShAD", EndReason::Reuse);
        assert_eq!(old[0].orig_bytes, Some(10));
        check(&finish(t), ConnState::S0, "S", EndReason::EndOfInput);
    }

    #[test]
    fn a_resent_syn_continues_an_open_connection() {
        let mut t = established();
        send!(t, client, "S", seq = C_ISN, at = 50);
        assert!(records(&mut t).is_empty());
        check(&finish(t), ConnState::S1, "ShA", EndReason::EndOfInput);
    }

    #[test]
    fn a_syn_after_mid_stream_traffic_is_a_new_connection() {
        // Zeek numbers a partial connection from one below its first byte; a SYN with another ISN is new.
        let mut t = tracker();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 0);
        send!(t, client, "S", seq = 9000, at = 10);
        let old = records(&mut t);
        assert_eq!(old.len(), 1);
        check(&old[0], ConnState::OTH, "D", EndReason::Reuse);
        check(&finish(t), ConnState::S0, "S", EndReason::EndOfInput);
    }

    #[test]
    fn the_responders_syn_in_a_simultaneous_open_stays_one_connection() {
        let mut t = half_open();
        assert_eq!(send!(t, server, "S", seq = S_ISN, at = 5), ["[simultaneous open: both ends sent SYN]"]);
        assert!(records(&mut t).is_empty());
        assert_eq!(t.tracked(), 1);
    }

    #[test]
    fn a_second_syn_ack_with_a_new_isn_on_a_half_connection_is_new() {
        // Only the server's side was seen (the SYN-ACK first: roles flipped, '^'); a SYN-ACK with another ISN starts
        // a new connection, as Zeek judges a half connection's SYN-ACK against the responder's start.
        let mut t = tracker();
        send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 0);
        send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10);
        assert!(records(&mut t).is_empty(), "the same SYN-ACK again continues it");
        send!(t, server, "SA", seq = 8000, ack = 2001, at = 20);
        let old = records(&mut t);
        assert_eq!(old.len(), 1);
        assert_eq!((old[0].history.as_str(), old[0].end_reason), ("^h", EndReason::Reuse));
        assert_eq!(finish(t).history.as_str(), "^h");
    }
}

#[test]
fn a_one_byte_keep_alive_is_a_t() {
    let mut t = established();
    send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 40);
    send!(t, server, "A", seq = 5001, ack = 1011, at = 50);
    // One garbage byte below the next sequence number (Windows' keep-alive): its byte was seen before.
    assert_eq!(send!(t, client, "A", seq = 1010, ack = 5001, len = 1, at = 60_000), ["[keep-alive]"]);
    check(&finish(t), ConnState::S1, "ShADaT", EndReason::EndOfInput);
}
