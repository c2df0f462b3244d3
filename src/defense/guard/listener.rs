//! The guard's listener side: the listener's SYN-ACK that completes a proxied handshake, and every later segment of
//! a proxied connection, translated for the client.

use super::reply::{Segment, timestamp_only};
use super::{DropReason, Guard, ListenerOptions, Outbox, Side, Verdict};
use crate::defense::Tuple;
use crate::defense::proxy::{ClientHandshake, ProxyState};
use crate::time::Timestamp;
use crate::wire::segment::TcpFlags;
use crate::wire::tcp_layout::TcpLayout;
use crate::wire::tcp_options::{HandshakeOptions, TcpOptions};

impl Guard {
    pub(super) fn listener_segment(
        &mut self,
        now: Timestamp,
        frame: &mut [u8],
        layout: &TcpLayout,
        out: &mut Outbox,
    ) -> Verdict {
        let tuple = Tuple { client: layout.dst(frame), server: layout.src(frame) };
        let flags = layout.flags(frame);
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
                self.listener_synack(now, tuple, handshake, frame, layout, out)
            }
            ProxyState::Established(translation) => {
                if flags.syn() {
                    // A retransmitted SYN-ACK (our ACK was lost): the client must not see it. The client's next
                    // segment, translated, acknowledges the listener's ISN and completes its handshake
                    // (tcp_check_req accepts any ACK of the SYN-ACK).
                    return Verdict::Drop(DropReason::NotYetEstablished);
                }
                translation.to_client(frame, layout);
                self.follow_established(now, &tuple, false, flags, layout);
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
        layout: &TcpLayout,
    ) {
        if flags.rst() {
            self.proxy.reset(tuple);
            return;
        }
        self.proxy.saw(now, tuple, from_client, flags.fin());
        if !flags.fin() && layout.payload_len() == 0 {
            self.proxy.close_if_done(tuple);
        }
    }

    /// Step 3: the listener's SYN-ACK. Fix the translation and complete the listener's handshake.
    fn listener_synack(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        handshake: ClientHandshake,
        frame: &[u8],
        layout: &TcpLayout,
        out: &mut Outbox,
    ) -> Verdict {
        let options = TcpOptions::new(layout.options(frame)).handshake();
        let listener_ts = options.timestamps.map(|(tsval, _)| tsval);
        let advertised = handshake.wscale.and(self.config.listener.wscale);
        let actual = handshake.wscale.and(options.wscale);
        let rescale = match (actual, advertised) {
            (Some(actual), Some(advertised)) if actual != advertised => {
                self.counters.wscale_mismatches += 1;
                Some((actual, advertised))
            }
            _ => None,
        };
        self.learn_listener(&options, layout.window(frame));
        let listener_isn = layout.seq(frame);
        let Some((handshake, _)) = self.proxy.establish(now, &tuple, listener_isn, listener_ts, rescale) else {
            return Verdict::Drop(DropReason::NotYetEstablished);
        };
        let len = match (handshake.timestamps, listener_ts) {
            (Some((client_tsval, _)), Some(listener_tsval)) => {
                timestamp_only(&mut self.options, client_tsval, listener_tsval)
            }
            _ => 0,
        };
        let segment = Segment {
            src_mac: self.macs.client_side,
            dst_mac: self.macs.server_side,
            from: tuple.client,
            to: tuple.server,
            seq: handshake.client_isn.wrapping_add(1),
            ack: listener_isn.wrapping_add(1),
            flags: TcpFlags::ACK,
            window: handshake.window,
            options: &self.options[..len],
        };
        if segment.write(out.next(Side::Inside)).is_err() {
            out.retract();
        }
        Verdict::Consumed
    }

    /// The listener's SYN-ACK shows what it really does; later SYN-ACKs of the proxy promise that instead of the
    /// configured guess (netfilter's SYNPROXY needs them configured by hand; learning them from the first
    /// handshake removes the mismatch after one connection). The connection that taught us is rescaled.
    fn learn_listener(&mut self, options: &HandshakeOptions, window: u16) {
        let Some(mss) = options.mss else { return };
        let learnt = ListenerOptions {
            mss,
            wscale: options.wscale,
            sack_permitted: options.sack_permitted,
            timestamps: options.timestamps.is_some(),
            window,
        };
        // Only what the listener answered to a SYN that asked for everything counts; a client without window
        // scaling or SACK gets a SYN-ACK without them, which says nothing about the listener.
        if learnt != self.config.listener && options.wscale.is_some() && options.sack_permitted {
            self.config.listener = learnt;
            self.counters.listener_options_learnt += 1;
        }
    }
}
