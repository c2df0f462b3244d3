//! Which sender a flood uses ([`crate::capture::tx`] has them all): the transmit ring, sendmmsg on a packet socket,
//! or sendmmsg on a raw IPv4 socket for IPv4 loopback targets the kernel would otherwise drop as martians.

use std::net::IpAddr;

use crate::capture::interfaces::NetworkInterface;
use crate::capture::tx::{Tx, TxError, mmsg, ring};

/// Which sender to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Method {
    /// The ring, except raw IP for IPv4 loopback targets while the kernel would drop injected frames to them.
    #[default]
    Auto,
    /// PACKET_TX_RING, falling back to sendmmsg if the kernel refuses the ring.
    Ring,
    /// sendmmsg(2) on a packet socket.
    Mmsg,
    /// sendmmsg(2) on a raw IPv4 socket; IPv4 loopback targets only.
    Raw,
}

/// Opens the sender for frames to `target` on `iface`. The caller has checked that [`Method::Raw`] is asked only
/// for an IPv4 loopback target.
pub fn open(
    method: Method,
    iface: &NetworkInterface,
    target: IpAddr,
    frame_len: usize,
    batch: usize,
) -> Result<Box<dyn Tx + Send>, TxError> {
    let loopback4 = match target {
        IpAddr::V4(ip) if ip.is_loopback() && iface.is_loopback() => Some(ip),
        _ => None,
    };
    let method = match (method, loopback4) {
        (Method::Auto, Some(_)) if !super::route::route_localnet(&iface.name) => Method::Raw,
        (Method::Auto, _) => Method::Ring,
        (other, _) => other,
    };
    match (method, loopback4) {
        (Method::Raw, Some(ip)) => Ok(Box::new(mmsg::MmsgTx::open_raw(ip, &iface.name, frame_len, batch)?)),
        (Method::Mmsg | Method::Raw, _) => Ok(Box::new(mmsg::MmsgTx::open(iface, frame_len, batch)?)),
        (Method::Ring | Method::Auto, _) => match ring::TxRing::open(iface, frame_len, batch) {
            Ok(ring) => Ok(Box::new(ring)),
            Err(TxError::Setup { .. }) => Ok(Box::new(mmsg::MmsgTx::open(iface, frame_len, batch)?)),
            Err(err) => Err(err),
        },
    }
}
