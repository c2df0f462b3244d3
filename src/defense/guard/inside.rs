//! The guard's listener side: the listener's SYN-ACK that completes a proxied handshake, and every later segment of
//! a proxied connection, translated for the client.

use super::reply::{Segment, timestamp_only};
use super::{DropReason, Guard, Interface, ListenerOptions, Outbox, Received, Verdict};
use crate::defense::Tuple;
use crate::defense::proxy::translate::rescale;
use crate::defense::proxy::{ClientHandshake, ProxyState};
use crate::time::Timestamp;
use crate::wire::segment::TcpFlags;
use crate::wire::tcp_options::{HandshakeOptions, MAX_WINDOW_SCALE, TcpOptions};

/// A window conversion: (the shift its sender scales by, the shift its reader applies), when these differ.
type Rescale = Option<(u8, u8)>;

impl Guard {
    pub(super) fn listener_segment(&mut self, now: Timestamp, segment: &mut Received, out: &mut Outbox) -> Verdict {
        let tuple = Tuple { client: segment.dst(), server: segment.src() };
        let flags = segment.flags();
        let Some(entry) = self.proxy.get_mut(&tuple) else {
            if flags.rst() {
                self.half_open.reset(&tuple);
            }
            return Verdict::Forward;
        };
        match entry.state {
            ProxyState::SynSent(handshake) => {
                if flags.rst() {
                    // The listener refused: tell the client, in the proxy's sequence space.
                    self.proxy.reset(&tuple);
                    self.reset_client(&tuple, handshake.proxy_isn.wrapping_add(1), out);
                    return Verdict::Consumed;
                }
                if !(flags.syn() && flags.ack()) {
                    return Verdict::Drop(DropReason::NotYetEstablished);
                }
                self.listener_synack(now, tuple, handshake, segment, out)
            }
            ProxyState::Established(translation) => {
                let handshake = entry.handshake;
                let listener_isn = handshake.proxy_isn.wrapping_sub(translation.seq_delta);
                if flags.syn() && flags.ack() && segment.seq() == listener_isn {
                    // A retransmitted SYN-ACK (our ACK was lost): the client must not see it, and the listener must
                    // get our ACK again, as Linux answers a SYN-ACK in ESTABLISHED (tcp_rcv_state_process, RFC 9293
                    // §3.10.7.4). Dropping it left the listener in SYN-RECEIVED until the client spoke, so a server
                    // that speaks first never accepted the connection. TSval: what the listener echoes, so PAWS
                    // takes it.
                    let options = TcpOptions::new(segment.options()).handshake();
                    let timestamps = handshake.timestamps.and(options.timestamps).map(|(tsval, tsecr)| (tsecr, tsval));
                    let window = client_window(&handshake, entry.client_window_rescale);
                    let (seq, ack) = (handshake.client_isn.wrapping_add(1), listener_isn.wrapping_add(1));
                    self.ack_listener(&tuple, seq, ack, window, timestamps, out);
                    return Verdict::Consumed;
                }
                if flags.syn() {
                    return Verdict::Drop(DropReason::NotYetEstablished);
                }
                translation.to_client(segment);
                self.follow_established(now, &tuple, false, flags, segment.payload_len());
                Verdict::Forward
            }
        }
    }

    /// Bookkeeping for a segment of a proxied connection: a RST ends the entry, FINs are noted, and the bare ACK
    /// after both FINs closes it.
    pub(super) fn follow_established(
        &mut self,
        now: Timestamp,
        tuple: &Tuple,
        from_client: bool,
        flags: TcpFlags,
        payload_len: usize,
    ) {
        if flags.rst() {
            self.proxy.reset(tuple);
            return;
        }
        self.proxy.saw(now, tuple, from_client, flags.fin());
        if !flags.fin() && payload_len == 0 {
            self.proxy.close_if_done(tuple);
        }
    }

    /// Step 3: the listener's SYN-ACK. Fix the translation and complete the listener's handshake.
    fn listener_synack(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        handshake: ClientHandshake,
        synack: &Received,
        out: &mut Outbox,
    ) -> Verdict {
        let options = TcpOptions::new(synack.options()).handshake();
        let listener_ts = options.timestamps.map(|(tsval, _)| tsval);
        let (to_client, to_server) = self.window_rescales(&handshake, options.wscale);
        if to_client.is_some() || to_server.is_some() {
            self.counters.wscale_mismatches += 1;
        }
        self.learn_listener(&handshake, &options, synack.window());
        let listener_isn = synack.seq();
        let Some((handshake, _)) = self.proxy.establish(now, &tuple, listener_isn, listener_ts, to_client, to_server)
        else {
            return Verdict::Drop(DropReason::NotYetEstablished);
        };
        let timestamps =
            handshake.timestamps.zip(listener_ts).map(|((client_tsval, _), listener)| (client_tsval, listener));
        let window = client_window(&handshake, to_server);
        self.ack_listener(
            &tuple,
            handshake.client_isn.wrapping_add(1),
            listener_isn.wrapping_add(1),
            window,
            timestamps,
            out,
        );
        Verdict::Consumed
    }

    /// The proxy's ACK of the listener's SYN-ACK, in the client's name, with `(TSval, TSecr)` when both ends use
    /// timestamps.
    fn ack_listener(
        &mut self,
        tuple: &Tuple,
        seq: u32,
        ack: u32,
        window: u16,
        timestamps: Option<(u32, u32)>,
        out: &mut Outbox,
    ) {
        let len = timestamps.map_or(0, |(tsval, tsecr)| timestamp_only(&mut self.options, tsval, tsecr));
        let segment = Segment {
            src_mac: self.macs.client_side,
            dst_mac: self.macs.server_side,
            from: tuple.client,
            to: tuple.server,
            seq,
            ack,
            flags: TcpFlags::ACK,
            window,
            options: &self.options[..len],
        };
        if segment.write(out.next(Interface::Inside)).is_err() {
            out.retract();
        }
    }

    /// The window conversions a proxied connection needs, listener → client and client → listener, each as (the
    /// shift its sender scales by, the shift its reader applies), when they differ. RFC 7323 §2.2: scaling is in
    /// effect on a half of the connection only when both of its SYNs carried the option. The client's half: the
    /// client's SYN (its shift is the handshake's) and the proxy's SYN-ACK (the configured listener's shift); the
    /// listener's half: the proxy's SYN (the client's shift again) and the listener's SYN-ACK. Only converting
    /// when both halves scale, as before, left a listener without window scaling (Linux's
    /// net.ipv4.tcp_window_scaling=0) reading client windows 128 times too small and promising 128 times more
    /// than it had.
    fn window_rescales(&self, handshake: &ClientHandshake, listener_wscale: Option<u8>) -> (Rescale, Rescale) {
        let client = handshake.wscale.map(|shift| shift.min(MAX_WINDOW_SCALE));
        let clamp = |shift: u8| shift.min(MAX_WINDOW_SCALE);
        // (sends with, reads with) on each half; 0 where scaling is off.
        let (client_sends, client_reads) =
            client.zip(self.config.listener.wscale).map_or((0, 0), |(c, p)| (c, clamp(p)));
        let (listener_sends, listener_reads) = client.zip(listener_wscale).map_or((0, 0), |(c, l)| (clamp(l), c));
        let differ = |sender: u8, reader: u8| (sender != reader).then_some((sender, reader));
        (differ(listener_sends, client_reads), differ(client_sends, listener_reads))
    }

    /// The listener's SYN-ACK shows what it really does; later SYN-ACKs of the proxy promise that instead of the
    /// configured guess (netfilter's SYNPROXY needs them configured by hand; learning them from the first
    /// handshake removes the mismatch after one connection). The connection that taught us is rescaled.
    fn learn_listener(&mut self, handshake: &ClientHandshake, options: &HandshakeOptions, window: u16) {
        let Some(mss) = options.mss else { return };
        let learnt = ListenerOptions {
            mss,
            wscale: options.wscale,
            sack_permitted: options.sack_permitted,
            timestamps: options.timestamps.is_some(),
            window,
        };
        // Only what the listener answered to a SYN that asked for everything counts; a client without window
        // scaling, SACK or timestamps gets a SYN-ACK without them, which says nothing about the listener. (This
        // looked at the answer instead, so a listener without window scaling was never learnt.)
        let asked_everything = handshake.wscale.is_some() && handshake.sack_permitted && handshake.timestamps.is_some();
        if learnt != self.config.listener && asked_everything {
            self.config.listener = learnt;
            self.counters.listener_options_learnt += 1;
        }
    }
}

/// The client's window from its handshake ACK, as the listener reads it.
fn client_window(handshake: &ClientHandshake, to_server: Rescale) -> u16 {
    to_server.map_or(handshake.window, |(client, listener)| rescale(handshake.window, client, listener))
}
