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

/// The sender left the transport checksum to the NIC (include/uapi/linux/if_packet.h).
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;

/// One frame read with [`PacketSocket::recv`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    /// `sll_pkttype`: PACKET_HOST, PACKET_OUTGOING, ...
    pub packet_type: u8,
    /// The TCP/UDP checksum holds only the pseudo-header sum: a local sender offloaded it (veth, loopback), and a
    /// frame forwarded as it is would be dropped by the receiver.
    pub checksum_pending: bool,
    /// A VLAN tag the driver took out of the frame, with its TPID.
    pub vlan: Option<(u16, u16)>,
}

/// The kernel's counters for one packet socket since the last read (`PACKET_STATISTICS` resets them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames that reached the socket, dropped ones included (the kernel adds drops in before answering).
    pub packets: u64,
    /// Frames the kernel dropped because the ring was full.
    pub drops: u64,
}

#[derive(Debug)]
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

    /// A send-only socket on one interface, the one sender of replay, flood and the guard (packet(7)):
    ///
    /// - `SOCK_RAW`: frames go to the driver as they are, Ethernet header included;
    /// - bound with protocol 0, which receives nothing, so the kernel queues no copy of every frame on the interface
    ///   for a reader that never comes (pnet's transmitter opens a receiver, in promiscuous mode, as a side effect);
    /// - with `bypass_qdisc`, frames skip the qdisc layer (packet(7) PACKET_QDISC_BYPASS): a generator or a bridge
    ///   wants no shaping. They then also skip the taps, so a capture on the same interface does not see them leave;
    ///   replay keeps the qdisc, so that a sniffer on the interface it replays onto sees every frame;
    /// - a send timeout, so a stopped device queue fails one send instead of hanging past Ctrl-C.
    pub fn sender(
        interface: &str,
        ifindex: u32,
        send_timeout: std::time::Duration,
        bypass_qdisc: bool,
    ) -> Result<PacketSocket, OpenError> {
        let socket = PacketSocket::open(interface, ifindex, LinkMode::Raw(LinkType::Ethernet))?;
        if bypass_qdisc {
            socket.bypass_qdisc()?;
        }
        let timeout = libc::timeval {
            tv_sec: send_timeout.as_secs() as libc::time_t,
            tv_usec: libc::suseconds_t::from(send_timeout.subsec_micros()),
        };
        // SAFETY: SO_SNDTIMEO takes a timeval of the given size, which outlives the call.
        let rc = unsafe {
            libc::setsockopt(
                socket.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(socket.error("send timeout", io::Error::last_os_error()));
        }
        socket.bind_for_sending()?;
        Ok(socket)
    }

    /// The ARPHRD_ type of the bound device, as the kernel reports it in `sll_hatype` (af_packet.c, packet_getname).
    pub fn bound_hardware_type(&self) -> io::Result<u16> {
        // SAFETY: sockaddr_ll is plain old data.
        let mut bound: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `bound` has room for `len` bytes and both outlive the call.
        let rc =
            unsafe { libc::getsockname(self.fd.as_raw_fd(), (&mut bound as *mut libc::sockaddr_ll).cast(), &mut len) };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(bound.sll_hatype) }
    }

    /// The descriptor, for code that drives the socket itself (the flood's transmit ring).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Starts delivery: binds to the interface with ETH_P_ALL, so every protocol is seen.
    pub fn bind(&self) -> Result<(), OpenError> {
        self.bind_protocol(ETH_P_ALL_BE)
    }

    fn bind_protocol(&self, protocol: u16) -> Result<(), OpenError> {
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid starting value.
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = protocol;
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

    /// Attaches a classic BPF filter (SO_ATTACH_FILTER, socket(7)): the kernel runs it on every frame before it
    /// is queued, and a frame it returns 0 for never reaches this socket. Attach it before the socket is bound, so
    /// no unfiltered frame gets in first.
    pub fn attach_filter(&self, program: &[libc::sock_filter]) -> Result<(), OpenError> {
        let fprog = libc::sock_fprog {
            len: u16::try_from(program.len())
                .map_err(|_| self.error("BPF filter", io::ErrorKind::InvalidInput.into()))?,
            filter: program.as_ptr().cast_mut(),
        };
        // SAFETY: `fprog` points at `program`, which outlives the call; the kernel copies the instructions.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc < 0 { Err(self.error("BPF filter", io::Error::last_os_error())) } else { Ok(()) }
    }

    /// Joins a fanout group (packet(7) PACKET_FANOUT) in hash mode: the kernel gives each frame to one member of
    /// the group, chosen by a symmetric hash of its flow (af_packet.c `fanout_demux_hash` hashes with
    /// `__skb_get_hash_symmetric`), so both directions of a connection go to the same member. With `None` a new
    /// group is made with an id the kernel picks (PACKET_FANOUT_FLAG_UNIQUEID), so no other program's group on the
    /// interface is joined by accident; the id is returned for the other members. The socket must be bound.
    pub fn join_fanout(&self, group: Option<u16>) -> Result<u16, OpenError> {
        let (id, flags) = match group {
            Some(id) => (u32::from(id), 0),
            None => (0, libc::PACKET_FANOUT_FLAG_UNIQUEID),
        };
        let value = ((libc::PACKET_FANOUT_HASH | flags) << 16) | id;
        self.set_option(libc::PACKET_FANOUT, &value, "fanout group")?;
        let mut joined: u32 = 0;
        let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `joined`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                (&mut joined as *mut u32).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(self.error("fanout group", io::Error::last_os_error()));
        }
        // The low 16 bits are the group's id; the type and flags are above them.
        Ok(joined as u16)
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

/// Receiving and sending one frame at a time, for the guard: a bridge cannot wait for a ring block to fill (a
/// TPACKET_V3 block is only handed over when full or when its timer fires, which is milliseconds per hop), so it
/// reads each frame as it arrives.
impl PacketSocket {
    /// Makes reads and writes non-blocking, so one thread can serve two interfaces with poll(2).
    pub fn set_nonblocking(&self) -> Result<(), OpenError> {
        // SAFETY: fcntl(2) on our own descriptor.
        let rc = unsafe {
            let flags = libc::fcntl(self.fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(self.fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK)
        };
        if rc < 0 { Err(self.error("non-blocking mode", io::Error::last_os_error())) } else { Ok(()) }
    }

    /// Sends bypass the qdisc layer (packet(7) PACKET_QDISC_BYPASS): a bridge forwards, it does not shape.
    fn bypass_qdisc(&self) -> Result<(), OpenError> {
        self.set_option(libc::PACKET_QDISC_BYPASS, &1i32, "PACKET_QDISC_BYPASS")
    }

    /// Asks for a larger receive queue (SO_RCVBUFFORCE, which root may set beyond rmem_max), so bursts wait in
    /// the kernel instead of being dropped.
    pub fn set_receive_buffer(&self, bytes: usize) {
        let value = i32::try_from(bytes).unwrap_or(i32::MAX);
        // SAFETY: setsockopt(2) with a live int; failure only leaves the default size.
        unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&value as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            );
        }
    }

    /// Asks for a `tpacket_auxdata` with every frame (packet(7) PACKET_AUXDATA): it says when the sender left the
    /// checksum to hardware (TP_STATUS_CSUMNOTREADY) and carries any VLAN tag the driver stripped.
    pub fn want_auxdata(&self) -> Result<(), OpenError> {
        self.set_option(libc::PACKET_AUXDATA, &1i32, "PACKET_AUXDATA")
    }

    /// Reads one frame into `buf`; `None` when nothing is waiting. A frame longer than `buf` is cut to it.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        // SAFETY: sockaddr_ll is plain old data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 8];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: msghdr is plain old data; every pointer set below outlives the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
        message.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: the kernel writes within the buffers described by `message`.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut message, libc::MSG_DONTWAIT) };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(err),
            };
        }
        let mut received =
            Received { len: n as usize, packet_type: from.sll_pkttype, checksum_pending: false, vlan: None };
        // SAFETY: walks the control messages the kernel wrote, with the libc macros made for it.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&message);
            while !cmsg.is_null() {
                let whole = libc::CMSG_LEN(std::mem::size_of::<libc::tpacket_auxdata>() as u32) as usize;
                if (*cmsg).cmsg_level == libc::SOL_PACKET
                    && (*cmsg).cmsg_type == libc::PACKET_AUXDATA
                    && (*cmsg).cmsg_len as usize >= whole
                {
                    let aux = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::tpacket_auxdata);
                    received.checksum_pending = aux.tp_status & TP_STATUS_CSUMNOTREADY != 0;
                    if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                        let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                            aux.tp_vlan_tpid
                        } else {
                            0x8100
                        };
                        received.vlan = Some((aux.tp_vlan_tci, tpid));
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&message, cmsg);
            }
        }
        Ok(Some(received))
    }

    /// Binds for sending only: protocol 0 receives nothing (packet(7)), so a sender does not queue a copy of
    /// every frame on the interface for nobody.
    fn bind_for_sending(&self) -> Result<(), OpenError> {
        self.bind_protocol(0)
    }

    /// Sends whole frames in one sendmmsg(2); returns how many went out. The rest met a full queue or an error.
    pub fn send_many(&self, frames: &[&[u8]]) -> usize {
        let mut iovecs: Vec<libc::iovec> = frames
            .iter()
            .map(|f| libc::iovec { iov_base: f.as_ptr() as *mut libc::c_void, iov_len: f.len() })
            .collect();
        let mut messages: Vec<libc::mmsghdr> = iovecs
            .iter_mut()
            .map(|iov| {
                // SAFETY: mmsghdr is plain old data; the iovec it points to outlives the call.
                let mut message: libc::mmsghdr = unsafe { std::mem::zeroed() };
                message.msg_hdr.msg_iov = iov;
                message.msg_hdr.msg_iovlen = 1;
                message
            })
            .collect();
        let mut sent = 0;
        while sent < messages.len() {
            let rest = &mut messages[sent..];
            // SAFETY: `rest` holds valid mmsghdrs whose buffers live until the call returns.
            let n = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), rest.as_mut_ptr(), rest.len() as u32, 0) };
            if n <= 0 {
                // The first unsent frame failed: skip it and go on with the rest.
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                messages.remove(sent);
                continue;
            }
            sent += n as usize;
        }
        sent
    }

    /// Sends one frame given in parts (a virtio header and the frame, say) with one sendmsg(2), without copying
    /// them together first.
    pub fn send_parts(&self, parts: &[&[u8]]) -> io::Result<()> {
        let mut iovecs: Vec<libc::iovec> =
            parts.iter().map(|p| libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() }).collect();
        // SAFETY: msghdr is plain old data; the iovecs it points to, and their buffers, outlive the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = iovecs.as_mut_ptr();
        message.msg_iovlen = iovecs.len() as _;
        loop {
            // SAFETY: the kernel only reads the buffers `message` describes.
            let n = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &message, 0) };
            if n >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Sends one whole frame out of the bound interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: the kernel reads frame.len() bytes from frame.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
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
