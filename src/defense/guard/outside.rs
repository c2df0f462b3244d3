//! The guard's client side: SYNs answered (passed on, with a cookie, or statefully), and the ACK that opens a proxied
//! connection to the listener (RFC 4987 §3.6–3.8).

use super::reply::{Segment, handshake_options};
use super::{DropReason, Guard, Interface, Outbox, Received, Verdict, syn_options};
use crate::defense::cookie::CookieError;
use crate::defense::half_open::SynVerdict;
use crate::defense::policy::{Decision, Mode};
use crate::defense::proxy::translate::rescale_window;
use crate::defense::proxy::{ClientHandshake, ProxyState};
use crate::defense::{SynOptions, Tuple};
use crate::time::Timestamp;
use crate::wire::segment::TcpFlags;
use crate::wire::tcp_options::{MAX_WINDOW_SCALE, TcpOptions};

impl Guard {
    pub(super) fn client_segment(&mut self, now: Timestamp, segment: &mut Received, out: &mut Outbox) -> Verdict {
        let tuple = Tuple { client: segment.src(), server: segment.dst() };
        let flags = segment.flags();
        if flags.syn() && !flags.ack() && !flags.rst() {
            return self.client_syn(now, tuple, segment, out);
        }
        if let Some(entry) = self.proxy.get_mut(&tuple) {
            let (state, client_window_rescale) = (entry.state, entry.client_window_rescale);
            return match state {
                ProxyState::SynSent(handshake) if flags.rst() => {
                    // The listener got the proxy's SYN and holds a SYN-RECEIVED entry for the client: end it too, or
                    // it waits for its time-out and its SYN-ACKs reach the client untranslated. The client's own RST
                    // will not do: its ACK is in the proxy's space, and Linux's tcp_check_req ignores a RST whose ACK
                    // is not its ISN + 1. Ours has no ACK and sits at the listener's RCV.NXT.
                    self.proxy.reset(&tuple);
                    self.reset_listener(&tuple, handshake.client_isn.wrapping_add(1), out);
                    Verdict::Consumed
                }
                ProxyState::SynSent(_) => Verdict::Drop(DropReason::NotYetEstablished),
                ProxyState::Established(translation) => {
                    translation.to_server(segment);
                    if let Some(shifts) = client_window_rescale {
                        rescale_window(segment, shifts);
                    }
                    self.follow_established(now, &tuple, true, flags, segment.payload_len());
                    Verdict::Forward
                }
            };
        }
        if self.config.mode == Mode::Limit {
            if flags.rst() {
                self.half_open.reset(&tuple);
            } else if flags.ack() && self.half_open.complete(&tuple).is_some() {
                return Verdict::Forward;
            }
            // Established connections pass untracked in the transparent mode; only an ACK that may answer a
            // cookie sent on overflow is worth checking.
            if flags.ack() && !flags.rst() && self.counters.cookies_sent > 0 {
                return match self.open_from_ack(now, tuple, segment, out, false) {
                    Verdict::Consumed => Verdict::Consumed,
                    _ => Verdict::Forward,
                };
            }
            return Verdict::Forward;
        }
        if flags.rst() {
            self.half_open.reset(&tuple);
            return Verdict::Drop(DropReason::NoConnection);
        }
        if flags.ack() {
            return self.open_from_ack(now, tuple, segment, out, true);
        }
        Verdict::Drop(DropReason::NoConnection)
    }

    fn client_syn(&mut self, now: Timestamp, tuple: Tuple, syn: &Received, out: &mut Outbox) -> Verdict {
        self.counters.syns_seen += 1;
        if let Some(limiter) = self.rate_limit.as_mut()
            && !limiter.allow(now, tuple.client.ip())
        {
            return Verdict::Drop(DropReason::RateLimited);
        }
        let client_isn = syn.seq();
        let syn = syn_options(syn);
        if let Some(entry) = self.proxy.get_mut(&tuple) {
            if entry.handshake.client_isn == client_isn {
                // An old duplicate of this connection's own SYN (RFC 9293 §3.10.7.4, RFC 5961 §4: a SYN must not end
                // a synchronized connection). Taking it for a new connection, as before, forgot the translation of
                // one the listener still holds.
                return Verdict::Drop(DropReason::DuplicateSyn);
            }
            // The client started over on a tuple the proxy still holds.
            self.proxy.reset(&tuple);
        }
        match self.config.mode {
            Mode::Off => Verdict::Forward,
            Mode::Limit => match self.half_open.on_syn(now, tuple, client_isn, 0, syn) {
                SynVerdict::Admitted | SynVerdict::Duplicate(_) => Verdict::Forward,
                SynVerdict::Evicted(victim) => {
                    self.reset_listener(&victim.tuple, victim.client_isn.wrapping_add(1), out);
                    Verdict::Forward
                }
                SynVerdict::UseCookie => self.answer_with_cookie(now, tuple, client_isn, &syn, out),
                SynVerdict::Dropped(_) => Verdict::Drop(DropReason::HalfOpenLimit),
            },
            Mode::Cookies => self.answer_with_cookie(now, tuple, client_isn, &syn, out),
            Mode::Auto => match self.policy.decide(now, self.half_open.len()) {
                Decision::Cookie => self.answer_with_cookie(now, tuple, client_isn, &syn, out),
                Decision::Stateful | Decision::Pass => {
                    let issued = self.cookies.issue(now, &tuple, client_isn, &syn);
                    match self.half_open.on_syn(now, tuple, client_isn, issued.isn, syn) {
                        SynVerdict::Admitted | SynVerdict::Duplicate(_) | SynVerdict::Evicted(_) => {
                            let isn = self.half_open.get(&tuple).map_or(issued.isn, |e| e.our_isn);
                            self.send_synack(tuple, isn, client_isn, &syn, issued.tsval, out);
                            Verdict::Consumed
                        }
                        SynVerdict::UseCookie => self.answer_with_cookie(now, tuple, client_isn, &syn, out),
                        SynVerdict::Dropped(_) => Verdict::Drop(DropReason::HalfOpenLimit),
                    }
                }
            },
        }
    }

    fn answer_with_cookie(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        client_isn: u32,
        syn: &SynOptions,
        out: &mut Outbox,
    ) -> Verdict {
        // A cookie keeps the client's window scale and SACK in the TSecr it echoes (tsopt.rs); a client that sent no
        // timestamps echoes none, so the SYN-ACK must not offer them, or the client would scale windows the listener
        // never hears of (its windows read 128 times too small: bulk data crawled at 10 Mbit/s). Linux does the same:
        // tcp_conn_request clears these options for a cookie when the SYN had no timestamp (tcp_clear_options).
        // The same holds when the listener (so the proxy's SYN-ACK) sends no timestamps: nothing is echoed.
        let echoed = syn.tsval.is_some() && self.config.listener.timestamps;
        let syn = if echoed { *syn } else { SynOptions { wscale: None, sack_permitted: false, ..*syn } };
        let issued = self.cookies.issue(now, &tuple, client_isn, &syn);
        self.counters.cookies_sent += 1;
        self.send_synack(tuple, issued.isn, client_isn, &syn, issued.tsval, out);
        Verdict::Consumed
    }

    /// The proxy's SYN-ACK: the listener's options, as far as the client asked for them.
    pub(super) fn send_synack(
        &mut self,
        tuple: Tuple,
        isn: u32,
        client_isn: u32,
        syn: &SynOptions,
        tsval: Option<u32>,
        out: &mut Outbox,
    ) {
        let listener = self.config.listener;
        let timestamps = match (syn.tsval, tsval, listener.timestamps) {
            (Some(client), Some(ours), true) => Some((ours, client)),
            _ => None,
        };
        let wscale = syn.wscale.and(listener.wscale);
        let len = handshake_options(
            &mut self.options,
            listener.mss,
            syn.sack_permitted && listener.sack_permitted,
            timestamps,
            wscale,
        );
        let segment = Segment {
            src_mac: self.macs.server_side,
            dst_mac: self.macs.client_side,
            from: tuple.server,
            to: tuple.client,
            seq: isn,
            ack: client_isn.wrapping_add(1),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: listener.window,
            options: &self.options[..len],
        };
        if segment.write(out.next(Interface::Outside)).is_ok() {
            self.counters.synacks_sent += 1;
        } else {
            out.retract();
        }
    }

    /// An ACK for the protected service with no proxied connection: the third packet of a handshake the proxy
    /// answered, statefully or with a cookie. A valid one opens the connection to the listener.
    fn open_from_ack(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        ack_segment: &Received,
        out: &mut Outbox,
        drop_invalid: bool,
    ) -> Verdict {
        let (seq, ack) = (ack_segment.seq(), ack_segment.ack());
        let client_ts = TcpOptions::new(ack_segment.options()).handshake().timestamps;
        let stateful = self
            .half_open
            .get(&tuple)
            .filter(|e| e.our_isn.wrapping_add(1) == ack && e.client_isn.wrapping_add(1) == seq)
            .map(|e| (e.syn, e.our_isn));
        let (mss, wscale, sack_permitted) = if let Some((syn, _)) = stateful {
            self.half_open.complete(&tuple);
            let mss = syn.mss.unwrap_or(if tuple.client.is_ipv4() { 536 } else { 1220 });
            (mss, syn.wscale, syn.sack_permitted)
        } else {
            match self.cookies.check(now, &tuple, seq, ack, client_ts.map(|(_, ecr)| ecr)) {
                Ok(accepted) => {
                    self.counters.cookies_validated += 1;
                    (accepted.mss, accepted.wscale, accepted.sack_permitted)
                }
                Err(CookieError::Expired) => {
                    self.counters.cookies_expired += 1;
                    return if drop_invalid { Verdict::Drop(DropReason::ExpiredCookie) } else { Verdict::Forward };
                }
                Err(_) => {
                    self.counters.cookies_failed += 1;
                    return if drop_invalid { Verdict::Drop(DropReason::BadCookie) } else { Verdict::Forward };
                }
            }
        };
        let timestamps = match (client_ts, self.config.listener.timestamps) {
            (Some((tsval, tsecr)), true) => Some((tsval, tsecr)),
            _ => None,
        };
        let handshake = ClientHandshake {
            client_isn: seq.wrapping_sub(1),
            proxy_isn: ack.wrapping_sub(1),
            mss,
            wscale,
            sack_permitted: sack_permitted && self.config.listener.sack_permitted,
            timestamps,
            window: ack_segment.window(),
        };
        if !self.proxy.open(now, tuple, handshake) {
            return Verdict::Drop(DropReason::ProxyFull);
        }
        // Step 2: the listener gets the client's SYN, as the client sent it to us. Its ACK's window is scaled only if
        // the proxy's SYN-ACK offered scaling too (RFC 7323 §2.2); a SYN's window never is.
        let shift = match handshake.wscale.zip(self.config.listener.wscale) {
            Some((client, _)) => client.min(MAX_WINDOW_SCALE),
            None => 0,
        };
        let syn_window = (u32::from(handshake.window) << shift).min(0xFFFF) as u16;
        let len = handshake_options(
            &mut self.options,
            handshake.mss,
            handshake.sack_permitted,
            handshake.timestamps.map(|(tsval, _)| (tsval, 0)),
            handshake.wscale,
        );
        let segment = Segment {
            src_mac: self.macs.client_side,
            dst_mac: self.macs.server_side,
            from: tuple.client,
            to: tuple.server,
            seq: handshake.client_isn,
            ack: 0,
            flags: TcpFlags::SYN,
            window: syn_window,
            options: &self.options[..len],
        };
        if segment.write(out.next(Interface::Inside)).is_err() {
            out.retract();
        }
        Verdict::Consumed
    }
}
