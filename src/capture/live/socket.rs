//! An AF_PACKET socket bound to one interface (packet(7)): opening it, promiscuous mode, the link type, and the
//! kernel's drop counters. The receive ring lives in `ring.rs`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::wire::LinkType;

/// `ETH_P_ALL` in network byte order, as socket(2) and bind(2) on AF_PACKET want it.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();
/// `ARPHRD_NONE`: devices without a link header (tun, wireguard); frames start at the IP header.
const ARPHRD_NONE: u16 = 0xFFFE;

/// Why a capture could not start, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "capturing on {0} needs CAP_NET_RAW: run synscope with sudo, or grant it once with \
         `sudo setcap cap_net_raw+ep $(command -v synscope)`"
    )]
    NoPrivilege(String),
    #[error("cannot capture on {interface}: {step}: {source}")]
    Os { interface: String, step: &'static str, source: io::Error },
}

/// How frames arrive from the kernel on this interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMode {
    /// SOCK_RAW: frames as on the wire, with their link header (Ethernet, loopback, or none at all).
    Raw(LinkType),
    /// SOCK_DGRAM: the link header is stripped and we rebuild a Linux "cooked" (SLL) header, as libpcap does for
    /// link types it cannot decode.
    Cooked,
}

impl LinkMode {
    pub fn link_type(self) -> LinkType {
        match self {
            LinkMode::Raw(link) => link,
            LinkMode::Cooked => LinkType::LinuxSll,
        }
    }

    /// From the interface's ARPHRD_ type (`/sys/class/net/NAME/type`, include/uapi/linux/if_arp.h).
    pub fn for_arphrd(hardware_type: u16) -> LinkMode {
        match hardware_type {
            libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => LinkMode::Raw(LinkType::Ethernet),
            ARPHRD_NONE => LinkMode::Raw(LinkType::RawIp),
            _ => LinkMode::Cooked,
        }
    }
}

/// The kernel's counters for one packet socket since the last read (`PACKET_STATISTICS` resets them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames that reached the socket, dropped ones included (the kernel adds drops in before answering).
    pub packets: u64,
    /// Frames the kernel dropped because the ring was full.
    pub drops: u64,
}

pub struct PacketSocket {
    fd: OwnedFd,
    interface: String,
    ifindex: i32,
}

impl PacketSocket {
    /// Opens a packet socket that receives nothing until [`PacketSocket::bind`]: protocol 0 means no frames, so
    /// none from other interfaces slip in while the ring is being set up (libpcap does the same).
    pub fn open(interface: &str, ifindex: u32, mode: LinkMode) -> Result<PacketSocket, OpenError> {
        let kind = match mode {
            LinkMode::Raw(_) => libc::SOCK_RAW,
            LinkMode::Cooked => libc::SOCK_DGRAM,
        };
        // SAFETY: socket(2) with constant arguments; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            let err = io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => OpenError::NoPrivilege(interface.to_string()),
                _ => OpenError::Os { interface: interface.to_string(), step: "socket(AF_PACKET)", source: err },
            });
        }
        // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let ifindex = i32::try_from(ifindex).map_err(|_| OpenError::Os {
            interface: interface.to_string(),
            step: "interface index",
            source: io::Error::from(io::ErrorKind::InvalidInput),
        })?;
        Ok(PacketSocket { fd, interface: interface.to_string(), ifindex })
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    pub fn error(&self, step: &'static str, source: io::Error) -> OpenError {
        OpenError::Os { interface: self.interface.clone(), step, source }
    }

    /// setsockopt(2) at SOL_PACKET with a plain-old-data value.
    pub fn set_option<T>(&self, name: libc::c_int, value: &T, step: &'static str) -> Result<(), OpenError> {
        // SAFETY: `value` points to a live T of the size given; the kernel only reads it.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                name,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if rc < 0 { Err(self.error(step, io::Error::last_os_error())) } else { Ok(()) }
    }

    /// Starts delivery: binds to the interface with ETH_P_ALL, so every protocol is seen.
    pub fn bind(&self) -> Result<(), OpenError> {
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid starting value.
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = ETH_P_ALL_BE;
        address.sll_ifindex = self.ifindex;
        // SAFETY: `address` is a valid sockaddr_ll and its exact size is passed.
        let rc = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&address as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 { Err(self.error("bind", io::Error::last_os_error())) } else { Ok(()) }
    }

    /// Promiscuous mode as a socket membership: the kernel drops it when the socket closes, so a killed synscope
    /// never leaves the interface promiscuous (unlike setting IFF_PROMISC by hand).
    pub fn set_promiscuous(&self) -> Result<(), OpenError> {
        // SAFETY: packet_mreq is plain old data; all-zero is a valid starting value.
        let mut request: libc::packet_mreq = unsafe { std::mem::zeroed() };
        request.mr_ifindex = self.ifindex;
        request.mr_type = libc::PACKET_MR_PROMISC as u16;
        self.set_option(libc::PACKET_ADD_MEMBERSHIP, &request, "promiscuous mode")
    }

    /// Reads and resets the kernel's counters (a `tpacket_stats_v3`; the first two fields are the same in v1).
    pub fn take_stats(&self) -> io::Result<KernelStats> {
        // SAFETY: tpacket_stats_v3 is plain old data.
        let mut stats: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `stats`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(KernelStats { packets: u64::from(stats.tp_packets), drops: u64::from(stats.tp_drops) })
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The ARPHRD_ type of an interface, from sysfs (`/sys/class/net/NAME/type`).
pub fn hardware_type(interface: &str) -> io::Result<u16> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{interface}/type"))?;
    text.trim().parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "unreadable interface type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_modes_follow_the_hardware_type() {
        assert_eq!(LinkMode::for_arphrd(libc::ARPHRD_ETHER).link_type(), LinkType::Ethernet);
        // Loopback frames carry an all-zero Ethernet header on Linux.
        assert_eq!(LinkMode::for_arphrd(libc::ARPHRD_LOOPBACK).link_type(), LinkType::Ethernet);
        assert_eq!(LinkMode::for_arphrd(ARPHRD_NONE).link_type(), LinkType::RawIp);
        // Anything else (IPIP tunnels, InfiniBand...) is captured cooked.
        assert_eq!(LinkMode::for_arphrd(libc::ARPHRD_TUNNEL), LinkMode::Cooked);
    }

    #[test]
    fn loopback_reads_as_loopback_in_sysfs() {
        assert_eq!(hardware_type("lo").unwrap(), libc::ARPHRD_LOOPBACK);
    }
}
